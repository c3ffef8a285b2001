"""smoke_test against a real nginx (and a real PostgreSQL port), run through ansible-playbook."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from .helpers.postgres import free_port

SERVER = r"""
location = /health { default_type application/json; return 200 '{"status": "ok"}'; }
location = /version { default_type text/plain; return 200 '2.0.0'; }
location = /echo-auth { default_type text/plain; return 200 '$http_authorization'; }
location / { try_files $uri =503; }
"""


@pytest.fixture()
def service(nginx_factory):
    return nginx_factory(SERVER)


def suite(service, checks, **options):
    return dict(dict(base_url=service.url, checks=checks, timeout=10, interval=0.2), **options)


@pytest.mark.parametrize('check_mode', [False, True], ids=['run', 'check_mode'])
def test_all_checks_pass_and_nothing_changes(service, postgres, run_module, check_mode):
    checks = [
        {'name': 'liveness', 'path': '/health', 'body_regex': '"status": "ok"'},
        {'name': 'version', 'path': '/version', 'body_regex': r'^2\.0\.0$', 'max_ms': 5000},
        {'name': 'database port', 'type': 'tcp', 'port': postgres.port},
    ]
    result = run_module('artisan.upgrade.smoke_test', suite(service, checks, consecutive_successes=2), check=check_mode)
    assert not result.get('failed'), result['msg']
    assert result['changed'] is False
    assert [(c['name'], c['ok'], c['status']) for c in result['checks']] == [
        ('liveness', True, 200), ('version', True, 200), ('database port', True, None)]
    assert result['totals'] == {'total': 3, 'passed': 3, 'failed': 0, 'failed_required': 0}
    assert result['rounds'] == 2
    assert all(c['attempts'] == 2 for c in result['checks'])


def test_waits_for_a_service_that_becomes_ready(service, run_module):
    # /ready answers 503 until the file appears, as a new version does while it starts. Another process
    # (no threads beside ansible-runner's pty) writes it once nginx has logged the module's first probe,
    # so the module surely sees the service not ready first, however slowly Ansible starts.
    ready = os.path.join(service.docroot, 'ready')
    access_log = os.path.join(service.root, 'access.log')
    writer = subprocess.Popen(['timeout', '60', 'sh', '-c', 'until grep -q "GET /ready" %s; do sleep 0.05; done; '
                               'sleep 0.5 && echo ok > %s.tmp && mv %s.tmp %s' % (access_log, ready, ready, ready)])
    try:
        result = run_module('artisan.upgrade.smoke_test',
                            suite(service, [{'name': 'readiness', 'path': '/ready'}], timeout=30, interval=0.25))
    finally:
        writer.wait(10)
    assert not result.get('failed'), result['msg']
    assert result['rounds'] > 1
    assert result['checks'][0]['attempts'] == result['rounds']
    assert result['checks'][0]['status'] == 200


def test_failure_names_every_failed_required_check_and_spares_advisory_ones(service, run_module):
    closed_port = free_port()
    checks = [
        {'name': 'liveness', 'path': '/health'},
        {'name': 'missing page', 'path': '/nope', 'status': ['200']},
        {'name': 'wrong version', 'path': '/version', 'body_regex': '^3\\.'},
        {'name': 'websocket (optional)', 'type': 'tcp', 'port': closed_port, 'required': False},
    ]
    result = run_module('artisan.upgrade.smoke_test', suite(service, checks, timeout=1.5))
    assert result['failed'] is True
    lines = result['msg'].splitlines()
    assert lines[0].startswith('smoke test failed after ') and lines[0].endswith('2 required check(s) failing:')
    assert lines[1:] == ['missing page: status 503, expected 200', "wrong version: body does not match '^3\\\\.'"]
    assert [c['ok'] for c in result['checks']] == [True, False, False, False]
    assert result['totals'] == {'total': 4, 'passed': 1, 'failed': 3, 'failed_required': 2}
    assert 'cannot connect to 127.0.0.1:%d' % closed_port in result['checks'][3]['message']


def test_unreachable_service_fails_with_the_transport_error(run_module):
    url = 'http://127.0.0.1:%d' % free_port()
    result = run_module('artisan.upgrade.smoke_test',
                        {'base_url': url, 'checks': [{'path': '/health'}], 'timeout': 1, 'interval': 0.2})
    assert result['failed'] is True
    assert result['msg'].splitlines()[1] == 'http /health: cannot connect: Connection refused'

    assert result['checks'][0]['status'] is None


def test_secret_headers_are_sent_but_never_returned(service, run_module):
    token = 'Bearer s3cr3t-token-value'
    checks = [{'name': 'auth echo', 'path': '/echo-auth', 'secret_headers': {'Authorization': token},
               'body_regex': '^Bearer [a-z0-9-]{18}$'}]
    result = run_module('artisan.upgrade.smoke_test', suite(service, checks))
    assert not result.get('failed'), result['msg']
    assert 's3cr3t' not in json.dumps(result)


def test_a_credential_in_plain_headers_is_refused_before_the_checks_run(service, run_module):
    checks = [{'name': 'auth echo', 'path': '/echo-auth', 'headers': {'Authorization': 'Bearer s3cr3t-token-value'}}]
    result = run_module('artisan.upgrade.smoke_test', suite(service, checks))
    assert result['failed'] is True
    assert 'header Authorization carries a credential' in result['msg'] and 'secret_headers' in result['msg']
    assert 'checks' not in result and 's3cr3t' not in result['msg']
