# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release record: one JSON document per upgrade run, its phases, its end, and how to find one.

Pure functions only: records in, records out. The schema is documented in docs/release-record.md.
"""

from __future__ import annotations

import datetime
import re
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils._run import MASK, ModuleFailure, mask

SCHEMA = 'artisan.upgrade/release_record/v1'
RELEASE_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$')
PHASE_RESULTS = ('ok', 'changed', 'skipped', 'failed')
FINAL_STATUSES = ('succeeded', 'failed', 'rolled_back')
ENVELOPE = ('changed', 'msg', 'commands', 'duration')
# What a phase keeps of each module result besides the envelope, when the task does not say: the facts a
# rollback or an audit needs (backup path and checksum, revisions, smoke totals, rollout revision, weights).
DEFAULT_KEEP = (
    'failed', 'skipped', 'path', 'manifest.sha256', 'manifest.size', 'manifest.label', 'manifest.alembic_revision',
    'from_revisions', 'to_revisions', 'direction', 'applied', 'failed_revision', 'totals', 'rounds', 'revision',
    'images', 'reason', 'undo', 'weight', 'achieved_weight', 'before_weight',
)
# Key names whose values are never stored, whatever the task asks to keep.
SECRET_KEY = re.compile(r'pass(word|wd|phrase)?$|secret|token|api[_-]?key|private[_-]?key|credential|authori[sz]ation'
                        r'|cookie|captured', re.IGNORECASE)
URL_PASSWORD = re.compile(r'(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)(?=@)', re.IGNORECASE)


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def default_release_id(app: str, version_from: str | None, version_to: str, now: datetime.datetime) -> str:
    """``<app>-<from>-<to>-<UTC timestamp>``, e.g. ``shop-1.0.0-2.0.0-20261126T160102Z`` (``none`` for a first install)."""
    stamp = now.astimezone(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    return check_release_id('%s-%s-%s-%s' % (app, version_from or 'none', version_to, stamp))


def check_release_id(release_id: str) -> str:
    """The id, or ModuleFailure: it names a file, so letters, digits and ``. _ + -`` only."""
    if not RELEASE_ID.match(release_id or '') or '..' in release_id:
        raise ModuleFailure('release id %r is not usable as a file name: use letters, digits and . _ + - '
                            '(at most 200, starting with a letter or digit)' % release_id)
    return release_id


def new_record(*, release_id: str, app: str, environment: str, version_to: str, version_from: str | None,
               started_at: str, user: str, host: str, dry_run: bool, metadata: dict[str, t.Any] | None,
               secrets: t.Sequence[str] = ()) -> dict[str, t.Any]:
    return {
        'schema': SCHEMA,
        'release_id': release_id,
        'app': app,
        'environment': environment,
        'version_from': version_from,
        'version_to': version_to,
        'status': 'running',
        'started_at': started_at,
        'finished_at': None,
        'controller': {'user': user, 'host': host},
        'check_mode': dry_run,
        'metadata': scrub(metadata or {}, secrets),
        'phases': [],
        'rollback': None,
    }


# --- secrets -------------------------------------------------------------------------------------

def looks_secret(key: str) -> bool:
    return bool(SECRET_KEY.search(str(key)))


def scrub(value: t.Any, secrets: t.Sequence[str] = ()) -> t.Any:
    """``value`` without secret-looking keys, with URL passwords and the given ``secrets`` masked in strings."""
    if isinstance(value, dict):
        return {str(k): scrub(v, secrets) for k, v in value.items() if not looks_secret(k)}
    if isinstance(value, (list, tuple)):
        return [scrub(item, secrets) for item in value]
    if isinstance(value, str):
        return mask(URL_PASSWORD.sub(lambda m: m.group('head') + MASK, value), secrets)
    return value


# --- phases --------------------------------------------------------------------------------------

def pick(result: dict[str, t.Any], path: str) -> tuple[bool, t.Any]:
    """(found, value) of a dotted ``path`` such as ``manifest.sha256`` in a module result."""
    value: t.Any = result
    for part in path.split('.'):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def put(target: dict[str, t.Any], path: str, value: t.Any) -> None:
    parts = path.split('.')
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def summarize(result: dict[str, t.Any], keep: t.Sequence[str], secrets: t.Sequence[str] = ()) -> dict[str, t.Any]:
    """What a phase stores of one module result: the envelope and the ``keep`` keys, scrubbed of secrets."""
    if not isinstance(result, dict):
        raise ModuleFailure('a phase result must be a registered module result (a dict), got %s' % type(result).__name__)
    summary: dict[str, t.Any] = {}
    for path in tuple(ENVELOPE) + tuple(keep):
        if any(looks_secret(part) for part in path.split('.')):
            continue
        found, value = pick(result, path)
        if found:
            put(summary, path, value)
    return scrub(summary, secrets)


def phase_result(results: t.Sequence[dict[str, t.Any]]) -> str:
    """The result a phase's module results add up to: failed, else changed, else skipped (all), else ok."""
    if any(r.get('failed') for r in results):
        return 'failed'
    if any(r.get('changed') for r in results):
        return 'changed'
    if results and all(r.get('skipped') for r in results):
        return 'skipped'
    return 'ok'


