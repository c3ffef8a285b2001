"""playbooks/upgrade.yml for the systemd target through real ansible-playbook on two systemd-host containers
running demoapp 1.0.0 behind an nginx container, PostgreSQL in a container (helpers/systemd_fleet.py). The tests
run in order on one topology: the dry run, the compatibility gate that fails, the upgrade to 2.0.0 under load,
the re-run. Outcomes are read from the hosts, nginx, the database and the files, not from the playbook's answer."""

from __future__ import annotations

import hashlib
import json
import pathlib
import time

import pytest

from .helpers.ansible import PlaybookRun
from .helpers.backends import SteadyLoad
from .helpers.browser import assert_timeline, report_of
from .helpers.docker import sh
from .helpers.systemd_fleet import DEBIAN, UPSTREAM, systemd_fleet

PLAYBOOK = str(pathlib.Path(__file__).resolve().parents[2] / 'playbooks' / 'upgrade.yml')
SITE_PACKAGES = '/srv/demoapp/releases/2.0.0/venv/lib/python3.11/site-packages'
HOST_RECORDS = '/var/lib/artisan-upgrade/releases'


@pytest.fixture(scope='module')
def fleet(docker_session, demoapp_wheelhouse, demoapp_releases):
    with systemd_fleet(docker_session, demoapp_wheelhouse, demoapp_releases) as made:
        yield made


@pytest.fixture(scope='module')
def place(tmp_path_factory):
    """The controller's folders of this module: records, locks, backups, ansible-runner's artifacts."""
    root = tmp_path_factory.mktemp('upgrade')
    return {name: root / name for name in ('records', 'locks', 'backups', 'artifacts')}


def inventory(fleet, place, **overrides) -> dict:
    """The user's values, as group variables (extra vars would override what the playbook gives each role)."""
    first = fleet.hosts[0].name
    values = dict(
        preflight_app='demoapp', preflight_environment='test', preflight_target_version='2.0.0',
        preflight_records_dir=str(place['records']), preflight_lock_dir=str(place['locks']),
        preflight_check_database=False,
        backup_db='app', backup_login_host='127.0.0.1', backup_login_port=int(fleet.db_url.rsplit(':', 1)[1].split('/')[0]),
        backup_login_user='app', backup_login_password='secret', backup_dest=str(place['backups']),
        backup_files=['/etc/demoapp/demoapp.env', '/etc/systemd/system/demoapp.service', '/srv/demoapp/current'],
        migrate_virtualenv='/srv/demoapp/releases/2.0.0/venv', migrate_config=SITE_PACKAGES + '/demoapp/alembic.ini',
        migrate_db='app', migrate_login_host=fleet.db.name, migrate_login_port=5432, migrate_login_user='app',
        migrate_login_password='secret', migrate_delegate_to=first, migrate_safety_ignore=['ban-drop-column'],
        deploy_systemd_app_name='demoapp', deploy_systemd_wheelhouse='/wheelhouse', deploy_systemd_python='python3.11',
        deploy_systemd_env_renames={'DATABASE_URI': 'DATABASE_URL'},
        deploy_systemd_env_secret_keys=['DATABASE_URI', 'DATABASE_URL', 'SECRET_KEY'],
        deploy_systemd_health_url='http://127.0.0.1:8000/api/system/health',
        deploy_systemd_nginx_host=fleet.nginx.name, deploy_systemd_nginx_include_path=UPSTREAM,
        smoke_base_url='http://127.0.0.1:8000', smoke_timeout=60,
        smoke_checks=[{'name': 'liveness', 'path': '/health'},
                      {'name': 'readiness', 'path': '/api/system/health', 'body_regex': '"status":\\s*"ok"'}],
    )
    values.update(overrides)
    result = json.loads(json.dumps(fleet.inventory))
    result['all']['vars'].update(values)
    # Debian's Python in the containers; the implicit localhost (which reads all's variables too) keeps the test's.
    # Pipelining: one docker exec per task instead of several.
    for host in result['all']['hosts'].values():
        host.update(DEBIAN, ansible_pipelining=True)
    return result


def upgrade(run_playbook, fleet, place, check=False, values=None, **extra) -> PlaybookRun:
    # With the upgrade report, which ansible-runner (the engine of these runs) has written into the job's artifacts.
    return run_playbook(PLAYBOOK, inventory=inventory(fleet, place, **(values or {})),
                        extravars=dict(upgrade_target='systemd', **extra),
                        check=check, diff=check, own_interpreter=False, artifact_dir=str(place['artifacts']),
                        envvars={'ANSIBLE_CALLBACKS_ENABLED': 'artisan.upgrade.upgrade_report'})


