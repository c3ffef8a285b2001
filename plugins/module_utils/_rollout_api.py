# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_rollout's requests on the one Kubernetes boundary (_k8s.Kube): the workload, its history, the wait
on the workload and its pods, and the diagnostics of a failure.

Objects travel as the JSON the API server sends (plain dicts), so the decisions in _rollout work on
exactly what kubectl sees.
"""

from __future__ import annotations

import time
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout as decide
from ansible_collections.artisan.upgrade.plugins.module_utils._k8s import (
    STRATEGIC_MERGE, ApiError, Deadline, K8sError, Kube, api_path, is_unreachable, name_selector)

PLURALS = {'Deployment': 'deployments', 'StatefulSet': 'statefulsets', 'DaemonSet': 'daemonsets'}
# Pods whose events and logs a failure report carries: enough to act on, small enough to read.
DIAGNOSED_PODS = 3


class RolloutApi:
    """The rollout's reads, writes and waits; every request waits at most the time ``deadline`` leaves."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    @property
    def deadline(self) -> Deadline:
        return self.kube.deadline

    @deadline.setter
    def deadline(self, deadline: Deadline) -> None:
        self.kube.deadline = deadline

    @staticmethod
    def workload_path(kind: str, namespace: str, name: str | None = None) -> str:
        return api_path('apps/v1', PLURALS[kind], namespace, name)

    def read(self, kind: str, namespace: str, name: str) -> dict[str, t.Any]:
        return dict(self.kube.get(self.workload_path(kind, namespace, name)), kind=kind)

    def patch(self, obj: dict[str, t.Any], body: t.Any, content_type: str = STRATEGIC_MERGE,
              dry_run: bool = False) -> dict[str, t.Any]:
        """Patch the workload; with ``dry_run`` the server validates and answers without storing anything."""
        path = self.workload_path(obj['kind'], obj['metadata']['namespace'], obj['metadata']['name'])
        return dict(self.kube.patch(path, body, content_type, dry_run=dry_run), kind=obj['kind'])

    def owned_history(self, obj: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        """ReplicaSets (Deployment) or ControllerRevisions (StatefulSet, DaemonSet) matching its selector."""
        plural = 'replicasets' if obj['kind'] == 'Deployment' else 'controllerrevisions'
        return self.kube.list(api_path('apps/v1', plural, obj['metadata']['namespace']),
                              {'labelSelector': decide.label_selector(obj['spec']['selector'])})

    def delete_pod(self, namespace: str, name: str) -> None:
        self.kube.delete(api_path('v1', 'pods', namespace, name))

    def wait(self, obj: dict[str, t.Any], tracker: decide.RolloutTracker, timeout: float,
             clock: t.Callable[[], float] = time.monotonic) -> 'WaitResult':
        """Watch the workload and its pods until the tracker says done or failed, or ``timeout`` passes."""
        kind, namespace, name = obj['kind'], obj['metadata']['namespace'], obj['metadata']['name']
        started = clock()
        deadline = min(started + timeout, started + self.deadline.left())
        result = WaitResult()
        tracker.observe_object(obj)
        with self.kube.watch(lifetime=timeout + 5) as watch:
            # From the resourceVersion we read: no change after our read is missed (an expired one is re-listed).
            watch.add('workload', self.workload_path(kind, namespace), name_selector(name), obj['metadata']['resourceVersion'])
            watch.add('pods', api_path('v1', 'pods', namespace), {'labelSelector': decide.label_selector(obj['spec']['selector'])})
            while True:
                self._learn_new_revision(tracker)
                now = clock()
                verdict = tracker.verdict(now)
                result.note(now - started, verdict.message)
                if verdict.done or verdict.failed:
                    result.verdict = verdict
                    break
                if now >= deadline:
                    result.verdict = decide.Verdict(False, True, 'timed out after %ss waiting for %s %s: %s' % (
                        timeout, kind.lower(), name, verdict.message), 'Timeout')
                    break
                wake = min(deadline, verdict.wake_at or deadline)
                for entry in watch.next(wake - now):
                    self._apply(entry, tracker, kind, clock(), result)
        result.obj = tracker.obj
        result.unready_new_pods = tracker.unready_new_pods()
        result.not_ready = tracker.not_ready_report()
        result.duration = round(clock() - started, 3)
        return result

    def _learn_new_revision(self, tracker: decide.RolloutTracker) -> None:
        obj = tracker.obj
        if obj is None:
            return
        if obj['kind'] != 'Deployment':
            tracker.new_revision = decide.new_revision_label(obj)
        elif tracker.new_revision is None and decide.generation_observed(obj):
            # The Deployment controller has observed the template: its new ReplicaSet exists now.
            new_rs = decide.new_replicaset(obj, self.owned_history(obj))
            if new_rs is not None:
                tracker.new_revision = decide.new_revision_label(obj, new_rs)

    @staticmethod
    def _apply(entry: tuple[str, str, t.Any], tracker: decide.RolloutTracker, kind: str, now: float,
               result: 'WaitResult') -> None:
        tag, event_type, payload = entry
        if event_type == 'GONE':
            result.relists += 1
            return
        result.events += 1
        if tag == 'workload':
            if event_type == 'SYNC':
                if not payload:
                    raise ApiError('%s was deleted while waiting' % kind, 404)
                payload = payload[0]
            elif event_type == 'DELETED':
                raise ApiError('%s was deleted while waiting' % kind, 404)
            if tracker.obj is not None and payload['metadata']['uid'] != tracker.obj['metadata']['uid']:
                raise ApiError('%s was replaced by another object while waiting' % kind, 409)
            previous_generation = (tracker.obj or {}).get('metadata', {}).get('generation')
            tracker.observe_object(dict(payload, kind=kind))
            if kind == 'Deployment' and payload['metadata'].get('generation') != previous_generation:
                tracker.new_revision = None
        elif event_type == 'SYNC':
            tracker.observe_pod_listing(payload, now)
        else:
            tracker.observe_pod(event_type, payload, now)

    # -- diagnostics ---------------------------------------------------------------------------

    def diagnostics(self, namespace: str, problems: t.Sequence[decide.PodProblem], log_lines: int) -> list[dict[str, t.Any]]:
        """Per failing pod: its problem, its recent events and the last log lines of the failing container.

        A server that stops answering ends the report there: it must not hold the failure back.
        """
        report = []
        reachable = True
        for problem in problems[:DIAGNOSED_PODS]:
            entry: dict[str, t.Any] = {'pod': problem.pod, 'container': problem.container, 'reason': problem.reason,
                                       'message': problem.message, 'restarts': problem.restarts}
            report.append(entry)
            if not reachable:
                continue
            try:
                events = self.kube.list(api_path('v1', 'events', namespace), {
                    'fieldSelector': 'involvedObject.kind=Pod,involvedObject.name=%s' % problem.pod})
                entry['events'] = [decide.event_line(event) for event in decide.recent_events(events)]
            except K8sError as exc:
                entry['events_error'] = exc.msg
                if is_unreachable(exc):
                    reachable = False
                    continue
            if problem.reason == 'CrashLoopBackOff' and log_lines > 0:
                entry['logs'] = self.log_tail(namespace, problem, log_lines)
        return report

    def log_tail(self, namespace: str, problem: decide.PodProblem, lines: int) -> list[str]:
        """The last lines of the crashed container (the previous instance: the current one is waiting)."""
        for previous in (True, False):
            try:
                return self.kube.pod_log(namespace, problem.pod, problem.container, lines, previous).splitlines()[-lines:]
            except ApiError:
                continue
        return []


class WaitResult:
    """What a wait saw: the verdict, the last object, the distinct progress messages with their times."""

    def __init__(self) -> None:
        self.verdict: decide.Verdict | None = None
        self.obj: dict[str, t.Any] | None = None
        self.progress: list[dict[str, t.Any]] = []
        self.events = 0
        self.relists = 0
        self.duration = 0.0
        self.unready_new_pods: list[str] = []
        # Why the pods of the new revision are not ready, for a failure that names no pod (deadline, timeout).
        self.not_ready: list[decide.PodProblem] = []

    def note(self, elapsed: float, message: str) -> None:
        if not self.progress or self.progress[-1]['message'] != message:
            self.progress.append({'after': round(elapsed, 3), 'message': message})
