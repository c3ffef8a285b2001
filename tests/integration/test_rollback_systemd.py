"""playbooks/rollback.yml (the rollback role, then the smoke role) through real ansible-playbook on two
systemd-host containers running demoapp behind an nginx container, with PostgreSQL in a container. Each case
first upgrades the fleet with a release record, as upgrade.yml does (tests/integration/playbooks/
upgrade_recorded.yml: the backup, migrate and deploy_systemd roles), then rolls it back; outcomes are read
from the hosts, through nginx, from the database and from the record."""

from __future__ import annotations

import json
import pathlib
import sys
import time

import psycopg
import pytest
import requests

from .helpers.ansible import PlaybookRun, run_playbook as run_plays
from .helpers.backends import SteadyLoad
from .helpers.docker import sh
from .helpers.systemd_fleet import DEBIAN, UPSTREAM, host_port, systemd_fleet

PLAYBOOKS = pathlib.Path(__file__).parent / 'playbooks'
COLLECTION = pathlib.Path(__file__).parents[2]
ROLLBACK = str(COLLECTION / 'playbooks' / 'rollback.yml')
ALEMBIC_INI = '/srv/demoapp/releases/{version}/venv/lib/python3.11/site-packages/demoapp/alembic.ini'


@pytest.fixture(scope='module')
def fleet(docker_session, demoapp_wheelhouse, demoapp_releases, tmp_path_factory):
    with systemd_fleet(docker_session, demoapp_wheelhouse, demoapp_releases) as fleet:
        fleet.records = tmp_path_factory.mktemp('records')
        fleet.backups = tmp_path_factory.mktemp('backups')
        yield fleet


def inventory(fleet) -> dict:
    """The fleet's inventory; the controller (pg_dump, records) runs modules with this Python."""
    hosts = dict(fleet.inventory['all']['hosts'], localhost={'ansible_connection': 'local',
                                                             'ansible_python_interpreter': sys.executable})
    return dict(fleet.inventory, all={'hosts': hosts, 'vars': dict(fleet.inventory['all']['vars'], **DEBIAN)})


def common_vars(fleet) -> dict:
    db_from_hosts = 'postgresql://app:secret@%s:5432/app' % fleet.db.name
    return dict(
        # deploy_systemd, as the inventory gives it
        deploy_systemd_app_name='demoapp', deploy_systemd_wheelhouse='/wheelhouse', deploy_systemd_python='python3.11',
        deploy_systemd_env_renames={'DATABASE_URI': 'DATABASE_URL'},
        deploy_systemd_env_secret_keys=['DATABASE_URI', 'DATABASE_URL', 'SECRET_KEY'],
        deploy_systemd_health_url='http://127.0.0.1:8000/api/system/health',
        deploy_systemd_nginx_host=fleet.nginx.name, deploy_systemd_nginx_include_path=UPSTREAM,
        deploy_systemd_nginx_upstream='demoapp',
        # migrate: alembic runs on the first app host with the release's venv
        migrate_virtualenv='/srv/demoapp/releases/{{ app_version }}/venv',
        migrate_config=ALEMBIC_INI.format(version='{{ app_version }}'), migrate_url=db_from_hosts,
        migrate_safety_ignore=['ban-drop-column'],
        # backup: pg_dump on the controller, the env file of each host beside it
        backup_release='{{ app_version }}', backup_dest=str(fleet.backups), backup_db='app',
        backup_login_host='127.0.0.1', backup_login_port=host_port(fleet.db, '5432/tcp'), backup_login_user='app',
        backup_login_password='secret', backup_files=['/etc/demoapp/demoapp.env'],
        # records and smoke
        rollback_app='demoapp', rollback_environment='test', rollback_records_dir=str(fleet.records),
        smoke_base_url='http://127.0.0.1:8000', smoke_checks=[{'name': 'readiness', 'path': '/api/system/health'}],
        smoke_timeout=60)


