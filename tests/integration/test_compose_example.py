"""The compose example (examples/compose) comes up healthy, serves v1 through nginx, and an instance
stopped with SIGTERM under a steady stream of requests loses none of them."""

from __future__ import annotations

import concurrent.futures
import os
import time

import pytest
import requests

from .helpers.compose import ComposeProject
from .helpers.postgres import free_port

COMPOSE_DIR = os.path.join(os.path.dirname(__file__), '..', '..', 'examples', 'compose')


@pytest.fixture(scope='module')
def stack(docker_session):
    port = free_port()
    project = ComposeProject(os.path.abspath(COMPOSE_DIR), env={'DEMO_HTTP_PORT': str(port), 'DEMOAPP_VERSION': '1.0.0'})
    try:
        project.up_healthy()
        yield project, 'http://127.0.0.1:%d' % port
    finally:
        project.down()
        assert project.leftovers(docker_session.client) == []


def test_stack_is_healthy_and_serves_v1_through_nginx(stack, docker_session):
    project, base = stack
    for service in ('postgres', 'app1', 'app2', 'nginx'):
        container = docker_session.client.containers.get(project.container_id(service))
        assert container.attrs['State']['Health']['Status'] == 'healthy', service
    migrate = docker_session.client.containers.list(all=True, filters={
        'label': ['com.docker.compose.project=%s' % project.name, 'com.docker.compose.service=migrate']})
    assert [c.attrs['State']['ExitCode'] for c in migrate] == [0]
    assert requests.get(base + '/version', timeout=5).json()['version'] == '1.0.0'
    assert requests.get(base + '/api/system/health', timeout=5).status_code == 200


def steady_stream(url, stop_at, max_requests):
    """GET url until stop_at or max_requests; return (count, failures as descriptions)."""
    count, failures = 0, []
    with requests.Session() as session:
        while time.monotonic() < stop_at and count < max_requests:
            count += 1
            try:
                response = session.get(url, timeout=10)
                if response.status_code != 200:
                    failures.append('status %d' % response.status_code)
            except requests.RequestException as exc:
                failures.append(type(exc).__name__)
    return count, failures


def test_sigterm_to_one_instance_loses_no_request(stack, docker_session):
    project, base = stack
    app1 = docker_session.client.containers.get(project.container_id('app1'))
    stop_at = time.monotonic() + 8
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        streams = [pool.submit(steady_stream, base + '/api', stop_at, 3000) for _worker in range(4)]
        time.sleep(2)
        app1.kill(signal='SIGTERM')
        results = [stream.result() for stream in streams]
    total = sum(count for count, _fails in results)
    failures = [failure for _count, fails in results for failure in fails]
    # Its graceful stop may outlast the stream on a loaded machine: wait for it, bounded.
    app1.wait(timeout=60)
    app1.reload()
    # The instance really went down, gracefully, while the traffic flowed (docker kill is a manual
    # stop: the restart policy leaves it down).
    assert (app1.status, app1.attrs['State']['ExitCode']) == ('exited', 0)
    assert 'SIGTERM received' in app1.logs(tail=20).decode()
    assert total > 100, 'too few requests to say anything: %d' % total
    assert failures == [], '%d of %d requests failed: %s' % (len(failures), total, failures[:10])
    app1.start()
    docker_session.wait_healthy(app1)


def test_an_application_503_does_not_take_the_instances_out_of_nginx(stack, docker_session):
    """Both instances answer their readiness check with 503 (the schema looks unmigrated), asked twice as a smoke test
    polling it would: nginx passes the answer on, and the requests right after it are still served. Were 503 a reason
    to try the next upstream, nginx would count it against the instance that gave it (max_fails=1; all but the last
    try of a request count), and by the second request every instance would be out for fail_timeout: 502 for all."""
    project, base = stack
    postgres = docker_session.client.containers.get(project.container_id('postgres'))

    def sql(statement):
        code, out = postgres.exec_run(['psql', '-U', 'artisan', '-d', 'artisan', '-tAc', statement])
        assert code == 0, out

    sql('DELETE FROM alembic_version')
    try:
        # One keep-alive connection, so one nginx worker: without a shared zone each worker keeps its own failure counts.
        with requests.Session() as session:
            readiness = [session.get(base + '/api/system/health', timeout=10) for _index in range(2)]
            after = [session.get(base + '/version', timeout=10).status_code for _index in range(20)]
    finally:
        sql("INSERT INTO alembic_version VALUES ('0001')")
    # The application's own answer both times, not nginx's 502 page.
    assert [(r.status_code, r.text) for r in readiness if r.status_code != 503 or '"unmigrated"' not in r.text] == []
    assert after == [200] * 20, after
