"""app_release through Ansible, building real virtualenvs from the demoapp wheelhouse: check mode, switch,
idempotence, a failing install or pip check that leaves nothing behind, pruning, rollback, ownership.
One application folder goes through it all, since every release built costs 20-60 s of pip."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from .demoapp.support import python311
from .helpers.ansible import assert_ok, run_module_tasks

MODULE = 'artisan.upgrade.app_release'


def installed_version(app_root: pathlib.Path, link: str = 'current') -> str:
    """What the release's own venv says is installed, asked through the console script pip wrote."""
    proc = subprocess.run([str(app_root / link / 'venv' / 'bin' / 'python'), '-c',
                           'import importlib.metadata as m; print(m.version("demoapp"))'],
                          capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout.strip()


def entries(app_root: pathlib.Path) -> list[str]:
    return sorted(os.listdir(app_root / 'releases'))


@pytest.fixture(scope='module')
def interpreter():
    return python311()


@pytest.fixture()
def open_root():
    """A folder the unprivileged user can traverse (pytest's tmp_path is private to root)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix='artisan-app-release-'))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def args(app_root, version, wheelhouse, interpreter, **extra):
    return dict({'app_root': str(app_root), 'version': version, 'state': 'current',
                 'requirements': ['demoapp==%s' % version], 'wheelhouse': str(wheelhouse), 'python': interpreter}, **extra)


def test_releases_switch_prune_and_roll_back(run_playbook, demoapp_wheelhouse, interpreter, open_root):
    app = open_root / 'srv' / 'demoapp'
    first = args(app, '1.0.0', demoapp_wheelhouse, interpreter, owner='nobody', group='nogroup', mode='0750')
    (plan,) = run_module_tasks(run_playbook, MODULE, [(first, {'check_mode': True})])
    assert_ok(plan)
    assert (plan['changed'], plan['current'], plan['commands']) == (True, '1.0.0', [])
    assert plan['diff']['after'] == 'current: 1.0.0\nprevious: (none)\nreleases:\n  - 1.0.0\n'
    assert not app.exists()  # check mode wrote nothing, not even the folders

    missing = args(app, '9.9.9', demoapp_wheelhouse, interpreter)
    # Without its dependencies, demoapp installs but pip check fails.
    unchecked = args(app, '2.0.0', demoapp_wheelhouse, interpreter, pip_args=['--no-deps'])
    made, plan_again, again, failed, broken = run_module_tasks(run_playbook, MODULE, [
        first, (first, {'check_mode': True}), first, missing, unchecked])
    for result in (made, plan_again, again):
        assert_ok(result)
    assert made['changed'] and made['current'] == '1.0.0' and made['previous'] is None
    assert [c.split()[1:3] for c in made['commands'][:1]] == [['-m', 'venv']]
    assert (plan_again['changed'], again['changed']) == (False, False)
    assert again['commands'] == []

    # A failed install or pip check leaves nothing behind, and current where it was.
    assert failed.get('failed') and broken.get('failed')
    assert failed['msg'].startswith('pip install of demoapp==9.9.9 failed')
    assert 'No matching distribution found for demoapp==9.9.9' in failed['msg']
    assert broken['msg'].startswith('pip check of release 2.0.0 failed (rc=1): demoapp 2.0.0 requires')
    for result in (failed, broken):
        assert (result['current'], result['changed']) == ('1.0.0', False)
        assert set(result) >= {'changed', 'msg', 'commands', 'duration'}

    # The real state, read independently of the module.
    assert os.readlink(app / 'current') == 'releases/1.0.0'
    assert entries(app) == ['1.0.0']  # no 9.9.9, no 2.0.0, no temporary folder
    assert installed_version(app) == '1.0.0'
    marker = json.loads((app / 'releases' / '1.0.0' / '.artisan-release.json').read_text())
    assert marker['version'] == '1.0.0' and len(marker['pip_freeze_sha256']) == 64
    script = (app / 'releases' / '1.0.0' / 'venv' / 'bin' / 'demoapp').read_text()
    assert script.startswith('#!%s/releases/1.0.0/venv/bin/python' % app)  # relocated from the temporary folder
    info = os.stat(app / 'releases' / '1.0.0')
    assert (info.st_mode & 0o777, info.st_uid) == (0o750, 65534)
    assert os.stat(app / 'releases' / '1.0.0' / 'venv' / 'bin' / 'python', follow_symlinks=False).st_uid == 65534
    # The unprivileged user reaches the release through the link (running it needs an interpreter it can
    # execute, which this machine's Python under /root is not: the systemd-host test runs it).
    proc = subprocess.run(['runuser', '-u', 'nobody', '--', 'test', '-x', str(app / 'current' / 'venv' / 'bin' / 'demoapp')],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr

    second = args(app, '2.0.0', demoapp_wheelhouse, interpreter)
    third = args(app, '3.0.0', demoapp_wheelhouse, interpreter, keep_releases=2)
    rollback = {'app_root': str(app), 'state': 'rollback'}
    previous = {'app_root': str(app), 'version': 'previous', 'state': 'current'}
    switched, pruned, back, forth = run_module_tasks(run_playbook, MODULE, [second, third, rollback, previous])
    for result in (switched, pruned, back, forth):
        assert_ok(result)
    assert (switched['current'], switched['previous']) == ('2.0.0', '1.0.0')
    assert switched['diff']['before'].startswith('current: 1.0.0\n')
    assert switched['diff']['after'].startswith('current: 2.0.0\nprevious: 1.0.0\n')
    # keep_releases 2: 3.0.0 is current, 2.0.0 previous, so 1.0.0 goes.
    assert (pruned['current'], pruned['previous'], pruned['pruned']) == ('3.0.0', '2.0.0', ['1.0.0'])
    assert (back['changed'], back['current'], back['previous']) == (True, '2.0.0', '3.0.0')
    assert (forth['current'], forth['previous']) == ('3.0.0', '2.0.0')
    assert entries(app) == ['2.0.0', '3.0.0']
    assert installed_version(app) == '3.0.0'
    assert json.loads((app / '.release-state.json').read_text())['previous'] == '2.0.0'


def test_bad_input_is_refused_with_a_message(run_playbook, tmp_path):
    results = run_module_tasks(run_playbook, MODULE, [
        {'app_root': str(tmp_path), 'state': 'current'},
        {'app_root': str(tmp_path), 'version': '../etc', 'state': 'present'},
        {'app_root': str(tmp_path), 'version': '1.0.0', 'keep_releases': 0},
        {'app_root': str(tmp_path), 'version': '1.0.0', 'mode': 'rwx'},
        {'app_root': str(tmp_path), 'version': '1.0.0', 'wheelhouse': '/w', 'index_url': 'https://u:secret@x/simple'},
        {'app_root': str(tmp_path), 'state': 'rollback'},
    ])
    messages = [r['msg'] for r in results]
    assert all(r.get('failed') for r in results), messages
    assert messages[0] == 'state current needs the version of a release'
    assert 'cannot name a release folder' in messages[1]
    assert messages[2] == 'keep_releases must be 1 or more, got 0'
    assert messages[3].startswith('mode must be an octal string')
    assert messages[4].startswith('wheelhouse and index_url exclude each other')
    assert messages[5].startswith('no previous release is recorded')
    assert 'secret' not in json.dumps(results)
