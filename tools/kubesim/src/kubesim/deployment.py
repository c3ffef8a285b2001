"""The Deployment controller (pkg/controller/deployment): revisions, rolling and Recreate rollouts,
proportional scaling, history cleanup, status and the Progressing/Available conditions."""

from __future__ import annotations

import copy
import json

from . import events, rolling
from .clock import parse_rfc3339
from .registry import Registry, resource_for

DEPLOYMENTS = resource_for('apps/v1', 'Deployment')
REPLICASETS = resource_for('apps/v1', 'ReplicaSet')
PODS = resource_for('v1', 'Pod')

REVISION = 'deployment.kubernetes.io/revision'
REVISION_HISTORY = 'deployment.kubernetes.io/revision-history'
DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas'
MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas'
LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'
ROLLBACK_TO = 'deprecated.deployment.rollback.to'
# Annotations the controller never copies from a Deployment to its ReplicaSets (annotationsToSkip).
SKIPPED_ANNOTATIONS = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
POD_TEMPLATE_HASH = 'pod-template-hash'
MAX_REVISION_HISTORY_CHARS = 2000
COMPONENT = 'deployment-controller'
_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789'


def without_hash(template: dict) -> dict:
    result = copy.deepcopy(template)
    labels = (result.get('metadata') or {}).get('labels')
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
    return result


def templates_equal(a: dict, b: dict) -> bool:
    """EqualIgnoreHash: pod templates compare equal when only pod-template-hash differs."""
    return without_hash(a) == without_hash(b)


def pod_template_hash(template: dict, collision_count: int | None) -> str:
    """FNV-32a over the template (plus collision count), encoded like rand.SafeEncodeString.

    Upstream hashes the Go struct dump, so real hash values differ; the shape (digits mapped onto a
    vowel-free alphabet) and the behaviour (stable per template, changes with collisionCount) match.
    """
    data = json.dumps(template, sort_keys=True, separators=(',', ':')).encode()
    if collision_count:
        data += str(collision_count).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return ''.join(_ALPHANUMS[ord(char) % len(_ALPHANUMS)] for char in str(value))


def revision_of(rs: dict) -> int:
    try:
        return int((rs['metadata'].get('annotations') or {}).get(REVISION, '0'))
    except ValueError:
        return 0


def surge_and_unavailable(deployment: dict) -> tuple[int, int]:
    """MaxSurge and MaxUnavailable of a Deployment; Recreate has neither, unavailability is capped at replicas."""
    spec = deployment['spec']
    if spec['strategy']['type'] != 'RollingUpdate':
        return 0, 0
    replicas = spec.get('replicas', 0)
    update = spec['strategy'].get('rollingUpdate') or {}
    surge, unavailable = rolling.resolve_fenceposts(update.get('maxSurge'), update.get('maxUnavailable'), replicas)
    return surge, min(unavailable, replicas)


def _count(rs: dict, field: str) -> int:
    return (rs.get('status') or {}).get(field, 0)


def condition(status: dict, kind: str) -> dict | None:
    return next((item for item in status.get('conditions') or [] if item['type'] == kind), None)


def new_condition(kind: str, state: str, reason: str, message: str, now: str) -> dict:
    return {'type': kind, 'status': state, 'lastUpdateTime': now, 'lastTransitionTime': now, 'reason': reason, 'message': message}


def set_condition(status: dict, new: dict) -> None:
    """SetDeploymentCondition: no-op for the same status and reason; keep lastTransitionTime if status is unchanged."""
    current = condition(status, new['type'])
    if current and current['status'] == new['status'] and current['reason'] == new['reason']:
        return
    if current and current['status'] == new['status']:
        new = dict(new, lastTransitionTime=current['lastTransitionTime'])
    status['conditions'] = [item for item in status.get('conditions') or [] if item['type'] != new['type']] + [new]


def remove_condition(status: dict, kind: str) -> None:
    status['conditions'] = [item for item in status.get('conditions') or [] if item['type'] != kind]


def omit_zero(status: dict) -> dict:
    """The API's omitempty integers and empty lists disappear from the wire."""
    return {key: value for key, value in status.items() if value not in (0, None, [])}


