"""The API server's storage semantics, shared by the HTTP layer and the controllers.

One global resourceVersion counter, uid and timestamps, generation, optimistic concurrency,
graceful and cascading deletion, dry runs, and a bounded event history that watches replay from.
Everything here is synchronous and runs on the simulator's event loop, so each call is atomic.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import random
import uuid

from . import errors
from .clock import Clock
from .patch import PATCH_TYPES
from .pods import pod_finished
from .resources import BY_KIND, RESOURCES, Resource, apply_defaults, default_job_selector, prepare_daemonset, validate
from .selectors import fields_match, format_label_selector, labels_match, parse_field_selector, parse_label_selector

RANDOM_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'  # k8s.io/apimachinery/pkg/util/rand: no vowels, no look-alikes
# Fields that only the server sets: a client's values are ignored on create and update.
_SERVER_METADATA = ('uid', 'resourceVersion', 'creationTimestamp', 'generation', 'deletionTimestamp',
                    'deletionGracePeriodSeconds', 'selfLink', 'managedFields')


def random_suffix(length: int = 5) -> str:
    return ''.join(random.choice(RANDOM_ALPHABET) for _position in range(length))


def node_name(index: int) -> str:
    """Node names as kind numbers its workers: kubesim-node, kubesim-node2, kubesim-node3, ..."""
    return 'kubesim-node' if index == 0 else 'kubesim-node%d' % (index + 1)


def node_ip(name: str) -> str:
    """The InternalIP of a simulated node: 10.0.0.10 for the first, then .11, .12, ..."""
    suffix = name[len('kubesim-node'):]
    return '10.0.0.%d' % (9 + (int(suffix) if suffix.isdigit() else 1))


def node_object(index: int) -> dict:
    name = node_name(index)
    return {
        'metadata': {'name': name, 'labels': {'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64'}},
        'status': {'conditions': [{'type': 'Ready', 'status': 'True', 'reason': 'KubeletReady', 'message': 'kubelet is posting ready status'}],
                   'addresses': [{'type': 'InternalIP', 'address': node_ip(name)}, {'type': 'Hostname', 'address': name}],
                   'capacity': {'cpu': '2', 'memory': '8Gi', 'pods': '110'},
                   'allocatable': {'cpu': '2', 'memory': '8Gi', 'pods': '110'},
                   'daemonEndpoints': {'kubeletEndpoint': {'Port': 10250}},
                   'nodeInfo': {'kubeletVersion': 'v1.32.0', 'kubeProxyVersion': 'v1.32.0',
                                'containerRuntimeVersion': 'containerd://1.7.24', 'operatingSystem': 'linux',
                                'architecture': 'amd64', 'osImage': 'Debian GNU/Linux 12 (bookworm)',
                                'kernelVersion': '6.1.0-kubesim', 'bootID': str(uuid.uuid4()), 'machineID': uuid.uuid4().hex,
                                'systemUUID': str(uuid.uuid4())}}}


def resource_for(api_version: str, kind: str) -> Resource:
    return BY_KIND[(api_version, kind)]


class Watcher:
    """One watch stream's filter and queue; selector transitions become ADDED/DELETED as upstream."""

    def __init__(self, resource: Resource, namespace: str | None, label_selector: str | None, field_selector: str | None):
        self.resource = resource
        self.namespace = namespace
        self.labels = parse_label_selector(label_selector)
        self.fields = parse_field_selector(field_selector, resource.field_selectors)
        self.queue: asyncio.Queue = asyncio.Queue()

    def matches(self, obj: dict | None) -> bool:
        if obj is None:
            return False
        if self.namespace and obj['metadata'].get('namespace') != self.namespace:
            return False
        return labels_match(self.labels, obj['metadata'].get('labels')) and fields_match(self.fields, obj)

    def translate(self, event_type: str, obj: dict, old: dict | None) -> tuple[str, dict] | None:
        now, before = self.matches(obj), self.matches(old)
        if event_type == 'MODIFIED':
            if now and before:
                return 'MODIFIED', obj
            if now:
                return 'ADDED', obj
            if before:
                return 'DELETED', obj
            return None
        return (event_type, obj) if now else None

    def offer(self, key, event_type: str, obj: dict, old: dict | None) -> None:
        if key != self.resource.key:
            return
        event = self.translate(event_type, obj, old)
        if event:
            self.queue.put_nowait(event)


