# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure predicates on Kubernetes objects as the API sends them (plain dicts, camelCase).

One set for every Kubernetes path of the collection (rollouts, canary providers, the migration Job,
the pod transport): when is a pod ready, has a controller seen a spec, has a Deployment given up, why
is a container stuck. No I/O here; the requests are _k8s.Kube's.
"""

from __future__ import annotations

import dataclasses
import typing as t

# Waiting reasons of a container that will not get better by itself: a rollout fails on them (after its
# failure_grace), a Job's pod that shows one will never run its command.
FAILURE_REASONS = (
    'ErrImagePull',                # the image cannot be pulled (missing tag, registry refused, no credentials)
    'ImagePullBackOff',            # the kubelet waits between failed pulls: the same failure, later
    'InvalidImageName',            # the image reference cannot be parsed: no retry can help
    'ErrImageNeverPull',           # imagePullPolicy Never and the image is not on the node
    'CrashLoopBackOff',            # the container keeps exiting with an error (not seen with restartPolicy Never)
    'CreateContainerConfigError',  # a Secret or ConfigMap the container needs is missing
    'CreateContainerError',        # the runtime refused the container (name clash, bad mount)
    'RunContainerError',           # the runtime could not start the process (command not found, bad user)
)
POD_TEMPLATE_HASH = 'pod-template-hash'


def condition(obj_or_status: dict[str, t.Any], kind: str) -> dict[str, t.Any] | None:
    """The condition of type ``kind`` from an object (its status) or a status."""
    status = obj_or_status.get('status') if 'metadata' in obj_or_status else obj_or_status
    return next((c for c in (status or {}).get('conditions') or [] if c.get('type') == kind), None)


def generation_observed(obj: dict[str, t.Any]) -> bool:
    """The controller has seen the current spec (its status describes it)."""
    status = obj.get('status') or {}
    return (obj['metadata'].get('generation') or 0) <= (status.get('observedGeneration') or 0)


def progress_deadline_exceeded(obj: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """The Deployment's Progressing condition when its reason is ProgressDeadlineExceeded, else None."""
    progressing = condition(obj, 'Progressing')
    if progressing and progressing.get('reason') == 'ProgressDeadlineExceeded':
        return progressing
    return None


def deployment_available(deployment: dict[str, t.Any], replicas: int) -> bool:
    """The controller has seen the current spec (a scale) and at least ``replicas`` pods are available."""
    return generation_observed(deployment) and ((deployment.get('status') or {}).get('availableReplicas') or 0) >= replicas


def pod_ready(pod: dict[str, t.Any]) -> bool:
    """The pod's Ready condition is True and it is not being deleted (kubectl's and the Endpoints controller's view)."""
    if pod['metadata'].get('deletionTimestamp'):
        return False
    ready = condition(pod, 'Ready')
    return bool(ready and ready.get('status') == 'True')


