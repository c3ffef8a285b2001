"""The ReplicaSet controller (pkg/controller/replicaset): pods from the template, ranked scale-down, status."""

from __future__ import annotations

import copy

from . import events
from .clock import parse_rfc3339
from .pods import is_active, pod_available, pod_condition, pod_ready
from .registry import Registry, resource_for
from .selectors import labels_match, selector_from_label_selector

REPLICASETS = resource_for('apps/v1', 'ReplicaSet')
PODS = resource_for('v1', 'Pod')
COMPONENT = 'replicaset-controller'


def deletion_rank(pod: dict) -> tuple:
    """ActivePodsWithRanks ordering: the pods sorted first are deleted first."""
    phase_rank = {'Pending': 0, 'Unknown': 1, 'Running': 2}.get((pod.get('status') or {}).get('phase'), 0)
    is_ready = pod_ready(pod)
    ready_since = parse_rfc3339(pod_condition(pod, 'Ready')['lastTransitionTime']) if is_ready else 0.0
    restarts = max([item.get('restartCount', 0) for item in (pod.get('status') or {}).get('containerStatuses') or []] + [0])
    created = parse_rfc3339(pod['metadata']['creationTimestamp'])
    return (1 if pod['spec'].get('nodeName') else 0, phase_rank, 1 if is_ready else 0, -ready_since, -restarts, -created,
            pod['metadata']['name'])


def replica_set_status(rs: dict, pods: list[dict], now: float) -> dict:
    """calculateStatus (replica_set_utils.go); replicas is always present, other zero counts are omitted."""
    template_labels = rs['spec']['template']['metadata'].get('labels') or {}
    min_ready = rs['spec'].get('minReadySeconds', 0)
    status = {
        'replicas': len(pods),
        'fullyLabeledReplicas': sum(1 for pod in pods
                                    if all((pod['metadata'].get('labels') or {}).get(k) == v for k, v in template_labels.items())),
        'readyReplicas': sum(1 for pod in pods if pod_ready(pod)),
        'availableReplicas': sum(1 for pod in pods if pod_available(pod, min_ready, now)),
        'observedGeneration': rs['metadata'].get('generation', 0),
    }
    conditions = (rs.get('status') or {}).get('conditions')
    if conditions:
        status['conditions'] = conditions
    return {key: value for key, value in status.items() if value or key == 'replicas'}


class ReplicaSetController:
    def __init__(self, registry: Registry):
        self.registry = registry

    def reconcile(self) -> None:
        for rs in self.registry.list(REPLICASETS):
            if not rs['metadata'].get('deletionTimestamp'):
                self.sync(rs)

    def _pods(self, rs: dict) -> list[dict]:
        selector = selector_from_label_selector(rs['spec']['selector'])
        return [pod for pod in self.registry.owned_by(PODS, rs)
                if is_active(pod) and labels_match(selector, pod['metadata'].get('labels'))]

    def sync(self, rs: dict) -> None:
        pods = self._pods(rs)
        diff = len(pods) - rs['spec'].get('replicas', 0)
        if diff < 0:
            for _missing in range(-diff):
                self._create_pod(rs)
        elif diff > 0:
            for pod in sorted(pods, key=deletion_rank)[:diff]:
                self.registry.delete(PODS, pod['metadata']['namespace'], pod['metadata']['name'])
                events.record(self.registry, rs, 'Normal', 'SuccessfulDelete', 'Deleted pod: %s' % pod['metadata']['name'], COMPONENT)
        # As upstream, status reflects the pods seen at the start of this sync; the next sync catches up.
        status = replica_set_status(rs, pods, self.registry.clock.now())
        if status != rs.get('status'):
            rs['status'] = status
            self.registry.update(REPLICASETS, rs['metadata']['namespace'], rs['metadata']['name'], rs, subresource='status')

    def _create_pod(self, rs: dict) -> None:
        template = copy.deepcopy(rs['spec']['template'])
        metadata = template.get('metadata') or {}
        pod = {'metadata': {'generateName': rs['metadata']['name'] + '-', 'labels': metadata.get('labels') or {},
                            'ownerReferences': [{'apiVersion': 'apps/v1', 'kind': 'ReplicaSet', 'name': rs['metadata']['name'],
                                                 'uid': rs['metadata']['uid'], 'controller': True, 'blockOwnerDeletion': True}]},
               'spec': template['spec']}
        if metadata.get('annotations'):
            pod['metadata']['annotations'] = metadata['annotations']
        created = self.registry.create(PODS, rs['metadata']['namespace'], pod)
        events.record(self.registry, rs, 'Normal', 'SuccessfulCreate', 'Created pod: %s' % created['metadata']['name'], COMPONENT)
