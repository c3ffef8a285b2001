"""The docker pod runtime: each pod container is a real container of its image on the local engine.

A ``PodWorker`` per pod drives the kubelet's job on the simulator's event loop: check the image is on
the machine (never pulled: ErrImagePull / ImagePullBackOff otherwise), create and start the container,
run its readiness and liveness probes for real against the ports published on 127.0.0.1, restart it
per restartPolicy with the kubelet's back-off (CrashLoopBackOff), and on deletion stop it with SIGTERM
and the grace period, then remove the pod. Durations from the pod spec (probe periods and delays,
back-offs, grace periods) are simulated seconds, turned into real ones at the clock's speed; probe
timeouts are real seconds. The Docker calls block, so they run in a thread pool (``DockerEngine``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import re

import aiohttp

from . import events
from .clock import rfc3339
from .docker_engine import POD_UID_LABEL, ContainerSpec, DockerEngine, Started
from .pods import is_active
from .registry import Registry, node_ip, resource_for
from .runtime import MAX_BACKOFF, NODE_NAME, Timeline, pod_status

LOG = logging.getLogger('kubesim.docker')
PODS = resource_for('v1', 'Pod')
SECRETS = resource_for('v1', 'Secret')
CONFIGMAPS = resource_for('v1', 'ConfigMap')
PULL_RETRY_SECONDS = 1.0
TCP_PROBE_SETTLE = 0.2  # real seconds a tcpSocket probe waits to see docker-proxy drop an unanswered connection


# -- pure decisions --------------------------------------------------------------------------------

def restart_backoff(restarts: int) -> float:
    """Kubelet back-off before restart number ``restarts`` (1-based): 10 s doubling, capped at 5 minutes."""
    return min(10.0 * 2 ** max(restarts - 1, 0), MAX_BACKOFF)


def should_restart(restart_policy: str, exit_code: int) -> bool:
    return restart_policy == 'Always' or (restart_policy == 'OnFailure' and exit_code != 0)


def terminated_reason(exit_code: int, oom: bool) -> str:
    if oom:
        return 'OOMKilled'
    return 'Completed' if exit_code == 0 else 'Error'


class ProbeState:
    """The prober worker's thresholds: a result counts once it repeated success/failureThreshold times."""

    def __init__(self, probe: dict, initial: bool | None):
        self.success_threshold = probe.get('successThreshold', 1)
        self.failure_threshold = probe.get('failureThreshold', 3)
        self.result = initial
        self._last: bool | None = None
        self._run = 0

    def record(self, ok: bool) -> bool | None:
        """Feed one probe result; returns the (possibly unchanged) overall result."""
        self._run = self._run + 1 if ok == self._last else 1
        self._last = ok
        if (ok and self._run >= self.success_threshold) or (not ok and self._run >= self.failure_threshold):
            self.result = ok
        return self.result


