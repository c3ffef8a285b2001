# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_objects_backup's decisions: what of a ConfigMap, Secret or PersistentVolumeClaim is kept in a backup (its
definition, not what the server adds), the file of each kind, and what a restore does to each object."""

from __future__ import annotations

import json
import typing as t

SCHEMA = 'artisan.upgrade/k8s-objects/v1'
# kind -> (plural, fields of the definition kept beside metadata)
KINDS = {
    'ConfigMap': ('configmaps', ('data', 'binaryData', 'immutable')),
    'Secret': ('secrets', ('type', 'data', 'immutable')),
    'PersistentVolumeClaim': ('persistentvolumeclaims', ('spec',)),
}
# Put back by a restore when they differ; a claim's spec cannot change, so a restore only re-creates a lost one.
REPLACEABLE = ('ConfigMap', 'Secret')
KEPT_METADATA = ('name', 'namespace', 'labels', 'annotations')


def file_name(kind: str) -> str:
    return KINDS[kind][0] + '.json'


def definition(kind: str, obj: dict[str, t.Any]) -> dict[str, t.Any]:
    """The object as one would apply it again: no uid, resourceVersion, status, managed fields or owners."""
    metadata = obj.get('metadata') or {}
    kept = {'apiVersion': 'v1', 'kind': kind,
            'metadata': {key: metadata[key] for key in KEPT_METADATA if metadata.get(key) not in (None, {}, '')}}
    for field in KINDS[kind][1]:
        if obj.get(field) not in (None, {}):
            kept[field] = obj[field]
    return kept


def document(kind: str, namespace: str, selector: str, items: list[dict[str, t.Any]]) -> str:
    """The file of one kind: stable text, so that an unchanged cluster writes the same bytes."""
    items = sorted((definition(kind, item) for item in items), key=lambda item: item['metadata']['name'])
    return json.dumps({'schema': SCHEMA, 'kind': kind, 'namespace': namespace, 'selector': selector, 'items': items},
                      indent=2, sort_keys=True) + '\n'


def read_document(text: str, path: str) -> dict[str, t.Any]:
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise ValueError('%s is not JSON: %s' % (path, exc)) from None
    if not isinstance(loaded, dict) or loaded.get('schema') != SCHEMA or loaded.get('kind') not in KINDS:
        raise ValueError('%s is not a backup of Kubernetes objects (schema %s)' % (path, SCHEMA))
    return loaded


def restore_action(kind: str, saved: dict[str, t.Any], live: dict[str, t.Any] | None) -> str | None:
    """``create`` (missing), ``replace`` (a ConfigMap or Secret whose content differs), or None (as saved)."""
    if live is None:
        return 'create'
    if kind not in REPLACEABLE:
        return None
    return 'replace' if stored_content(kind, saved) != stored_content(kind, live) else None


def stored_content(kind: str, obj: dict[str, t.Any]) -> dict[str, t.Any]:
    """The content of a ConfigMap or Secret as the server stores it: no empty maps, a Secret's type defaulted."""
    values = {field: obj.get(field) for field in KINDS[kind][1] if obj.get(field) not in (None, {})}
    if kind == 'Secret':
        values.setdefault('type', 'Opaque')
    return values


def replacement(saved: dict[str, t.Any], live: dict[str, t.Any]) -> dict[str, t.Any]:
    """The saved definition as a PUT over ``live``: its resourceVersion, so a concurrent write is refused (409)."""
    body = json.loads(json.dumps(saved))
    body['metadata']['resourceVersion'] = live['metadata']['resourceVersion']
    return body
