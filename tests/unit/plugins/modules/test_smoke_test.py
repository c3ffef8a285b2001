# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument handling of smoke_test: every bad input fails before a request is sent, with a clear msg."""

from __future__ import annotations

import json
import socket

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.artisan.upgrade.plugins.modules import smoke_test


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        smoke_test.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize('args, message', [
    (dict(checks=[]), 'checks is empty'),
    (dict(checks=[dict(path='/x')]), "'/x' is not an http(s) URL; set base_url or give a full url"),
    (dict(base_url='http://127.0.0.1:1', checks=[dict(path='/x', status=['2xx', 'abc'])]), "status 'abc' is not a code"),
    (dict(base_url='http://127.0.0.1:1', checks=[dict(type='tcp')]), 'a tcp check needs port'),
    (dict(base_url='http://127.0.0.1:1', checks=[dict(path='/x')], consecutive_successes=0),
     'consecutive_successes must be 1 or more'),
    (dict(base_url='http://127.0.0.1:1', checks=[dict(path='/x')], timeout=0), 'timeout, request_timeout and interval must be positive'),
    (dict(base_url='http://127.0.0.1:1', checks=[dict(path='/x')], interval=0), 'timeout, request_timeout and interval must be positive'),
    (dict(base_url='http://127.0.0.1:1', checks=[dict(path='/x')], interval=5, max_interval=2),
     'max_interval (2) must not be less than interval (5)'),
    (dict(base_url='http://127.0.0.1:1', checks=[dict(path='/x', url='http://127.0.0.1:1/y')]),
     'parameters are mutually exclusive: path|url'),
    (dict(base_url='http://127.0.0.1:1', checks=[dict(path='/x', type='udp')]), 'value of type must be one of: http, websocket, tcp, metrics, got: udp'),
    (dict(base_url='http://127.0.0.1:1', checks=[dict(path='/x', headers={'X-Api-Key': 'k-1'})]),
     'check 1 (http /x): header X-Api-Key carries a credential, and plain headers are shown'),
])
def test_bad_input_fails_with_a_clear_message(capsys, args, message):
    rc, result = run_module(capsys, args)
    assert rc == 1
    assert result['failed'] is True
    assert message in result['msg']
    assert 'checks' not in result or isinstance(result['checks'], list)


def test_only_secret_headers_are_hidden_and_plain_ones_garble_nothing(capsys):
    # The plain value "connect" is a word of the result's message: no_log on headers masked it there.
    check = dict(path='/x', headers={'X-Env': 'connect'}, secret_headers={'X-Api-Key': 'k-0123456789'})
    rc, result = run_module(capsys, dict(base_url='http://127.0.0.1:1', checks=[check], timeout=0.2, interval=0.1,
                                         _ansible_inject_invocation=True))
    assert rc == 1
    assert result['checks'][0]['message'] == 'cannot connect: Connection refused'
    assert 'http /x: cannot connect: Connection refused' in result['msg']
    arguments = result['invocation']['module_args']['checks'][0]
    assert arguments['headers'] == {'X-Env': 'connect'}
    assert arguments['secret_headers'] == {'X-Api-Key': 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'}
    assert 'k-0123456789' not in json.dumps(result)


def test_a_refused_credential_is_hidden_from_the_task_arguments_too(capsys):
    check = dict(path='/x', headers={'X-Env': 'ok', 'Authorization': 'Bearer s3cr3t-0123'})
    rc, result = run_module(capsys, dict(base_url='http://127.0.0.1:1', checks=[check], _ansible_inject_invocation=True))
    assert rc == 1
    assert 'header Authorization carries a credential' in result['msg']
    assert result['invocation']['module_args']['checks'][0]['headers'] == {
        'X-Env': 'ok', 'Authorization': 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'}
    assert 's3cr3t' not in json.dumps(result)


@pytest.mark.parametrize('required', [False, True])
def test_without_the_websockets_library_only_a_required_websocket_check_fails_the_task(capsys, monkeypatch, required):
    monkeypatch.setattr(smoke_test._http, 'websocket_connect', None)
    with socket.socket() as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen()
        port = listener.getsockname()[1]
        checks = [dict(name='port', type='tcp', port=port),
                  dict(name='ws', type='websocket', path='/ws', send=[{'type': 'ping'}], required=required)]
        rc, result = run_module(capsys, dict(base_url='http://127.0.0.1:%d' % port, checks=checks, timeout=5))
    assert 'websockets' in (result['msg'] if required else result['checks'][1]['message']), result
    assert rc == (1 if required else 0), result
