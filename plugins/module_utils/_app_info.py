# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_app_info: what runs of an application's workloads, read only.

Per workload its images, revision and revision history (as ``kubectl rollout history`` numbers them), its
rollout status in kubectl's words, and its pods (ready, restarts, whether they run the current template,
and the log lines of the current pods that match a pattern). The deploy_k8s role reads its facts and its
post-upgrade checks from here.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout as decide
from ansible_collections.artisan.upgrade.plugins.module_utils._k8s import ApiError, api_path
from ansible_collections.artisan.upgrade.plugins.module_utils._k8s_state import container_statuses, pod_ready
from ansible_collections.artisan.upgrade.plugins.module_utils._rollout_api import RolloutApi
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

KINDS = ('Deployment', 'StatefulSet')
# The change cause k8s_rollout and the deploy_k8s role write: ``artisan.upgrade: <from> -> <to>``.
_CAME_FROM = re.compile(r'^artisan\.upgrade: (\S+) -> \S+$')
# Matched lines returned per pod: enough to act on, small enough to read.
SAMPLE_LINES = 5


def image_tag(image: str) -> str | None:
    """The tag of an image reference (``registry:5000/shop/web:2.0.0@sha256:...`` -> ``2.0.0``), None without one."""
    return decide.split_image(image.split('@', 1)[0])[1] or None


def image_tags(images: dict[str, str]) -> dict[str, str | None]:
    return {container: image_tag(image) for container, image in images.items()}


def history_summary(entries: list[decide.HistoryEntry]) -> list[dict[str, t.Any]]:
    """Revisions oldest first with their images and change cause, as ``kubectl rollout history`` lists them."""
    return [{'revision': entry.revision, 'images': decide.template_images(entry.template),
             'tags': image_tags(decide.template_images(entry.template)),
             'change_cause': entry.annotations.get(decide.CHANGE_CAUSE_ANNOTATION)} for entry in entries]


def previous_entry(history: list[dict[str, t.Any]], revision: int | None) -> dict[str, t.Any] | None:
    """The release that ran before the current revision.

    When the current revision's change cause says where it came from (``artisan.upgrade: 2.0.0 -> 3.0.0``), the
    newest other revision at that version: after a failed rollout was undone, the revision numbered just below
    the current one is the failed release, not the one that ran before. Otherwise the newest older revision, as
    ``kubectl rollout undo`` takes it.
    """
    current = [entry for entry in history if entry['revision'] == revision]
    came_from = _CAME_FROM.match((current[0]['change_cause'] or '') if current else '')
    others = [entry for entry in history if entry['revision'] != revision]
    if came_from:
        named = [entry for entry in others if came_from.group(1) in entry['tags'].values()]
        if named:
            return named[-1]
    older = [entry for entry in others if revision is None or entry['revision'] < revision]
    return older[-1] if older else None


def pod_images(pod: dict[str, t.Any]) -> dict[str, str]:
    return decide.template_images({'spec': pod.get('spec') or {}})


def pod_summary(pod: dict[str, t.Any], template_images: dict[str, str]) -> dict[str, t.Any]:
    """One pod as a post-upgrade check reads it; ``current`` when it runs the workload's images of now."""
    statuses = container_statuses(pod)
    metadata = pod['metadata']
    return {
        'name': metadata['name'],
        'phase': (pod.get('status') or {}).get('phase'),
        'ready': pod_ready(pod),
        'terminating': bool(metadata.get('deletionTimestamp')),
        'restarts': sum(status.get('restartCount') or 0 for status in statuses),
        'images': pod_images(pod),
        'current': pod_images(pod) == template_images,
    }


def compile_pattern(pattern: str | None) -> t.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ModuleFailure('log_pattern %r is not a valid regular expression: %s' % (pattern, exc)) from exc


def matching_lines(text: str, pattern: t.Pattern[str]) -> list[str]:
    return [line for line in text.splitlines() if pattern.search(line)]


def workload_summary(obj: dict[str, t.Any], owned: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """A workload's images, revision, history and rollout status (pods are added by the reader)."""
    entries = decide.history(obj, owned)
    revision = decide.current_revision(obj, entries)
    history = history_summary(entries)
    status = decide.rollout_status(obj)
    return {
        'kind': obj['kind'],
        'name': obj['metadata']['name'],
        'namespace': obj['metadata']['namespace'],
        'images': decide.template_images(obj['spec']['template']),
        'tags': image_tags(decide.template_images(obj['spec']['template'])),
        'revision': revision,
        'history': history,
        'previous': previous_entry(history, revision),
        'replicas': decide.replica_counts(obj),
        'complete': status.done,
        'message': status.message if status.failure is None else status.failure,
        'selector': decide.label_selector(obj['spec']['selector']),
        'match_labels': dict(obj['spec']['selector'].get('matchLabels') or {}),
    }


def summary_message(workloads: list[dict[str, t.Any]]) -> str:
    parts = []
    for workload in workloads:
        pods = workload.get('pods') or []
        parts.append('%s %s at revision %s (%s), %d/%d pods ready' % (
            workload['kind'].lower(), workload['name'], workload['revision'],
            ', '.join('%s=%s' % item for item in sorted(workload['images'].items())),
            sum(1 for pod in pods if pod['ready']), len(pods)))
    return '; '.join(parts)


class AppReader:
    """The reads on the one Kubernetes boundary; ``api`` is a RolloutApi (or a fake with its methods)."""

    def __init__(self, api: RolloutApi) -> None:
        self.api = api

    def workload(self, kind: str, namespace: str, name: str) -> dict[str, t.Any]:
        try:
            obj = self.api.read(kind, namespace, name)
        except ApiError as exc:
            if exc.not_found:
                raise ModuleFailure('%s %s not found in namespace %s: check the name, the namespace and the '
                                    'cluster the connection options point at' % (kind.lower(), name, namespace),
                                    kind=kind, name=name, namespace=namespace) from exc
            raise
        return workload_summary(obj, self.api.owned_history(obj))

    def pods(self, summary: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        listed = self.api.kube.list(api_path('v1', 'pods', summary['namespace']),
                                    {'labelSelector': summary['selector']})
        return sorted((pod_summary(pod, summary['images']) for pod in listed), key=lambda pod: pod['name'])

    def log_check(self, namespace: str, pod: dict[str, t.Any], pattern: t.Pattern[str], lines: int) -> None:
        """Count the pattern's lines in the last ``lines`` log lines of each container of the pod."""
        matched: list[str] = []
        for container in sorted(pod['images']):
            try:
                text = self.api.kube.pod_log(namespace, pod['name'], container=container, tail_lines=lines)
            except ApiError as exc:
                # A container not started yet has no log; the pod's readiness says what is wrong then.
                pod.setdefault('log_errors', []).append('%s: %s' % (container, exc.msg))
                continue
            matched.extend('%s: %s' % (container, line) for line in matching_lines(text, pattern))
        pod['log_matches'] = len(matched)
        pod['log_sample'] = matched[:SAMPLE_LINES]

    def read(self, namespace: str, workloads: list[dict[str, t.Any]], with_pods: bool,
             pattern: t.Pattern[str] | None, log_lines: int) -> list[dict[str, t.Any]]:
        result = []
        for wanted in workloads:
            summary = self.workload(wanted['kind'], wanted.get('namespace') or namespace, wanted['name'])
            if with_pods or pattern is not None:
                summary['pods'] = self.pods(summary)
                if pattern is not None:
                    for pod in summary['pods']:
                        if pod['current'] and not pod['terminating']:
                            self.log_check(summary['namespace'], pod, pattern, log_lines)
            result.append(summary)
        return result
