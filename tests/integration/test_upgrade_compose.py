"""playbooks/upgrade.yml for the compose target through real ansible-playbook, with the values of
examples/inventories/compose, on a copy of the example stack (examples/compose: PostgreSQL, app1 and app2, nginx)
under a unique project name and image repository, published on a free port of 127.0.0.1. One stack for the module:
the upgrade 1.0.0 -> 2.0.0 under load, its re-run, then 3.0.0 crashing and rolled back automatically. Outcomes are
read from the engine, the database, nginx and the files, not from the playbook's answer."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pathlib
import shutil
import sys
import time
import uuid

import pytest
import requests
import yaml

from .helpers.ansible import PlaybookRun
from .helpers.backends import SteadyLoad
from .helpers.compose import ComposeProject
from .helpers.postgres import free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = str(ROOT / 'playbooks' / 'upgrade.yml')
EXAMPLE = ROOT / 'examples' / 'compose'
INVENTORY = ROOT / 'examples' / 'inventories' / 'compose'
SERVICES = ['app1', 'app2']
VERSIONS = ('1.0.0', '2.0.0', '3.0.0')
HOST = 'docker-host'


class Stack:
    def __init__(self, project: ComposeProject, repository: str, port: int, client, place: dict) -> None:
        self.project, self.repository, self.port, self.client, self.place = project, repository, port, client, place
        self.dir = pathlib.Path(project.project_dir)
        self.url = 'http://127.0.0.1:%d' % port
        self.migrate_container = '%s-migrate' % project.name

    def image_id(self, version: str) -> str:
        return self.client.images.get('%s:%s' % (self.repository, version)).id

    def running_images(self, project: str = '') -> dict[str, list[str]]:
        found = {}
        for service in SERVICES:
            containers = self.client.containers.list(filters={'label': [
                'com.docker.compose.project=%s' % (project or self.project.name), 'com.docker.compose.service=%s' % service]})
            found[service] = sorted(c.attrs['Image'] for c in containers)
        return found

    def served_versions(self, count: int = 20) -> set[str]:
        return {requests.get(self.url + '/version', timeout=5).json()['version'] for _index in range(count)}

    def db_revision(self) -> str:
        postgres = self.client.containers.get('%s-postgres-1' % self.project.name)
        code, out = postgres.exec_run(['psql', '-U', 'artisan', '-d', 'artisan', '-tAc', 'SELECT version_num FROM alembic_version'])
        assert code == 0, out
        return out.decode().strip()

    def migrate_containers(self) -> list[str]:
        # The name filter is a regular expression: anchored, not the stack's one-shot migrate-1 service container.
        return [c.name for c in self.client.containers.list(all=True, filters={'name': '^%s$' % self.migrate_container})]

    def inventory(self, **overrides) -> dict:
        """The example inventory's values, with what differs here: the stack's folder, name and port, the folders
        of this module, the password in clear (no vault)."""
        values = yaml.safe_load((INVENTORY / 'group_vars' / 'all.yml').read_text())
        values.update(
            app_compose_dir=str(self.dir), app_compose_project=self.project.name, app_http_port=self.port,
            app_db_password='artisan-demo-pw',
            # Generous: a loaded machine (load average 50-100 seen) makes the image's 2 s healthcheck time out for minutes.
            deploy_compose_health_timeout=400,
            preflight_environment='test', backup_dest=str(self.place['backups']),
            preflight_records_dir=str(self.place['records']), preflight_lock_dir=str(self.place['locks']),
            upgrade_host_records_dir=str(self.place['host_records']))
        values.update(overrides)
        return {'all': {'vars': values, 'children': {'app': {'hosts': {HOST: {
            'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}}}

    def upgrade(self, run_playbook, **overrides) -> PlaybookRun:
        return run_playbook(PLAYBOOK, inventory=self.inventory(**overrides), extravars={'upgrade_target': 'compose'})

    def records(self) -> list[dict]:
        return [json.loads(path.read_text()) for path in sorted(self.place['records'].glob('*.json'))]


@pytest.fixture(scope='module')
def stack(docker_session, tmp_path_factory):
    started = time.monotonic()
    client = docker_session.client
    repository = 'artisan-upcompose-%s' % uuid.uuid4().hex[:8]
    for version in VERSIONS:
        client.images.get('demoapp:%s' % version).tag(repository, version)
    root = tmp_path_factory.mktemp('upgrade-compose')
    place = {name: root / name for name in ('records', 'locks', 'backups', 'host_records')}
    folder = root / 'stack'
    shutil.copytree(EXAMPLE, folder)
    compose = folder / 'compose.yaml'
    compose.write_text(compose.read_text().replace('demoapp:${DEMOAPP_VERSION', '%s:${DEMOAPP_VERSION' % repository))
    port = free_port()
    (folder / '.env').write_text('# the stack of test_upgrade_compose\nDEMO_HTTP_PORT=%d\nDEMOAPP_VERSION=1.0.0\n' % port)
    environ = {k: v for k, v in os.environ.items() if k not in ('DEMOAPP_VERSION', 'DEMO_HTTP_PORT', 'DEMOAPP_FAULT')}
    project = ComposeProject(str(folder))
    project.env = environ
    # The second project of the blue_green and canary strategies.
    green = ComposeProject(str(folder))
    green.name, green.env = project.name + '-green', environ
    made = Stack(project, repository, port, client, place)
    try:
        project.up_healthy()
        yield made
    finally:
        green.run('rm', '--stop', '--force', check=False)
        project.down()
        leftovers = project.leftovers(client) + green.leftovers(client) + made.migrate_containers()
        for version in VERSIONS:
            client.images.remove('%s:%s' % (repository, version), noprune=True)
        print('test_upgrade_compose stack: %.1f s from creation to removal' % (time.monotonic() - started))
        assert leftovers == []


def changed_tasks(run: PlaybookRun) -> list[str]:
    return ['%s on %s' % (e['task'], e['host']) for e in run.tasks if e['res'].get('changed')]


def lock_free(stack) -> bool:
    return not any(json.loads(path.read_text()).get('release_id') for path in stack.place['locks'].glob('*.json'))


def test_upgrade_to_2_0_0_under_load_drops_no_request(stack, run_playbook):
    assert stack.db_revision() == '0001'
    started = time.monotonic()
    with SteadyLoad(stack.url + '/version', max_requests=30000, max_seconds=600, pause=0.01) as load:
        run = stack.upgrade(run_playbook)
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.stdout[-8000:]
    print('upgrade.yml 1.0.0 -> 2.0.0 on compose: %.1f s, %d requests through nginx, %d failed, answers %s'
          % (elapsed, load.total, len(load.failures), dict(load.answers)))
    assert load.total > 100, 'the request stream did not run'
    assert load.failures == [], load.failures[:10]

    new_id = stack.image_id('2.0.0')
    assert stack.running_images() == {s: [new_id] for s in SERVICES}
    assert stack.served_versions() == {'2.0.0'}
    assert stack.db_revision() == '0002'
    assert stack.migrate_containers() == []
    # The expand migration ran in the migration container of the new image.
    [expand] = [e['res'] for e in run.tasks if e['task'].startswith("Apply the phase's revisions up to")
                and e['event'] == 'runner_on_ok']
    assert expand['to_revisions'] == ['0002'], expand
    assert ' exec ' in expand['commands'][0] and stack.migrate_container in expand['commands'][0], expand['commands']
    [started_container] = [e['res'] for e in run.tasks if e['task'].startswith('Start the migration container of')
                           and e['event'] == 'runner_on_ok']
    assert (started_container['action'], started_container['image_id']) == ('create', new_id)

    [record] = stack.records()
    assert (record['status'], record['check_mode'], record['version_from'], record['version_to']) == (
        'succeeded', False, '1.0.0', '2.0.0')
    names = {p['name'] for p in record['phases']}
    assert {'preflight', 'backup', 'migrate_expand', 'compat_gate', 'deploy', 'smoke', 'migrate_contract'} <= names
    [deploy] = [p for p in record['phases'] if p['name'] == 'deploy']
    assert deploy['details']['details']['image_ids'] == {s: new_id for s in SERVICES}
    assert deploy['details']['details']['before']['image_ids'] == {s: stack.image_id('1.0.0') for s in SERVICES}
    [backup] = [p for p in record['phases'] if p['name'] == 'backup']
    path = pathlib.Path(backup['details']['path'])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == backup['details']['sha256']
    assert backup['details']['alembic_revision'] == '0001'
    assert '%s-postgres-1' % stack.project.name in ' '.join(backup['modules'][0]['commands']), backup['modules'][0]
    assert lock_free(stack)


def test_a_second_run_changes_nothing(stack, run_playbook):
    started = time.monotonic()
    again = stack.upgrade(run_playbook)
    print('idempotent re-run: %.1f s' % (time.monotonic() - started))
    assert again.rc == 0, again.stdout[-8000:]
    assert changed_tasks(again) == []
    assert stack.running_images() == {s: [stack.image_id('2.0.0')] for s in SERVICES}
    assert stack.db_revision() == '0002' and stack.migrate_containers() == []
    assert lock_free(stack)


def _when(entry: dict) -> float:
    return datetime.datetime.fromisoformat(entry['end']).timestamp()


def rolled_back(stack, old_id: str, project: str = '') -> tuple[dict, dict]:
    """After a 3.0.0 rolled back: 2.0.0's exact image runs (in ``project``) and serves on revision 0002, no migration
    container is left, and the one record says rolled_back with a passing smoke of 2.0.0; the record and its phases."""
    assert stack.running_images(project) == {s: [old_id] for s in SERVICES}
    assert stack.served_versions() == {'2.0.0'}
    assert stack.db_revision() == '0002'
    assert stack.migrate_containers() == []
    [record] = stack.records()
    assert (record['status'], record['version_from'], record['version_to']) == ('rolled_back', '2.0.0', '3.0.0')
    phases = {(p['name'], p['host']): p for p in record['phases']}
    assert phases[('rollback_smoke', HOST)]['result'] == 'ok'
    return record, phases


def test_a_release_that_crashes_is_rolled_back_to_the_exact_images(stack, run_playbook):
    for path in stack.place['records'].glob('*.json'):
        path.unlink()
    old_id = stack.image_id('2.0.0')
    env = (stack.dir / '.env').read_text()
    (stack.dir / '.env').write_text(env + 'DEMOAPP_FAULT=crash\n')
    # The record must bring back the image IDs, not the tag: move 2.0.0's tag onto 1.0.0's image meanwhile.
    stack.client.images.get('%s:1.0.0' % stack.repository).tag(stack.repository, '2.0.0')
    try:
        with SteadyLoad(stack.url + '/version', max_requests=30000, max_seconds=900, pause=0.01) as load:
            run = stack.upgrade(run_playbook, app_version='3.0.0')
    finally:
        stack.client.images.get(old_id).tag(stack.repository, '2.0.0')
        (stack.dir / '.env').write_text(env.replace('DEMOAPP_VERSION=3.0.0', 'DEMOAPP_VERSION=2.0.0'))
    assert run.rc != 0
    [summary] = [e['res']['msg'] for e in run.tasks if e['task'] == 'Fail with what happened']
    assert 'failed in phase deploy on %s' % HOST in summary and 'DEMOAPP_FAULT=crash' in summary, summary
    assert 'Status rolled_back; run lock released' in summary, summary
    # Failure (the deploy task that failed) to the old release smoke-tested through nginx.
    [failed] = [e for e in run.tasks if e['event'] == 'runner_on_failed' and e['task'].startswith('Replace the containers')]
    smoked = [e for e in run.tasks if e['task'] == 'Record the smoke test of the rolled-back release'
              and e['event'] == 'runner_on_ok'][0]
    print('3.0.0 crashing, rolled back to 2.0.0: %d requests through nginx, %d failed; failure -> 2.0.0 serving and '
          'smoke-tested again: %.1f s' % (load.total, len(load.failures), _when(smoked) - _when(failed)))
    assert load.failures == [], load.failures[:10]

    record, phases = rolled_back(stack, old_id)
    assert phases[('deploy', HOST)]['result'] == 'failed'
    assert record['rollback']['release'] == '3.0.0 -> 2.0.0', record['rollback']
    assert lock_free(stack)


def during(run: PlaybookRun, load: SteadyLoad, started: float) -> list[str]:
    """The tasks that ran when requests failed, with how many failed during each."""
    found: dict[str, int] = {}
    for offset in load.failure_times:
        when = started + offset
        names = [e['task'] for e in run.tasks if e.get('start') and _when(e) >= when
                 and datetime.datetime.fromisoformat(e['start']).timestamp() <= when] or ['between tasks']
        for name in names:
            found[name] = found.get(name, 0) + 1
    return ['%s: %d' % item for item in found.items()]


def test_blue_green_whose_smoke_fails_is_switched_back_to_the_kept_project(stack, run_playbook):
    """3.0.0 answers every API request with 500 (errors:1; /version and the probes are spared): the new project
    passes its own health and smoke checks and gets the requests, upgrade.yml's smoke through nginx fails, and the
    rollback switches nginx back to the project kept stopped, started again on the exact image IDs of the record.

    The smoke runs the runbook suite only: the inventory's readiness check answers 503 from 3.0.0 until its contract
    revision 0003 is applied, which upgrade.yml does after the smoke."""
    for path in stack.place['records'].glob('*.json'):
        path.unlink()
    base, green = stack.project.name, stack.project.name + '-green'
    old_id = stack.image_id('2.0.0')
    env = (stack.dir / '.env').read_text()
    (stack.dir / '.env').write_text(env + 'DEMOAPP_FAULT=errors:1\n')
    # The rollback must start the kept project on the recorded image IDs, not on the tag: moved meanwhile.
    stack.client.images.get('%s:1.0.0' % stack.repository).tag(stack.repository, '2.0.0')
    try:
        load_started = time.time()
        with TimedLoad(stack.url + '/version', max_requests=30000, max_seconds=900, pause=0.01) as load:
            run = stack.upgrade(run_playbook, app_version='3.0.0', deploy_compose_strategy='blue_green',
                                deploy_compose_grace_period=2, smoke_checks=[])
    finally:
        stack.client.images.get(old_id).tag(stack.repository, '2.0.0')
        (stack.dir / '.env').write_text(env)
    assert run.rc != 0
    [summary] = [e['res']['msg'] for e in run.tasks if e['task'] == 'Fail with what happened']
    assert 'failed in phase smoke' in summary and 'Status rolled_back; run lock released' in summary, summary
    [failed] = [e for e in run.tasks if e['event'] == 'runner_on_failed' and e['task'].startswith('Run the smoke checks')]
    [smoked] = [e for e in run.tasks if e['task'] == 'Record the smoke test of the rolled-back release'
                and e['event'] == 'runner_on_ok']
    print('blue_green to 3.0.0 failing its smoke, switched back to 2.0.0: %d requests through nginx, %d failed, answers '
          '%s; failed smoke -> 2.0.0 serving and smoke-tested again: %.1f s'
          % (load.total, len(load.failures), dict(load.answers), _when(smoked) - _when(failed)))
    slowest = sorted((e for e in run.tasks if e.get('duration') and _when(failed) <= _when(e) <= _when(smoked)),
                     key=lambda e: -e['duration'])[:8]
    print('slowest steps of the rollback: %s' % '; '.join('%s %.1f s' % (e['task'], e['duration']) for e in slowest))
    # The measure (target 30 s, printed, not asserted): from the failed smoke to nginx serving 2.0.0 again.
    served_again = min(at for at, text in load.answered if '"2.0.0"' in text and at > _when(failed))
    print('failed smoke -> 2.0.0 serving again through nginx: %.1f s' % (served_again - _when(failed)))
    assert '{"version": "3.0.0"}' in load.answers, 'the new project never served'
    assert load.failures == [], (load.failures[:10], during(run, load, load_started))

    # The project kept serves again on 2.0.0's exact image; the one rolled back from runs nothing.
    assert stack.running_images(green) == {s: [] for s in SERVICES}
    record, phases = rolled_back(stack, old_id, base)
    assert phases[('deploy', HOST)]['details']['details']['project_name'] == green
    assert phases[('smoke', HOST)]['result'] == 'failed'
    [rollback] = [p for p in record['phases'] if p['name'] == 'rollback']
    [hosts] = [s for s in rollback['details']['steps'] if s['step'] == 'hosts']
    assert hosts['hosts'][HOST]['details']['project_name'] == base, hosts
    assert lock_free(stack)


class TimedLoad(SteadyLoad):
    """SteadyLoad that also keeps the wall-clock time of every request, failure and answer: to count the requests sent
    while the canary had a share of the traffic, and to tell when nginx served the previous version again."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[float] = []
        self.failed_at: list[float] = []
        self.answered: list[tuple[float, str]] = []  # (sent at, body) of every 200

    def _get(self, session):
        sent = time.time()
        self.sent.append(sent)
        response = super()._get(session)
        if response.status_code == 200:
            self.answered.append((sent, response.text))
        return response

    def _failed(self, what: str, started: float) -> None:
        self.failed_at.append(time.time())
        super()._failed(what, started)


