# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watch loop of _rollout_api with scripted API answers: 410 Gone, dropped connections, API errors."""

from __future__ import annotations

import json
import queue
import threading

import pytest

pytest.importorskip('kubernetes')

from urllib3.exceptions import ProtocolError  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout_api as api_module  # noqa: E402  pylint: disable=wrong-import-position


class Stream:
    """A streamed watch response: JSON lines, then optionally a dropped connection."""

    def __init__(self, events, drop=False):
        self.lines = [json.dumps(event).encode() + b'\n' for event in events]
        self.drop = drop

    def stream(self, amt=None, decode_content=False):
        yield from self.lines
        if self.drop:
            raise ProtocolError('Response ended prematurely')

    def release_conn(self):
        pass


def modified(version):
    return {'type': 'MODIFIED', 'object': {'metadata': {'name': 'web', 'resourceVersion': str(version)}}}


class ScriptedApi(api_module.RolloutApi):
    """Answers each request with the next scripted answer (an exception is raised) and records the queries."""

    def __init__(self, answers, stop):
        super().__init__(api_client=None)
        self.answers = list(answers)
        self.queries = []
        self.stop = stop

    def request(self, method, path, query=None, body=None, content_type='application/json', stream=False, timeout=30):
        self.queries.append(dict(query or {}))
        if not self.answers:
            self.stop.set()
            return Stream([])
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def watch(answers, resource_version='5'):
    stop = threading.Event()
    api = ScriptedApi(answers, stop)
    events: queue.Queue = queue.Queue()
    api.watch_into('/apis/apps/v1/namespaces/default/deployments', {'fieldSelector': 'metadata.name=web'},
                   resource_version, 'workload', events, stop, lifetime=60)
    received = []
    while not events.empty():
        tag, event_type, payload = events.get()
        received.append((tag, event_type, payload if event_type in ('FAILED', 'GONE') else
                         [item['metadata']['resourceVersion'] for item in payload] if event_type == 'SYNC'
                         else payload['metadata']['resourceVersion']))
    return api, received


def test_expired_resource_version_is_listed_again_and_watched_from_the_list():
    gone = {'type': 'ERROR', 'object': {'kind': 'Status', 'code': 410, 'message': 'too old resource version: 5 (9)'}}
    listing = {'metadata': {'resourceVersion': '12'}, 'items': [{'metadata': {'name': 'web', 'resourceVersion': '11'}}]}
    api, received = watch([Stream([gone]), listing, Stream([modified(13)])])
    assert received == [('workload', 'GONE', None), ('workload', 'SYNC', ['11']), ('workload', 'MODIFIED', '13')]
    watches = [q for q in api.queries if q.get('watch')]
    assert [q['resourceVersion'] for q in watches[:2]] == ['5', '12']
    assert api.queries[1] == {'fieldSelector': 'metadata.name=web'}


def test_dropped_connection_watches_again_from_the_last_version_seen():
    api, received = watch([Stream([modified(6), modified(7)], drop=True), Stream([modified(8)])])
    assert [version for _tag, _type, version in received] == ['6', '7', '8']
    assert [q['resourceVersion'] for q in api.queries if q.get('watch')][:2] == ['5', '7']


def test_connection_that_keeps_dropping_fails_the_wait():
    drops = [ProtocolError('refused')] * (api_module.WATCH_RECONNECTS + 1)
    _api, received = watch(drops)
    [(tag, event_type, error)] = received
    assert (tag, event_type) == ('workload', 'FAILED') and isinstance(error, ProtocolError)


def test_an_api_error_in_the_stream_fails_the_wait_at_once():
    forbidden = {'type': 'ERROR', 'object': {'kind': 'Status', 'code': 403, 'message': 'forbidden'}}
    _api, received = watch([Stream([forbidden]), Stream([modified(9)])])
    [(_tag, event_type, error)] = received
    assert event_type == 'FAILED' and error.status == 403
