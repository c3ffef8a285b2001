# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""app_release on a real folder, with releases made by hand (markers) and a stand-in Python for the builds."""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import stat

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _app_release as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _app_release_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

# "python -m venv DIR" makes DIR/bin/python, which fails "pip install" the way pip does for a missing version.
FAKE_PYTHON = r"""#!/bin/sh
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin"
  printf '#!/bin/sh\necho "ERROR: No matching distribution found for demoapp==9.9.9" >&2\nexit 1\n' >"$3/bin/python"
  chmod +x "$3/bin/python"
fi
"""


def params(app_root, **extra):
    base = dict(app_root=str(app_root), version=None, state='present', requirements=None, wheelhouse=None,
                index_url=None, pip_args=None, python='python3', owner=None, group=None, mode=None,
                keep_releases=None, timeout=30, service=None)
    return dict(base, **extra)


def make_release(app_root, version, day):
    path = app_root / 'releases' / version
    (path / 'venv').mkdir(parents=True)
    marker = decide.build_marker(version, datetime.datetime(2026, 11, day, tzinfo=datetime.timezone.utc),
                                 'python3', '3.11', ['demoapp==%s' % version], 'demoapp==%s\n' % version, 'test')
    (path / decide.MARKER).write_text(json.dumps(marker))


def perform(app_root, check_mode=False, **extra):
    warnings = []
    action = actions.Action(params(app_root, **extra), check_mode, warnings.append, Run())
    result = actions.perform(action)
    result['warnings'] = warnings
    return result


@pytest.fixture()
def app(tmp_path):
    root = tmp_path / 'app'
    for day, version in enumerate(['1.0.0', '2.0.0', '3.0.0'], start=1):
        make_release(root, version, day)
    return root


def link_of(app):
    return os.readlink(app / 'current')


def test_switch_reads_previous_from_the_link_and_keeps_it_across_runs(app):
    assert perform(app, version='1.0.0', state='current')['changed']
    result = perform(app, version='2.0.0', state='current')
    assert (result['current'], result['previous'], link_of(app)) == ('2.0.0', '1.0.0', 'releases/2.0.0')
    again = perform(app, version='2.0.0', state='current')
    assert (again['changed'], again['previous']) == (False, '1.0.0')
    assert again['diff']['before'] == again['diff']['after']


def test_rollback_switches_to_previous_and_back(app):
    perform(app, version='1.0.0', state='current')
    perform(app, version='2.0.0', state='current')
    back = perform(app, state='rollback')
    assert (back['current'], back['previous'], link_of(app)) == ('1.0.0', '2.0.0', 'releases/1.0.0')
    forth = perform(app, version='previous', state='current')
    assert (forth['current'], forth['previous']) == ('2.0.0', '1.0.0')


def test_query_reads_current_and_previous_and_changes_nothing(app):
    perform(app, version='1.0.0', state='current')
    perform(app, version='2.0.0', state='current')
    listing = sorted(os.listdir(app))
    for check_mode in (False, True):
        result = perform(app, check_mode=check_mode, state='query')
        assert (result['changed'], result['current'], result['previous']) == (False, '2.0.0', '1.0.0')
        assert result['msg'] == 'current is 2.0.0, previous is 1.0.0'
        assert [r['version'] for r in result['releases']] == ['1.0.0', '2.0.0', '3.0.0']
        assert result['diff']['before'] == result['diff']['after']
    assert sorted(os.listdir(app)) == listing and decide.LOCK_FILE in listing


def test_query_reads_the_service_in_the_same_call(app, tmp_path, monkeypatch):
    # A stand-in systemctl on PATH (the real one is exercised on systemd hosts by the integration tests).
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    (bindir / 'systemctl').write_text('#!/bin/sh\necho "$*" > %s/argv\necho active\n' % tmp_path)
    (bindir / 'systemctl').chmod(0o755)
    monkeypatch.setenv('PATH', '%s:%s' % (bindir, os.environ['PATH']))
    unit = tmp_path / 'demoapp.service'
    unit.write_text('[Service]\nExecStart=/srv/app/current/venv/bin/demoapp\n')
    service = {'name': 'demoapp.service', 'unit_file': str(unit), 'content': unit.read_text()}
    result = perform(app, state='query', service=service)
    assert result['service'] == {'name': 'demoapp.service', 'active_state': 'active', 'unit_file_matches': True}
    assert (tmp_path / 'argv').read_text().split() == ['show', '--property=ActiveState', '--value', 'demoapp.service']
    assert result['msg'].endswith('; demoapp.service is active')
    changed = perform(app, state='query', service=dict(service, content='[Service]\n'))
    assert changed['service']['unit_file_matches'] is False
    missing = perform(app, state='query', service=dict(service, unit_file=str(tmp_path / 'nope')))
    assert missing['service']['unit_file_matches'] is False
    state_only = perform(app, state='query', service={'name': 'demoapp.service', 'unit_file': None, 'content': None})
    assert state_only['service']['unit_file_matches'] is None
    assert 'service' not in perform(app, state='query')


def test_query_of_a_missing_app_root_reads_no_release_and_creates_nothing(tmp_path):
    result = perform(tmp_path / 'absent', state='query')
    assert (result['changed'], result['current'], result['previous'], result['releases']) == (False, None, None, [])
    assert result['release_path'] is None
    assert not (tmp_path / 'absent').exists()


