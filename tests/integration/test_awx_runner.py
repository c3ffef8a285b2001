"""The AWX job templates of awx/assets.yml run the way AWX runs them: ansible-runner, a private data dir per job
with the survey's answers and the job template's extra vars (env/extravars), the environment the credential
types' injectors make (env/envvars), the inventory, and the project's playbooks (awx/project). The target is the
integration tests' systemd fleet (two hosts behind nginx, PostgreSQL), in the order an operator would go: backup,
smoke, the upgrade as two job slices at once (disjoint --limits, one run id), then the rollback. Each job's events
are read (status, changed counts per host), and every event and artifact is searched for the database password
the PostgreSQL credential injects."""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil

import ansible_runner
import jinja2.sandbox
import pytest
import yaml

from .helpers.docker import sh
from .helpers.systemd_fleet import systemd_fleet
from .test_upgrade_systemd import db_revision, inventory

REPO = pathlib.Path(__file__).resolve().parents[2]
ASSETS = yaml.safe_load((REPO / 'awx' / 'assets.yml').read_text(encoding='utf-8'))
TEMPLATES = {template['name'].split(' ', 1)[1]: template for template in ASSETS['job_templates']}
POSTGRES_TYPE = next(kind for kind in ASSETS['credential_types'] if kind['name'] == 'artisan.upgrade PostgreSQL')
# A login of the upgrade's own (not the application's): its sessions act as the application's role, so what the
# migrations create stays the application's. Its password exists only in the credential.
OPS_USER = 'artisan_ops'
OPS_PASSWORD = 'ops-' + secrets.token_hex(12)


@pytest.fixture(scope='module')
def fleet(docker_session, demoapp_wheelhouse, demoapp_releases):
    with systemd_fleet(docker_session, demoapp_wheelhouse, demoapp_releases, hosts_count=2) as made:
        sh(made.db, "psql -U app -d app -c \"CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE app\" "
                    "-c 'ALTER ROLE %s SET role TO app'" % (OPS_USER, OPS_PASSWORD, OPS_USER))
        yield made


@pytest.fixture(scope='module')
def place(tmp_path_factory):
    root = tmp_path_factory.mktemp('awx')
    return {name: root / name for name in ('records', 'locks', 'backups', 'jobs')}


def credential_environment(fleet) -> dict[str, str]:
    """What AWX injects for a PostgreSQL credential of this type: its env injector rendered with the inputs."""
    inputs = {'host': '127.0.0.1', 'port': str(fleet.db_port), 'username': OPS_USER, 'password': OPS_PASSWORD,
              'database': 'app', 'sslmode': 'disable'}
    sandbox = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    return {name: sandbox.from_string(value).render(**inputs) for name, value in POSTGRES_TYPE['injectors']['env'].items()}


def awx_inventory(fleet, place) -> dict:
    """The fleet's inventory as an AWX inventory keeps it: no secret in it, the logins read from the credential's
    environment on the controller (the execution environment)."""
    env = "{{ lookup('ansible.builtin.env', '%s') }}"
    return inventory(
        fleet, place, preflight_check_database=True,
        backup_login_host=env % 'PGHOST', backup_login_port=env % 'PGPORT', backup_db=env % 'PGDATABASE',
        backup_login_user=env % 'PGUSER', backup_login_password=env % 'PGPASSWORD',
        migrate_login_user=env % 'PGUSER', migrate_login_password=env % 'PGPASSWORD', migrate_db=env % 'PGDATABASE',
        upgrade_records_dir=str(place['records']))


def survey_answers(template: dict, **answers) -> dict:
    """The survey's defaults with the operator's answers, then the job template's own extra vars (as AWX merges)."""
    values = {q['variable']: q['default'] for q in template['related']['survey_spec']['spec'] if 'default' in q}
    values.update(answers)
    values.update(yaml.safe_load(template.get('extra_vars') or '{}'))
    return values


