# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decision logic of k8s_rollout, on objects as the API sends them (plain dicts, camelCase).

Completion rules are kubectl's (pkg/polymorphichelpers/rollout_status.go), undo is kubectl's
rollback.go, restart is ``kubectl rollout restart`` plus a token that makes it idempotent.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils._k8s_state import (  # noqa: F401  pylint: disable=unused-import
    FAILURE_REASONS, POD_TEMPLATE_HASH, PodProblem, PodSuspects, describe_problem, generation_observed, has_crashed,
    label_selector, pod_not_ready, pod_problem, pod_ready, progress_deadline_exceeded)

KINDS = ('Deployment', 'StatefulSet', 'DaemonSet')
REVISION_ANNOTATION = 'deployment.kubernetes.io/revision'
CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause'
RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt'
RESTART_TOKEN_ANNOTATION = 'artisan.upgrade/restart-token'
DAEMONSET_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation'
# The numbers a ReplicaSet had before a rollback re-numbered it (kubectl ignores them, and so do we).
RS_REVISION_HISTORY = 'deployment.kubernetes.io/revision-history'
# Deployment annotations a rollback keeps from the Deployment instead of taking them from the ReplicaSet.
ROLLBACK_KEEPS = frozenset((
    'kubectl.kubernetes.io/last-applied-configuration',
    REVISION_ANNOTATION,
    RS_REVISION_HISTORY,
    'deployment.kubernetes.io/desired-replicas',
    'deployment.kubernetes.io/max-replicas',
    'deprecated.deployment.rollback.to',
))
_IMAGE = re.compile(r'^[^\s]+$')


class RolloutError(ValueError):
    """Input or state that makes the requested rollout impossible; the message says what and why."""


# --- rollout status --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RolloutStatus:
    done: bool
    message: str
    # Set when the rollout cannot finish by itself (e.g. ProgressDeadlineExceeded).
    failure: str | None = None


def deployment_status(deployment: dict[str, t.Any], stale_deadline: str | None = None) -> RolloutStatus:
    """kubectl's DeploymentStatusViewer: done, waiting (with kubectl's message) or failed.

    ``stale_deadline`` is the lastUpdateTime of a ProgressDeadlineExceeded condition that predates our
    own write; the controller may leave it in place for a while, so it does not count as a failure.
    """
    name = deployment['metadata']['name']
    spec, status = deployment.get('spec') or {}, deployment.get('status') or {}
    if not generation_observed(deployment):
        return RolloutStatus(False, 'Waiting for deployment spec update to be observed...')
    progressing = progress_deadline_exceeded(deployment)
    if progressing and progressing.get('lastUpdateTime') != stale_deadline:
        return RolloutStatus(False, 'deployment "%s" exceeded its progress deadline' % name,
                             failure='ProgressDeadlineExceeded')
    replicas = spec.get('replicas', 1)
    updated = status.get('updatedReplicas') or 0
    total = status.get('replicas') or 0
    available = status.get('availableReplicas') or 0
    if updated < replicas:
        return RolloutStatus(False, 'Waiting for deployment "%s" rollout to finish: %d out of %d new replicas have '
                                    'been updated...' % (name, updated, replicas))
    if total > updated:
        return RolloutStatus(False, 'Waiting for deployment "%s" rollout to finish: %d old replicas are pending '
                                    'termination...' % (name, total - updated))
    if available < updated:
        return RolloutStatus(False, 'Waiting for deployment "%s" rollout to finish: %d of %d updated replicas are '
                                    'available...' % (name, available, updated))
    return RolloutStatus(True, 'deployment "%s" successfully rolled out' % name)


