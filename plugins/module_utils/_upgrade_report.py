# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade report: what the upgrade_report callback keeps of each task, and the report it makes of them
and of the release record (JSON, one self-contained HTML page, the summary table).

Pure functions only: observations and a record in, a report, HTML or lines out. docs/report.md describes it.
"""

from __future__ import annotations

import datetime
import os
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils._release_record import SCHEMA as RECORD_SCHEMA, scrub

SCHEMA = 'artisan.upgrade/upgrade_report/v1'
PHASES = ('preflight', 'backup', 'migrate_expand', 'compat_gate', 'deploy', 'smoke', 'migrate_contract', 'rollback',
          'rollback_smoke')
# How bad a phase result is, to show a phase of many hosts by its worst.
SEVERITY = {'failed': 3, 'changed': 2, 'ok': 1, 'skipped': 0}
CHECK_KEYS = ('name', 'type', 'ok', 'required', 'status', 'latency_ms', 'ratio', 'message')


def _short(action: str) -> str:
    """The module name of an action of this collection or ansible.builtin (``artisan.upgrade.smoke_test`` -> ``smoke_test``)."""
    for prefix in ('artisan.upgrade.', 'ansible.builtin.', 'ansible.legacy.'):
        if action.startswith(prefix):
            return action[len(prefix):]
    return action


# --- what the callback keeps of a task result ------------------------------------------------------

def observe(action: str, result: t.Any, no_log: bool = False, failed: bool = False) -> list[dict[str, t.Any]]:
    """What the report keeps of one task result: the facts of the modules it knows, scrubbed of secrets; nothing of
    a no_log task (or loop item), nor of any other module (their timing is kept by the caller). ``failed``: the task
    failed (callbacks learn it from the event, the result may not say)."""
    if no_log or not isinstance(result, dict) or result.get('_ansible_no_log'):
        return []
    if isinstance(result.get('results'), list):
        return [obs for item in result['results'] for obs in observe(action, item)]
    failed = failed or bool(result.get('failed'))
    name = _short(action)
    if name == 'release_record':
        return [_observe_record(result)]
    if name == 'canary_shift' and 'weight' in result:
        return [scrub({
            'kind': 'canary', 'weight': result.get('weight'), 'achieved_weight': result.get('achieved_weight'),
            'before_weight': result.get('before_weight'), 'provider': result.get('provider'),
            'changed': bool(result.get('changed')), 'failed': failed, 'msg': result.get('msg', ''),
        })]
    if name == 'smoke_test' and 'totals' in result:
        checks = [{key: check.get(key) for key in CHECK_KEYS if key in check}
                  for check in result.get('checks') or [] if isinstance(check, dict)]
        return [scrub({
            'kind': 'smoke', 'ok': not failed, 'totals': result.get('totals'), 'rounds': result.get('rounds'),
            'msg': result.get('msg', ''), 'checks': checks,
        })]
    if name == 'set_fact' and isinstance((result.get('ansible_facts') or {}).get('upgrade_run'), dict):
        run = result['ansible_facts']['upgrade_run']
        if run.get('release_id') and run.get('records_dir'):
            return [{'kind': 'run', 'release_id': str(run['release_id']), 'records_dir': str(run['records_dir'])}]
    return []


def _observe_record(result: dict[str, t.Any]) -> dict[str, t.Any]:
    seen: dict[str, t.Any] = {'kind': 'record', 'path': result.get('path'), 'release_id': result.get('release_id')}
    phase = result.get('phase')
    if isinstance(phase, dict) and phase.get('name'):
        seen['phase'] = {'name': phase['name'], 'host': phase.get('host'), 'result': phase.get('result')}
    record = result.get('record')
    if isinstance(record, dict) and record.get('schema') == RECORD_SCHEMA:
        # release_record stores nothing secret; scrubbed again in case a record was edited by hand.
        seen['record'] = scrub(record)
    return seen


def controller_record(observation: dict[str, t.Any], records_dir: str | None, host: str, delegated_to: str | None) -> bool:
    """Whether a release_record observation is the run's record on the controller, not a host's own copy: in the run's
    records folder when known (upgrade.yml names it), else a task delegated to (or run on) localhost."""
    path = observation.get('path')
    if records_dir and path:
        return os.path.dirname(os.path.normpath(path)) == os.path.normpath(os.path.expanduser(records_dir))
    return (delegated_to or host) in ('localhost', '127.0.0.1')


def output_dir(option: str | None, environ: t.Mapping[str, str], record_path: str | None) -> str | None:
    """Where the report goes: the callback's ``dir`` option, else ansible-runner's artifacts folder (it sets
    AWX_ISOLATED_DATA_DIR for its own callback), else beside the release record."""
    for choice in (option, environ.get('AWX_ISOLATED_DATA_DIR'), os.path.dirname(record_path) if record_path else None):
        if choice:
            return os.path.abspath(os.path.expanduser(choice))
    return None


# --- the report ----------------------------------------------------------------------------------

def _parse_time(text: t.Any) -> float | None:
    try:
        return datetime.datetime.strptime(str(text), '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'


def _marks(tasks: t.Sequence[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The controller's phase records the callback saw, in the order they ended."""
    found = []
    for task in tasks:
        for obs in task.get('observed') or []:
            if obs.get('kind') == 'record' and obs.get('phase') and obs.get('controller'):
                found.append(dict(obs['phase'], runner=task['host'], play=task['play'], end=task['end']))
    return sorted(found, key=lambda mark: mark['end'])


