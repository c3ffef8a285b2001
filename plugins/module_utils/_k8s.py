# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Kubernetes boundary: every request of the collection to an API server goes through here.

The connection options (``_k8s_auth.k8s_auth_argument_spec()``, re-exported here) become one ApiClient
of the official ``kubernetes`` library; ``Kube`` sends requests through it and answers with the JSON the
server sends (plain dicts), so the decisions (_k8s_state, _rollout, _canary) work on exactly what kubectl
sees. It records every request as ``METHOD path`` into the module's ``_run.Run``, bounds each by the
task's ``Deadline``, waits by watch (list, then watch from that resourceVersion; 410 Gone lists again,
a dropped connection watches again) and raises one exception type per kind of failure: ``ApiError`` (the
server answered no) and ``Unreachable`` (it could not be reached), both ``_run.ModuleFailure``.
No other file imports the ``kubernetes`` library.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import typing as t
from urllib.parse import quote

from ansible_collections.artisan.upgrade.plugins.module_utils._k8s_auth import k8s_auth_argument_spec  # noqa: F401  pylint: disable=unused-import
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

try:
    import kubernetes
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.watch.watch import iter_resp_lines
    from urllib3.util.retry import Retry
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

    class ApiException(Exception):  # type: ignore[no-redef]
        """Stand-in so that ``except ApiException`` compiles without the library."""

    class ConfigException(Exception):  # type: ignore[no-redef]
        """Stand-in so that ``except ConfigException`` compiles without the library."""


# Cap of one request's timeout; a task's deadline shortens it (Deadline.request_timeout).
REQUEST_TIMEOUT = 30.0
# What a request gets once the deadline has passed: enough to report or put something back.
MIN_REQUEST_TIMEOUT = 5.0


JSON = 'application/json'
MERGE_PATCH = 'application/merge-patch+json'
STRATEGIC_MERGE = 'application/strategic-merge-patch+json'
JSON_PATCH = 'application/json-patch+json'
# Consecutive dropped watch connections tolerated before a wait fails.
WATCH_RECONNECTS = 3


class K8sError(ModuleFailure):
    """A failure to reach or use the API server, with a message that says what to do."""


class ApiError(K8sError):
    """The API server answered with an error; ``status`` is its HTTP status (404, 409, 422...)."""

    def __init__(self, msg: str, status: int | None = None, **context: t.Any) -> None:
        super().__init__(msg, **context)
        self.status = status

    @classmethod
    def of(cls, exc: BaseException) -> 'ApiError':
        return cls(api_error_message(exc), getattr(exc, 'status', None))

    @property
    def not_found(self) -> bool:
        return self.status == 404


class Unreachable(K8sError):
    """The API server could not be reached (refused, DNS, TLS, no answer in time): one message for every caller."""

    def __init__(self, server: str, reason: BaseException | str, **context: t.Any) -> None:
        text = unreachable_message(reason) if isinstance(reason, BaseException) else reason
        super().__init__('cannot reach the Kubernetes API at %s: %s' % (server, text), **context)
        self.server = server


class WatchGone(Exception):
    """The watch's resourceVersion is older than the server's history (410 Gone): list again."""