def resolve_port(port, container: dict) -> int | None:
    """A probe's or Service's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if not isinstance(port, str) or not port:
        return None
    if port.isdigit():
        return int(port)
    for item in container.get('ports') or []:
        if item.get('name') == port:
            return item.get('containerPort')
    return None


def ports_to_publish(container: dict, exposed: dict | None) -> list[int]:
    """Declared container ports, the image's EXPOSE'd TCP ports and numeric probe ports."""
    ports = {item['containerPort'] for item in container.get('ports') or [] if item.get('protocol', 'TCP') == 'TCP'}
    for key in exposed or {}:
        number, _slash, protocol = key.partition('/')
        if protocol in ('', 'tcp') and number.isdigit():
            ports.add(int(number))
    for probe_kind in ('readinessProbe', 'livenessProbe', 'startupProbe'):
        probe = container.get(probe_kind) or {}
        for action in ('httpGet', 'tcpSocket'):
            port = resolve_port((probe.get(action) or {}).get('port'), container)
            if port:
                ports.add(port)
    return sorted(ports)


def _field_value(path: str, pod: dict) -> str:
    metadata = pod['metadata']
    simple = {'metadata.name': metadata.get('name'), 'metadata.namespace': metadata.get('namespace'),
              'metadata.uid': metadata.get('uid'), 'spec.nodeName': pod['spec'].get('nodeName'),
              'spec.serviceAccountName': pod['spec'].get('serviceAccountName'), 'status.hostIP': node_ip(pod['spec'].get('nodeName') or NODE_NAME),
              'status.podIP': (pod.get('status') or {}).get('podIP', '')}
    if path in simple:
        return simple[path] or ''
    match = re.match(r"metadata\.(labels|annotations)\['(.+)'\]$", path)
    if match:
        return (metadata.get(match.group(1)) or {}).get(match.group(2), '')
    return ''


def container_env(container: dict, pod: dict, lookup) -> list[str]:
    """KEY=VALUE strings: envFrom first, then env (value, $(VAR) expansion, secret/configMap/field refs).

    ``lookup(kind, name)`` returns the ConfigMap or Secret's data as text, or None when missing.
    """
    values: dict[str, str] = {}
    for source in container.get('envFrom') or []:
        for kind, key in (('ConfigMap', 'configMapRef'), ('Secret', 'secretRef')):
            if key in source:
                data = lookup(kind, source[key].get('name')) or {}
                values.update({source.get('prefix', '') + name: value for name, value in data.items()})
    for item in container.get('env') or []:
        name, source = item['name'], item.get('valueFrom')
        if source is None:
            values[name] = re.sub(r'\$\((\w+)\)', lambda m: values.get(m.group(1), m.group(0)), item.get('value', ''))
        elif 'fieldRef' in source:
            values[name] = _field_value(source['fieldRef'].get('fieldPath', ''), pod)
        else:
            for kind, key in (('ConfigMap', 'configMapKeyRef'), ('Secret', 'secretKeyRef')):
                if key in source:
                    data = lookup(kind, source[key].get('name')) or {}
                    if source[key].get('key') in data:
                        values[name] = data[source[key]['key']]
    return ['%s=%s' % item for item in values.items()]


def container_spec(engine_id: str, pod: dict, container: dict, env: list[str], exposed: dict | None,
                   restart: int) -> ContainerSpec:
    metadata = pod['metadata']
    name = 'kubesim-%s-%s-%s-%s-%d' % (engine_id, metadata['namespace'], metadata['name'], container['name'], restart)
    user = str((container.get('securityContext') or {}).get('runAsUser', '')) or None
    return ContainerSpec(name=name, image=container['image'], hostname=metadata['name'], aliases=[metadata['name']],
                         labels={POD_UID_LABEL: metadata['uid'], 'kubesim.io/pod': '%s/%s' % (metadata['namespace'], metadata['name']),
                                 'kubesim.io/container': container['name']},
                         env=env, ports=ports_to_publish(container, exposed), entrypoint=container.get('command'),
                         command=container.get('args'), working_dir=container.get('workingDir'), user=user)


# -- the kubelet -----------------------------------------------------------------------------------

class DockerKubelet:
    """Controller: starts a PodWorker for each pod bound to the node, stops it when the pod goes away."""

    def __init__(self, registry: Registry, engine: DockerEngine):
        self.registry = registry
        self.engine = engine
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix='kubesim-docker')
        self.workers: dict[str, PodWorker] = {}
        self.http: aiohttp.ClientSession | None = None

    async def call(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, function, *args)

    def reconcile(self) -> None:
        if self.http is None:
            self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        live = set()
        for pod in self.registry.list(PODS):
            if not pod['spec'].get('nodeName'):
                continue
            uid = pod['metadata']['uid']
            live.add(uid)
            worker = self.workers.get(uid)
            if worker is None and is_active(pod):
                worker = self.workers[uid] = PodWorker(self, pod)
                worker.start()
            if worker is not None and pod['metadata'].get('deletionTimestamp'):
                worker.terminate(pod)
        for uid, worker in list(self.workers.items()):
            if uid not in live:
                worker.terminate(None)

    def worker_for(self, uid: str) -> 'PodWorker | None':
        return self.workers.get(uid)

    def host_port(self, uid: str, container_port: int) -> int | None:
        """The 127.0.0.1 port a pod's container port is published on (first container that has it)."""
        worker = self.workers.get(uid)
        if worker is None or worker.stopping:
            return None
        for started in worker.started:
            if started is not None and container_port in started.host_ports:
                return started.host_ports[container_port]
        return None

    async def shutdown(self) -> None:
        for worker in list(self.workers.values()):
            worker.stopping = True
            worker.wake.set()
        if self.http is not None:
            await self.http.close()
        await self.call(self.engine.cleanup)
        tasks = [task for worker in self.workers.values() for task in worker.tasks]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        self.pool.shutdown(wait=False, cancel_futures=True)


