"""env_file through Ansible on real files: check mode, write, idempotence, kept owner and mode, backup,
masked secrets, refusals that leave the file as it was."""

from __future__ import annotations

import json
import os

from .helpers.ansible import assert_ok, run_module_tasks

MODULE = 'artisan.upgrade.env_file'
SECRET = 'pw-never-shown-4711'
BEFORE = ('# demoapp 1.0.0 settings\n'
          'DATABASE_URI="postgresql://app:%s@db:5432/app"\n'
          '\n'
          'LOG_LEVEL = debug   \n'
          '; legacy\n'
          'LEGACY_POOL=5\n' % SECRET)
AFTER = ('# demoapp 1.0.0 settings\n'
         'DATABASE_URL="postgresql://app:%s@db:5432/app"\n'
         '\n'
         'LOG_LEVEL=info\n'
         '; legacy\n'
         'SECRET_KEY=rotated-key-0815\n' % SECRET)


def test_config_migration_check_write_idempotent_kept_mode_and_masked(run_playbook, tmp_path):
    path = tmp_path / 'demoapp.env'
    path.write_text(BEFORE)
    os.chown(path, 65534, 65534)
    os.chmod(path, 0o640)
    args = {'path': str(path), 'renames': {'DATABASE_URI': 'DATABASE_URL'}, 'remove': ['LEGACY_POOL'],
            'set': {'LOG_LEVEL': 'info'}, 'set_secret': {'SECRET_KEY': 'rotated-key-0815'},
            'secret_keys': ['DATABASE_URI'], 'backup': True}
    plan, done, plan_again, again = run_module_tasks(run_playbook, MODULE, [
        (args, {'check_mode': True}), args, (args, {'check_mode': True}), args])
    for result in (plan, done, plan_again, again):
        assert_ok(result)
    assert plan['changed'] and plan['msg'].startswith('check mode, nothing changed')
    assert plan['changes'] == done['changes'] == ['renamed DATABASE_URI to DATABASE_URL', 'removed LEGACY_POOL',
                                                  'set LOG_LEVEL', 'added SECRET_KEY']
    assert (plan_again['changed'], again['changed'], again['changes']) == (False, False, [])
    assert path.read_text() == AFTER
    info = os.stat(path)
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (65534, 65534, 0o640)
    assert open(done['backup_file'], encoding='utf-8').read() == BEFORE
    assert not [name for name in os.listdir(tmp_path) if name.startswith('.demoapp.env')]  # no temporary file left
    assert done['env'] == {'DATABASE_URL': '********', 'LOG_LEVEL': 'info', 'SECRET_KEY': '********'}
    assert 'DATABASE_URL=********' in done['diff']['after'] and 'DATABASE_URI=********' in done['diff']['before']
    shown = json.dumps([plan, done, plan_again, again])
    assert SECRET not in shown and 'rotated-key-0815' not in shown


def test_refusals_leave_the_file_untouched(run_playbook, tmp_path):
    conflict = tmp_path / 'conflict.env'
    conflict.write_text('DATABASE_URI=a\nDATABASE_URL=b\n')
    continued = tmp_path / 'continued.env'
    continued.write_text('A=1\nB="two\nlines"\n')
    results = run_module_tasks(run_playbook, MODULE, [
        {'path': str(conflict), 'renames': {'DATABASE_URI': 'DATABASE_URL'}},
        {'path': str(continued), 'set': {'A': '2'}},
        {'path': str(tmp_path / 'missing.env'), 'set': {'A': '1'}, 'create': False},
        {'path': str(conflict), 'set': {'A': 'x\ny'}},
    ])
    messages = [r['msg'] for r in results]
    assert all(r.get('failed') for r in results), messages
    assert messages[0] == ('cannot rename DATABASE_URI to DATABASE_URL: both are set, to different values; remove one '
                           'of them (or list it under remove) first')
    assert messages[1] == '%s: line 2: unclosed double quote: the value continues on the next line' % continued
    assert messages[2].endswith('missing.env does not exist (create is false)')
    assert messages[3] == 'set: A: values with line breaks or NUL bytes cannot be written on one line'
    assert conflict.read_text() == 'DATABASE_URI=a\nDATABASE_URL=b\n'
    assert continued.read_text() == 'A=1\nB="two\nlines"\n'
    assert not (tmp_path / 'missing.env').exists()


def test_a_new_file_is_private(run_playbook, tmp_path):
    path = tmp_path / 'new.env'
    made, again = run_module_tasks(run_playbook, MODULE, [{'path': str(path), 'set': {'A': '1'}}] * 2)
    assert (made['changed'], again['changed']) == (True, False)
    assert path.read_text() == 'A=1\n'
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_linked_file_is_edited_and_the_link_stays(run_playbook, tmp_path):
    target = tmp_path / 'real.env'
    target.write_text('A=1\n')
    link = tmp_path / 'linked.env'
    link.symlink_to(target)
    (result,) = run_module_tasks(run_playbook, MODULE, [{'path': str(link), 'set': {'A': '2'}}])
    assert_ok(result)
    assert link.is_symlink() and target.read_text() == 'A=2\n'
