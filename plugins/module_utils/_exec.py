# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where commands run: one small interface over several transports (``exec_via``).

``transport.run(argv, env, stdin=..., stdout=...)`` runs an argument list (never a shell string)
with extra environment variables, streams the command's stdout into a local binary file object
(a database dump never passes through this process's memory when that object has a file
descriptor) and returns the exit code with the tail of stderr. Modules pick the transport from
the ``exec_via`` option documented by the ``artisan.upgrade.exec_via`` doc fragment.

Transports: ``local`` (a child process), ``docker`` (``docker exec`` through the CLI) and ``pod``
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
import subprocess
import threading
import typing as t

CHUNK = 1024 * 1024
STDERR_LIMIT = 64 * 1024
CAPTURE_LIMIT = 16 * 1024 * 1024


class ExecError(Exception):
    """The transport itself cannot run commands (no docker CLI, container not running, ...)."""


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

    def add(self, chunk: bytes) -> None:
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


class DockerTransport(LocalTransport):
    """Commands run in a running container through the docker CLI.

    Environment variables are named with ``-e NAME`` (no value): the CLI copies the value from its
    own environment, so secrets never appear in an argument list.
    """

    kind = 'docker'

    def __init__(self, container: str, user: str | None = None, docker_bin: str = 'docker') -> None:
        self.container = container
        self.user = user
        self.docker_bin = docker_bin

    def command_line(self, argv: list[str], env: dict[str, str], stdin: bool = False) -> list[str]:
        prefix = [self.docker_bin, 'exec']
        if stdin:
            prefix.append('--interactive')
        if self.user:
            prefix += ['--user', self.user]
        for name in sorted(env):
            prefix += ['--env', name]
        return prefix + [self.container] + list(argv)

    def check(self) -> None:
        result = run_process([self.docker_bin, 'inspect', '--format', '{{.State.Running}}', self.container],
                             clean_environ({}))
        if result.rc == 127:
            raise ExecError('exec_via docker needs the docker CLI on the target host: %s' % result.stderr)
        if result.rc != 0:
            raise ExecError('container "%s" not found: %s' % (self.container, result.stderr.strip()))
        if result.stdout_text().strip() != 'true':
            raise ExecError('container "%s" is not running' % self.container)


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


def transport_from_params(params: dict[str, t.Any], bin_path: t.Callable[[str], str | None]) -> t.Any:
    """The transport the ``exec_via`` option of a module's ``params`` asks for (a pod is reached with the
    module's Kubernetes options); ``bin_path(name)`` finds a program on the target."""
    exec_via = params.get('exec_via') or {'type': 'local'}
    if exec_via.get('type') == 'docker':
        return DockerTransport(exec_via['container'], exec_via.get('user'), bin_path('docker') or 'docker')
    if exec_via.get('type') == 'pod':
        return PodTransport(params, exec_via['pod'], exec_via.get('namespace') or 'default', exec_via.get('container'))
    return LocalTransport()
