# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of alembic_migrate: the revision graph, target resolution (head, heads, base, ids,
relative steps), the ordered plan between two states, session settings, lock keys, messages and
diff. No I/O here: the revision graph comes from the helper run by the application's Python."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import typing as t
from urllib.parse import quote, unquote, urlencode, urlsplit

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_runner as runner
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

RELATIVE_RE = re.compile(r'^([+-])(\d+)$')
# PostgreSQL time units; no spaces, as the value travels in PGOPTIONS (space separated).
DURATION_RE = re.compile(r'^\d+(us|ms|s|min|h|d)?$')
URL_SCHEME_RE = re.compile(r'^postgresql(\+\w+)?://', re.IGNORECASE)
ERROR_NOISE_RE = re.compile(r'^\(Background on this error at: .*\)$')
# libpq parameters of the URL made from the options (login_unix_socket goes in host, as libpq allows).
URL_QUERY = (('host', 'login_unix_socket'), ('sslmode', 'ssl_mode'), ('sslrootcert', 'ssl_rootcert'))
# What sets each part of the connection, as connection hints name it, when the url option is used
# (with the PostgreSQL options, _postgres_options.CONNECTION_OPTIONS names them).
URL_PARTS = {'host': 'the host in url', 'port': 'the port in url', 'user': 'the user name in url',
             'password': 'the password in url', 'db': 'the database name in url'}


@dataclasses.dataclass(frozen=True)
class Revision:
    id: str
    down: tuple[str, ...]
    message: str
    depends_on: tuple[str, ...] = ()


class History:
    """The revision graph of one script directory."""

    def __init__(self, revisions: t.Iterable[Revision]) -> None:
        self.by_id = {revision.id: revision for revision in revisions}
        self.children: dict[str, list[str]] = {rid: [] for rid in self.by_id}
        for revision in self.by_id.values():
            for parent in revision.down:
                if parent in self.children:
                    self.children[parent].append(revision.id)

    @classmethod
    def from_helper(cls, rows: list[dict[str, t.Any]]) -> 'History':
        return cls(Revision(row['id'], tuple(row.get('down') or ()), row.get('message') or '',
                            tuple(row.get('depends_on') or ())) for row in rows)

    def heads(self) -> list[str]:
        return sorted(rid for rid, kids in self.children.items() if not kids)

    def roots(self) -> list[str]:
        return sorted(rid for rid, revision in self.by_id.items() if not revision.down)

    def message(self, rid: str) -> str:
        return self.by_id[rid].message

    def lookup(self, name: str) -> str:
        """A revision id from an id or a unique prefix of one, as alembic accepts them."""
        if name in self.by_id:
            return name
        matches = sorted(rid for rid in self.by_id if rid.startswith(name))
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ModuleFailure('revision "%s" is ambiguous: it starts %s' % (name, ', '.join(matches)))
        raise ModuleFailure('unknown revision "%s": the script directory has %s' % (name, describe_ids(sorted(self.by_id))))

    def parents(self) -> dict[str, tuple[str, ...]]:
        return {rid: tuple(p for p in rev.down + rev.depends_on if p in self.by_id) for rid, rev in self.by_id.items()}

    def ancestors(self, ids: t.Iterable[str]) -> set[str]:
        """The revisions that must be applied for ``ids`` to be (ids included)."""
        return runner.graph_ancestors(self.parents(), ids)

    def ordered(self) -> list[str]:
        """Every revision, parents (and dependencies) first; ties broken by id so plans are stable."""
        return runner.graph_order(self.parents())


def describe_ids(ids: t.Sequence[str], limit: int = 12) -> str:
    if not ids:
        return 'no revisions'
    shown = ', '.join(ids[:limit])
    return shown + (' and %d more' % (len(ids) - limit) if len(ids) > limit else '')


def revisions_text(ids: t.Sequence[str]) -> str:
    """``0002`` / ``a1, b2`` / ``base`` (nothing applied)."""
    return ', '.join(ids) if ids else 'base'


def unknown_current(history: History, current: t.Sequence[str]) -> list[str]:
    return [rid for rid in current if rid not in history.by_id]


