# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where commands run: one small interface over several transports (``exec_via``).

``transport.run(argv, env, stdin=..., stdout=...)`` runs an argument list (never a shell string)
with extra environment variables, streams the command's stdout into a local binary file object
(a database dump never passes through this process's memory when that object has a file
descriptor) and returns the exit code with the tail of stderr. Modules pick the transport from
the ``exec_via`` option documented by the ``artisan.upgrade.exec_via`` doc fragment.

Transports: ``local`` (a child process), ``docker`` (an exec through the Docker Engine API) and ``pod``
(the pods/exec websocket of the Kubernetes API, as ``kubectl exec``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shlex
import signal
import struct
import subprocess
import threading
import time
import typing as t
from socket import SHUT_WR, socket as BaseSocket

CHUNK = 1024 * 1024
STDERR_LIMIT = 64 * 1024
CAPTURE_LIMIT = 16 * 1024 * 1024


class ExecError(Exception):
    """The transport itself cannot run commands (no Docker SDK, container not running, ...)."""


@dataclasses.dataclass
class ExecResult:
    rc: int
    stderr: str
    stdout: bytes | None = None  # only when the caller asked to capture it
    command: str = ''

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def stdout_text(self) -> str:
        return (self.stdout or b'').decode('utf-8', errors='replace')


def exec_via_argument_spec() -> dict[str, t.Any]:
    """The ``exec_via`` option of the ``artisan.upgrade.exec_via`` doc fragment.

    The pod transport connects with the module's top-level Kubernetes options (``k8s_auth_argument_spec()``),
    which ``module_defaults: group/artisan.upgrade.k8s`` reaches; none are nested here."""
    options = dict(
        type=dict(type='str', choices=['local', 'docker', 'pod'], default='local'),
        container=dict(type='str'),
        user=dict(type='str'),
        pod=dict(type='str'),
        namespace=dict(type='str', default='default'),
    )
    return dict(exec_via=dict(
        type='dict', default=dict(type='local'), options=options,
        required_if=[('type', 'docker', ['container']), ('type', 'pod', ['pod'])],
    ))


def describe_exit(rc: int) -> str:
    """``rc 1`` or ``killed by SIGKILL``: subprocess reports a signal as a negative return code."""
    if rc < 0:
        try:
            return 'killed by %s' % signal.Signals(-rc).name
        except ValueError:
            return 'killed by signal %d' % -rc
    return 'rc %d' % rc


def clean_environ(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without stray PG* settings, plus ``extra``.

    The module's own PG* variables were already read as option fallbacks; dropping them keeps a
    tool from connecting somewhere the options did not say.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith('PG')}
    env.update(extra)
    return env


class _TailBuffer:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = b''

    def add(self, chunk: t.Any) -> None:
        self.data = (self.data + chunk)[-self.limit:]


def _pump(source: t.Any, sink: t.Callable[[bytes], t.Any], close: t.Any = None) -> None:
    try:
        while True:
            chunk = source.read(CHUNK)
            if not chunk:
                break
            sink(chunk)
    except (BrokenPipeError, ValueError, OSError):
        pass  # the reader died: its exit code tells the story
    finally:
        if close is not None:
            try:
                close.close()
            except OSError:
                pass


def _fileno(handle: t.Any) -> int | None:
    """The descriptor to hand to the child, only for plain files: a GzipFile's fileno() is the compressed file's."""
    if not isinstance(handle, (io.FileIO, io.BufferedReader, io.BufferedWriter, io.BufferedRandom)):
        return None
    try:
        return handle.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def run_process(argv: list[str], env: dict[str, str], stdin: t.Any = None, stdout: t.Any = None,
                command: str = '') -> ExecResult:
    """Run argv; stream stdin from / stdout into file objects (passed as descriptors when they have one)."""
    stdin_fd = _fileno(stdin) if stdin is not None else None
    stdout_fd = _fileno(stdout) if stdout is not None else None
    if stdout is not None and stdout_fd is not None:
        stdout.flush()
    try:
        # Not module.run_command(): it holds stdin and stdout in memory, and a dump must stream to a file.
        proc = subprocess.Popen(  # pylint: disable=ansible-bad-function
            argv, env=env, close_fds=True,
            stdin=stdin_fd if stdin_fd is not None else (subprocess.PIPE if stdin is not None else subprocess.DEVNULL),
            stdout=stdout_fd if stdout_fd is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        return ExecResult(rc=127, stderr='cannot run %s: %s' % (argv[0], exc.strerror or exc), command=command)
    threads = []
    err = _TailBuffer(STDERR_LIMIT)
    threads.append(threading.Thread(target=_pump, args=(proc.stderr, err.add), daemon=True))
    if stdin is not None and stdin_fd is None:
        threads.append(threading.Thread(target=_pump, args=(stdin, proc.stdin.write, proc.stdin), daemon=True))
    for thread in threads:
        thread.start()
    captured = None
    if stdout is None:
        out = _TailBuffer(CAPTURE_LIMIT)
        _pump(proc.stdout, out.add)
        captured = out.data
    elif stdout_fd is None:
        _pump(proc.stdout, stdout.write)
    rc = proc.wait()
    for thread in threads:
        thread.join()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    return ExecResult(rc=rc, stderr=err.data.decode('utf-8', errors='replace'), stdout=captured, command=command)


class LocalTransport:
    """Commands run on the host the module runs on."""

    kind = 'local'

    def command_line(self, argv: list[str], env: dict[str, str], stdin: bool = False) -> list[str]:
        return list(argv)

    def check(self) -> None:
        return None

    def run(self, argv: list[str], env: dict[str, str] | None = None, stdin: t.Any = None, stdout: t.Any = None) -> ExecResult:
        full = self.command_line(argv, env or {}, stdin is not None)
        return run_process(full, clean_environ(env or {}), stdin=stdin, stdout=stdout, command=shlex.join(full))


DOCKER_SDK_MISSING = 'the docker Python package is needed on the host where the task runs: pip install docker'
DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'
FRAME_HEADER = struct.Struct('>BxxxL')  # stream (0 stdin, 1 stdout, 2 stderr), three zero bytes, payload length
EXIT_CODE_WAIT = 10.0


def docker_engine_address(environ: t.Mapping[str, str]) -> str:
    """Where the Docker SDK connects, as community.docker reads it: ``DOCKER_HOST`` or the local socket."""
    return environ.get('DOCKER_HOST') or DEFAULT_DOCKER_HOST


def unreachable_engine_message(address: str, reason: t.Any) -> str:
    return ('cannot reach the Docker engine at %s: %s (the environment of the task selects the engine: DOCKER_HOST, '
            'and DOCKER_TLS_VERIFY / DOCKER_CERT_PATH for TLS)' % (address, reason))


def container_state_problem(container: str, state: dict[str, t.Any]) -> str | None:
    """Why commands cannot be run in a container with this ``State`` (from an inspect), or None."""
    if state.get('Paused'):
        return 'container "%s" is paused' % container
    if not state.get('Running') or state.get('Restarting'):
        return 'container "%s" is not running (status: %s)' % (container, state.get('Status') or 'unknown')
    return None


def container_api_problem(container: str, status_code: int | None, explanation: str, address: str) -> str:
    """The engine's refusal of an inspect or exec, said in terms of the task."""
    if status_code == 404:
        return 'container "%s" not found on the Docker engine at %s' % (container, address)
    if status_code == 409:  # "Container ... is not running" / "is paused" on exec
        return 'container "%s" cannot run commands: %s' % (container, explanation)
    return 'Docker engine at %s: %s' % (address, explanation or 'HTTP %s' % status_code)


def exec_failure_text(container: str, rc: int, stderr: str, captured: bytes | None) -> str:
    """stderr, or why the command did not start: the engine reports that on stdout with rc 126 or 127."""
    if rc not in (126, 127) or stderr.strip():
        return stderr
    said = (captured or b'').decode('utf-8', errors='replace').strip()
    return 'the command could not be started in container "%s" (rc %d)%s' % (container, rc, ': ' + said if said else '')


class FrameSplitter:
    """Splits the engine's exec stream (no tty) into stdout and stderr, fed in pieces of any size as they arrive.

    Each frame is an 8-byte header (stream, three zero bytes, payload length) then its payload; a sink gets
    memoryview slices of what was fed, valid only during the call, so nothing is held beyond one fed piece.
    """

    def __init__(self, stdout: t.Callable[[t.Any], t.Any], stderr: t.Callable[[t.Any], t.Any]) -> None:
        self.sinks = {1: stdout, 2: stderr}
        self.header = b''
        self.left = 0  # payload bytes the current frame still owes
        self.sink: t.Callable[[t.Any], t.Any] | None = None

    def feed(self, data: t.Any) -> None:
        view = memoryview(data)
        while view:
            if self.left:
                piece = view[:self.left]
                if self.sink is not None:  # stream 0 or unknown: dropped
                    self.sink(piece)
                self.left -= len(piece)
                view = view[len(piece):]
                continue
            need = FRAME_HEADER.size - len(self.header)
            self.header += bytes(view[:need])
            view = view[need:]
            if len(self.header) == FRAME_HEADER.size:
                stream, self.left = FRAME_HEADER.unpack(self.header)
                self.header = b''
                self.sink = self.sinks.get(stream)

    def end(self) -> None:
        """The stream ended: raises ExecError when it ended inside a frame."""
        if self.header:
            raise ExecError('the exec stream ended inside a frame header')
        if self.left:
            raise ExecError('the exec stream ended %d bytes before the end of a frame' % self.left)


def _docker_sdk() -> t.Any:
    """The Docker SDK, imported on first use (only the docker transport needs it)."""
    try:
        import docker  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise ExecError(DOCKER_SDK_MISSING) from exc
    return docker


class DockerTransport:
    """Commands run in a running container through the Docker Engine API (the ``docker`` Python SDK).

    The engine is the one the task's environment names (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``,
    ``DOCKER_CERT_PATH``), as for community.docker. Secrets go in the exec configuration's environment,
    never in the command; stdout and stderr come back as one multiplexed stream, split here as it arrives.
    """

    kind = 'docker'

    def __init__(self, container: str, user: str | None = None, environ: t.Mapping[str, str] | None = None) -> None:
        self.container = container
        self.user = user
        self.environ = os.environ if environ is None else environ
        self.address = docker_engine_address(self.environ)
        self._api = None

    def command_line(self, argv: list[str], env: dict[str, str], stdin: bool = False) -> list[str]:
        """What the equivalent docker CLI call looks like, for the ``commands`` a module returns (names, no values)."""
        prefix = ['docker', 'exec']
        if stdin:
            prefix.append('--interactive')
        if self.user:
            prefix += ['--user', self.user]
        for name in sorted(env):
            prefix += ['--env', name]
        return prefix + [self.container] + list(argv)

    def api(self) -> t.Any:
        if self._api is None:
            docker = _docker_sdk()
            try:
                # version=None asks the engine for its API version, which also proves it answers.
                self._api = docker.APIClient(version=None, **docker.utils.kwargs_from_env(environment=dict(self.environ)))
            except docker.errors.DockerException as exc:
                raise ExecError(unreachable_engine_message(self.address, exc)) from exc
        return self._api

    def _refusal(self, exc: Exception) -> ExecError:
        docker = _docker_sdk()
        if isinstance(exc, docker.errors.APIError):
            return ExecError(container_api_problem(self.container, exc.status_code, exc.explanation or str(exc), self.address))
        return ExecError(unreachable_engine_message(self.address, exc))

    def check(self) -> None:
        api = self.api()
        try:
            state = api.inspect_container(self.container).get('State') or {}
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise self._refusal(exc) from exc
        problem = container_state_problem(self.container, state)
        if problem:
            raise ExecError(problem)

    def kill(self, signal_name: str) -> ExecResult:
        """Send a signal to the container's main process (``docker kill --signal``)."""
        command = shlex.join(['docker', 'kill', '--signal', signal_name, self.container])
        try:
            self.api().kill(self.container, signal=signal_name)
        except ExecError as exc:
            return ExecResult(rc=127, stderr=str(exc), command=command)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            return ExecResult(rc=1, stderr=str(self._refusal(exc)), command=command)
        return ExecResult(rc=0, stderr='', command=command)

    def run(self, argv: list[str], env: dict[str, str] | None = None, stdin: t.Any = None, stdout: t.Any = None) -> ExecResult:
        env = env or {}
        command = shlex.join(self.command_line(argv, env, stdin is not None))
        try:
            exec_id, response = self._start(argv, env, stdin is not None)
        except ExecError as exc:
            return ExecResult(rc=127, stderr=str(exc), command=command)
        # The buffered reader of the HTTP response may already hold the first frames, read with the headers;
        # the socket under it is written to (stdin) and half-closed at the end of stdin.
        reader = response.raw._fp.fp  # pylint: disable=protected-access
        sock = reader.raw._sock  # pylint: disable=protected-access
        sock.settimeout(None)  # a dump may go quiet for long (a lock wait); the command's own end closes the stream
        writer = None
        if stdin is not None:
            writer = threading.Thread(target=_feed_socket, args=(sock, stdin), daemon=True)
            writer.start()
        out = _TailBuffer(CAPTURE_LIMIT)
        err = _TailBuffer(STDERR_LIMIT)
        splitter = FrameSplitter(stdout.write if stdout is not None else out.add, err.add)
        buffer = memoryview(bytearray(CHUNK))
        try:
            while True:
                # readinto1: what the socket has now (at most one read), so a helper's answers are not held back.
                size = reader.readinto1(buffer)
                if not size:
                    break
                splitter.feed(buffer[:size])
            splitter.end()
        except (ExecError, OSError, ValueError) as exc:
            err.add(('\nthe exec stream broke: %s' % exc).encode())
        finally:
            response.close()
        if writer is not None:
            writer.join(timeout=5)
        rc, message = self._exit_code(exec_id)
        captured = None if stdout is not None else out.data
        text = exec_failure_text(self.container, rc, err.data.decode('utf-8', errors='replace') + message, captured)
        return ExecResult(rc=rc, stderr=text, stdout=captured, command=command)

    def _start(self, argv: list[str], env: dict[str, str], with_stdin: bool) -> tuple[str, t.Any]:
        api = self.api()
        if not api.base_url.startswith(('http+docker://localhost', 'http://', 'https://')):
            raise ExecError('exec_via docker streams through a socket, which the Docker SDK does not give for %s' % self.address)
        try:
            exec_id = api.exec_create(self.container, list(argv), stdin=with_stdin, stdout=True, stderr=True, tty=False,
                                      user=self.user or '', environment=env or None)['Id']
            # exec_start(socket=True) hands back the bare socket, losing what the response's reader has buffered.
            response = api.post('%s/v%s/exec/%s/start' % (api.base_url, api.api_version, exec_id),
                                data=json.dumps({'Tty': False, 'Detach': False}), stream=True, timeout=api.timeout,
                                headers={'Content-Type': 'application/json', 'Connection': 'Upgrade', 'Upgrade': 'tcp'})
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise self._refusal(exc) from exc
        if response.status_code not in (101, 200):
            response.close()
            raise ExecError(container_api_problem(self.container, response.status_code, response.reason, self.address))
        return exec_id, response

    def _exit_code(self, exec_id: str) -> tuple[int, str]:
        """The command's exit code; the engine may report the exec as running a moment after its stream ended."""
        deadline = time.monotonic() + EXIT_CODE_WAIT
        while True:
            try:
                info = self.api().exec_inspect(exec_id)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                return 255, 'cannot read the exit code: %s' % self._refusal(exc)
            if not info.get('Running') and info.get('ExitCode') is not None:
                return int(info['ExitCode']), ''
            if time.monotonic() >= deadline:
                return 255, 'the exec stream ended but the engine still reports the command running'
            time.sleep(0.05)


def _feed_socket(sock: t.Any, stdin: t.Any) -> None:
    """Copy stdin into the exec socket, then half-close it: the command reads end-of-file, its output still flows."""
    try:
        while True:
            chunk = stdin.read(CHUNK)
            if not chunk:
                break
            sock.sendall(chunk)
        # socket.socket's own shutdown: on a TLS socket, SSLSocket.shutdown would also drop the TLS layer we read.
        BaseSocket.shutdown(sock, SHUT_WR)
    except (OSError, ValueError):
        pass  # the command ended or the connection broke: the exit code says which


ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


def env_preamble(env: dict[str, str]) -> tuple[list[str], bytes]:
    """A ``sh -c`` prefix that reads ``env`` from the first lines of stdin, and those lines.

    The exec API has no environment field and its command travels in the request URL (kept in audit
    logs), so secrets such as PGPASSWORD go through stdin instead: ``read`` takes one line per variable,
    and the program then inherits the rest of stdin untouched (shells read a pipe byte by byte).
    """
    if not env:
        return [], b''
    names = sorted(env)
    for name in names:
        if not ENV_NAME.match(name):
            raise ExecError('environment variable name %r cannot be passed into a pod' % name)
        if '\n' in env[name] or '\r' in env[name]:
            raise ExecError('the value of %s contains a line break and cannot be passed into a pod' % name)
    script = ' && '.join(['IFS= read -r %s' % name for name in names] + ['export %s' % ' '.join(names), 'exec "$@"'])
    return ['sh', '-c', script, 'artisan-exec'], ''.join(env[name] + '\n' for name in names).encode()


def exit_code_of(status: dict[str, t.Any]) -> tuple[int, str]:
    """The exit code in the Status an exec ends with, and its message when the command did not even run."""
    if status.get('status') == 'Success':
        return 0, ''
    for cause in (status.get('details') or {}).get('causes') or []:
        if cause.get('reason') == 'ExitCode':
            try:
                return int(cause.get('message')), ''
            except (TypeError, ValueError):
                break
    return 126, status.get('message') or 'exec failed without a status message'


def _kubernetes() -> t.Any:
    """The Kubernetes boundary, imported on first use: the library costs 0.5 s to import."""
    from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s  # pylint: disable=import-outside-toplevel
    return _k8s


class PodTransport:
    """Commands run in a pod's container through the API's exec websocket (``kubectl exec``).

    The requests go through the Kubernetes boundary (``_k8s.PodExecClient``, or ``client`` in tests).
    """

    kind = 'pod'

    def __init__(self, params: dict[str, t.Any], pod: str, namespace: str = 'default', container: str | None = None,
                 client: t.Any = None) -> None:
        self.params = params
        self.pod = pod
        self.namespace = namespace
        self.container = container
        self._client = client

    def command_line(self, argv: list[str], env: dict[str, str], stdin: bool = False) -> list[str]:
        """What the equivalent kubectl call looks like, for the ``commands`` a module returns (no values)."""
        prefix = ['kubectl', 'exec', '--namespace', self.namespace]
        if stdin or env:
            prefix.append('--stdin')
        if self.container:
            prefix += ['--container', self.container]
        shown_env = ['env'] + ['%s=<from stdin>' % name for name in sorted(env)] if env else []
        return prefix + [self.pod, '--'] + shown_env + list(argv)

    def client(self) -> t.Any:
        if self._client is None:
            _k8s = _kubernetes()
            try:
                self._client = _k8s.PodExecClient(_k8s.Kube.from_params(self.params))
            except _k8s.K8sError as exc:
                raise ExecError('exec_via pod: %s' % exc.msg) from exc
        return self._client

    def check(self) -> None:
        where = 'pod "%s" in namespace "%s"' % (self.pod, self.namespace)
        try:
            pod = self.client().read_pod(self.namespace, self.pod)
        except _kubernetes().K8sError as exc:
            raise ExecError('%s: %s' % (where, exc.msg)) from exc
        phase = (pod.get('status') or {}).get('phase')
        if phase != 'Running':
            raise ExecError('%s is %s, not Running' % (where, phase or 'in an unknown phase'))
        names = [container['name'] for container in pod['spec']['containers']]
        if self.container and self.container not in names:
            raise ExecError('%s has no container "%s" (it has: %s)' % (where, self.container, ', '.join(names)))

    def run(self, argv: list[str], env: dict[str, str] | None = None, stdin: t.Any = None, stdout: t.Any = None) -> ExecResult:
        env = env or {}
        command = shlex.join(self.command_line(argv, env, stdin is not None))
        prefix, preamble = env_preamble(env)
        try:
            stream = self._open(prefix + list(argv), stdin is not None or bool(preamble))
        except ExecError as exc:
            return ExecResult(rc=127, stderr=str(exc), command=command)
        writer = None
        if preamble or stdin is not None:
            writer = threading.Thread(target=self._feed, args=(stream, preamble, stdin), daemon=True)
            writer.start()
        out = _TailBuffer(CAPTURE_LIMIT)
        err = _TailBuffer(STDERR_LIMIT)
        status = self._receive(stream.frames(), stdout.write if stdout is not None else out.add, err)
        stream.close()
        if writer is not None:
            writer.join(timeout=5)
        captured = None if stdout is not None else out.data
        if status is None:
            return ExecResult(rc=255, stderr=err.data.decode('utf-8', 'replace') + 'the exec connection closed without an exit status',
                              stdout=captured, command=command)
        rc, message = exit_code_of(status)
        return ExecResult(rc=rc, stderr=err.data.decode('utf-8', errors='replace') + message, stdout=captured, command=command)

    def _open(self, argv: list[str], with_stdin: bool) -> t.Any:
        try:
            stream = self.client().exec(self.namespace, self.pod, argv, self.container, with_stdin)
        except _kubernetes().K8sError as exc:
            raise ExecError('exec in pod "%s": %s' % (self.pod, exc.msg)) from exc
        if with_stdin and not stream.can_close_stdin:
            stream.close()
            raise ExecError('the API server does not speak the v5 exec protocol (Kubernetes 1.30+), '
                            'so the end of stdin cannot be signalled to the command')
        return stream

    @staticmethod
    def _feed(stream: t.Any, preamble: bytes, stdin: t.Any) -> None:
        """Send the preamble, then ``stdin`` until its end, then say the end (v5 of the protocol)."""
        try:
            if preamble:
                stream.send_stdin(preamble)
            while stdin is not None:
                chunk = stdin.read(CHUNK // 4)
                if not chunk:
                    break
                stream.send_stdin(chunk)
            stream.close_stdin()
        except Exception:  # pylint: disable=broad-exception-caught
            pass  # the command ended or the connection broke: the exit status says which

    @staticmethod
    def _receive(frames: t.Iterable[tuple[int, bytes]], sink: t.Callable[[bytes], t.Any],
                 err: _TailBuffer) -> dict[str, t.Any] | None:
        """Hand stdout frames to ``sink`` (as they arrive) and stderr ones to ``err`` until the stream ends; the
        final Status (channel 3), or None when the stream broke or ended without one."""
        status = b''
        try:
            for channel, payload in frames:
                if channel == 1:
                    sink(payload)
                elif channel == 2:
                    err.add(payload)
                elif channel == 3:
                    status += payload
        except Exception as exc:  # pylint: disable=broad-exception-caught
            err.add(('\nthe exec stream broke: %s' % exc).encode())
            return None
        try:
            return json.loads(status.decode('utf-8')) if status else None
        except ValueError:
            return None


def transport_from_params(params: dict[str, t.Any]) -> t.Any:
    """The transport the ``exec_via`` option of a module's ``params`` asks for (a pod is reached with the
    module's Kubernetes options, a container through the Docker engine the environment names)."""
    exec_via = params.get('exec_via') or {'type': 'local'}
    if exec_via.get('type') == 'docker':
        return DockerTransport(exec_via['container'], exec_via.get('user'))
    if exec_via.get('type') == 'pod':
        return PodTransport(params, exec_via['pod'], exec_via.get('namespace') or 'default', exec_via.get('container'))
    return LocalTransport()
