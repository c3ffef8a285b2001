"""The deliberate faults of release 3 (DEMOAPP_FAULT), and that earlier releases ignore them."""

from __future__ import annotations

import time

import pytest
import requests

from .support import wait_for


@pytest.fixture(scope='module')
def dsn(migrated_dsn):
    return migrated_dsn('3.0.0')


def test_crash_exits_1_at_start_with_a_clear_line(demoapp, dsn):
    server = demoapp.start('3.0.0', dsn=dsn, env={'DEMOAPP_FAULT': 'crash'}, wait=False)
    assert server.wait_exit() == 1
    assert 'DEMOAPP_FAULT=crash: exiting with status 1 at start' in server.log()
    with pytest.raises(requests.ConnectionError):
        server.get('/health', timeout=2)


def test_unhealthy_fails_both_probes_with_500(demoapp, dsn):
    server = demoapp.start('3.0.0', dsn=dsn, env={'DEMOAPP_FAULT': 'unhealthy'}, wait=False)
    # wait_live needs a 200 from /health: wait for the port instead.
    response = wait_for(lambda: _get_or_none(server, '/version'))
    assert response.json() == {'version': '3.0.0'}
    for path in ('/health', '/api/system/health'):
        response = server.get(path)
        assert response.status_code == 500
        assert 'DEMOAPP_FAULT=unhealthy' in response.json()['reason']


def test_slow_start_fails_readiness_but_not_liveness_until_the_delay_is_over(demoapp, dsn):
    server = demoapp.start('3.0.0', dsn=dsn, env={'DEMOAPP_FAULT': 'slow-start:3'})
    response = server.get('/api/system/health')
    assert response.status_code == 503
    body = response.json()
    assert body['status'] == 'starting' and 'DEMOAPP_FAULT=slow-start:3' in body['reason'], body
    assert server.get('/health').status_code == 200
    wait_for(lambda: server.get('/api/system/health').status_code == 200, timeout=15)
    # Ready no earlier than 3 s after the process started (a lower bound: the fault's promise).
    assert time.monotonic() - server.started >= 3


def test_errors_fail_that_fraction_of_api_requests_and_spare_the_probes(demoapp, dsn):
    server = demoapp.start('3.0.0', dsn=dsn, env={'DEMOAPP_FAULT': 'errors:0.3'})
    responses = [server.get('/api') for attempt in range(14)]
    # Request n fails when floor(0.3 n) steps up: the 4th, 7th, 10th, 14th.
    assert [response.status_code for response in responses] == [200, 200, 200, 500, 200, 200, 500, 200, 200, 500,
                                                                200, 200, 200, 500]
    assert responses[3].json() == {'error': 'injected error (DEMOAPP_FAULT=errors:0.3)'}
    assert all(server.get(path).status_code == 200 for path in ('/health', '/api/system/health', '/version') * 5)
    metrics = server.metrics()
    assert metrics.value('http_requests_total', method='GET', route='/api', status='500') == 4
    assert metrics.value('http_requests_total', method='GET', route='/api', status='200') == 10


@pytest.mark.parametrize('fault', ['bogus', 'errors:lots', 'errors:1.5', 'slow-start', 'crash:now'])
def test_an_invalid_fault_exits_2(demoapp, dsn, fault):
    server = demoapp.start('3.0.0', dsn=dsn, env={'DEMOAPP_FAULT': fault}, wait=False)
    assert server.wait_exit() == 2
    assert 'configuration error:' in server.log() and 'DEMOAPP_FAULT' in server.log()


@pytest.mark.parametrize('version', ['1.0.0', '2.0.0'])
def test_earlier_releases_ignore_faults(demoapp, version, dsn):
    server = demoapp.start(version, dsn=dsn, env={'DEMOAPP_FAULT': 'crash'})
    assert server.get('/health').status_code == 200
    assert 'DEMOAPP_FAULT is ignored: only release 3 has fault modes' in server.log()


def _get_or_none(server, path):
    try:
        return server.get(path, timeout=2)
    except requests.ConnectionError:
        return None
