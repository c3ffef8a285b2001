# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""app_release's option checks: every bad combination is refused with a message before anything runs."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.modules import app_release


def params(**extra):
    base = {name: spec.get('default') for name, spec in app_release.argument_spec().items()}
    return dict(base, app_root='/srv/app', **extra)


@pytest.mark.parametrize('extra', [
    dict(version='2.0.0'),
    dict(version='2.0.0', state='current', keep_releases=1, mode='0750'),
    dict(state='rollback'),
    dict(version='previous', state='current'),
    dict(version='2.0.0', state='absent'),
    dict(state='query'),
    dict(state='query', service={'name': 'demoapp.service', 'unit_file': None, 'content': None}),
    dict(state='query', service={'name': 'demoapp.service', 'unit_file': '/etc/systemd/system/demoapp.service', 'content': ''}),
])
def test_valid_options(extra):
    assert app_release.option_errors(params(**extra)) is None


@pytest.mark.parametrize('extra, problem', [
    (dict(), 'state present needs the version of a release'),
    (dict(state='rollback', version='1.0.0'), 'state rollback switches to the previous release'),
    (dict(state='query', version='1.0.0'), 'state query reads the current and previous releases: leave version out'),
    (dict(version='previous'), "version 'previous' is a word this module reserves"),
    (dict(version='a/b'), 'cannot name a release folder'),
    (dict(version='1', keep_releases=0), 'keep_releases must be 1 or more, got 0'),
    (dict(version='1', timeout=0), 'timeout must be 1 second or more'),
    (dict(version='1', mode='0999'), "mode must be an octal string such as '0750', got '0999'"),
    (dict(version='1', mode='17777'), 'mode must be an octal string'),
    (dict(version='1', wheelhouse='/w', index_url='https://x/simple'), 'wheelhouse and index_url exclude each other'),
    (dict(version='1', service={'name': 'a.service', 'unit_file': None, 'content': None}),
     'service is read by state query only, got state present'),
    (dict(state='query', service={'name': 'a.service', 'unit_file': '/etc/a.service', 'content': None}),
     'service.unit_file and service.content go together'),
])
def test_invalid_options_are_refused_with_a_message(extra, problem):
    assert problem in app_release.option_errors(params(**extra))
