"""The HTTP face of the simulator: discovery, CRUD, patch, watch, as kube-apiserver serves them over JSON."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time

from aiohttp import web

from . import errors, podexec
from .clock import convert_times
from .registry import Registry
from .resources import BY_PATH, GROUP_VERSIONS, RESOURCES, Resource

SERVER_VERSION = {'major': '1', 'minor': '32', 'gitVersion': 'v1.32.0-kubesim', 'gitCommit': 'kubesim', 'gitTreeState': 'clean',
                  'buildDate': '2024-12-11T00:00:00Z', 'goVersion': 'go1.23.3', 'compiler': 'gc', 'platform': 'linux/amd64'}
BOOKMARK_INTERVAL = 10.0  # real seconds; the API server sends one roughly every minute
DEFAULT_WATCH_TIMEOUT = 1800
PATCH_MEDIA_TYPES = 'application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json'


def _dumps(body) -> str:
    """Compact JSON as the Go encoder writes it: a ControllerRevision's ``data`` reaches clients byte for byte."""
    return json.dumps(body, separators=(',', ':'))


def _json(body, status: int = 200) -> web.Response:
    return web.Response(status=status, text=_dumps(body), content_type='application/json')


def _error(exc: errors.ApiError) -> web.Response:
    return _json(exc.status(), exc.code)


def api_resource_list(group: str, version: str) -> dict:
    """The APIResourceList of one group version, subresources included, as kubectl discovers them."""
    entries = []
    for resource in RESOURCES:
        if (resource.group, resource.version) != (group, version):
            continue
        entry = {'name': resource.plural, 'singularName': resource.singular, 'namespaced': resource.namespaced,
                 'kind': resource.kind, 'verbs': list(resource.verbs)}
        if resource.short_names:
            entry['shortNames'] = list(resource.short_names)
        if resource.categories:
            entry['categories'] = list(resource.categories)
        entries.append(entry)
        for sub in resource.subresources:
            if sub == 'scale':
                entries.append({'name': '%s/scale' % resource.plural, 'singularName': '', 'namespaced': resource.namespaced,
                                'group': 'autoscaling', 'version': 'v1', 'kind': 'Scale', 'verbs': ['get', 'patch', 'update']})
            elif sub == 'log':
                entries.append({'name': '%s/log' % resource.plural, 'singularName': '', 'namespaced': True, 'kind': 'Pod',
                                'verbs': ['get']})
            elif sub == 'exec':
                entries.append({'name': '%s/exec' % resource.plural, 'singularName': '', 'namespaced': True,
                                'kind': 'PodExecOptions', 'verbs': ['create', 'get']})
            else:
                entries.append({'name': '%s/%s' % (resource.plural, sub), 'singularName': '', 'namespaced': resource.namespaced,
                                'kind': resource.kind, 'verbs': ['get', 'patch', 'update']})
    return {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': '%s/%s' % (group, version) if group else version,
            'resources': entries}


