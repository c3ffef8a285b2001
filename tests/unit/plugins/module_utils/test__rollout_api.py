# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RolloutApi's wait and diagnostics against a fake of the Kubernetes boundary (_k8s.Kube) with scripted watch events."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s
from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout as r
from ansible_collections.artisan.upgrade.plugins.module_utils._rollout_api import RolloutApi


def deployment(generation=2, observed=2, updated=3, available=3, total=3, version='10', uid='uid-web'):
    return {'kind': 'Deployment',
            'metadata': {'name': 'web', 'namespace': 'shop', 'uid': uid, 'generation': generation,
                         'resourceVersion': version},
            'spec': {'replicas': 3, 'selector': {'matchLabels': {'app': 'web'}},
                     'template': {'metadata': {'labels': {'app': 'web'}}, 'spec': {'containers': [{'name': 'web'}]}}},
            'status': {'observedGeneration': observed, 'replicas': total, 'updatedReplicas': updated,
                       'availableReplicas': available}}


class FakeWatch:
    def __init__(self, batches):
        self.batches = list(batches)
        self.streams = []

    def add(self, tag, path, query=None, resource_version=None):
        self.streams.append((tag, path, query, resource_version))

    def next(self, timeout):
        if not self.batches:
            raise AssertionError('the wait asked for more events than scripted')
        batch = self.batches.pop(0)
        for _tag, event_type, payload in batch:
            if event_type == 'FAILED':
                raise payload
        return batch

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass


class FakeKube:
    """The boundary's interface: scripted watch batches, listed ReplicaSets, pod logs by ``previous``."""

    def __init__(self, batches=(), replicasets=(), logs=None, events=None):
        self.deadline = _k8s.Deadline(60)
        self.watcher = FakeWatch(batches)
        self.replicasets = list(replicasets)
        self.logs = logs or {}
        self.events = events
        self.requests = []

    def watch(self, lifetime=None):
        return self.watcher

    def list(self, path, query=None):
        self.requests.append(('GET', path, query))
        if path.endswith('/events'):
            if isinstance(self.events, Exception):
                raise self.events
            return self.events or []
        return self.replicasets

    def pod_log(self, namespace, pod, container=None, tail_lines=None, previous=False):
        if previous not in self.logs:
            raise _k8s.ApiError('previous terminated container "web" not found (HTTP 400)', 400)
        return self.logs[previous]


def test_the_wait_watches_the_workload_from_the_version_read_and_its_pods_from_a_list():
    kube = FakeKube([[('workload', 'MODIFIED', deployment(version='11'))]])
    waited = RolloutApi(kube).wait(deployment(observed=1, updated=0, version='10'), r.RolloutTracker(5), timeout=30)
    assert waited.verdict.done and waited.obj['metadata']['resourceVersion'] == '11'
    assert kube.watcher.streams == [
        ('workload', '/apis/apps/v1/namespaces/shop/deployments', {'fieldSelector': 'metadata.name=web'}, '10'),
        ('pods', '/api/v1/namespaces/shop/pods', {'labelSelector': 'app=web'}, None)]
    assert waited.events == 1 and waited.progress[0]['message'] == 'Waiting for deployment spec update to be observed...'


def test_a_relist_is_counted_and_a_deleted_workload_ends_the_wait():
    kube = FakeKube([[('workload', 'GONE', None), ('workload', 'SYNC', [])]])
    with pytest.raises(_k8s.ApiError) as raised:
        RolloutApi(kube).wait(deployment(updated=1), r.RolloutTracker(5), timeout=30)
    assert raised.value.not_found and 'deleted while waiting' in raised.value.msg


def test_a_workload_replaced_while_waiting_is_a_conflict():
    kube = FakeKube([[('workload', 'MODIFIED', deployment(uid='another'))]])
    with pytest.raises(_k8s.ApiError) as raised:
        RolloutApi(kube).wait(deployment(updated=1), r.RolloutTracker(5), timeout=30)
    assert raised.value.status == 409


def test_a_failed_stream_fails_the_wait_with_its_error():
    kube = FakeKube([[('pods', 'FAILED', _k8s.Unreachable('http://127.0.0.1:1', 'connection refused'))]])
    with pytest.raises(_k8s.Unreachable):
        RolloutApi(kube).wait(deployment(updated=1), r.RolloutTracker(5), timeout=30)


def test_diagnostics_read_the_previous_log_of_a_crash_loop_and_stop_at_an_unreachable_server():
    crash = r.PodProblem('web-1', 'web', 'CrashLoopBackOff', 'back-off', 3)
    kube = FakeKube(logs={True: 'boot\nKeyError: DATABASE_URL\n'})
    [entry] = RolloutApi(kube).diagnostics('shop', [crash], log_lines=1)
    assert entry['logs'] == ['KeyError: DATABASE_URL'] and entry['events'] == []
    kube = FakeKube(events=_k8s.Unreachable('http://127.0.0.1:1', 'no answer in time'))
    report = RolloutApi(kube).diagnostics('shop', [crash, r.PodProblem('web-2', 'web', 'CrashLoopBackOff', '', 1)], 5)
    assert report[0]['events_error'].startswith('cannot reach the Kubernetes API at http://127.0.0.1:1')
    assert 'events_error' not in report[1] and len(kube.requests) == 1
