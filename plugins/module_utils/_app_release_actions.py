# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What app_release does on the host: build a release's virtualenv, switch ``current``, prune, remove.

A release is built in a temporary folder under releases/ (its name starts with ``.artisan-tmp-``, so
nothing takes it for a release), verified with ``pip check``, renamed to its version and only then
marked complete by a marker written last (fsync + rename). Any failure removes what was built. All
changes happen under one lock per application (``<app_root>/.release-lock``).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import grp
import os
import pwd
import shlex
import shutil
import subprocess
import time
import typing as t
import uuid

from ansible_collections.artisan.upgrade.plugins.module_utils import _app_release as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _backup_store as store
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

# pip must not ask, nor look for its own upgrades on an offline host.
PIP_ENV = {'PIP_DISABLE_PIP_VERSION_CHECK': '1', 'PIP_NO_INPUT': '1', 'PYTHONNOUSERSITE': '1'}


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Action:
    """One task: its parameters, the run record, and the host's file system and processes."""

    def __init__(self, params: t.Mapping[str, t.Any], check_mode: bool, warn: t.Callable[[str], None],
                 run: Run, now: t.Callable[[], datetime.datetime] = utc_now) -> None:
        self.params = params
        self.check_mode = check_mode
        self.warn = warn
        self.run = run
        self.now = now
        self.app_root = os.path.abspath(params['app_root'])
        self.releases_dir = os.path.join(self.app_root, decide.RELEASES_DIR)
        self.link = os.path.join(self.app_root, decide.CURRENT_LINK)
        self.state_path = os.path.join(self.app_root, decide.STATE_FILE)

    def release_path(self, version: str) -> str:
        return os.path.join(self.releases_dir, version)

    # -- reading ---------------------------------------------------------------------------------

    def releases(self) -> dict[str, decide.Release]:
        try:
            names = os.listdir(self.releases_dir)
        except FileNotFoundError:
            return {}
        found = {}
        for name in names:
            path = os.path.join(self.releases_dir, name)
            if not os.path.isdir(path) or os.path.islink(path):
                continue
            release = decide.release_from(name, read_json(os.path.join(path, decide.MARKER)))
            if release is not None:
                found[name] = release
        return found

    def current(self) -> str | None:
        if not os.path.lexists(self.link):
            return None
        if not os.path.islink(self.link):
            raise ModuleFailure('%s is not a symbolic link: move it away so that this module can manage it'
                                % self.link)
        return decide.current_from_link(os.readlink(self.link), self.app_root)

    def snapshot(self) -> tuple[str | None, str | None, dict[str, decide.Release]]:
        current = self.current()
        return current, decide.previous_from(read_json(self.state_path), current), self.releases()

    # -- commands --------------------------------------------------------------------------------

    def command(self, argv: list[str], what: str) -> subprocess.CompletedProcess:
        self.run.record(shlex.join(argv))
        try:
            proc = run_with_timeout(argv, self.params['timeout'])
        except subprocess.TimeoutExpired:
            raise ModuleFailure('%s did not finish in %d seconds (option timeout)' % (what, self.params['timeout']),
                                cmd=self.run.mask(shlex.join(argv))) from None
        except OSError as exc:
            raise ModuleFailure('%s: cannot run %s: %s' % (what, argv[0], exc.strerror or exc)) from None
        if proc.returncode != 0:
            raise ModuleFailure('%s failed (rc=%d): %s' % (what, proc.returncode,
                                                           self.run.mask(decide.pip_error(proc.stdout, proc.stderr))),
                                cmd=self.run.mask(shlex.join(argv)), rc=proc.returncode,
                                stdout=self.run.mask(proc.stdout), stderr=self.run.mask(proc.stderr))
        return proc

    # -- locking ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> t.Iterator[None]:
        """One task at a time changes an application's releases; others wait up to the timeout."""
        os.makedirs(self.releases_dir, mode=0o755, exist_ok=True)
        path = os.path.join(self.app_root, decide.LOCK_FILE)
        with open(path, 'a', encoding='utf-8') as handle:
            deadline = time.monotonic() + self.params['timeout']
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ModuleFailure('another task has held %s for more than %d seconds (option timeout): '
                                            'is another deployment of this application running?'
                                            % (path, self.params['timeout'])) from None
                    time.sleep(0.5)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- changing --------------------------------------------------------------------------------

    def build(self, version: str) -> None:
        """Create releases/<version> complete, or leave nothing of it behind."""
        final = self.release_path(version)
        if os.path.lexists(final):
            # Incomplete: a crashed task's leftover (a running one would hold the lock).
            self.warn('removing the incomplete release %s left by an interrupted run' % final)
            store.remove_path(final)
        for name in os.listdir(self.releases_dir):
            if decide.is_temp_of(name, version):
                store.remove_path(os.path.join(self.releases_dir, name))
        temp = os.path.join(self.releases_dir, decide.temp_name(version, uuid.uuid4().hex[:8]))
        renamed = False
        try:
            os.mkdir(temp, 0o755)
            self.install(temp, version)
            os.rename(temp, final)
            renamed = True
            relocate_venv(os.path.join(final, decide.VENV_DIR), os.path.join(temp, decide.VENV_DIR))
            self.finish(final, version)
        except BaseException:
            store.remove_path(final if renamed else temp)
            raise
        store.fsync_dir(self.releases_dir)

    def install(self, root: str, version: str) -> None:
        params = self.params
        venv = os.path.join(root, decide.VENV_DIR)
        self.command([self.python(), '-m', 'venv', venv], 'creating the virtualenv of %s' % version)
        python = os.path.join(venv, 'bin', 'python')
        # Bytecode is compiled after the rename, so that tracebacks name the release's real path.
        self.command([python, '-m', 'pip', 'install', '--no-compile'] + decide.pip_install_args(params),
                     'pip install of %s' % ' '.join(params['requirements']))
        self.command([python, '-m', 'pip', 'check'], 'pip check of release %s' % version)

    def finish(self, final: str, version: str) -> None:
        python = os.path.join(final, decide.VENV_DIR, 'bin', 'python')
        argv = [python, '-m', 'compileall', '-q', os.path.join(final, decide.VENV_DIR, 'lib')]
        self.run.record(shlex.join(argv))
        try:
            compiled = run_with_timeout(argv, self.params['timeout'])
        except subprocess.TimeoutExpired:
            raise ModuleFailure('compiling release %s did not finish in %d seconds (option timeout)'
                                % (version, self.params['timeout'])) from None
        if compiled.returncode != 0:
            self.warn('some files of release %s do not compile (they run uncompiled): %s'
                      % (version, decide.pip_error(compiled.stdout, compiled.stderr, 3)))
        freeze = self.command([python, '-m', 'pip', 'freeze', '--all'], 'pip freeze of release %s' % version).stdout
        python_version = self.command([python, '-c', 'import platform; print(platform.python_version())'],
                                      'the Python of release %s' % version).stdout.strip()
        marker = decide.build_marker(version, self.now(), self.python(), python_version, self.params['requirements'],
                                     freeze, decide.describe_source(self.params))
        self.apply_ownership(final, force=True)
        marker_path = os.path.join(final, decide.MARKER)
        store.write_json(marker_path, marker)
        os.chmod(marker_path, 0o644)
        chown(marker_path, *self.owner_ids())

    def python(self) -> str:
        wanted = self.params['python']
        found = wanted if os.path.isabs(wanted) else shutil.which(wanted)
        if not found or not os.access(found, os.X_OK):
            raise ModuleFailure('the interpreter %s is not %s: set python to a Python with the venv module (on '
                                'Debian: apt install python3-venv)' % (wanted, 'executable' if os.path.isabs(wanted)
                                                                       else 'on the PATH'))
        return found

    def owner_ids(self) -> tuple[int, int]:
        uid = gid = -1
        owner, group = self.params.get('owner'), self.params.get('group')
        try:
            if owner:
                uid = int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid
            if group:
                gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            kind, name = ('user', owner) if uid == -1 and owner else ('group', group)
            raise ModuleFailure('no such %s on the host: %s' % (kind, name)) from None
        return uid, gid

    def ownership_differs(self, path: str) -> bool:
        uid, gid = self.owner_ids()
        info = os.lstat(path)
        mode = self.params.get('mode')
        return ((uid != -1 and info.st_uid != uid) or (gid != -1 and info.st_gid != gid)
                or (mode is not None and (info.st_mode & 0o7777) != mode))

    def apply_ownership(self, path: str, force: bool = False) -> bool:
        """Owner and group of the whole release, mode of its folder; whether anything had to change."""
        if not force and not self.ownership_differs(path):
            return False
        uid, gid = self.owner_ids()
        if uid != -1 or gid != -1:
            for root, dirs, files in os.walk(path):
                chown(root, uid, gid)
                for name in dirs + files:
                    chown(os.path.join(root, name), uid, gid)
        if self.params.get('mode') is not None:
            os.chmod(path, self.params['mode'])
        return True

    def switch(self, version: str, previous: str | None) -> None:
        """Point ``current`` at the release in one rename, then record current and previous."""
        temp = os.path.join(self.app_root, '%s%s-current' % (decide.TEMP_PREFIX, uuid.uuid4().hex[:8]))
        os.symlink(decide.link_target(version), temp)
        try:
            os.replace(temp, self.link)
        except BaseException:
            store.remove_path(temp)
            raise
        store.fsync_dir(self.app_root)
        self.write_state(version, previous)

    def write_state(self, current: str | None, previous: str | None) -> None:
        store.write_json(self.state_path, decide.state_record(current, previous, self.now()))
        os.chmod(self.state_path, 0o644)

    def remove(self, version: str) -> None:
        """The marker goes first, so that an interrupted removal leaves an incomplete release, not a broken one."""
        path = self.release_path(version)
        store.remove_path(os.path.join(path, decide.MARKER))
        store.remove_path(path)