def make_phase(*, name: str, host: str, result: str | None, results: t.Sequence[dict[str, t.Any]], keep: t.Sequence[str],
               recorded_at: str, details: dict[str, t.Any] | None = None, secrets: t.Sequence[str] = ()) -> dict[str, t.Any]:
    modules = [summarize(r, keep, secrets) for r in results]
    return {
        'name': name,
        'host': host,
        'result': result or phase_result(results),
        'duration': round(sum(float(m.get('duration') or 0) for m in modules), 3),
        'recorded_at': recorded_at,
        'modules': modules,
        'details': scrub(details or {}, secrets),
    }


def same_phase(a: dict[str, t.Any], b: dict[str, t.Any]) -> bool:
    """Equal but for when they were recorded: re-recording such a phase changes nothing."""
    return dict(a, recorded_at=None) == dict(b, recorded_at=None)


def add_phase(record: dict[str, t.Any], phase: dict[str, t.Any]) -> tuple[dict[str, t.Any], dict[str, t.Any] | None, bool]:
    """(record with the phase, the phase it replaces or None, changed): one phase per name and host."""
    phases = list(record.get('phases') or [])
    for index, old in enumerate(phases):
        if old['name'] == phase['name'] and old['host'] == phase['host']:
            if same_phase(old, phase):
                return record, old, False
            phases[index] = phase
            return dict(record, phases=phases), old, True
    return dict(record, phases=phases + [phase]), None, True


def with_phases(record: dict[str, t.Any], phases: t.Sequence[t.Any], secrets: t.Sequence[str] = ()) -> tuple[dict[str, t.Any], bool]:
    """(record, changed) with phases recorded elsewhere added: a host's copy gets its phases from the controller's
    record when the run ends, in the same write as its end, instead of one write per phase."""
    changed = False
    for phase in phases:
        if not isinstance(phase, dict) or not phase.get('name') or not phase.get('host'):
            raise ModuleFailure('phases are phases as a release record stores them (dicts with at least name and '
                                'host), got %r' % (phase,))
        record, _old, added = add_phase(record, scrub(phase, secrets))
        changed = changed or added
    return record, changed


def finish(record: dict[str, t.Any], status: str, finished_at: str, rollback: dict[str, t.Any] | None,
           secrets: t.Sequence[str] = ()) -> tuple[dict[str, t.Any], bool]:
    """(finished record, changed); finishing again with the same status and rollback changes nothing."""
    rollback = scrub(rollback, secrets) if rollback else None
    if record.get('status') == status and record.get('rollback') == rollback and record.get('finished_at'):
        return record, False
    return dict(record, status=status, finished_at=finished_at, rollback=rollback), True


# --- queries -------------------------------------------------------------------------------------

def is_green(record: dict[str, t.Any]) -> bool:
    """A real run that succeeded (a check-mode run proves nothing about the version)."""
    return record.get('status') == 'succeeded' and not record.get('check_mode')


def select(records: t.Iterable[dict[str, t.Any]], *, app: str | None = None, environment: str | None = None,
           version: str | None = None, statuses: t.Sequence[str] = (), green: bool = False) -> list[dict[str, t.Any]]:
    """The records that match every filter given, newest first (by start time, then id)."""
    def matches(record: dict[str, t.Any]) -> bool:
        return ((app is None or record.get('app') == app)
                and (environment is None or record.get('environment') == environment)
                and (version is None or record.get('version_to') == version)
                and (not statuses or record.get('status') in statuses)
                and (not green or is_green(record)))
    chosen = [r for r in records if isinstance(r, dict) and r.get('schema') == SCHEMA and matches(r)]
    return sorted(chosen, key=lambda r: (r.get('started_at') or '', r.get('release_id') or ''), reverse=True)


def describe_query(app: str | None, environment: str | None, version: str | None, statuses: t.Sequence[str], green: bool) -> str:
    parts = ['green' if green else ''] + ([] if green else ['/'.join(statuses)]) + ['release record']
    where = ['of %s' % app if app else '', version or '', 'in %s' % environment if environment else '']
    return ' '.join(p for p in parts + where if p)