def test_check_mode_plans_the_switch_and_the_pruning_without_doing_them(app):
    perform(app, version='1.0.0', state='current')
    result = perform(app, check_mode=True, version='3.0.0', state='current', keep_releases=1)
    assert (result['changed'], result['current'], result['previous'], result['pruned']) == (True, '3.0.0', '1.0.0', ['2.0.0'])
    assert result['msg'].startswith('check mode, nothing changed')
    assert link_of(app) == 'releases/1.0.0'
    assert sorted(os.listdir(app / 'releases')) == ['1.0.0', '2.0.0', '3.0.0']


def test_keep_releases_spares_current_and_previous_and_incomplete_folders(app):
    (app / 'releases' / '0.5.0').mkdir()  # no marker: an interrupted run's leftover
    (app / 'releases' / decide.temp_name('4.0.0', 'abcd1234')).mkdir()  # another task's build
    perform(app, version='3.0.0', state='current')
    result = perform(app, version='1.0.0', state='current', keep_releases=1)
    assert (result['current'], result['previous'], result['pruned']) == ('1.0.0', '3.0.0', ['2.0.0'])
    assert sorted(os.listdir(app / 'releases')) == ['.artisan-tmp-abcd1234-4.0.0', '0.5.0', '1.0.0', '3.0.0']
    assert [r['version'] for r in result['releases']] == ['1.0.0', '3.0.0', '0.5.0']


def test_absent_refuses_the_current_release_and_removes_another(app):
    perform(app, version='1.0.0', state='current')
    perform(app, version='2.0.0', state='current')
    with pytest.raises(ModuleFailure, match='release 2.0.0 is current') as info:
        perform(app, version='2.0.0', state='absent')
    assert info.value.context['current'] == '2.0.0'
    removed = perform(app, version='1.0.0', state='absent')
    assert (removed['changed'], removed['previous']) == (True, None)
    assert removed['warnings'] == ['release 1.0.0 was the previous one: rollback has no target until the next switch']
    assert not (app / 'releases' / '1.0.0').exists()
    assert perform(app, version='1.0.0', state='absent')['changed'] is False


def test_a_current_that_is_not_a_link_is_refused(app):
    (app / 'current').mkdir()
    with pytest.raises(ModuleFailure, match='is not a symbolic link'):
        perform(app, version='1.0.0', state='current')


def test_a_failed_install_leaves_nothing_and_keeps_current(app, tmp_path):
    fake = tmp_path / 'python'
    fake.write_text(FAKE_PYTHON)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    perform(app, version='1.0.0', state='current')
    with pytest.raises(ModuleFailure) as info:
        perform(app, version='9.9.9', state='current', python=str(fake), requirements=['demoapp==9.9.9'],
                wheelhouse='/nowhere')
    assert info.value.msg.startswith('pip install of demoapp==9.9.9 failed (rc=1): ERROR: No matching distribution')
    assert info.value.context['current'] == '1.0.0'
    assert sorted(os.listdir(app / 'releases')) == ['1.0.0', '2.0.0', '3.0.0']
    assert link_of(app) == 'releases/1.0.0'


def test_a_missing_release_without_requirements_is_refused(app):
    with pytest.raises(ModuleFailure, match='no requirements are given'):
        perform(app, version='4.0.0', state='current')


def test_an_unknown_interpreter_is_refused_in_check_mode_too(app):
    with pytest.raises(ModuleFailure, match='the interpreter python9.99 is not on the PATH'):
        perform(app, check_mode=True, version='4.0.0', python='python9.99', requirements=['demoapp==4.0.0'])


def test_an_unknown_owner_is_refused_before_building(app):
    with pytest.raises(ModuleFailure, match='no such user on the host: no-such-user-artisan'):
        perform(app, version='4.0.0', owner='no-such-user-artisan', requirements=['demoapp==4.0.0'])
    assert not any(name.startswith('.artisan-tmp-') for name in os.listdir(app / 'releases'))


def test_relocating_a_venv_rewrites_its_own_paths_only(tmp_path):
    venv = tmp_path / 'final' / 'venv'
    (venv / 'bin').mkdir(parents=True)
    built = str(tmp_path / 'tmp' / 'venv')
    (venv / 'bin' / 'tool').write_text('#!%s/bin/python\nimport tool\n' % built)
    (venv / 'bin' / 'tool').chmod(0o755)
    (venv / 'pyvenv.cfg').write_text('home = /usr/bin\ncommand = /usr/bin/python3 -m venv %s\n' % built)
    os.symlink('/usr/bin/python3', str(venv / 'bin' / 'python'))
    actions.relocate_venv(str(venv), built)
    assert (venv / 'bin' / 'tool').read_text() == '#!%s/bin/python\nimport tool\n' % venv
    assert (venv / 'bin' / 'tool').stat().st_mode & 0o777 == 0o755
    assert str(venv) in (venv / 'pyvenv.cfg').read_text()
    assert os.readlink(str(venv / 'bin' / 'python')) == '/usr/bin/python3'


def test_a_second_task_waits_for_the_lock_then_says_who_holds_it(app):
    with open(app / decide.LOCK_FILE, 'a', encoding='utf-8') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ModuleFailure, match='another task has held .* for more than 1 seconds'):
            perform(app, version='1.0.0', state='current', timeout=1)
    assert not (app / 'current').exists()
