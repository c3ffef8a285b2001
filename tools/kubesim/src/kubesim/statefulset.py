"""The StatefulSet controller (pkg/controller/statefulset): ordinal pods, OrderedReady and Parallel
management, scale-down from the highest ordinal, ControllerRevisions, RollingUpdate from the highest
ordinal down honouring ``partition``, OnDelete, and the status kubectl's rollout status reads."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from . import events, history
from .pods import pod_available, pod_ready
from .registry import Registry, resource_for

STATEFULSETS = resource_for('apps/v1', 'StatefulSet')
PODS = resource_for('v1', 'Pod')
CLAIMS = resource_for('v1', 'PersistentVolumeClaim')
COMPONENT = 'statefulset-controller'
POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name'
POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index'


@dataclass(frozen=True)
class PodState:
    """What the decisions read of one pod: its revision and health."""

    revision: str
    healthy: bool = False  # Running, Ready and available for minReadySeconds
    terminating: bool = False
    failed: bool = False  # Failed or Succeeded: replaced


def ordinal_of(set_name: str, pod_name: str) -> int | None:
    """getOrdinal: the number after the set's name and a dash, None for a pod that is not ``<set>-<n>``."""
    prefix = set_name + '-'
    suffix = pod_name[len(prefix):] if pod_name.startswith(prefix) else ''
    return int(suffix) if suffix.isdigit() and (suffix == '0' or not suffix.startswith('0')) else None


def revision_for_new_pod(ordinal: int, partition: int | None, current: str, update: str) -> str:
    """newVersionedStatefulSetPod: RollingUpdate keeps ordinals below the partition at the current revision;
    everything else (and OnDelete, ``partition`` None) is created at the update revision."""
    return current if partition is not None and ordinal < partition else update


def statefulset_actions(replicas: int, pods: dict[int, PodState], parallel: bool, partition: int | None,
                        current: str, update: str) -> list[tuple]:
    """One sync of updateStatefulSet: ``('create', ordinal, revision)`` and ``('delete', ordinal)`` actions.

    OrderedReady stops at the first pod it creates, or that is terminating or not yet healthy; Parallel
    goes on. Then pods at ordinals >= replicas are deleted from the highest (one at a time, waiting, for
    OrderedReady). Then RollingUpdate (``partition`` not None) deletes the highest-ordinal pod at or above
    the partition that is not at the update revision, once every pod above it is healthy.
    """
    actions: list[tuple] = []
    monotonic = not parallel
    unhealthy = sorted(ordinal for ordinal, pod in pods.items() if not pod.healthy or pod.terminating)
    first_unhealthy = unhealthy[0] if unhealthy else None
    for ordinal in range(replicas):
        pod = pods.get(ordinal)
        if pod is None:
            actions.append(('create', ordinal, revision_for_new_pod(ordinal, partition, current, update)))
            if monotonic:
                return actions
            continue
        if pod.failed and not pod.terminating:
            actions.append(('delete', ordinal))
            if monotonic:
                return actions
            continue
        if monotonic and (pod.terminating or not pod.healthy):
            return actions
    for ordinal in sorted((ordinal for ordinal in pods if ordinal >= replicas), reverse=True):
        pod = pods[ordinal]
        if pod.terminating:
            if monotonic:
                return actions
            continue
        if monotonic and not pod.healthy and ordinal != first_unhealthy:
            return actions
        actions.append(('delete', ordinal))
        if monotonic:
            return actions
    if partition is None:
        return actions
    touched = {action[1] for action in actions}
    for ordinal in range(replicas - 1, partition - 1, -1):
        pod = pods.get(ordinal)
        if pod is None or ordinal in touched:
            return actions
        if pod.revision != update and not pod.terminating:
            actions.append(('delete', ordinal))
            return actions
        if pod.terminating or not pod.healthy:
            return actions
    return actions


