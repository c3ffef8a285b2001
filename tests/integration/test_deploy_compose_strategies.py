"""The deploy_compose role's blue_green and canary strategies through real ansible-playbook on one copy of the example
stack (examples/compose) under a unique project name, published on 127.0.0.1 only. The cases run in order on that
stack: blue-green 1.0.0 -> 2.0.0, again (no change), rollback to 1.0.0, canary to 2.0.0, canary to a failing 3.0.0.
Outcomes are read from the engine and through nginx under a steady stream of requests."""

from __future__ import annotations

import uuid

import pytest

from .helpers.backends import SteadyLoad
from .helpers.compose import ComposeProject
from .test_deploy_compose import SERVICES, UPSTREAM, changed_tasks, example_stack

GRACE = 2
# After each canary step the new project's API must answer three rounds in a row: errors:0.5 fails every second
# request (the probes before it gets requests pass: that fault spares them).
ANALYSIS = [{'name': 'liveness', 'path': '/health'}, {'name': 'api root', 'path': '/api'}]
SMOKE = {'deploy_compose_canary_checks': ANALYSIS, 'deploy_compose_smoke_consecutive_successes': 3,
         'deploy_compose_smoke_timeout': 15, 'deploy_compose_grace_period': GRACE,
         # A loaded host answers the image's 2 s healthcheck late for a while; the gate waits, it does not give up.
         'deploy_compose_health_timeout': 300}


@pytest.fixture(scope='module')
def stack(docker_session, tmp_path_factory):
    client = docker_session.client
    folder = tmp_path_factory.mktemp('compose') / 'stack'
    with example_stack(client, folder, 'artisan-strat-%s' % uuid.uuid4().hex[:8],
                       'the stack of test_deploy_compose_strategies') as made:
        green = ComposeProject(str(folder))
        green.name, green.env = made.project.name + '-green', made.project.env
        try:
            # 2.0.0 needs the expand revision, which 1.0.0 runs on: applied once, as the migrate role would.
            made.project.env = dict(green.env, DEMOAPP_VERSION='2.0.0')
            made.project.run('run', '--rm', '--no-deps', 'migrate', 'demoapp', 'migrate', 'upgrade', '0002')
            made.project.env = green.env
            yield made
        finally:
            green.run('rm', '--stop', '--force', check=False)
            assert green.leftovers(client) == []


def containers(stack, project: str, running_only: bool = True) -> dict[str, list[str]]:
    """Per service, the names of the project's containers (running ones, or all)."""
    found = {}
    for service in SERVICES:
        listed = stack.client.containers.list(all=not running_only, filters={'label': [
            'com.docker.compose.project=%s' % project, 'com.docker.compose.service=%s' % service]})
        found[service] = sorted(c.name for c in listed)
    return found


def upstream(stack) -> str:
    nginx = stack.client.containers.get(stack.project.container_id('nginx'))
    return nginx.exec_run(['cat', UPSTREAM]).output.decode()


def deploy_under_load(stack, entry: str = 'main', **extra):
    with SteadyLoad(stack.url + '/version', max_requests=20000, max_seconds=300, pause=0.005) as load:
        run = stack.role(entry, **dict(SMOKE, **extra))
    return run, load


def assert_no_failure(load):
    assert load.total > 100, 'too few requests to say anything: %d' % load.total
    assert load.failures == [], '%d of %d requests failed: %s' % (len(load.failures), load.total, load.failures[:5])


def test_canary_in_check_mode_says_what_it_would_do_and_changes_nothing(stack):
    base, green = stack.project.name, stack.project.name + '-green'
    override = stack.dir / ('.artisan-%s.compose.yaml' % green)

    def state():
        listed = stack.client.containers.list(all=True, filters={'label': 'com.docker.compose.project'})
        return (sorted((c.name, c.status, c.attrs['Image']) for c in listed if c.name.startswith(base)),
                upstream(stack), sorted(p.name for p in stack.dir.iterdir()), stack.env())

    before = state()
    options = dict(SMOKE, deploy_compose_strategy='canary', deploy_compose_version='2.0.0',
                   deploy_compose_canary_steps=[10, 50, 100])
    run = stack.role('main', check=True, **options)
    assert run.rc == 0, run.stdout
    assert state() == before
    assert not override.exists()
    plan = run.result('show result')['deploy_result']['details']['plan']
    assert plan == {'project_name': green, 'live_project': base, 'override': str(override), 'steps': [10, 50, 100],
                    'images': {s: '%s:2.0.0' % stack.repository for s in SERVICES}}, plan
    [written] = [e['res'] for e in run.tasks if e['task'].startswith('Write the override file of project')]
    diff = written['diff'] if isinstance(written['diff'], dict) else written['diff'][0]
    assert written['changed'] and '"%s:2.0.0"' % stack.repository in diff['after'], written
    said = run.result('Say what would change')['msg']
    assert 'as compose project %s, give it 10, then 50, then 100 percent' % green in said, said


