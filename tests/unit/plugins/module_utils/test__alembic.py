# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""alembic_migrate's pure decisions: targets, plans over linear and branched histories, settings, messages."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic as decide
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, mask

LINEAR = decide.History.from_helper([
    {'id': '0003', 'down': ['0002'], 'message': 'contract'},
    {'id': '0002', 'down': ['0001'], 'message': 'expand'},
    {'id': '0001', 'down': [], 'message': 'initial'},
])
# a -> b1, a -> b2 (two heads); m merges them in MERGED.
BRANCHED = decide.History.from_helper([
    {'id': 'a', 'down': []}, {'id': 'b1', 'down': ['a']}, {'id': 'b2', 'down': ['a']},
])
MERGED = decide.History.from_helper([
    {'id': 'a', 'down': []}, {'id': 'b1', 'down': ['a']}, {'id': 'b2', 'down': ['a']}, {'id': 'm', 'down': ['b1', 'b2']},
])


def revisions(plan):
    return [(entry['direction'], entry['revision']) for entry in plan]


@pytest.mark.parametrize('spec, current, target', [
    ('head', ['0001'], ['0003']),
    ('heads', [], ['0003']),
    ('base', ['0003'], []),
    ('0002', [], ['0002']),
    ('000', None, None),  # ambiguous prefix
    ('+1', ['0001'], ['0002']),
    ('+2', [], ['0002']),
    ('-1', ['0003'], ['0002']),
    ('-3', ['0003'], []),
])
def test_resolve_target_on_a_linear_history(spec, current, target):
    if target is None:
        with pytest.raises(ModuleFailure, match='ambiguous: it starts 0001, 0002, 0003'):
            decide.resolve_target(LINEAR, [], spec)
    else:
        assert decide.resolve_target(LINEAR, current, spec) == target


@pytest.mark.parametrize('spec, current, message', [
    ('+3', ['0001'], 'cannot go 3 revisions up from 0001: only 2 revisions follow it'),
    ('-2', ['0001'], 'cannot go 2 revisions down from 0001: only 1 are applied'),
    ('-1', [], 'cannot go 1 revisions down from base: only 0 are applied'),
    ('nope', [], 'unknown revision "nope": the script directory has 0001, 0002, 0003'),
])
def test_resolve_target_refuses_what_does_not_exist(spec, current, message):
    with pytest.raises(ModuleFailure) as caught:
        decide.resolve_target(LINEAR, current, spec)
    assert caught.value.msg == message


def test_head_with_several_heads_is_refused_naming_them_and_heads_takes_all():
    with pytest.raises(ModuleFailure) as caught:
        decide.resolve_target(BRANCHED, ['a'], 'head')
    assert 'the script directory has 2 heads (b1, b2)' in caught.value.msg
    assert caught.value.context == {'heads': ['b1', 'b2']}
    assert decide.resolve_target(BRANCHED, ['a'], 'heads') == ['b1', 'b2']
    with pytest.raises(ModuleFailure, match=r'\+1 is ambiguous: a is followed by b1, b2'):
        decide.resolve_target(BRANCHED, ['a'], '+1')
    with pytest.raises(ModuleFailure, match='-1 is ambiguous: m merges b1, b2'):
        decide.resolve_target(MERGED, ['m'], '-1')
    with pytest.raises(ModuleFailure, match='the database is at 2 heads'):
        decide.resolve_target(BRANCHED, ['b1', 'b2'], '-1')


def test_plans_go_parents_first_up_and_children_first_down():
    assert revisions(decide.plan_steps(LINEAR, [], ['0003'])) == [('upgrade', '0001'), ('upgrade', '0002'), ('upgrade', '0003')]
    assert revisions(decide.plan_steps(LINEAR, ['0003'], ['0001'])) == [('downgrade', '0003'), ('downgrade', '0002')]
    assert decide.plan_steps(LINEAR, ['0002'], ['0002']) == []
    assert decide.plan_steps(LINEAR, ['0002'], [])[-1] == {
        'revision': '0001', 'direction': 'downgrade', 'message': 'initial', 'down_revisions': []}


def test_plans_over_branches_and_merges():
    assert revisions(decide.plan_steps(BRANCHED, [], ['b1', 'b2'])) == [('upgrade', 'a'), ('upgrade', 'b1'), ('upgrade', 'b2')]
    assert revisions(decide.plan_steps(MERGED, ['b1'], ['m'])) == [('upgrade', 'b2'), ('upgrade', 'm')]
    assert revisions(decide.plan_steps(MERGED, ['m'], ['b1'])) == [('downgrade', 'm'), ('downgrade', 'b2')]
    with pytest.raises(ModuleFailure, match='different branches; downgrade and upgrade in two tasks'):
        decide.plan_steps(BRANCHED, ['b1'], ['b2'])


def test_helper_steps_say_which_revision_and_which_way():
    plan = decide.plan_steps(LINEAR, ['0001'], ['0003']) + decide.plan_steps(LINEAR, ['0003'], ['0002'])
    assert decide.helper_steps(plan) == [
        {'revision': '0002', 'upgrade': True}, {'revision': '0003', 'upgrade': True}, {'revision': '0003', 'upgrade': False},
    ]


