# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness judgements of the Kubernetes providers, on objects as the API returns them."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _canary_k8s as k8s
from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s
from ansible_collections.artisan.upgrade.plugins.module_utils._canary import CanaryError


def deployment(generation=2, observed=2, available=None, conditions=None):
    status = {'observedGeneration': observed, 'conditions': conditions or []}
    if available is not None:  # the API omits integer fields at zero
        status['availableReplicas'] = available
    return {'metadata': {'generation': generation}, 'spec': {'replicas': 3}, 'status': status}


def test_deployment_available_needs_the_scale_observed_and_the_pods_available():
    assert k8s.deployment_available(deployment(available=3), 3)
    assert not k8s.deployment_available(deployment(available=2), 3)
    assert not k8s.deployment_available(deployment(observed=1, available=3), 3)  # status of the previous scale
    assert not k8s.deployment_available(deployment(), 1)
    assert k8s.deployment_available(deployment(), 0)


def test_progress_deadline_exceeded_is_a_failure_reason():
    stuck = deployment(conditions=[{'type': 'Progressing', 'status': 'False', 'reason': 'ProgressDeadlineExceeded',
                                    'message': 'ReplicaSet "web-v2-5d9" has timed out progressing.'}])
    assert k8s.deadline_exceeded(stuck) == 'ReplicaSet "web-v2-5d9" has timed out progressing.'
    assert k8s.deadline_exceeded(deployment(conditions=[{'type': 'Progressing', 'reason': 'NewReplicaSetAvailable'}])) is None


def test_pod_ready():
    ready = {'metadata': {}, 'status': {'podIP': '10.244.0.5', 'conditions': [{'type': 'Ready', 'status': 'True'}]}}
    assert k8s._pod_ready(ready)
    assert not k8s._pod_ready(dict(ready, metadata={'deletionTimestamp': '2026-11-22T05:00:00Z'}))
    assert not k8s._pod_ready({'metadata': {}, 'status': {'podIP': '10.244.0.6', 'conditions': [{'type': 'Ready', 'status': 'False'}]}})
    assert not k8s._pod_ready({'metadata': {}, 'status': {'conditions': [{'type': 'Ready', 'status': 'True'}]}})


class FakeCluster:
    """The Cluster calls ServiceShift and ReplicaShift make, answered from dicts; records the writes."""

    def __init__(self, selector, ready=('10.0.0.2',), endpoints=(), failure=None, replicas=None, available=None):
        self.namespace = 'default'
        self.selector = dict(selector)
        self.ready = set(ready)
        self.endpoints = set(endpoints)
        self.failure = failure
        self.replicas = dict(replicas or {})
        self.available = dict(available or {})
        self.writes = []
        self.deadline = _k8s.Deadline(30)
        self.core = self

    def call(self, what, function, *args, **kwargs):
        return function(*args)

    def read_namespaced_service(self, name, namespace):
        return {'spec': {'selector': dict(self.selector)}}

    def change(self, kubectl, what, function, *args):
        self.writes.append(kubectl)
        return function(*args)

    def patch_namespaced_service(self, name, namespace, patch):
        self.selector = patch[0]['value']

    def ready_pod_ips(self, labels):
        return set(self.ready)

    def endpoint_ips(self, service):
        if self.failure is not None:
            raise self.failure
        return set(self.endpoints)

    def deployment(self, name):
        return {'metadata': {'generation': 1}, 'spec': {'replicas': self.replicas[name]},
                'status': {'observedGeneration': 1, 'availableReplicas': self.available.get(name, 0)}}

    def scale(self, name, replicas):
        self.writes.append('scale %s %d' % (name, replicas))
        self.replicas[name] = replicas


STABLE = {'app': 'web', 'version': '1'}
CANARY = {'app': 'web', 'version': '2'}


