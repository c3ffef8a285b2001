"""The docker runtime's only I/O boundary with the Docker engine (blocking calls: run them in a thread).

Everything the simulator creates carries the label ``kubesim.io/simulator=<id>`` and is removed by
``cleanup()``. Images are never pulled: a missing local image is reported, not fetched. Container
ports are published on 127.0.0.1 only (random host ports), so the host talks to pods through loopback.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field

SIMULATOR_LABEL = 'kubesim.io/simulator'
POD_UID_LABEL = 'kubesim.io/pod-uid'


@dataclass
class Started:
    """What the runtime needs to know about a started container."""

    container_id: str
    ip: str
    host_ports: dict = field(default_factory=dict)  # container port (int) -> host port on 127.0.0.1
    image_id: str = ''


@dataclass
class ContainerSpec:
    """A pod container translated to Docker terms (see docker_runtime.container_spec)."""

    name: str
    image: str
    hostname: str
    aliases: list
    labels: dict
    env: list
    ports: list                       # container ports to publish on 127.0.0.1
    entrypoint: list | None = None    # k8s command
    command: list | None = None       # k8s args
    working_dir: str | None = None
    user: str | None = None


def _client(timeout: float = 120):
    """The engine DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) names, as the docker CLI picks it."""
    import docker  # pylint: disable=import-outside-toplevel
    return docker.APIClient(timeout=timeout, **docker.utils.kwargs_from_env())


def engine_problem(timeout: float = 10) -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        _client(timeout).ping()
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # The SDK raises its own errors and requests' ones alike for an engine that does not answer.
        return str(exc) or type(exc).__name__
    return None


class DockerEngine:
    """Thin wrapper over docker.APIClient, scoped to one simulator instance."""

    def __init__(self, simulator_id: str | None = None):
        import docker.errors  # pylint: disable=import-outside-toplevel
        self.errors = docker.errors
        self.id = simulator_id or uuid.uuid4().hex[:10]
        self.api = _client()
        self.network = 'kubesim-%s' % self.id
        self._network_lock = threading.Lock()
        self._network_ready = False

    @property
    def labels(self) -> dict:
        return {SIMULATOR_LABEL: self.id}

    def ensure_network(self) -> str:
        with self._network_lock:
            if not self._network_ready:
                self.api.create_network(self.network, driver='bridge', labels=self.labels)
                self._network_ready = True
        return self.network

    def image(self, reference: str) -> dict | None:
        """The local image's inspect data, or None when it is not on this machine (never pulls)."""
        try:
            return self.api.inspect_image(reference)
        except self.errors.ImageNotFound:
            return None
        except self.errors.APIError as exc:
            if exc.status_code == 404 or exc.status_code == 400:
                return None
            raise

    def run(self, spec: ContainerSpec) -> Started:
        """Create and start a container on the simulator's network; ports published on 127.0.0.1."""
        network = self.ensure_network()
        api = self.api
        host_config = api.create_host_config(port_bindings={port: ('127.0.0.1',) for port in spec.ports})
        networking = api.create_networking_config({network: api.create_endpoint_config(aliases=spec.aliases)})
        created = api.create_container(
            spec.image, command=spec.command, entrypoint=spec.entrypoint, hostname=spec.hostname[:63], user=spec.user,
            environment=spec.env, name=spec.name, labels=dict(spec.labels, **self.labels), ports=list(spec.ports),
            working_dir=spec.working_dir, host_config=host_config, networking_config=networking, detach=True)
        container_id = created['Id']
        api.start(container_id)
        info = api.inspect_container(container_id)
        return Started(container_id, (info['NetworkSettings']['Networks'].get(network) or {}).get('IPAddress', ''),
                       host_ports(info), info.get('Image', ''))

    def wait(self, container_id: str) -> tuple[int, bool]:
        """Block until the container exits: (exit code, OOM killed); (-1, False) when it is gone."""
        try:
            code = self.api.wait(container_id, timeout=None)['StatusCode']
            return code, bool(self.api.inspect_container(container_id)['State'].get('OOMKilled'))
        except (self.errors.NotFound, self.errors.APIError):
            return -1, False

    def stop(self, container_id: str, grace: int) -> None:
        """SIGTERM (the image's STOPSIGNAL), SIGKILL after ``grace`` seconds."""
        try:
            self.api.stop(container_id, timeout=max(0, grace))
        except (self.errors.NotFound, self.errors.APIError):
            pass

    def remove(self, container_id: str) -> None:
        try:
            self.api.remove_container(container_id, force=True, v=True)  # v: anonymous volumes (postgres declares one)
        except (self.errors.NotFound, self.errors.APIError):
            pass

    def logs(self, container_id: str, tail: int | None = None, timestamps: bool = False) -> bytes:
        try:
            return self.api.logs(container_id, stdout=True, stderr=True, tail='all' if tail is None else tail,
                                 timestamps=timestamps)
        except (self.errors.NotFound, self.errors.APIError):
            return b''

    def exec_probe(self, container_id: str, command: list) -> int:
        """Run a probe command in the container; its exit code (-1 if it could not run)."""
        try:
            exec_id = self.api.exec_create(container_id, command, stdout=True, stderr=True)['Id']
            self.api.exec_start(exec_id)
            return self.api.exec_inspect(exec_id).get('ExitCode') or 0
        except (self.errors.NotFound, self.errors.APIError):
            return -1

    def exec_session(self, container_id: str, command: list, stdin: bool, tty: bool) -> 'ExecSession':
        exec_id = self.api.exec_create(container_id, command, stdin=stdin, stdout=True, stderr=True, tty=tty)['Id']
        sock = self.api.exec_start(exec_id, socket=True, tty=tty)
        return ExecSession(self, exec_id, getattr(sock, '_sock', sock), tty)

    def cleanup(self) -> None:
        """Remove every container and the network this simulator made."""
        selector = '%s=%s' % (SIMULATOR_LABEL, self.id)
        for container in self.api.containers(all=True, filters={'label': selector}):
            self.remove(container['Id'])
        for network in self.api.networks(filters={'label': selector}):
            try:
                self.api.remove_network(network['Id'])
            except (self.errors.NotFound, self.errors.APIError):
                pass


