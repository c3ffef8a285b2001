"""The backup and migrate roles through real ansible-playbook runs against a real PostgreSQL and demoapp 3.0.0's
Alembic project (0001 initial, 0002 expand, 0003 contract), on an inventory of two hosts: each role's work runs
once per run and its fact reaches every host."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess

import pytest

from .demoapp.support import columns, revision
from .helpers.postgres import APP_PASSWORD, APP_USER

HOSTS = ('app1', 'app2')


@pytest.fixture()
def stack(demoapp_releases, migrated_dsn, postgres, tmp_path):
    """A database at 1.0.0's head, each host's files (an env file, a unit file, a `current` link), the role variables."""
    url = migrated_dsn('1.0.0')
    db = url.rsplit('/', 1)[1]
    release = demoapp_releases['3.0.0']
    config = next(release.venv.glob('lib/python3*/site-packages/demoapp/alembic.ini'))
    inventory = {'all': {'hosts': {}}}
    for host in HOSTS:
        root = tmp_path / host
        (root / 'releases' / '1.0.0').mkdir(parents=True)
        (root / 'demoapp.env').write_text('DATABASE_URI=%s\n' % url)
        (root / 'demoapp.service').write_text('[Service]\nExecStart=%s serve\n' % host)
        os.symlink('releases/1.0.0', root / 'current')
        inventory['all']['hosts'][host] = {'ansible_connection': 'local', 'app_root': str(root)}
    variables = {
        'backup_release': '2.0.0', 'backup_dest': str(tmp_path / 'backups'), 'backup_db': db,
        'backup_login_host': postgres.host, 'backup_login_port': postgres.port, 'backup_login_user': APP_USER,
        'backup_login_password': APP_PASSWORD,
        'backup_files': ['{{ app_root }}/demoapp.env', '{{ app_root }}/demoapp.service', '{{ app_root }}/current',
                         '{{ app_root }}/missing.conf'],
        'migrate_url': url, 'migrate_virtualenv': str(release.venv), 'migrate_config': str(config),
    }
    return {'db': db, 'inventory': inventory, 'vars': variables, 'backups': tmp_path / 'backups', 'root': tmp_path}


def play(phase: str | None, backup: bool = True) -> list[dict]:
    tasks = []
    if backup:
        tasks.append({'name': 'backup', 'ansible.builtin.include_role': {'name': 'artisan.upgrade.backup'}})
    if phase:
        tasks.append({'name': 'migrate', 'ansible.builtin.include_role': {'name': 'artisan.upgrade.migrate'},
                      'vars': {'migrate_phase': phase}})
    tasks.append({'name': 'facts', 'ansible.builtin.debug': {
        'msg': {'backup': "{{ backup_record | default(none) }}", 'migrate': "{{ migrate_result | default(none) }}"}}})
    return [{'hosts': 'all', 'gather_facts': False, 'tasks': tasks}]


def run(run_playbook, stack, phase, check=False, backup=True, **extra):
    result = run_playbook(play(phase, backup), inventory=stack['inventory'], extravars=dict(stack['vars'], **extra),
                          check=check)
    assert result.rc == 0, result.stdout
    return result


def facts(result):
    """Each host's backup_record and migrate_result as the last task saw them."""
    found = {entry['host']: entry['res']['msg'] for entry in result.tasks if entry['task'] == 'facts'}
    assert sorted(found) == list(HOSTS), found
    return found


def changed(result):
    return [(entry['task'], entry['host']) for entry in result.tasks if entry['res'].get('changed')]


def module_runs(result, action_task):
    """How many times (hosts) a task ran: run_once tasks run on one host only."""
    return [entry['host'] for entry in result.tasks if entry['task'] == action_task and entry['event'] == 'runner_on_ok']


def dump_verifies(path: str, sha256: str) -> None:
    with open(path, 'rb') as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == sha256
    listing = subprocess.run(['pg_restore', '--list', path], capture_output=True, text=True, check=True, timeout=60)
    assert 'TABLE public users' in listing.stdout


