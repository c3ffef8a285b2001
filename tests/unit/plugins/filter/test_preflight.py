# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight filters: the role's decisions as Jinja filters, with their arguments as the role passes them."""

from __future__ import annotations

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.artisan.upgrade.plugins.filter import preflight
from ansible_collections.artisan.upgrade.plugins.filter.preflight import FilterModule

FILTERS = FilterModule().filters()


def test_every_filter_has_a_sidecar_doc():
    folder = os.path.dirname(preflight.__file__)
    assert sorted(name[:-4] for name in os.listdir(folder) if name.endswith('.yml')) == sorted(FILTERS)


def test_version_problem_as_the_role_calls_it():
    assert FILTERS['version_problem']('2.0.0', '1.0.0', 'stable', False) == ''
    assert 'preflight_allow_downgrade' in FILTERS['version_problem']('1.0.0', '2.0.0', 'stable', False)


def test_window_problem_takes_an_iso_moment_in_utc():
    windows = [{'days': ['thu'], 'start': '16:00', 'end': '17:00'}]
    assert FILTERS['window_problem'](windows, '2026-11-26T16:30:00Z') == ''
    assert 'it is Thu 17:00 UTC' in FILTERS['window_problem'](windows, '2026-11-26T17:00:00Z')
    assert FILTERS['window_problem'](None) == ''


def test_semver_filters():
    assert FILTERS['semver_valid']('v2.0.0-rc.1') and not FILTERS['semver_valid']('2.0')
    assert FILTERS['semver_compare']('2.0.0-beta.2', '2.0.0-beta.11') == -1
    with pytest.raises(AnsibleFilterError, match='not a semantic version'):
        FILTERS['semver_compare']('2.0', '2.0.0')


def test_other_filters_pass_their_arguments_through():
    assert FILTERS['compat_problem']([], '1.0.0') == ''
    assert 'Python 3.8.1 on app1' in FILTERS['compat_problem']([{'python_min': '3.9'}], '1.0.0', '3.8.1', None, 'app1')
    assert FILTERS['promotion_problem'](None, 'shop', '1.0.0', 'production', 'staging').startswith('shop 1.0.0 has no green')
    assert FILTERS['heads_problem'](['a']) == ''
