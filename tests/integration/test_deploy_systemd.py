"""The deploy_systemd role through real ansible-playbook (serial 1) on two systemd-host containers running
demoapp behind an nginx container, with PostgreSQL in a container, all on a Docker network this module
creates (ports published on 127.0.0.1 only). Outcomes are read from the hosts and through nginx."""

from __future__ import annotations

import json
import pathlib
import time
import uuid

import pytest

from .helpers.ansible import PlaybookRun
from .helpers.backends import SteadyLoad
from .helpers.docker import sh
from .helpers.systemd_fleet import DEBIAN, TEST_HOSTS, UPSTREAM, systemd_fleet

HOSTS = TEST_HOSTS
SHARE = 100 // HOSTS  # a host's nginx weight when every host serves
PLAYBOOK = str(pathlib.Path(__file__).parent / 'playbooks' / 'deploy_systemd.yml')


@pytest.fixture(scope='module')
def fleet(docker_session, demoapp_wheelhouse, demoapp_releases):
    with systemd_fleet(docker_session, demoapp_wheelhouse, demoapp_releases, HOSTS) as made:
        yield made


def deploy(run_playbook, fleet, version, strategy='rolling', check=False, **extra) -> PlaybookRun:
    extravars = dict(DEBIAN, deploy_systemd_app_name='demoapp', deploy_systemd_version=version,
                     deploy_systemd_strategy=strategy, deploy_systemd_wheelhouse='/wheelhouse',
                     deploy_systemd_python='python3.11', deploy_systemd_env_renames={'DATABASE_URI': 'DATABASE_URL'},
                     deploy_systemd_env_secret_keys=['DATABASE_URI', 'DATABASE_URL', 'SECRET_KEY'],
                     deploy_systemd_health_url='http://127.0.0.1:8000/api/system/health',
                     deploy_systemd_nginx_host=fleet.nginx.name, deploy_systemd_nginx_include_path=UPSTREAM,
                     deploy_systemd_nginx_upstream='demoapp')
    extravars.update(extra)
    return run_playbook(PLAYBOOK, inventory=fleet.inventory, extravars=extravars, check=check, diff=check)


def changed_tasks(run: PlaybookRun) -> list[str]:
    return ['%s on %s' % (e['task'], e['host']) for e in run.tasks if e['res'].get('changed')]


def test_check_mode_shows_the_plan_and_changes_nothing(run_playbook, fleet):
    upstream_before = sh(fleet.nginx, 'cat ' + UPSTREAM)
    run = deploy(run_playbook, fleet, '2.0.0', check=True)
    assert run.rc == 0, run.stdout
    plans = [e['res']['msg'] for e in run.tasks if e['task'] == 'Show the plan for this host']
    assert len(plans) == HOSTS and all('release 1.0.0 -> 2.0.0' in p and 'restart' in p for p in plans), plans
    envs = [e['res'] for e in run.tasks if e['task'].startswith('Migrate the environment file')]
    assert [r['changes'] for r in envs] == [['renamed DATABASE_URI to DATABASE_URL']] * HOSTS, envs
    assert all('secret' not in json.dumps(r) for r in envs), 'a secret value leaked into the result'
    units = [e['res'] for e in run.tasks if e['task'].startswith('Template the unit demoapp.service')]
    assert all(r['changed'] and 'Restart=on-failure' in r['diff'][0]['after'] for r in units), units
    switches = [e['res'] for e in run.tasks if e['task'].startswith('Switch current to')]
    assert [(r['changed'], r['current']) for r in switches] == [(True, '2.0.0')] * HOSTS, switches
    for host in fleet.hosts:
        assert sh(host, 'readlink /srv/demoapp/current').strip().endswith('1.0.0')
        assert sh(host, 'ls /srv/demoapp/releases').split() == ['1.0.0']
        assert 'DATABASE_URI=' in sh(host, 'cat /etc/demoapp/demoapp.env')
    assert sh(fleet.nginx, 'cat ' + UPSTREAM) == upstream_before
    assert set(fleet.versions().values()) == {'1.0.0'}


