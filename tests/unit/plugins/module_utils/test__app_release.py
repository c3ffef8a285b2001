# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release decisions: names, completeness, the current link, previous across runs, what pruning keeps."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _app_release as decide
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

NOW = datetime.datetime(2026, 11, 26, 16, 0, 0, tzinfo=datetime.timezone.utc)


def complete(version, created):
    return decide.Release(version, True, '2026-11-%02dT00:00:00.000000Z' % created)


@pytest.mark.parametrize('version', ['2.0.0', '1.0.0rc1', '2.0.0+build.5', 'v3_1'])
def test_release_names_accepted(version):
    assert decide.version_error(version) is None


@pytest.mark.parametrize('version', ['', '.hidden', '../x', 'a/b', 'has space', 'previous', 'current', '-x', 'x' * 129])
def test_release_names_refused(version):
    assert decide.version_error(version)


def test_a_release_is_complete_only_when_its_marker_names_it():
    marker = {'schema': decide.MARKER_SCHEMA, 'version': '2.0.0', 'created': 'T'}
    assert decide.release_from('2.0.0', marker) == decide.Release('2.0.0', True, 'T')
    assert decide.release_from('2.0.0', None) == decide.Release('2.0.0', False)
    assert decide.release_from('2.0.0', dict(marker, version='1.0.0')) == decide.Release('2.0.0', False)
    assert decide.release_from('2.0.0', dict(marker, schema='other')) == decide.Release('2.0.0', False)


def test_temporary_folders_are_not_releases():
    name = decide.temp_name('2.0.0', 'abcd1234')
    assert decide.release_from(name, None) is None
    assert decide.is_temp_of(name, '2.0.0')
    assert not decide.is_temp_of(name, '0.0')
    assert not decide.is_temp_of(decide.temp_name('12.0.0', 'abcd1234'), '2.0.0')


def test_current_is_read_from_the_link_relative_or_absolute():
    assert decide.current_from_link('releases/2.0.0', '/srv/app') == '2.0.0'
    assert decide.current_from_link('/srv/app/releases/2.0.0/', '/srv/app') == '2.0.0'
    assert decide.current_from_link(None, '/srv/app') is None


@pytest.mark.parametrize('target', ['/opt/covet/venv', 'releases/../elsewhere', 'releases/.artisan-tmp-1-2.0.0', 'releases'])
def test_a_link_outside_releases_is_refused(target):
    with pytest.raises(ModuleFailure, match='not to a release under /srv/app/releases') as info:
        decide.current_from_link(target, '/srv/app')
    assert info.value.context['current_target'] == target


def test_previous_comes_from_the_state_file_only_while_it_matches_the_link():
    state = decide.state_record('2.0.0', '1.0.0', NOW)
    assert decide.previous_from(state, '2.0.0') == '1.0.0'
    # The link was changed by hand (or a crash between link and state file): previous is unknown.
    assert decide.previous_from(state, '3.0.0') is None
    assert decide.previous_from(None, '2.0.0') is None
    assert decide.previous_from({'current': '2.0.0', 'previous': '1.0.0'}, '2.0.0') is None
    assert decide.previous_from(dict(state, previous='../etc'), '2.0.0') is None


def test_switching_records_the_old_current_as_previous():
    assert decide.plan_switch('1.0.0', None, '2.0.0') == decide.Switch('2.0.0', '1.0.0', True)


def test_switching_to_the_current_release_changes_nothing():
    assert decide.plan_switch('2.0.0', '1.0.0', '2.0.0') == decide.Switch('2.0.0', '1.0.0', False)


def test_rollback_twice_returns_to_where_it_started():
    first = decide.plan_switch('2.0.0', '1.0.0', '1.0.0')
    assert first == decide.Switch('1.0.0', '2.0.0', True)
    assert decide.plan_switch(first.current, first.previous, first.previous) == decide.Switch('2.0.0', '1.0.0', True)


def test_rollback_needs_a_complete_previous_release():
    releases = {'1.0.0': complete('1.0.0', 1), '2.0.0': complete('2.0.0', 2)}
    assert decide.rollback_target('2.0.0', '1.0.0', releases) == '1.0.0'
    with pytest.raises(ModuleFailure, match='no previous release is recorded'):
        decide.rollback_target('2.0.0', None, releases)
    with pytest.raises(ModuleFailure, match='previous release 0.9 is gone'):
        decide.rollback_target('2.0.0', '0.9', releases)
    with pytest.raises(ModuleFailure, match='previous release 1.0.0 is incomplete'):
        decide.rollback_target('2.0.0', '1.0.0', {'1.0.0': decide.Release('1.0.0', False)})