def test_blue_green_switches_to_a_second_project_and_loses_no_request(stack):
    base, green = stack.project.name, stack.project.name + '-green'
    run, load = deploy_under_load(stack, deploy_compose_strategy='blue_green', deploy_compose_version='2.0.0')
    assert run.rc == 0, run.stdout
    assert_no_failure(load)
    assert stack.served_versions() == {'2.0.0'}
    assert '{"version": "1.0.0"}' in load.answers and '{"version": "2.0.0"}' in load.answers
    # The old project was stopped after the grace period, not removed.
    assert containers(stack, base) == {s: [] for s in SERVICES}
    assert containers(stack, base, running_only=False) == {s: ['%s-%s-1' % (base, s)] for s in SERVICES}
    assert containers(stack, green) == {s: ['%s-%s-1' % (green, s)] for s in SERVICES}
    result = run.result('show result')['deploy_result']
    assert (result['strategy'], result['version_before'], result['version_after'], result['changed']) == (
        'blue_green', '1.0.0', '2.0.0', True)
    assert (result['details']['project_name'], result['details']['idle_project']) == (green, base)
    assert [step['weight'] for step in result['details']['nginx']] == [100]
    assert 'down;' in upstream(stack)
    facts = stack.role('facts', check=True).result('show facts')['deploy_facts']
    assert (facts['version'], facts['previous'], facts['details']['project_name']) == ('2.0.0', '1.0.0', green)


def test_blue_green_again_changes_nothing(stack):
    before = containers(stack, stack.project.name + '-green')
    run = stack.role('main', **dict(SMOKE, deploy_compose_strategy='blue_green', deploy_compose_version='2.0.0'))
    assert run.rc == 0, run.stdout
    assert changed_tasks(run) == []
    assert run.result('show result')['deploy_result']['changed'] is False
    assert containers(stack, stack.project.name + '-green') == before


def test_rollback_after_blue_green_starts_the_old_project_again(stack):
    base, green = stack.project.name, stack.project.name + '-green'
    kept = containers(stack, base, running_only=False)
    run, load = deploy_under_load(stack, 'rollback')
    assert run.rc == 0, run.stdout
    assert_no_failure(load)
    assert stack.served_versions() == {'1.0.0'}
    # The very containers kept stopped serve again, and the project rolled back from is stopped in turn.
    assert containers(stack, base) == kept
    assert containers(stack, green) == {s: [] for s in SERVICES}
    result = run.result('show result')['deploy_result']
    assert (result['version_before'], result['version_after'], result['details']['project_name']) == ('2.0.0', '1.0.0', base)


def test_canary_gives_each_step_its_weight_and_ends_on_the_new_release(stack):
    run, load = deploy_under_load(stack, deploy_compose_strategy='canary', deploy_compose_version='2.0.0',
                                  deploy_compose_canary_steps=[10, 50, 100])
    assert run.rc == 0, run.stdout
    assert_no_failure(load)
    assert stack.served_versions() == {'2.0.0'}
    result = run.result('show result')['deploy_result']
    assert [step['weight'] for step in result['details']['nginx']] == [10, 50, 100]
    assert all(step['changed'] for step in result['details']['nginx'])
    assert result['details']['project_name'] == stack.project.name + '-green'
    assert containers(stack, stack.project.name) == {s: [] for s in SERVICES}


def test_a_canary_that_fails_its_analysis_is_aborted_to_zero(stack):
    env = stack.env()
    (stack.dir / '.env').write_text(env + 'DEMOAPP_FAULT=errors:0.5\n')
    try:
        run, load = deploy_under_load(stack, deploy_compose_strategy='canary', deploy_compose_version='3.0.0',
                                      deploy_compose_canary_steps=[10, 50, 100])
    finally:
        (stack.dir / '.env').write_text(env)
    failed = [entry for entry in run.tasks if entry['res'].get('failed')]
    assert failed and failed[-1]['task'] == 'Fail the host, saying what was put back', run.stdout
    msg = failed[-1]['res']['msg']
    base = stack.project.name
    assert 'Deploying %s:3.0.0 as compose project %s (canary)' % (stack.repository, base) in msg, msg
    assert 'The canary was aborted to 0' in msg and 'after the steps 10.' in msg, msg
    assert 'The containers of project %s were removed.' % base in msg, msg
    # Every app container was healthy (the analysis failed, not a start): none is quoted, nor the base project's
    # postgres, nginx or one-shot migrate container, which are no part of the deploy.
    assert 'Container ' not in msg, msg
    assert_no_failure(load)
    assert stack.served_versions() == {'2.0.0'}
    assert containers(stack, base, running_only=False) == {s: [] for s in SERVICES}
    assert not (stack.dir / ('.artisan-%s.compose.yaml' % base)).exists()
    facts = stack.role('facts', check=True).result('show facts')['deploy_facts']
    assert (facts['version'], facts['details']['project_name']) == ('2.0.0', base + '-green')
