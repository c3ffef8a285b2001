# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake of the Kubernetes boundary (_k8s.Kube) for unit tests: objects in a dict, requests recorded.

It answers like the API server for what the callers use: get/list (labelSelector k=v, fieldSelector
metadata.name), create, merge and JSON patches (``replace``), the scale subresource, dry runs, delete,
and ``wait_until``, which judges the objects as they are (a wait that is not done at once times out).
``controller(fake, method, path, body)`` runs after each write to play the cluster's controllers.
"""

from __future__ import annotations

import copy
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s

PLURALS = {'Deployment': 'deployments', 'Service': 'services', 'Ingress': 'ingresses', 'Pod': 'pods',
           'EndpointSlice': 'endpointslices', 'Job': 'jobs', 'Secret': 'secrets', 'Namespace': 'namespaces'}


def path_of(obj: dict[str, t.Any]) -> str:
    return _k8s.api_path(obj['apiVersion'], PLURALS[obj['kind']], obj['metadata'].get('namespace'), obj['metadata']['name'])


def merge(target: dict[str, t.Any], patch: dict[str, t.Any]) -> dict[str, t.Any]:
    """RFC 7386: None removes a key, dicts merge, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def matches(obj: dict[str, t.Any], query: dict[str, t.Any] | None) -> bool:
    query = query or {}
    labels = obj['metadata'].get('labels') or {}
    for term in filter(None, (query.get('labelSelector') or '').split(',')):
        key, value = term.split('=', 1)
        if labels.get(key) != value:
            return False
    field = query.get('fieldSelector')
    return not field or field == 'metadata.name=%s' % obj['metadata']['name']


class FakeKube:
    def __init__(self, objects: t.Iterable[dict[str, t.Any]] = (), controller: t.Callable[..., None] | None = None,
                 deadline: float = 30) -> None:
        self.objects = {path_of(obj): copy.deepcopy(obj) for obj in objects}
        self.controller = controller
        self.deadline = _k8s.Deadline(deadline)
        self.requests: list[str] = []
        # 'METHOD path' -> exception raised by that request
        self.failures: dict[str, BaseException] = {}
        self.server = 'http://127.0.0.1:6443'

    def obj(self, path: str) -> dict[str, t.Any]:
        return self.objects[path]

    def _send(self, method: str, path: str, dry_run: bool = False) -> None:
        request = '%s %s%s' % (method, path, '?dryRun=All' if dry_run else '')
        self.requests.append(request)
        failure = self.failures.get('%s %s' % (method, path))
        if failure is not None:
            raise failure

    def writes(self) -> list[str]:
        return [request for request in self.requests if not request.startswith('GET ')]

    def _missing(self, path: str) -> _k8s.ApiError:
        return _k8s.ApiError('%s not found (HTTP 404)' % path.rsplit('/', 1)[-1], 404)

    def get(self, path: str, query: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        self._send('GET', path)
        if path not in self.objects:
            raise self._missing(path)
        return copy.deepcopy(self.objects[path])

    def get_or_none(self, path: str) -> dict[str, t.Any] | None:
        try:
            return self.get(path)
        except _k8s.ApiError:
            return None

    def _items(self, path: str, query: dict[str, t.Any] | None) -> list[dict[str, t.Any]]:
        return [copy.deepcopy(obj) for key, obj in sorted(self.objects.items())
                if key.rsplit('/', 1)[0] == path and matches(obj, query)]

    def list(self, path: str, query: dict[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        self._send('GET', path)
        return self._items(path, query)

    def _written(self, method: str, path: str, body: t.Any) -> None:
        if self.controller is not None:
            self.controller(self, method, path, body)

    def create(self, path: str, body: dict[str, t.Any], dry_run: bool = False) -> dict[str, t.Any]:
        self._send('POST', path, dry_run)
        created = merge(copy.deepcopy(body), {'metadata': {'namespace': path.split('/namespaces/')[1].split('/')[0]}})
        target = path + '/' + created['metadata']['name']
        if target in self.objects:
            raise _k8s.ApiError('%s already exists (HTTP 409)' % created['metadata']['name'], 409)
        if not dry_run:
            self.objects[target] = created
            self._written('POST', target, body)
        return copy.deepcopy(created)

    def patch(self, path: str, body: t.Any, content_type: str = _k8s.STRATEGIC_MERGE, dry_run: bool = False) -> dict[str, t.Any]:
        self._send('PATCH', path, dry_run)
        scale = path.endswith('/scale')
        target = path[:-len('/scale')] if scale else path
        if target not in self.objects:
            raise self._missing(target)
        patched = copy.deepcopy(self.objects[target])
        if isinstance(body, list):
            for op in body:
                keys = op['path'].strip('/').split('/')
                parent = patched
                for key in keys[:-1]:
                    parent = parent[key]
                parent[keys[-1]] = copy.deepcopy(op['value'])
        else:
            merge(patched, body)
        if 'spec' in (body if isinstance(body, dict) else {'spec': 1}):
            patched['metadata']['generation'] = patched['metadata'].get('generation', 1) + 1
        if not dry_run:
            self.objects[target] = patched
            self._written('PATCH', path, body)
        return copy.deepcopy(patched)

    def delete(self, path: str, propagation: str | None = None, missing_ok: bool = True) -> dict[str, t.Any] | None:
        self._send('DELETE', path)
        if path not in self.objects:
            if missing_ok:
                return None
            raise self._missing(path)
        return self.objects.pop(path)

    def wait_until(self, streams: dict[str, tuple[str, dict[str, t.Any]]],
                   judge: t.Callable[[dict[str, dict[str, dict[str, t.Any]]]], t.Any],
                   clock: t.Callable[[], float] | None = None, wake_at: t.Callable[[], float | None] | None = None) -> t.Any:
        for path, _query in streams.values():
            self._send('GET', path)
            self.requests.append('GET %s?watch=true' % path)
        objects = {tag: {obj['metadata']['name']: obj for obj in self._items(path, query)}
                   for tag, (path, query) in streams.items()}
        return judge(objects) or None