def statefulset_status(statefulset: dict, pods: list[dict], current: str, update: str, collision_count: int, now: float) -> dict:
    """computeReplicaStatus + completeRollingUpdate; readyReplicas/currentReplicas/updatedReplicas and
    the revisions are omitted when empty, replicas and availableReplicas are always sent (no omitempty)."""
    min_ready = statefulset['spec'].get('minReadySeconds', 0)
    alive = [pod for pod in pods if not pod['metadata'].get('deletionTimestamp')]
    status = {
        'observedGeneration': statefulset['metadata'].get('generation', 0),
        'replicas': len(pods),
        'readyReplicas': sum(1 for pod in pods if _running_and_ready(pod)),
        'availableReplicas': sum(1 for pod in pods if _running_and_ready(pod) and pod_available(pod, min_ready, now)),
        'currentReplicas': sum(1 for pod in alive if _revision(pod) == current),
        'updatedReplicas': sum(1 for pod in alive if _revision(pod) == update),
        'currentRevision': current,
        'updateRevision': update,
        'collisionCount': collision_count,
    }
    if statefulset['spec']['updateStrategy']['type'] == 'RollingUpdate' and \
            status['updatedReplicas'] == status['replicas'] and status['readyReplicas'] == status['replicas']:
        status['currentReplicas'] = status['updatedReplicas']
        status['currentRevision'] = update
    conditions = (statefulset.get('status') or {}).get('conditions')
    if conditions:
        status['conditions'] = conditions
    keep = ('replicas', 'availableReplicas', 'collisionCount')
    return {key: value for key, value in status.items() if value or key in keep}


def _revision(pod: dict) -> str:
    return (pod['metadata'].get('labels') or {}).get(history.REVISION_LABEL, '')


def _running_and_ready(pod: dict) -> bool:
    return (pod.get('status') or {}).get('phase') == 'Running' and pod_ready(pod)


def pod_state(pod: dict, min_ready_seconds: int, now: float) -> PodState:
    return PodState(revision=_revision(pod),
                    healthy=_running_and_ready(pod) and pod_available(pod, min_ready_seconds, now),
                    terminating=bool(pod['metadata'].get('deletionTimestamp')),
                    failed=(pod.get('status') or {}).get('phase') in ('Failed', 'Succeeded'))


def partition_of(statefulset: dict) -> int | None:
    """The partition of a RollingUpdate (0 when unset), None for OnDelete."""
    strategy = statefulset['spec']['updateStrategy']
    if strategy['type'] != 'RollingUpdate':
        return None
    return (strategy.get('rollingUpdate') or {}).get('partition', 0)