def check_report(run: PlaybookRun, place, record: dict) -> dict:
    """The report the run named on its last line: in the job's artifacts, beside its JSON, the record's phases placed
    in time, rendered by a real browser with one bar per phase and host."""
    page = report_of(run.stdout)
    assert page.parent.parent == place['artifacts'] and page.name == record['release_id'] + '.report.html', page
    report = json.loads(page.with_suffix('.json').read_text())
    assert (report['release_id'], report['status']) == (record['release_id'], record['status'])
    assert [p['source'] for p in report['phases']] == ['observed'] * len(record['phases'])
    assert 'secret' not in page.read_text() + page.with_suffix('.json').read_text()
    assert_timeline(page, record)
    return report


def db_revision(fleet) -> str:
    return sh(fleet.db, "psql -U app -d app -tAc 'SELECT version_num FROM alembic_version'").strip()


def host_state(fleet) -> dict:
    """What the dry run must leave as it was: links, env files, units, nginx, the database, what is served."""
    return {
        'hosts': {h.name: (sh(h, 'readlink /srv/demoapp/current'), sh(h, 'cat /etc/demoapp/demoapp.env'),
                           sh(h, 'cat /etc/systemd/system/demoapp.service'),
                           sh(h, 'systemctl show -p MainPID --value demoapp')) for h in fleet.hosts},
        'nginx': sh(fleet.nginx, 'cat %s /etc/nginx/conf.d/site.conf' % UPSTREAM),
        'db': db_revision(fleet),
        'versions': fleet.versions(),
    }


def records(place) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(place['records'].glob('*.json'))]


def changed_tasks(run: PlaybookRun) -> list[str]:
    return ['%s on %s' % (e['task'], e['host']) for e in run.tasks if e['res'].get('changed')]


def messages(run: PlaybookRun, task: str) -> list[str]:
    return [e['res'].get('msg', '') for e in run.tasks if e['task'] == task]


def lock_free(place) -> bool:
    return not any(json.loads(path.read_text()).get('release_id') for path in place['locks'].glob('*.json'))


def test_dry_run_shows_the_plan_and_changes_nothing(run_playbook, fleet, place):
    before = host_state(fleet)
    run = upgrade(run_playbook, fleet, place, check=True)
    assert run.rc == 0, run.stdout[-8000:]
    assert host_state(fleet) == before
    assert not place['backups'].exists() or not any(place['backups'].glob('*.dump'))
    # The plan: the backup, the migrations with their classification, each host's change, the traffic steps.
    [backup] = messages(run, 'Show the backup of the plan')
    assert backup.startswith('backup pre-upgrade-2.0.0: would write '), backup
    [migration] = messages(run, 'Show the migration of the plan')
    assert 'database at 0001; pending: 0002 expand' in migration, migration
    plans = messages(run, 'Show the plan for this host')
    assert len(plans) == len(fleet.hosts) and all('release 1.0.0 -> 2.0.0; restart, drained in nginx' in p for p in plans), plans
    envs = [e['res'] for e in run.tasks if e['task'].startswith('Migrate the environment file')]
    assert [r['changes'] for r in envs] == [['renamed DATABASE_URI to DATABASE_URL']] * len(fleet.hosts), envs
    [record] = records(place)
    assert (record['check_mode'], record['status'], record['version_from']) == (True, 'succeeded', '1.0.0')
    assert [p['name'] for p in record['phases'] if p['host'] == fleet.hosts[0].name][:1] == ['preflight']
    assert lock_free(place)
    for host in fleet.hosts:
        assert sh(host, 'ls %s 2>/dev/null | wc -l' % HOST_RECORDS).strip() == '0', 'a dry run wrote a host record'
    (place['records'] / (record['release_id'] + '.json')).unlink()


def test_a_failing_compatibility_gate_downgrades_and_deploys_nothing(run_playbook, fleet, place):
    versions, links = fleet.versions(), {h.name: sh(h, 'readlink /srv/demoapp/current') for h in fleet.hosts}
    # A check the old release cannot pass: the gate must stop the run after the expand migration.
    run = upgrade(run_playbook, fleet, place, upgrade_compat_gate_timeout=5,
                  upgrade_compat_gate_checks=[{'name': 'new release only', 'path': '/version',
                                               'body_regex': '"version":\\s*"2\\.0\\.0"'}])
    assert run.rc != 0
    [summary] = [e['res']['msg'] for e in run.tasks if e['task'] == 'Fail with what happened']
    assert 'failed in phase compat_gate on' in summary and 'downgraded to 0001' in summary, summary
    assert db_revision(fleet) == '0001'
    assert fleet.versions() == versions
    assert {h.name: sh(h, 'readlink /srv/demoapp/current') for h in fleet.hosts} == links
    assert not [e for e in run.tasks if e['event'] != 'runner_on_skipped'
                and (e['task'] == 'Deploy' or e['task'].startswith('Switch current to'))]
    [record] = records(place)
    assert (record['status'], record['check_mode']) == ('rolled_back', False), record
    results = {(p['name'], p['result']) for p in record['phases']}
    assert {('backup', 'changed'), ('migrate_expand', 'changed'), ('compat_gate', 'failed'), ('rollback', 'changed')} <= results
    assert record['rollback']['database'].startswith('downgraded to 0001')
    assert lock_free(place)
    (place['records'] / (record['release_id'] + '.json')).unlink()