def container_statuses(pod: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """Init containers first, as the kubelet starts them."""
    status = pod.get('status') or {}
    return list(status.get('initContainerStatuses') or []) + list(status.get('containerStatuses') or [])


def has_crashed(pod: dict[str, t.Any]) -> bool:
    """A container of the pod exited with an error before (it may be running again between crashes)."""
    return any(((c.get('lastState') or {}).get('terminated') or {}).get('exitCode') for c in container_statuses(pod))


@dataclasses.dataclass(frozen=True)
class PodProblem:
    pod: str
    container: str
    reason: str
    message: str
    restarts: int


def pod_problem(pod: dict[str, t.Any]) -> PodProblem | None:
    """The first container of the pod stuck in one of FAILURE_REASONS, or None."""
    for container in container_statuses(pod):
        waiting = (container.get('state') or {}).get('waiting') or {}
        if waiting.get('reason') in FAILURE_REASONS:
            message = waiting.get('message') or ''
            terminated = (container.get('lastState') or {}).get('terminated')
            if waiting['reason'] == 'CrashLoopBackOff' and terminated:
                exit_text = 'last exit code %s (%s)' % (terminated.get('exitCode'), terminated.get('reason', ''))
                message = '%s: %s' % (exit_text, message) if message else exit_text
            return PodProblem(pod['metadata']['name'], container['name'], waiting['reason'], message,
                              container.get('restartCount') or 0)
    return None


@dataclasses.dataclass
class Suspect:
    since: float
    problem: PodProblem


class PodSuspects:
    """The pods of one workload as watched, and those that show a failure reason, with the time it first showed.

    A pod that shows one of FAILURE_REASONS becomes a suspect; it is cleared when it becomes ready, when its
    failure reason goes without a crash behind it (an image pulled on retry), or when it goes away. A
    crash-looping pod stays a suspect while it runs between two crashes. A suspect older than ``grace``
    seconds is a failure, so a transient pull error is not: k8s_rollout's rollouts and canary_shift's waits
    for available pods judge their pods by these same rules.
    """

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.pods: dict[str, dict[str, t.Any]] = {}
        self.suspects: dict[str, Suspect] = {}

    def observe_pod(self, event_type: str, pod: dict[str, t.Any], now: float) -> None:
        name = pod['metadata']['name']
        if event_type == 'DELETED' or pod['metadata'].get('deletionTimestamp'):
            self.pods.pop(name, None)
            self.suspects.pop(name, None)
            return
        self.pods[name] = pod
        problem = pod_problem(pod)
        suspect = self.suspects.get(name)
        if problem is not None:
            if suspect is None:
                self.suspects[name] = Suspect(now, problem)
            else:
                suspect.problem = problem
        elif suspect is not None and (pod_ready(pod) or not has_crashed(pod)):
            del self.suspects[name]

    def observe_pod_listing(self, pods: t.Iterable[dict[str, t.Any]], now: float) -> None:
        """A fresh list replaces what was known: pods deleted while the watch was away are forgotten."""
        pods = list(pods)
        listed = {pod['metadata']['name'] for pod in pods}
        for name in set(self.pods) - listed:
            self.observe_pod('DELETED', self.pods[name], now)
        for pod in pods:
            self.observe_pod('ADDED', pod, now)

    def watched_suspects(self, wanted: t.Callable[[dict[str, t.Any]], bool] = lambda pod: True) -> list[Suspect]:
        """The suspects among the pods ``wanted`` says count, by pod name."""
        return [s for name, s in sorted(self.suspects.items()) if name in self.pods and wanted(self.pods[name])]

    def expired(self, now: float, wanted: t.Callable[[dict[str, t.Any]], bool] = lambda pod: True) -> list[Suspect]:
        """The suspects whose failure reason has lasted the grace period at ``now``."""
        return [s for s in self.watched_suspects(wanted) if now - s.since >= self.grace]

    def wake_at(self, wanted: t.Callable[[dict[str, t.Any]], bool] = lambda pod: True) -> float | None:
        """When the first suspect's grace period ends (a waiter wakes up then to judge it), None without one."""
        return min((s.since + self.grace for s in self.watched_suspects(wanted)), default=None)


def pod_not_ready(pod: dict[str, t.Any]) -> PodProblem:
    """Why a pod is not ready, as ``kubectl describe`` would show it: a failing or waiting container, a
    terminated one, an unschedulable or unscheduled pod, or a container whose readiness probe does not pass."""
    problem = pod_problem(pod)
    if problem is not None:
        return problem
    name = pod['metadata']['name']
    status = pod.get('status') or {}
    scheduled = condition(status, 'PodScheduled')
    if scheduled and scheduled.get('status') == 'False':
        return PodProblem(name, '', scheduled.get('reason') or 'Unschedulable', scheduled.get('message') or '', 0)
    statuses = container_statuses(pod)
    for container in statuses:
        state = container.get('state') or {}
        restarts = container.get('restartCount') or 0
        if state.get('waiting'):
            waiting = state['waiting']
            return PodProblem(name, container['name'], waiting.get('reason') or 'Waiting', waiting.get('message') or '',
                              restarts)
        if state.get('terminated'):
            ended = state['terminated']
            return PodProblem(name, container['name'], ended.get('reason') or 'Terminated', 'exit code %s%s' % (
                ended.get('exitCode'), ': %s' % ended['message'] if ended.get('message') else ''), restarts)
        if not container.get('ready'):
            return PodProblem(name, container['name'], 'NotReady', 'running, its readiness probe does not pass',
                              restarts)
    if not statuses:
        where = (pod.get('spec') or {}).get('nodeName')
        return PodProblem(name, '', status.get('phase') or 'Pending',
                          'on node %s, no container started yet' % where if where else 'not scheduled to a node yet', 0)
    ready = condition(status, 'Ready') or {}
    return PodProblem(name, '', ready.get('reason') or 'NotReady', ready.get('message') or '', 0)


def describe_problem(problem: PodProblem) -> str:
    return 'pod %s%s: %s%s' % (problem.pod, ' container %s' % problem.container if problem.container else '',
                               problem.reason, ' (%s)' % problem.message if problem.message else '')


def describe_suspect(suspect: Suspect, now: float) -> str:
    """A suspect pod's problem and how long it has lasted."""
    return '%s, for %ds' % (describe_problem(suspect.problem), round(now - suspect.since))


def job_outcome(job: dict[str, t.Any]) -> str | None:
    """``Complete``, ``Failed``, or None while the Job runs."""
    for kind in ('Complete', 'Failed'):
        found = condition(job, kind)
        if found and found.get('status') == 'True':
            return kind
    return None


def exit_code(pods: t.Iterable[dict[str, t.Any]]) -> int | None:
    """The exit code of the first terminated container of the pods, None when none has ended."""
    for pod in pods:
        for container in container_statuses(pod):
            terminated = (container.get('state') or {}).get('terminated')
            if terminated is not None:
                return terminated.get('exitCode')
    return None


def label_selector(selector: dict[str, t.Any]) -> str:
    """A LabelSelector object (matchLabels, matchExpressions) as the ``labelSelector`` query string."""
    parts = ['%s=%s' % item for item in sorted((selector.get('matchLabels') or {}).items())]
    for expression in selector.get('matchExpressions') or []:
        key, operator, values = expression['key'], expression['operator'], expression.get('values') or []
        if operator == 'Exists':
            parts.append(key)
        elif operator == 'DoesNotExist':
            parts.append('!' + key)
        else:
            parts.append('%s %s (%s)' % (key, operator.lower(), ','.join(values)))
    return ','.join(parts)


def labels_selector(labels: dict[str, str]) -> str:
    """Plain labels (a Service's selector) as the ``labelSelector`` query string."""
    return label_selector({'matchLabels': labels})


SERVICE_NAME_LABEL = 'kubernetes.io/service-name'


def ready_slice_addresses(slices: t.Iterable[dict[str, t.Any]]) -> set[str]:
    """The addresses a Service's EndpointSlices mark ready (kube-proxy's view: an unset ``ready`` counts as ready)."""
    return {address for endpoint_slice in slices for endpoint in endpoint_slice.get('endpoints') or []
            if (endpoint.get('conditions') or {}).get('ready') is not False for address in endpoint.get('addresses') or []}


def ready_pod_ips(pods: t.Iterable[dict[str, t.Any]]) -> set[str]:
    """The IPs of the pods that are Ready (and have an IP)."""
    return {pod['status']['podIP'] for pod in pods if pod_ready(pod) and (pod.get('status') or {}).get('podIP')}