def run_with_timeout(argv: list[str], timeout: int) -> subprocess.CompletedProcess:
    # Not module.run_command(): it has no timeout, and a pip waiting on an unreachable index must not hang the play.
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,  # pylint: disable=ansible-bad-function
                          env=dict(os.environ, **PIP_ENV), check=False)


def relocate_venv(venv: str, built_at: str) -> None:
    """Rewrite the paths a virtualenv records of itself (script shebangs, activate scripts, pyvenv.cfg)
    from where it was built to where it now is."""
    old, new = built_at.encode(), venv.encode()
    bindir = os.path.join(venv, 'bin')
    candidates = [os.path.join(bindir, name) for name in os.listdir(bindir)] + [os.path.join(venv, 'pyvenv.cfg')]
    for path in candidates:
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, 'rb') as handle:
            data = handle.read()
        if old not in data:
            continue
        mode = os.stat(path).st_mode & 0o7777
        temp = path + '.artisan-relocate'
        with open(temp, 'wb') as handle:
            handle.write(data.replace(old, new))
        os.chmod(temp, mode)
        os.replace(temp, path)


def chown(path: str, uid: int, gid: int) -> None:
    if uid != -1 or gid != -1:
        os.lchown(path, uid, gid)


def read_json(path: str) -> t.Any:
    try:
        return store.read_json(path)
    except (OSError, ValueError):
        return None