def resolve_target(history: History, current: t.Sequence[str], spec: str) -> list[str]:
    """The revisions the database should be at (``[]`` is base) for a ``revision`` option value."""
    spec = spec.strip()
    if spec == 'base':
        return []
    if spec == 'heads':
        return history.heads()
    if spec == 'head':
        heads = history.heads()
        if len(heads) > 1:
            raise ModuleFailure('the script directory has %d heads (%s): say which one with revision: <id>, or '
                                'revision: heads to upgrade them all; or merge them (alembic merge)'
                                % (len(heads), ', '.join(heads)), heads=heads)
        return heads
    relative = RELATIVE_RE.match(spec)
    if relative:
        steps = int(relative.group(2))
        return step_forward(history, current, steps) if relative.group(1) == '+' else step_back(history, current, steps)
    return [history.lookup(spec)]


def step_forward(history: History, current: t.Sequence[str], steps: int) -> list[str]:
    if len(current) > 1:
        raise ModuleFailure('relative revision +%d is ambiguous: the database is at %d heads (%s); give a revision id'
                            % (steps, len(current), ', '.join(current)))
    position = current[0] if current else None
    for taken in range(steps):
        following = history.children[position] if position else history.roots()
        if not following:
            raise ModuleFailure('cannot go %d revisions up from %s: only %d revisions follow it'
                                % (steps, revisions_text(list(current)), taken))
        if len(following) > 1:
            raise ModuleFailure('relative revision +%d is ambiguous: %s is followed by %s; give a revision id'
                                % (steps, position or 'base', ', '.join(sorted(following))))
        position = following[0]
    return [position] if position else []


def step_back(history: History, current: t.Sequence[str], steps: int) -> list[str]:
    if len(current) > 1:
        raise ModuleFailure('relative revision -%d is ambiguous: the database is at %d heads (%s); give a revision id'
                            % (steps, len(current), ', '.join(current)))
    position = current[0] if current else None
    for taken in range(steps):
        if position is None:
            raise ModuleFailure('cannot go %d revisions down from %s: only %d are applied'
                                % (steps, revisions_text(list(current)), taken))
        below = history.by_id[position].down
        if len(below) > 1:
            raise ModuleFailure('relative revision -%d is ambiguous: %s merges %s; give a revision id'
                                % (steps, position, ', '.join(below)))
        position = below[0] if below else None
    return [position] if position else []


def plan_steps(history: History, current: t.Sequence[str], target: t.Sequence[str]) -> list[dict[str, t.Any]]:
    """The ordered revisions to apply (parents first) or to revert (children first) to go from current to target."""
    have, want = history.ancestors(current), history.ancestors(target)
    ups, downs = want - have, have - want
    if ups and downs:
        raise ModuleFailure('going from %s to %s needs revisions reverted (%s) and applied (%s): they are on different '
                            'branches; downgrade and upgrade in two tasks'
                            % (revisions_text(list(current)), revisions_text(list(target)),
                               ', '.join(sorted(downs)), ', '.join(sorted(ups))))
    order = history.ordered()
    if ups:
        return [step(history, rid, 'upgrade') for rid in order if rid in ups]
    return [step(history, rid, 'downgrade') for rid in reversed(order) if rid in downs]


def step(history: History, rid: str, direction: str) -> dict[str, t.Any]:
    revision = history.by_id[rid]
    return {'revision': rid, 'direction': direction, 'message': revision.message, 'down_revisions': list(revision.down)}


