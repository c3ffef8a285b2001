# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import socket

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _http

requests = pytest.importorskip('requests')


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_refused_connection_is_described_in_a_few_words():
    url = 'http://127.0.0.1:%d/health' % closed_port()
    response = _http.http_probe(_http.new_session(True, None), {'url': url}, 2)
    assert (response.status, response.body, response.error) == (None, '', 'cannot connect: Connection refused')


def test_refused_tcp_connect_names_the_address():
    port = closed_port()
    _latency, error = _http.tcp_probe('127.0.0.1', port, 2)
    assert error == 'cannot connect to 127.0.0.1:%d: [Errno 111] Connection refused' % port


@pytest.mark.parametrize('exc, expected', [
    (requests.exceptions.ConnectTimeout('x'), 'cannot connect within 3s'),
    (requests.exceptions.ReadTimeout('x'), 'no response within 3s'),
    (requests.exceptions.InvalidURL('bad url'), 'InvalidURL: bad url'),
])
def test_describe_request_error(exc, expected):
    assert _http.describe_request_error(exc, 3) == expected


def test_session_ignores_proxies_from_the_environment_and_honours_tls_options():
    assert _http.new_session(True, None).trust_env is False
    assert _http.new_session(True, '/etc/ca.pem').verify == '/etc/ca.pem'
    assert _http.new_session(False, '/etc/ca.pem').verify is False
    assert _http.new_session(True, None, '/etc/client.pem', '/etc/client.key').cert == ('/etc/client.pem', '/etc/client.key')


@pytest.mark.parametrize('value, text', [(5.0, '5s'), (3, '3s'), (1.96, '2s'), (1.34, '1.3s'), (0.4987, '0.5s'), (0.042, '0.042s')])
def test_seconds_read_as_a_person_writes_them(value, text):
    assert _http.seconds(value) == text


@pytest.mark.parametrize('check, headers', [
    ({}, None),
    ({'headers': {'X-Env': 'ok'}}, {'X-Env': 'ok'}),
    ({'headers': {'X-Env': 'ok'}, 'secret_headers': {'X-Api-Key': 'k'}}, {'X-Env': 'ok', 'X-Api-Key': 'k'}),
    ({'headers': None, 'secret_headers': {'Authorization': 'Bearer t'}}, {'Authorization': 'Bearer t'}),
])
def test_plain_and_secret_headers_are_sent_together(check, headers):
    assert _http.request_headers(check) == headers