def test_upgrade_to_2_0_0_under_load_drops_no_request(run_playbook, fleet, place):
    started = time.monotonic()
    with SteadyLoad(fleet.nginx_url + '/version', max_requests=30000, max_seconds=900, pause=0.02) as load:
        run = upgrade(run_playbook, fleet, place)
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.stdout[-8000:]
    print('upgrade.yml 1.0.0 -> 2.0.0: %.1f s, %d requests through nginx, %d failed, answers %s'
          % (elapsed, load.total, len(load.failures), dict(load.answers)))
    assert load.total > 100, 'the request stream did not run'
    assert load.failures == [], load.failures[:10]

    assert fleet.versions() == {h.name: '2.0.0' for h in fleet.hosts}
    assert fleet.nginx_versions() == {'2.0.0'}
    assert db_revision(fleet) == '0002'
    [record] = records(place)
    assert (record['status'], record['check_mode'], record['version_from'], record['version_to']) == (
        'succeeded', False, '1.0.0', '2.0.0')
    names = {(p['name'], p['host']) for p in record['phases']}
    for host in fleet.hosts:
        assert {('preflight', host.name), ('compat_gate', host.name), ('deploy', host.name), ('smoke', host.name)} <= names
        host_record = json.loads(sh(host, 'cat %s/%s.json' % (HOST_RECORDS, record['release_id'])))
        assert host_record['status'] == 'succeeded'
        # The host's copy: its phases as the controller recorded them, the migrations on the host that ran them.
        mine = [p for p in record['phases'] if p['host'] == host.name]
        assert host_record['phases'] == mine, (host_record['phases'], mine)
        assert [p['name'] for p in mine if not p['name'].startswith('migrate_')] == ['preflight', 'compat_gate', 'deploy', 'smoke']
        assert ({'migrate_expand', 'migrate_contract'} <= {p['name'] for p in mine}) == (host == fleet.hosts[0])
    assert {'backup', 'migrate_expand', 'migrate_contract'} <= {name for name, _host in names}
    [backup] = [p for p in record['phases'] if p['name'] == 'backup']
    path = pathlib.Path(backup['details']['path'])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == backup['details']['sha256'] == backup['modules'][0]['manifest']['sha256']
    assert backup['details']['alembic_revision'] == '0001'
    assert lock_free(place)
    report = check_report(run, place, record)
    assert report['backup']['path'] == str(path) and report['backup']['sha256'] == backup['details']['sha256']
    assert {h['name']: (h['version_before'], h['version_after']) for h in report['hosts'] if h['name'] != 'localhost'} == {
        h.name: ('1.0.0', '2.0.0') for h in fleet.hosts}
    # 2.0.0 has no contract revision: the expand phase applies 0002 and the contract phase is recorded skipped.
    assert report['revisions'] == {'before': ['0001'], 'after_migrate_expand': ['0002']}, report['revisions']
    assert ('migrate_contract', 'skipped') in {(p['name'], p['result']) for p in record['phases']}
    assert {(s['phase'], s['host']) for s in report['smoke'] if s['ok']} >= {('smoke', h.name) for h in fleet.hosts}


