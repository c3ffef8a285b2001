# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_k8s.Kube against a scripted ApiClient: requests recorded, errors translated, the watch's 410 re-list and resume."""

from __future__ import annotations

import json
import queue
import threading
import types

import pytest

pytest.importorskip('kubernetes')

from urllib3.exceptions import MaxRetryError, ProtocolError  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.artisan.upgrade.plugins.module_utils._run import Run  # noqa: E402  pylint: disable=wrong-import-position

SERVER = 'http://127.0.0.1:6443'


class Answer:
    """What ApiClient.call_api returns: a status and a JSON body, or a stream of watch lines (then maybe a drop)."""

    def __init__(self, body=None, status=200, events=(), drop=False):
        self.status = status
        self.reason = 'Forbidden' if status == 403 else 'OK'
        self.data = json.dumps(body).encode()
        self.lines = [json.dumps(event).encode() + b'\n' for event in events]
        self.drop = drop
        self.response = self
        self.headers = {}

    def read(self):
        return self.data

    def stream(self, amt=None, decode_content=False):
        yield from self.lines
        if self.drop:
            raise ProtocolError('Response ended prematurely')

    def release_conn(self):
        pass


class ScriptedClient:
    """An ApiClient answering each call with the next scripted answer (an exception is raised); out of answers, stops."""

    configuration = types.SimpleNamespace(host=SERVER)

    def __init__(self, answers, stop=None):
        self.answers = list(answers)
        self.calls = []
        self.stop = stop or threading.Event()

    def param_serialize(self, method, resource_path, query_params=None, header_params=None, body=None, auth_settings=None):
        return method, (resource_path, dict(query_params or {})), header_params, body, None

    def call_api(self, method, url, headers, body, post, _request_timeout=None):
        path, query = url
        self.calls.append(dict(method=method, path=path, query=query, body=body, timeout=_request_timeout))
        if not self.answers:
            self.stop.set()
            return Answer()
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def modified(version, name='web'):
    return {'type': 'MODIFIED', 'object': {'metadata': {'name': name, 'resourceVersion': str(version)}}}


def watch(answers, resource_version='5'):
    client = ScriptedClient(answers)
    kube = _k8s.Kube(client)
    events: queue.Queue = queue.Queue()
    kube.watch_into('/apis/apps/v1/namespaces/default/deployments', {'fieldSelector': 'metadata.name=web'},
                    resource_version, 'workload', events, client.stop, lifetime=60)
    received = []
    while not events.empty():
        tag, event_type, payload = events.get()
        received.append((tag, event_type, payload if event_type in ('FAILED', 'GONE') else
                         [item['metadata']['resourceVersion'] for item in payload] if event_type == 'SYNC'
                         else payload['metadata']['resourceVersion']))
    return client, received


def test_expired_resource_version_is_listed_again_and_watched_from_the_list():
    gone = {'type': 'ERROR', 'object': {'kind': 'Status', 'code': 410, 'message': 'too old resource version: 5 (9)'}}
    listing = {'metadata': {'resourceVersion': '12'}, 'items': [{'metadata': {'name': 'web', 'resourceVersion': '11'}}]}
    client, received = watch([Answer(events=[gone]), Answer(listing), Answer(events=[modified(13)])])
    assert received == [('workload', 'GONE', None), ('workload', 'SYNC', ['11']), ('workload', 'MODIFIED', '13')]
    watches = [call['query'] for call in client.calls if call['query'].get('watch')]
    assert [query['resourceVersion'] for query in watches[:2]] == ['5', '12']
    assert client.calls[1]['query'] == {'fieldSelector': 'metadata.name=web'}


def test_dropped_connection_watches_again_from_the_last_version_seen():
    client, received = watch([Answer(events=[modified(6), modified(7)], drop=True), Answer(events=[modified(8)])])
    assert [version for _tag, _type, version in received] == ['6', '7', '8']
    assert [call['query']['resourceVersion'] for call in client.calls if call['query'].get('watch')][:2] == ['5', '7']


def test_connection_that_keeps_dropping_fails_the_wait_with_the_one_unreachable_message():
    drops = [MaxRetryError(None, '/apis', 'Connection refused')] * (_k8s.WATCH_RECONNECTS + 1)
    client, received = watch(drops)
    [(tag, event_type, error)] = received
    assert (tag, event_type) == ('workload', 'FAILED') and isinstance(error, _k8s.Unreachable)
    assert error.msg.startswith('cannot reach the Kubernetes API at %s: ' % SERVER)
    assert len(client.calls) == _k8s.WATCH_RECONNECTS + 1


def test_an_api_error_in_the_stream_fails_the_wait_at_once():
    forbidden = {'type': 'ERROR', 'object': {'kind': 'Status', 'code': 403, 'message': 'forbidden'}}
    _client, received = watch([Answer(events=[forbidden]), Answer(events=[modified(9)])])
    [(_tag, event_type, error)] = received
    assert event_type == 'FAILED' and isinstance(error, _k8s.ApiError) and error.status == 403


