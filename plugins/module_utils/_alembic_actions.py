# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""alembic_migrate's run: read the state, plan, check safety, apply under the lock, report.

The decisions come from _alembic and _migration_safety; alembic itself runs in the application's
Python through the helper program _alembic_runner, sent over an _exec transport; squawk, when used,
runs on the module's host. Locally, in a container and in a pod, one helper process answers every
request of the run (the application loads once); a Kubernetes Job runs one helper per request.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import os
import shlex
import sys
import threading
import time
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_runner as runner
from ansible_collections.artisan.upgrade.plugins.module_utils import _migration_safety as safety
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecError, ExecResult, LocalTransport, describe_exit
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

# A concurrent run that keeps moving the database would otherwise make us chase it forever.
MAX_REPLANS = 3
NOT_FOUND_RCS = (126, 127)
SQUAWK_PARALLEL = 8
# Transports whose stdin stays open while the command runs: one helper process serves the whole run.
SESSION_TRANSPORTS = ('local', 'docker', 'pod')


def runner_source() -> str:
    """The helper's program text, from wherever this module was loaded (a file, or Ansible's payload zip)."""
    source = runner.__loader__.get_source(runner.__name__)
    # Ansible's collection loader returns bytes, the payload's zipimport text.
    return source.decode('utf-8') if isinstance(source, bytes) else source


def parse_answer(output: str) -> dict[str, t.Any]:
    """The helper's JSON answer: the last line carrying its marker (ValueError when there is none)."""
    lines = [line for line in output.splitlines() if line.startswith(runner.ANSWER_MARKER)]
    if not lines:
        raise ValueError('no answer')
    return json.loads(lines[-1][len(runner.ANSWER_MARKER):])


class HelperSession:
    """One helper process for every request of a run: requests go to its stdin as JSON lines, answers come back
    on its stdout. Both are pipes of this process, so any transport that streams stdin and stdout carries them."""

    def __init__(self, transport: t.Any, argv: list[str], env: dict[str, str], program: str) -> None:
        self.command = shlex.join(transport.command_line(argv, env, True))
        self.result: ExecResult | None = None
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        self._requests = os.fdopen(stdin_write, 'wb', buffering=0)
        self._answers = os.fdopen(stdout_read, 'rb')
        child_stdin = os.fdopen(stdin_read, 'rb', buffering=0)
        child_stdout = os.fdopen(stdout_write, 'wb', buffering=0)

        def run() -> None:
            try:
                self.result = transport.run(argv, env, stdin=child_stdin, stdout=child_stdout)
            finally:
                # The helper is gone: its reader of requests and writer of answers with it (EPIPE / EOF here).
                child_stdout.close()
                child_stdin.close()
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        self._send(runner.bootstrap_line(program))

    def _send(self, line: str) -> bool:
        try:
            self._requests.write(line.encode('utf-8'))
            return True
        except (BrokenPipeError, ValueError):
            return False

    def ask(self, request: dict[str, t.Any]) -> str | None:
        """The helper's answer line to ``request``, or None when the helper ended without one."""
        if not self._send(json.dumps(request) + '\n'):
            return None
        for raw in iter(self._answers.readline, b''):
            line = raw.decode('utf-8', errors='replace')
            if line.startswith(runner.ANSWER_MARKER):
                return line
        return None

    def close(self) -> ExecResult:
        """End the helper (its stdin ends) and return how it exited."""
        if not self._requests.closed:
            self._requests.close()
        self._thread.join()
        self._answers.close()
        return self.result or ExecResult(rc=255, stderr='the helper did not report how it ended', command=self.command)