class Registry:
    """All objects, keyed by resource then (namespace, name)."""

    def __init__(self, clock: Clock, history_size: int = 10000, nodes: int = 1):
        self.clock = clock
        self.node_count = nodes
        self.objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {resource.key: {} for resource in RESOURCES}
        self.revision = 0
        self.history: collections.deque = collections.deque()
        self.history_size = history_size
        # Watches asking for a resourceVersion at or below this get 410 Gone.
        self.compacted = 0
        self.watchers: set[Watcher] = set()
        self.listeners: list = []
        self._service_ips = 0
        self._bootstrap()

    def _bootstrap(self) -> None:
        for name in ('default', 'kube-system', 'kube-public', 'kube-node-lease'):
            self.create(resource_for('v1', 'Namespace'), None, {'metadata': {'name': name}})
        for index in range(self.node_count):
            self.create(resource_for('v1', 'Node'), None, node_object(index))
        for namespace in ('default', 'kube-system', 'kube-public', 'kube-node-lease'):
            self.create(resource_for('v1', 'ServiceAccount'), namespace, {'metadata': {'name': 'default'}})
        self.create(resource_for('v1', 'Service'), 'default', {
            'metadata': {'name': 'kubernetes', 'labels': {'component': 'apiserver', 'provider': 'kubernetes'}},
            'spec': {'ports': [{'name': 'https', 'port': 443, 'targetPort': 6443}]}})
        self.compacted = self.revision

    # -- storage ---------------------------------------------------------------------------------

    def _next_revision(self) -> str:
        self.revision += 1
        return str(self.revision)

    def _commit(self, resource: Resource, event_type: str, obj: dict, old: dict | None) -> dict:
        """Store (or drop) ``obj``, record the event and tell watches and controllers."""
        obj['metadata']['resourceVersion'] = self._next_revision()
        key = (obj['metadata'].get('namespace', ''), obj['metadata']['name'])
        if event_type == 'DELETED':
            self.objects[resource.key].pop(key, None)
        else:
            self.objects[resource.key][key] = obj
        self.history.append((self.revision, resource.key, event_type, obj, old))
        while len(self.history) > self.history_size:
            self.compacted = self.history.popleft()[0]
        for watcher in list(self.watchers):
            watcher.offer(resource.key, event_type, obj, old)
        for listener in self.listeners:
            listener()
        return copy.deepcopy(obj)

    def compact(self) -> None:
        """Forget the event history, as etcd compaction does: older resourceVersions then get 410."""
        self.history.clear()
        self.compacted = self.revision

    def _current(self, resource: Resource, namespace: str | None, name: str) -> dict:
        obj = self.objects[resource.key].get((namespace or '', name))
        if obj is None:
            raise errors.not_found(resource.plural, resource.group, name)
        return obj

    def _check_namespace(self, resource: Resource, namespace: str | None) -> None:
        if resource.namespaced and ('', namespace or '') not in self.objects[('', 'namespaces')]:
            raise errors.not_found('namespaces', '', namespace or '')

    # -- reads -----------------------------------------------------------------------------------

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict:
        return copy.deepcopy(self._current(resource, namespace, name))

    def find(self, resource: Resource, namespace: str | None, name: str) -> dict | None:
        obj = self.objects[resource.key].get((namespace or '', name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: Resource, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict]:
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, resource.field_selectors)
        items = []
        for (obj_namespace, _name), obj in sorted(self.objects[resource.key].items()):
            if namespace and obj_namespace != namespace:
                continue
            if labels_match(labels, obj['metadata'].get('labels')) and fields_match(fields, obj):
                items.append(copy.deepcopy(obj))
        return items

    def owned_by(self, resource: Resource, owner: dict) -> list[dict]:
        """Objects of ``resource`` whose controller ownerReference is ``owner`` (same namespace)."""
        uid = owner['metadata']['uid']
        return [obj for obj in self.list(resource, owner['metadata'].get('namespace'))
                if any(ref.get('uid') == uid and ref.get('controller') for ref in obj['metadata'].get('ownerReferences') or [])]

    # -- writes ----------------------------------------------------------------------------------

    def create(self, resource: Resource, namespace: str | None, body: dict, dry_run: bool = False) -> dict:
        obj = copy.deepcopy(body)
        self._check_type(resource, obj)
        metadata = obj.setdefault('metadata', {})
        if resource.namespaced:
            if metadata.get('namespace') and metadata['namespace'] != namespace:
                raise errors.bad_request('the namespace of the provided object does not match the namespace sent on the request')
            metadata['namespace'] = namespace
            self._check_namespace(resource, namespace)
        else:
            metadata.pop('namespace', None)
        if not metadata.get('name') and metadata.get('generateName'):
            metadata['name'] = metadata['generateName'] + random_suffix()
        for key in _SERVER_METADATA:
            metadata.pop(key, None)
        apply_defaults(resource, obj)
        validate(resource, obj, None)
        if (metadata.get('namespace', '') if resource.namespaced else '', metadata['name']) in self.objects[resource.key]:
            raise errors.already_exists(resource.plural, resource.group, metadata['name'])
        metadata['uid'] = str(uuid.uuid4())
        metadata['creationTimestamp'] = self.clock.timestamp()
        if resource.kind == 'Job':
            default_job_selector(obj)
        elif resource.kind == 'DaemonSet':
            prepare_daemonset(obj, None)
        if resource.generation:
            metadata['generation'] = 1
        self._initial_status(resource, obj)
        if dry_run:
            metadata['resourceVersion'] = str(self.revision)
            return obj
        return self._commit(resource, 'ADDED', obj, None)

    def _check_type(self, resource: Resource, obj: dict) -> None:
        if not isinstance(obj, dict):
            raise errors.bad_request('the body of the request must be a JSON object')
        kind, api_version = obj.get('kind'), obj.get('apiVersion')
        if (kind and kind != resource.kind) or (api_version and api_version != resource.api_version):
            raise errors.bad_request('the API version in the data (%s) does not match the expected API version (%s)'
                                     % (api_version, resource.api_version) if api_version != resource.api_version else
                                     'the kind in the data (%s) does not match the expected kind (%s)' % (kind, resource.kind))
        obj['kind'], obj['apiVersion'] = resource.kind, resource.api_version

    def _initial_status(self, resource: Resource, obj: dict) -> None:
        """What create does with a client's status: reset for workloads, seeded for pods and services."""
        kind = resource.kind
        if kind in ('Deployment', 'ReplicaSet', 'Job', 'StatefulSet', 'DaemonSet'):
            # The fields without omitempty are on the wire from the start.
            obj['status'] = {'ReplicaSet': {'replicas': 0}, 'StatefulSet': {'replicas': 0, 'availableReplicas': 0},
                             'DaemonSet': {'currentNumberScheduled': 0, 'numberMisscheduled': 0, 'desiredNumberScheduled': 0,
                                           'numberReady': 0}}.get(kind, {})
        elif kind == 'Pod':
            obj['status'] = {'phase': 'Pending', 'qosClass': 'BestEffort'}
        elif kind == 'Service':
            spec = obj['spec']
            if spec.get('clusterIP') != 'None' and not spec.get('clusterIP'):
                self._service_ips += 1
                spec['clusterIP'] = '10.96.%d.%d' % (self._service_ips // 250, self._service_ips % 250 + 1)
            spec['clusterIPs'] = [spec['clusterIP']]
            obj['status'] = {'loadBalancer': {}}

    def update(self, resource: Resource, namespace: str | None, name: str, body: dict, subresource: str | None = None,
               dry_run: bool = False) -> dict:
        current = self._current(resource, namespace, name)
        obj = copy.deepcopy(body)
        self._check_type(resource, obj)
        metadata = obj.setdefault('metadata', {})
        if metadata.get('name') and metadata['name'] != name:
            raise errors.bad_request('the name of the object (%s) does not match the name on the URL (%s)' % (metadata['name'], name))
        wanted_version = metadata.get('resourceVersion')
        if wanted_version and wanted_version != current['metadata']['resourceVersion']:
            raise errors.conflict(resource.plural, resource.group, name)
        if subresource == 'status':
            obj = self._status_update(current, obj)
        else:
            obj = self._spec_update(resource, current, obj)
        return self._store_update(resource, current, obj, dry_run)

    @staticmethod
    def _status_update(current: dict, obj: dict) -> dict:
        """/status writes change status (and annotations, as the Deployment controller relies on), nothing else."""
        result = copy.deepcopy(current)
        result['status'] = obj.get('status') or {}
        if 'annotations' in obj['metadata']:
            result['metadata']['annotations'] = obj['metadata']['annotations']
        return result

    def _spec_update(self, resource: Resource, current: dict, obj: dict) -> dict:
        metadata = obj['metadata']
        for key in _SERVER_METADATA:
            metadata.pop(key, None)
        for key in ('uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds'):
            if key in current['metadata']:
                metadata[key] = current['metadata'][key]
        metadata['name'] = current['metadata']['name']
        if resource.namespaced:
            metadata['namespace'] = current['metadata']['namespace']
        if resource.subresources and 'status' in resource.subresources:
            obj['status'] = copy.deepcopy(current.get('status', {}))
        if resource.kind == 'Service':
            obj['spec'].setdefault('clusterIP', current['spec'].get('clusterIP'))
            obj['spec'].setdefault('clusterIPs', current['spec'].get('clusterIPs'))
        apply_defaults(resource, obj)
        validate(resource, obj, current)
        if resource.kind == 'DaemonSet':
            prepare_daemonset(obj, current)
        if resource.generation:
            changed = obj.get('spec') != current.get('spec')
            if resource.annotations_bump_generation:
                changed = changed or (metadata.get('annotations') or {}) != (current['metadata'].get('annotations') or {})
            if changed:
                metadata['generation'] = current['metadata'].get('generation', 0) + 1
        return obj

    def _store_update(self, resource: Resource, current: dict, obj: dict, dry_run: bool) -> dict:
        obj['metadata']['resourceVersion'] = current['metadata']['resourceVersion']
        if obj == current or dry_run:
            # An update that changes nothing is not written: no new resourceVersion, no watch event.
            return copy.deepcopy(obj)
        if obj['metadata'].get('deletionTimestamp') and not obj['metadata'].get('finalizers'):
            return self._commit(resource, 'DELETED', obj, current)
        return self._commit(resource, 'MODIFIED', obj, copy.deepcopy(current))

    def patch(self, resource: Resource, namespace: str | None, name: str, content_type: str, patch_body,
              subresource: str | None = None, dry_run: bool = False) -> dict:
        apply = PATCH_TYPES.get(content_type)
        if apply is None:
            raise errors.unsupported_media_type(content_type, ', '.join(sorted(PATCH_TYPES)))
        current = self.get(resource, namespace, name)
        if subresource == 'scale':
            patched = apply(self.scale_of(resource, current), patch_body)
            return self.update_scale(resource, namespace, name, patched, dry_run)
        patched = apply(current, patch_body)
        if not isinstance(patched, dict):
            raise errors.bad_request('the patch did not produce a JSON object')
        return self.update(resource, namespace, name, patched, subresource, dry_run)

    # -- scale subresource -----------------------------------------------------------------------

    @staticmethod
    def scale_of(resource: Resource, obj: dict) -> dict:
        metadata = obj['metadata']
        return {'kind': 'Scale', 'apiVersion': 'autoscaling/v1',
                'metadata': {key: metadata[key] for key in ('name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp')
                             if key in metadata},
                'spec': {'replicas': obj['spec'].get('replicas', 0)} if obj['spec'].get('replicas') else {},
                'status': {'replicas': (obj.get('status') or {}).get('replicas', 0),
                           'selector': format_label_selector(obj['spec'].get('selector')) if resource.kind != 'Job' else ''}}

    def update_scale(self, resource: Resource, namespace: str | None, name: str, scale: dict, dry_run: bool = False) -> dict:
        current = self.get(resource, namespace, name)
        wanted_version = (scale.get('metadata') or {}).get('resourceVersion')
        if wanted_version and wanted_version != current['metadata']['resourceVersion']:
            raise errors.conflict(resource.plural, resource.group, name)
        replicas = (scale.get('spec') or {}).get('replicas', 0)
        if not isinstance(replicas, int) or replicas < 0:
            message = 'Invalid value: %r: must be greater than or equal to 0' % replicas
            raise errors.invalid('Scale', 'autoscaling', name, [('spec.replicas', 'FieldValueInvalid', message)])
        current['spec']['replicas'] = replicas
        current['metadata'].pop('resourceVersion')
        return self.scale_of(resource, self.update(resource, namespace, name, current, dry_run=dry_run))

    # -- deletion --------------------------------------------------------------------------------

    def delete(self, resource: Resource, namespace: str | None, name: str, options: dict | None = None,
               dry_run: bool = False) -> dict:
        """Returns the object when deletion is pending (grace period, finalizers), else a Success Status."""
        options = options or {}
        current = self._current(resource, namespace, name)
        preconditions = options.get('preconditions') or {}
        if preconditions.get('uid') and preconditions['uid'] != current['metadata']['uid']:
            raise errors.ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": Precondition failed: UID in '
                                  'precondition: %s, UID in object meta: %s' % (errors.qualified(resource.plural, resource.group),
                                                                                name, preconditions['uid'], current['metadata']['uid']),
                                  {'name': name, 'group': resource.group, 'kind': resource.plural})
        if preconditions.get('resourceVersion') and preconditions['resourceVersion'] != current['metadata']['resourceVersion']:
            raise errors.conflict(resource.plural, resource.group, name)
        obj = copy.deepcopy(current)
        metadata = obj['metadata']
        policy = options.get('propagationPolicy') or ('Orphan' if options.get('orphanDependents') else 'Background')
        if dry_run:
            return obj
        if resource.kind == 'Pod' and self._graceful(obj, options):
            return self._commit(resource, 'MODIFIED', obj, copy.deepcopy(current))
        if resource.kind == 'Namespace':
            metadata.setdefault('deletionTimestamp', self.clock.timestamp())
            obj['status'] = {'phase': 'Terminating'}
            return self._commit(resource, 'MODIFIED', obj, copy.deepcopy(current))
        if policy == 'Orphan':
            self._orphan_dependents(metadata['uid'])
        elif policy == 'Foreground' and self._has_dependents(metadata['uid']):
            metadata['finalizers'] = sorted(set(metadata.get('finalizers') or []) | {'foregroundDeletion'})
        if metadata.get('finalizers'):
            metadata.setdefault('deletionTimestamp', self.clock.timestamp())
            metadata.setdefault('deletionGracePeriodSeconds', 0)
            return self._commit(resource, 'MODIFIED', obj, copy.deepcopy(current))
        self._commit(resource, 'DELETED', obj, copy.deepcopy(current))
        return {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success',
                'details': {'name': name, 'group': resource.group, 'kind': resource.plural, 'uid': metadata['uid']}}

    def _graceful(self, pod: dict, options: dict) -> bool:
        """Pods on a node terminate over their grace period; the kubelet stand-in removes them."""
        grace = options.get('gracePeriodSeconds')
        if grace is None:
            grace = pod['spec'].get('terminationGracePeriodSeconds', 30)
        if not pod['spec'].get('nodeName') or pod_finished(pod) or grace <= 0:
            return False
        metadata = pod['metadata']
        if metadata.get('deletionGracePeriodSeconds') is not None and metadata['deletionGracePeriodSeconds'] <= grace:
            return True
        metadata['deletionTimestamp'] = self.clock.timestamp(self.clock.now() + grace)
        metadata['deletionGracePeriodSeconds'] = grace
        return True

    def _dependents(self, uid: str) -> list[tuple[Resource, dict]]:
        found = []
        for resource in RESOURCES:
            for obj in self.objects[resource.key].values():
                if any(ref.get('uid') == uid for ref in obj['metadata'].get('ownerReferences') or []):
                    found.append((resource, obj))
        return found

    def _has_dependents(self, uid: str) -> bool:
        return bool(self._dependents(uid))

    def _orphan_dependents(self, uid: str) -> None:
        for resource, obj in self._dependents(uid):
            updated = copy.deepcopy(obj)
            updated['metadata']['ownerReferences'] = [ref for ref in obj['metadata']['ownerReferences'] if ref.get('uid') != uid]
            if not updated['metadata']['ownerReferences']:
                del updated['metadata']['ownerReferences']
            self._commit(resource, 'MODIFIED', updated, copy.deepcopy(obj))

    def remove(self, resource: Resource, namespace: str | None, name: str) -> None:
        """Drop an object at once (kubelet's final delete, garbage collector, namespace cleanup)."""
        current = self.objects[resource.key].get((namespace or '', name))
        if current is not None:
            self._commit(resource, 'DELETED', copy.deepcopy(current), copy.deepcopy(current))

    def remove_finalizer(self, resource: Resource, obj: dict, finalizer: str) -> None:
        current = self.objects[resource.key].get((obj['metadata'].get('namespace', ''), obj['metadata']['name']))
        if current is None:
            return
        updated = copy.deepcopy(current)
        updated['metadata']['finalizers'] = [item for item in current['metadata'].get('finalizers') or [] if item != finalizer]
        if not updated['metadata']['finalizers']:
            del updated['metadata']['finalizers']
        self._store_update(resource, current, updated, dry_run=False)

    # -- watch -----------------------------------------------------------------------------------

    def watch(self, resource: Resource, namespace: str | None, label_selector: str | None, field_selector: str | None,
              resource_version: str | None, send_initial_events: bool = False) -> tuple[Watcher, list[tuple[str, dict]]]:
        """Register a watch; returns it with the events to send first (synthetic ADDED, or replayed history)."""
        watcher = Watcher(resource, namespace, label_selector, field_selector)
        initial: list[tuple[str, dict]] = []
        if send_initial_events or not resource_version or resource_version == '0':
            initial = [('ADDED', obj) for obj in self.objects[resource.key].values() if watcher.matches(obj)]
            if send_initial_events:
                initial.append(('BOOKMARK', self.bookmark(resource, initial_events_end=True)))
        else:
            try:
                since = int(resource_version)
            except ValueError as exc:
                raise errors.bad_request('invalid resource version: %s' % resource_version) from exc
            if since < self.compacted:
                raise errors.expired(resource_version, self.compacted + 1)
            for revision, key, event_type, obj, old in self.history:
                if revision > since and key == resource.key:
                    event = watcher.translate(event_type, obj, old)
                    if event:
                        initial.append(event)
        self.watchers.add(watcher)
        return watcher, [(event_type, copy.deepcopy(obj)) for event_type, obj in initial]

    def bookmark(self, resource: Resource, initial_events_end: bool = False) -> dict:
        metadata: dict = {'resourceVersion': str(self.revision)}
        if initial_events_end:
            metadata['annotations'] = {'k8s.io/initial-events-end': 'true'}
        return {'kind': resource.kind, 'apiVersion': resource.api_version, 'metadata': metadata}