def observed_spans(tasks: t.Sequence[dict[str, t.Any]]) -> dict[tuple[str, str], tuple[float, float]]:
    """{(phase, host): (start, end)} from the task timings: a phase ends when its record task ends for the host that
    ran it, and starts when that host began the play (its batch, with serial) or when the play's previous record task
    ended (the phases of one play follow each other), whichever is later."""
    first: dict[tuple[str, int], float] = {}
    for task in tasks:
        key = (task['host'], task['play'])
        first[key] = min(first.get(key, task['start']), task['start'])
    # Consecutive records of one phase in one play are one occurrence (all hosts' records of the phase). By name, not
    # by task: an included task file (upgrade.yml's tasks/record.yml) may give each host its own copy of the task.
    occurrences: list[dict[str, t.Any]] = []
    for mark in _marks(tasks):
        last = occurrences[-1] if occurrences else None
        if last and last['name'] == mark['name'] and last['play'] == mark['play']:
            last['marks'].append(mark)
            last['end'] = mark['end']
        else:
            occurrences.append({'name': mark['name'], 'play': mark['play'], 'end': mark['end'], 'marks': [mark]})
    spans: dict[tuple[str, str], tuple[float, float]] = {}
    for index, occurrence in enumerate(occurrences):
        before = [o['end'] for o in occurrences[:index] if o['play'] == occurrence['play']]
        for mark in occurrence['marks']:
            start = max([first.get((mark['runner'], mark['play']), mark['end'])] + before[-1:])
            key = (mark['name'], mark['host'])
            if key in spans:
                start = min(start, spans[key][0])
            spans[key] = (min(start, mark['end']), mark['end'])
    return spans


def _phase_rows(record: dict[str, t.Any], spans: dict[tuple[str, str], tuple[float, float]]) -> list[dict[str, t.Any]]:
    rows = []
    for phase in record.get('phases') or []:
        key = (phase.get('name'), phase.get('host'))
        if key in spans:
            (start, end), source = spans[key], 'observed'
        else:
            end = _parse_time(phase.get('recorded_at'))
            start, source = (None if end is None else end - float(phase.get('duration') or 0)), 'record'
        modules = phase.get('modules') or []
        rows.append({
            'name': phase.get('name'), 'host': phase.get('host'), 'result': phase.get('result'), 'start': start,
            'end': end, 'seconds': None if start is None else round(end - start, 3),
            'module_seconds': phase.get('duration'), 'source': source,
            'msg': next((m.get('msg') for m in reversed(modules) if m.get('msg')), ''),
        })
    return rows


def _phase_of(moment: float, host: str, phases: t.Sequence[dict[str, t.Any]]) -> str | None:
    """The phase a task that ended at ``moment`` on ``host`` belongs to: its host's first, else any host's."""
    for same_host in (True, False):
        for phase in phases:
            if phase['start'] is not None and (not same_host or phase['host'] == host) and \
                    phase['start'] <= moment <= phase['end']:
                return phase['name']
    return None


