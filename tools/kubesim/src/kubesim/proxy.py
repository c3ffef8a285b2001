"""Service proxies for the docker runtime: kube-proxy's job, as a TCP load balancer on 127.0.0.1.

Each Service port with a selector gets a listener on a 127.0.0.1 port (the first free one of the simulator's
``proxy_ports`` when given, else any free port), reported in the Service's
annotation ``kubesim.io/proxy`` (first port; ``kubesim.io/proxy-<port>`` for every port). Every new
connection goes to the next Ready, non-terminating endpoint (round-robin) as the Endpoints object lists
it at that moment, through the host port its resolved container port is published on. An established connection
stays with its endpoint, as with kube-proxy: clients that want to see endpoints change open new
connections.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from .registry import Registry, resource_for

SERVICES = resource_for('v1', 'Service')
ENDPOINTS = resource_for('v1', 'Endpoints')
PODS = resource_for('v1', 'Pod')
ANNOTATION = 'kubesim.io/proxy'
LOG = logging.getLogger('kubesim.proxy')


def ready_backends(endpoints: dict | None, service_port: dict, pod_lookup, host_port) -> list[tuple[str, int]]:
    """(pod uid, host port) of each Ready address for one Service port, at the container port the Endpoints
    resolved for it (matched by the Service port's name, as kube-proxy does); subsets without it are skipped.

    ``pod_lookup(namespace, name)`` returns the pod, ``host_port(uid, container_port)`` its published port.
    """
    found = []
    for subset in (endpoints or {}).get('subsets') or []:
        port = next((item for item in subset.get('ports') or [] if item.get('name', '') == service_port.get('name', '')), None)
        if port is None:
            continue
        for address in subset.get('addresses') or []:
            ref = address.get('targetRef') or {}
            pod = pod_lookup(ref.get('namespace'), ref.get('name'))
            if pod is None or pod['metadata']['uid'] != ref.get('uid') or pod['metadata'].get('deletionTimestamp'):
                continue
            published = host_port(ref['uid'], port['port'])
            if published:
                found.append((ref['uid'], published))
    return found


class Listener:
    """One Service port's listener and its round-robin position."""

    def __init__(self, proxies: 'ServiceProxies', namespace: str, name: str, port: dict):
        self.proxies = proxies
        self.namespace, self.name = namespace, name
        self.port = port
        self.server: asyncio.AbstractServer | None = None
        self.counter = itertools.count()
        self.address = ''

    async def open(self) -> None:
        for port in self.proxies.ports:
            try:
                self.server = await asyncio.start_server(self._connection, '127.0.0.1', port)
                break
            except OSError:
                continue  # taken (by another listener or process): the next one
        else:
            if self.proxies.ports:
                LOG.warning('%s/%s: no free port in %d-%d, using any free port', self.namespace, self.name,
                            self.proxies.ports[0], self.proxies.ports[-1])
            self.server = await asyncio.start_server(self._connection, '127.0.0.1', 0)
        self.address = '127.0.0.1:%d' % self.server.sockets[0].getsockname()[1]

    def backends(self) -> list[tuple[str, int]]:
        registry = self.proxies.registry
        service = registry.find(SERVICES, self.namespace, self.name)
        port = next((item for item in (service or {}).get('spec', {}).get('ports') or [] if item.get('port') == self.port['port']),
                    self.port)
        return ready_backends(registry.find(ENDPOINTS, self.namespace, self.name), port,
                              lambda namespace, name: registry.find(PODS, namespace, name), self.proxies.kubelet.host_port)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backends = self.backends()
        if not backends:
            writer.close()  # kube-proxy rejects connections to a Service without ready endpoints
            return
        _uid, host_port = backends[next(self.counter) % len(backends)]
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection('127.0.0.1', host_port)
        except OSError:
            writer.close()
            return
        _sent, received = await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True)
        if not received:
            LOG.debug('%s/%s: nothing came back from pod %s (127.0.0.1:%d)', self.namespace, self.name, _uid, host_port)
        for stream in (writer, upstream_writer):
            stream.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    """Copy until EOF; returns how many bytes went through."""
    total = 0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            total += len(data)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
    return total


class ServiceProxies:
    """Controller: a listener per Service port (selector Services only), annotated on the Service."""

    def __init__(self, registry: Registry, kubelet, ports: range = range(0)):
        self.registry = registry
        self.kubelet = kubelet
        # Fixed ports for the listeners (a demo's published range); empty: any free port.
        self.ports = ports
        self.listeners: dict[tuple[str, str, int], Listener] = {}
        self._opening: set = set()

    def reconcile(self) -> None:
        wanted = set()
        for service in self.registry.list(SERVICES):
            if not service['spec'].get('selector'):
                continue
            namespace, name = service['metadata']['namespace'], service['metadata']['name']
            for port in service['spec'].get('ports') or []:
                key = (namespace, name, port['port'])
                wanted.add(key)
                if key not in self.listeners and key not in self._opening:
                    self._opening.add(key)
                    asyncio.ensure_future(self._open(key, port))
            self._annotate(service)
        for key in [key for key in self.listeners if key not in wanted]:
            self.listeners.pop(key).close()

    async def _open(self, key: tuple[str, str, int], port: dict) -> None:
        listener = Listener(self, key[0], key[1], port)
        try:
            await listener.open()
            self.listeners[key] = listener
        finally:
            self._opening.discard(key)
        service = self.registry.find(SERVICES, key[0], key[1])
        if service is not None:
            self._annotate(service)

    def _annotate(self, service: dict) -> None:
        namespace, name = service['metadata']['namespace'], service['metadata']['name']
        annotations = dict(service['metadata'].get('annotations') or {})
        ports = service['spec'].get('ports') or []
        wanted = {}
        for index, port in enumerate(ports):
            listener = self.listeners.get((namespace, name, port['port']))
            if listener is None:
                return  # annotate once every port listens
            wanted['%s-%d' % (ANNOTATION, port['port'])] = listener.address
            if index == 0:
                wanted[ANNOTATION] = listener.address
        if all(annotations.get(key) == value for key, value in wanted.items()):
            return
        annotations.update(wanted)
        service['metadata']['annotations'] = annotations
        self.registry.update(SERVICES, namespace, name, service)

    def address(self, namespace: str, name: str, port: int | None = None) -> str | None:
        for (listener_namespace, listener_name, listener_port), listener in self.listeners.items():
            if (listener_namespace, listener_name) == (namespace, name) and port in (None, listener_port):
                return listener.address
        return None

    def close(self) -> None:
        for listener in self.listeners.values():
            listener.close()
        self.listeners.clear()