def _update_strategy(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    return (obj.get('spec') or {}).get('updateStrategy') or {}


def statefulset_status(statefulset: dict[str, t.Any]) -> RolloutStatus:
    """kubectl's StatefulSetStatusViewer; OnDelete is done once the template is observed (pods change on delete)."""
    spec, status = statefulset.get('spec') or {}, statefulset.get('status') or {}
    strategy = _update_strategy(statefulset)
    if not status.get('observedGeneration') or not generation_observed(statefulset):
        return RolloutStatus(False, 'Waiting for statefulset spec update to be observed...')
    if strategy.get('type', 'RollingUpdate') != 'RollingUpdate':
        return RolloutStatus(True, 'statefulset "%s" uses OnDelete: its pods take the new template only when they '
                                   'are deleted' % statefulset['metadata']['name'])
    replicas = spec.get('replicas', 1)
    ready = status.get('readyReplicas') or 0
    updated = status.get('updatedReplicas') or 0
    if ready < replicas:
        return RolloutStatus(False, 'Waiting for %d pods to be ready...' % (replicas - ready))
    rolling = strategy.get('rollingUpdate')
    if rolling is not None:
        partition = rolling.get('partition') or 0
        if updated < replicas - partition:
            return RolloutStatus(False, 'Waiting for partitioned roll out to finish: %d out of %d new pods have been '
                                        'updated...' % (updated, replicas - partition))
        return RolloutStatus(True, 'partitioned roll out complete: %d new pods have been updated...' % updated)
    if status.get('updateRevision') != status.get('currentRevision'):
        return RolloutStatus(False, 'waiting for statefulset rolling update to complete %d pods at revision %s...'
                             % (updated, status.get('updateRevision')))
    return RolloutStatus(True, 'statefulset rolling update complete %d pods at revision %s...'
                         % (status.get('currentReplicas') or 0, status.get('currentRevision')))


def daemonset_status(daemonset: dict[str, t.Any]) -> RolloutStatus:
    """kubectl's DaemonSetStatusViewer; OnDelete is done once the template is observed."""
    name = daemonset['metadata']['name']
    status = daemonset.get('status') or {}
    if not generation_observed(daemonset):
        return RolloutStatus(False, 'Waiting for daemon set spec update to be observed...')
    if _update_strategy(daemonset).get('type', 'RollingUpdate') != 'RollingUpdate':
        return RolloutStatus(True, 'daemon set "%s" uses OnDelete: its pods take the new template only when they '
                                   'are deleted' % name)
    desired = status.get('desiredNumberScheduled') or 0
    updated = status.get('updatedNumberScheduled') or 0
    available = status.get('numberAvailable') or 0
    if updated < desired:
        return RolloutStatus(False, 'Waiting for daemon set "%s" rollout to finish: %d out of %d new pods have been '
                                    'updated...' % (name, updated, desired))
    if available < desired:
        return RolloutStatus(False, 'Waiting for daemon set "%s" rollout to finish: %d of %d updated pods are '
                                    'available...' % (name, available, desired))
    return RolloutStatus(True, 'daemon set "%s" successfully rolled out' % name)


def rollout_status(obj: dict[str, t.Any], stale_deadline: str | None = None) -> RolloutStatus:
    kind = obj['kind']
    if kind == 'Deployment':
        return deployment_status(obj, stale_deadline)
    if kind == 'StatefulSet':
        return statefulset_status(obj)
    return daemonset_status(obj)


def progress_deadline_time(obj: dict[str, t.Any]) -> str | None:
    """lastUpdateTime of the object's ProgressDeadlineExceeded condition, if it has one."""
    progressing = progress_deadline_exceeded(obj)
    return None if progressing is None else progressing.get('lastUpdateTime') or ''


def is_paused(obj: dict[str, t.Any]) -> bool:
    return bool((obj.get('spec') or {}).get('paused'))


def replica_counts(obj: dict[str, t.Any]) -> dict[str, int]:
    """The counts a user reads in ``kubectl get``, None read as 0 (the API omits zero values)."""
    status = obj.get('status') or {}
    if obj['kind'] == 'DaemonSet':
        fields = {'desired': 'desiredNumberScheduled', 'updated': 'updatedNumberScheduled', 'ready': 'numberReady',
                  'available': 'numberAvailable'}
        return {key: status.get(field) or 0 for key, field in fields.items()}
    return {'desired': (obj.get('spec') or {}).get('replicas', 1), 'current': status.get('replicas') or 0,
            'updated': status.get('updatedReplicas') or 0, 'ready': status.get('readyReplicas') or 0,
            'available': status.get('availableReplicas') or 0}


# --- images, env, change cause ---------------------------------------------------------------------

def _containers(template: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    spec = template.get('spec') or {}
    return list(spec.get('initContainers') or []) + list(spec.get('containers') or [])


def template_images(template: dict[str, t.Any]) -> dict[str, str]:
    """{container name: image} of the pod template, init containers included (as ``kubectl set image``)."""
    return {c['name']: c.get('image', '') for c in _containers(template)}


def requested_images(template: dict[str, t.Any], images: dict[str, t.Any] | None, image: str | None,
                     what: str) -> dict[str, str]:
    """The image map the user asked for, checked against the template's containers."""
    names = [c['name'] for c in (template.get('spec') or {}).get('containers') or []]
    if image is not None:
        if len(names) != 1:
            raise RolloutError('image needs a single-container workload; %s has containers %s: use images '
                               '(container name -> image)' % (what, ', '.join(names)))
        images = {names[0]: image}
    known = template_images(template)
    wanted = {}
    for name, value in (images or {}).items():
        if name not in known:
            raise RolloutError('%s has no container named %r (containers: %s)' % (what, name, ', '.join(known)))
        if not isinstance(value, str) or not _IMAGE.match(value):
            raise RolloutError('image of container %r must be an image reference such as registry/app:1.2.3, '
                               'got %r' % (name, value))
        wanted[name] = value
    return wanted


def _env_changes(container: dict[str, t.Any], wanted: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """Strategic-merge ``env`` entries that make the container's variables match ``wanted`` (None removes)."""
    current = {item['name']: item for item in container.get('env') or []}
    changes = []
    for name, value in sorted(wanted.items()):
        item = current.get(name)
        if value is None:
            if item is not None:
                changes.append({'name': name, '$patch': 'delete'})
        elif item is None or item.get('value') != value or 'valueFrom' in item:
            change = {'name': name, 'value': value}
            if item is not None and 'valueFrom' in item:
                change['valueFrom'] = None
            changes.append(change)
    return changes


def check_env(template: dict[str, t.Any], env: dict[str, t.Any] | None, what: str) -> dict[str, dict[str, t.Any]]:
    """``env`` as {container: {VAR: str or None}}, checked against the template."""
    known = template_images(template)
    checked = {}
    for container, variables in (env or {}).items():
        if container not in known:
            raise RolloutError('env: %s has no container named %r (containers: %s)' % (what, container, ', '.join(known)))
        if not isinstance(variables, dict):
            raise RolloutError('env: the variables of container %r must be a dict of NAME: value' % container)
        for name, value in variables.items():
            if value is not None and not isinstance(value, str):
                raise RolloutError('env: %s.%s must be a string (quote it) or null to remove it' % (container, name))
        checked[container] = dict(variables)
    return checked


def split_image(image: str) -> tuple[str, str]:
    """(repository, version): the tag or digest names the version; an image without either is all repository."""
    if '@' in image:
        repository, digest = image.split('@', 1)
        return repository, digest
    slash = image.rfind('/')
    colon = image.rfind(':')
    if colon > slash:
        return image[:colon], image[colon + 1:]
    return image, ''


def change_cause(before: dict[str, str], after: dict[str, str], env_containers: t.Iterable[str] = ()) -> str:
    """The text of the change-cause annotation, e.g. ``artisan.upgrade: 1.0.0 -> 2.0.0``."""
    changed = [name for name in after if before.get(name) != after[name]]
    parts = []
    for name in changed:
        old, new = split_image(before.get(name, '')), split_image(after[name])
        pair = '%s -> %s' % ((old[1], new[1]) if old[0] == new[0] and old[1] and new[1]
                             else (before.get(name, ''), after[name]))
        parts.append(pair if len(after) == 1 else '%s %s' % (name, pair))
    parts.extend('env of %s' % name for name in env_containers)
    return 'artisan.upgrade: %s' % ', '.join(parts)


@dataclasses.dataclass(frozen=True)
class RolloutPlan:
    """What ``state: rolled_out`` would write: a strategic-merge patch, or None when the template matches."""
    patch: dict[str, t.Any] | None
    images_before: dict[str, str]
    images_after: dict[str, str]
    annotations_before: dict[str, str]
    annotations_after: dict[str, str]


def plan_rollout(obj: dict[str, t.Any], images: dict[str, str], env: dict[str, dict[str, t.Any]],
                 cause: str | None = None) -> RolloutPlan:
    """Only what differs goes into the patch; nothing differs -> no patch (wait for the rollout, changed=false)."""
    template = obj['spec']['template']
    before = template_images(template)
    after = dict(before, **images)
    by_name = {c['name']: c for c in _containers(template)}
    init_names = {c['name'] for c in (template.get('spec') or {}).get('initContainers') or []}
    entries: dict[str, dict[str, t.Any]] = {}
    for name, image in images.items():
        if before[name] != image:
            entries.setdefault(name, {'name': name})['image'] = image
    env_changed = []
    for name, variables in env.items():
        changes = _env_changes(by_name[name], variables)
        if changes:
            entries.setdefault(name, {'name': name})['env'] = changes
            env_changed.append(name)
    annotations_before = dict(obj['metadata'].get('annotations') or {})
    if not entries:
        return RolloutPlan(None, before, after, annotations_before, annotations_before)
    pod_spec: dict[str, t.Any] = {}
    for name in sorted(entries):
        pod_spec.setdefault('initContainers' if name in init_names else 'containers', []).append(entries[name])
    annotation = cause or change_cause(before, after, env_changed)
    patch = {'metadata': {'annotations': {CHANGE_CAUSE_ANNOTATION: annotation}},
             'spec': {'template': {'spec': pod_spec}}}
    return RolloutPlan(patch, before, after, annotations_before,
                       dict(annotations_before, **{CHANGE_CAUSE_ANNOTATION: annotation}))


# --- restart ---------------------------------------------------------------------------------------

def restart_patch(obj: dict[str, t.Any], token: str | None, now_rfc3339: str) -> dict[str, t.Any] | None:
    """``kubectl rollout restart``'s patch; None when the template already carries this restart token."""
    if obj['kind'] == 'Deployment' and is_paused(obj):
        raise RolloutError("can't restart paused deployment %s (run 'kubectl rollout resume' first)"
                           % obj['metadata']['name'])
    annotations = ((obj['spec']['template'].get('metadata') or {}).get('annotations') or {})
    if token is not None and annotations.get(RESTART_TOKEN_ANNOTATION) == token:
        return None
    wanted = {RESTARTED_AT_ANNOTATION: now_rfc3339}
    if token is not None:
        wanted[RESTART_TOKEN_ANNOTATION] = token
    return {'spec': {'template': {'metadata': {'annotations': wanted}}}}


# --- undo ------------------------------------------------------------------------------------------

def _controlled_by(obj: dict[str, t.Any], owner_uid: str) -> bool:
    return any(ref.get('controller') and ref.get('uid') == owner_uid
               for ref in obj['metadata'].get('ownerReferences') or [])


def _without_hash(template: dict[str, t.Any]) -> dict[str, t.Any]:
    template = copy.deepcopy(template)
    labels = (template.get('metadata') or {}).get('labels')
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
    return template


def _revision_number(value: t.Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    """One revision of a workload: a ReplicaSet (Deployment) or a ControllerRevision (StatefulSet, DaemonSet)."""
    revision: int
    name: str
    template: dict[str, t.Any]
    annotations: dict[str, str]
    raw_data: dict[str, t.Any] | None = None


def history(obj: dict[str, t.Any], owned: list[dict[str, t.Any]]) -> list[HistoryEntry]:
    """The workload's revisions, oldest first, from the objects it controls (by its UID, as kubectl does)."""
    uid = obj['metadata']['uid']
    entries = []
    for item in owned:
        if not _controlled_by(item, uid):
            continue
        annotations = dict(item['metadata'].get('annotations') or {})
        if obj['kind'] == 'Deployment':
            entries.append(HistoryEntry(_revision_number(annotations.get(REVISION_ANNOTATION)),
                                        item['metadata']['name'], _without_hash(item['spec']['template']),
                                        annotations))
        else:
            template = copy.deepcopy(item['data']['spec']['template'])
            template.pop('$patch', None)
            entries.append(HistoryEntry(_revision_number(item.get('revision')), item['metadata']['name'],
                                        template, annotations, item['data']))
    return sorted(entries, key=lambda entry: entry.revision)


def current_revision(obj: dict[str, t.Any], entries: list[HistoryEntry]) -> int | None:
    """The revision number of the template the workload has now (None before the controller recorded it)."""
    if obj['kind'] == 'Deployment':
        annotated = _revision_number((obj['metadata'].get('annotations') or {}).get(REVISION_ANNOTATION))
        if annotated:
            return annotated
    matching = [e.revision for e in entries if e.template == _without_hash(obj['spec']['template'])]
    return max(matching) if matching else None


@dataclasses.dataclass(frozen=True)
class UndoPlan:
    target: HistoryEntry
    # None: the template already matches the target revision ("skipped rollback").
    patch: t.Any
    patch_type: str


def plan_undo(obj: dict[str, t.Any], entries: list[HistoryEntry], to_revision: int) -> UndoPlan:
    """kubectl rollout undo: ``to_revision`` 0 means the previous revision (the second highest).

    As kubectl (rollback.go), only the revision numbers the objects carry now count: a rollback gives the
    template it restores the next number, and its old number is gone from the history.
    """
    kind, name = obj['kind'], obj['metadata']['name']
    if to_revision == 0:
        if len(entries) < 2:
            raise RolloutError('no rollout history found for %s %s%s' % (
                kind.lower(), name, ': it has only revision %d' % entries[-1].revision if entries else ''))
        target = entries[-2]
    else:
        target = next((e for e in entries if e.revision == to_revision), None)
        if target is None:
            raise RolloutError('unable to find specified revision %d in history of %s %s (revisions: %s)'
                               % (to_revision, kind.lower(), name, ', '.join(str(e.revision) for e in entries)))
    if kind == 'Deployment' and is_paused(obj):
        raise RolloutError("you cannot rollback a paused deployment; resume it first with 'kubectl rollout "
                           "resume deployment/%s' and try again" % name)
    if target.template == _without_hash(obj['spec']['template']):
        return UndoPlan(target, None, '')
    if kind != 'Deployment':
        return UndoPlan(target, target.raw_data, 'application/strategic-merge-patch+json')
    current = obj['metadata'].get('annotations') or {}
    annotations = {key: value for key, value in current.items() if key in ROLLBACK_KEEPS}
    annotations.update({key: value for key, value in target.annotations.items() if key not in ROLLBACK_KEEPS})
    patch = [{'op': 'replace', 'path': '/spec/template', 'value': target.template},
             {'op': 'replace', 'path': '/metadata/annotations', 'value': annotations}]
    return UndoPlan(target, patch, 'application/json-patch+json')


def new_replicaset(deployment: dict[str, t.Any], replicasets: list[dict[str, t.Any]]) -> dict[str, t.Any] | None:
    """The Deployment controller's new ReplicaSet: the oldest owned one whose template equals the Deployment's."""
    template = _without_hash(deployment['spec']['template'])
    uid = deployment['metadata']['uid']
    matching = [rs for rs in replicasets
                if _controlled_by(rs, uid) and _without_hash(rs['spec']['template']) == template]
    matching.sort(key=lambda rs: (rs['metadata'].get('creationTimestamp') or '', rs['metadata']['name']))
    return matching[0] if matching else None


def new_revision_label(obj: dict[str, t.Any], new_rs: dict[str, t.Any] | None = None) -> tuple[str, str] | None:
    """The pod label (key, value) that marks pods of the revision being rolled out; None while unknown."""
    if not generation_observed(obj):
        return None
    if obj['kind'] == 'Deployment':
        labels = (new_rs or {}).get('spec', {}).get('template', {}).get('metadata', {}).get('labels') or {}
        return (POD_TEMPLATE_HASH, labels[POD_TEMPLATE_HASH]) if POD_TEMPLATE_HASH in labels else None
    if obj['kind'] == 'StatefulSet':
        update = (obj.get('status') or {}).get('updateRevision')
        return ('controller-revision-hash', update) if update else None
    generation = (obj['metadata'].get('annotations') or {}).get(DAEMONSET_GENERATION_ANNOTATION)
    return ('pod-template-generation', generation) if generation else None


# --- failures of new pods --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Verdict:
    done: bool
    failed: bool
    message: str
    reason: str | None = None
    problems: tuple[PodProblem, ...] = ()
    # Monotonic time at which a suspect pod's grace period ends, so the waiter wakes up to judge it.
    wake_at: float | None = None


class RolloutTracker(PodSuspects):
    """Everything seen about one rollout (the workload and its pods), judged at a given time.

    The pods are judged by PodSuspects' rules, only those of the new revision counting: a suspect older
    than ``grace`` seconds fails the rollout.
    """

    def __init__(self, grace: float, stale_deadline: str | None = None) -> None:
        super().__init__(grace)
        self.stale_deadline = stale_deadline
        self.obj: dict[str, t.Any] | None = None
        self.new_revision: tuple[str, str] | None = None

    def observe_object(self, obj: dict[str, t.Any]) -> None:
        self.obj = obj

    def _is_new(self, pod: dict[str, t.Any]) -> bool:
        labels = pod['metadata'].get('labels') or {}
        return self.new_revision is not None and labels.get(self.new_revision[0]) == self.new_revision[1]

    def unready_new_pods(self) -> list[str]:
        """Pods of the new revision that are not ready (what a forced StatefulSet rollback deletes)."""
        return sorted(name for name, pod in self.pods.items() if self._is_new(pod) and not pod_ready(pod))

    def not_ready_report(self) -> list[PodProblem]:
        """Why each pod of the new revision is not ready (every unready pod while the revision is unknown)."""
        known = self.new_revision is not None
        return [pod_not_ready(pod) for _name, pod in sorted(self.pods.items())
                if (self._is_new(pod) or not known) and not pod_ready(pod)]

    def verdict(self, now: float) -> Verdict:
        if self.obj is None:
            return Verdict(False, False, 'waiting for the first read')
        status = rollout_status(self.obj, self.stale_deadline)
        if status.done:
            return Verdict(True, False, status.message)
        if status.failure:
            return Verdict(False, True, status.message, status.failure)
        expired = tuple(s.problem for s in self.expired(now, self._is_new))
        if expired:
            reasons = sorted({p.reason for p in expired})
            detail = '; '.join(describe_problem(p) for p in expired)
            return Verdict(False, True, '%s %s: new pods are failing: %s' % (
                self.obj['kind'].lower(), self.obj['metadata']['name'], detail), ', '.join(reasons), expired)
        return Verdict(False, False, status.message, wake_at=self.wake_at(self._is_new))


def recent_events(events: list[dict[str, t.Any]], limit: int = 10) -> list[dict[str, t.Any]]:
    """The latest events first-to-last, by the time they last happened."""
    def when(event: dict[str, t.Any]) -> str:
        return event.get('lastTimestamp') or event.get('eventTime') or event['metadata'].get('creationTimestamp') or ''
    return sorted(events, key=when)[-limit:]


def failure_summary(diagnostics: list[dict[str, t.Any]]) -> str:
    """The diagnosed pods in one line for ``msg``: each pod's reason and its last warning event."""
    parts = []
    for entry in diagnostics:
        text = describe_problem(PodProblem(entry['pod'], entry['container'], entry['reason'], entry['message'],
                                           entry['restarts']))
        warnings = [line for line in entry.get('events') or [] if line.startswith('Warning ')]
        parts.append('%s, last event: %s' % (text, warnings[-1]) if warnings else text)
    return '; '.join(parts)


def event_line(event: dict[str, t.Any]) -> str:
    """One event as ``kubectl describe`` shows it: type, reason, (count), message."""
    count = event.get('count') or 1
    return '%s %s%s: %s' % (event.get('type', 'Normal'), event.get('reason', ''),
                            ' (x%d)' % count if count > 1 else '', event.get('message', ''))