def service_params(weight=100, force=False, wait_timeout=30):
    return {'weight': weight, 'force': force, 'wait_timeout': wait_timeout,
            'k8s_service': {'name': 'web', 'stable_selector': STABLE, 'canary_selector': CANARY}}


def test_a_refused_switch_reports_the_live_state():
    cluster = FakeCluster(STABLE, ready=())
    with pytest.raises(CanaryError) as refused:
        k8s.ServiceShift(service_params(), cluster, False).perform()
    context = refused.value.context
    assert context['changed'] is False and cluster.writes == []
    assert context['achieved_weight'] == 0 and context['before_weight'] == 0
    assert context['after'] == context['before'] == {'selector': STABLE}
    assert context['diff']['after'] == context['diff']['before']


@pytest.mark.parametrize('failure', [RuntimeError('cannot read the endpoints'), KeyboardInterrupt()])
def test_any_exception_after_the_switch_puts_the_selector_back(failure):
    cluster = FakeCluster(STABLE, failure=failure)
    with pytest.raises(type(failure)):
        k8s.ServiceShift(service_params(), cluster, False).perform()
    assert cluster.selector == STABLE
    assert len(cluster.writes) == 2 and '"version": "1"' in cluster.writes[1]


def test_a_failed_wait_puts_the_selector_back_and_says_so():
    cluster = FakeCluster(STABLE, endpoints=())
    cluster.deadline = _k8s.Deadline(0)
    with pytest.raises(CanaryError) as failed:
        k8s.ServiceShift(service_params(wait_timeout=0), cluster, False, sleep=lambda seconds: None).perform()
    assert 'not done within 0s; the selector was put back' in failed.value.msg
    assert cluster.selector == STABLE
    assert failed.value.context['achieved_weight'] == 0 and failed.value.context['after'] == {'selector': STABLE}


def test_a_failing_put_back_is_reported_with_the_first_error():
    class Broken(FakeCluster):
        def patch_namespaced_service(self, name, namespace, patch):
            if patch[0]['value'] == STABLE:
                raise CanaryError('patch service web: connection refused')
            super().patch_namespaced_service(name, namespace, patch)

    cluster = Broken(STABLE, failure=RuntimeError('boom'))
    with pytest.raises(CanaryError, match='boom; putting the previous state back failed too: patch service web'):
        k8s.ServiceShift(service_params(), cluster, False).perform()


def test_a_canary_that_never_gets_available_is_scaled_back_and_reported_as_it_is():
    cluster = FakeCluster(STABLE, replicas={'v1': 10, 'v2': 0})
    cluster.deadline = _k8s.Deadline(0)
    params = {'weight': 30, 'force': False, 'wait_timeout': 0, 'k8s_replicas': {'stable': 'v1', 'canary': 'v2', 'total': 10}}
    with pytest.raises(CanaryError) as failed:
        k8s.ReplicaShift(params, cluster, False, sleep=lambda seconds: None).perform()
    assert cluster.writes == ['scale v2 3', 'scale v2 0'] and cluster.replicas == {'v1': 10, 'v2': 0}
    context = failed.value.context
    assert context['after'] == context['before'] == {'stable': 10, 'canary': 0} and context['achieved_weight'] == 0


def test_requests_wait_at_most_the_time_left():
    class ApiClient:
        @staticmethod
        def sanitize_for_serialization(answer):
            return answer

    calls = []
    now = [100.0]
    cluster = k8s.Cluster(ApiClient(), 'default', _k8s.Deadline(12, clock=lambda: now[0]))
    now[0] = 101.0
    cluster.call('get service web', lambda *args, **kwargs: calls.append(kwargs) or None)
    assert calls[0]['_request_timeout'] == 11
    now[0] = 130.0  # after the deadline: a few seconds to put things back
    cluster.call('get service web', lambda *args, **kwargs: calls.append(kwargs) or None)
    assert calls[1]['_request_timeout'] == _k8s.MIN_REQUEST_TIMEOUT