def upgrade(run_playbook, fleet, version_from: str, version: str, **extra) -> str:
    """Upgrade the fleet with a release record; the record's id."""
    extravars = dict(common_vars(fleet), app_version=version, version_from=version_from, record_dir=str(fleet.records),
                     **extra)
    if version == '3.0.0':  # 3.0.0 is ready only at 0003, which the contract phase applies after the deploy
        extravars['deploy_systemd_health_url'] = 'http://127.0.0.1:8000/health'
    run = run_playbook(str(PLAYBOOKS / 'upgrade_recorded.yml'), inventory=inventory(fleet), extravars=extravars,
                       own_interpreter=False)
    assert run.rc == 0, run.stdout[-8000:]
    assert fleet.versions() == {h.name: version for h in fleet.hosts}
    return run.result('Start the record')['release_id']


def rollback(run_playbook, fleet, check: bool = False, **extra) -> PlaybookRun:
    """rollback.yml with the inventory's values; app_version stays what group_vars say (the rollback role takes
    the newer release's scripts from the record, not from it)."""
    extravars = dict(common_vars(fleet), app_version='2.0.0', **extra)
    return run_playbook(ROLLBACK, inventory=inventory(fleet), extravars=extravars,
                        check=check, diff=check, own_interpreter=False)


def changed_tasks(run: PlaybookRun) -> list[str]:
    return ['%s on %s' % (e['task'], e['host']) for e in run.tasks if e['res'].get('changed')]


def failure_message(run: PlaybookRun, text: str) -> str:
    """The one failure message that holds the text."""
    messages = [e['res'].get('msg', '') for e in run.tasks if e['event'] == 'runner_on_failed' and text in e['res'].get('msg', '')]
    assert len(messages) == 1, run.stdout[-6000:]
    return messages[0]


def revisions(fleet) -> list[str]:
    with psycopg.connect(fleet.db_url) as conn:
        return sorted(row[0] for row in conn.execute('SELECT version_num FROM alembic_version'))


def emails(fleet) -> list[str]:
    with psycopg.connect(fleet.db_url) as conn:
        return sorted(row[0] for row in conn.execute('SELECT email FROM users'))


def record(fleet, release_id: str) -> dict:
    return json.loads((fleet.records / (release_id + '.json')).read_text())


def rollback_result(run: PlaybookRun) -> dict:
    """The rollback_result fact the role set."""
    entries = [e['res'] for e in run.tasks if e['task'] == 'Say what the rollback did' and 'ansible_facts' in e['res']]
    assert entries, run.stdout[-6000:]
    return entries[-1]['ansible_facts']['rollback_result']


def host_state(fleet) -> dict:
    return {h.name: (sh(h, 'readlink /srv/demoapp/current').strip(), sh(h, 'cat /etc/demoapp/demoapp.env'),
                     sh(h, 'systemctl show -p MainPID --value demoapp').strip()) for h in fleet.hosts}


def test_without_a_record_it_fails_before_anything_changes(run_playbook, fleet):
    before = host_state(fleet)
    run = rollback(run_playbook, fleet)
    assert run.rc != 0
    assert 'no record of application demoapp in environment test' in failure_message(run, 'no release record to roll back')
    named = rollback(run_playbook, fleet, rollback_record='demoapp-0.9.0-1.0.0-20260101T000000Z')
    assert named.rc != 0
    assert 'record demoapp-0.9.0-1.0.0-20260101T000000Z' in failure_message(named, 'no release record to roll back')
    assert host_state(fleet) == before


@pytest.fixture(scope='module')
def upgraded(fleet):
    """The fleet upgraded 1.0.0 -> 2.0.0 (expand 0002), recorded."""
    release_id = upgrade(run_plays, fleet, '1.0.0', '2.0.0', backup_label='first-2.0.0')
    assert revisions(fleet) == ['0002']
    return release_id