class PodWorker:
    """The kubelet's pod worker for one pod: containers, probes, restarts, status and events."""

    def __init__(self, kubelet: DockerKubelet, pod: dict):
        self.kubelet = kubelet
        self.registry = kubelet.registry
        self.engine = kubelet.engine
        self.clock = kubelet.registry.clock
        self.pod = pod
        self.namespace, self.name, self.uid = pod['metadata']['namespace'], pod['metadata']['name'], pod['metadata']['uid']
        containers = pod['spec']['containers']
        self.timelines = [Timeline(state={'waiting': {'reason': 'ContainerCreating'}}) for _container in containers]
        self.started: list[Started | None] = [None for _container in containers]
        self.ids: list[str | None] = [None for _container in containers]
        self.previous: list[str | None] = [None for _container in containers]
        self.first_seen = self.clock.now()
        self.stopping = False
        self.terminating = False
        self.wake = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    @property
    def pod_ref(self) -> str:
        return '%s_%s(%s)' % (self.name, self.namespace, self.uid)

    def start(self) -> None:
        for index in range(len(self.timelines)):
            self.tasks.append(asyncio.ensure_future(self._container(index)))

    # -- helpers ---------------------------------------------------------------------------------

    async def _sleep(self, simulated: float) -> None:
        """Sleep ``simulated`` seconds (scaled by the clock), waking early when the pod stops."""
        try:
            await asyncio.wait_for(self.wake.wait(), max(self.clock.real_seconds(simulated), 0.01))
        except asyncio.TimeoutError:
            pass

    def _event(self, index: int, kind: str, reason: str, message: str) -> None:
        pod = self.registry.find(PODS, self.namespace, self.name) or self.pod
        events.record(self.registry, pod, kind, reason, message, 'kubelet',
                      field_path='spec.containers{%s}' % self.pod['spec']['containers'][index]['name'],
                      host=self.pod['spec'].get('nodeName') or NODE_NAME)

    def publish(self) -> None:
        """Write the pod status the kubelet would report now (only when it changed)."""
        pod = self.registry.find(PODS, self.namespace, self.name)
        if pod is None or pod['metadata']['uid'] != self.uid:
            return
        ip = next((started.ip for started in self.started if started is not None), '')
        status = pod_status(pod, self.timelines, rfc3339(self.first_seen), ip, self.clock.timestamp())
        if status != pod.get('status'):
            pod['status'] = status
            self.registry.update(PODS, self.namespace, self.name, pod, subresource='status')

    def _lookup(self, kind: str, name: str) -> dict | None:
        import base64  # pylint: disable=import-outside-toplevel
        if kind == 'Secret':
            secret = self.registry.find(SECRETS, self.namespace, name)
            if secret is None:
                return None
            return {key: base64.b64decode(value).decode('utf-8', 'replace') for key, value in (secret.get('data') or {}).items()}
        config_map = self.registry.find(CONFIGMAPS, self.namespace, name)
        return None if config_map is None else dict(config_map.get('data') or {})

    # -- one container's life --------------------------------------------------------------------

    async def _container(self, index: int) -> None:
        container = self.pod['spec']['containers'][index]
        timeline = self.timelines[index]
        image = container.get('image', '')
        pull_failures = 0
        self.publish()
        while not self.stopping:
            info = await self.kubelet.call(self.engine.image, image)
            if self.stopping:
                return
            if info is None:
                pull_failures += 1
                await self._pull_failed(index, image, pull_failures)
                continue
            if not timeline.ran:
                self._event(index, 'Normal', 'Pulled', 'Container image "%s" already present on machine' % image)
            try:
                env = container_env(container, self.registry.find(PODS, self.namespace, self.name) or self.pod, self._lookup)
                spec = container_spec(self.engine.id, self.pod, container, env, (info.get('Config') or {}).get('ExposedPorts'),
                                      timeline.restarts)
                started = await self.kubelet.call(self.engine.run, spec)
            except self.engine.errors.APIError as exc:
                message = str(exc.explanation or exc)
                timeline.state = {'waiting': {'reason': 'CreateContainerError', 'message': message}}
                self._event(index, 'Warning', 'Failed', 'Error: %s' % message)
                self.publish()
                await self._sleep(restart_backoff(1))
                continue
            # Keep the container that ran before (logs --previous), remove the one before it.
            if self.previous[index]:
                await self.kubelet.call(self.engine.remove, self.previous[index])
            self.previous[index], self.ids[index] = self.ids[index], started.container_id
            if self.stopping:
                await self.kubelet.call(self.engine.remove, started.container_id)
                return
            if not await self._run(index, container, started):
                return

    async def _pull_failed(self, index: int, image: str, failures: int) -> None:
        timeline = self.timelines[index]
        error = ('rpc error: code = NotFound desc = failed to pull and unpack image "%s": kubesim never pulls and the image '
                 'is not on this machine' % image)
        self._event(index, 'Normal', 'Pulling', 'Pulling image "%s"' % image)
        self._event(index, 'Warning', 'Failed', 'Failed to pull image "%s": %s' % (image, error))
        self._event(index, 'Warning', 'Failed', 'Error: ErrImagePull')
        timeline.state = {'waiting': {'reason': 'ErrImagePull', 'message': error}}
        self.publish()
        await self._sleep(PULL_RETRY_SECONDS)
        if self.stopping:
            return
        self._event(index, 'Normal', 'BackOff', 'Back-off pulling image "%s"' % image)
        self._event(index, 'Warning', 'Failed', 'Error: ImagePullBackOff')
        timeline.state = {'waiting': {'reason': 'ImagePullBackOff', 'message': 'Back-off pulling image "%s"' % image}}
        self.publish()
        await self._sleep(restart_backoff(failures))

    async def _run(self, index: int, container: dict, started: Started) -> bool:
        """Run a started container to its end; returns whether to start it again."""
        timeline = self.timelines[index]
        name = container['name']
        self.started[index] = started
        start_time = self.clock.timestamp()
        timeline.ran = timeline.started = True
        timeline.container_id = 'docker://' + started.container_id
        timeline.image_id = 'docker-pullable://%s@%s' % (container['image'].split(':')[0], started.image_id)
        timeline.state = {'running': {'startedAt': start_time}}
        timeline.ready = 'readinessProbe' not in container
        self._event(index, 'Normal', 'Created', 'Created container: %s' % name)
        self._event(index, 'Normal', 'Started', 'Started container %s' % name)
        LOG.debug('%s/%s: started %s on %s %s', self.namespace, self.name, started.container_id[:12], started.ip, started.host_ports)
        self.publish()
        waiter = asyncio.ensure_future(self.kubelet.call(self.engine.wait, started.container_id))
        startup = asyncio.Event()
        if 'startupProbe' in container:
            timeline.started = False  # until the startup probe succeeds; the other probes wait for it
            self.publish()
        else:
            startup.set()
        probes = [asyncio.ensure_future(self._probe(index, container, started, kind, waiter, startup))
                  for kind in ('startupProbe', 'readinessProbe', 'livenessProbe') if container.get(kind)]
        exit_code, oom = await waiter
        LOG.debug('%s/%s: container %s exited with %d', self.namespace, self.name, started.container_id[:12], exit_code)
        for probe in probes:
            probe.cancel()
        self.started[index] = None
        if self.stopping:
            return False
        timeline.ready = timeline.started = False
        terminated = {'exitCode': exit_code, 'reason': terminated_reason(exit_code, oom), 'startedAt': start_time,
                      'finishedAt': self.clock.timestamp(), 'containerID': timeline.container_id}
        if not should_restart(self.pod['spec'].get('restartPolicy', 'Always'), exit_code):
            timeline.state = {'terminated': terminated}
            self.publish()
            return False
        timeline.last_state = {'terminated': terminated}
        timeline.restarts += 1
        delay = restart_backoff(timeline.restarts)
        timeline.state = {'waiting': {'reason': 'CrashLoopBackOff', 'message': 'back-off %ds restarting failed container=%s pod=%s'
                                      % (delay, name, self.pod_ref)}}
        self._event(index, 'Warning', 'BackOff', 'Back-off restarting failed container %s in pod %s' % (name, self.pod_ref))
        self.publish()
        await self._sleep(delay)
        return not self.stopping

    async def _probe(self, index: int, container: dict, started: Started, kind: str, waiter: asyncio.Future,
                     startup: asyncio.Event) -> None:
        """Run one probe every periodSeconds after initialDelaySeconds until the container ends.

        Readiness and liveness wait for the startup probe's success; a startup probe stops at its first
        success; liveness and startup failures (failureThreshold in a row) stop the container.
        """
        probe = container[kind]
        readiness = kind == 'readinessProbe'
        state = ProbeState(probe, None if kind != 'livenessProbe' else True)
        label = {'readinessProbe': 'Readiness', 'livenessProbe': 'Liveness', 'startupProbe': 'Startup'}[kind]
        if kind != 'startupProbe':
            await startup.wait()
        await self._sleep(probe.get('initialDelaySeconds', 0))
        while not waiter.done() and not self.stopping:
            ok, message = await self._check(probe, container, started)
            if waiter.done() or self.stopping:
                return
            if not ok:
                self._event(index, 'Warning', 'Unhealthy', '%s probe failed: %s' % (label, message))
            result = state.record(ok)
            if readiness and bool(result) != self.timelines[index].ready:
                LOG.debug('%s/%s: ready %s', self.namespace, self.name, bool(result))
                self.timelines[index].ready = bool(result)
                self.publish()
            if kind == 'startupProbe' and result:
                self.timelines[index].started = True
                self.publish()
                startup.set()
                return
            if not readiness and result is False:
                LOG.debug('%s/%s: %s probe failed, killing', self.namespace, self.name, label)
                self.timelines[index].ready = False
                self.publish()
                self._event(index, 'Normal', 'Killing', 'Container %s failed %s probe, will be restarted'
                            % (container['name'], label.lower()))
                grace = self.pod['spec'].get('terminationGracePeriodSeconds', 30)
                await self.kubelet.call(self.engine.stop, started.container_id, math.ceil(self.clock.real_seconds(grace)))
                return
            await self._sleep(probe.get('periodSeconds', 10))

    async def _check(self, probe: dict, container: dict, started: Started) -> tuple[bool, str]:
        """One probe run: (success, failure message as the kubelet words it)."""
        timeout = probe.get('timeoutSeconds', 1)
        ip = started.ip
        if 'exec' in probe:
            try:
                code = await asyncio.wait_for(self.kubelet.call(self.engine.exec_probe, started.container_id,
                                                                probe['exec'].get('command') or []), timeout + 5)
            except asyncio.TimeoutError:
                return False, 'command timed out'
            return code == 0, 'command %r exited with %d' % (probe['exec'].get('command'), code)
        action = probe.get('httpGet') or probe.get('tcpSocket') or {}
        port = resolve_port(action.get('port'), container)
        host_port = started.host_ports.get(port) if port else None
        if host_port is None:
            return False, 'port %r is not published' % action.get('port')
        if 'httpGet' in probe:
            return await self._http(action, host_port, '%s:%s' % (ip, port), timeout)
        return await _tcp(host_port, '%s:%s' % (ip, port), timeout)

    async def _http(self, action: dict, host_port: int, shown: str, timeout: float) -> tuple[bool, str]:
        path = action.get('path', '/')
        url = 'http://127.0.0.1:%d%s' % (host_port, path)
        headers = {item['name']: item['value'] for item in action.get('httpHeaders') or []}
        headers.setdefault('User-Agent', 'kube-probe/1.32')
        try:
            async with self.kubelet.http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout),
                                             allow_redirects=False) as response:
                await response.read()
                if 200 <= response.status < 400:
                    return True, ''
                return False, 'HTTP probe failed with statuscode: %d' % response.status
        except asyncio.TimeoutError:
            return False, 'Get "http://%s%s": context deadline exceeded (Client.Timeout exceeded while awaiting headers)' % (shown, path)
        except (aiohttp.ClientError, OSError):
            # Through docker-proxy a port nobody listens on accepts and then closes: EOF.
            return False, 'Get "http://%s%s": EOF' % (shown, path)

    # -- deletion --------------------------------------------------------------------------------

    def terminate(self, pod: dict | None) -> None:
        """The pod got a deletionTimestamp (``pod``) or vanished (None): stop its containers, then drop it."""
        if self.terminating:
            return
        self.terminating = self.stopping = True
        self.wake.set()
        asyncio.ensure_future(self._terminate(pod))

    async def _terminate(self, pod: dict | None) -> None:
        grace = 0
        if pod is not None:
            grace = pod['metadata'].get('deletionGracePeriodSeconds', pod['spec'].get('terminationGracePeriodSeconds', 30))
            for index, container in enumerate(self.pod['spec']['containers']):
                if self.started[index] is not None:
                    self._event(index, 'Normal', 'Killing', 'Stopping container %s' % container['name'])
        real_grace = math.ceil(self.clock.real_seconds(grace)) if grace else 0
        running = [container_id for container_id in self.ids if container_id]
        LOG.debug('%s/%s: stopping %s (grace %ss real)', self.namespace, self.name, running, real_grace)
        await asyncio.gather(*(self.kubelet.call(self.engine.stop, container_id, real_grace) for container_id in running))
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for container_id in self.ids + self.previous:
            if container_id:
                await self.kubelet.call(self.engine.remove, container_id)
        self.kubelet.workers.pop(self.uid, None)
        current = self.registry.find(PODS, self.namespace, self.name)
        if pod is not None and current is not None and current['metadata']['uid'] == self.uid:
            self.registry.remove(PODS, self.namespace, self.name)


async def _tcp(host_port: int, shown: str, timeout: float) -> tuple[bool, str]:
    """tcpSocket probe through docker-proxy: it accepts at once, then drops the connection if nothing listens."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection('127.0.0.1', host_port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False, 'dial tcp %s: connect: connection refused' % shown
    try:
        data = await asyncio.wait_for(reader.read(1), TCP_PROBE_SETTLE)
        ok = bool(data)
    except asyncio.TimeoutError:
        ok = True
    except OSError:
        ok = False
    writer.close()
    return ok, '' if ok else 'dial tcp %s: connect: connection refused' % shown
