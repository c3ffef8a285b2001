# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_rollout's one I/O boundary: reads, patches, dry runs, watches and diagnostics on the Kubernetes API.

Objects travel as the JSON the API server sends (plain dicts), so the decisions in _rollout work on
exactly what kubectl sees. Requests go through the official client's ApiClient (its authentication,
TLS and proxy settings) with the content type each write needs.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import typing as t
from urllib.parse import quote

from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout as decide
from ansible_collections.artisan.upgrade.plugins.module_utils._k8s import REQUEST_TIMEOUT, Deadline, is_unreachable

try:
    from kubernetes.client.exceptions import ApiException
    from kubernetes.watch.watch import iter_resp_lines
except ImportError:  # reported by the module through _k8s.HAS_KUBERNETES
    ApiException = Exception

STRATEGIC_MERGE = 'application/strategic-merge-patch+json'
JSON_PATCH = 'application/json-patch+json'
PLURALS = {'Deployment': 'deployments', 'StatefulSet': 'statefulsets', 'DaemonSet': 'daemonsets'}
# Pods whose events and logs a failure report carries: enough to act on, small enough to read.
DIAGNOSED_PODS = 3
# Consecutive dropped watch connections tolerated before the wait fails.
WATCH_RECONNECTS = 3


class WatchGone(Exception):
    """The watch's resourceVersion is older than the server's history (410 Gone): list again."""


