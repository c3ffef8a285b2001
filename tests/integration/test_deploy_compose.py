"""The deploy_compose role and the compose_service module through real ansible-playbook on a copy of the example
stack (examples/compose: PostgreSQL, app1 and app2, nginx) under a unique project name, published on 127.0.0.1 only.
The stack's image repository is a tag of this module's own (so moving a tag disturbs no other test). Outcomes are read
from the engine, the project's files and through nginx under a steady stream of requests."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import typing as t
import uuid

import pytest
import requests

from .helpers.ansible import PlaybookRun, run_playbook
from .helpers.backends import SteadyLoad
from .helpers.compose import ComposeProject
from .helpers.postgres import free_port

EXAMPLE = pathlib.Path(__file__).parent.parent.parent / 'examples' / 'compose'
SERVICES = ['app1', 'app2']
UPSTREAM = '/etc/nginx/conf.d/demoapp-upstream.conf'


class Stack:
    def __init__(self, project: ComposeProject, repository: str, port: int, client) -> None:
        self.project, self.repository, self.client = project, repository, client
        self.dir = pathlib.Path(project.project_dir)
        self.url = 'http://127.0.0.1:%d' % port
        self.role_vars = {
            'deploy_compose_project_src': str(self.dir), 'deploy_compose_project_name': project.name,
            'deploy_compose_services': SERVICES, 'deploy_compose_pull': 'never',
            'deploy_compose_nginx_service': 'nginx', 'deploy_compose_nginx_include_path': UPSTREAM,
            'deploy_compose_nginx_upstream': 'demoapp', 'deploy_compose_port': 8000,
            'deploy_compose_health_timeout': 90,
        }

    def image_id(self, version: str) -> str:
        return self.client.images.get('%s:%s' % (self.repository, version)).id

    def running(self) -> dict[str, list[tuple[str, str]]]:
        """Per service, (container ID, image ID) of its running containers."""
        found = {}
        for service in SERVICES:
            containers = self.client.containers.list(filters={'label': [
                'com.docker.compose.project=%s' % self.project.name, 'com.docker.compose.service=%s' % service]})
            found[service] = sorted((c.id, c.attrs['Image']) for c in containers)
        return found

    def env(self) -> str:
        return (self.dir / '.env').read_text()

    def served_versions(self, count: int = 20) -> set[str]:
        return {requests.get(self.url + '/version', timeout=5).json()['version'] for _index in range(count)}

    def role(self, entry: str, check: bool = False, **extra) -> PlaybookRun:
        play = {'hosts': 'localhost', 'gather_facts': False, 'vars': dict(self.role_vars, **extra), 'tasks': [
            {'name': 'deploy_compose %s' % entry, 'ansible.builtin.include_role': {
                'name': 'artisan.upgrade.deploy_compose', 'tasks_from': entry}, 'ignore_errors': True},
            {'name': 'show facts', 'ansible.builtin.debug': {'var': 'deploy_facts'}},
            {'name': 'show result', 'ansible.builtin.debug': {'var': 'deploy_result'}},
        ]}
        return run_playbook([play], check=check, diff=check)


@contextlib.contextmanager
def example_stack(client, folder: pathlib.Path, repository: str, note: str) -> t.Iterator[Stack]:
    """A copy of examples/compose in ``folder`` whose images are tags ``repository``:1.0.0 to 3.0.0, up on 1.0.0 under a
    unique project name and a free port; taken down (volumes too) and checked for leftovers at the end."""
    for version in ('1.0.0', '2.0.0', '3.0.0'):
        client.images.get('demoapp:%s' % version).tag(repository, version)
    shutil.copytree(EXAMPLE, folder)
    compose = folder / 'compose.yaml'
    compose.write_text(compose.read_text().replace('demoapp:${DEMOAPP_VERSION', '%s:${DEMOAPP_VERSION' % repository))
    port = free_port()
    (folder / '.env').write_text('# %s\nDEMO_HTTP_PORT=%d\nDEMOAPP_VERSION=1.0.0\n' % (note, port))
    # No variable of the stack in the environment: the project's .env is what the role edits.
    environ = {k: v for k, v in os.environ.items() if k not in ('DEMOAPP_VERSION', 'DEMO_HTTP_PORT', 'DEMOAPP_FAULT')}
    project = ComposeProject(str(folder))
    project.env = environ
    try:
        project.up_healthy()
        yield Stack(project, repository, port, client)
    finally:
        project.down()
        leftovers = project.leftovers(client)
        for version in ('1.0.0', '2.0.0', '3.0.0'):
            client.images.remove('%s:%s' % (repository, version), noprune=True)
        assert leftovers == []


@pytest.fixture(scope='module')
def stack(docker_session, tmp_path_factory):
    folder = tmp_path_factory.mktemp('compose') / 'stack'
    with example_stack(docker_session.client, folder, 'artisan-compose-%s' % uuid.uuid4().hex[:8],
                       'the stack of test_deploy_compose') as made:
        yield made


def changed_tasks(run: PlaybookRun) -> list[str]:
    return [entry['task'] for entry in run.tasks if entry['res'].get('changed')]


def test_facts_give_the_running_version_and_exact_image_ids(stack):
    run = stack.role('facts', check=True)
    facts = run.result('show facts')['deploy_facts']
    assert run.rc == 0, run.stdout
    assert (facts['target'], facts['version'], facts['previous']) == ('compose', '1.0.0', None)
    assert facts['details']['image_ids'] == {s: stack.image_id('1.0.0') for s in SERVICES}
    assert facts['details']['images'] == {s: '%s:1.0.0' % stack.repository for s in SERVICES}
    assert facts['details']['project_name'] == stack.project.name
    containers = facts['details']['services']['app1']['containers']
    assert [(c['version'], c['health'], c['image_id']) for c in containers] == [('1.0.0', 'healthy', stack.image_id('1.0.0'))]
    assert changed_tasks(run) == []


def test_check_mode_shows_the_plan_and_changes_nothing(stack):
    env, running = stack.env(), stack.running()
    run = stack.role('main', check=True, deploy_compose_version='2.0.0')
    assert run.rc == 0, run.stdout
    deploy = run.result('Replace the containers one at a time with %s:2.0.0' % stack.repository)
    assert deploy['changed'] is True
    assert deploy['via'] == {s: 'variable DEMOAPP_VERSION in %s' % (stack.dir / '.env') for s in SERVICES}
    assert deploy['also_changed'] == ['migrate']
    assert any('app1: replace' in line for line in deploy['changes'])
    assert '+DEMOAPP_VERSION=2.0.0' in run.stdout
    assert (stack.env(), stack.running()) == (env, running)
    assert not (stack.dir / '.artisan-deploy.json').exists()


def module_task(stack, **args):
    base = {'project_src': str(stack.dir), 'project_name': stack.project.name, 'services': SERVICES, 'pull': 'never'}
    return {'name': args.pop('name'), 'artisan.upgrade.compose_service': dict(base, **args), 'ignore_errors': True}


def test_bad_input_fails_with_a_message_that_says_what_to_do(stack, tmp_path):
    broken = tmp_path / 'broken'
    broken.mkdir()
    (broken / 'compose.yaml').write_text('services:\n  app:\n    image: [not, an, image\n')
    running = stack.running()
    run = run_playbook([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        module_task(stack, name='unknown service', services=['app3']),
        module_task(stack, name='missing image', image='%s:9.9.9' % stack.repository),
        module_task(stack, name='other repository', image='otherapp:2.0.0'),
        module_task(stack, name='bystander', services=['app1'], image='%s:2.0.0' % stack.repository),
        module_task(stack, name='invalid file', project_src=str(broken), project_name='artisan-broken', services=['app']),
        module_task(stack, name='gone image', image_ids={'app1': 'sha256:' + 'f' * 64}),
    ]}])
    names = ('unknown service', 'missing image', 'other repository', 'bystander', 'invalid file', 'gone image')
    messages = {name: run.result(name)['msg'] for name in names}
    assert all(run.result(name).get('failed') for name in messages), messages
    assert messages['unknown service'].startswith('service(s) app3 not found in compose project %s (its services: app1, app2, '
                                                  'migrate, nginx, postgres)' % stack.project.name)
    assert messages['missing image'] == ('image %s:9.9.9 for service app1 is not on this host and pull is never; build or '
                                         'load it first, or set pull to missing' % stack.repository)
    assert 'can only give images of the form %s:<DEMOAPP_VERSION>' % stack.repository in messages['other repository']
    assert messages['bystander'].endswith('would also change the image of running service(s) app2 (they share the image '
                                          'line or its variable); list them in services too')
    assert messages['invalid file'].startswith('the compose project is invalid: ')
    assert 'not on this host any more' in messages['gone image']
    assert stack.running() == running and 'DEMOAPP_VERSION=1.0.0' in stack.env()


def test_rolling_upgrade_under_load_loses_no_request(stack):
    before = stack.running()
    with SteadyLoad(stack.url + '/version', max_requests=20000, max_seconds=240, pause=0.005) as load:
        run = stack.role('main', deploy_compose_version='2.0.0')
    assert run.rc == 0, run.stdout
    assert load.total > 100, 'too few requests to say anything: %d' % load.total
    assert load.failures == [], '%d of %d requests failed: %s' % (len(load.failures), load.total, load.failures[:5])
    assert stack.served_versions() == {'2.0.0'}
    after = stack.running()
    new_id = stack.image_id('2.0.0')
    assert {s: [image for _c, image in after[s]] for s in SERVICES} == {s: [new_id] for s in SERVICES}
    assert not {c for s in SERVICES for c, _i in before[s]} & {c for s in SERVICES for c, _i in after[s]}
    assert 'DEMOAPP_VERSION=2.0.0' in stack.env() and '# the stack of test_deploy_compose' in stack.env()
    result = run.result('show result')['deploy_result']
    assert (result['version_before'], result['version_after'], result['changed']) == ('1.0.0', '2.0.0', True)
    assert result['details']['image_ids'] == {s: new_id for s in SERVICES}
    assert result['details']['before']['image_ids'] == {s: stack.image_id('1.0.0') for s in SERVICES}
    assert [step['service'] for step in result['details']['nginx']] == SERVICES
    # Both answered during the rollout, through nginx: the old release until its turn, then the new one.
    assert set(load.answers) >= {'{"version": "2.0.0"}'}
    facts = stack.role('facts', check=True).result('show facts')['deploy_facts']
    assert (facts['version'], facts['previous']) == ('2.0.0', '1.0.0')


def test_second_run_changes_nothing(stack):
    running = stack.running()
    run = stack.role('main', deploy_compose_version='2.0.0')
    assert run.rc == 0, run.stdout
    assert changed_tasks(run) == []
    assert stack.running() == running
    assert run.result('show result')['deploy_result']['changed'] is False


def test_rollback_restores_the_exact_image_ids_even_when_the_tag_moved(stack):
    v1 = stack.image_id('1.0.0')
    details = {'images': {s: '%s:1.0.0' % stack.repository for s in SERVICES}, 'image_ids': {s: v1 for s in SERVICES}}
    # Someone re-tagged 1.0.0 since: the release record's IDs must win over the tag.
    stack.client.images.get('%s:3.0.0' % stack.repository).tag(stack.repository, '1.0.0')
    with SteadyLoad(stack.url + '/version', max_requests=20000, max_seconds=240, pause=0.005) as load:
        run = stack.role('rollback', deploy_compose_rollback_details=details)
    assert run.rc == 0, run.stdout
    assert load.failures == [], '%d of %d requests failed: %s' % (len(load.failures), load.total, load.failures[:5])
    assert stack.image_id('1.0.0') == v1
    assert {s: [image for _c, image in running] for s, running in stack.running().items()} == {s: [v1] for s in SERVICES}
    assert stack.served_versions() == {'1.0.0'}
    result = run.result('show result')['deploy_result']
    assert (result['version_before'], result['version_after'], result['changed']) == ('2.0.0', '1.0.0', True)
    again = stack.role('rollback', deploy_compose_rollback_details=details)
    assert again.rc == 0 and changed_tasks(again) == []


def test_a_crashing_release_is_refused_and_the_old_one_keeps_serving(stack):
    env = stack.env()
    (stack.dir / '.env').write_text(env + 'DEMOAPP_FAULT=crash\n')
    running = stack.running()
    try:
        with SteadyLoad(stack.url + '/version', max_requests=20000, max_seconds=240, pause=0.005) as load:
            run = stack.role('main', deploy_compose_version='3.0.0')
    finally:
        (stack.dir / '.env').write_text(env)
    failed = [entry for entry in run.tasks if entry['res'].get('failed')]
    assert failed and failed[-1]['task'] == 'Fail the host, saying what was restored', run.stdout
    msg = failed[-1]['res']['msg']
    assert re.search(r'the new container %s-app1-\d+ of service app1 \(image %s:3.0.0\) exited \(restarting, exit code 1\)'
                     % (stack.project.name, stack.repository), msg), msg
    assert 'DEMOAPP_FAULT=crash: exiting with status 1 at start, as asked' in msg
    assert 'the compose files were put back' in msg
    assert load.failures == [], '%d of %d requests failed: %s' % (len(load.failures), load.total, load.failures[:5])
    assert stack.running() == running
    assert stack.served_versions() == {'1.0.0'}