class StatefulSetController:
    def __init__(self, registry: Registry):
        self.registry = registry

    def reconcile(self) -> None:
        for statefulset in self.registry.list(STATEFULSETS):
            self.sync(statefulset)

    def sync(self, statefulset: dict) -> None:
        name = statefulset['metadata']['name']
        revisions = history.owned_revisions(self.registry, statefulset)
        collision_count = (statefulset.get('status') or {}).get('collisionCount', 0)
        data = history.template_patch(statefulset)
        labels = dict(statefulset['spec']['template']['metadata'].get('labels') or {})
        digest = history.revision_hash(data, collision_count)
        labels[history.HASH_LABEL] = digest
        # newRevision copies every annotation of the set (the change-cause among them); a re-adopted revision keeps its own.
        update = history.ensure_revision(self.registry, statefulset, revisions, '%s-%s' % (name, digest), labels, data,
                                         statefulset['metadata'].get('annotations'))
        revisions = history.owned_revisions(self.registry, statefulset)
        by_name = {item['metadata']['name']: item for item in revisions}
        current = by_name.get((statefulset.get('status') or {}).get('currentRevision'), update)
        current_name, update_name = current['metadata']['name'], update['metadata']['name']
        now = self.registry.clock.now()
        min_ready = statefulset['spec'].get('minReadySeconds', 0)
        pods = {}
        for pod in history.owned_pods(self.registry, statefulset):
            ordinal = ordinal_of(name, pod['metadata']['name'])
            if ordinal is not None:
                pods[ordinal] = pod
        if not statefulset['metadata'].get('deletionTimestamp'):
            states = {ordinal: pod_state(pod, min_ready, now) for ordinal, pod in pods.items()}
            parallel = statefulset['spec'].get('podManagementPolicy') == 'Parallel'
            for action in statefulset_actions(statefulset['spec'].get('replicas', 1), states, parallel,
                                              partition_of(statefulset), current_name, update_name):
                if action[0] == 'create':
                    self._create_pod(statefulset, action[1], by_name[action[2]])
                else:
                    self._delete_pod(statefulset, pods[action[1]])
        all_pods = history.owned_pods(self.registry, statefulset)
        live = {current_name, update_name} | {_revision(pod) for pod in all_pods}
        history.truncate_history(self.registry, statefulset, revisions, live)
        status = statefulset_status(statefulset, all_pods, current_name, update_name, collision_count, now)
        if status != statefulset.get('status'):
            statefulset['status'] = status
            self.registry.update(STATEFULSETS, statefulset['metadata']['namespace'], name, statefulset, subresource='status')

    def _create_pod(self, statefulset: dict, ordinal: int, revision: dict) -> None:
        """newStatefulSetPod: `<set>-<ordinal>`, hostname and subdomain, identity labels, the revision's template."""
        name = '%s-%d' % (statefulset['metadata']['name'], ordinal)
        template = copy.deepcopy(revision['data']['spec']['template'])
        template.pop('$patch', None)
        pod = history.pod_from_template(statefulset, template, name)
        pod['metadata'].setdefault('labels', {}).update({history.REVISION_LABEL: revision['metadata']['name'],
                                                         POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal)})
        pod['spec']['hostname'] = name
        if statefulset['spec'].get('serviceName'):
            pod['spec']['subdomain'] = statefulset['spec']['serviceName']
        self._create_claims(statefulset, name)
        self.registry.create(PODS, statefulset['metadata']['namespace'], pod)
        self._event(statefulset, 'SuccessfulCreate', 'create Pod %s in StatefulSet %s successful' % (name, statefulset['metadata']['name']))

    def _create_claims(self, statefulset: dict, pod_name: str) -> None:
        """createPersistentVolumeClaims: `<template>-<pod>` per volumeClaimTemplate, once; kept when the pod goes."""
        namespace = statefulset['metadata']['namespace']
        for template in statefulset['spec'].get('volumeClaimTemplates') or []:
            name = '%s-%s' % (template['metadata']['name'], pod_name)
            if self.registry.find(CLAIMS, namespace, name) is not None:
                continue
            labels = dict(template['metadata'].get('labels') or {})
            labels.update(statefulset['spec']['selector'].get('matchLabels') or {})
            claim = {'apiVersion': 'v1', 'kind': 'PersistentVolumeClaim',
                     'metadata': {'name': name, 'labels': labels},
                     'spec': copy.deepcopy(template.get('spec') or {}), 'status': {'phase': 'Bound'}}
            self.registry.create(CLAIMS, namespace, claim)
            self._event(statefulset, 'SuccessfulCreate', 'create Claim %s Pod %s in StatefulSet %s success'
                        % (name, pod_name, statefulset['metadata']['name']))

    def _delete_pod(self, statefulset: dict, pod: dict) -> None:
        self.registry.delete(PODS, pod['metadata']['namespace'], pod['metadata']['name'])
        self._event(statefulset, 'SuccessfulDelete', 'delete Pod %s in StatefulSet %s successful'
                    % (pod['metadata']['name'], statefulset['metadata']['name']))

    def _event(self, statefulset: dict, reason: str, message: str) -> None:
        events.record(self.registry, statefulset, 'Normal', reason, message, COMPONENT)