def calculate_status(deployment: dict, all_rss: list[dict], new_rs: dict | None, now: str) -> dict:
    """calculateStatus (sync.go): counts from the ReplicaSets plus the Available condition."""
    available = sum(_count(rs, 'availableReplicas') for rs in all_rss)
    total_spec = sum(rs['spec'].get('replicas', 0) for rs in all_rss)
    status = {
        'observedGeneration': deployment['metadata'].get('generation', 0),
        'replicas': sum(_count(rs, 'replicas') for rs in all_rss),
        'updatedReplicas': _count(new_rs, 'replicas') if new_rs else 0,
        'readyReplicas': sum(_count(rs, 'readyReplicas') for rs in all_rss),
        'availableReplicas': available,
        'unavailableReplicas': max(0, total_spec - available),
        'conditions': copy.deepcopy((deployment.get('status') or {}).get('conditions') or []),
        'collisionCount': (deployment.get('status') or {}).get('collisionCount'),
    }
    _surge, unavailable = surge_and_unavailable(deployment)
    if available >= deployment['spec']['replicas'] - unavailable:
        set_condition(status, new_condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', now))
    else:
        set_condition(status, new_condition('Available', 'False', 'MinimumReplicasUnavailable',
                                            'Deployment does not have minimum availability.', now))
    return omit_zero(status)


def deployment_complete(deployment: dict, status: dict) -> bool:
    replicas = deployment['spec']['replicas']
    return (status.get('updatedReplicas', 0) == replicas and status.get('replicas', 0) == replicas
            and status.get('availableReplicas', 0) == replicas
            and status.get('observedGeneration', 0) >= deployment['metadata'].get('generation', 0))


def deployment_progressing(deployment: dict, new: dict) -> bool:
    """Progress = more updated, ready or available replicas, or fewer old ones, than the stored status says."""
    old = deployment.get('status') or {}

    def old_replicas(status):
        return status.get('replicas', 0) - status.get('updatedReplicas', 0)

    return (new.get('updatedReplicas', 0) > old.get('updatedReplicas', 0) or old_replicas(new) < old_replicas(old)
            or new.get('readyReplicas', 0) > old.get('readyReplicas', 0)
            or new.get('availableReplicas', 0) > old.get('availableReplicas', 0))


def deployment_timed_out(deployment: dict, status: dict, now: float) -> bool:
    current = condition(status, 'Progressing')
    if current is None or current['reason'] == 'NewReplicaSetAvailable':
        return False
    if current['reason'] == 'ProgressDeadlineExceeded':
        return True
    return parse_rfc3339(current['lastUpdateTime']) + deployment['spec']['progressDeadlineSeconds'] < now


def rollout_status(deployment: dict, all_rss: list[dict], new_rs: dict | None, now: float, stamp: str) -> dict:
    """syncRolloutStatus (progress.go): the new status including the Progressing condition."""
    status = calculate_status(deployment, all_rss, new_rs, stamp)
    has_deadline = deployment['spec'].get('progressDeadlineSeconds') is not None
    if not has_deadline:
        remove_condition(status, 'Progressing')
    current = condition(deployment.get('status') or {}, 'Progressing')
    complete = (status.get('replicas', 0) == status.get('updatedReplicas', 0) and current is not None
                and current['reason'] == 'NewReplicaSetAvailable')
    subject = 'ReplicaSet "%s"' % new_rs['metadata']['name'] if new_rs else 'Deployment "%s"' % deployment['metadata']['name']
    if has_deadline and not complete:
        if deployment_complete(deployment, status):
            set_condition(status, new_condition('Progressing', 'True', 'NewReplicaSetAvailable',
                                                '%s has successfully progressed.' % subject, stamp))
        elif deployment_progressing(deployment, status):
            progressing = new_condition('Progressing', 'True', 'ReplicaSetUpdated', '%s is progressing.' % subject, stamp)
            if current is not None:
                if current['status'] == 'True':
                    progressing['lastTransitionTime'] = current['lastTransitionTime']
                remove_condition(status, 'Progressing')
            set_condition(status, progressing)
        elif deployment_timed_out(deployment, status, now):
            set_condition(status, new_condition('Progressing', 'False', 'ProgressDeadlineExceeded',
                                                '%s has timed out progressing.' % subject, stamp))
    return omit_zero(status)


class DeploymentController:
    """Syncs every Deployment once per call, as one pass of the controller's work queue."""

    def __init__(self, registry: Registry):
        self.registry = registry

    @property
    def _now(self) -> str:
        return self.registry.clock.timestamp()

    def reconcile(self) -> None:
        for deployment in self.registry.list(DEPLOYMENTS):
            if self.registry.find(DEPLOYMENTS, deployment['metadata']['namespace'], deployment['metadata']['name']):
                self.sync(deployment)

    def _event(self, deployment: dict, message: str) -> None:
        events.record(self.registry, deployment, 'Normal', 'ScalingReplicaSet', message, COMPONENT)

    def _write_status(self, deployment: dict, status: dict) -> dict:
        if status == (deployment.get('status') or {}):
            return deployment
        deployment = dict(deployment, status=status)
        return self.registry.update(DEPLOYMENTS, deployment['metadata']['namespace'], deployment['metadata']['name'],
                                    deployment, subresource='status')

    def sync(self, deployment: dict) -> None:
        rss = sorted(self.registry.owned_by(REPLICASETS, deployment), key=_age)
        if deployment['metadata'].get('deletionTimestamp'):
            new_rs, olds = self._new_and_old(deployment, rss, create=False)
            self._write_status(deployment, calculate_status(deployment, olds + [rs for rs in [new_rs] if rs], new_rs, self._now))
            return
        deployment = self._check_paused_conditions(deployment)
        spec = deployment['spec']
        if spec.get('paused') or self._is_scaling_event(deployment, rss):
            self._sync_scale(deployment, rss)
        elif spec['strategy']['type'] == 'Recreate':
            self._rollout_recreate(deployment, rss)
        else:
            self._rollout_rolling(deployment, rss)

    def _check_paused_conditions(self, deployment: dict) -> dict:
        if deployment['spec'].get('progressDeadlineSeconds') is None:
            return deployment
        status = copy.deepcopy(deployment.get('status') or {})
        current = condition(status, 'Progressing')
        paused = deployment['spec'].get('paused', False)
        if current and current['reason'] == 'ProgressDeadlineExceeded':
            return deployment
        if paused and (current is None or current['reason'] != 'DeploymentPaused'):
            set_condition(status, new_condition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', self._now))
        elif not paused and current and current['reason'] == 'DeploymentPaused':
            set_condition(status, new_condition('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed', self._now))
        else:
            return deployment
        return self._write_status(deployment, status)

    @staticmethod
    def _is_scaling_event(deployment: dict, rss: list[dict]) -> bool:
        for rs in rss:
            desired = (rs['metadata'].get('annotations') or {}).get(DESIRED_REPLICAS)
            if rs['spec'].get('replicas', 0) > 0 and desired is not None and desired != str(deployment['spec']['replicas']):
                return True
        return False

    # -- new and old ReplicaSets -----------------------------------------------------------------

    def _new_and_old(self, deployment: dict, rss: list[dict], create: bool) -> tuple[dict | None, list[dict]]:
        """getAllReplicaSetsAndSyncRevision: find (or create) the new RS and sync revisions."""
        existing = next((rs for rs in rss if templates_equal(rs['spec']['template'], deployment['spec']['template'])), None)
        olds = [rs for rs in rss if existing is None or rs['metadata']['uid'] != existing['metadata']['uid']]
        new_revision = max([revision_of(rs) for rs in olds] + [0]) + 1
        if existing is not None:
            return self._sync_existing_new_rs(deployment, existing, new_revision), olds
        if not create:
            return None, olds
        return self._create_new_rs(deployment, olds, new_revision), olds

    def _sync_existing_new_rs(self, deployment: dict, rs: dict, new_revision: int) -> dict:
        updated = copy.deepcopy(rs)
        changed = set_new_rs_annotations(deployment, updated, new_revision, exists=True)
        if changed or updated['spec'].get('minReadySeconds', 0) != deployment['spec'].get('minReadySeconds', 0):
            updated['spec']['minReadySeconds'] = deployment['spec'].get('minReadySeconds', 0)
            if not updated['spec']['minReadySeconds']:
                updated['spec'].pop('minReadySeconds')
            rs = self.registry.update(REPLICASETS, rs['metadata']['namespace'], rs['metadata']['name'], updated)
        self._sync_deployment_revision(deployment, rs['metadata']['annotations'][REVISION], 'FoundNewReplicaSet',
                                       'Found new replica set "%s"' % rs['metadata']['name'], only_if_missing=True)
        return rs

    def _sync_deployment_revision(self, deployment: dict, revision: str, reason: str, message: str,
                                  only_if_missing: bool) -> None:
        """Write the revision annotation (and a first Progressing condition) through /status, in place."""
        fresh = copy.deepcopy(deployment)
        annotations = fresh['metadata'].setdefault('annotations', {})
        changed = annotations.get(REVISION) != revision
        annotations[REVISION] = revision
        status = fresh.setdefault('status', {})
        if fresh['spec'].get('progressDeadlineSeconds') is not None and (
                not only_if_missing or condition(status, 'Progressing') is None):
            set_condition(status, new_condition('Progressing', 'True', reason, message, self._now))
            changed = True
        if changed:
            stored = self.registry.update(DEPLOYMENTS, fresh['metadata']['namespace'], fresh['metadata']['name'], fresh,
                                          subresource='status')
            deployment.clear()
            deployment.update(stored)

    def _create_new_rs(self, deployment: dict, olds: list[dict], new_revision: int) -> dict:
        spec = deployment['spec']
        template = copy.deepcopy(spec['template'])
        pod_hash = pod_template_hash(template, (deployment.get('status') or {}).get('collisionCount'))
        template['metadata'].setdefault('labels', {})[POD_TEMPLATE_HASH] = pod_hash
        selector = copy.deepcopy(spec['selector'])
        selector.setdefault('matchLabels', {})[POD_TEMPLATE_HASH] = pod_hash
        metadata = deployment['metadata']
        rs = {'metadata': {'name': '%s-%s' % (metadata['name'], pod_hash), 'namespace': metadata['namespace'],
                           'labels': dict(template['metadata']['labels']),
                           'ownerReferences': [{'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': metadata['name'],
                                                'uid': metadata['uid'], 'controller': True, 'blockOwnerDeletion': True}]},
              'spec': {'replicas': 0, 'selector': selector, 'template': template}}
        if spec.get('minReadySeconds'):
            rs['spec']['minReadySeconds'] = spec['minReadySeconds']
        surge, _unavailable = surge_and_unavailable(deployment)
        total = sum(old['spec'].get('replicas', 0) for old in olds)
        if spec['strategy']['type'] == 'RollingUpdate':
            replicas = rolling.new_rs_replicas(spec['replicas'], surge, 0, total)
        else:
            replicas = spec['replicas']
        rs['spec']['replicas'] = replicas
        set_new_rs_annotations(deployment, rs, new_revision, exists=False)
        created = self.registry.create(REPLICASETS, metadata['namespace'], rs)
        if replicas > 0:
            self._event(deployment, 'Scaled up replica set %s from 0 to %d' % (created['metadata']['name'], replicas))
        self._sync_deployment_revision(deployment, str(new_revision), 'NewReplicaSetCreated',
                                       'Created new replica set "%s"' % created['metadata']['name'], only_if_missing=False)
        return created

    # -- scaling ---------------------------------------------------------------------------------

    def _scale(self, rs: dict, size: int, deployment: dict, operation: str | None = None,
               refresh_annotations: bool = False) -> tuple[bool, dict]:
        """scaleReplicaSet: size plus desired/max annotations; an event when the size changes.

        Rollouts go through scaleReplicaSetAndRecordEvent, which does nothing when the size is unchanged;
        proportional scaling refreshes the annotations regardless (``refresh_annotations``).
        """
        if not refresh_annotations and rs['spec'].get('replicas', 0) == size:
            return False, rs
        surge, _unavailable = surge_and_unavailable(deployment)
        updated = copy.deepcopy(rs)
        annotations_changed = set_replicas_annotations(updated, deployment['spec']['replicas'], deployment['spec']['replicas'] + surge)
        old_size = rs['spec'].get('replicas', 0)
        if old_size == size and not annotations_changed:
            return False, rs
        updated['spec']['replicas'] = size
        stored = self.registry.update(REPLICASETS, rs['metadata']['namespace'], rs['metadata']['name'], updated)
        if old_size != size:
            operation = operation or ('up' if old_size < size else 'down')
            self._event(deployment, 'Scaled %s replica set %s from %d to %d' % (operation, rs['metadata']['name'], old_size, size))
        return old_size != size, stored

    def _sync_scale(self, deployment: dict, rss: list[dict]) -> None:
        """sync(): scaling events and paused Deployments; no new RS is created."""
        new_rs, olds = self._new_and_old(deployment, rss, create=False)
        self._proportional_scale(deployment, new_rs, olds)
        if deployment['spec'].get('paused'):
            self._cleanup(deployment, olds)
        rss = sorted(self.registry.owned_by(REPLICASETS, deployment), key=_age)
        new_rs = next((rs for rs in rss if new_rs and rs['metadata']['uid'] == new_rs['metadata']['uid']), None)
        self._write_status(deployment, calculate_status(deployment, rss, new_rs, self._now))

    def _proportional_scale(self, deployment: dict, new_rs: dict | None, olds: list[dict]) -> None:
        replicas = deployment['spec']['replicas']
        active = [rs for rs in olds + ([new_rs] if new_rs else []) if rs['spec'].get('replicas', 0) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new_rs or (max(olds, key=_age) if olds else None))
            if target is not None and target['spec'].get('replicas', 0) != replicas:
                self._scale(target, replicas, deployment)
            return
        if new_rs is not None and _saturated(deployment, new_rs):
            for rs in olds:
                if rs['spec'].get('replicas', 0) > 0:
                    self._scale(rs, 0, deployment)
            return
        if deployment['spec']['strategy']['type'] != 'RollingUpdate':
            return
        surge, _unavailable = surge_and_unavailable(deployment)
        sized = [rolling.Sized(rs['metadata']['name'], rs['spec']['replicas'],
                               _int_annotation(rs, MAX_REPLICAS), index) for index, rs in enumerate(sorted(active, key=_age))]
        sizes = rolling.proportional_sizes(replicas, surge, sized, (deployment.get('status') or {}).get('replicas', 0))
        total_before = sum(rs['spec']['replicas'] for rs in active)
        operation = 'up' if sum(sizes.values()) > total_before else 'down'
        for rs in active:
            self._scale(rs, sizes[rs['metadata']['name']], deployment, operation, refresh_annotations=True)

    # -- rollouts --------------------------------------------------------------------------------

    def _rollout_rolling(self, deployment: dict, rss: list[dict]) -> None:
        new_rs, olds = self._new_and_old(deployment, rss, create=True)
        olds = sorted(olds, key=_age)
        replicas = deployment['spec']['replicas']
        surge, unavailable = surge_and_unavailable(deployment)
        new_counts = rolling.Counts(new_rs['spec'].get('replicas', 0), _count(new_rs, 'availableReplicas'))
        active = [rs for rs in olds if rs['spec'].get('replicas', 0) > 0]
        target, old_targets = rolling.rolling_step(
            replicas, surge, unavailable, new_counts,
            [rolling.Counts(rs['spec']['replicas'], _count(rs, 'availableReplicas')) for rs in active])
        scaled = False
        if target != new_counts.spec:
            scaled, new_rs = self._scale(new_rs, target, deployment)
        else:
            for rs, size in zip(active, old_targets):
                if size != rs['spec']['replicas']:
                    self._scale(rs, size, deployment)
                    scaled = True
        rss = sorted(self.registry.owned_by(REPLICASETS, deployment), key=_age)
        olds = [rs for rs in rss if rs['metadata']['uid'] != new_rs['metadata']['uid']]
        if not scaled and deployment_complete(deployment, deployment.get('status') or {}):
            self._cleanup(deployment, olds)
        self._write_status(deployment, rollout_status(deployment, rss, new_rs, self.registry.clock.now(), self._now))

    def _rollout_recreate(self, deployment: dict, rss: list[dict]) -> None:
        new_rs, olds = self._new_and_old(deployment, rss, create=False)
        scaled_down = False
        for rs in olds:
            if rs['spec'].get('replicas', 0) > 0:
                self._scale(rs, 0, deployment)
                scaled_down = True
        if not scaled_down and not self._old_pods_running(new_rs, olds):
            if new_rs is None:
                new_rs, olds = self._new_and_old(deployment, rss, create=True)
            if new_rs['spec'].get('replicas', 0) != deployment['spec']['replicas']:
                self._scale(new_rs, deployment['spec']['replicas'], deployment)
            elif deployment_complete(deployment, deployment.get('status') or {}):
                self._cleanup(deployment, olds)
        rss = sorted(self.registry.owned_by(REPLICASETS, deployment), key=_age)
        new_rs = next((rs for rs in rss if new_rs and rs['metadata']['uid'] == new_rs['metadata']['uid']), None)
        self._write_status(deployment, rollout_status(deployment, rss, new_rs, self.registry.clock.now(), self._now))

    def _old_pods_running(self, new_rs: dict | None, olds: list[dict]) -> bool:
        """Recreate waits until no old pod exists that is not Failed/Succeeded (terminating ones included)."""
        if sum(_count(rs, 'replicas') for rs in olds):
            return True
        for rs in olds:
            if new_rs and rs['metadata']['uid'] == new_rs['metadata']['uid']:
                continue
            for pod in self.registry.owned_by(PODS, rs):
                if (pod.get('status') or {}).get('phase') not in ('Failed', 'Succeeded'):
                    return True
        return False

    def _cleanup(self, deployment: dict, olds: list[dict]) -> None:
        """cleanupDeployment: delete the oldest-revision RSs beyond revisionHistoryLimit that are fully scaled down."""
        limit = deployment['spec'].get('revisionHistoryLimit')
        if limit is None:
            return
        alive = sorted([rs for rs in olds if not rs['metadata'].get('deletionTimestamp')], key=lambda rs: (revision_of(rs), _age(rs)))
        for rs in alive[:max(0, len(alive) - limit)]:
            status = rs.get('status') or {}
            if (status.get('replicas', 0) or rs['spec'].get('replicas', 0)
                    or rs['metadata'].get('generation', 0) > status.get('observedGeneration', 0)):
                continue
            self.registry.delete(REPLICASETS, rs['metadata']['namespace'], rs['metadata']['name'])


def _age(obj: dict) -> tuple:
    """ReplicaSetsByCreationTimestamp: creation time, ties broken by name."""
    return (obj['metadata']['creationTimestamp'], obj['metadata']['name'])


def _int_annotation(obj: dict, key: str) -> int | None:
    try:
        return int((obj['metadata'].get('annotations') or {})[key])
    except (KeyError, ValueError):
        return None


def _saturated(deployment: dict, rs: dict) -> bool:
    replicas = deployment['spec']['replicas']
    return (_int_annotation(rs, DESIRED_REPLICAS) == replicas and rs['spec'].get('replicas', 0) == replicas
            and _count(rs, 'availableReplicas') == replicas)


def set_replicas_annotations(rs: dict, desired: int, maximum: int) -> bool:
    annotations = rs['metadata'].setdefault('annotations', {})
    wanted = {DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(maximum)}
    changed = any(annotations.get(key) != value for key, value in wanted.items())
    annotations.update(wanted)
    return changed


def set_new_rs_annotations(deployment: dict, rs: dict, new_revision: int, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy annotations, raise the revision, keep the old one in revision-history."""
    annotations = rs['metadata'].setdefault('annotations', {})
    changed = False
    for key, value in (deployment['metadata'].get('annotations') or {}).items():
        if key not in SKIPPED_ANNOTATIONS and annotations.get(key) != value:
            annotations[key] = value
            changed = True
    old = annotations.get(REVISION)
    old_number = revision_of(rs)
    if old_number < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old is not None:
            history = [item for item in annotations.get(REVISION_HISTORY, '').split(',') if item]
            history.append(old)
            while len(','.join(history)) > MAX_REVISION_HISTORY_CHARS and len(history) > 1:
                history.pop(0)
            annotations[REVISION_HISTORY] = ','.join(history)
    if not exists:
        surge, _unavailable = surge_and_unavailable(deployment)
        replicas = deployment['spec']['replicas']
        changed = set_replicas_annotations(rs, replicas, replicas + surge) or changed
    return changed