def test_every_request_is_recorded_as_method_and_path():
    run = Run()
    client = ScriptedClient([Answer({'kind': 'Deployment'}), Answer({'kind': 'Deployment'}), Answer({})])
    kube = _k8s.Kube(client, run=run)
    path = _k8s.api_path('apps/v1', 'deployments', 'default', 'web')
    kube.get(path)
    kube.patch(path, {'spec': {'replicas': 2}}, dry_run=True)
    kube.delete(_k8s.api_path('v1', 'pods', 'default', 'web-1'), propagation='Background')
    assert run.commands == ['GET /apis/apps/v1/namespaces/default/deployments/web',
                            'PATCH /apis/apps/v1/namespaces/default/deployments/web?dryRun=All',
                            'DELETE /api/v1/namespaces/default/pods/web-1']
    assert client.calls[2]['body']['propagationPolicy'] == 'Background'


def test_an_error_answer_carries_the_servers_message_and_status():
    missing = {'kind': 'Status', 'code': 404, 'message': 'deployments.apps "web" not found'}
    kube = _k8s.Kube(ScriptedClient([Answer(missing, status=404), Answer(missing, status=404)]))
    path = _k8s.api_path('apps/v1', 'deployments', 'default', 'web')
    assert kube.get_or_none(path) is None
    with pytest.raises(_k8s.ApiError) as raised:
        kube.get(path)
    assert raised.value.not_found and raised.value.msg == 'deployments.apps "web" not found (HTTP 404)'


def test_an_unreachable_server_is_one_message():
    kube = _k8s.Kube(ScriptedClient([MaxRetryError(None, '/api', 'Connection refused')]))
    with pytest.raises(_k8s.Unreachable) as raised:
        kube.get('/api/v1/namespaces/default/pods')
    assert raised.value.msg.startswith('cannot reach the Kubernetes API at %s: ' % SERVER)
    assert _k8s.is_unreachable(raised.value)


def test_requests_wait_at_most_the_time_left():
    now = [0.0]
    client = ScriptedClient([Answer({})])
    kube = _k8s.Kube(client, _k8s.Deadline(12, clock=lambda: now[0]))
    now[0] = 4.0
    kube.get('/api/v1/namespaces/default/services/web')
    assert client.calls[0]['timeout'] == 8.0


def test_paths_of_core_and_group_objects():
    assert _k8s.api_path('v1', 'pods', 'shop', 'web-1', 'log') == '/api/v1/namespaces/shop/pods/web-1/log'
    assert _k8s.api_path('networking.k8s.io/v1', 'ingresses', 'shop') == '/apis/networking.k8s.io/v1/namespaces/shop/ingresses'
    assert _k8s.api_path('v1', 'namespaces', name='shop') == '/api/v1/namespaces/shop'


def test_wait_until_judges_the_listed_objects_and_every_change():
    listing = {'metadata': {'resourceVersion': '3'}, 'items': [
        {'metadata': {'name': 'web', 'resourceVersion': '2'}, 'status': {'availableReplicas': 1}}]}
    change = {'type': 'MODIFIED', 'object': {'metadata': {'name': 'web', 'resourceVersion': '4'},
                                             'status': {'availableReplicas': 3}}}
    client = ScriptedClient([Answer(listing), Answer(events=[change])])
    kube = _k8s.Kube(client, _k8s.Deadline(30))
    seen = []

    def judge(objects):
        seen.append(objects['web']['web']['status']['availableReplicas'])
        return objects['web']['web']['status']['availableReplicas'] >= 3

    assert kube.wait_until({'web': ('/apis/apps/v1/namespaces/default/deployments', _k8s.name_selector('web'))}, judge)
    assert seen[-1] == 3  # events that arrive together are judged once


def test_wait_until_answers_none_at_the_deadline():
    now = [0.0]

    def clock():
        now[0] += 1.0
        return now[0]

    listing = {'metadata': {'resourceVersion': '3'}, 'items': []}
    client = ScriptedClient([Answer(listing)] + [Answer(events=[])] * 50)
    kube = _k8s.Kube(client, _k8s.Deadline(3, clock=clock))
    assert kube.wait_until({'pods': ('/api/v1/namespaces/default/pods', {})}, lambda objects: False, clock=clock) is None


class QuietWatch:
    """A watch whose stream lists one pod and then stays silent; it records how long each wait for events was."""

    def __init__(self, now):
        self.now = now
        self.waits = []

    def add(self, tag, path, query=None, resource_version=None):
        self.tag = tag

    def next(self, timeout):
        self.waits.append(timeout)
        self.now[0] += 1 if len(self.waits) == 1 else timeout
        if len(self.waits) == 1:
            return [(self.tag, 'SYNC', [{'metadata': {'name': 'web-1'}}])]
        return []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass


def test_wait_until_judges_again_at_the_wake_time_without_an_event():
    now = [0.0]
    kube = _k8s.Kube(ScriptedClient([]), _k8s.Deadline(300, clock=lambda: now[0]))
    quiet = QuietWatch(now)
    kube.watch = lambda lifetime=None: quiet
    since = []

    def judge(objects):
        since[:] = since or [now[0]]
        return 'stuck for %gs' % (now[0] - since[0]) if now[0] - since[0] >= 5 else False

    # The pod is listed at 1 s with a problem that may last 5 s: the judge hears of it again at 6 s, not at the deadline.
    answer = kube.wait_until({'pods': ('/api/v1/namespaces/default/pods', {})}, judge,
                             clock=lambda: now[0], wake_at=lambda: since[0] + 5 if since else None)
    assert answer == 'stuck for 5s'
    assert quiet.waits == [300, 5]