def _error_rate(smoke: dict[str, t.Any]) -> float | None:
    """A smoke analysis as one number: its metrics checks' worst ratio, else the share of checks that failed."""
    ratios = [c['ratio'] for c in smoke.get('checks') or [] if isinstance(c.get('ratio'), (int, float))]
    if ratios:
        return max(ratios)
    totals = smoke.get('totals') or {}
    if totals.get('total'):
        return round(float(totals.get('failed') or 0) / float(totals['total']), 4)
    return None


def _details(record: dict[str, t.Any], name: str) -> list[dict[str, t.Any]]:
    return [p for p in record.get('phases') or [] if p.get('name') == name]


def _backup(record: dict[str, t.Any]) -> dict[str, t.Any] | None:
    for phase in _details(record, 'backup'):
        details = phase.get('details') or {}
        module = (phase.get('modules') or [{}])[0]
        manifest = module.get('manifest') or {}
        return {'path': details.get('path') or module.get('path'), 'sha256': details.get('sha256') or manifest.get('sha256'),
                'size': details.get('size') or manifest.get('size'), 'label': details.get('label') or manifest.get('label'),
                'reused': details.get('reused'), 'alembic_revision': details.get('alembic_revision') or manifest.get('alembic_revision')}
    return None


def _revisions(record: dict[str, t.Any]) -> dict[str, t.Any]:
    found: dict[str, t.Any] = {}
    for name in ('migrate_expand', 'migrate_contract', 'rollback'):
        for phase in _details(record, name):
            details = phase.get('details') or {}
            if 'revisions_before' in details and 'before' not in found:
                found['before'] = details['revisions_before']
            if 'revisions_after' in details:
                found['after_' + name] = details['revisions_after']
    return found


