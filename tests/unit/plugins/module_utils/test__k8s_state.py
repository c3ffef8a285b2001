# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared predicates on Kubernetes objects, on objects as the API returns them."""

from __future__ import annotations

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s_state as s


def deployment(generation=2, observed=2, available=None, conditions=None):
    status = {'observedGeneration': observed, 'conditions': conditions or []}
    if available is not None:  # the API omits integer fields at zero
        status['availableReplicas'] = available
    return {'metadata': {'generation': generation}, 'spec': {'replicas': 3}, 'status': status}


def waiting(reason, kind='containerStatuses'):
    return {'metadata': {'name': 'p'}, 'status': {kind: [{'name': 'c', 'state': {'waiting': {'reason': reason}}}]}}


def test_deployment_available_needs_the_scale_observed_and_the_pods_available():
    assert s.deployment_available(deployment(available=3), 3)
    assert not s.deployment_available(deployment(available=2), 3)
    assert not s.deployment_available(deployment(observed=1, available=3), 3)  # status of the previous scale
    assert not s.deployment_available(deployment(), 1)
    assert s.deployment_available(deployment(), 0)


def test_progress_deadline_exceeded():
    stuck = deployment(conditions=[{'type': 'Progressing', 'status': 'False', 'reason': 'ProgressDeadlineExceeded',
                                    'message': 'ReplicaSet "web-v2-5d9" has timed out progressing.'}])
    assert s.progress_deadline_exceeded(stuck)['message'] == 'ReplicaSet "web-v2-5d9" has timed out progressing.'
    assert s.progress_deadline_exceeded(deployment(conditions=[{'type': 'Progressing', 'reason': 'NewReplicaSetAvailable'}])) is None


def test_pod_ready_and_ready_ips():
    ready = {'metadata': {}, 'status': {'podIP': '10.244.0.5', 'conditions': [{'type': 'Ready', 'status': 'True'}]}}
    deleting = dict(ready, metadata={'deletionTimestamp': '2026-11-22T05:00:00Z'})
    unready = {'metadata': {}, 'status': {'podIP': '10.244.0.6', 'conditions': [{'type': 'Ready', 'status': 'False'}]}}
    no_ip = {'metadata': {}, 'status': {'conditions': [{'type': 'Ready', 'status': 'True'}]}}
    assert s.pod_ready(ready) and not s.pod_ready(deleting) and not s.pod_ready(unready)
    assert s.ready_pod_ips([ready, deleting, unready, no_ip]) == {'10.244.0.5'}


def test_failure_reasons_are_one_set_for_rollouts_and_jobs():
    for reason in ('ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CrashLoopBackOff',
                   'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError'):
        assert s.pod_problem(waiting(reason)).reason == reason
        assert s.pod_problem(waiting(reason, 'initContainerStatuses')).reason == reason
    assert s.pod_problem(waiting('ContainerCreating')) is None


def test_endpoint_slice_addresses_count_an_unset_ready_as_ready():
    slices = [{'endpoints': [{'addresses': ['10.0.0.1'], 'conditions': {'ready': True}},
                             {'addresses': ['10.0.0.2'], 'conditions': {'ready': False}},
                             {'addresses': ['10.0.0.3']}]},
              {'endpoints': None}]
    assert s.ready_slice_addresses(slices) == {'10.0.0.1', '10.0.0.3'}


def test_job_outcome_and_exit_code():
    job = {'metadata': {'name': 'j'}, 'status': {'conditions': [{'type': 'Failed', 'status': 'True'}]}}
    assert s.job_outcome(job) == 'Failed'
    assert s.job_outcome({'metadata': {'name': 'j'}, 'status': {}}) is None
    ended = {'metadata': {'name': 'p'}, 'status': {'containerStatuses': [{'name': 'c', 'state': {'terminated': {'exitCode': 3}}}]}}
    assert s.exit_code([waiting('ContainerCreating'), ended]) == 3 and s.exit_code([]) is None


def test_selectors():
    assert s.labels_selector({'version': '2', 'app': 'web'}) == 'app=web,version=2'
    assert s.label_selector({'matchLabels': {'app': 'web'}, 'matchExpressions': [
        {'key': 'tier', 'operator': 'In', 'values': ['a', 'b']}, {'key': 'canary', 'operator': 'DoesNotExist'}]}) \
        == 'app=web,tier in (a,b),!canary'
