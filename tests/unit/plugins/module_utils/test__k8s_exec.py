# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boundary's pod exec: the channel framing on a websocket it owns, and how a refused exec reads."""

from __future__ import annotations

import json
import types

import pytest

websocket = pytest.importorskip('websocket')

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.artisan.upgrade.plugins.module_utils._run import Run  # noqa: E402  pylint: disable=wrong-import-position

BINARY, TEXT, CLOSE, PING = (websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_CLOSE,
                             websocket.ABNF.OPCODE_PING)


class FakeSocket:
    """A websocket-client WebSocket with scripted frames; records what is sent."""

    def __init__(self, frames, protocol='v5.channel.k8s.io'):
        self.frames = list(frames)
        self.protocol = protocol
        self.sent = []
        self.closed = False

    def getsubprotocol(self):
        return self.protocol

    def getheaders(self):
        return {}

    def recv_data_frame(self, control_frame=False):
        opcode, data = self.frames.pop(0)
        return opcode, types.SimpleNamespace(data=data)

    def send_binary(self, payload):
        self.sent.append(payload)

    def close(self):
        self.closed = True


def test_frames_are_channel_and_payload_until_the_server_closes():
    status = json.dumps({'status': 'Success'}).encode()
    socket = FakeSocket([(BINARY, b'\x01out'), (PING, b''), (BINARY, b''), (BINARY, b'\x02err'), (TEXT, b'\x03' + status),
                         (CLOSE, b''), (BINARY, b'\x01never read')])
    exec_ = _k8s.PodExec(socket)
    assert list(exec_.frames()) == [(1, b'out'), (2, b'err'), (3, status)]


def test_stdin_goes_on_channel_0_and_its_end_is_the_v5_close_message():
    socket = FakeSocket([])
    exec_ = _k8s.PodExec(socket)
    exec_.send_stdin(b'secret\n')
    exec_.close_stdin()
    exec_.close()
    assert socket.sent == [b'\x00secret\n', b'\xff\x00'] and socket.closed
    assert exec_.can_close_stdin and not _k8s.PodExec(FakeSocket([], 'v4.channel.k8s.io')).can_close_stdin


def test_a_refused_exec_reads_as_the_servers_message():
    body = json.dumps({'kind': 'Status', 'message': 'pods "db-9" not found', 'code': 404}).encode()
    assert _k8s.exec_refusal(404, body) == 'pods "db-9" not found (HTTP 404)'
    assert _k8s.exec_refusal(502, b'<html>bad gateway</html>') == 'exec refused (HTTP 502)'
    assert _k8s.exec_refusal(403, None) == 'exec refused (HTTP 403)'


def test_an_exec_to_a_closed_port_is_the_one_unreachable_message():
    pytest.importorskip('kubernetes')
    run = Run()
    client = _k8s.PodExecClient(_k8s.Kube.from_params({'host': 'http://127.0.0.1:9'}, run=run))
    with pytest.raises(_k8s.Unreachable, match='^cannot reach the Kubernetes API at http://127.0.0.1:9: '):
        client.exec('db', 'postgresql-0', ['pg_dump', '--version'])
    # Recorded as the websocket upgrade kubectl exec sends: no argument list, no query.
    assert run.commands == ['GET /api/v1/namespaces/db/pods/postgresql-0/exec']
