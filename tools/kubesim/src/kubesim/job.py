"""The Job controller (pkg/controller/job): pods up to parallelism until completions succeed, pod-failure
back-off, backoffLimit and activeDeadlineSeconds, status counts and the terminal conditions."""

from __future__ import annotations

import copy

from . import events
from .clock import parse_rfc3339
from .pods import TERMINAL_PHASES, is_active, pod_finished, pod_ready
from .registry import Registry, resource_for

JOBS = resource_for('batch/v1', 'Job')
PODS = resource_for('v1', 'Pod')
COMPONENT = 'job-controller'
POD_FAILURE_BACKOFF = 10.0  # DefaultJobPodFailureBackOff, doubling per failure
MAX_POD_FAILURE_BACKOFF = 600.0


def finished(job: dict) -> str | None:
    """'Complete' or 'Failed' once the job has that condition True."""
    for condition in (job.get('status') or {}).get('conditions') or []:
        if condition['type'] in ('Complete', 'Failed') and condition['status'] == 'True':
            return condition['type']
    return None


def failure_reason(job: dict, failed: int, active_restarts: int, started: float | None, now: float) -> tuple[str, str] | None:
    """(reason, message) when the job must fail: backoffLimit (pods, or restarts with OnFailure) or its deadline."""
    spec = job['spec']
    limit = spec.get('backoffLimit', 6)
    on_failure = spec['template']['spec'].get('restartPolicy') == 'OnFailure'
    past_on_failure = on_failure and (active_restarts > 0 if limit == 0 else active_restarts >= limit)
    if failed > limit or past_on_failure:
        return 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'
    deadline = spec.get('activeDeadlineSeconds')
    if deadline is not None and started is not None and now - started >= deadline:
        return 'DeadlineExceeded', 'Job was active longer than specified deadline'
    return None


def pods_to_create(job: dict, active: int, succeeded: int) -> int:
    """How many more pods to run now: up to parallelism, never more than completions still missing."""
    spec = job['spec']
    if spec.get('suspend'):
        return -active
    wanted = min(spec.get('parallelism', 1), max(spec.get('completions', 1) - succeeded, 0))
    return wanted - active


def pod_failure_backoff(failures: int) -> float:
    return 0.0 if failures <= 0 else min(POD_FAILURE_BACKOFF * 2 ** (failures - 1), MAX_POD_FAILURE_BACKOFF)


def _condition(kind: str, reason: str, message: str, now: str) -> dict:
    return {'type': kind, 'status': 'True', 'lastProbeTime': now, 'lastTransitionTime': now, 'reason': reason, 'message': message}


class JobController:
    def __init__(self, registry: Registry):
        self.registry = registry
        # Terminal pods already counted per job uid (upstream tracks them with a finalizer).
        self.counted: dict[str, dict[str, str]] = {}
        self.last_failure: dict[str, float] = {}

    def reconcile(self) -> None:
        for job in self.registry.list(JOBS):
            if job['metadata'].get('deletionTimestamp') or finished(job):
                continue
            self.sync(job)

    def sync(self, job: dict) -> None:
        clock = self.registry.clock
        now = clock.now()
        uid = job['metadata']['uid']
        status = copy.deepcopy(job.get('status') or {})
        pods = self.registry.owned_by(PODS, job)
        counted = self.counted.setdefault(uid, {})
        for pod in pods:
            phase = pod['status'].get('phase')
            if phase in TERMINAL_PHASES and pod['metadata']['uid'] not in counted:
                counted[pod['metadata']['uid']] = phase
                if phase == 'Failed':
                    self.last_failure[uid] = now
        succeeded = sum(1 for phase in counted.values() if phase == 'Succeeded')
        failed = sum(1 for phase in counted.values() if phase == 'Failed')
        active = [pod for pod in pods if is_active(pod)]
        terminating = [pod for pod in pods if pod['metadata'].get('deletionTimestamp') and not pod_finished(pod)]
        if 'startTime' not in status and not job['spec'].get('suspend'):
            status['startTime'] = clock.timestamp()
        restarts = sum(item.get('restartCount', 0) for pod in active for item in pod['status'].get('containerStatuses') or [])
        failure = failure_reason(job, failed, restarts, parse_rfc3339(status.get('startTime')), now)
        conditions = status.get('conditions') or []
        if failure:
            self._delete(active)
            active = []
            if not any(item['type'] == 'FailureTarget' for item in conditions):
                conditions.append(_condition('FailureTarget', failure[0], failure[1], clock.timestamp()))
            if not terminating:
                conditions.append(_condition('Failed', failure[0], failure[1], clock.timestamp()))
                events.record(self.registry, job, 'Warning', failure[0], failure[1], COMPONENT)
        elif succeeded >= job['spec'].get('completions', 1):
            self._delete(active)
            active = []
            message = 'Reached expected number of succeeded pods'
            if not any(item['type'] == 'SuccessCriteriaMet' for item in conditions):
                conditions.append(_condition('SuccessCriteriaMet', 'CompletionsReached', message, clock.timestamp()))
            if not terminating:
                conditions.append(_condition('Complete', 'CompletionsReached', message, clock.timestamp()))
                status['completionTime'] = clock.timestamp()
                events.record(self.registry, job, 'Normal', 'Completed', 'Job completed', COMPONENT)
        else:
            missing = pods_to_create(job, len(active), succeeded)
            if missing > 0 and now >= self.last_failure.get(uid, 0.0) + pod_failure_backoff(failed):
                for _index in range(missing):
                    self._create_pod(job)
            elif missing < 0:
                self._delete(active[:-missing])
        status.update({'active': len(active), 'ready': sum(1 for pod in active if pod_ready(pod)), 'succeeded': succeeded,
                       'failed': failed, 'terminating': len(terminating), 'uncountedTerminatedPods': {}})
        if conditions:
            status['conditions'] = conditions
        # Zero counts are omitted on the wire (int32 with omitempty); ready and terminating are pointers, kept at 0.
        status = {key: value for key, value in status.items() if value or key in ('ready', 'terminating', 'uncountedTerminatedPods')}
        if status != job.get('status'):
            job['status'] = status
            self.registry.update(JOBS, job['metadata']['namespace'], job['metadata']['name'], job, subresource='status')

    def _delete(self, pods: list[dict]) -> None:
        for pod in pods:
            self.registry.delete(PODS, pod['metadata']['namespace'], pod['metadata']['name'])

    def _create_pod(self, job: dict) -> None:
        template = copy.deepcopy(job['spec']['template'])
        metadata = template.get('metadata') or {}
        metadata.pop('creationTimestamp', None)
        pod = {'metadata': dict(metadata, generateName=job['metadata']['name'] + '-',
                                ownerReferences=[{'apiVersion': 'batch/v1', 'kind': 'Job', 'name': job['metadata']['name'],
                                                  'uid': job['metadata']['uid'], 'controller': True, 'blockOwnerDeletion': True}]),
               'spec': template['spec']}
        created = self.registry.create(PODS, job['metadata']['namespace'], pod)
        events.record(self.registry, job, 'Normal', 'SuccessfulCreate', 'Created pod: %s' % created['metadata']['name'], COMPONENT)
