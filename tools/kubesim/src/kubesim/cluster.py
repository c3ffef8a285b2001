"""Cluster-wide controllers (garbage collector, namespaces) and the loop that runs all controllers."""

from __future__ import annotations

import asyncio
import logging

from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .endpoints import EndpointsController, EndpointSliceController
from .errors import ApiError
from .job import JobController
from .registry import Registry, resource_for
from .replicaset import ReplicaSetController
from .resources import RESOURCES
from .runtime import FastKubelet, Scheduler
from .statefulset import StatefulSetController

NAMESPACES = resource_for('v1', 'Namespace')
LOG = logging.getLogger('kubesim')


class GarbageCollector:
    """Deletes dependents whose owners are gone; finishes foreground deletions once dependents are gone."""

    def __init__(self, registry: Registry):
        self.registry = registry

    def reconcile(self) -> None:
        live = {}
        for resource in RESOURCES:
            for obj in self.registry.objects[resource.key].values():
                live[obj['metadata']['uid']] = (resource, obj)
        for uid, (resource, obj) in list(live.items()):
            metadata = obj['metadata']
            owners = metadata.get('ownerReferences') or []
            if owners and not any(ref.get('uid') in live for ref in owners):
                self._delete(resource, obj)
            if metadata.get('deletionTimestamp') and 'foregroundDeletion' in (metadata.get('finalizers') or []):
                dependents = [(res, dep) for res, dep in live.values()
                              if any(ref.get('uid') == uid for ref in dep['metadata'].get('ownerReferences') or [])]
                for dep_resource, dependent in dependents:
                    if not dependent['metadata'].get('deletionTimestamp'):
                        self._delete(dep_resource, dependent, 'Foreground')
                if not dependents:
                    self.registry.remove_finalizer(resource, obj, 'foregroundDeletion')

    def _delete(self, resource, obj: dict, policy: str = 'Background') -> None:
        try:
            self.registry.delete(resource, obj['metadata'].get('namespace'), obj['metadata']['name'], {'propagationPolicy': policy})
        except ApiError:
            pass  # already gone: another path deleted it in this pass


class NamespaceController:
    """Empties a terminating namespace, then removes it."""

    def __init__(self, registry: Registry):
        self.registry = registry

    def reconcile(self) -> None:
        for namespace in self.registry.list(NAMESPACES):
            if not namespace['metadata'].get('deletionTimestamp'):
                continue
            name = namespace['metadata']['name']
            for resource in RESOURCES:
                if resource.namespaced:
                    for obj in self.registry.list(resource, name):
                        self.registry.remove(resource, name, obj['metadata']['name'])
            self.registry.remove(NAMESPACES, None, name)


class ControllerManager:
    """Runs every controller in passes: at once after any write, and on a short tick for timers."""

    def __init__(self, registry: Registry, tick: float = 0.02, kubelet=None, extra: tuple = ()):
        self.registry = registry
        self.tick = tick
        self.kubelet = kubelet if kubelet is not None else FastKubelet(registry)
        self.controllers = [Scheduler(registry), self.kubelet, ReplicaSetController(registry),
                            DeploymentController(registry), StatefulSetController(registry), DaemonSetController(registry),
                            JobController(registry), GarbageCollector(registry), NamespaceController(registry),
                            EndpointsController(registry), EndpointSliceController(registry), *extra]
        self._wake: asyncio.Event | None = None
        self.paused = False
        self.errors: list[str] = []
        registry.listeners.append(self._changed)

    def _changed(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def run_once(self) -> None:
        for controller in self.controllers:
            try:
                controller.reconcile()
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # A controller bug must not stop the others; tests assert that ``errors`` stays empty.
                LOG.exception('%s failed', type(controller).__name__)
                self.errors.append('%s: %r' % (type(controller).__name__, exc))

    async def run(self) -> None:
        self._wake = asyncio.Event()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.tick)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if not self.paused:
                self.run_once()
            # Let API requests in between passes, as controllers and clients interleave on a real cluster.
            await asyncio.sleep(self.tick / 2)