class RolloutApi:
    """JSON in, JSON out over a kubernetes.client.ApiClient; errors are the client's ApiException.

    Every request waits at most the time ``deadline`` leaves (a task's ``timeout``).
    """

    def __init__(self, api_client: t.Any, deadline: Deadline | None = None) -> None:
        self.client = api_client
        self.deadline = deadline or Deadline(REQUEST_TIMEOUT)

    def request(self, method: str, path: str, query: dict[str, t.Any] | None = None, body: t.Any = None,
                content_type: str = 'application/json', stream: bool = False, timeout: t.Any = None) -> t.Any:
        if timeout is None:
            timeout = self.deadline.request_timeout()
        headers = {'Accept': 'application/json', 'Content-Type': content_type}
        query = {key: value for key, value in (query or {}).items() if value is not None}
        method, url, headers, body, post = self.client.param_serialize(
            method, path, query_params=query or None, header_params=headers, body=body, auth_settings=['BearerToken'])
        response = self.client.call_api(method, url, headers, body, post, _request_timeout=timeout)
        if not 200 <= response.status < 300:
            response.read()
            raise ApiException(http_resp=response)
        if stream:
            return response.response
        return json.loads(response.read() or b'null')

    # -- paths ---------------------------------------------------------------------------------

    @staticmethod
    def workload_path(kind: str, namespace: str, name: str | None = None) -> str:
        path = '/apis/apps/v1/namespaces/%s/%s' % (quote(namespace, safe=''), PLURALS[kind])
        return path + '/' + quote(name, safe='') if name else path

    @staticmethod
    def core_path(namespace: str, plural: str, name: str | None = None, sub: str | None = None) -> str:
        path = '/api/v1/namespaces/%s/%s' % (quote(namespace, safe=''), plural)
        if name:
            path += '/' + quote(name, safe='')
        return path + '/' + sub if sub else path

    # -- reads and writes ----------------------------------------------------------------------

    def read(self, kind: str, namespace: str, name: str) -> dict[str, t.Any]:
        return dict(self.request('GET', self.workload_path(kind, namespace, name)), kind=kind)

    def patch(self, obj: dict[str, t.Any], body: t.Any, content_type: str = STRATEGIC_MERGE,
              dry_run: bool = False) -> dict[str, t.Any]:
        """Patch the workload; with ``dry_run`` the server validates and answers without storing anything."""
        path = self.workload_path(obj['kind'], obj['metadata']['namespace'], obj['metadata']['name'])
        patched = self.request('PATCH', path, {'dryRun': 'All'} if dry_run else None, body, content_type)
        return dict(patched, kind=obj['kind'])

    def owned_history(self, obj: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        """ReplicaSets (Deployment) or ControllerRevisions (StatefulSet, DaemonSet) matching its selector."""
        plural = 'replicasets' if obj['kind'] == 'Deployment' else 'controllerrevisions'
        path = '/apis/apps/v1/namespaces/%s/%s' % (quote(obj['metadata']['namespace'], safe=''), plural)
        return self.request('GET', path, {'labelSelector': decide.label_selector(obj['spec']['selector'])})['items']

    def delete_pod(self, namespace: str, name: str) -> None:
        self.request('DELETE', self.core_path(namespace, 'pods', name))

    # -- watching ------------------------------------------------------------------------------

    def watch_into(self, path: str, query: dict[str, t.Any], resource_version: str | None, tag: str,
                   events: queue.Queue, stop: threading.Event, lifetime: float) -> None:
        """Feed (tag, type, object) into ``events`` until ``stop``.

        A 410 Gone lists again and goes on from there; a list is sent as one ('SYNC', items) entry so the
        reader can drop what vanished meanwhile. A dropped connection (an API server restart, an idle
        proxy) is watched again from the last resourceVersion seen, a few times in a row at most.
        """
        drops = 0
        while not stop.is_set():
            try:
                if resource_version is None:
                    listing = self.request('GET', path, query)
                    resource_version = listing['metadata']['resourceVersion']
                    events.put((tag, 'SYNC', listing['items']))
                for event_type, obj in self._stream(path, query, resource_version, lifetime):
                    if stop.is_set():
                        return
                    drops = 0
                    resource_version = obj['metadata']['resourceVersion']
                    if event_type != 'BOOKMARK':
                        events.put((tag, event_type, obj))
            except WatchGone:
                events.put((tag, 'GONE', None))
                resource_version = None
            except Exception as exc:  # pylint: disable=broad-exception-caught
                if stop.is_set():
                    return
                if is_unreachable(exc) and drops < WATCH_RECONNECTS:
                    drops += 1
                    time.sleep(0.2 * drops)
                    continue
                events.put((tag, 'FAILED', exc))
                return

    def _stream(self, path: str, query: dict[str, t.Any], resource_version: str,
                lifetime: float) -> t.Iterator[tuple[str, dict[str, t.Any]]]:
        """The (type, object) events of one watch request; an ERROR event is raised."""
        watch_query = dict(query, watch='true', resourceVersion=resource_version, allowWatchBookmarks='true',
                           timeoutSeconds=max(1, int(lifetime)))
        # The read timeout is the longest silence allowed: the stream ends by the deadline, as the wait does.
        response = self.request('GET', path, watch_query, stream=True, timeout=(
            self.deadline.request_timeout(), min(lifetime, max(self.deadline.left(), 0.0)) + 5))
        try:
            for line in iter_resp_lines(response):
                if not line:
                    continue
                event = json.loads(line)
                obj = event.get('object') or {}
                if event.get('type') == 'ERROR':
                    if obj.get('code') == 410:
                        raise WatchGone(obj.get('message', ''))
                    raise ApiException(status=obj.get('code'), reason=obj.get('message'))
                yield event['type'], obj
        finally:
            response.release_conn()

    def wait(self, obj: dict[str, t.Any], tracker: decide.RolloutTracker, timeout: float,
             clock: t.Callable[[], float] = time.monotonic) -> 'WaitResult':
        """Watch the workload and its pods until the tracker says done or failed, or ``timeout`` passes."""
        kind, namespace, name = obj['kind'], obj['metadata']['namespace'], obj['metadata']['name']
        started = clock()
        deadline = min(started + timeout, started + self.deadline.left())
        result = WaitResult()
        events: queue.Queue = queue.Queue()
        stop = threading.Event()
        lifetime = timeout + 5
        selector = decide.label_selector(obj['spec']['selector'])
        watchers = [
            # From the resourceVersion we read: no change after our read is missed (an expired one is re-listed).
            threading.Thread(target=self.watch_into, daemon=True, args=(
                self.workload_path(kind, namespace), {'fieldSelector': 'metadata.name=%s' % name},
                obj['metadata']['resourceVersion'], 'workload', events, stop, lifetime)),
            threading.Thread(target=self.watch_into, daemon=True, args=(
                self.core_path(namespace, 'pods'), {'labelSelector': selector}, None, 'pods', events, stop, lifetime)),
        ]
        tracker.observe_object(obj)
        for watcher in watchers:
            watcher.start()
        try:
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
                try:
                    entry = events.get(timeout=max(0.0, wake - now))
                except queue.Empty:
                    continue
                while entry is not None:
                    self._apply(entry, tracker, kind, clock(), result)
                    try:
                        entry = events.get_nowait()
                    except queue.Empty:
                        entry = None
        finally:
            stop.set()
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
        if event_type == 'FAILED':
            raise payload
        if event_type == 'GONE':
            result.relists += 1
            return
        result.events += 1
        if tag == 'workload':
            if event_type == 'SYNC':
                if not payload:
                    raise ApiException(status=404, reason='%s was deleted while waiting' % kind)
                payload = payload[0]
            elif event_type == 'DELETED':
                raise ApiException(status=404, reason='%s was deleted while waiting' % kind)
            if tracker.obj is not None and payload['metadata']['uid'] != tracker.obj['metadata']['uid']:
                raise ApiException(status=409, reason='%s was replaced by another object while waiting' % kind)
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
                listing = self.request('GET', self.core_path(namespace, 'events'), {
                    'fieldSelector': 'involvedObject.kind=Pod,involvedObject.name=%s' % problem.pod})
                entry['events'] = [decide.event_line(event) for event in decide.recent_events(listing['items'])]
            except Exception as exc:  # pylint: disable=broad-exception-caught
                if not isinstance(exc, ApiException) and not is_unreachable(exc):
                    raise
                entry['events_error'] = str(getattr(exc, 'reason', None) or exc)
                if not isinstance(exc, ApiException):
                    reachable = False
                    continue
            if problem.reason == 'CrashLoopBackOff' and log_lines > 0:
                entry['logs'] = self.log_tail(namespace, problem, log_lines)
        return report

    def log_tail(self, namespace: str, problem: decide.PodProblem, lines: int) -> list[str]:
        """The last lines of the crashed container (the previous instance: the current one is waiting)."""
        path = self.core_path(namespace, 'pods', problem.pod, 'log')
        for previous in ('true', None):
            try:
                response = self.request('GET', path, {'container': problem.container, 'tailLines': lines,
                                                      'previous': previous}, stream=True)
                try:
                    return response.data.decode('utf-8', errors='replace').splitlines()[-lines:]
                finally:
                    response.release_conn()
            except ApiException:
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