def test_a_second_run_changes_nothing(run_playbook, fleet, place):
    """Every host serves 2.0.0 as configured and the database is at head: the preflight finds nothing to change,
    and the run only proves it (smoke). No backup, no migration, no host restarted, drained or taken through the
    serial loop's tasks; the record says why."""
    pids = {h.name: sh(h, 'systemctl show -p MainPID --value demoapp').strip() for h in fleet.hosts}
    upstream = sh(fleet.nginx, 'cat %s' % UPSTREAM)
    backups = sorted(p.name for p in place['backups'].rglob('*'))
    started = time.monotonic()
    again = upgrade(run_playbook, fleet, place)
    print('idempotent re-run: %.1f s' % (time.monotonic() - started))
    assert again.rc == 0, again.stdout[-8000:]
    assert changed_tasks(again) == []
    assert fleet.versions() == {h.name: '2.0.0' for h in fleet.hosts} and db_revision(fleet) == '0002'
    assert {h.name: sh(h, 'systemctl show -p MainPID --value demoapp').strip() for h in fleet.hosts} == pids
    assert sh(fleet.nginx, 'cat %s' % UPSTREAM) == upstream
    assert sorted(p.name for p in place['backups'].rglob('*')) == backups
    ran = {e['task'] for e in again.tasks if e['event'] != 'runner_on_skipped'}
    for prefix in ('Take or reuse the database backup', 'Stage the release', 'Apply the phase', 'Migrate the environment file',
                   'Template the unit', 'Set the batch', 'Restart ', 'Health gate', 'Smoke-test the still-old fleet'):
        assert not [task for task in ran if task.startswith(prefix)], (prefix, sorted(ran))
    # The schema was read once, by the preflight, with 2.0.0's scripts.
    assert [e['task'] for e in again.tasks if e['task'].startswith('Plan the migration')
            and e['event'] != 'runner_on_skipped'] == ['Plan the migration to head']
    record = max(records(place), key=lambda r: r['started_at'])
    assert record['status'] == 'succeeded', record
    preflights = [p for p in record['phases'] if p['name'] == 'preflight']
    assert preflights and all(p['details']['converged'] for p in preflights), preflights
    assert all(p['details']['deploy_facts']['details']['up_to_date'] == '2.0.0' for p in preflights), preflights
    assert {p['name'] for p in record['phases']} == {'preflight', 'smoke'}, record['phases']
    # The state is still proved: every host smoke-tested.
    smokes = [p for p in record['phases'] if p['name'] == 'smoke']
    assert sorted(p['host'] for p in smokes) == sorted(h.name for h in fleet.hosts) and {p['result'] for p in smokes} == {'ok'}
    # Each host's copy, written at the start and the end of the run: its own phases.
    for host in fleet.hosts:
        copy = json.loads(sh(host, 'cat %s/%s.json' % (HOST_RECORDS, record['release_id'])))
        assert copy['status'] == 'succeeded' and [p['name'] for p in copy['phases']] == ['preflight', 'smoke'], copy
        assert copy['phases'] == [p for p in record['phases'] if p['host'] == host.name]
    assert lock_free(place)


def test_a_release_that_crashes_is_rolled_back_automatically(run_playbook, fleet, place):
    """3.0.0 (the release whose DEMOAPP_FAULT works) with DEMOAPP_FAULT=crash, from whatever the fleet runs (2.0.0
    after the upgrade above; 1.0.0 when run alone, then with an expand revision to undo): the first host fails its
    start and restores itself, the rollback role runs (hosts on the old release, the schema back where it was),
    the old release is smoke-tested, the record says rolled_back; no request fails."""
    for path in place['records'].glob('*.json'):
        path.unlink()
    old = fleet.versions()[fleet.hosts[0].name]
    new = '3.0.0'
    revision = db_revision(fleet)
    values = dict(preflight_target_version=new, deploy_systemd_env_set={'DEMOAPP_FAULT': 'crash'},
                  deploy_systemd_health_retries=10,
                  migrate_virtualenv='/srv/demoapp/releases/%s/venv' % new,
                  migrate_config=SITE_PACKAGES.replace('2.0.0', new) + '/demoapp/alembic.ini')
    with SteadyLoad(fleet.nginx_url + '/version', max_requests=30000, max_seconds=1200, pause=0.02) as load:
        run = upgrade(run_playbook, fleet, place, values=values)
    assert run.rc != 0
    print('%s crashing, rolled back to %s: %d requests through nginx, %d failed'
          % (new, old, load.total, len(load.failures)))
    assert load.failures == [], load.failures[:10]
    [summary] = [e['res']['msg'] for e in run.tasks if e['task'] == 'Fail with what happened']
    assert 'failed in phase deploy on %s' % fleet.hosts[0].name in summary, summary
    assert 'DEMOAPP_FAULT=crash' in summary and 'Status rolled_back; run lock released' in summary, summary
    assert fleet.versions() == {h.name: old for h in fleet.hosts} and fleet.nginx_versions() == {old}
    assert db_revision(fleet) == revision
    for host in fleet.hosts:
        assert 'DEMOAPP_FAULT' not in sh(host, 'cat /etc/demoapp/demoapp.env')
    [record] = records(place)
    assert (record['status'], record['version_from'], record['version_to']) == ('rolled_back', old, new)
    phases = {(p['name'], p['host']): p['result'] for p in record['phases']}
    assert phases[('deploy', fleet.hosts[0].name)] == 'failed'
    assert ('rollback', 'localhost') in phases
    assert all(phases[('rollback_smoke', h.name)] == 'ok' for h in fleet.hosts), phases
    assert record['rollback']['release'] == '%s -> %s' % (new, old), record['rollback']
    assert lock_free(place)
    report = check_report(run, place, record)
    assert report['failure']['phase'] == 'deploy' and report['failure']['host'] == fleet.hosts[0].name
    assert report['rollback'] == record['rollback']
    assert {h['name']: h['version_after'] for h in report['hosts'] if h['name'] != 'localhost'} == {h.name: old for h in fleet.hosts}
