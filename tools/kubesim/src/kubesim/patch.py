"""The three patch types the API server accepts, on plain JSON values.

Strategic merge follows apimachinery's strategicpatch: lists of known fields merge by a key (the
`patchMergeKey` of the Go types), other lists are replaced, and `$patch`, `$retainKeys`,
`$setElementOrder/` and `$deleteFromPrimitiveList/` directives (kubectl emits them) are honoured.
"""

from __future__ import annotations

import copy

from .errors import ApiError, bad_request

# patchMergeKey of the list fields of the kinds the simulator serves (k8s.io/api types).
MERGE_KEYS = {
    'containers': 'name', 'initContainers': 'name', 'ephemeralContainers': 'name', 'volumes': 'name',
    'env': 'name', 'volumeMounts': 'mountPath', 'volumeDevices': 'devicePath', 'imagePullSecrets': 'name',
    'conditions': 'type', 'ownerReferences': 'uid', 'hostAliases': 'ip', 'resourceClaims': 'name',
    'topologySpreadConstraints': 'topologyKey',
}
# Primitive lists whose patchStrategy is merge: the patch's values are added to the original's.
MERGED_PRIMITIVE_LISTS = {'finalizers'}

PATCH_DIRECTIVE = '$patch'
RETAIN_KEYS = '$retainKeys'
SET_ELEMENT_ORDER = '$setElementOrder/'
DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/'


def merge_key_for(field: str, items: list) -> str | None:
    """The merge key of a list field; `ports` is keyed by containerPort in containers, by port in Services."""
    if field == 'ports':
        return 'containerPort' if any(isinstance(item, dict) and 'containerPort' in item for item in items) else 'port'
    return MERGE_KEYS.get(field)


def strategic_merge(original, patch):
    """Apply a strategic-merge patch (a JSON object) to ``original``; neither argument is modified."""
    if not isinstance(patch, dict):
        raise bad_request('strategic merge patch must be a JSON object')
    return _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {}, copy.deepcopy(patch))


def _merge_map(original: dict, patch: dict):
    directive = patch.pop(PATCH_DIRECTIVE, None)
    if directive == 'replace':
        return {key: value for key, value in patch.items() if not key.startswith('$')}
    if directive == 'delete':
        return None
    if directive not in (None, 'merge'):
        raise bad_request('Unknown patch type: %s in map: %r' % (directive, patch))
    retain = patch.pop(RETAIN_KEYS, None)
    orders = {}
    for key in [key for key in patch if key.startswith(SET_ELEMENT_ORDER)]:
        orders[key[len(SET_ELEMENT_ORDER):]] = patch.pop(key)
    for key in [key for key in patch if key.startswith(DELETE_FROM_PRIMITIVE_LIST)]:
        field = key[len(DELETE_FROM_PRIMITIVE_LIST):]
        doomed = patch.pop(key)
        if isinstance(original.get(field), list):
            original[field] = [value for value in original[field] if value not in doomed]
    for key, value in patch.items():
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict) and isinstance(original.get(key), dict):
            merged = _merge_map(original[key], value)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, dict):
            merged = _merge_map({}, value)
            if merged is not None:
                original[key] = merged
        elif isinstance(value, list):
            original[key] = _merge_list(key, original.get(key) if isinstance(original.get(key), list) else [], value)
        else:
            original[key] = value
    for field, order in orders.items():
        if isinstance(original.get(field), list):
            original[field] = _apply_order(field, original[field], order)
    if retain is not None:
        original = {key: value for key, value in original.items() if key in retain}
    return original