def test_unknown_version_fails_before_anything_changes(run_playbook, fleet, upgraded):
    before = host_state(fleet)
    run = rollback(run_playbook, fleet, rollback_version='0.9.0')
    assert run.rc != 0
    message = failure_message(run, 'is not installed')
    assert 'release 0.9.0 is not installed on every host' in message and '1.0.0, 2.0.0' in message, message
    assert 'Nothing was changed' in message
    assert host_state(fleet) == before and revisions(fleet) == ['0002']


def test_check_mode_shows_the_plan_and_changes_nothing(run_playbook, fleet, upgraded):
    before, upstream = host_state(fleet), sh(fleet.nginx, 'cat ' + UPSTREAM)
    record_before = record(fleet, upgraded)
    run = rollback(run_playbook, fleet, check=True)
    assert run.rc == 0, run.stdout[-6000:]
    plan = run.result('Show the plan')['msg']
    assert 'release 2.0.0 -> 1.0.0' in plan and 'downgrade to 0001 with the scripts of 2.0.0' in plan, plan
    assert host_state(fleet) == before and revisions(fleet) == ['0002']
    assert sh(fleet.nginx, 'cat ' + UPSTREAM) == upstream
    assert record(fleet, upgraded) == record_before


def test_rollback_switches_the_hosts_first_then_downgrades_with_the_newer_scripts(
        run_playbook, fleet, upgraded, demoapp_releases):
    # 1.0.0's own Alembic cannot even locate 0002, the revision to undo: the downgrade needs 2.0.0's scripts.
    old = demoapp_releases['1.0.0'].migrate(fleet.db_url, 'downgrade', '0001', check=False)
    assert old.returncode != 0 and "Can't locate revision identified by '0002'" in old.stdout + old.stderr, old
    assert revisions(fleet) == ['0002']

    # Readiness through nginx fails (503) on a 2.0.0 host once the database is back at 0001: zero failures
    # under this load is the proof that no 2.0.0 host served when the downgrade ran.
    started = time.monotonic()
    with SteadyLoad(fleet.nginx_url + '/api/system/health', max_requests=20000, max_seconds=900, pause=0.02) as load:
        run = rollback(run_playbook, fleet)
    print('rollback 2.0.0 -> 1.0.0: %.1f s, %d requests through nginx, %d failed'
          % (time.monotonic() - started, load.total, len(load.failures)))
    assert run.rc == 0, run.stdout[-8000:]
    assert load.total > 100, 'the request stream did not run'
    assert load.failures == [], load.failures[:10]

    assert fleet.versions() == {h.name: '1.0.0' for h in fleet.hosts}
    assert fleet.nginx_versions() == {'1.0.0'}
    assert revisions(fleet) == ['0001']
    for host in fleet.hosts:
        assert sh(host, 'readlink /srv/demoapp/current').strip().endswith('releases/1.0.0')
        env = sh(host, 'cat /etc/demoapp/demoapp.env')
        assert 'DATABASE_URI="postgresql://app:secret@' in env and 'DATABASE_URL' not in env, env
    assert ' down;' not in sh(fleet.nginx, 'cat ' + UPSTREAM)

    result = rollback_result(run)
    assert [s['step'] for s in result['steps']] == ['hosts', 'database_after'], result['steps']
    hosts, database = result['steps']
    assert database['started'] >= hosts['started'] + hosts['duration'], result['steps']
    assert database['revisions_before'] == ['0002'] and database['revisions_after'] == ['0001'], database
    downgrade = run.result('Downgrade the database with the scripts of the newer release to 0001')
    assert downgrade['changed'] and downgrade['direction'] == 'downgrade'
    assert any('/srv/demoapp/releases/2.0.0/venv/bin/' in c for c in downgrade['commands']), downgrade['commands']

    closed = record(fleet, upgraded)
    assert closed['status'] == 'rolled_back', closed
    assert closed['rollback']['release'] == '1.0.0' and closed['rollback']['from'] == '2.0.0'
    assert closed['rollback']['database'] == 'downgrade to 0001'
    assert sorted(p['host'] for p in closed['phases'] if p['name'] == 'rollback') == sorted(fleet.urls)
    assert {p['result'] for p in closed['phases'] if p['name'] == 'rollback_smoke'} == {'ok'}

    again = rollback(run_playbook, fleet)
    assert again.rc == 0, again.stdout[-6000:]
    assert changed_tasks(again) == []
    assert record(fleet, upgraded) == closed


