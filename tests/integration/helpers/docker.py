"""Docker resources for one test session, labelled so that teardown removes exactly what we made."""

from __future__ import annotations

import io
import tarfile
import time
import typing as t
import uuid

import docker
from docker.errors import DockerException, NotFound

LABEL = 'org.artisan.test-session'
BASE_IMAGE = 'artisan-upgrade/systemd-host:bookworm'
# What a container needs to run systemd as PID 1 here (--privileged is not available).
SYSTEMD_RUN_OPTIONS = dict(
    cap_add=['SYS_ADMIN'],
    cgroupns='host',
    volumes={'/sys/fs/cgroup': {'bind': '/sys/fs/cgroup', 'mode': 'rw'}},
    tmpfs={'/run': '', '/run/lock': '', '/tmp': ''},
    security_opt=['seccomp=unconfined', 'apparmor=unconfined'],
)


def put_file(container: t.Any, path: str, content: str, mode: int = 0o644) -> None:
    """Write a file into a running container (its folder created), as root."""
    data = content.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as archive:
        info = tarfile.TarInfo(path.rsplit('/', 1)[1])
        info.size, info.mode = len(data), mode
        archive.addfile(info, io.BytesIO(data))
    container.exec_run(['mkdir', '-p', path.rsplit('/', 1)[0]])
    assert container.put_archive(path.rsplit('/', 1)[0], buffer.getvalue())


def sh(container: t.Any, command: str) -> str:
    """Run a shell command in a container, failing the test with its output when it fails."""
    result = container.exec_run(['sh', '-c', command])
    assert result.exit_code == 0, '%s: %s' % (command, result.output.decode(errors='replace'))
    return result.output.decode()


class DockerUnavailable(RuntimeError):
    pass


def connect() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise DockerUnavailable(
            'Docker engine unavailable (%s). Integration tests need a running engine: '
            'run scripts/setup.sh (make test does) to install and start it.' % exc) from None
    return client


class DockerSession:
    """Creates containers, networks and volumes carrying this session's label; cleanup() removes them."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.session_id = uuid.uuid4().hex[:12]
        self.labels = {LABEL: self.session_id}

    def name(self, prefix: str) -> str:
        return 'artisan-test-%s-%s' % (prefix, uuid.uuid4().hex[:8])

    def _labelled(self, kwargs: dict[str, t.Any]) -> dict[str, t.Any]:
        return dict(kwargs, labels=dict(kwargs.get('labels') or {}, **self.labels))

    def run(self, image: str, **kwargs: t.Any) -> t.Any:
        """Start a detached container; publish ports on 127.0.0.1 only (loopback rule)."""
        try:
            self.client.images.get(image)
        except NotFound:  # containers.run() would try a registry pull instead
            raise DockerUnavailable('image %s is not built: run examples/images/build.sh (make test does)' % image) from None
        kwargs.setdefault('name', self.name('ctr'))
        return self.client.containers.run(image, detach=True, **self._labelled(kwargs))

    def run_systemd(self, image: str = BASE_IMAGE, boot_timeout: float = 60, wait: bool = True, **kwargs: t.Any) -> t.Any:
        """Start a container with systemd as PID 1 and return once systemd has finished booting (``wait``)."""
        container = self.run(image, **dict(SYSTEMD_RUN_OPTIONS, **kwargs))
        return self.wait_booted(container, boot_timeout) if wait else container

    @staticmethod
    def wait_booted(container: t.Any, boot_timeout: float = 60) -> t.Any:
        """Wait until systemd in the container has finished booting (several containers boot at once meanwhile)."""
        deadline = time.monotonic() + boot_timeout
        state = ''
        while time.monotonic() < deadline:
            state = container.exec_run(['systemctl', 'is-system-running']).output.decode().strip()
            if state in ('running', 'degraded'):
                return container
            time.sleep(0.2)
        raise RuntimeError('systemd in %s did not finish booting in %ss (state: %s); logs:\n%s'
                           % (container.name, boot_timeout, state, container.logs(tail=30).decode()))

    def wait_healthy(self, container: t.Any, timeout: float = 60) -> t.Any:
        """Wait until the image's HEALTHCHECK reports healthy; fail with its last probe output otherwise."""
        deadline = time.monotonic() + timeout
        health: dict[str, t.Any] = {}
        while time.monotonic() < deadline:
            container.reload()
            health = container.attrs['State'].get('Health') or {}
            if health.get('Status') == 'healthy':
                return container
            if container.status == 'exited':
                break
            time.sleep(0.3)
        probes = [entry.get('Output', '').strip() for entry in health.get('Log', [])[-3:]]
        raise RuntimeError('%s is %s, not healthy, after %ss; last probes: %s; logs:\n%s'
                           % (container.name, health.get('Status', container.status), timeout, probes,
                              container.logs(tail=30).decode(errors='replace')))

    def network(self, **kwargs: t.Any) -> t.Any:
        kwargs.setdefault('name', self.name('net'))
        return self.client.networks.create(**self._labelled(kwargs))

    def volume(self, **kwargs: t.Any) -> t.Any:
        kwargs.setdefault('name', self.name('vol'))
        return self.client.volumes.create(**self._labelled(kwargs))

    def leftovers(self) -> dict[str, list[str]]:
        selector = {'label': '%s=%s' % (LABEL, self.session_id)}
        return {
            'containers': [c.name for c in self.client.containers.list(all=True, filters=selector)],
            'networks': [n.name for n in self.client.networks.list(filters=selector)],
            'volumes': [v.name for v in self.client.volumes.list(filters=selector)],
        }

    def cleanup(self) -> None:
        selector = {'label': '%s=%s' % (LABEL, self.session_id)}
        for container in self.client.containers.list(all=True, filters=selector):
            try:
                container.remove(force=True, v=True)
            except NotFound:
                pass
        for network in self.client.networks.list(filters=selector):
            network.remove()
        for volume in self.client.volumes.list(filters=selector):
            volume.remove(force=True)


def remove_by_ids(client: docker.DockerClient, containers: t.Iterable[str], networks: t.Iterable[str]) -> list[str]:
    """Remove these containers (with their anonymous volumes), then these networks; what was already gone."""
    gone = []
    for ident in containers:
        try:
            client.containers.get(ident).remove(force=True, v=True)
        except NotFound:
            gone.append(ident)
    for ident in networks:
        try:
            client.networks.get(ident).remove()
        except NotFound:
            gone.append(ident)
    return gone