def test_unknown_current_revisions_are_found():
    assert decide.unknown_current(LINEAR, ['0004']) == ['0004']
    assert decide.unknown_current(LINEAR, ['0002']) == []


def test_session_options_and_their_validation():
    assert decide.session_options('5s', '15min') == '-c lock_timeout=5s -c statement_timeout=15min'
    assert decide.session_options('0', '250ms').endswith('statement_timeout=250ms')
    for bad in ('5 s', 'soon', '-1', '5s; DROP'):
        with pytest.raises(ModuleFailure, match='lock_timeout must be a PostgreSQL duration'):
            decide.session_options(bad, '0')


def test_lock_key_is_a_stable_signed_64_bit_integer():
    key = decide.lock_key('artisan.upgrade.alembic_migrate')
    assert key == decide.lock_key('artisan.upgrade.alembic_migrate') != decide.lock_key('other')
    assert -2 ** 63 <= key < 2 ** 63


def test_urls_are_checked_described_and_masked():
    url = 'postgresql+psycopg://app:s%40cret@db.internal:6432/shop'
    assert decide.url_problem(url) is None
    assert decide.url_problem('postgresql://app@/shop') is None
    assert 'not "mysql://..."' in decide.url_problem('mysql://root@db/shop')
    assert 'not "postgres://..."' in decide.url_problem('postgres://app@db/shop')
    assert decide.url_password(url) == 's@cret'
    assert decide.describe_url(url) == 'database "shop" on db.internal:6432 as "app"'
    assert decide.describe_url('postgresql:///shop') == 'database "shop" on the default socket'
    # The password of a URL is masked alone too (a driver may quote it without the URL).
    assert mask('failed for %s (s@cret)' % url, [url, decide.url_password(url)]) == 'failed for ******** (********)'


def test_error_summary_keeps_the_error_and_its_sql():
    text = ('(psycopg.errors.NotNullViolation) column "email_verified" of relation "users" contains null values\n'
            '[SQL: ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL]\n'
            '(Background on this error at: https://sqlalche.me/e/20/gkpj)')
    assert decide.error_summary(text) == text.rsplit('\n', 1)[0]


def test_diff_lists_revisions_with_messages_and_the_sql():
    diff = decide.build_diff(LINEAR, ['0001'], ['0003'], ['BEGIN;', 'COMMIT;'])
    assert diff['before'] == '0001 initial\n'
    assert diff['after'] == '0003 contract\n'
    assert diff['prepared'] == 'BEGIN;\nCOMMIT;'
    assert decide.build_diff(LINEAR, [], [])['before'] == 'base (no revision applied)\n'


@pytest.mark.parametrize('error, hint', [
    ('connection failed: connection to server at "10.0.0.5", port 6432 failed: FATAL:  password authentication '
     'failed for user "app"', 'wrong password for role "app": check the password in url'),
    ('FATAL:  role "ghost" does not exist', 'role "ghost" does not exist: check the user name in url'),
    ('FATAL:  database "shop" does not exist', 'database "shop" does not exist: check the database name in url, '
     'or create it first'),
    ('fe_sendauth: no password supplied', 'the server asks for a password: set the password in url'),
])
def test_connection_failures_name_the_part_of_url_to_check(error, hint):
    url = 'postgresql+psycopg://app:s3cret@10.0.0.5:6432/shop'
    assert decide.connect_failure(url, error) == 'cannot connect to database "shop" on 10.0.0.5:6432 as "app": %s (%s)' % (
        hint, error)
    assert decide.connect_failure(url, 'something else\nmore') == \
        'cannot connect to database "shop" on 10.0.0.5:6432 as "app": something else\nmore'


@pytest.mark.parametrize('params, url', [
    (dict(login_host='db.internal', port=6432, login_user='app', login_password='p@ss/w:rd', db='shop'),
     'postgresql://app:p%40ss%2Fw%3Ard@db.internal:6432/shop'),
    (dict(login_unix_socket='/run/postgresql', login_user='app', db='shop', ssl_mode='disable'),
     'postgresql://app@/shop?host=%2Frun%2Fpostgresql&sslmode=disable'),
    (dict(login_host='::1', db='shop', ssl_mode='verify-full', ssl_rootcert='/etc/ca.pem'),
     'postgresql://[::1]/shop?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem'),
    (dict(db='shop'), 'postgresql:///shop'),
])
def test_the_postgres_options_make_one_url_its_password_read_back_exactly(params, url):
    assert decide.url_from_options(params) == url
    assert decide.url_problem(url) is None
    assert decide.url_password(url) == params.get('login_password')


def test_connection_failures_of_the_postgres_options_name_the_option():
    url = decide.url_from_options(dict(login_host='10.0.0.5', login_user='app', login_password='s3cret', db='shop'))
    message = decide.connect_failure(url, 'FATAL:  password authentication failed for user "app"', from_url=False)
    assert message.startswith('cannot connect to database "shop" on 10.0.0.5 as "app": wrong password for role "app": '
                              'check login_password (or PGPASSWORD)')
    assert 'url' not in message and 's3cret' not in message
