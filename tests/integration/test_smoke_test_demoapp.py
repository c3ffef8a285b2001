"""smoke_test against the real demoapp (every release, fault modes), run through ansible-playbook."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest
import requests

from .demoapp.support import DEMO_USER

JWT = re.compile(r'eyJ[\w-]+\.[\w-]+\.[\w-]+')


@pytest.fixture(scope='module')
def dsn_v2(migrated_dsn):
    return migrated_dsn('2.0.0')


@pytest.fixture(scope='module')
def dsn_v3(migrated_dsn):
    return migrated_dsn('3.0.0')


@pytest.fixture(scope='module')
def app_v2(module_demoapp, dsn_v2):
    return module_demoapp.start('2.0.0', dsn=dsn_v2)


def runbook_checks(password=DEMO_USER['password']):
    """The smoke test script of the runbooks (seed 002), as checks."""
    return [
        {'name': 'liveness', 'path': '/health'},
        {'name': 'readiness', 'path': '/api/system/health', 'assert_json': [{'path': '$.status', 'equals': 'ok'}]},
        {'name': 'API root', 'path': '/api', 'assert_headers': {'Content-Type': '^application/json'}},
        {'name': 'login', 'method': 'POST', 'path': '/api/auth/login',
         'body': {'username': DEMO_USER['username'], 'password': password}, 'capture': {'token': '$.access_token'}},
        {'name': 'who am I', 'path': '/api/users/me', 'headers': {'Authorization': 'Bearer {token}'},
         'assert_json': [{'path': '$.email', 'equals': DEMO_USER['username']}]},
        {'name': 'protected without a token', 'path': '/api/users/me', 'status': ['401']},
        {'name': 'websocket ping', 'type': 'websocket', 'path': '/ws', 'send': [{'type': 'ping'}],
         'expect': [{'json': {'type': 'pong'}}], 'required': False},
    ]


@pytest.mark.parametrize('check_mode', [False, True], ids=['run', 'check_mode'])
def test_the_runbook_suite_passes_against_a_healthy_release(app_v2, run_module, tmp_path, check_mode):
    report = tmp_path / 'smoke.xml'
    result = run_module('artisan.upgrade.smoke_test', {
        'base_url': app_v2.base_url, 'checks': runbook_checks(), 'expect_version': '2.0.0',
        'consecutive_successes': 2, 'interval': 0.2, 'timeout': 30, 'report_path': str(report)}, check=check_mode)
    assert not result.get('failed'), result['msg']
    assert result['changed'] is False
    assert [(c['name'], c['ok']) for c in result['checks']] == [
        ('liveness', True), ('readiness', True), ('API root', True), ('login', True), ('who am I', True),
        ('protected without a token', True), ('websocket ping', True), ('version is 2.0.0', True)]
    assert result['rounds'] == 2 and result['captured'] == ['token']
    assert not JWT.search(json.dumps(result)), 'a captured token leaked into the result'
    suite = ET.parse(report).getroot()
    assert (suite.get('tests'), suite.get('failures')) == ('8', '0')


def test_expect_version_catches_the_old_release_still_serving(module_demoapp, dsn_v2, run_module):
    app_v1 = module_demoapp.start('1.0.0', dsn=dsn_v2)
    result = run_module('artisan.upgrade.smoke_test', {
        'base_url': app_v1.base_url, 'checks': [{'path': '/health'}], 'expect_version': '2.0.0', 'timeout': 1})
    assert result['failed'] is True
    assert result['msg'].splitlines()[1:] == ['version is 2.0.0: $.version is "1.0.0", expected "2.0.0"']


def test_each_assertion_type_fails_with_a_line_naming_its_check(app_v2, run_module):
    checks = [
        {'name': 'status', 'path': '/api/users/me', 'status': ['200']},
        {'name': 'body', 'path': '/health', 'body_regex': 'degraded'},
        {'name': 'json', 'path': '/version', 'assert_json': [{'path': '$.version', 'matches': '^3\\.'}]},
        {'name': 'header', 'path': '/health', 'assert_headers': {'X-Missing': '.*'}},
        {'name': 'latency', 'path': '/api/slow', 'query': {'seconds': '0.3'}, 'max_ms': 100},
        {'name': 'websocket', 'type': 'websocket', 'path': '/ws', 'send': [{'type': 'ping'}],
         'expect': [{'json': {'type': 'pang'}}], 'max_ms': 500},
        {'name': 'capture', 'path': '/health', 'capture': {'token': '$.access_token'}},
        {'name': 'needs capture', 'path': '/api/users/me', 'headers': {'Authorization': 'Bearer {token}'}},
        {'name': 'fine', 'path': '/health'},
    ]
    result = run_module('artisan.upgrade.smoke_test', {'base_url': app_v2.base_url, 'checks': checks, 'timeout': 1})
    assert result['failed'] is True
    assert result['msg'].splitlines()[1:] == [
        'status: status 401, expected 200',
        "body: body does not match 'degraded'",
        'json: $.version ("2.0.0") does not match \'^3\\\\.\'',
        'header: header X-Missing is missing',
        'latency: took %.1f ms, budget 100 ms' % result['checks'][4]['latency_ms'],
        'websocket: no reply matching {"type": "pang"} within 0.5s (got [\'{"type": "pong"}\'])',
        'capture: cannot capture token: $.access_token is missing from the response',
        'needs capture: not run: token not captured by an earlier check',
    ]
    assert result['checks'][-1]['ok'] is True


def test_a_wrong_password_fails_the_login_and_the_protected_call_is_not_sent(app_v2, run_module):
    result = run_module('artisan.upgrade.smoke_test', {
        'base_url': app_v2.base_url, 'checks': runbook_checks(password='wrong'), 'timeout': 1})
    assert result['failed'] is True
    assert result['msg'].splitlines()[1:] == ['login: status 401, expected 200-299',
                                              'who am I: not run: token not captured by an earlier check']
    assert result['captured'] == []


def traffic(url, requests_count):
    """A bounded background load on loopback, from another process (no threads next to ansible-runner)."""
    return subprocess.Popen(['sh', '-c', 'for i in $(seq 1 %d); do curl -s -o /dev/null %s; sleep 0.01; done'
                             % (requests_count, url)])


ERROR_RATIO = {'name': 'error ratio', 'type': 'metrics', 'path': '/metrics', 'window': 1.5, 'max_ratio': 0.01,
               'numerator': {'name': 'http_requests_total', 'labels': {'status': '5..', 'route': '/api'}},
               'denominator': {'name': 'http_requests_total', 'labels': {'route': '/api'}}}


def test_metrics_ratio_passes_a_healthy_release_under_traffic(app_v2, run_module):
    load = traffic(app_v2.url('/api'), 300)
    try:
        result = run_module('artisan.upgrade.smoke_test', {'base_url': app_v2.base_url, 'checks': [ERROR_RATIO], 'timeout': 5})
    finally:
        load.kill()
        load.wait()
    assert not result.get('failed'), result['msg']
    assert result['checks'][0]['ratio'] == 0


def test_metrics_ratio_fails_the_release_that_serves_5xx(module_demoapp, dsn_v3, run_module):
    app = module_demoapp.start('3.0.0', dsn=dsn_v3, env={'DEMOAPP_FAULT': 'errors:0.3'})
    load = traffic(app.url('/api'), 300)
    try:
        result = run_module('artisan.upgrade.smoke_test', {'base_url': app.base_url, 'checks': [ERROR_RATIO], 'timeout': 1})
    finally:
        load.kill()
        load.wait()
    assert result['failed'] is True
    assert 0.25 <= result['checks'][0]['ratio'] <= 0.35
    assert re.fullmatch(r'error ratio: ratio 0\.\d{4} \(\d+ of \d+\) is above max_ratio 0\.01', result['msg'].splitlines()[1])


def test_metrics_without_traffic_is_no_samples_not_a_pass(app_v2, run_module):
    result = run_module('artisan.upgrade.smoke_test', {'base_url': app_v2.base_url, 'checks': [ERROR_RATIO], 'timeout': 1})
    assert result['failed'] is True
    assert result['msg'].splitlines()[1].startswith('error ratio: no samples: http_requests_total did not increase over 1.5s')


def test_the_deadline_waits_out_a_slow_start(demoapp, dsn_v3, run_module):
    # Six seconds: longer than Ansible takes to start the module on a loaded machine, so it sees 503s first.
    app = demoapp.start('3.0.0', dsn=dsn_v3, env={'DEMOAPP_FAULT': 'slow-start:6'}, wait=False)
    result = run_module('artisan.upgrade.smoke_test', {
        'base_url': app.base_url, 'timeout': 30, 'interval': 0.5, 'max_interval': 1,
        'checks': [{'name': 'readiness', 'path': '/api/system/health'}]})
    assert not result.get('failed'), result['msg']
    assert result['rounds'] > 1
    assert result['checks'][0]['attempts'] == result['rounds']


def test_the_deadline_gives_up_on_a_crash(demoapp, dsn_v3, run_module):
    app = demoapp.start('3.0.0', dsn=dsn_v3, env={'DEMOAPP_FAULT': 'crash'}, wait=False)
    assert app.wait_exit() == 1
    result = run_module('artisan.upgrade.smoke_test', {
        'base_url': app.base_url, 'timeout': 2, 'interval': 0.5, 'checks': [{'name': 'liveness', 'path': '/health'}]})
    assert result['failed'] is True
    assert result['msg'].splitlines()[1] == 'liveness: cannot connect: Connection refused'
    assert result['rounds'] >= 2


def test_an_invalid_suite_is_refused_before_any_request(app_v2, run_module):
    before = app_v2.metrics().value('http_requests_total', method='GET', route='/health', status='200')
    result = run_module('artisan.upgrade.smoke_test', {'base_url': app_v2.base_url, 'checks': [
        {'name': 'fine', 'path': '/health'},
        {'name': 'broken', 'path': '/api', 'assert_json': [{'path': '$.x', 'equals': 1, 'matches': 'y'}]}]})
    assert result['failed'] is True
    assert result['msg'] == 'check 2 (broken): assert_json on $.x needs exactly one of equals, contains, matches, exists'
    assert app_v2.metrics().value('http_requests_total', method='GET', route='/health', status='200') == before


def smoke_role(run_playbook, app, **smoke_vars):
    """The smoke role, from the controller, against a demoapp process; the run and its smoke_result."""
    play = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'smoke role', 'ansible.builtin.include_role': {'name': 'artisan.upgrade.smoke'}, 'ignore_errors': True,
         'vars': dict({'smoke_base_url': app.base_url, 'smoke_timeout': 20, 'smoke_interval': 0.2}, **smoke_vars)}]}]
    run = run_playbook(play)
    return run, run.result('Run the smoke checks against ' + app.base_url)


def test_the_role_runs_the_runbook_suite_without_writing_checks(app_v2, run_playbook):
    password = 'smoke-Role-Secret-42'
    created = requests.post(app_v2.base_url + '/api/users', timeout=10,
                            json={'email': 'smoke-role@example.com', 'password': password})
    assert created.status_code in (201, 409), created.text
    run, result = smoke_role(run_playbook, app_v2, smoke_suite='runbook', smoke_login_user='smoke-role@example.com',
                             smoke_login_password=password, smoke_expect_version='2.0.0',
                             smoke_checks=[{'name': 'posts need a token', 'path': '/api/posts', 'status': ['401']}])
    assert not result.get('failed'), result['msg']
    assert [(c['name'], c['ok'], c['required']) for c in result['checks']] == [
        ('health', True, True), ('API root', True, True), ('login', True, True), ('authenticated request', True, True),
        ('websocket ping', True, False), ('posts need a token', True, True), ('version is 2.0.0', True, True)]
    assert password not in run.stdout and password not in json.dumps(run.tasks), 'the password leaked'
    assert not JWT.search(json.dumps(run.tasks)), 'the token leaked'


def test_the_runbook_suite_fails_on_a_wrong_password_and_the_version(app_v2, run_playbook):
    run, result = smoke_role(run_playbook, app_v2, smoke_suite='runbook', smoke_login_user=DEMO_USER['username'],
                             smoke_login_password='not-the-Password-7', smoke_expect_version='1.0.0', smoke_timeout=2)
    assert result['failed'] is True
    lines = result['msg'].splitlines()[1:]
    assert lines[0] == 'login: status 401, expected 200-299', lines
    assert lines[1].startswith('authenticated request: not run') and lines[2].startswith('version is 1.0.0'), lines
    assert 'not-the-Password-7' not in run.stdout and 'not-the-Password-7' not in json.dumps(run.tasks)


def test_the_role_refuses_a_suite_without_checks(app_v2, run_playbook):
    run = run_playbook([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'ansible.builtin.include_role': {'name': 'artisan.upgrade.smoke'},
         'vars': {'smoke_base_url': app_v2.base_url}}]}])
    assert run.rc != 0
    assert 'no smoke checks to run: set smoke_suite (runbook) or give smoke_checks' in run.stdout