def host_ports(info: dict) -> dict:
    """{container port: host port} from a container's inspect data (tcp, 127.0.0.1 bindings)."""
    found = {}
    for key, bindings in ((info.get('NetworkSettings') or {}).get('Ports') or {}).items():
        port, _slash, protocol = key.partition('/')
        if protocol == 'tcp' and bindings:
            found[int(port)] = int(bindings[0]['HostPort'])
    return found


class ExecSession:
    """A running `docker exec` with a hijacked socket: stdout/stderr frames in, stdin out."""

    def __init__(self, engine: DockerEngine, exec_id: str, sock, tty: bool):
        self.engine = engine
        self.exec_id = exec_id
        self.sock = sock
        self.tty = tty

    def read(self):
        """Yield (stream, bytes) until the process closes its output; stream 1 stdout, 2 stderr."""
        buffer = b''
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b''
            if not chunk:
                break
            if self.tty:
                yield 1, chunk
                continue
            buffer += chunk
            while len(buffer) >= 8:
                stream, size = struct.unpack('>BxxxL', buffer[:8])
                if len(buffer) < 8 + size:
                    break
                yield (2 if stream == 2 else 1), buffer[8:8 + size]
                buffer = buffer[8 + size:]

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_stdin(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def exit_code(self) -> int:
        """The exit code once the process has ended (it can lag the end of its output a little)."""
        for _attempt in range(100):
            try:
                info = self.engine.api.exec_inspect(self.exec_id)
            except (self.engine.errors.NotFound, self.engine.errors.APIError):
                return -1
            if not info.get('Running'):
                return info.get('ExitCode') or 0
            time.sleep(0.02)
        return -1

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