def app_containers(stack, project: str, running_only: bool = True) -> list:
    return [c for service in SERVICES for c in stack.client.containers.list(all=not running_only, filters={'label': [
        'com.docker.compose.project=%s' % project, 'com.docker.compose.service=%s' % service]})]


def nginx_upstream_state(stack) -> dict:
    nginx = stack.client.containers.get(stack.project.container_id('nginx'))
    text = nginx.exec_run(['cat', '/etc/nginx/conf.d/demoapp-upstream.conf']).output.decode()
    [state] = [line.split(': ', 1)[1] for line in text.splitlines() if line.startswith('# artisan.upgrade.canary_shift state: ')]
    return dict(json.loads(state), text=text)


def test_a_canary_that_fails_its_analysis_is_aborted_and_the_run_rolled_back(stack, run_playbook):
    """3.0.0 answers every API request with 500 (errors:1; the probes are spared): it passes its health gate and its
    smoke test, gets 10 % of the requests, fails the analysis of that step; the role puts every request back on the
    live project and removes the canary's containers, and upgrade.yml's rollback finds nothing to switch back and
    leaves the schema where it was. Relative to what runs before, so it holds after any of the tests above."""
    for path in stack.place['records'].glob('*.json'):
        path.unlink()
    base, green = stack.project.name, stack.project.name + '-green'
    live = base if app_containers(stack, base) else green
    canary = green if live == base else base
    old_version = stack.served_versions(4).pop()
    old_images = stack.running_images(live)
    revision = stack.db_revision()
    env = (stack.dir / '.env').read_text()
    (stack.dir / '.env').write_text(env + 'DEMOAPP_FAULT=errors:1\n')
    try:
        with TimedLoad(stack.url + '/api', max_requests=30000, max_seconds=900, pause=0.01) as load:
            run = stack.upgrade(run_playbook, app_version='3.0.0', deploy_compose_strategy='canary',
                                deploy_compose_canary_steps=[10, 100], deploy_compose_smoke_timeout=6,
                                deploy_compose_canary_checks=[{'name': 'api root', 'path': '/api'}])
    finally:
        (stack.dir / '.env').write_text(env)
    assert run.rc != 0
    [summary] = [e['res']['msg'] for e in run.tasks if e['task'] == 'Fail with what happened']
    assert 'failed in phase deploy on %s' % HOST in summary, summary
    assert 'Status rolled_back; run lock released' in summary, summary

    # The requests the canary got while it had 10 %: the injected 500s, within that window, at most its share.
    [shifted] = [e for e in run.tasks if e['task'] == 'Give the new project this percent of the requests 10'
                 and e['event'] == 'runner_on_ok']
    [aborted] = [e for e in run.tasks if e['task'].startswith('Put every request back on project')
                 and e['event'] == 'runner_on_ok']
    opened, closed = datetime.datetime.fromisoformat(shifted['start']).timestamp(), _when(aborted)
    in_window = [t for t in load.sent if opened <= t <= closed]
    print('canary of 3.0.0 (errors:1) aborted at 10 %%: %d requests through nginx, %d failed (%s), %d sent while the '
          'canary had its share (%.1f s)' % (load.total, len(load.failures), sorted(set(load.failures)), len(in_window),
                                             closed - opened))
    assert set(load.failures) <= {'HTTP 500'}, load.failures[:10]
    assert all(opened <= t <= closed + 1 for t in load.failed_at), (opened, closed, load.failed_at[:10])
    assert len(load.failures) <= 0.1 * len(in_window) + 2, (len(load.failures), len(in_window))

    # nginx: every request on the live project's containers, the canary's servers down.
    state = nginx_upstream_state(stack)
    assert state['weight'] == 0, state['text']
    live_addresses = {'%s:8000' % list(c.attrs['NetworkSettings']['Networks'].values())[0]['IPAddress']
                      for c in app_containers(stack, live)}
    assert set(state['stable']) == live_addresses, state['text']
    assert all(line.rstrip().endswith('down;') for line in state['text'].splitlines()
               if line.strip().split(' ')[0] == 'server' and line.split()[1] in state['canary']), state['text']
    # The canary project is gone, the live one runs the same images, serves the old version on the same revision.
    assert app_containers(stack, canary, running_only=False) == []
    assert not (stack.dir / ('.artisan-%s.compose.yaml' % canary)).exists()
    assert stack.running_images(live) == old_images
    assert stack.served_versions() == {old_version}
    assert {requests.get(stack.url + '/api', timeout=5).json()['version'] for _index in range(20)} == {old_version}
    assert stack.db_revision() == revision
    assert stack.migrate_containers() == []

    [record] = stack.records()
    assert (record['status'], record['version_to']) == ('rolled_back', '3.0.0'), record
    [deploy] = [p for p in record['phases'] if p['name'] == 'deploy']
    assert deploy['result'] == 'failed', deploy
    said = deploy['modules'][0]['msg']
    assert 'Canary analysis at 10 %' in said and 'The canary was aborted to 0' in said, said
    assert lock_free(stack)
