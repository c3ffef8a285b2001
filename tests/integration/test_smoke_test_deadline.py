"""smoke_test against a real HTTP service with timed behaviour: the deadline and request time limits,
run through ansible-playbook."""

from __future__ import annotations

import re
import secrets

import pytest

from .helpers import timed_http
from .helpers.ansible import assert_ok, run_module_tasks
from .helpers.postgres import free_port

TOKEN = 'tok-%s' % secrets.token_hex(12)


@pytest.fixture()
def service(tmp_path):
    # The login answers values that equal numbers and words of every result: 200, ok, 1.
    server = timed_http.start(free_port(), str(tmp_path / 'requests.log'),
                              {'access_token': TOKEN, 'status': 'ok', 'code': 200, 'one': 1})
    yield server
    server.stop()


def test_a_service_ready_before_the_deadline_passes(service, run_module):
    # Ready 3.5 s after the first request, deadline 6.5 s: the 1/2/4 s back-off would give up after the
    # round at 3 s (the next one would start at 7 s); the last round must run at the deadline instead.
    result = run_module('artisan.upgrade.smoke_test', {
        'base_url': service.url, 'timeout': 6.5, 'interval': 1, 'max_interval': 10,
        'checks': [{'name': 'readiness', 'path': '/ready?after=3.5'}]})
    assert_ok(result)
    probes = [r for r in service.requests() if r['path'].startswith('/ready')]
    assert probes[0]['status'] == 503 and probes[-1]['status'] == 200
    assert probes[-1]['time'] >= probes[0]['time'] + 3.5
    assert result['checks'][0]['attempts'] == result['rounds'] == len(probes)


SLOW = 8  # seconds a slow answer takes: longer than timeout (2) plus the round allowance (1)


def test_no_check_outlasts_the_deadline(service, run_playbook):
    # request_timeout is generous on purpose: the 2 s deadline must cut every kind of request short.
    def task(check):
        return {'base_url': service.url, 'timeout': 2, 'request_timeout': 20, 'checks': [check]}

    results = run_module_tasks(run_playbook, 'artisan.upgrade.smoke_test', [
        task({'name': 'http', 'path': '/slow?seconds=%d' % SLOW}),
        task({'name': 'websocket', 'type': 'websocket', 'path': '/slow?seconds=%d' % SLOW}),
        task({'name': 'metrics', 'type': 'metrics', 'path': '/slow?seconds=%d' % SLOW, 'window': 0.5, 'max_ratio': 0.1,
              'numerator': {'name': 'errors_total'}, 'denominator': {'name': 'requests_total'}}),
        task({'name': 'tcp', 'type': 'tcp', 'port': service.black_hole_port}),
    ])
    # Capped to what the round had left: at most the 2 s deadline, never the 20 s request_timeout.
    within = r' within (0\.\d+|1|1\.\d|2)s'
    expected = {
        'http': r'no response' + within,
        'websocket': r'cannot connect' + within,
        'metrics': r'no response' + within,
        'tcp': r'cannot connect to 127\.0\.0\.1:%d' % service.black_hole_port + within,
    }
    for result in results:
        assert result.get('failed') is True, result
        check = result['checks'][0]
        assert re.fullmatch(expected[check['name']], check['message']), (check['name'], check['message'])
        assert result['checks'][0]['attempts'] == result['rounds']
