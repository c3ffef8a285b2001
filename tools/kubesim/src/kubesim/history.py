"""ControllerRevisions as the StatefulSet and DaemonSet controllers keep them (pkg/controller/history,
stateful_set_utils.go getPatch/nextRevision, daemon update.go constructHistory/cleanupHistory).

A revision's ``data`` is the strategic-merge patch ``{"spec":{"template":{..., "$patch":"replace"}}}``
with every map's keys sorted (Go marshals a map[string]interface{} that way). The server sends it
compact, so kubectl's byte comparison (``rollout undo``'s "skipped rollback") sees the same bytes.
"""

from __future__ import annotations

import copy
import json

from .registry import Registry, resource_for
from .selectors import labels_match, selector_from_label_selector

REVISIONS = resource_for('apps/v1', 'ControllerRevision')
PODS = resource_for('v1', 'Pod')
HASH_LABEL = 'controller.kubernetes.io/hash'
REVISION_LABEL = 'controller-revision-hash'
_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789'


def _sorted(value):
    """A copy whose dicts have their keys in sorted order, at every level."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def template_patch(owner: dict) -> dict:
    """getPatch: the owner's pod template as a patch that replaces spec.template."""
    template = copy.deepcopy(owner['spec']['template'])
    template['$patch'] = 'replace'
    return _sorted({'spec': {'template': template}})


def raw(data: dict) -> bytes:
    """The bytes of ``data`` as the Go encoder writes them (compact; keys already sorted)."""
    return json.dumps(data, separators=(',', ':'), ensure_ascii=False).encode()


def safe_encode(number: int) -> str:
    """rand.SafeEncodeString of the decimal digits: a vowel-free alphabet, no look-alikes."""
    return ''.join(_ALPHANUMS[ord(char) % len(_ALPHANUMS)] for char in str(number))


def fnv32(data: bytes) -> int:
    """hash/fnv New32 (FNV-1, not 1a), as HashControllerRevision uses."""
    value = 0x811C9DC5
    for byte in data:
        value = ((value * 0x01000193) & 0xFFFFFFFF) ^ byte
    return value


def revision_hash(data: dict, collision_count: int | None) -> str:
    """HashControllerRevision: FNV-32 of the raw data, plus the collision count when there is one."""
    payload = raw(data)
    if collision_count:
        payload += str(collision_count).encode()
    return safe_encode(fnv32(payload))


def sort_key(revision: dict) -> tuple:
    """byRevision: revision number, then creation time, then name."""
    return (revision.get('revision', 0), revision['metadata']['creationTimestamp'], revision['metadata']['name'])


def next_revision(revisions: list[dict]) -> int:
    return max([item.get('revision', 0) for item in revisions] + [0]) + 1


def controller_ref(owner: dict) -> dict:
    metadata = owner['metadata']
    return {'apiVersion': owner['apiVersion'], 'kind': owner['kind'], 'name': metadata['name'], 'uid': metadata['uid'],
            'controller': True, 'blockOwnerDeletion': True}


def owned_revisions(registry: Registry, owner: dict) -> list[dict]:
    """ListControllerRevisions: matching the owner's selector and controlled by it, sorted by revision."""
    selector = selector_from_label_selector(owner['spec']['selector'])
    uid = owner['metadata']['uid']
    found = [item for item in registry.list(REVISIONS, owner['metadata']['namespace'])
             if labels_match(selector, item['metadata'].get('labels'))
             and any(ref.get('uid') == uid and ref.get('controller') for ref in item['metadata'].get('ownerReferences') or [])]
    return sorted(found, key=sort_key)


def ensure_revision(registry: Registry, owner: dict, revisions: list[dict], name: str, labels: dict, data: dict,
                    annotations: dict | None = None) -> dict:
    """The revision for the owner's current template: an equal one is reused (its number raised to the
    next one unless it already is the newest, which is how an undo re-adopts history), else a new one."""
    equal = [item for item in revisions if item.get('data') == data]
    wanted = next_revision(revisions)
    if equal:
        found = equal[-1]
        if revisions and found['metadata']['name'] == revisions[-1]['metadata']['name']:
            return found
        updated = dict(copy.deepcopy(found), revision=wanted)
        return registry.update(REVISIONS, found['metadata']['namespace'], found['metadata']['name'], updated)
    revision = {'apiVersion': 'apps/v1', 'kind': 'ControllerRevision',
                'metadata': {'name': name, 'labels': labels, 'ownerReferences': [controller_ref(owner)]},
                'data': data, 'revision': wanted}
    if annotations:
        revision['metadata']['annotations'] = dict(annotations)
    return registry.create(REVISIONS, owner['metadata']['namespace'], revision)


def truncate_history(registry: Registry, owner: dict, revisions: list[dict], live: set[str]) -> None:
    """Delete the oldest revisions no pod (nor the current/update revision) uses, beyond revisionHistoryLimit."""
    limit = owner['spec'].get('revisionHistoryLimit', 10)
    unused = [item for item in revisions if item['metadata']['name'] not in live]
    for item in unused[:max(0, len(unused) - limit)]:
        registry.delete(REVISIONS, item['metadata']['namespace'], item['metadata']['name'])


def owned_pods(registry: Registry, owner: dict) -> list[dict]:
    """Pods controlled by ``owner`` that match its selector."""
    selector = selector_from_label_selector(owner['spec']['selector'])
    return [pod for pod in registry.owned_by(PODS, owner) if labels_match(selector, pod['metadata'].get('labels'))]


def pod_from_template(owner: dict, template: dict, name: str | None = None) -> dict:
    """A pod body from a pod template with the owner's controller ownerReference."""
    template = copy.deepcopy(template)
    metadata = template.get('metadata') or {}
    metadata.pop('creationTimestamp', None)
    metadata['ownerReferences'] = [controller_ref(owner)]
    if name:
        metadata['name'] = name
    else:
        metadata['generateName'] = owner['metadata']['name'] + '-'
    return {'metadata': metadata, 'spec': template['spec']}