# 2.0.0's audit_log (not in the backup) has a foreign key on users.id: pg_restore --clean alone could not drop
# users_pkey; the role restores with restore_mode exact.
def test_restore_puts_the_backup_back_after_the_hosts(run_playbook, fleet, upgraded):
    release_id = upgrade(run_playbook, fleet, '1.0.0', '2.0.0', backup_label='restore-2.0.0')
    in_backup = emails(fleet)
    created = requests.post(fleet.nginx_url + '/api/users', timeout=10,
                            json={'email': 'after-backup@example.com', 'password': 'long-enough-pw', 'display_name': 'x'})
    assert created.status_code == 201, created.text
    assert emails(fleet) == sorted(in_backup + ['after-backup@example.com'])

    run = rollback(run_playbook, fleet, rollback_restore_db=True)
    assert run.rc == 0, run.stdout[-8000:]
    result = rollback_result(run)
    assert [s['step'] for s in result['steps']] == ['hosts', 'database_after'], result['steps']
    hosts, restore = result['steps']
    assert restore['action'] == 'restore restore-2.0.0' and restore['started'] >= hosts['started'] + hosts['duration']
    assert emails(fleet) == in_backup
    assert revisions(fleet) == ['0001']
    assert fleet.versions() == {h.name: '1.0.0' for h in fleet.hosts}
    assert record(fleet, release_id)['rollback']['database'] == 'restore restore-2.0.0'

    again = rollback(run_playbook, fleet, rollback_restore_db=True)
    assert again.rc == 0 and changed_tasks(again) == [], again.stdout[-6000:]

    # The same record, its dump altered since: refused before anything changes.
    dump = fleet.backups / 'app--restore-2.0.0.dump'
    dump.write_bytes(dump.read_bytes() + b'x')
    before = host_state(fleet)
    refused = rollback(run_playbook, fleet, rollback_restore_db=True, rollback_record=release_id)
    assert refused.rc != 0
    message = failure_message(refused, 'refusing to restore')
    assert 'the record says' in message and 'Nothing was changed' in message, message
    assert host_state(fleet) == before


# Starts from the database the restore case leaves (0001).
def test_contract_is_undone_before_the_hosts_switch_back(run_playbook, fleet, upgraded):
    release_id = upgrade(run_playbook, fleet, '1.0.0', '3.0.0', backup_label='contract-3.0.0', contract=True)
    assert revisions(fleet) == ['0003']
    with SteadyLoad(fleet.nginx_url + '/version', max_requests=20000, max_seconds=900, pause=0.02) as load:
        run = rollback(run_playbook, fleet, rollback_record=release_id)
    assert run.rc == 0, run.stdout[-8000:]
    assert load.failures == [], load.failures[:10]
    result = rollback_result(run)
    assert [s['step'] for s in result['steps']] == ['database_contract', 'hosts', 'database_after'], result['steps']
    contract, hosts, after = result['steps']
    assert contract['revisions_before'] == ['0003'] and contract['revisions_after'] == ['0002'], contract
    assert hosts['started'] >= contract['started'] + contract['duration'], result['steps']
    assert after['started'] >= hosts['started'] + hosts['duration'], result['steps']
    assert after['revisions_before'] == ['0002'] and after['revisions_after'] == ['0001'], after
    for step in contract, after:  # both with 3.0.0's scripts
        assert any('/srv/demoapp/releases/3.0.0/venv/bin/' in c for c in step['commands']), step['commands']
    assert fleet.versions() == {h.name: '1.0.0' for h in fleet.hosts}
    assert revisions(fleet) == ['0001']
    assert record(fleet, release_id)['status'] == 'rolled_back'