def start_job(fleet, place, name: str, template: str, limit: str | None = None, **answers) -> tuple:
    """One job: its private data dir as AWX's dispatcher writes it, started with ansible-runner (not waited for)."""
    private = place['jobs'] / name
    shutil.copytree(REPO / 'awx' / 'project', private / 'project')
    (private / 'inventory').mkdir(parents=True)
    (private / 'inventory' / 'hosts.yml').write_text(yaml.safe_dump(awx_inventory(fleet, place)), encoding='utf-8')
    (private / 'env').mkdir()
    (private / 'env' / 'extravars').write_text(yaml.safe_dump(survey_answers(TEMPLATES[template], **answers)),
                                               encoding='utf-8')
    envvars = dict(credential_environment(fleet), ANSIBLE_COLLECTIONS_PATH=os.environ.get('ANSIBLE_COLLECTIONS_PATH', ''),
                   ANSIBLE_NOCOLOR='1', ANSIBLE_PIPELINING='1')
    (private / 'env' / 'envvars').write_text(yaml.safe_dump(envvars), encoding='utf-8')
    return ansible_runner.run_async(
        private_data_dir=str(private), playbook=TEMPLATES[template]['playbook'], ident=name, limit=limit,
        forks=TEMPLATES[template].get('forks', 5), quiet=True,
        # As AWX does: no copy of the environment (the credential's secrets) among the job's artifacts.
        suppress_env_files=True)


def finish(job: tuple) -> ansible_runner.Runner:
    thread, runner = job
    # A bound, not a measure: on a busy 2-core machine two slices at once have taken more than 15 minutes.
    thread.join(timeout=1800)
    assert not thread.is_alive(), 'the job did not end within 30 minutes'
    return runner


def run_job(fleet, place, name: str, template: str, limit: str | None = None, **answers) -> ansible_runner.Runner:
    runner = finish(start_job(fleet, place, name, template, limit, **answers))
    assert runner.status == 'successful', runner.stdout.read()[-8000:]
    return runner


def stats(runner: ansible_runner.Runner) -> dict:
    [event] = [e for e in runner.events if e['event'] == 'playbook_on_stats']
    return event['event_data']


def task_results(runner: ansible_runner.Runner, prefix: str) -> list[dict]:
    return [e['event_data'] for e in runner.events
            if e['event'] == 'runner_on_ok' and (e['event_data'].get('task') or '').startswith(prefix)]


def assert_no_secret_in_artifacts(place) -> None:
    """Every file the jobs left (events, stdout, the artifacts), the release records and the locks."""
    secret = OPS_PASSWORD.encode()
    searched = 0
    for folder in (place['jobs'], place['records'], place['locks']):
        for path in folder.rglob('*'):
            if not path.is_file() or path.parent.name == 'env':  # env/ holds the job's inputs, as AWX's own
                continue
            if path.name == 'command' and path.parent.parent.name == 'artifacts':
                # ansible-runner's record of how it started ansible-playbook, environment included, whatever
                # suppress_env_files says; private to its user, and in AWX gone with the job's container.
                assert path.stat().st_mode & 0o077 == 0, path
                continue
            searched += 1
            assert secret not in path.read_bytes(), 'the database password is in %s' % path
    assert searched > 10


def test_backup_job(fleet, place):
    runner = run_job(fleet, place, 'backup', 'backup', backup_release='1.0.0')
    written = task_results(runner, 'Take or reuse the database backup pre-upgrade-1.0.0')
    assert [result['res']['changed'] for result in written] == [True]
    assert len(list(place['backups'].glob('*.manifest.json'))) == 1
    assert_no_secret_in_artifacts(place)


def test_smoke_job(fleet, place):
    runner = run_job(fleet, place, 'smoke', 'smoke', limit='app', smoke_expect_version='1.0.0')
    summary = stats(runner)
    assert summary['changed'] == {} and not summary['failures']
    assert set(summary['ok']) >= {host.name for host in fleet.hosts}
    assert_no_secret_in_artifacts(place)