def _hosts(record: dict[str, t.Any], phases: t.Sequence[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    names = list((record.get('metadata') or {}).get('hosts') or [])
    names += [p['host'] for p in phases if p['host'] not in names]
    rolled_back_to = next((str((p.get('details') or {}).get('version_to')) for p in _details(record, 'rollback')
                           if (p.get('details') or {}).get('version_to')), None)
    hosts = []
    for name in names:
        mine = [p for p in record.get('phases') or [] if p.get('host') == name]
        before = next((((p.get('details') or {}).get('deploy_facts') or {}).get('version') for p in mine
                       if p.get('name') == 'preflight'), None)
        deployed = next(((p.get('details') or {}).get('version_after') for p in mine if p.get('name') == 'deploy'), None)
        results = [p.get('result') for p in mine]
        hosts.append({'name': name, 'version_before': before,
                      'version_after': rolled_back_to if rolled_back_to and mine else deployed,
                      'phases': len(mine), 'result': max(results, key=lambda r: SEVERITY.get(r, 0)) if results else None})
    return hosts


def build_report(record: dict[str, t.Any], tasks: t.Sequence[dict[str, t.Any]], record_path: str | None = None,
                 generated_at: float | None = None) -> dict[str, t.Any]:
    """The report of a run: the release record's facts with the phases placed in time from the task timings the
    callback saw (``tasks``: {host, play, task, action, uuid, start, end, status, observed}), the smoke analyses,
    and the canary steps each with the analyses that followed it."""
    tasks = sorted(tasks, key=lambda task: task['start'])
    phases = _phase_rows(record, observed_spans(tasks))
    starts = [task['start'] for task in tasks] + [p['start'] for p in phases if p['start'] is not None]
    started = _parse_time(record.get('started_at'))
    t0 = min(starts + ([started] if started is not None else [])) if starts or started is not None else 0.0

    def offset(moment: float | None) -> float | None:
        return None if moment is None else round(moment - t0, 3)

    for phase in phases:
        phase.update(offset=offset(phase['start']), start=_iso(phase['start']), end_offset=offset(phase['end']),
                     end=_iso(phase['end']))
    timed = [dict(p, start=p['offset'], end=p['end_offset']) for p in phases]
    smoke, canary = [], []
    for task in tasks:
        for obs in task.get('observed') or []:
            if obs['kind'] == 'smoke':
                smoke.append(dict({k: v for k, v in obs.items() if k != 'kind'}, host=task['host'], task=task['task'],
                                  offset=offset(task['end']), phase=_phase_of(task['end'] - t0, task['host'], timed),
                                  error_rate=_error_rate(obs)))
            elif obs['kind'] == 'canary':
                canary.append(dict({k: v for k, v in obs.items() if k != 'kind'}, host=task['host'], task=task['task'],
                                   offset=offset(task['end']), analysis=[]))
    for index, step in enumerate(canary):
        until = canary[index + 1]['offset'] if index + 1 < len(canary) else None
        step['analysis'] = [s for s in smoke if s['offset'] > step['offset'] and (until is None or s['offset'] <= until)
                            and s['phase'] in ('deploy', None)]
        rates = [s['error_rate'] for s in step['analysis'] if s['error_rate'] is not None]
        step['error_rate'] = max(rates) if rates else None
    failed = next((p for p in phases if p['result'] == 'failed'), None)
    durations = [task['end'] - task['start'] for task in tasks]
    ends = [task['end'] for task in tasks] + [p['end_offset'] + t0 for p in phases if p['end_offset'] is not None]
    return {
        'schema': SCHEMA,
        'release_id': record.get('release_id'),
        'app': record.get('app'),
        'environment': record.get('environment'),
        'version_from': record.get('version_from'),
        'version_to': record.get('version_to'),
        'status': record.get('status'),
        'check_mode': bool(record.get('check_mode')),
        'started_at': record.get('started_at'),
        'finished_at': record.get('finished_at'),
        'seconds': round(max(ends) - t0, 3) if ends else None,
        'metadata': record.get('metadata') or {},
        'record_path': record_path,
        'generated_at': _iso(generated_at),
        'hosts': _hosts(record, phases),
        'phases': phases,
        'failure': failed and {'phase': failed['name'], 'host': failed['host'], 'msg': failed['msg']},
        'backup': _backup(record),
        'revisions': _revisions(record),
        'rollback': record.get('rollback'),
        'smoke': smoke,
        'canary': canary,
        'tasks': {
            'count': len(tasks),
            'seconds': round(sum(durations), 3),
            'timings': [{'host': task['host'], 'play': task['play'], 'task': task['task'], 'action': task.get('action'),
                         'status': task['status'], 'offset': offset(task['start']),
                         'seconds': round(task['end'] - task['start'], 3)} for task in tasks],
        },
    }


# --- the summary table ---------------------------------------------------------------------------

def summary_lines(report: dict[str, t.Any]) -> list[str]:
    """A few lines for the end of the play: one per phase (however many hosts), worst result, wall seconds."""
    head = '%s %s -> %s (%s): %s%s' % (report.get('app'), report.get('version_from') or 'none', report.get('version_to'),
                                       report.get('environment'), report.get('status'),
                                       ' (dry run)' if report.get('check_mode') else '')
    if report.get('seconds') is not None:
        head += ' in %.1f s' % report['seconds']
    lines = [head, '%-18s %6s %-8s %9s' % ('phase', 'hosts', 'result', 'seconds')]
    for name, group in _by_phase(report['phases']):
        worst = max((p['result'] for p in group), key=lambda r: SEVERITY.get(r, 0))
        offsets = [(p['offset'], p['end_offset']) for p in group if p['offset'] is not None]
        wall = '%9.1f' % (max(e for _s, e in offsets) - min(s for s, _e in offsets)) if offsets else '%9s' % '-'
        lines.append('%-18s %6d %-8s %s' % (name, len(group), worst, wall))
    if report.get('failure'):
        failure = report['failure']
        lines.append('failed: %s on %s: %s' % (failure['phase'], failure['host'], _one_line(failure['msg'], 160)))
    if report.get('rollback'):
        lines.append('rollback: %s' % _one_line(', '.join('%s %s' % kv for kv in sorted(report['rollback'].items())), 160))
    return lines


def _by_phase(phases: t.Sequence[dict[str, t.Any]]) -> list[tuple[str, list[dict[str, t.Any]]]]:
    order: list[str] = []
    for phase in phases:
        if phase['name'] not in order:
            order.append(phase['name'])
    return [(name, [p for p in phases if p['name'] == name]) for name in order]


def _one_line(text: t.Any, limit: int) -> str:
    flat = ' '.join(str(text or '').split())
    return flat if len(flat) <= limit else flat[:limit - 3] + '...'