def helper_steps(plan: t.Sequence[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The steps as the helper runs them."""
    return [{'revision': entry['revision'], 'upgrade': entry['direction'] == 'upgrade'} for entry in plan]


def check_duration(name: str, value: str) -> str:
    if not DURATION_RE.match(value):
        raise ModuleFailure('%s must be a PostgreSQL duration without spaces such as 500ms, 5s, 2min or 0 (no limit), '
                            'got "%s"' % (name, value))
    return value


def session_options(lock_timeout: str, statement_timeout: str) -> str:
    """PGOPTIONS for every libpq session of the run, env.py's included, whatever engine it builds."""
    return '-c lock_timeout=%s -c statement_timeout=%s' % (check_duration('lock_timeout', lock_timeout),
                                                           check_duration('statement_timeout', statement_timeout))


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a lock name (the same name, the same lock, everywhere)."""
    return int.from_bytes(hashlib.sha256(name.encode('utf-8')).digest()[:8], 'big', signed=True)


def url_problem(url: str) -> str | None:
    if not URL_SCHEME_RE.match(url):
        scheme = url.split('://', 1)[0] if '://' in url else url[:12]
        return ('url must be a PostgreSQL SQLAlchemy URL (postgresql://user:password@host:port/db, optionally '
                'postgresql+psycopg:// or +psycopg2://), not "%s://...": the advisory lock and transactional DDL '
                'need PostgreSQL' % scheme)
    return None


def url_password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def describe_url(url: str) -> str:
    """``database "app" on 127.0.0.1:5432 as "app"``: where we connect, never the password."""
    try:
        parts = urlsplit(url)
        where = parts.hostname or 'the default socket'
        if parts.port:
            where += ':%d' % parts.port
    except ValueError:
        return 'the database of url'
    user = ' as "%s"' % unquote(parts.username) if parts.username else ''
    return 'database "%s" on %s%s' % (unquote(parts.path.lstrip('/')) or '(default)', where, user)


def url_from_options(params: dict[str, t.Any]) -> str:
    """The SQLAlchemy URL of the PostgreSQL connection options (login_host, port, login_user, ...).

    Every place alembic runs (here, a container, a pod, a Job) gets its connection this one way; the URL
    carries the password, so it travels like the url option does: in the helper's environment (a Secret
    for a Job), never in an argument list.
    """
    auth = quote(params.get('login_user') or '', safe='')
    if params.get('login_password'):
        auth += ':' + quote(params['login_password'], safe='')
    host = params.get('login_host') or ''
    if ':' in host:
        host = '[%s]' % host  # an IPv6 address
    port = ':%d' % params['port'] if params.get('port') else ''
    query = [(key, params[name]) for key, name in URL_QUERY if params.get(name)]
    dbname = quote(params.get('db') or '', safe='')
    return 'postgresql://%s%s%s/%s%s' % (auth + '@' if auth else '', host, port, dbname, '?' + urlencode(query) if query else '')


def connect_failure(url: str, error: str, from_url: bool = True) -> str:
    """Where the connection went, why it failed and, for the usual failures, what to check: the part of the url
    option (``from_url``), or the PostgreSQL option (login_password, ...) that made the URL."""
    # Imported here: _postgres imports psycopg (0.1 s or more), which a run that connects fine never needs here.
    from ansible_collections.artisan.upgrade.plugins.module_utils import _postgres  # pylint: disable=import-outside-toplevel
    reason = _postgres.describe_connection_error(error, URL_PARTS if from_url else _postgres.CONNECTION_OPTIONS)
    first = error.strip().splitlines()[0] if error.strip() else ''
    return 'cannot connect to %s: %s' % (describe_url(url), '%s (%s)' % (reason, first) if reason else error)


def error_summary(text: str, limit: int = 6) -> str:
    """The useful lines of a SQLAlchemy/alembic error: the error and its SQL, without the docs link."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip() and not ERROR_NOISE_RE.match(line.strip())]
    return '\n'.join(lines[:limit])


def plan_text(plan: t.Sequence[dict[str, t.Any]]) -> str:
    return ', '.join('%s %s' % (entry['direction'], entry['revision']) for entry in plan)


def state_text(history: History, ids: t.Sequence[str]) -> str:
    """One line per revision with its message, for diffs."""
    if not ids:
        return 'base (no revision applied)\n'
    return ''.join('%s %s\n' % (rid, history.message(rid) if rid in history.by_id else '(unknown)') for rid in ids)


def build_diff(history: History, before: t.Sequence[str], after: t.Sequence[str],
               sql: t.Sequence[str] | None = None) -> dict[str, t.Any]:
    diff: dict[str, t.Any] = {'before': state_text(history, before), 'after': state_text(history, after),
                              'before_header': 'alembic revision', 'after_header': 'alembic revision'}
    if sql:
        diff['prepared'] = '\n'.join(sql)
    return diff