def _merge_list(field: str, original: list, patch: list) -> list:
    if any(isinstance(item, dict) and item.get(PATCH_DIRECTIVE) == 'replace' for item in patch):
        return [item for item in patch if not (isinstance(item, dict) and PATCH_DIRECTIVE in item)]
    if field in MERGED_PRIMITIVE_LISTS:
        return original + [value for value in patch if value not in original]
    key = merge_key_for(field, original + patch)
    if key is None or not all(isinstance(item, dict) for item in patch):
        return [item for item in patch if not (isinstance(item, dict) and PATCH_DIRECTIVE in item)]
    result = list(original)
    for item in patch:
        if key not in item:
            raise bad_request('map: %r does not contain declared merge key: %s' % (item, key))
        index = next((i for i, current in enumerate(result) if isinstance(current, dict) and current.get(key) == item[key]), None)
        if item.get(PATCH_DIRECTIVE) == 'delete':
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            merged = _merge_map({}, item)
            if merged is not None:
                result.append(merged)
        else:
            merged = _merge_map(result[index], item)
            if merged is None:
                result.pop(index)
            else:
                result[index] = merged
    return result


def _apply_order(field: str, items: list, order: list) -> list:
    """Reorder as `$setElementOrder` says; items it does not name keep their place after those it names."""
    key = merge_key_for(field, items)

    def identity(item):
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [identity(entry) if isinstance(entry, dict) else entry for entry in order]
    ranked = sorted(enumerate(items), key=lambda pair: (wanted.index(identity(pair[1])) if identity(pair[1]) in wanted
                                                        else len(wanted) + pair[0]))
    return [item for _index, item in ranked]


def merge_patch(original, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, 'Invalid', message)


def _pointer(path: str) -> list[str]:
    if path == '':
        return []
    if not path.startswith('/'):
        raise _unprocessable('invalid JSON pointer: %r' % path)
    return [part.replace('~1', '/').replace('~0', '~') for part in path[1:].split('/')]


def _resolve(document, parts: list[str], path: str):
    """The container holding the last part of ``parts``."""
    target = document
    for part in parts[:-1]:
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            raise _unprocessable('doc is missing path: "%s": missing value' % path)
    return target


def _get(document, path: str):
    parts = _pointer(path)
    if not parts:
        return document
    parent = _resolve(document, parts, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise _unprocessable('doc is missing path: "%s": missing value' % path)


def _remove(document, path: str):
    parts = _pointer(path)
    parent = _resolve(document, parts, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise _unprocessable('doc is missing path: "%s": missing value' % path)


def _add(document, path: str, value, replace: bool):
    parts = _pointer(path)
    if not parts:
        return value
    parent = _resolve(document, parts, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _unprocessable('doc is missing key: %s' % path)
        parent[last] = value
    elif isinstance(parent, list):
        if last == '-' and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise _unprocessable('unable to access invalid index: %s' % last)
    else:
        raise _unprocessable('doc is missing path: "%s": missing value' % path)
    return document


def json_patch(original, operations):
    """RFC 6902 JSON patch; a failing operation is a 422 as the API server reports it."""
    if not isinstance(operations, list):
        raise bad_request('json: cannot unmarshal object into Go value of type jsonpatch.Patch')
    document = copy.deepcopy(original)
    for operation in operations:
        if not isinstance(operation, dict) or 'op' not in operation or 'path' not in operation:
            raise bad_request('invalid JSON patch operation: %r' % (operation,))
        kind, path = operation['op'], operation['path']
        if kind in ('add', 'replace'):
            if 'value' not in operation:
                raise bad_request('missing value for %s operation' % kind)
            document = _add(document, path, copy.deepcopy(operation['value']), replace=kind == 'replace')
        elif kind == 'remove':
            _remove(document, path)
        elif kind == 'move':
            value = _remove(document, operation['from'])
            document = _add(document, path, value, replace=False)
        elif kind == 'copy':
            document = _add(document, path, copy.deepcopy(_get(document, operation['from'])), replace=False)
        elif kind == 'test':
            if _get(document, path) != operation.get('value'):
                raise _unprocessable('testing value %s failed: test failed' % path)
        else:
            raise bad_request('Unexpected kind: %s' % kind)
    return document


PATCH_TYPES = {
    'application/strategic-merge-patch+json': strategic_merge,
    'application/merge-patch+json': merge_patch,
    'application/json-patch+json': json_patch,
}