def test_rolling_upgrade_serves_every_request(run_playbook, fleet, demoapp_releases):
    demoapp_releases['2.0.0'].migrate(fleet.db_url, 'upgrade', 'head')  # expand: 1.0.0 stays ready on 0002
    started = time.monotonic()
    secret = {'API_TOKEN': 'tok-%s' % uuid.uuid4().hex}  # as an AWX credential would inject it
    with SteadyLoad(fleet.nginx_url + '/version', max_requests=20000, max_seconds=900, pause=0.02) as load:
        run = deploy(run_playbook, fleet, '2.0.0', deploy_systemd_env_set_secret=secret)
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.stdout
    print('rolling 1.0.0 -> 2.0.0: %.1f s, %d requests through nginx, %d failed, answers %s'
          % (elapsed, load.total, len(load.failures), dict(load.answers)))
    assert load.total > 100, 'the request stream did not run'
    assert load.failures == [], load.failures[:10]
    assert set(json.loads(a)['version'] for a in load.answers) == {'1.0.0', '2.0.0'}

    assert fleet.versions() == {h.name: '2.0.0' for h in fleet.hosts}
    assert fleet.nginx_versions() == {'2.0.0'}
    for host in fleet.hosts:
        env = sh(host, 'cat /etc/demoapp/demoapp.env')
        assert 'DATABASE_URL="postgresql://app:secret@' in env and 'DATABASE_URI' not in env
        assert 'API_TOKEN=%s' % secret['API_TOKEN'] in env
        assert sh(host, 'systemctl is-active demoapp').strip() == 'active'
        pid = sh(host, 'systemctl show -p MainPID --value demoapp').strip()
        assert sh(host, 'ps -o user= -p ' + pid).strip() == 'demoapp'
        assert sh(host, 'readlink /srv/demoapp/current').strip().endswith('releases/2.0.0')
        assert 'Restart=on-failure' in sh(host, 'cat /etc/systemd/system/demoapp.service')
    upstream = sh(fleet.nginx, 'cat ' + UPSTREAM)
    assert ' down;' not in upstream, upstream

    again_started = time.monotonic()
    again = deploy(run_playbook, fleet, '2.0.0', deploy_systemd_env_set_secret=secret)
    print('idempotent re-run: %.1f s' % (time.monotonic() - again_started))
    assert again.rc == 0, again.stdout
    assert changed_tasks(again) == []
    for shown in (run, again):  # written, and never in a task's arguments, result or diff
        assert secret['API_TOKEN'] not in shown.stdout + json.dumps(shown.tasks)
    assert sh(fleet.nginx, 'cat ' + UPSTREAM) == upstream


def test_crashing_release_fails_with_the_journal_and_the_fleet_keeps_serving(run_playbook, fleet):
    first = fleet.hosts[0]
    pid_before = {h.name: sh(h, 'systemctl show -p MainPID --value demoapp').strip() for h in fleet.hosts[1:]}
    with SteadyLoad(fleet.nginx_url + '/version', max_requests=20000, max_seconds=600, pause=0.02) as load:
        run = deploy(run_playbook, fleet, '3.0.0', deploy_systemd_env_set={'DEMOAPP_FAULT': 'crash'},
                     deploy_systemd_health_retries=10)
    assert run.rc != 0
    [failure] = [e['res'] for e in run.tasks if e['event'] == 'runner_on_failed' and not e['res'].get('ignore_errors')
                 and e['task'] == 'Fail the host with the unit\'s journal']
    message = failure['msg']
    assert 'DEMOAPP_FAULT=crash: exiting with status 1 at start, as asked' in message, message
    assert 'current is back on 2.0.0' in message, message
    print('crash: %d requests through nginx, %d failed' % (load.total, len(load.failures)))
    assert load.failures == [], load.failures[:10]
    # The failed host is back on 2.0.0 with the env file 2.0.0 read; the others were never touched.
    assert sh(first, 'readlink /srv/demoapp/current').strip().endswith('releases/2.0.0')
    assert 'DEMOAPP_FAULT' not in sh(first, 'cat /etc/demoapp/demoapp.env')
    assert fleet.versions() == {h.name: '2.0.0' for h in fleet.hosts}
    assert {h.name: sh(h, 'systemctl show -p MainPID --value demoapp').strip() for h in fleet.hosts[1:]} == pid_before
    assert fleet.nginx_versions() == {'2.0.0'}
    assert ' down;' not in sh(fleet.nginx, 'cat ' + UPSTREAM)


