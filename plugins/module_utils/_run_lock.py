# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run-level lock of an application: who may take it, when a holder counts as gone, what to say.

Pure functions; the lock file's I/O is in _run_lock_actions.
"""

from __future__ import annotations

import datetime
import re
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

SCHEMA = 'artisan.upgrade/run_lock/v1'
APP_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$')
DURATION = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$')
UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}
# Commands whose process is the run a lock belongs to, when found among the module's ancestors.
RUNNERS = ('ansible-playbook', 'ansible-runner', 'ansible-navigator')


def check_app(app: str) -> str:
    if not APP_NAME.match(app or ''):
        raise ModuleFailure('app %r is not usable as a lock file name: use letters, digits and . _ + -' % app)
    return app


def parse_duration(text: str | None) -> float | None:
    """``90``, ``90s``, ``30m``, ``12h``, ``2d`` in seconds; None for no limit."""
    if text in (None, ''):
        return None
    match = DURATION.match(str(text))
    if not match:
        raise ModuleFailure('%r is not a duration like 90s, 30m, 12h or 2d' % text)
    return float(match.group(1)) * UNITS[match.group(2)]


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def owner(*, release_id: str, host: str, user: str, pid: int | None, pid_started: str | None,
          now: datetime.datetime) -> dict[str, t.Any]:
    return {'schema': SCHEMA, 'release_id': release_id, 'host': host, 'user': user, 'pid': pid,
            'pid_started': pid_started, 'since': iso(now)}


def holder_processes(holder: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The processes a lock stands for: its holder, and every slice of a shared run that joined it."""
    members = holder.get('members')
    return [holder] + (list(members.values()) if isinstance(members, dict) else [])


def join(holder: dict[str, t.Any] | None, member: str, me: dict[str, t.Any]) -> dict[str, t.Any]:
    """The lock with slice ``member`` of ``me``'s run in it: a slice of the run that holds the lock joins it."""
    joined = dict(holder) if holder else dict(me)
    members = dict(joined.get('members') or {})
    members[member] = {key: me[key] for key in ('host', 'user', 'pid', 'pid_started', 'since')}
    joined['members'] = members
    return joined


def leave(holder: dict[str, t.Any], member: str) -> dict[str, t.Any] | None:
    """The lock once slice ``member`` left it, None when no slice is left (the lock is free).

    A remaining slice becomes the holder, so that the lock counts as stale only when the run's last
    process is gone.
    """
    members = {name: who for name, who in (holder.get('members') or {}).items() if name != member}
    if not members:
        return None
    left = dict(holder, members=members)
    left.update(members[sorted(members)[0]])
    return left


def run_pid(ancestors: t.Sequence[tuple[int, str]]) -> int | None:
    """The process of the run among the module's ancestors (nearest first): the outermost Ansible runner.

    Ansible's workers are forks of ansible-playbook with the same command line, so the outermost one is
    the playbook itself, which lives as long as the run.
    """
    found = None
    for pid, cmdline in ancestors:
        if any(runner in cmdline for runner in RUNNERS):
            found = pid
    return found


def age(holder: dict[str, t.Any], now: datetime.datetime) -> float:
    try:
        return max(0.0, (now - parse_time(holder['since'])).total_seconds())
    except (KeyError, TypeError, ValueError):
        return float('inf')  # an unreadable lock file is as good as no owner


def stale_reason(holder: dict[str, t.Any], *, this_host: str, holder_alive: bool | None, now: datetime.datetime,
                 stale_after: float | None) -> str | None:
    """Why the holder no longer holds the lock, or None while it may still be running.

    ``holder_alive`` is whether the holder's process still runs (None when it cannot be told: another host,
    no pid recorded).
    """
    if holder.get('schema') != SCHEMA:
        return 'the lock file is not a run lock of this collection (unreadable or of another version)'
    if holder.get('host') == this_host and holder_alive is False:
        return 'its process %s on %s is gone' % (holder.get('pid'), this_host)
    held = age(holder, now)
    if stale_after is not None and held > stale_after:
        return 'it is older than stale_after (%s)' % human_seconds(stale_after)
    return None


def human_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    for unit, size in (('d', 86400), ('h', 3600), ('m', 60)):
        if seconds >= size:
            return '%d%s%s' % (seconds // size, unit, ' %ds' % (seconds % size) if unit == 'm' and seconds % size else '')
    return '%ds' % seconds


def describe_holder(holder: dict[str, t.Any], now: datetime.datetime) -> str:
    """``release shop-1-2 (pid 4242 on ctl1, user deploy) since 2026-11-26T16:00:00Z (2m 5s ago)``."""
    pid = 'pid %s on %s' % (holder.get('pid'), holder.get('host')) if holder.get('pid') else 'on %s' % holder.get('host')
    return 'release %s (%s, user %s) since %s (%s ago)' % (
        holder.get('release_id'), pid, holder.get('user'), holder.get('since'), human_seconds(age(holder, now)))


def busy_message(app: str, holder: dict[str, t.Any], now: datetime.datetime, waited: float, path: str) -> str:
    return ('application %s is locked by %s; waited %s. Another upgrade of %s is running: wait for it to end '
            '(raise timeout to wait longer), or, if it is gone without releasing the lock, release it with '
            'state=released force=true (or remove %s)' % (app, describe_holder(holder, now), human_seconds(waited), app, path))
