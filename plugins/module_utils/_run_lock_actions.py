# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_lock's I/O: the lock file of an application, changed only under an fcntl guard, and the processes
behind it (from /proc, on Linux)."""

from __future__ import annotations

import datetime
import getpass
import os
import socket
import time
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _record_store as store
from ansible_collections.artisan.upgrade.plugins.module_utils import _run_lock as decide
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

POLL = 0.5


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def process_started(pid: int) -> str | None:
    """The start time of a process (clock ticks after boot), which tells a pid from its reuse; None if gone."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as handle:
            stat = handle.read().decode('utf-8', 'replace')
    except OSError:
        return None
    return stat.rsplit(')', 1)[1].split()[19]


def parent_of(pid: int) -> int | None:
    try:
        with open('/proc/%d/stat' % pid, 'rb') as handle:
            return int(handle.read().decode('utf-8', 'replace').rsplit(')', 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def command_line(pid: int) -> str:
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return handle.read().replace(b'\0', b' ').decode('utf-8', 'replace')
    except OSError:
        return ''


def ancestors(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes above ``pid``, nearest first."""
    found: list[tuple[int, str]] = []
    parent = parent_of(pid)
    while parent and parent > 1 and len(found) < 64:
        found.append((parent, command_line(parent)))
        parent = parent_of(parent)
    return found


def process_alive(process: dict[str, t.Any], this_host: str) -> bool | None:
    """Whether a recorded process runs, when it ran here and recorded a pid; None when it cannot be told."""
    if process.get('host') != this_host or not process.get('pid'):
        return None
    started = process_started(int(process['pid']))
    if started is None:
        return False
    return process.get('pid_started') in (None, started)


def holder_alive(holder: dict[str, t.Any], this_host: str) -> bool | None:
    """Whether the run holding the lock still runs: any of its processes (the slices that joined it included)."""
    alive = [process_alive(process, this_host) for process in decide.holder_processes(holder)]
    if True in alive:
        return True
    return None if None in alive else False


class Lock:
    """One application's lock file in a folder, and the clock and sleep of its waits (replaceable in tests)."""

    def __init__(self, params: dict[str, t.Any], check_mode: bool, run: Run, warn: t.Callable[[str], None],
                 now: t.Callable[[], datetime.datetime] = utcnow, sleep: t.Callable[[float], None] = time.sleep,
                 clock: t.Callable[[], float] = time.monotonic) -> None:
        self.params, self.check_mode, self.run, self.warn = params, check_mode, run, warn
        self.now, self.sleep, self.clock = now, sleep, clock
        self.app = decide.check_app(params['app'])
        self.path = os.path.join(params['dir'], self.app + '.json')
        self.host = socket.gethostname()

    def me(self) -> dict[str, t.Any]:
        pid = self.params.get('pid') or decide.run_pid(ancestors(os.getpid()))
        return decide.owner(release_id=self.params['release_id'], host=self.host, user=getpass.getuser(), pid=pid,
                            pid_started=process_started(pid) if pid else None, now=self.now())

    def result(self, changed: bool, msg: str, holder: dict[str, t.Any] | None, before: dict[str, t.Any] | None,
               **fields: t.Any) -> dict[str, t.Any]:
        return self.run.envelope(changed, msg, path=self.path, holder=holder,
                                 diff={'before': before or {}, 'after': holder or {}}, **fields)

    def acquire(self) -> dict[str, t.Any]:
        timeout = float(self.params['timeout'])
        if timeout < 0:
            raise ModuleFailure('timeout must be 0 or more seconds, got %s' % self.params['timeout'])
        stale_after = decide.parse_duration(self.params['stale_after'])
        me = self.me()
        started = self.clock()
        if not self.check_mode:
            store.ensure_dir(self.params['dir'])
        while True:
            outcome = self.try_acquire(me, stale_after, waited=self.clock() - started)
            if outcome is not None:
                return outcome
            waited = self.clock() - started
            if self.check_mode or waited >= timeout:
                holder = store.read_json(self.path) or {}
                raise ModuleFailure(decide.busy_message(self.app, holder, self.now(), waited, self.path),
                                    holder=holder, path=self.path, waited=round(waited, 3), acquired=False)
            self.sleep(min(POLL, max(0.0, timeout - waited)))

    def try_acquire(self, me: dict[str, t.Any], stale_after: float | None, waited: float) -> dict[str, t.Any] | None:
        """The result when the lock is ours (now or already), None while someone else holds it."""
        if self.check_mode:
            return self.decide_acquire(me, stale_after, waited, store.read_json(self.path))
        with store.locked(self.path):
            return self.decide_acquire(me, stale_after, waited, store.read_json(self.path))

    def decide_acquire(self, me: dict[str, t.Any], stale_after: float | None, waited: float,
                       holder: dict[str, t.Any] | None) -> dict[str, t.Any] | None:
        waited = round(waited, 3)
        member = self.params.get('member')
        if isinstance(holder, dict) and holder.get('release_id') == me['release_id'] and holder.get('schema') == decide.SCHEMA:
            if member and member not in (holder.get('members') or {}):
                return self.write(decide.join(holder, member, me), holder, 'slice %s %s the lock of %s held by its run %s' % (
                    member, 'would join' if self.check_mode else 'joined', self.app, me['release_id']), waited)
            return self.result(False, 'release %s holds the lock of %s' % (me['release_id'], self.app), holder, holder,
                               acquired=True, waited=waited)
        previous = None
        if holder is not None:
            holder = holder if isinstance(holder, dict) else {}
            reason = decide.stale_reason(holder, this_host=self.host, holder_alive=holder_alive(holder, self.host),
                                         now=self.now(), stale_after=stale_after)
            if reason is None:
                return None
            self.warn('taking over the stale lock of %s held by %s: %s' % (self.app, decide.describe_holder(holder, self.now()), reason))
            previous = holder
        verb = 'would acquire' if self.check_mode else 'acquired'
        return self.write(decide.join(None, member, me) if member else me, previous, '%s the lock of %s for release %s%s' % (
            verb, self.app, me['release_id'], ' after %s' % decide.human_seconds(waited) if waited >= 1 else ''), waited, previous)

    def write(self, holder: dict[str, t.Any], before: dict[str, t.Any] | None, msg: str, waited: float,
              taken_over: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        if not self.check_mode:
            store.write_json(self.path, holder)
        return self.result(True, msg, holder, before, acquired=not self.check_mode, waited=waited, previous_holder=taken_over)

    def release(self) -> dict[str, t.Any]:
        if self.check_mode:
            return self.decide_release(store.read_json(self.path))
        if not os.path.exists(self.path):
            return self.decide_release(None)
        with store.locked(self.path):
            return self.decide_release(store.read_json(self.path))

    def decide_release(self, holder: dict[str, t.Any] | None) -> dict[str, t.Any]:
        if holder is None:
            return self.result(False, '%s is not locked' % self.app, None, None)
        holder = holder if isinstance(holder, dict) else {}
        mine = holder.get('release_id') == self.params['release_id']
        if not mine and not self.params['force']:
            raise ModuleFailure('the lock of %s is held by %s, not by release %s: pass force=true to release it anyway'
                                % (self.app, decide.describe_holder(holder, self.now()), self.params['release_id']),
                                holder=holder, path=self.path)
        member = self.params.get('member')
        if member and holder.get('members') and member not in holder['members']:
            return self.result(False, 'slice %s is not in the lock of %s' % (member, self.app), holder, holder)
        remaining = decide.leave(holder, member) if member else None
        if remaining is not None:
            if not self.check_mode:
                store.write_json(self.path, remaining)
            return self.result(True, 'slice %s %s the lock of %s; %d slice(s) of release %s still hold it' % (
                member, 'would leave' if self.check_mode else 'left', self.app, len(remaining['members']),
                holder.get('release_id')), remaining, holder, previous_holder=holder)
        if not self.check_mode:
            store.remove(self.path)
        return self.result(True, '%s the lock of %s held by %s' % (
            'would release' if self.check_mode else 'released', self.app, decide.describe_holder(holder, self.now())),
            None, holder, previous_holder=holder)