def shifts(run: PlaybookRun) -> list[int]:
    """The weights canary_shift wrote (or kept), in order."""
    return [e['res']['after']['weight'] for e in run.tasks
            if e['task'].startswith("Set the batch's nginx share") and 'after' in e['res']]


def test_canary_with_errors_aborts_to_zero_and_restores(run_playbook, fleet):
    first = fleet.hosts[0]
    with SteadyLoad(fleet.nginx_url + '/version', max_requests=20000, max_seconds=600, pause=0.02) as load:
        run = deploy(run_playbook, fleet, '3.0.0', strategy='canary',
                     deploy_systemd_env_set={'DEMOAPP_FAULT': 'errors:0.9'},
                     deploy_systemd_health_url='http://127.0.0.1:8000/health',
                     deploy_systemd_canary_checks=[{'name': 'api', 'path': '/api'}],
                     deploy_systemd_canary_consecutive_successes=4, deploy_systemd_canary_timeout=10)
    assert run.rc != 0
    [failure] = [e['res'] for e in run.tasks if e['event'] == 'runner_on_failed'
                 and e['task'] == 'Fail the host with what went wrong']
    assert 'Smoke-test and analyse the canary at traffic percent 10' in failure['msg'], failure['msg']
    assert 'current is back on 2.0.0' in failure['msg'], failure['msg']
    # Drained, first step, aborted to 0, then back to its share once 2.0.0 serves again; no other host ran.
    assert shifts(run) == [0, 10, 0, SHARE], run.stdout[-6000:]
    assert {e['host'] for e in run.tasks if e['task'].startswith('Install the release')} == {first.name}
    print('canary abort: %d requests through nginx, %d failed' % (load.total, len(load.failures)))
    assert load.failures == [], load.failures[:10]  # /version is spared by errors:FRACTION
    assert 'DEMOAPP_FAULT' not in sh(first, 'cat /etc/demoapp/demoapp.env')
    assert fleet.versions() == {h.name: '2.0.0' for h in fleet.hosts}
    assert fleet.nginx_versions() == {'2.0.0'}
    assert ' down;' not in sh(fleet.nginx, 'cat ' + UPSTREAM)


def test_canary_steps_then_the_rest_rolls(run_playbook, fleet):
    started = time.monotonic()
    with SteadyLoad(fleet.nginx_url + '/version', max_requests=20000, max_seconds=900, pause=0.02) as load:
        run = deploy(run_playbook, fleet, '3.0.0', strategy='canary',
                     deploy_systemd_health_url='http://127.0.0.1:8000/health', deploy_systemd_canary_steps=[10, 50, 100])
    assert run.rc == 0, run.stdout
    print('canary 2.0.0 -> 3.0.0: %.1f s, %d requests through nginx, %d failed'
          % (time.monotonic() - started, load.total, len(load.failures)))
    # The canary: drained, 10, 50, 100, then its share; each other host: drained, then its share.
    assert shifts(run) == [0, 10, 50, 100, SHARE] + [0, SHARE] * (HOSTS - 1), shifts(run)
    smoke = [e['res'] for e in run.tasks if e['task'].startswith('Smoke-test and analyse the canary')]
    assert len(smoke) == 3 and all(not r.get('failed') for r in smoke), smoke
    assert load.failures == [], load.failures[:10]
    assert fleet.versions() == {h.name: '3.0.0' for h in fleet.hosts}
    assert fleet.nginx_versions() == {'3.0.0'}
