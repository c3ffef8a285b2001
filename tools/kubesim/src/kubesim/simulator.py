"""Run the simulator: API server plus controllers on one event loop, in a thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import tempfile
import threading

from aiohttp import web

from .clock import Clock
from .cluster import ControllerManager
from .registry import Registry
from .server import ApiServer

RUNTIMES = ('fast', 'docker')


def kubeconfig_text(url: str, name: str = 'kubesim') -> str:
    """A kubeconfig for plain HTTP: kubectl and the Python client accept an http:// server without TLS."""
    return ('apiVersion: v1\nkind: Config\n'
            'clusters:\n- name: {n}\n  cluster:\n    server: {url}\n'
            'users:\n- name: {n}\n  user:\n    token: kubesim\n'
            'contexts:\n- name: {n}\n  context:\n    cluster: {n}\n    user: {n}\n    namespace: default\n'
            'current-context: {n}\n').format(n=name, url=url)


def client_url(host: str, port: int) -> str:
    """The URL clients use: a wildcard listen address is reached on the loopback one."""
    if host in ('', '0.0.0.0'):
        host = '127.0.0.1'
    elif host == '::':
        host = '::1'
    return 'http://%s:%d' % ('[%s]' % host if ':' in host else host, port)


class Simulator:
    """A simulated cluster on 127.0.0.1; ``start()`` serves it from a background thread."""

    def __init__(self, port: int = 0, speed: float = 10.0, runtime: str = 'fast', host: str = '127.0.0.1', nodes: int = 1,
                 instance_id: str | None = None):
        if runtime not in RUNTIMES:
            raise ValueError('unknown runtime %r (available: %s)' % (runtime, ', '.join(RUNTIMES)))
        self.host = host
        self.port = port
        self.clock = Clock(speed)
        if nodes < 1:
            raise ValueError('a cluster needs at least one node')
        self.registry = Registry(self.clock, nodes=nodes)
        self.runtime = runtime
        self.kubelet = self.proxies = None
        if runtime == 'docker':
            # Imported here: the fast runtime needs neither the docker SDK nor an engine.
            from .docker_engine import DockerEngine  # pylint: disable=import-outside-toplevel
            from .docker_runtime import DockerKubelet  # pylint: disable=import-outside-toplevel
            from .proxy import ServiceProxies  # pylint: disable=import-outside-toplevel
            self.kubelet = DockerKubelet(self.registry, DockerEngine(instance_id))
            self.proxies = ServiceProxies(self.registry, self.kubelet)
        self.manager = ControllerManager(self.registry, kubelet=self.kubelet, extra=(self.proxies,) if self.proxies else ())
        self.api = ApiServer(self.registry, self.kubelet)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._tasks: list[asyncio.Task] = []

    @property
    def url(self) -> str:
        return client_url(self.host, self.port)

    async def serve(self) -> None:
        """Bind the HTTP server and start the controllers on the running loop."""
        self.loop = asyncio.get_running_loop()
        # handler_cancellation ends a watch handler as soon as its client goes away.
        self._runner = web.AppRunner(self.api.app, handle_signals=False, access_log=None, handler_cancellation=True,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._tasks.append(asyncio.ensure_future(self.manager.run()))

    async def shutdown(self) -> None:
        for task in self._tasks + list(self.api.watch_tasks):
            task.cancel()
        if self.proxies is not None:
            self.proxies.close()
        if self.kubelet is not None:
            await self.kubelet.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def network(self) -> str | None:
        """The docker runtime's network: containers on it reach pods by pod name."""
        return self.kubelet.engine.network if self.kubelet is not None else None

    def service_address(self, name: str, namespace: str = 'default', port: int | None = None) -> tuple[str, int] | None:
        """(host, port) of a Service's proxy on 127.0.0.1 (docker runtime), None until it listens."""
        if self.proxies is None:
            return None
        address = self.call(self.proxies.address, namespace, name, port)
        if address is None:
            return None
        host, _colon, number = address.rpartition(':')
        return host, int(number)

    def start(self) -> 'Simulator':
        ready: concurrent.futures.Future = concurrent.futures.Future()

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.serve())
            except Exception as exc:  # pylint: disable=broad-exception-caught
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()
            loop.run_until_complete(self.shutdown())
            loop.close()

        self._thread = threading.Thread(target=main, name='kubesim', daemon=True)
        self._thread.start()
        ready.result(timeout=30)
        return self

    def stop(self) -> None:
        if self.loop is not None and self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)

    def call(self, function, *args, **kwargs):
        """Run ``function`` on the simulator's loop (where the registry lives) and return its result."""
        async def invoke():
            return function(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(invoke(), self.loop).result(timeout=30)

    def write_kubeconfig(self, path: str) -> str:
        """Write it under a temporary name, then rename: whoever polls for the file never reads half of it."""
        handle, temporary = tempfile.mkstemp(prefix='.kubesim-', dir=os.path.dirname(os.path.abspath(path)))
        try:
            with os.fdopen(handle, 'w', encoding='utf-8') as stream:
                stream.write(kubeconfig_text(self.url))
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        return path

    def api_client(self):
        """A kubernetes.client.ApiClient pointed at this simulator."""
        from kubernetes import client  # pylint: disable=import-outside-toplevel

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.api_key = {'authorization': 'Bearer kubesim'}
        return client.ApiClient(configuration)