def test_two_slices_of_one_run_back_up_and_migrate_once_and_shift_traffic_in_turn(fleet, place):
    first, second = (host.name for host in fleet.hosts)
    # AWX gives each slice of a sliced job its own job id and the slices' workflow id, and a limit of its own hosts
    # only (no localhost): the run must still close its record and leave its locks on the controller.
    jobs = {first: start_job(fleet, place, 'slice-1', 'upgrade (sliced)', limit=first, preflight_target_version='2.0.0',
                             awx_workflow_job_id=42, awx_job_id=4201),
            second: start_job(fleet, place, 'slice-2', 'upgrade (sliced)', limit=second, preflight_target_version='2.0.0',
                              awx_workflow_job_id=42, awx_job_id=4202)}
    runners = {host: finish(job) for host, job in jobs.items()}
    for runner in runners.values():
        assert runner.status == 'successful', runner.stdout.read()[-8000:]

    # Each slice changed its own host only.
    for host, runner in runners.items():
        assert set(stats(runner)['changed']) == {host}
    assert fleet.versions() == {first: '2.0.0', second: '2.0.0'}
    assert fleet.nginx_versions() == {'2.0.0'}
    # One backup, one migration: the other slice reused the one and found the other applied.
    backups = [r['res']['changed'] for runner in runners.values()
               for r in task_results(runner, 'Take or reuse the database backup pre-upgrade-2.0.0')]
    assert sorted(backups) == [False, True]
    assert len(list(place['backups'].glob('*.manifest.json'))) == 2  # the backup job's and this run's
    migrations = [r for runner in runners.values() for r in task_results(runner, 'Apply the phase')]
    assert [r['res']['changed'] for r in migrations] == [True]
    assert db_revision(fleet) == '0002'
    # No interleaved traffic changes: all nginx writes of one slice, then all of the other.
    writes = sorted((r['start'], host) for host, runner in runners.items()
                    for r in task_results(runner, "Set the batch's nginx share"))
    assert len(writes) >= 4
    order = [host for _start, host in writes]
    assert sum(1 for a, b in zip(order, order[1:]) if a != b) == 1, order
    # One run, one record, closed by the last slice; no lock left.
    [record] = [json.loads(path.read_text()) for path in place['records'].glob('demoapp-run-42.json')]
    endings = {host: [(e['event'], e['event_data'].get('task'), e['event_data'].get('res', {}).get('msg'))
                      for e in runner.events if (e['event_data'].get('task') or '').startswith(('Leave', 'Close the record'))]
               for host, runner in runners.items()}
    assert (record['status'], record['version_from'], record['version_to']) == ('succeeded', '1.0.0', '2.0.0'), endings
    phases = [(p['name'], p['host']) for p in record['phases']]
    assert phases.count(('backup', 'localhost')) == 1 and [n for n, _h in phases].count('migrate_expand') == 1
    assert {(name, host) for host in (first, second) for name in ('deploy', 'smoke')} <= set(phases)
    assert not list(place['locks'].glob('*.json'))
    # What the workflow's next node gets (set_stats, AWX's artifacts): the run's record, the version to expect.
    for runner in runners.values():
        assert stats(runner)['artifact_data'] == {'rollback_record': 'demoapp-run-42', 'smoke_expect_version': '2.0.0'}
    place['artifacts'] = stats(runners[first])['artifact_data']
    assert_no_secret_in_artifacts(place)


def test_rollback_job(fleet, place):
    # As the workflow's rollback node: the record the upgrade job handed on (not the newest record by chance).
    handed = {'rollback_record': place['artifacts']['rollback_record']} if 'artifacts' in place else {}
    runner = run_job(fleet, place, 'rollback', 'rollback', upgrade_target='systemd', **handed)
    assert {host.name for host in fleet.hosts} <= set(stats(runner)['changed'])
    assert fleet.versions() == {host.name: '1.0.0' for host in fleet.hosts}
    assert db_revision(fleet) == '0001'
    assert_no_secret_in_artifacts(place)