def test_expand_then_contract_with_a_backup_check_mode_and_reruns(stack, postgres, run_playbook):
    db = stack['db']
    assert revision(postgres, db) == ['0001']

    checked = run(run_playbook, stack, 'expand', check=True)
    assert revision(postgres, db) == ['0001'] and 'display_name' not in columns(postgres, db, 'users')
    assert not stack['backups'].exists() or not any(stack['backups'].iterdir())
    planned = facts(checked)['app1']['migrate']
    assert planned['target'] == '0002' and planned['held_back'] == ['0003']
    assert [(step['revision'], step['classification']) for step in planned['plan']] == [
        ('0002', 'expand'), ('0003', 'contract')]

    expanded = run(run_playbook, stack, 'expand')
    assert revision(postgres, db) == ['0002']
    assert {'display_name', 'full_name'} <= columns(postgres, db, 'users')
    first = facts(expanded)
    assert first['app1'] == first['app2'], 'the run_once facts must reach every host'
    record, migrated = first['app1']['backup'], first['app1']['migrate']
    assert (migrated['phase'], migrated['revisions_before'], migrated['revisions_after']) == ('expand', ['0001'], ['0002'])
    assert [step['revision'] for step in migrated['applied']] == ['0002'] and migrated['held_back'] == ['0003']
    assert module_runs(expanded, "Apply the phase's revisions up to 0002") == ['app1']
    # The backup is of the database before the migration, labelled with the release, and verifies.
    assert record['label'] == 'pre-upgrade-2.0.0' and record['reused'] is False
    assert record['alembic_revision'] == '0001'
    assert record['path'] == str(stack['backups'] / ('%s--pre-upgrade-2.0.0.dump' % db))
    dump_verifies(record['path'], record['sha256'])
    manifest = json.loads(pathlib.Path(record['manifest_path']).read_text())
    assert manifest['metadata'] == {'release': '2.0.0'} and manifest['sha256'] == record['sha256']
    files_dir = pathlib.Path(record['files_manifest']).parent
    files = json.loads(pathlib.Path(record['files_manifest']).read_text())
    assert sorted(files['hosts']) == list(HOSTS) and files['release'] == '2.0.0'
    for host in HOSTS:
        root = stack['root'] / host
        entries = {pathlib.Path(entry['path']).name: entry for entry in files['hosts'][host]}
        assert entries['current'] == {'path': str(root / 'current'), 'type': 'link', 'target': 'releases/1.0.0'}
        assert entries['missing.conf'] == {'path': str(root / 'missing.conf'), 'type': 'absent'}
        for name in ('demoapp.env', 'demoapp.service'):
            copy = files_dir / (host + str(root / name))
            assert copy.read_bytes() == (root / name).read_bytes()
            assert entries[name]['sha256'] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert oct(stack['backups'].stat().st_mode & 0o777) == '0o700'

    # Re-run: the backup is reused, nothing is left to expand (0003 is contract), nothing changes.
    again = run(run_playbook, stack, 'expand')
    assert changed(again) == []
    second = facts(again)['app2']
    assert second['backup']['reused'] is True and second['backup']['sha256'] == record['sha256']
    assert second['migrate']['target'] is None and second['migrate']['applied'] == []
    assert second['migrate']['revisions_after'] == ['0002'] and second['migrate']['held_back'] == ['0003']

    # A host's file changes after the backup (as the upgrade changes the env file): a re-run reusing the backup
    # keeps the copy taken with it.
    env = stack['root'] / 'app1' / 'demoapp.env'
    taken = env.read_bytes()
    env.write_bytes(taken + b'CHANGED_BY_THE_UPGRADE=1\n')
    assert changed(run(run_playbook, stack, 'expand')) == []
    assert (files_dir / ('app1' + str(env))).read_bytes() == taken
    env.write_bytes(taken)

    checked = run(run_playbook, stack, 'contract', check=True, backup=False)
    assert revision(postgres, db) == ['0002'] and 'full_name' in columns(postgres, db, 'users')
    assert facts(checked)['app1']['migrate']['revisions_after'] == ['0003']

    contracted = run(run_playbook, stack, 'contract', backup=False)
    assert revision(postgres, db) == ['0003']
    assert 'display_name' in columns(postgres, db, 'users') and 'full_name' not in columns(postgres, db, 'users')
    result = facts(contracted)['app2']['migrate']
    assert (result['revisions_before'], result['revisions_after'], result['held_back']) == (['0002'], ['0003'], [])

    assert changed(run(run_playbook, stack, 'contract', backup=False)) == []
    assert revision(postgres, db) == ['0003']


def test_phase_all_and_retention_prunes_the_copied_files_too(stack, postgres, run_playbook):
    db = stack['db']
    records = []
    for release in ('2.0.0', '2.1.0', '2.2.0'):
        result = run(run_playbook, stack, 'all' if release == '2.0.0' else None, backup_release=release, backup_keep=2)
        records.append(facts(result)['app1']['backup'])
    assert revision(postgres, db) == ['0003'] and 'full_name' not in columns(postgres, db, 'users')
    assert records[2]['pruned'] == [records[0]['path']]
    assert not pathlib.Path(records[0]['path']).exists()
    assert not pathlib.Path(records[0]['files_manifest']).parent.exists()
    for record in records[1:]:
        dump_verifies(record['path'], record['sha256'])
        assert pathlib.Path(record['files_manifest']).exists()
