"""The DaemonSet controller (pkg/controller/daemon): one pod per node pinned by node affinity,
ControllerRevisions, RollingUpdate with maxUnavailable and no surge (delete the old pod, then create
the new one on that node once it is gone), OnDelete, and the status kubectl's rollout status reads."""

from __future__ import annotations

from dataclasses import dataclass

from . import events, history, rolling
from .deployment import pod_template_hash
from .pods import pod_available, pod_ready
from .registry import Registry, resource_for
from .runtime import pinned_node

DAEMONSETS = resource_for('apps/v1', 'DaemonSet')
NODES = resource_for('v1', 'Node')
PODS = resource_for('v1', 'Pod')
COMPONENT = 'daemonset-controller'
TEMPLATE_GENERATION = 'pod-template-generation'
TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation'
# Tolerations the controller adds to every daemon pod (util.AddOrUpdateDaemonPodTolerations).
DAEMON_TOLERATIONS = (
    {'key': 'node.kubernetes.io/not-ready', 'operator': 'Exists', 'effect': 'NoExecute'},
    {'key': 'node.kubernetes.io/unreachable', 'operator': 'Exists', 'effect': 'NoExecute'},
    {'key': 'node.kubernetes.io/disk-pressure', 'operator': 'Exists', 'effect': 'NoSchedule'},
    {'key': 'node.kubernetes.io/memory-pressure', 'operator': 'Exists', 'effect': 'NoSchedule'},
    {'key': 'node.kubernetes.io/pid-pressure', 'operator': 'Exists', 'effect': 'NoSchedule'},
    {'key': 'node.kubernetes.io/unschedulable', 'operator': 'Exists', 'effect': 'NoSchedule'},
)


@dataclass(frozen=True)
class DaemonPod:
    """What the decisions read of one daemon pod."""

    name: str
    updated: bool  # at the DaemonSet's current hash (or template generation)
    available: bool = False
    terminating: bool = False
    failed: bool = False


def node_affinity(node: str) -> dict:
    """The required node affinity the controller pins a daemon pod to its node with (ReplaceDaemonSetPodNodeNameNodeAffinity)."""
    return {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
        {'matchFields': [{'key': 'metadata.name', 'operator': 'In', 'values': [node]}]}]}}}


def manage_actions(nodes: list[str], pods_by_node: dict[str, list[DaemonPod]]) -> tuple[list[str], list[str]]:
    """manage/podsShouldBeOnNode (no surge): (nodes needing a pod, pods to delete).

    A node with no pod at all gets one (a terminating pod still blocks its replacement); failed pods are
    deleted; of several running pods on a node all but the oldest (listed first) are deleted.
    """
    create, delete = [], []
    for node in nodes:
        pods = pods_by_node.get(node, [])
        if not pods:
            create.append(node)
            continue
        running = []
        for pod in pods:
            if pod.terminating:
                continue
            if pod.failed:
                delete.append(pod.name)
                continue
            running.append(pod)
        delete.extend(pod.name for pod in running[1:])
    for node, pods in sorted(pods_by_node.items()):
        if node not in nodes:
            delete.extend(pod.name for pod in pods if not pod.terminating)
    return create, delete


def rolling_update_deletions(nodes: list[str], pods_by_node: dict[str, list[DaemonPod]], max_unavailable: int) -> list[str]:
    """rollingUpdate with maxSurge 0 (update.go): the old pods to delete now.

    Nodes without a pod, with both an old and a new pod, or with an unavailable new pod count as
    unavailable; unavailable old pods are always replaced; available old pods are deleted (nodes in
    name order) while fewer than ``max_unavailable`` nodes are unavailable.
    """
    unavailable = 0
    replace, candidates = [], []
    for node in nodes:
        live = [pod for pod in pods_by_node.get(node, []) if not pod.terminating]
        new = [pod for pod in live if pod.updated]
        old = [pod for pod in live if not pod.updated]
        if len(new) > 1 or len(old) > 1 or (bool(new) == bool(old)):
            unavailable += 1
        elif new:
            if not new[0].available:
                unavailable += 1
        elif not old[0].available:
            replace.append(old[0].name)
        elif unavailable < max_unavailable:
            candidates.append(old[0].name)
    room = min(max(max_unavailable - unavailable, 0), len(candidates))
    return replace + candidates[:room]


def daemonset_status(daemonset: dict, nodes: list[str], pods_by_node: dict[str, list[dict]], updated, now: float) -> dict:
    """updateDaemonSetStatus: per node that should run the pod, judged on its oldest pod.

    currentNumberScheduled, numberMisscheduled, desiredNumberScheduled and numberReady are always sent;
    observedGeneration, updatedNumberScheduled, numberAvailable and numberUnavailable are omitted at 0.
    """
    min_ready = daemonset['spec'].get('minReadySeconds', 0)
    desired = len(nodes)
    scheduled = ready = available = fresh = 0
    for node in nodes:
        pods = pods_by_node.get(node) or []
        if not pods:
            continue
        scheduled += 1
        pod = pods[0]
        if pod_ready(pod):
            ready += 1
            if pod_available(pod, min_ready, now):
                available += 1
        if updated(pod):
            fresh += 1
    status = {'currentNumberScheduled': scheduled, 'numberMisscheduled': 0, 'desiredNumberScheduled': desired,
              'numberReady': ready, 'observedGeneration': daemonset['metadata'].get('generation', 0),
              'updatedNumberScheduled': fresh, 'numberAvailable': available, 'numberUnavailable': desired - available}
    collisions = (daemonset.get('status') or {}).get('collisionCount')
    if collisions is not None:
        status['collisionCount'] = collisions
    keep = ('currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady', 'collisionCount')
    return {key: value for key, value in status.items() if value or key in keep}


