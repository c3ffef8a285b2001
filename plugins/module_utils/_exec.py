# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where commands run: one small interface over several transports (``exec_via``).

``transport.run(argv, env, stdin=..., stdout=...)`` runs an argument list (never a shell string)
with extra environment variables, streams the command's stdout into a local binary file object
(a database dump never passes through this process's memory when that object has a file
descriptor) and returns the exit code with the tail of stderr. Modules pick the transport from
the ``exec_via`` option documented by the ``artisan.upgrade.exec_via`` doc fragment.
"""

from __future__ import annotations

import dataclasses
import io
import os
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
    """The ``exec_via`` option of the ``artisan.upgrade.exec_via`` doc fragment."""
    return dict(exec_via=dict(
        type='dict', default=dict(type='local'),
        options=dict(
            type=dict(type='str', choices=['local', 'docker'], default='local'),
            container=dict(type='str'),
            user=dict(type='str'),
        ),
        required_if=[('type', 'docker', ['container'])],
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


def transport_from_params(exec_via: dict[str, t.Any] | None, bin_path: t.Callable[[str], str | None]) -> LocalTransport:
    """The transport an ``exec_via`` option asks for; ``bin_path(name)`` finds a program on the target."""
    exec_via = exec_via or {'type': 'local'}
    if exec_via.get('type') == 'docker':
        return DockerTransport(exec_via['container'], exec_via.get('user'), bin_path('docker') or 'docker')
    return LocalTransport()
