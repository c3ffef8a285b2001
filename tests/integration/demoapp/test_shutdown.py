"""SIGTERM stops a server gracefully: no new connections, requests in flight finish, exit status 0."""

from __future__ import annotations

import concurrent.futures
import json
import socket

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from .support import wait_for


@pytest.fixture(scope='module')
def dsn(migrated_dsn):
    return migrated_dsn('2.0.0')


def refuses_connections(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def in_flight(server, count):
    """True once `count` requests besides the scrape itself are in flight."""
    return server.metrics().value('http_active_connections') == count + 1


def test_sigterm_finishes_the_request_in_flight_and_refuses_new_ones(demoapp, dsn):
    server = demoapp.start('2.0.0', dsn=dsn)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(server.get, '/api/slow', params={'seconds': '3'})
        wait_for(lambda: in_flight(server, 1))
        server.terminate()
        wait_for(lambda: refuses_connections(server.port), timeout=5, interval=0.05)
        assert not slow.done(), 'the request in flight ended when the listener closed: %r' % (slow.exception() or slow.result())
        response = slow.result(timeout=15)
    assert (response.status_code, response.json()) == (200, {'slept': 3.0, 'version': '2.0.0'})
    assert server.wait_exit() == 0
    log = server.log()
    assert 'SIGTERM received: no longer accepting connections' in log and 'demoapp 2.0.0 stopped' in log
    assert log.index('SIGTERM received') < log.index('"GET /api/slow?seconds=3 HTTP/1.1" 200')


def test_sigterm_closes_websockets_and_bounds_the_wait(demoapp, dsn):
    server = demoapp.start('2.0.0', dsn=dsn, env={'SHUTDOWN_TIMEOUT': '1'})
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool, \
            ws_connect('ws://127.0.0.1:%d/ws' % server.port, open_timeout=5) as websocket:
        websocket.send(json.dumps({'type': 'ping'}))
        assert json.loads(websocket.recv(timeout=5)) == {'type': 'pong'}
        stuck = pool.submit(server.get, '/api/slow', params={'seconds': '60'}, timeout=30)
        wait_for(lambda: in_flight(server, 2))
        server.terminate()
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        # The 60 s request is cut off after SHUTDOWN_TIMEOUT: the process does not wait for it.
        assert server.wait_exit(timeout=15) == 0
        with pytest.raises(requests.RequestException):
            stuck.result(timeout=15).raise_for_status()