class Migration(Run):
    """One alembic_migrate run: the transport, the commands run so far, and the helper's answers."""

    def __init__(self, params: dict[str, t.Any], transport: t.Any, check_mode: bool, diff: bool,
                 warn: t.Callable[[str], None], squawk: str | None, clock: t.Callable[[], float] = time.monotonic) -> None:
        # One URL for every place alembic runs: the url option, or the one the PostgreSQL options make.
        url = params.get('url') or decide.url_from_options(params)
        super().__init__(secrets=[url, decide.url_password(url), params.get('login_password')], clock=clock)
        self.url = url
        self.params = params
        self.transport = transport
        self.check_mode = check_mode
        self.diff = diff
        self.warn = warn
        self.squawk = squawk
        self.python = self.interpreter()
        self.session: HelperSession | None = None
        # What the run knows of the scripts and the database (see read()); current follows what it applies.
        self.known: dict[str, t.Any] = {}

    def interpreter(self) -> str:
        if self.params.get('python'):
            return self.params['python']
        if self.params.get('virtualenv'):
            return os.path.join(self.params['virtualenv'], 'bin', 'python')
        return sys.executable if self.transport.kind == 'local' else 'python3'

    def environment(self) -> dict[str, str]:
        params = self.params
        env = dict(params.get('environment') or {})
        env.update({
            runner.URL_VARIABLE: self.url,
            'PGOPTIONS': ' '.join(filter(None, [env.get('PGOPTIONS'), decide.session_options(
                params['lock_timeout'], params['statement_timeout'])])),
            'PGAPPNAME': runner.APPLICATION_NAME,
            # The application's tree may be read-only (an image) and is not ours to write .pyc files into.
            'PYTHONDONTWRITEBYTECODE': '1',
        })
        return env

    def source(self) -> str:
        """Which scripts and database a read is of: a previous_read of another source is not reused."""
        params = self.params
        where = {'job': (params.get('job') or {}).get('image'), 'exec_via': params.get('exec_via'), 'python': self.python,
                 'url': self.url}
        where.update((name, params.get(name)) for name in ('config', 'ini_section', 'chdir', 'script_location'))
        return hashlib.sha256(json.dumps(where, sort_keys=True, default=str).encode('utf-8')).hexdigest()[:32]

    def read(self) -> dict[str, t.Any]:
        """The scripts' revision graph and the database's revisions, from previous_read when it is of the same
        source, else from the helper; with a Job (one per request), the SQL of every pending upgrade in the same
        request, so that one Job reads all a run decides on."""
        previous = self.params.get('previous_read') or {}
        if previous.get('source') == self.source() and {'revisions', 'current', 'alembic_version'} <= set(previous):
            self.known = dict(previous)
        else:
            wants_sql = self.params['safety'] != 'off' or self.diff
            answer = self.helper('inspect', pending_sql=wants_sql and self.transport.kind not in SESSION_TRANSPORTS)
            self.known = {'source': self.source(), 'revisions': answer['revisions'], 'current': answer['current'],
                          'alembic_version': answer['alembic_version']}
            if 'sql' in answer or 'sql_error' in answer:
                self.known.update(sql={item['revision']: item['sql'] for item in answer.get('sql', [])},
                                  sql_error=answer.get('sql_error'))
        return self.known

    def helper(self, action: str, **request: t.Any) -> dict[str, t.Any]:
        params = self.params
        request.update(action=action, config=params['config'], ini_section=params['ini_section'],
                       chdir=params.get('chdir'), script_location=params.get('script_location'),
                       connect_timeout=params['connect_timeout'])
        if self.transport.kind not in SESSION_TRANSPORTS:
            env = dict(self.environment(), **{runner.REQUEST_VARIABLE: json.dumps(request)})
            result = self.transport.run([self.python, '-', action], env, stdin=io.BytesIO(runner_source().encode('utf-8')))
            self.record(result.command)
            return self.checked_answer(result.stdout_text(), lambda: result)
        if self.session is None:
            self.session = HelperSession(self.transport, [self.python, '-c', runner.BOOTSTRAP, runner.SESSION],
                                         self.environment(), runner_source())
            self.record(self.session.command)
        return self.checked_answer(self.session.ask(request) or '', self.end_session)

    def end_session(self) -> ExecResult:
        session, self.session = self.session, None
        return session.close() if session else ExecResult(rc=0, stderr='')

    def checked_answer(self, output: str, ended: t.Callable[[], ExecResult]) -> dict[str, t.Any]:
        """The helper's answer in ``output``; on a failure, ``ended()`` says how the helper exited."""
        try:
            answer = parse_answer(output)
        except ValueError:
            result = ended()
            stderr = self.mask(result.stderr).strip()
            if self.transport.kind == 'job':
                raise ModuleFailure('the alembic Job failed (%s): %s' % (
                    describe_exit(result.rc), stderr[-2000:] or 'no output'), stderr=stderr) from None
            if result.rc in NOT_FOUND_RCS:
                raise ModuleFailure('cannot run the application\'s Python %s (%s, %s): %s. Set virtualenv or python '
                                    'to its interpreter' % (self.python, self.transport.kind,
                                                            describe_exit(result.rc), stderr)) from None
            raise ModuleFailure('the alembic helper failed under %s (%s): %s' % (
                self.python, describe_exit(result.rc), stderr[-2000:] or 'no output'), stderr=stderr) from None
        if not answer.get('ok'):
            stderr = self.mask(ended().stderr).strip()
            message = self.mask(answer.get('message', ''))
            if answer.get('error') == 'connect':
                message = decide.connect_failure(self.url, message, from_url=bool(self.params.get('url')))
            raise ModuleFailure(message, stderr=stderr[-2000:])
        return answer


