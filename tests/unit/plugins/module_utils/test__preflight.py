# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight role's decisions: semver, channels, downgrades, windows, compatibility, promotion, heads."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _preflight as pf

UTC = datetime.timezone.utc


@pytest.mark.parametrize('text', ['1.0.0', 'v1.1.0-beta.1', '2.0.0-rc.1+build.5', '0.0.1', '1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay'])
def test_valid_semver(text):
    assert pf.parse_semver(text) is not None


@pytest.mark.parametrize('text', ['1.0', '01.0.0', '1.0.0-', '1.0.0-01', '1.0.0+', 'latest', '', None, '1.0.0.0', '1.0.0-be$ta'])
def test_invalid_semver(text):
    assert pf.parse_semver(text) is None


def test_semver_precedence_follows_the_spec():
    ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11',
               '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0']
    for low, high in zip(ordered, ordered[1:]):
        assert pf.compare_semver(low, high) == -1, (low, high)
        assert pf.compare_semver(high, low) == 1
    assert pf.compare_semver('1.0.0+build.1', 'v1.0.0+build.2') == 0
    with pytest.raises(ValueError):
        pf.compare_semver('1.0', '1.0.0')


def test_valid_upgrades_pass():
    assert pf.version_problem('2.0.0', '1.0.0') == ''
    assert pf.version_problem('2.0.0', None) == ''
    assert pf.version_problem('2.0.0', '2.0.0') == ''
    assert pf.version_problem('2.0.0-beta.1', '1.0.0', 'beta') == ''
    assert pf.version_problem('1.0.0', '2.0.0', allow_downgrade=True) == ''


def test_invalid_target_says_the_format():
    assert 'is not a semantic version (MAJOR.MINOR.PATCH' in pf.version_problem('2.0', '1.0.0')


def test_stable_refuses_pre_releases_and_says_how_to_allow_them():
    msg = pf.version_problem('2.0.0-beta.1', '1.0.0', 'stable')
    assert msg.startswith('2.0.0-beta.1 is a pre-release and the release channel is stable') and 'preflight_channel: beta' in msg


def test_downgrade_refused_unless_allowed():
    msg = pf.version_problem('1.9.9', '2.0.0')
    assert msg.startswith('1.9.9 is older than the running 2.0.0') and 'preflight_allow_downgrade: true' in msg
    assert 'older' in pf.version_problem('2.0.0-rc.1', '2.0.0', 'beta')


def test_unknown_channel_and_unreadable_current_version():
    assert 'is not a release channel' in pf.version_problem('2.0.0', None, 'nightly')
    assert 'running version' in pf.version_problem('2.0.0', 'unknown')


def at(day, hour, minute=0):
    """A moment on a weekday of the week of 2026-11-23 (a Monday)."""
    return datetime.datetime(2026, 11, 23 + pf.DAYS.index(day), hour, minute, tzinfo=UTC)


def test_no_windows_means_always():
    assert pf.window_problem([], at('mon', 12)) == ''


def test_inside_and_outside_a_window():
    windows = [{'days': ['sat', 'sun'], 'start': '02:00', 'end': '04:00'}]
    assert pf.window_problem(windows, at('sat', 3, 59)) == ''
    msg = pf.window_problem(windows, at('sat', 4))
    assert msg.startswith('it is Sat 04:00 UTC, outside every maintenance window (Sat,Sun 02:00-04:00 UTC)')
    assert 'preflight_maintenance_windows: []' in msg
    assert pf.window_problem(windows, at('mon', 3)) != ''


def test_a_window_crossing_midnight_ends_the_next_day():
    windows = [{'days': ['fri'], 'start': '22:00', 'end': '02:00'}]
    assert pf.window_problem(windows, at('fri', 23)) == ''
    assert pf.window_problem(windows, at('sat', 1, 30)) == ''
    assert pf.window_problem(windows, at('sat', 2)) != ''
    assert pf.window_problem(windows, at('fri', 1)) != ''


def test_windows_without_days_are_daily_and_times_are_utc():
    moment = datetime.datetime(2026, 11, 26, 4, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert pf.window_problem([{'start': '02:00', 'end': '03:00'}], moment) == ''


@pytest.mark.parametrize('window, fragment', [
    ({'days': ['funday'], 'start': '01:00', 'end': '02:00'}, 'unknown days'),
    ({'start': '25:00', 'end': '02:00'}, 'start is'),
    ({'start': '01:00'}, 'end is'),
    ('sat 02:00', 'is not a dict'),
])
def test_malformed_windows_are_named(window, fragment):
    assert fragment in pf.window_problem([window], at('mon', 1))


MATRIX = [
    {'versions': '0.3.x', 'python_min': '3.10', 'python_max': '3.13', 'postgresql_min': '14'},
    {'versions': '0.x', 'python_min': '3.9', 'python_max': '3.12', 'postgresql_min': '12'},
]


def test_compatible_platform_passes():
    assert pf.compat_problem(MATRIX, '0.3.1', '3.12.9', '15.18') == ''
    assert pf.compat_problem(MATRIX, '0.2.0', '3.9.2', '12.1 (Debian 12.1-1)') == ''
    assert pf.compat_problem([], '9.9.9', '2.7', '9') == ''


def test_python_and_postgresql_out_of_range_are_named():
    msg = pf.compat_problem(MATRIX, '0.3.0', '3.9.18', '13.4', host='app1')
    assert msg.startswith('Python 3.9.18 on app1 is older than the minimum 3.10; PostgreSQL 13.4 is older than the '
                          'minimum 14: 0.3.0 needs Python 3.10..3.13 and PostgreSQL 14..')
    assert 'newer than the maximum 3.12' in pf.compat_problem(MATRIX, '0.2.0', '3.13.0', None)


def test_a_version_without_a_row_is_refused():
    msg = pf.compat_problem(MATRIX, '1.0.0', '3.11', '15')
    assert msg.startswith('no row of preflight_compatibility matches 1.0.0') and 'versions: "1.0.x"' in msg


def test_pre_releases_use_their_release_row():
    assert pf.row_matches('0.3.x', pf.parse_semver('0.3.0-beta.1'))
    assert pf.row_matches('*', pf.parse_semver('7.0.0'))
    assert not pf.row_matches('0.3.1', pf.parse_semver('0.3.2'))


def test_promotion_policy():
    assert pf.promotion_problem(False, 'shop', '2.0.0', 'production', None) == ''
    assert pf.promotion_problem(False, 'shop', '2.0.0', 'staging', 'staging') == ''
    assert pf.promotion_problem(True, 'shop', '2.0.0', 'production', 'staging') == ''
    msg = pf.promotion_problem(False, 'shop', '2.0.0', 'production', 'staging')
    assert msg.startswith('shop 2.0.0 has no green release record in staging') and 'upgrade staging to 2.0.0 first' in msg
    assert 'preflight_promotion_from: ""' in msg


def test_heads():
    assert pf.heads_problem(['a1']) == ''
    assert pf.heads_problem(['b2', 'a1']).startswith('the migration scripts have 2 heads (a1, b2)')
    assert 'no head' in pf.heads_problem([])
