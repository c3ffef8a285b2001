"""Pod predicates the controllers, the kubelets and the API share (k8s.io/kubernetes pkg/api/v1/pod, pkg/controller)."""

from __future__ import annotations

from .clock import parse_rfc3339

TERMINAL_PHASES = ('Succeeded', 'Failed')


def pod_condition(pod: dict, kind: str) -> dict | None:
    return next((item for item in (pod.get('status') or {}).get('conditions') or [] if item['type'] == kind), None)


def pod_ready(pod: dict) -> bool:
    ready = pod_condition(pod, 'Ready')
    return bool(ready and ready['status'] == 'True')


def pod_available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least minReadySeconds (podutil.IsPodAvailable)."""
    if not pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = parse_rfc3339(pod_condition(pod, 'Ready')['lastTransitionTime'])
    return since + min_ready_seconds <= now


def pod_finished(pod: dict) -> bool:
    """In a terminal phase: its containers will not run again."""
    return (pod.get('status') or {}).get('phase') in TERMINAL_PHASES


def is_active(pod: dict) -> bool:
    """controller.IsPodActive: not terminal and not being deleted."""
    return not pod_finished(pod) and not pod['metadata'].get('deletionTimestamp')