def migrate(run: Migration) -> dict[str, t.Any]:
    try:
        run.transport.check()
    except ExecError as exc:
        raise ModuleFailure(str(exc)) from None
    try:
        result = migrate_with_helper(run)
    finally:
        run.end_session()
    # For a later task of the same run (previous_read): the revisions the database is at now.
    result['read'] = run.known
    return result


def migrate_with_helper(run: Migration) -> dict[str, t.Any]:
    params = run.params
    state = run.read()
    history = decide.History.from_helper(state['revisions'])
    current = state['current']
    unknown = decide.unknown_current(history, current)
    if unknown:
        raise ModuleFailure('the database is at %s, which these migration scripts do not know (the migrations '
                            'of a newer release?): run with the migrations that include it'
                            % ', '.join(unknown), from_revisions=current, heads=history.heads())
    target = decide.resolve_target(history, current, params['revision'])
    plan = decide.plan_steps(history, current, target)
    summary = dict(from_revisions=current, to_revisions=target, heads=history.heads(),
                   alembic_version=state['alembic_version'])
    if not plan:
        return run.envelope(changed=False, plan=[], applied=[], findings=[], direction='none',
                            diff=decide.build_diff(history, current, current),
                            msg='already at %s' % decide.revisions_text(current), **summary)
    direction = plan[0]['direction']
    sql = render_sql(run, plan, current)
    findings = check_safety(run, plan, sql)
    checked = set(sql) if run.params['safety'] != 'off' else set()
    for entry in plan:
        if direction == 'upgrade':
            entry['classification'] = safety.classify([f for f in findings if f['revision'] == entry['revision']],
                                                      entry['revision'] in checked)
        if run.diff and entry['revision'] in sql:
            entry['sql'] = sql[entry['revision']]
    diff = decide.build_diff(history, current, target, [sql[e['revision']] for e in plan if e['revision'] in sql])
    summary.update(plan=plan, findings=findings, direction=direction, diff=diff)
    if run.check_mode:
        return run.envelope(changed=True, applied=[], msg='would %s %s to %s: %s' % (
            direction, decide.revisions_text(current), decide.revisions_text(target), decide.plan_text(plan)), **summary)
    return apply_plan(run, history, current, target, plan, summary)


def render_sql(run: Migration, plan: list[dict[str, t.Any]], current: list[str]) -> dict[str, str]:
    """Offline SQL per planned revision (from ``current``), when safety or diff needs it; {} when env.py cannot
    render it."""
    wants_safety = run.params['safety'] != 'off' and plan[0]['direction'] == 'upgrade'
    if not (wants_safety or run.diff):
        return {}
    try:
        rendered = read_sql(run, plan) or run.helper('sql', steps=decide.helper_steps(plan), starting=current)['sql']
    except ModuleFailure as exc:
        if wants_safety and run.params['safety'] == 'enforce':
            raise ModuleFailure('safety: enforce needs the migrations\' SQL, but %s' % exc.msg, plan=plan) from None
        run.warn('no SQL to check or show: %s' % exc.msg)
        return {}
    return {item['revision']: item['sql'] for item in rendered}


def read_sql(run: Migration, plan: list[dict[str, t.Any]]) -> list[dict[str, str]]:
    """The plan's SQL from the run's read when it rendered every pending upgrade (ModuleFailure when env.py could
    not), else [] (the helper renders it)."""
    known = run.known
    if plan[0]['direction'] != 'upgrade' or 'sql' not in known:
        return []
    if known.get('sql_error'):
        raise ModuleFailure(known['sql_error'])
    if not all(entry['revision'] in known['sql'] for entry in plan):
        return []
    return [{'revision': entry['revision'], 'sql': known['sql'][entry['revision']]} for entry in plan]


def check_safety(run: Migration, plan: list[dict[str, t.Any]], sql: dict[str, str]) -> list[dict[str, str]]:
    params = run.params
    if params['safety'] == 'off' or plan[0]['direction'] != 'upgrade' or not sql:
        return []
    ignore = set(params.get('safety_ignore') or [])
    reports = squawk_reports(run.squawk, plan, sql) if run.squawk else [None] * len(plan)
    findings: list[dict[str, str]] = []
    for entry, report in zip(plan, reports):
        text = sql.get(entry['revision'], '')
        if report is None:
            raw, source = safety.builtin_findings(text), 'builtin'
        else:
            run.record(report.command)
            raw, source = squawk_findings(entry['revision'], text, report), 'squawk'
        findings.extend(safety.findings_of(entry, raw, source, ignore))
    if findings:
        messages = {entry['revision']: entry['message'] for entry in plan}
        if params['safety'] == 'enforce':
            raise ModuleFailure(safety.refusal(findings, messages), plan=plan, findings=findings)
        for finding in findings:
            run.warn('migration safety: %s' % safety.finding_line(finding, messages))
    return findings


