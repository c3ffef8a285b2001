# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Environment files as systemd reads them: parse, quote, edit, render; idempotent edits and refusals."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _env_file as envf
from ansible_collections.artisan.upgrade.plugins.module_utils._run import MASK, ModuleFailure

# Lines and the value systemd 252 (Debian 12) sets from each, per src/basic/env-file.c.
SYSTEMD_VALUES = [
    ('A=plain', 'plain'),
    ('A=', ''),
    ('  A = spaced value   ', 'spaced value'),
    ('A="double quoted"', 'double quoted'),
    ("A='single $HOME \\n'", 'single $HOME \\n'),
    ('A="esc \\" \\\\ \\$ \\` kept \\n"', 'esc " \\ $ ` kept \\n'),
    ('A=un\\ quoted\\$', 'un quoted$'),
    ('A=trailing\\ ', 'trailing '),
    ('A="x"y', 'xy'),
    ('A="x"  \'y\'', 'xy'),
    ('A=x "y"', 'x "y"'),
    ('A=a#not-a-comment', 'a#not-a-comment'),
    ('A=postgresql://u:p@h:5432/db?sslmode=require', 'postgresql://u:p@h:5432/db?sslmode=require'),
    ('\tA=\t"tab"', 'tab'),
]


@pytest.mark.parametrize('line, value', SYSTEMD_VALUES)
def test_values_are_read_as_systemd_reads_them(line, value):
    assert envf.parse(line + '\n').values() == {'A': value}


@pytest.mark.parametrize('text, problem', [
    ('A="open\nB=1\n', 'line 1: unclosed double quote'),
    ("A='open\n", 'line 1: unclosed single quote'),
    ('A=continued\\\nB=1\n', 'line 1: backslash at the end'),
    ('A="x\\\ny"\n', 'line 1: backslash at the end'),
    ('# comment \\\nB=1\n', 'line 1: a comment ending in a backslash'),
    ('OK=1\njust words\n', 'line 2: not a KEY=VALUE line'),
    ('export A=1\n', "line 1: 'export A' is not a valid environment variable name"),
    ('1A=1\n', "line 1: '1A' is not a valid"),
    ('A=1\r\n', 'line 1: carriage return'),
    ('A=\0\n', 'the file holds a NUL byte'),
])
def test_what_is_not_parsed_line_by_line_is_refused_with_the_line(text, problem):
    with pytest.raises(ModuleFailure) as info:
        envf.parse(text)
    assert info.value.msg.startswith(problem)


def test_comments_blank_lines_and_order_survive_a_round_trip():
    text = '# header\n\n; other comment\nB="2"\n   A = 1  \n'
    env = envf.parse(text)
    assert envf.render(env) == text
    assert env.keys() == ['B', 'A']


def test_missing_final_newline_is_kept_and_an_appended_line_gets_one():
    env = envf.parse('A=1')
    assert envf.render(env) == 'A=1'
    assert envf.render(envf.set_value(env, 'B', '2')[0]) == 'A=1\nB=2\n'


def test_last_assignment_wins_as_in_systemd():
    assert envf.parse('A=1\nA=2\n').values() == {'A': '2'}


@pytest.mark.parametrize('value', ['', 'plain', 'with space', 'a"b', "it's", 'back\\slash', '$HOME', '`cmd`',
                                   'trailing ', ' leading', 'tab\there', '#hash', ';semi', 'ünïcode', "'\"'"])
def test_quoted_values_read_back_the_same(value):
    line = envf.assignment('K', value)
    assert envf.parse(line.text + '\n').values() == {'K': value}


def test_simple_values_are_written_unquoted_others_double_quoted():
    assert envf.quote('postgresql://u@h:5432/db') == 'postgresql://u@h:5432/db'
    assert envf.quote('a b$c') == '"a b\\$c"'


def test_line_breaks_cannot_be_written():
    with pytest.raises(ModuleFailure, match='line breaks'):
        envf.quote('a\nb')


BEFORE = '# database\nDATABASE_URI="postgresql://app:pw@db/app"  # not a comment\nLOG_LEVEL=debug\n'


def test_rename_keeps_the_value_text_and_position_and_is_idempotent():
    env, changes = envf.edit(envf.parse(BEFORE), {'DATABASE_URI': 'DATABASE_URL'}, {}, [])
    assert changes == ['renamed DATABASE_URI to DATABASE_URL']
    assert envf.render(env) == BEFORE.replace('DATABASE_URI', 'DATABASE_URL')
    again, changes = envf.edit(env, {'DATABASE_URI': 'DATABASE_URL'}, {}, [])
    assert (again, changes) == (env, [])


def test_rename_onto_an_existing_key_with_another_value_is_refused():
    env = envf.parse('OLD=1\nNEW=2\n')
    with pytest.raises(ModuleFailure, match='both are set, to different values') as info:
        envf.edit(env, {'OLD': 'NEW'}, {}, [])
    assert info.value.context['conflict'] == ['OLD', 'NEW']


def test_rename_onto_an_existing_key_with_the_same_value_drops_the_old_one():
    env, changes = envf.edit(envf.parse('OLD="1"\nNEW=1\n'), {'OLD': 'NEW'}, {}, [])
    assert (envf.render(env), changes) == ('NEW=1\n', ['removed OLD (same value as NEW)'])


def test_set_rewrites_the_last_assignment_in_place_and_drops_overridden_ones():
    env, changes = envf.edit(envf.parse('A=1\n# c\nB=x\nA=2\n'), {}, {'A': '3'}, [])
    assert (envf.render(env), changes) == ('# c\nB=x\nA=3\n', ['set A'])


def test_set_to_the_value_systemd_already_reads_changes_nothing():
    env = envf.parse('A="same"\n')
    assert envf.edit(env, {}, {'A': 'same'}, []) == (env, [])


def test_remove_then_set_then_idempotent():
    env, changes = envf.edit(envf.parse(BEFORE), {'DATABASE_URI': 'DATABASE_URL'}, {'NEW': 'a b'}, ['LOG_LEVEL'])
    assert changes == ['renamed DATABASE_URI to DATABASE_URL', 'removed LOG_LEVEL', 'added NEW']
    assert envf.render(env).endswith('NEW="a b"\n')
    assert envf.edit(env, {'DATABASE_URI': 'DATABASE_URL'}, {'NEW': 'a b'}, ['LOG_LEVEL'])[1] == []


@pytest.mark.parametrize('renames, set_values, remove, problem', [
    ({'A': 'A'}, {}, [], 'renamed to itself'),
    ({'A': 'B', 'B': 'C'}, {}, [], 'chains are ambiguous'),
    ({'A': 'C', 'B': 'C'}, {}, [], 'several keys are renamed to C'),
    ({}, {'A': '1'}, ['A'], 'both set and removed: A'),
    ({}, {'A': 1}, [], 'must be a string, got int'),
    ({}, {'A': 'x\ny'}, [], 'line breaks'),
    ({'export A': 'B'}, {}, [], "'export A' is not a valid"),
])
def test_bad_edits_are_refused_before_anything_changes(renames, set_values, remove, problem):
    with pytest.raises(ModuleFailure, match=problem):
        envf.edit(envf.parse('A=1\n'), renames, set_values, remove)


def test_secret_values_are_masked_in_the_rendered_diff():
    env = envf.parse(BEFORE)
    masked = envf.render_masked(env, ['DATABASE_URI'])
    assert 'pw' not in masked
    assert 'DATABASE_URI=%s\n' % MASK in masked
    assert 'LOG_LEVEL=debug' in masked