def api_group_list() -> dict:
    groups = []
    for group, versions in GROUP_VERSIONS.items():
        if not group:
            continue
        listed = [{'groupVersion': '%s/%s' % (group, version), 'version': version} for version in versions]
        groups.append({'name': group, 'versions': listed, 'preferredVersion': listed[0]})
    return {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': groups}


def openapi_group_versions() -> list[str]:
    return ['api/v1' if not group else 'apis/%s/%s' % (group, version) for group, versions in GROUP_VERSIONS.items()
            for version in versions]


def openapi_document(group_version: str) -> dict:
    """Paths of one group version with their PATCH operations, GVK extension and query parameters only."""
    paths = {}
    for resource in RESOURCES:
        prefix = 'api/v1' if not resource.group else 'apis/%s/%s' % (resource.group, resource.version)
        if prefix != group_version:
            continue
        scope = '/namespaces/{namespace}' if resource.namespaced else ''
        parameters = [{'name': name, 'in': 'query', 'schema': {'type': 'string', 'uniqueItems': True}}
                      for name in ('dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty')]
        paths['/%s%s/%s/{name}' % (prefix, scope, resource.plural)] = {'patch': {
            'operationId': 'patch%s' % resource.kind, 'parameters': parameters,
            'x-kubernetes-action': 'patch',
            'x-kubernetes-group-version-kind': {'group': resource.group, 'version': resource.version, 'kind': resource.kind}}}
    return {'openapi': '3.0.0', 'info': {'title': 'Kubernetes', 'version': SERVER_VERSION['gitVersion']}, 'paths': paths,
            'components': {'schemas': {}}}


def parse_path(path: str) -> tuple[Resource, str | None, str | None, str | None] | None:
    """(resource, namespace, name, subresource) for a resource URL, None for anything else."""
    parts = [part for part in path.split('/') if part]
    if len(parts) >= 2 and parts[0] == 'api':
        group, version, rest = '', parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == 'apis':
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == 'namespaces':
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = BY_PATH.get((group, version, rest[0]))
    if resource is None or (namespace is not None and not resource.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if subresource is not None and subresource not in resource.subresources:
        return None
    return resource, namespace, name, subresource


class ApiServer:
    """Routes HTTP requests to the registry; one instance per simulator."""

    def __init__(self, registry: Registry, kubelet=None):
        self.registry = registry
        self.kubelet = kubelet  # the docker runtime's kubelet: exec and real logs; None for the fast runtime
        self.watch_tasks: set[asyncio.Task] = set()
        self.app = web.Application(client_max_size=16 * 1024 * 1024)
        self.app.router.add_route('*', '/{tail:.*}', self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip('/') or '/'
        try:
            if request.method == 'GET':
                discovered = self._discovery(path)
                if discovered is not None:
                    return discovered
            parsed = parse_path(path)
            if parsed is None:
                return web.Response(status=404, text='404 page not found\n', content_type='text/plain')
            return await self._resource(request, *parsed)
        except errors.ApiError as exc:
            return _error(exc)

    def _discovery(self, path: str) -> web.Response | None:
        if path == '/version':
            return _json(SERVER_VERSION)
        if path in ('/healthz', '/readyz', '/livez'):
            return web.Response(text='ok', content_type='text/plain')
        if path == '/api':
            return _json({'kind': 'APIVersions', 'versions': ['v1'],
                          'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': '127.0.0.1'}]})
        if path == '/apis':
            return _json(api_group_list())
        parts = [part for part in path.split('/') if part]
        if parts[:1] == ['openapi']:
            return self._openapi(parts[1:])
        if parts[:1] == ['api'] and len(parts) == 2 and parts[1] in GROUP_VERSIONS['']:
            return _json(api_resource_list('', parts[1]))
        if parts[:1] == ['apis'] and len(parts) == 2 and parts[1] in GROUP_VERSIONS:
            versions = [{'groupVersion': '%s/%s' % (parts[1], version), 'version': version} for version in GROUP_VERSIONS[parts[1]]]
            return _json({'kind': 'APIGroup', 'apiVersion': 'v1', 'name': parts[1], 'versions': versions,
                          'preferredVersion': versions[0]})
        if parts[:1] == ['apis'] and len(parts) == 3 and parts[2] in GROUP_VERSIONS.get(parts[1], []):
            return _json(api_resource_list(parts[1], parts[2]))
        return None

    @staticmethod
    def _openapi(parts: list[str]) -> web.Response:
        """Just enough OpenAPI v3 for kubectl to see that PATCH takes `fieldValidation` (then it validates
        server-side, with no schema download); no schemas, and no v2 document."""
        if parts == ['v3']:
            return _json({'paths': {gv: {'serverRelativeURL': '/openapi/v3/%s?hash=kubesim' % gv} for gv in openapi_group_versions()}})
        if parts[:1] == ['v3'] and '/'.join(parts[1:]) in openapi_group_versions():
            return _json(openapi_document('/'.join(parts[1:])))
        return web.Response(status=404, text='404 page not found\n', content_type='text/plain')

    async def _body(self, request: web.Request):
        text = await request.text()
        if not text.strip():
            raise errors.bad_request('the request body is empty')
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise errors.bad_request('the body of the request was in an unknown format: %s' % exc) from exc
        return convert_times(body, lambda wall: math.ceil(self.registry.clock.simulated_time(wall)))

    def _wire(self, obj):
        """An object as clients see it: its timestamps on the wall clock (see clock.py)."""
        return convert_times(obj, self.registry.clock.wall_time)

    def _send(self, obj, status: int = 200) -> web.Response:
        return _json(self._wire(obj), status)

    async def _resource(self, request: web.Request, resource: Resource, namespace: str | None, name: str | None,
                        subresource: str | None) -> web.StreamResponse:
        query = request.query
        dry_run = 'All' in query.getall('dryRun', [])
        method = request.method
        registry = self.registry
        if resource.namespaced and namespace is None and name is not None:
            return web.Response(status=404, text='404 page not found\n', content_type='text/plain')
        if subresource == 'exec' and method in ('GET', 'POST'):
            return await podexec.handle_exec(request, registry.get(resource, namespace, name), self.kubelet)
        if method == 'GET' and name is None:
            if query.get('watch') in ('true', 'True', '1'):
                return await self._watch(request, resource, namespace)
            return self._list(resource, namespace, query)
        if method == 'GET':
            obj = registry.get(resource, namespace, name)
            if subresource == 'scale':
                return self._send(registry.scale_of(resource, obj))
            if subresource == 'log':
                return await podexec.pod_logs(obj, query, self.kubelet) or self._log(obj, query)
            return self._send(obj)
        if method == 'POST' and name is None:
            self._check_content_type(request, patch=False)
            return self._send(registry.create(resource, namespace, await self._body(request), dry_run), 201)
        if method == 'PUT' and name is not None:
            self._check_content_type(request, patch=False)
            body = await self._body(request)
            if subresource == 'scale':
                return self._send(registry.update_scale(resource, namespace, name, body, dry_run))
            return self._send(registry.update(resource, namespace, name, body, subresource, dry_run))
        if method == 'PATCH' and name is not None:
            content_type = request.headers.get('Content-Type', '').split(';')[0].strip()
            if content_type not in ('application/strategic-merge-patch+json', 'application/merge-patch+json',
                                    'application/json-patch+json'):
                raise errors.unsupported_media_type(content_type, PATCH_MEDIA_TYPES)
            return self._send(registry.patch(resource, namespace, name, content_type, await self._body(request), subresource, dry_run))
        if method == 'DELETE':
            options = await self._delete_options(request)
            if name is None:
                return self._delete_collection(resource, namespace, query, options, dry_run)
            result = registry.delete(resource, namespace, name, options, dry_run or 'All' in (options.get('dryRun') or []))
            return self._send(result)
        raise errors.method_not_allowed(method, resource.plural)

    @staticmethod
    def _check_content_type(request: web.Request, patch: bool) -> None:
        content_type = request.headers.get('Content-Type', 'application/json').split(';')[0].strip()
        if not patch and content_type not in ('application/json', '', '*/*'):
            # Protobuf bodies (kubectl's typed `create <generator>` commands) and YAML are not decoded here.
            raise errors.unsupported_media_type(content_type, 'application/json')

    async def _delete_options(self, request: web.Request) -> dict:
        options = {}
        text = await request.text()
        if text.strip():
            try:
                options = json.loads(text)
            except ValueError as exc:
                raise errors.bad_request('invalid DeleteOptions: %s' % exc) from exc
        query = request.query
        if 'propagationPolicy' in query:
            options['propagationPolicy'] = query['propagationPolicy']
        if 'gracePeriodSeconds' in query:
            options['gracePeriodSeconds'] = int(query['gracePeriodSeconds'])
        if options.get('propagationPolicy') not in (None, 'Orphan', 'Background', 'Foreground'):
            raise errors.bad_request('propagationPolicy: Unsupported value: "%s": supported values: "Foreground", "Background", '
                                     '"Orphan"' % options['propagationPolicy'])
        return options

    def _delete_collection(self, resource: Resource, namespace: str | None, query, options: dict, dry_run: bool) -> web.Response:
        items = self.registry.list(resource, namespace, query.get('labelSelector'), query.get('fieldSelector'))
        for item in items:
            self.registry.delete(resource, item['metadata'].get('namespace'), item['metadata']['name'], options, dry_run)
        return _json(self._list_body(resource, items))

    def _list_body(self, resource: Resource, items: list[dict]) -> dict:
        for item in items:
            # Items of a typed list carry no kind/apiVersion on the wire.
            item.pop('kind', None)
            item.pop('apiVersion', None)
        return {'kind': resource.kind + 'List', 'apiVersion': resource.api_version,
                'metadata': {'resourceVersion': str(self.registry.revision)}, 'items': [self._wire(item) for item in items]}

    def _list(self, resource: Resource, namespace: str | None, query) -> web.Response:
        items = self.registry.list(resource, namespace, query.get('labelSelector'), query.get('fieldSelector'))
        start = 0
        if query.get('continue'):
            try:
                start = json.loads(base64.urlsafe_b64decode(query['continue'].encode()))['start']
            except (ValueError, KeyError, TypeError) as exc:
                raise errors.bad_request('continue key is not valid: %s' % exc) from exc
        limit = int(query.get('limit') or 0)
        page = items[start:start + limit] if limit > 0 else items[start:]
        body = self._list_body(resource, page)
        rest = len(items) - start - len(page)
        if limit > 0 and rest > 0:
            token = {'rv': self.registry.revision, 'start': start + len(page)}
            body['metadata']['continue'] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            body['metadata']['remainingItemCount'] = rest
        return _json(body)

    @staticmethod
    def _log(pod: dict, query) -> web.Response:
        containers = [container['name'] for container in pod['spec']['containers']]
        container = query.get('container') or (containers[0] if len(containers) == 1 else None)
        name = pod['metadata']['name']
        if container is None:
            raise errors.bad_request('a container name must be specified for pod %s, choose one of: [%s]' % (name, ' '.join(containers)))
        if container not in containers:
            raise errors.bad_request('container %s is not valid for pod %s' % (container, name))
        state = next((item['state'] for item in (pod.get('status') or {}).get('containerStatuses') or []
                      if item['name'] == container), {})
        if 'waiting' in state and not any(item.get('restartCount') for item in pod['status'].get('containerStatuses') or []):
            raise errors.bad_request('container "%s" in pod "%s" is waiting to start: %s'
                                     % (container, name, state['waiting'].get('reason', '')))
        return web.Response(text='kubesim: container %s of pod %s started\n' % (container, name), content_type='text/plain')

    async def _watch(self, request: web.Request, resource: Resource, namespace: str | None) -> web.StreamResponse:
        query = request.query
        bookmarks = query.get('allowWatchBookmarks') in ('true', 'True', '1')
        send_initial = query.get('sendInitialEvents') in ('true', 'True', '1')
        timeout = float(query.get('timeoutSeconds') or DEFAULT_WATCH_TIMEOUT)
        response = web.StreamResponse(headers={'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private'})
        response.enable_chunked_encoding()
        try:
            watcher, initial = self.registry.watch(resource, namespace, query.get('labelSelector'), query.get('fieldSelector'),
                                                   query.get('resourceVersion'), send_initial and bookmarks)
        except errors.ApiError as exc:
            if exc.code != 410:
                raise
            # An expired resourceVersion is reported inside a 200 stream, as an ERROR event.
            await response.prepare(request)
            await response.write(_dumps({'type': 'ERROR', 'object': exc.status()}).encode() + b'\n')
            await response.write_eof()
            return response
        task = asyncio.current_task()
        self.watch_tasks.add(task)
        try:
            await response.prepare(request)
            for event_type, obj in initial:
                await response.write(_dumps({'type': event_type, 'object': self._wire(obj)}).encode() + b'\n')
            await self._stream_events(response, watcher, resource, bookmarks, time.monotonic() + timeout)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away
        finally:
            self.registry.watchers.discard(watcher)
            self.watch_tasks.discard(task)
        return response

    async def _stream_events(self, response: web.StreamResponse, watcher, resource: Resource, bookmarks: bool,
                             deadline: float) -> None:
        """Events until the deadline, and a BOOKMARK every BOOKMARK_INTERVAL when asked for. Each wait blocks on
        the queue until an event, the next bookmark or the deadline, so an idle watch costs nothing."""
        wake_up = deadline if not bookmarks else min(deadline, time.monotonic() + BOOKMARK_INTERVAL)
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            try:
                event_type, obj = await asyncio.wait_for(watcher.queue.get(), wake_up - now)
            except asyncio.TimeoutError:
                if bookmarks and time.monotonic() < deadline:
                    await response.write(_dumps({'type': 'BOOKMARK', 'object': self.registry.bookmark(resource)}).encode() + b'\n')
                    wake_up = min(deadline, time.monotonic() + BOOKMARK_INTERVAL)
                continue
            await response.write(_dumps({'type': event_type, 'object': self._wire(obj)}).encode() + b'\n')