def test_pruning_keeps_the_newest_by_recorded_creation_time_not_by_name():
    releases = [complete('10.0.0', 5), complete('9.0.0', 4), complete('2.0.0', 3), complete('1.0.0', 1)]
    assert decide.choose_pruned(releases, 2, ['10.0.0', None]) == ['1.0.0', '2.0.0']


def test_pruning_never_removes_current_or_previous_even_when_they_are_the_oldest():
    releases = [complete('1.0.0', 1), complete('2.0.0', 2), complete('3.0.0', 3), complete('4.0.0', 4)]
    # Rolled back to 1.0.0 from 2.0.0: both stay, then the newest others fill up to keep.
    assert decide.choose_pruned(releases, 3, ['1.0.0', '2.0.0']) == ['3.0.0']
    assert decide.choose_pruned(releases, 1, ['1.0.0', '2.0.0']) == ['3.0.0', '4.0.0']


def test_pruning_never_touches_incomplete_releases():
    releases = [decide.Release('0.1', False), complete('1.0.0', 1), complete('2.0.0', 2)]
    assert decide.choose_pruned(releases, 1, ['2.0.0']) == ['1.0.0']


def test_nothing_is_pruned_within_the_limit():
    assert decide.choose_pruned([complete('1.0.0', 1), complete('2.0.0', 2)], 5, ['2.0.0']) == []


def test_the_marker_records_version_time_and_the_freeze_checksum():
    marker = decide.build_marker('2.0.0', NOW, '/usr/bin/python3', '3.11.2', ['demoapp==2.0.0'],
                                 'demoapp==2.0.0\nidna==3.20\n', 'wheelhouse /w')
    assert marker['created'] == '2026-11-26T16:00:00.000000Z'
    assert marker['packages'] == 2
    assert len(marker['pip_freeze_sha256']) == 64
    assert decide.release_from('2.0.0', marker).complete


def test_pip_errors_are_quoted_from_its_error_lines():
    stderr = ('Looking in links: /w\n'
              'ERROR: Could not find a version that satisfies the requirement demoapp==9.9.9 (from versions: 1.0.0, 2.0.0)\n'
              'ERROR: No matching distribution found for demoapp==9.9.9\n')
    assert decide.pip_error('', stderr) == (
        'ERROR: Could not find a version that satisfies the requirement demoapp==9.9.9 (from versions: 1.0.0, 2.0.0) | '
        'ERROR: No matching distribution found for demoapp==9.9.9')
    # pip check writes its findings to stdout without an ERROR: prefix.
    assert decide.pip_error('demoapp 2.0.0 requires idna, which is not installed.\n', '') == \
        'demoapp 2.0.0 requires idna, which is not installed.'


def test_pip_arguments_by_source():
    base = {'requirements': ['demoapp==2.0.0'], 'pip_args': ['--constraint', 'c.txt']}
    assert decide.pip_install_args(dict(base, wheelhouse='/w')) == [
        '--no-index', '--find-links', '/w', '--constraint', 'c.txt', 'demoapp==2.0.0']
    assert decide.pip_install_args(dict(base, index_url='https://u:p@pypi/simple'))[:2] == ['--index-url', 'https://u:p@pypi/simple']
    assert decide.describe_source(dict(base, index_url='https://u:p@pypi/simple')) == 'index'
    assert decide.source_error({'wheelhouse': '/w', 'index_url': 'https://pypi/simple'})


def test_diff_lists_current_previous_and_releases_oldest_first():
    view = decide.view('2.0.0', '1.0.0', [complete('2.0.0', 2), decide.Release('3.0.0', False), complete('1.0.0', 1)])
    assert decide.view_text(view) == ('current: 2.0.0\nprevious: 1.0.0\nreleases:\n  - 1.0.0\n  - 2.0.0\n'
                                      '  - 3.0.0 (incomplete)\n')


def test_passwords_in_pip_argument_urls_are_found_for_masking():
    args = ['--extra-index-url', 'https://deploy:t0k3n@pypi.internal/simple', '--constraint', 'c.txt',
            '--find-links=https://user:pa55@files.internal/wheels/']
    assert decide.url_passwords(args) == ['t0k3n', 'pa55']
    assert decide.url_passwords(['https://pypi.org/simple', 'demoapp==2.0.0']) == []