def squawk_reports(squawk: str, plan: list[dict[str, t.Any]], sql: dict[str, str]) -> list[ExecResult]:
    """squawk's run on each revision's SQL, side by side: each run is mostly squawk starting."""
    def lint(entry: dict[str, t.Any]) -> ExecResult:
        argv = [squawk, '--reporter', 'json', '--stdin-filepath', '%s.sql' % entry['revision']]
        return LocalTransport().run(argv, {}, stdin=io.BytesIO(sql.get(entry['revision'], '').encode('utf-8')))
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(plan), SQUAWK_PARALLEL)) as pool:
        return list(pool.map(lint, plan))


def squawk_findings(revision: str, sql: str, report: ExecResult) -> list[dict[str, str]]:
    try:
        return safety.squawk_findings(report.stdout_text(), sql)
    except ValueError:
        raise ModuleFailure('squawk failed on the SQL of revision %s (%s): %s' % (
            revision, describe_exit(report.rc), report.stderr.strip() or report.stdout_text()[:500])) from None


def apply_plan(run: Migration, history: decide.History, current: list[str], target: list[str],
               plan: list[dict[str, t.Any]], summary: dict[str, t.Any]) -> dict[str, t.Any]:
    params = run.params
    checked = {entry['revision'] for entry in plan}
    steps, expected, applied, waited = plan, current, [], 0.0
    for _attempt in range(MAX_REPLANS):
        answer = run.helper('apply', steps=decide.helper_steps(steps), expected=expected,
                            lock_key=decide.lock_key(params['lock_name']), lock_wait_timeout=params['lock_wait_timeout'],
                            lock_retries=params['lock_retries'], lock_retry_delay=params['lock_retry_delay'])
        waited += answer['lock_waited']
        run.known['current'] = answer['current']
        applied.extend(dict(item, message=history.message(item['revision'])) for item in answer['applied'])
        summary['lock'] = {'name': params['lock_name'], 'key': decide.lock_key(params['lock_name']), 'waited': waited}
        if answer['status'] == 'failed':
            raise failure(history, answer, applied, summary)
        if answer['status'] == 'applied':
            return run.envelope(changed=True, applied=applied, msg='%sd %s to %s: %s' % (
                plan[0]['direction'], decide.revisions_text(current), decide.revisions_text(answer['current']),
                ', '.join('%s (%.2fs)' % (item['revision'], item['duration']) for item in applied)),
                **dict(summary, to_revisions=answer['current']))
        # Another run migrated while this one waited for the lock: plan again from where it left the database.
        expected = answer['current']
        if decide.unknown_current(history, expected):
            raise ModuleFailure('while this run waited for the lock, another moved the database to %s, which '
                                'these migration scripts do not know' % decide.revisions_text(expected), **summary)
        steps = decide.plan_steps(history, expected, target)
        if not steps:
            return run.envelope(changed=bool(applied), applied=applied, msg='already at %s: another run migrated '
                                'the database while this one waited for the lock' % decide.revisions_text(expected),
                                **dict(summary, from_revisions=expected, plan=[], findings=[],
                                       diff=decide.build_diff(history, expected, expected)))
        if not {entry['revision'] for entry in steps} <= checked:
            raise ModuleFailure('while this run waited for the lock, another moved the database to %s; the plan '
                                'from there was not checked: run again' % decide.revisions_text(expected), **summary)
    raise ModuleFailure('the database kept moving under concurrent runs (%d plans); run again' % MAX_REPLANS,
                        **summary)


def failure(history: decide.History, answer: dict[str, t.Any], applied: list[dict[str, t.Any]],
            summary: dict[str, t.Any]) -> ModuleFailure:
    failed = answer['failed']
    rid = failed['revision']
    why = decide.error_summary(failed['error'])
    if failed['lock_timeout']:
        why = 'lock_timeout expired %d time(s) waiting for a table lock held by another session: %s' % (
            failed['attempts'], why)
    return ModuleFailure(
        'revision %s (%s) failed: %s. Its transaction was rolled back: the database is at %s%s' % (
            rid, history.message(rid), why, decide.revisions_text(answer['current']),
            ' after applying %s' % ', '.join(item['revision'] for item in applied) if applied else ''),
        failed_revision=failed, applied=applied, changed=bool(applied), **dict(summary, to_revisions=answer['current']))
