# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness judgements of the Kubernetes providers, on objects as the API returns them."""

from __future__ import annotations

from ansible_collections.artisan.upgrade.plugins.module_utils import _canary_k8s as k8s


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
