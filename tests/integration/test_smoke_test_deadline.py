"""smoke_test against a real HTTP service with timed behaviour: the deadline, request time limits, and the
masking of captured values and secret headers (in the result, -vvv output and report files), run through ansible-playbook."""

from __future__ import annotations

import json
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


def capturing_suite(service, **options):
    checks = [
        {'name': 'login', 'method': 'POST', 'path': '/login', 'body': {'user': 'smoke'},
         'capture': {'token': '$.access_token', 'state': '$.status', 'code': {'path': '$.code', 'secret': False},
                     'one': '$.one'}},
        {'name': 'authenticated', 'path': '/echo', 'headers': {'Authorization': 'Bearer {token}'},
         'assert_json': [{'path': '$.authorization', 'equals': 'Bearer {token}'}]},
        {'name': 'uses plain values', 'path': '/ready?after=0&state={state}&code={code}&one={one}',
         'assert_json': [{'path': '$.status', 'equals': '{state}'}]},
        # Fails on purpose, quoting the token in its message: the message must not show it.
        {'name': 'quotes the token', 'path': '/echo', 'headers': {'Authorization': 'Bearer {token}'},
         'assert_json': [{'path': '$.authorization', 'equals': 'something else'}], 'required': False},
    ]
    return dict({'base_url': service.url, 'checks': checks, 'timeout': 10}, **options)


def test_plain_captured_values_leave_the_result_intact_and_secret_ones_are_masked(service, run_playbook):
    run = run_playbook([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'smoke', 'artisan.upgrade.smoke_test': capturing_suite(service), 'ignore_errors': True}]}],
        verbosity=3)
    result = run.result('smoke')
    assert_ok(result)
    # 200, ok and 1 were captured but are not secret: numbers, statuses and messages stay as they are.
    assert result['rounds'] == 1
    assert result['msg'] == '4 check(s) passed'
    assert result['totals'] == {'total': 4, 'passed': 3, 'failed': 1, 'failed_required': 0}
    assert [(c['status'], c['attempts'], c['message']) for c in result['checks'][:3]] == [(200, 1, 'ok')] * 3
    assert result['captured'] == ['code', 'one', 'state', 'token']
    # The token is secret by default (a credential's name, sent in a header): masked in the module's output.
    assert result['checks'][3]['message'] == '$.authorization is "Bearer ********", expected "something else"'
    assert TOKEN not in json.dumps(result)
    assert 'Bearer ********' in run.stdout and '"rounds": 1' in run.stdout  # -vvv prints the whole result
    assert TOKEN not in run.stdout
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' not in run.stdout


def test_report_files_are_masked_like_the_result(service, tmp_path, run_playbook):
    junit, report = tmp_path / 'smoke.xml', tmp_path / 'smoke.json'
    results = run_module_tasks(run_playbook, 'artisan.upgrade.smoke_test', [
        capturing_suite(service, report_path=str(junit)),
        capturing_suite(service, report_path=str(report)),
    ])
    for result in results:
        assert_ok(result)
    for path in (junit, report):
        text = path.read_text(encoding='utf-8')
        assert 'Bearer ********' in text, text
        assert TOKEN not in text
    document = json.loads(report.read_text(encoding='utf-8'))
    assert (document['rounds'], document['totals']['passed']) == (1, 3)
    assert [c['status'] for c in document['checks']] == [200, 200, 200, 200]


API_KEY = 'key-%s' % secrets.token_hex(12)


def test_plain_headers_leave_the_result_intact_and_secret_ones_never_show(service, tmp_path, run_playbook):
    junit, report = tmp_path / 'smoke.xml', tmp_path / 'smoke.json'
    checks = [
        # A plain header value equal to words of every result ("ok") must not garble it.
        {'name': 'plain header', 'path': '/echo', 'headers': {'X-Env': 'ok'},
         'assert_json': [{'path': '$.x_env', 'equals': 'ok'}]},
        {'name': 'ready', 'path': '/ready?after=0', 'assert_json': [{'path': '$.status', 'equals': 'ok'}]},
        {'name': 'secret header', 'path': '/echo', 'secret_headers': {'X-Api-Key': API_KEY},
         'assert_json': [{'path': '$.x_api_key', 'matches': '^key-[0-9a-f]{24}$'}]},
        # Fails on purpose, quoting the key the service echoed: the message must not show it.
        {'name': 'quotes the key', 'path': '/echo', 'secret_headers': {'X-Api-Key': API_KEY},
         'assert_json': [{'path': '$.x_api_key', 'equals': 'something else'}], 'required': False},
    ]
    # Ansible 2.21 adds the task's arguments (invocation) to results only when asked to.
    run = run_playbook([{'hosts': 'localhost', 'gather_facts': False, 'vars': {'ansible_inject_invocation': True}, 'tasks': [
        {'name': name, 'artisan.upgrade.smoke_test': {'base_url': service.url, 'checks': checks, 'timeout': 10,
                                                      'report_path': str(path)}, 'ignore_errors': True}
        for name, path in (('junit', junit), ('json', report))]}], verbosity=3)
    for name in ('junit', 'json'):
        result = run.result(name)
        assert_ok(result)
        assert result['msg'] == '4 check(s) passed'
        assert [(c['status'], c['attempts'], c['message']) for c in result['checks'][:3]] == [(200, 1, 'ok')] * 3
        assert result['checks'][3]['message'] == '$.x_api_key is "********", expected "something else"'
        arguments = result.pop('invocation')['module_args']['checks']
        assert arguments[0]['headers'] == {'X-Env': 'ok'}
        assert arguments[2]['secret_headers'] == {'X-Api-Key': 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'}
        shown = json.dumps(result)
        assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' not in shown
        assert shown.count('********') == 1  # only in the message that quotes the key
    # -vvv prints the whole result and the task's arguments.
    assert '"rounds": 1' in run.stdout and '"message": "ok"' in run.stdout and '"X-Env": "ok"' in run.stdout
    assert API_KEY not in run.stdout
    for path in (junit, report):
        text = path.read_text(encoding='utf-8')
        assert '$.x_api_key is &quot;********&quot;' in text or '$.x_api_key is \\"********\\"' in text, text
        assert API_KEY not in text and 'VALUE_SPECIFIED' not in text
    assert [c['message'] for c in json.loads(report.read_text(encoding='utf-8'))['checks'][:3]] == ['ok'] * 3