def max_unavailable_of(daemonset: dict, desired: int) -> int:
    """maxUnavailable scaled on the nodes that should run the pod, rounding up; never 0 without surge."""
    update = daemonset['spec']['updateStrategy'].get('rollingUpdate') or {}
    value = rolling.scaled_value(update.get('maxUnavailable', 1), desired, True)
    return value if value > 0 else 1


class DaemonSetController:
    def __init__(self, registry: Registry):
        self.registry = registry

    def reconcile(self) -> None:
        for daemonset in self.registry.list(DAEMONSETS):
            if not daemonset['metadata'].get('deletionTimestamp'):
                self.sync(daemonset)

    def _updated(self, daemonset: dict, digest: str):
        generation = (daemonset['metadata'].get('annotations') or {}).get(TEMPLATE_GENERATION_ANNOTATION)

        def updated(pod: dict) -> bool:
            """IsPodUpdated: the hash label matches, or the template-generation label does."""
            labels = pod['metadata'].get('labels') or {}
            return labels.get(history.REVISION_LABEL) == digest or (generation is not None and labels.get(TEMPLATE_GENERATION) == generation)
        return updated

    def sync(self, daemonset: dict) -> None:
        namespace, name = daemonset['metadata']['namespace'], daemonset['metadata']['name']
        collision_count = (daemonset.get('status') or {}).get('collisionCount')
        digest = pod_template_hash(daemonset['spec']['template'], collision_count)
        revisions = history.owned_revisions(self.registry, daemonset)
        labels = dict(daemonset['spec']['template']['metadata'].get('labels') or {}, **{history.REVISION_LABEL: digest})
        history.ensure_revision(self.registry, daemonset, revisions, '%s-%s' % (name, digest), labels,
                                history.template_patch(daemonset), daemonset['metadata'].get('annotations'))
        now = self.registry.clock.now()
        updated = self._updated(daemonset, digest)
        nodes = sorted(node['metadata']['name'] for node in self.registry.list(NODES))
        by_node = self._pods_by_node(daemonset)
        min_ready = daemonset['spec'].get('minReadySeconds', 0)
        states = {node: [DaemonPod(pod['metadata']['name'], updated(pod), pod_available(pod, min_ready, now),
                                   bool(pod['metadata'].get('deletionTimestamp')),
                                   pod['status'].get('phase') in ('Failed', 'Succeeded')) for pod in pods]
                  for node, pods in by_node.items()}
        create, delete = manage_actions(nodes, states)
        if not create and not delete and daemonset['spec']['updateStrategy']['type'] == 'RollingUpdate':
            delete = rolling_update_deletions(nodes, states, max_unavailable_of(daemonset, len(nodes)))
        for node in create:
            self._create_pod(daemonset, node, digest)
        for pod_name in delete:
            self.registry.delete(PODS, namespace, pod_name)
            events.record(self.registry, daemonset, 'Normal', 'SuccessfulDelete', 'Deleted pod: %s' % pod_name, COMPONENT)
        by_node = self._pods_by_node(daemonset)
        revisions = history.owned_revisions(self.registry, daemonset)
        live = {'%s-%s' % (name, (pod['metadata'].get('labels') or {}).get(history.REVISION_LABEL))
                for pods in by_node.values() for pod in pods}
        live.add('%s-%s' % (name, digest))
        history.truncate_history(self.registry, daemonset, revisions, live)
        status = daemonset_status(daemonset, nodes, by_node, updated, now)
        if status != daemonset.get('status'):
            daemonset['status'] = status
            self.registry.update(DAEMONSETS, namespace, name, daemonset, subresource='status')

    def _pods_by_node(self, daemonset: dict) -> dict[str, list[dict]]:
        """The daemon pods per node (bound or pinned by affinity), oldest first."""
        by_node: dict[str, list[dict]] = {}
        for pod in history.owned_pods(self.registry, daemonset):
            node = pod['spec'].get('nodeName') or pinned_node(pod)
            if node:
                by_node.setdefault(node, []).append(pod)
        for pods in by_node.values():
            pods.sort(key=lambda pod: (pod['metadata']['creationTimestamp'], pod['metadata']['name']))
        return by_node

    def _create_pod(self, daemonset: dict, node: str, digest: str) -> None:
        pod = history.pod_from_template(daemonset, daemonset['spec']['template'])
        labels = pod['metadata'].setdefault('labels', {})
        labels[history.REVISION_LABEL] = digest
        generation = (daemonset['metadata'].get('annotations') or {}).get(TEMPLATE_GENERATION_ANNOTATION)
        if generation is not None:
            labels[TEMPLATE_GENERATION] = generation
        spec = pod['spec']
        spec['affinity'] = dict(spec.get('affinity') or {}, **node_affinity(node))
        tolerations = spec.setdefault('tolerations', [])
        for toleration in DAEMON_TOLERATIONS:
            if not any(item.get('key') == toleration['key'] and item.get('effect') == toleration['effect'] for item in tolerations):
                tolerations.append(dict(toleration))
        created = self.registry.create(PODS, daemonset['metadata']['namespace'], pod)
        events.record(self.registry, daemonset, 'Normal', 'SuccessfulCreate', 'Created pod: %s' % created['metadata']['name'], COMPONENT)