def perform(action: Action) -> dict[str, t.Any]:
    """Do what the task asks; the module result without the envelope keys."""
    if action.params['state'] == 'query':
        return query(action)
    if action.check_mode:
        return plan_or_apply(action)
    with action.locked():
        return plan_or_apply(action)


def query(action: Action) -> dict[str, t.Any]:
    """Current and previous as the link and the state file say; reads only, takes no lock, creates nothing."""
    current, previous, releases = action.snapshot()
    state = decide.view(current, previous, releases.values())
    service = read_service(action, action.params['service']) if action.params.get('service') else None
    return dict(
        changed=False,
        msg='current is %s, previous is %s%s' % (current or '(none)', previous or '(none)',
                                                 '; %s is %s' % (service['name'], service['active_state']) if service else ''),
        **({'service': service} if service else {}),
        current=current, previous=previous,
        releases=[r.as_result() for r in decide.order(releases.values())],
        release_path=action.release_path(current) if current else None, version=current, pruned=[],
        diff=decide.diff(action.app_root, state, state),
    )


def read_service(action: Action, service: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The unit's ActiveState (systemctl show) and whether its file holds the content given."""
    shown = action.command(['systemctl', 'show', '--property=ActiveState', '--value', service['name']],
                           'reading the state of %s' % service['name'])
    matches = None
    if service.get('unit_file') is not None:
        try:
            with open(service['unit_file'], 'rb') as handle:
                matches = handle.read() == service['content'].encode('utf-8')
        except FileNotFoundError:
            matches = False
    return {'name': service['name'], 'active_state': shown.stdout.strip() or None, 'unit_file_matches': matches}


def plan_or_apply(action: Action) -> dict[str, t.Any]:
    current, previous, releases = action.snapshot()
    try:
        return apply(action, current, previous, releases)
    except ModuleFailure as exc:
        # A failure leaves the link as it was: say where it points.
        exc.context.setdefault('current', current)
        exc.context.setdefault('previous', previous)
        raise


def apply(action: Action, current: str | None, previous: str | None,
          releases: dict[str, decide.Release]) -> dict[str, t.Any]:
    params = action.params
    state, version = params['state'], params.get('version')
    if state == 'current' and version == 'previous':
        state, version = 'rollback', None
    before = decide.view(current, previous, releases.values())
    changed, notes, pruned = False, [], []
    new_current, new_previous = current, previous

    if state == 'absent':
        changed, note = remove_release(action, version, current, previous, releases)
        notes.append(note)
        if changed and version == previous:
            new_previous = None
    else:
        if state == 'rollback':
            version = decide.rollback_target(current, previous, releases)
        else:
            built, note = ensure_release(action, version, releases)
            changed |= built
            notes.append(note)
        if state in ('current', 'rollback'):
            switch = decide.plan_switch(current, previous, version)
            if switch.changed and not action.check_mode:
                action.switch(version, switch.previous)
            new_current, new_previous = switch.current, switch.previous
            changed |= switch.changed
            notes.append(('switched current from %s to %s' % (current or '(none)', version)) if switch.changed
                         else 'current is %s' % version)
    if params.get('keep_releases') is not None:
        pruned = decide.choose_pruned(releases.values(), params['keep_releases'],
                                      (new_current, new_previous, version if state != 'absent' else None))
        if not action.check_mode:
            for name in pruned:
                action.remove(name)
        for name in pruned:
            releases.pop(name, None)
        if pruned:
            changed = True
            notes.append('pruned %s' % ', '.join(pruned))
    if not action.check_mode:
        if state == 'absent' and new_previous != previous:
            action.write_state(current, new_previous)
        new_current, new_previous, releases = action.snapshot()
    after = decide.view(new_current, new_previous, releases.values())
    return dict(
        changed=changed,
        msg=('check mode, nothing changed; the plan: ' if action.check_mode and changed else '') + '; '.join(n for n in notes if n),
        current=new_current, previous=new_previous,
        releases=[r.as_result() for r in decide.order(releases.values())],
        release_path=action.release_path(version), version=version, pruned=pruned,
        diff=decide.diff(action.app_root, before, after),
    )


def ensure_release(action: Action, version: str, releases: dict[str, decide.Release]) -> tuple[bool, str]:
    release = releases.get(version)
    path = action.release_path(version)
    if release is not None and release.complete:
        if action.check_mode:
            return action.ownership_differs(path), 'release %s is installed' % version
        fixed = action.apply_ownership(path)
        return fixed, 'release %s is installed%s' % (version, ' (ownership fixed)' if fixed else '')
    if not params_can_install(action.params):
        raise ModuleFailure('release %s is not installed and no requirements are given to install it' % version)
    action.owner_ids()  # an unknown user or group is refused before anything is built
    if action.check_mode:
        action.python()
        releases[version] = decide.Release(version, True, decide.iso(action.now()))
        return True, 'create release %s from %s' % (version, decide.describe_source(action.params))
    action.build(version)
    releases.clear()
    releases.update(action.releases())
    return True, 'created release %s from %s' % (version, decide.describe_source(action.params))


def params_can_install(params: t.Mapping[str, t.Any]) -> bool:
    return bool(params.get('requirements'))


def remove_release(action: Action, version: str, current: str | None, previous: str | None,
                   releases: dict[str, decide.Release]) -> tuple[bool, str]:
    if version == current:
        raise ModuleFailure('release %s is current: switch current to another release first' % version)
    if version not in releases:
        return False, 'release %s is absent' % version
    if version == previous:
        action.warn('release %s was the previous one: rollback has no target until the next switch' % version)
    if not action.check_mode:
        action.remove(version)
    releases.pop(version)
    return True, 'removed release %s' % version
