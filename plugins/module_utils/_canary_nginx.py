# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""canary_shift's nginx provider: the one place that touches nginx, its files and its processes.

Every command runs through the ``exec_via`` transport, so a containerised nginx is handled the same
way as one on the host. Order of a shift: render, make sure no include of the configuration would
load the copy of the live file or the staged candidate (a Debian ``include sites-enabled/*;`` loads
every file beside the live one but hidden ones), validate the whole configuration with the
candidate in place (``nginx -t``), make sure nginx is running, keep the live file as
``.<file>.previous``, rename the candidate over the live file, check that nginx now loads exactly
the files it loaded before, reload, and wait for the master to start new workers (proof the new
configuration loaded). A failure before the rename leaves the live file alone; a reload that does
not take puts the previous file back.
"""

from __future__ import annotations

import io
import posixpath
import re
import socket
import time
import typing as t
import uuid

from ansible_collections.artisan.upgrade.plugins.module_utils import _canary as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _nginx_config as conf
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecResult, LocalTransport, describe_exit
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

POLL_INTERVAL = 0.1
PROBE_TIMEOUT = 2.0


def _failure(what: str, result: ExecResult) -> ModuleFailure:
    return ModuleFailure('%s failed (%s): %s' % (what, describe_exit(result.rc), result.stderr.strip() or '(no output)'),
                         cmd=result.command, rc=result.rc, stderr=result.stderr)


class NginxHost:
    """nginx where the commands run: its files, ``nginx -T``/``-t``, its master's pid and workers."""

    def __init__(self, transport: LocalTransport, nginx_bin: str, config: str, task: Run | None = None) -> None:
        self.transport = transport
        self.nginx_bin = nginx_bin
        self.config = config
        # The module run whose envelope lists the commands.
        self.task = task or Run()

    def record(self, command: str) -> None:
        self.task.record(command)

    def run(self, argv: list[str], stdin: t.Any = None, record: bool = True) -> ExecResult:
        result = self.transport.run(argv, {}, stdin=stdin)
        if record:
            self.record(result.command)
        return result

    def read(self, path: str) -> str | None:
        result = self.run(['cat', path])
        if result.ok:
            return result.stdout_text()
        if 'No such file' in result.stderr:
            return None
        raise _failure('reading %s' % path, result)

    def write(self, path: str, text: str, like: str) -> None:
        """Write a new file, with the owner and mode of ``like`` when that exists."""
        script = 'umask 022; if [ -e "$2" ]; then cp -p "$2" "$1"; fi; cat > "$1"'
        result = self.run(['sh', '-c', script, 'sh', path, like], stdin=io.BytesIO(text.encode('utf-8')))
        if not result.ok:
            raise _failure('writing %s' % path, result)

    def rename(self, source: str, dest: str) -> None:
        result = self.run(['mv', '-f', source, dest])
        if not result.ok:
            raise _failure('renaming %s to %s' % (source, dest), result)

    def copy(self, source: str, dest: str) -> None:
        result = self.run(['sh', '-c', 'mkdir -p "$(dirname "$2")" && cp -p "$1" "$2"', 'sh', source, dest])
        if not result.ok:
            raise _failure('copying %s to %s' % (source, dest), result)

    def remove(self, path: str) -> None:
        self.run(['rm', '-f', path])

    def dump(self) -> dict[str, str]:
        result = self.run([self.nginx_bin, '-T', '-c', self.config])
        if not result.ok:
            raise ModuleFailure('nginx -T cannot load the current configuration %s, so a candidate cannot be checked '
                                'against it; fix it first: %s' % (self.config, result.stderr.strip()),
                                cmd=result.command, rc=result.rc, stderr=result.stderr)
        return conf.parse_dump(result.stdout_text())

    def test(self, path: str) -> ExecResult:
        return self.run([self.nginx_bin, '-t', '-q', '-c', path])

    def version(self) -> str:
        return self.run([self.nginx_bin, '-V']).stderr

    def master_pid(self, pid_file: str) -> int | None:
        """The running master's pid, or None when nginx is not running."""
        result = self.run(['cat', pid_file])
        pids = conf.parse_pids(result.stdout_text()) if result.ok else set()
        if len(pids) != 1:
            return None
        pid = pids.pop()
        return pid if self.workers(pid, record=True) is not None else None

    def workers(self, pid: int, record: bool = False) -> set[int] | None:
        """Child processes of the master (workers, cache manager); None once it is gone."""
        result = self.run(['cat', '/proc/%d/task/%d/children' % (pid, pid)], record=record)
        return conf.parse_pids(result.stdout_text()) if result.ok else None


def send_reload(method: str, host: NginxHost, service: str) -> ExecResult:
    """Make the master re-read its configuration; ``docker_kill`` signals the container through the engine's API."""
    if method == 'docker_kill':
        kill = getattr(host.transport, 'kill', None)
        if kill is None:
            raise ModuleFailure('reload=docker_kill signals the container nginx runs in: set exec_via.type=docker')
        return kill('HUP')
    if method == 'systemd':
        return host.transport.run(['systemctl', 'reload', service], {})
    return host.transport.run([host.nginx_bin, '-s', 'reload', '-c', host.config], {})


def probe_tcp(address: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when the backend accepts a connection from here, else why not."""
    if address.startswith('unix:'):
        family, target = socket.AF_UNIX, address[5:]
    else:
        host, _sep, port = address.rpartition(':')
        family, target = socket.AF_INET6 if host.startswith('[') else socket.AF_INET, (host.strip('[]'), int(port))
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(target)
    except OSError as exc:
        return '%s: %s' % (address, exc.strerror or exc)
    return None


def unhealthy_sides(split: decide.NginxSplit, probe: t.Callable[[str], str | None]) -> dict[str, list[str]]:
    """Sides that would receive traffic while none of their active backends accepts a connection."""
    failed = {}
    for side in ('stable', 'canary'):
        if split.share(side):
            errors = [probe(address) for address in split.active(side)]
            if all(errors):
                failed[side] = [e for e in errors if e]
    return failed


def annotated_test_error(stderr: str, flat_path: str, flat_text: str) -> str:
    """nginx -t's complaints, each naming the line it points at instead of the scratch file nginx checked.

    The closing ``configuration file <scratch file> test failed`` line says nothing more and is dropped.
    """
    lines = flat_text.splitlines()

    def quote_line(match: re.Match) -> str:
        number = int(match.group(1))
        return ' at "%s"' % lines[number - 1].strip() if 0 < number <= len(lines) else ' at line %d' % number

    complaints = []
    for line in stderr.strip().splitlines():
        if flat_path in line and line.rstrip().endswith(' test failed'):
            continue
        line = re.sub(r'^(nginx: |\S+ \S+ )(?=\[)', '', line.strip())  # "nginx: " or the error log's date and time
        line = re.sub(r'^(\[\w+\]) \d+#\d+: ', r'\1 ', line)
        complaints.append(re.sub(r' in %s:(\d+)' % re.escape(flat_path), quote_line, line).replace(flat_path, 'the checked configuration'))
    return '; '.join(complaints) or '(no output)'


def refuse_loaded_scratch_files(main: str, files: dict[str, str], scratch: dict[str, str]) -> None:
    """Refuse when an include of the configuration would load one of the files a shift writes beside the live ones."""
    for what, (path, remedy) in scratch.items():
        loader = conf.loaded_by(main, files, path)
        if loader:
            raise ModuleFailure('%s %s would be loaded by nginx ("%s"), which would then define everything twice: %s'
                                % (what, path, loader, remedy))


def unexpected_files(before: t.Iterable[str], after: t.Iterable[str], path: str) -> str | None:
    """How the files nginx loads after the swap differ from those before it plus the managed one, if they do."""
    expected, loaded = set(before) | {path}, set(after)
    extra, missing = sorted(loaded - expected), sorted(expected - loaded)
    if not extra and not missing:
        return None
    return '; '.join(filter(None, ['it would also load %s' % ', '.join(extra) if extra else '',
                                   'it would no longer load %s' % ', '.join(missing) if missing else '']))


class NginxShift:
    """One canary_shift task with ``provider: nginx``."""

    def __init__(self, params: dict[str, t.Any], host: NginxHost, check_mode: bool,
                 probe: t.Callable[[str], str | None] = probe_tcp, clock: t.Callable[[], float] = time.monotonic,
                 sleep: t.Callable[[float], None] = time.sleep, warn: t.Callable[[str], None] = lambda msg: None) -> None:
        self.options = params['nginx']
        self.params = params
        self.host = host
        self.check_mode = check_mode
        self.probe = probe
        self.clock = clock
        self.sleep = sleep
        self.warn = warn
        self.path = self.options['include_path']
        self.previous_path = self.options['previous_path'] or posixpath.join(
            posixpath.dirname(self.path), '.%s.previous' % posixpath.basename(self.path))

    def split(self, directives: list[str]) -> decide.NginxSplit:
        o = self.options
        return decide.nginx_split(self.params['weight'], o['upstream'], o['stable'], o['canary'], o['drain'], o['mode'],
                                  o['sticky_by'], o['sticky_name'], directives, o['split_variable'])

    def sibling(self, directory: str, name: str) -> str:
        """A temporary name beside ``name`` that no ``*.conf`` include pattern matches (leading dot)."""
        return posixpath.join(directory, '.%s.canary-%s.tmp' % (posixpath.basename(name), uuid.uuid4().hex[:8]))

    def flatten(self, files: dict[str, str], candidate: str) -> str:
        """The configuration with the candidate in place, once sure that a shift loads no file it only keeps aside."""
        flat, loads = conf.flatten(self.host.config, files, self.path, candidate)
        if not loads:
            raise ModuleFailure('%s does not include %s, so nginx would never read the split: add "include %s;" to '
                                'its http block' % (self.host.config, self.path, self.path))
        hidden = 'make that include skip hidden files (a "*" pattern does)'
        refuse_loaded_scratch_files(self.host.config, files, {
            'the copy of the live file': (self.previous_path, 'choose nginx.previous_path outside every folder an include '
                                                              'loads, or a hidden name a "*" pattern skips'),
            'the staged candidate': (self.sibling(posixpath.dirname(self.path), self.path), hidden),
            'the checked configuration': (self.sibling(posixpath.dirname(self.host.config), self.host.config), hidden)})
        return flat

    def validate(self, flat: str) -> None:
        """nginx -t on the live configuration with the candidate in place."""
        flat_path = self.sibling(posixpath.dirname(self.host.config), self.host.config)
        try:
            self.host.write(flat_path, flat, like=self.host.config)
            result = self.host.test(flat_path)
        finally:
            self.host.remove(flat_path)
        if not result.ok:
            raise ModuleFailure('nginx rejects the new split, the live file was left as it was: nginx -t of %s with the '
                                'candidate in place says: %s'
                                % (self.host.config, annotated_test_error(result.stderr, flat_path, flat)),
                                cmd=result.command, rc=result.rc, stderr=result.stderr)

    def check_loaded_files(self, before: dict[str, str], existed: bool) -> None:
        """After the swap: nginx must load the files it loaded before plus the managed one, nothing else."""
        try:
            difference = unexpected_files(before, self.host.dump(), self.path)
        except ModuleFailure as exc:
            difference = exc.msg
        if difference:
            self.restore(existed)
            raise ModuleFailure('after the new file was put in place, nginx -T of %s no longer matched: %s; the previous '
                                'file was put back and nginx was not reloaded' % (self.host.config, difference))

    def install(self, candidate: str, existed: bool) -> None:
        staged = self.sibling(posixpath.dirname(self.path), self.path)
        try:
            self.host.write(staged, candidate, like=self.path)
            if existed:
                self.host.copy(self.path, self.previous_path)
            self.host.rename(staged, self.path)
        finally:
            self.host.remove(staged)

    def restore(self, existed: bool) -> None:
        if existed:
            staged = self.sibling(posixpath.dirname(self.path), self.path)
            self.host.copy(self.previous_path, staged)
            self.host.rename(staged, self.path)
        else:
            self.host.remove(self.path)

    def signal_reload(self) -> None:
        result = send_reload(self.options['reload'], self.host, self.options['service'])
        self.host.record(result.command)
        if not result.ok:
            raise _failure('reloading nginx', result)

    def reload(self, master: int) -> set[int]:
        """Signal the master and wait until it runs workers of the new configuration; their pids."""
        old = self.host.workers(master) or set()
        self.signal_reload()
        deadline = self.clock() + self.options['reload_timeout']
        polls = 0
        while True:
            current = self.host.workers(master)
            polls += 1
            if current is None:
                raise ModuleFailure('the nginx master (pid %d) exited during the reload' % master)
            if current - old:
                self.host.record('cat /proc/%d/task/%d/children  # polled %d time(s) until new workers ran'
                                 % (master, master, polls))
                return current - old
            if self.clock() >= deadline:
                raise ModuleFailure('nginx (master pid %d) did not start workers with the new configuration within %ss; '
                                    'see its error log' % (master, self.options['reload_timeout']))
            self.sleep(POLL_INTERVAL)

    def revert(self, existed: bool) -> str:
        """After a reload that did not take: the previous file back, and nginx asked to load it (it may yet
        have loaded the new one); what was done, for the failure message."""
        self.restore(existed)
        try:
            self.signal_reload()
        except ModuleFailure as exc:
            return 'the previous file was put back, but asking nginx to load it failed: %s' % exc.msg
        return 'the previous file was put back and nginx asked to load it'

    def current_files(self) -> dict[str, str]:
        try:
            return self.host.dump()
        except ModuleFailure as exc:
            stale = self.path + '.previous'
            if stale in exc.msg:
                exc.msg += ' (%s was left there by an earlier version of canary_shift: delete it)' % stale
            raise

    def not_running(self) -> str:
        return 'nginx is not running (no live master per the pid file of %s)' % self.host.config

    def perform(self) -> dict[str, t.Any]:
        directives = self.options['upstream_directives']
        split = self.split(directives or [])
        live = self.host.read(self.path)
        included = decide.read_include(live)
        decide.check_rewritable(included, self.path, split)
        if directives is None:
            split = self.split(decide.kept_directives(included))
        candidate = decide.render_nginx(split)
        before, after = decide.recorded_state(live), split.state()
        result: dict[str, t.Any] = dict(
            changed=live != candidate, provider='nginx', weight=split.weight, achieved_weight=split.weight,
            before_weight=before['weight'] if before else None, before=before, after=after,
            include_path=self.path, previous_path=self.previous_path, reloaded=False, new_workers=[],
            changes=decide.shift_summary(before, after) if live != candidate else [],
            diff=dict(before=live or '', after=candidate, before_header=self.path, after_header=self.path))
        if not result['changed']:
            result['msg'] = 'nginx already sends %d %% of %s to the canary' % (split.weight, split.upstream)
            return result
        if live is not None and before is None:
            self.warn(decide.takeover_warning(included, self.path, split.directives))
        unhealthy = unhealthy_sides(split, self.probe) if self.options['probe_backends'] else {}
        if unhealthy and not self.params['force']:
            raise ModuleFailure('no %s backend accepts connections (%s); refusing to send it traffic (force=true overrides)'
                                % (' or '.join(unhealthy), '; '.join(sum(unhealthy.values(), []))), **{**result, 'changed': False})
        for side, errors in unhealthy.items():
            self.warn('forced: %s gets traffic although no backend of it accepts connections (%s)' % (side, '; '.join(errors)))
        try:
            files = self.current_files()
            flat = self.flatten(files, candidate)
            master = self.host.master_pid(conf.pid_path(flat, self.host.version()))
            if master is None and self.options['require_running']:
                raise ModuleFailure('%s: nothing was shifted and %s was left as it was; start nginx, or set '
                                    'nginx.require_running=false to write the file for its next start'
                                    % (self.not_running(), self.path))
            if self.check_mode:
                result['msg'] = 'would shift: %s' % '; '.join(result['changes'])
                return result
            self.validate(flat)
            self.install(candidate, live is not None)
            self.check_loaded_files(files, live is not None)
        except ModuleFailure as exc:
            exc.context = {**result, **exc.context, 'changed': False}
            raise
        if master is None:
            self.warn('%s: the new split applies when it starts' % self.not_running())
            result['msg'] = 'written for the next start of nginx, which is not running: %s' % '; '.join(result['changes'])
            return result
        try:
            result['new_workers'] = sorted(self.reload(master))
        except ModuleFailure as exc:
            exc.msg += '; ' + self.revert(live is not None)
            exc.context = {**result, **exc.context, 'changed': False}
            raise
        result['reloaded'] = True
        result['msg'] = 'shifted: %s' % '; '.join(result['changes'])
        return result