class Deadline:
    """When a task must be done; every request it makes waits at most the time left."""

    def __init__(self, seconds: float, clock: t.Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.at = clock() + seconds

    def left(self) -> float:
        return self.at - self.clock()

    def request_timeout(self, cap: float = REQUEST_TIMEOUT) -> float:
        """The time left, at least MIN_REQUEST_TIMEOUT (to report or undo after it) and at most ``cap``."""
        return min(cap, max(self.left(), MIN_REQUEST_TIMEOUT))


def _explicit_settings(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """Options that override (or, without a kubeconfig, replace) what a kubeconfig says."""
    settings: dict[str, t.Any] = {}
    if params.get('host'):
        settings['host'] = params['host']
    if params.get('api_key'):
        settings['api_key'] = {'BearerToken': 'Bearer %s' % params['api_key']}
    if params.get('username'):
        settings['username'] = params['username']
    if params.get('password'):
        settings['password'] = params['password']
    if params.get('validate_certs') is not None:
        settings['verify_ssl'] = params['validate_certs']
    for option, attribute in (('ca_cert', 'ssl_ca_cert'), ('client_cert', 'cert_file'), ('client_key', 'key_file')):
        if params.get(option):
            settings[attribute] = params[option]
    return settings


def uses_kubeconfig(params: dict[str, t.Any]) -> bool:
    """A kubeconfig is read unless the options alone say where the server is (host without kubeconfig)."""
    return bool(params.get('kubeconfig')) or not params.get('host')


def kubeconfig_files(kubeconfig: str | None, environ: t.Mapping[str, str] | None = None) -> tuple[str, str]:
    """(paths as kubectl reads them, where they came from): the option, else $KUBECONFIG, else ~/.kube/config."""
    environ = os.environ if environ is None else environ
    if kubeconfig:
        return kubeconfig, 'kubeconfig'
    if environ.get('KUBECONFIG'):
        return environ['KUBECONFIG'], 'KUBECONFIG'
    return '~/.kube/config', 'the default'


def missing_kubeconfig(paths: str, source: str) -> str | None:
    """Why no kubeconfig can be read from ``paths`` (a KUBECONFIG-style list), or None when one exists."""
    files = [path for path in paths.split(os.pathsep) if path]
    if any(os.path.exists(os.path.expanduser(path)) for path in files):
        return None
    shown = ', '.join(path if os.path.expanduser(path) == path else '%s (%s)' % (path, os.path.expanduser(path))
                      for path in files) or repr(paths)
    return 'cannot load kubeconfig %s: %s (%s); set kubeconfig (or K8S_AUTH_KUBECONFIG) to a kubeconfig file, or host' % (
        shown, 'no such file' if len(files) == 1 else 'none of these files exists', source)


def configuration(params: dict[str, t.Any]) -> t.Any:
    """A ``kubernetes.client.Configuration`` from a kubeconfig (file, dict, or ~/.kube/config) and the options."""
    config = kubernetes.client.Configuration()
    # A read that timed out is not sent again: each caller bounds its requests by its own deadline.
    config.retries = Retry(total=3, read=False)
    if uses_kubeconfig(params):
        kubeconfig = params.get('kubeconfig')
        try:
            if isinstance(kubeconfig, dict):
                loader = kubernetes.config.kube_config.KubeConfigLoader(
                    config_dict=kubeconfig, active_context=params.get('context'))
                loader.load_and_set(config)
            else:
                paths, source = kubeconfig_files(kubeconfig)
                missing = missing_kubeconfig(paths, source)
                if missing:
                    raise K8sError(missing)
                kubernetes.config.load_kube_config(config_file=paths, context=params.get('context'),
                                                   client_configuration=config, persist_config=False)
        except (ConfigException, OSError, ValueError, TypeError) as exc:
            raise K8sError('cannot load kubeconfig %s%s: %s' % (
                kubeconfig if isinstance(kubeconfig, str) else '(default)' if not kubeconfig else '(inline)',
                ' context "%s"' % params['context'] if params.get('context') else '', exc)) from exc
    # The client sends api_key['BearerToken'] as the Authorization header, whatever set it (a kubeconfig token,
    # api_key, or basic credentials): replacing the whole dict is what makes an option override the kubeconfig.
    for attribute, value in _explicit_settings(params).items():
        setattr(config, attribute, value)
    if params.get('username') and params.get('password'):
        config.api_key = {'BearerToken': config.get_basic_auth_token()}
    return config


def api_client(params: dict[str, t.Any]) -> t.Any:
    """An ApiClient for the connection options; raises K8sError when they cannot work."""
    if not HAS_KUBERNETES:
        raise K8sError('the kubernetes Python library is required: %s' % KUBERNETES_IMPORT_ERROR)
    return kubernetes.client.ApiClient(configuration(params))


def api_error_message(exc: BaseException) -> str:
    """The API server's own message (``deployments.apps "web" not found``) or the transport error."""
    if isinstance(exc, K8sError):
        return exc.msg
    if isinstance(exc, ApiException):
        body = getattr(exc, 'body', None)
        if body:
            try:
                status = json.loads(body)
            except (TypeError, ValueError):
                status = None
            if isinstance(status, dict) and status.get('message'):
                return '%s (HTTP %s)' % (status['message'], exc.status)
        return '%s (HTTP %s)' % (exc.reason or 'API error', exc.status)
    return str(exc)


def is_unreachable(exc: BaseException) -> bool:
    """The API server could not be reached at all (refused, DNS, TLS, timeout), as opposed to an API answer."""
    if isinstance(exc, Unreachable):
        return True
    if isinstance(exc, (ApiException, K8sError)):
        return False
    name = type(exc).__module__ + '.' + type(exc).__name__
    return name.startswith('urllib3.') or isinstance(exc, (ConnectionError, TimeoutError))


def unreachable_message(exc: BaseException) -> str:
    """The transport error, saying plainly when the server took the connection but did not answer in time."""
    if isinstance(exc, Unreachable):
        return exc.msg
    if 'timed out' in str(exc).lower() or isinstance(exc, TimeoutError):
        return 'no answer in time (%s)' % exc
    return str(exc)


def server_url(client: t.Any) -> str:
    """Where the client talks to, for messages."""
    return getattr(getattr(client, 'configuration', None), 'host', '') or '(unknown server)'


# -- paths ------------------------------------------------------------------------------------------

def api_path(api_version: str, plural: str, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
    """The REST path of a collection or an object: ``api_path('apps/v1', 'deployments', 'shop', 'web', 'scale')``.

    ``api_version`` is an object's apiVersion: ``v1`` (the core group, under /api) or ``group/version``.
    """
    path = ('/api/' if '/' not in api_version else '/apis/') + api_version
    if namespace is not None:
        path += '/namespaces/' + quote(namespace, safe='')
    path += '/' + plural
    if name is not None:
        path += '/' + quote(name, safe='')
    return path + '/' + subresource if subresource else path


def name_selector(name: str) -> dict[str, str]:
    """The query that narrows a list or a watch to one object."""
    return {'fieldSelector': 'metadata.name=%s' % name}


# -- requests ---------------------------------------------------------------------------------------

class Kube:
    """Requests to one API server: JSON in, JSON out, each bounded by ``deadline`` and recorded into ``run``.

    Raises ApiError for an answer outside 2xx and Unreachable when the server cannot be reached.
    """

    def __init__(self, client: t.Any, deadline: Deadline | None = None, run: Run | None = None) -> None:
        self.client = client
        self.deadline = deadline or Deadline(REQUEST_TIMEOUT)
        self.run = run

    @classmethod
    def from_params(cls, params: dict[str, t.Any], deadline: Deadline | None = None, run: Run | None = None) -> 'Kube':
        """A Kube for a module's connection options; raises K8sError when they cannot work."""
        return cls(api_client(params), deadline, run)

    @property
    def server(self) -> str:
        return server_url(self.client)

    def record(self, method: str, path: str, query: dict[str, t.Any] | None = None) -> None:
        """Note the request as ``METHOD path``; a watch and a dry run keep the query word that says so."""
        if self.run is None:
            return
        shown = [key for key in ('watch', 'dryRun') if (query or {}).get(key)]
        self.run.record('%s %s%s' % (method, path, '?' + '&'.join('%s=%s' % (key, query[key]) for key in shown)
                                     if shown else ''))

    def request(self, method: str, path: str, query: dict[str, t.Any] | None = None, body: t.Any = None,
                content_type: str = JSON, stream: bool = False, timeout: t.Any = None) -> t.Any:
        """One request: the decoded JSON answer, or with ``stream`` the open urllib3 response (release it)."""
        if timeout is None:
            timeout = self.deadline.request_timeout()
        query = {key: value for key, value in (query or {}).items() if value is not None}
        self.record(method, path, query)
        headers = {'Accept': 'application/json', 'Content-Type': content_type}
        try:
            method, url, headers, body, post = self.client.param_serialize(
                method, path, query_params=query or None, header_params=headers, body=body,
                auth_settings=['BearerToken'])
            response = self.client.call_api(method, url, headers, body, post, _request_timeout=timeout)
            if not 200 <= response.status < 300:
                response.read()
                raise ApiException(http_resp=response)
            if stream:
                return response.response
            return json.loads(response.read() or b'null')
        except ApiException as exc:
            raise ApiError.of(exc) from exc
        except Exception as exc:  # pylint: disable=broad-exception-caught
            if is_unreachable(exc) and not isinstance(exc, K8sError):
                raise Unreachable(self.server, exc) from exc
            raise

    def get(self, path: str, query: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        return self.request('GET', path, query)

    def get_or_none(self, path: str) -> dict[str, t.Any] | None:
        """The object, or None when the server says it does not exist."""
        try:
            return self.request('GET', path)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    def list(self, path: str, query: dict[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        """The items of a collection (``labelSelector``, ``fieldSelector`` in ``query``)."""
        return self.request('GET', path, query)['items']

    def create(self, path: str, body: dict[str, t.Any], dry_run: bool = False) -> dict[str, t.Any]:
        return self.request('POST', path, {'dryRun': 'All'} if dry_run else None, body)

    def patch(self, path: str, body: t.Any, content_type: str = STRATEGIC_MERGE, dry_run: bool = False) -> dict[str, t.Any]:
        """Patch the object; with ``dry_run`` the server validates and answers without storing anything."""
        return self.request('PATCH', path, {'dryRun': 'All'} if dry_run else None, body, content_type)

    def delete(self, path: str, propagation: str | None = None, missing_ok: bool = True) -> dict[str, t.Any] | None:
        """Delete the object (None when it was already gone and ``missing_ok``)."""
        body = {'kind': 'DeleteOptions', 'apiVersion': 'v1', 'propagationPolicy': propagation} if propagation else None
        try:
            return self.request('DELETE', path, body=body)
        except ApiError as exc:
            if exc.not_found and missing_ok:
                return None
            raise

    def pod_log(self, namespace: str, pod: str, container: str | None = None, tail_lines: int | None = None,
                previous: bool = False) -> str:
        """The pod's log (the previous instance of a restarted container with ``previous``)."""
        response = self.request('GET', api_path('v1', 'pods', namespace, pod, 'log'), {
            'container': container, 'tailLines': tail_lines, 'previous': 'true' if previous else None}, stream=True)
        try:
            return response.data.decode('utf-8', errors='replace')
        finally:
            response.release_conn()

    # -- watching -----------------------------------------------------------------------------------

    def watch(self, lifetime: float | None = None) -> 'Watch':
        """Several list-and-watch streams into one queue: ``with kube.watch() as w: w.add(...); w.next(...)``."""
        return Watch(self, lifetime if lifetime is not None else max(self.deadline.left(), 1.0) + 5)

    def watch_into(self, path: str, query: dict[str, t.Any], resource_version: str | None, tag: str,
                   events: queue.Queue, stop: threading.Event, lifetime: float) -> None:
        """Feed (tag, type, object) into ``events`` until ``stop``.

        Without ``resource_version`` (and after a 410 Gone) the collection is listed first and sent as one
        ('SYNC', items) entry, so the reader can drop what vanished meanwhile; then watched from the list's
        resourceVersion. A dropped connection (an API server restart, an idle proxy) is watched again from
        the last resourceVersion seen, WATCH_RECONNECTS times in a row at most; then ('FAILED', exc).
        """
        drops = 0
        while not stop.is_set():
            try:
                if resource_version is None:
                    listing = self.request('GET', path, query)
                    resource_version = listing['metadata']['resourceVersion']
                    events.put((tag, 'SYNC', listing['items']))
                for event_type, obj in self._stream(path, query, resource_version, lifetime):
                    if stop.is_set():
                        return
                    drops = 0
                    resource_version = obj['metadata']['resourceVersion']
                    if event_type != 'BOOKMARK':
                        events.put((tag, event_type, obj))
            except WatchGone:
                events.put((tag, 'GONE', None))
                resource_version = None
            except Exception as exc:  # pylint: disable=broad-exception-caught
                if stop.is_set():
                    return
                if is_unreachable(exc) and drops < WATCH_RECONNECTS:
                    drops += 1
                    time.sleep(0.2 * drops)
                    continue
                if is_unreachable(exc) and not isinstance(exc, K8sError):
                    exc = Unreachable(self.server, exc)
                events.put((tag, 'FAILED', exc))
                return

    def _stream(self, path: str, query: dict[str, t.Any], resource_version: str,
                lifetime: float) -> t.Iterator[tuple[str, dict[str, t.Any]]]:
        """The (type, object) events of one watch request; an ERROR event is raised."""
        watch_query = dict(query, watch='true', resourceVersion=resource_version, allowWatchBookmarks='true',
                           timeoutSeconds=max(1, int(lifetime)))
        # The read timeout is the longest silence allowed: the stream ends by the deadline, as the wait does.
        response = self.request('GET', path, watch_query, stream=True, timeout=(
            self.deadline.request_timeout(), min(lifetime, max(self.deadline.left(), 0.0)) + 5))
        try:
            for line in iter_resp_lines(response):
                if not line:
                    continue
                event = json.loads(line)
                obj = event.get('object') or {}
                if event.get('type') == 'ERROR':
                    if obj.get('code') == 410:
                        raise WatchGone(obj.get('message', ''))
                    raise ApiError('%s (HTTP %s)' % (obj.get('message') or 'watch error', obj.get('code')), obj.get('code'))
                yield event['type'], obj
        finally:
            response.release_conn()

    def wait_until(self, streams: dict[str, tuple[str, dict[str, t.Any]]],
                   judge: t.Callable[[dict[str, dict[str, dict[str, t.Any]]]], t.Any],
                   clock: t.Callable[[], float] = time.monotonic,
                   wake_at: t.Callable[[], float | None] = lambda: None) -> t.Any:
        """List and watch each stream (tag: (path, query)) and ask ``judge`` after each batch of events.

        ``judge`` gets {tag: {name: object}} once every stream is listed; the first answer that is not
        false (True, or a string saying why waiting is pointless) is returned; None when the deadline passes.
        ``wake_at`` (a time of ``clock``, or None) asks for a judgement then even without an event: a
        problem that lasts without changing anything (a pod stuck in ImagePullBackOff) still ends the wait.
        """
        objects: dict[str, dict[str, dict[str, t.Any]]] = {tag: {} for tag in streams}
        listed: set[str] = set()
        end = clock() + self.deadline.left()
        with self.watch() as watch:
            for tag, (path, query) in streams.items():
                watch.add(tag, path, query)
            while True:
                if listed == set(streams):
                    answer = judge(objects)
                    if answer:
                        return answer
                now = clock()
                left = end - now
                if left <= 0:
                    return None
                wake = wake_at()
                for tag, event_type, payload in watch.next(left if wake is None else min(left, max(0.0, wake - now))):
                    if event_type == 'SYNC':
                        objects[tag] = {obj['metadata']['name']: obj for obj in payload}
                        listed.add(tag)
                    elif event_type == 'DELETED':
                        objects[tag].pop(payload['metadata']['name'], None)
                    elif event_type in ('ADDED', 'MODIFIED'):
                        objects[tag][payload['metadata']['name']] = payload


class Watch:
    """List-and-watch streams (one thread each) feeding one queue; leaving the ``with`` block stops them."""

    def __init__(self, kube: Kube, lifetime: float) -> None:
        self.kube = kube
        self.lifetime = lifetime
        self.events: queue.Queue = queue.Queue()
        self.stop = threading.Event()

    def add(self, tag: str, path: str, query: dict[str, t.Any] | None = None, resource_version: str | None = None) -> None:
        """Start a stream; from ``resource_version`` (an object just read: no change after it is missed), else a list."""
        threading.Thread(target=self.kube.watch_into, daemon=True, args=(
            path, dict(query or {}), resource_version, tag, self.events, self.stop, self.lifetime)).start()

    def next(self, timeout: float) -> list[tuple[str, str, t.Any]]:
        """The entries that arrived within ``timeout`` (all waiting ones once the first is in); a failed stream raises."""
        try:
            entries = [self.events.get(timeout=max(0.0, timeout))]
        except queue.Empty:
            return []
        while True:
            try:
                entries.append(self.events.get_nowait())
            except queue.Empty:
                break
        for _tag, event_type, payload in entries:
            if event_type == 'FAILED':
                raise payload
        return entries

    def close(self) -> None:
        self.stop.set()

    def __enter__(self) -> 'Watch':
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.close()


# -- pod exec: see _exec.PodTransport ---------------------------------------------------------------
# The channel protocol of pods/exec (kubectl exec): each binary message starts with its channel.

EXEC_STDIN, EXEC_STDOUT, EXEC_STDERR, EXEC_STATUS, EXEC_CLOSE = 0, 1, 2, 3, 255
# v5 (Kubernetes 1.30+) adds EXEC_CLOSE, the client's "end of stdin"; without it a command reading stdin never ends.
EXEC_V5 = 'v5.channel.k8s.io'


class PodExec:
    """One command running in a pod's container over a pods/exec websocket this object owns.

    ``frames()`` hands each (channel, bytes) over as it arrives and keeps nothing: a dump streams to the
    caller's file, where the library's WSClient would gather a fast producer's output in memory.
    ``send_stdin`` and ``close_stdin`` may run in another thread than ``frames``.
    """

    def __init__(self, socket: t.Any) -> None:
        self.socket = socket
        self.protocol = socket.getsubprotocol() or (socket.getheaders() or {}).get('sec-websocket-protocol')

    @property
    def can_close_stdin(self) -> bool:
        return self.protocol == EXEC_V5

    def frames(self) -> t.Iterator[tuple[int, bytes]]:
        """(channel, payload) until the server closes the connection (after the Status on EXEC_STATUS)."""
        import websocket  # pylint: disable=import-outside-toplevel
        while True:
            opcode, frame = self.socket.recv_data_frame(True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return
            if opcode in (websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT) and frame.data:
                yield frame.data[0], frame.data[1:]

    def send_stdin(self, data: bytes) -> None:
        self.socket.send_binary(bytes([EXEC_STDIN]) + data)

    def close_stdin(self) -> None:
        self.socket.send_binary(bytes([EXEC_CLOSE, EXEC_STDIN]))

    def close(self) -> None:
        self.socket.close()


class PodExecClient:
    """The pod transport's requests: read the pod, run a command in it (the same websocket as ``kubectl exec``)."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def read_pod(self, namespace: str, name: str) -> dict[str, t.Any]:
        return self.kube.get(api_path('v1', 'pods', namespace, name))

    def exec(self, namespace: str, pod: str, argv: list[str], container: str | None = None,
             stdin: bool = False) -> PodExec:
        """Start ``argv`` (the request URL carries it: never a secret) with stdout and stderr, and stdin if asked."""
        import websocket  # pylint: disable=import-outside-toplevel
        from kubernetes.stream import ws_client  # pylint: disable=import-outside-toplevel
        path = api_path('v1', 'pods', namespace, pod, 'exec')
        query = [('command', arg) for arg in argv] + [
            ('stdin', 'true' if stdin else 'false'), ('stdout', 'true'), ('stderr', 'true'), ('tty', 'false')]
        if container:
            query.append(('container', container))
        self.kube.record('GET', path)
        client = self.kube.client
        _method, url, headers, _body, _post = client.param_serialize(
            'GET', path, query_params=query, header_params={}, auth_settings=['BearerToken'])
        try:
            socket = ws_client.create_websocket(client.configuration, ws_client.get_websocket_url(url), headers)
        except websocket.WebSocketBadStatusException as exc:
            raise ApiError(exec_refusal(exc.status_code, exc.resp_body), exc.status_code) from exc
        except (OSError, websocket.WebSocketException) as exc:
            raise Unreachable(self.kube.server, exc) from exc
        return PodExec(socket)


def exec_refusal(status: int, body: t.Any) -> str:
    """The API server's message when it refuses the exec upgrade (``pods "db-9" not found``), from its Status."""
    try:
        message = json.loads(body).get('message')
    except (TypeError, ValueError, AttributeError):
        message = None
    return '%s (HTTP %s)' % (message or 'exec refused', status)
