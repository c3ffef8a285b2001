# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""release_record's states: read the record under its lock, decide with _release_record, write it back."""

from __future__ import annotations

import datetime
import getpass
import os
import socket
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _record_store as store
from ansible_collections.artisan.upgrade.plugins.module_utils import _release_record as decide
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def record_path(folder: str, release_id: str) -> str:
    return os.path.join(folder, decide.check_release_id(release_id) + '.json')


def perform(params: dict[str, t.Any], check_mode: bool, run: Run,
            now: t.Callable[[], datetime.datetime] = utcnow) -> dict[str, t.Any]:
    action = {'started': start, 'phase': add_phase, 'finished': finish, 'query': query}[params['state']]
    return action(params, check_mode, run, now)


def load(path: str, release_id: str) -> dict[str, t.Any]:
    record = store.read_json(path)
    if record is None:
        raise ModuleFailure('there is no release record %s in %s: record state=started first (with this '
                            'release_id), or check dir' % (release_id, os.path.dirname(path)), release_id=release_id)
    if not isinstance(record, dict) or record.get('schema') != decide.SCHEMA:
        raise ModuleFailure('%s is not a release record of schema %s' % (path, decide.SCHEMA), release_id=release_id)
    return record


def start(params: dict[str, t.Any], check_mode: bool, run: Run, now: t.Callable[[], datetime.datetime]) -> dict[str, t.Any]:
    moment = now()
    release_id = params['release_id'] or decide.default_release_id(params['app'], params['version_from'], params['version'], moment)
    path = record_path(params['dir'], release_id)
    dry_run = check_mode if params['dry_run'] is None else params['dry_run']
    fresh = decide.new_record(
        release_id=release_id, app=params['app'], environment=params['environment'], version_to=params['version'],
        version_from=params['version_from'], started_at=decide.iso(moment), user=getpass.getuser(),
        host=socket.gethostname(), dry_run=dry_run, metadata=params['metadata'], secrets=run.secrets)
    if check_mode:
        existing = store.read_json(path)
        return answer(run, path, existing or fresh, existing is None, existing, 'release record %s %s' % (
            release_id, 'exists' if existing else 'would be started'))
    store.ensure_dir(params['dir'])
    with store.locked(path):
        existing = store.read_json(path)
        if existing is None:
            store.write_json(path, fresh)
    if existing is not None:
        return answer(run, path, existing, False, existing, 'release record %s exists' % release_id)
    return answer(run, path, fresh, True, None, 'started release record %s' % release_id)


def add_phase(params: dict[str, t.Any], check_mode: bool, run: Run, now: t.Callable[[], datetime.datetime]) -> dict[str, t.Any]:
    release_id = params['release_id']
    path = record_path(params['dir'], release_id)
    phase = decide.make_phase(
        name=params['phase'], host=params['host'], result=params['result'], results=params['results'],
        keep=decide.DEFAULT_KEEP if params['keep'] is None else params['keep'], recorded_at=decide.iso(now()),
        details=params['details'], secrets=run.secrets)
    what = 'phase %s of %s' % (params['phase'], params['host'])
    if check_mode and store.read_json(path) is None:
        # A dry run whose state=started ran in check mode too wrote no record: say what would be recorded.
        return run.envelope(True, 'would record %s (%s) in release record %s, not started yet' % (what, phase['result'], release_id),
                            release_id=release_id, path=path, record=None, phase=phase, diff={'before': {}, 'after': phase})
    if check_mode:
        _record, old, changed = decide.add_phase(load(path, release_id), phase)
        return phase_answer(run, path, _record, phase, old, changed,
                            'would record %s (%s)' % (what, phase['result']) if changed else '%s is recorded' % what)
    with store.locked(path):
        record, old, changed = decide.add_phase(load(path, release_id), phase)
        if changed:
            store.write_json(path, record)
    verb = 'replaced' if old else 'recorded'
    return phase_answer(run, path, record, phase, old, changed,
                        '%s %s (%s) in %s' % (verb, what, phase['result'], release_id) if changed else '%s is recorded' % what)


def finish(params: dict[str, t.Any], check_mode: bool, run: Run, now: t.Callable[[], datetime.datetime]) -> dict[str, t.Any]:
    release_id = params['release_id']
    path = record_path(params['dir'], release_id)

    def closed(before: dict[str, t.Any]) -> tuple[dict[str, t.Any], bool]:
        record, added = decide.with_phases(before, params.get('phases') or [], run.secrets)
        after, finished = decide.finish(record, params['status'], decide.iso(now()), params['rollback'], run.secrets)
        return after, added or finished

    if check_mode:
        before = load(path, release_id)
        after, changed = closed(before)
    else:
        with store.locked(path):
            before = load(path, release_id)
            after, changed = closed(before)
            if changed:
                store.write_json(path, after)
    if not changed:
        msg = 'release record %s is %s' % (release_id, params['status'])
    else:
        msg = '%s release record %s as %s' % ('would close' if check_mode else 'closed', release_id, params['status'])
    return answer(run, path, after, changed, before, msg)


def query(params: dict[str, t.Any], check_mode: bool, run: Run, now: t.Callable[[], datetime.datetime]) -> dict[str, t.Any]:
    if params['release_id']:
        path = record_path(params['dir'], params['release_id'])
        record = store.read_json(path)
        found = [record] if isinstance(record, dict) else []
        wanted = 'release record %s' % params['release_id']
    else:
        found = [store.read_json(p) for p in store.json_files(params['dir'])]
        wanted = decide.describe_query(params['app'], params['environment'], params['version'], params['query_status'],
                                       params['last_green'])
    matches = decide.select(found, app=params['app'], environment=params['environment'], version=params['version'],
                            statuses=params['query_status'], green=params['last_green'])
    record = matches[0] if matches else None
    if record is None:
        return run.envelope(False, 'no %s in %s' % (wanted, params['dir']), record=None, found=False)
    path = record_path(params['dir'], record['release_id'])
    return run.envelope(False, 'found %s: %s (%s)' % (wanted, record['release_id'], record['status']), record=record,
                        found=True, release_id=record['release_id'], path=path)


def answer(run: Run, path: str, record: dict[str, t.Any], changed: bool, before: dict[str, t.Any] | None, msg: str) -> dict[str, t.Any]:
    return run.envelope(changed, msg, release_id=record['release_id'], path=path, record=record,
                        diff={'before': before or {}, 'after': record})


def phase_answer(run: Run, path: str, record: dict[str, t.Any], phase: dict[str, t.Any], old: dict[str, t.Any] | None,
                 changed: bool, msg: str) -> dict[str, t.Any]:
    return run.envelope(changed, msg, release_id=record['release_id'], path=path, record=record, phase=phase,
                        diff={'before': old or {}, 'after': phase})
