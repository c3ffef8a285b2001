# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The helper session's plumbing, with stand-in programs in a real child process (alembic itself runs in the
integration tests); then the run's decisions (plan, safety, lock, apply, failures) against a fake helper."""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_runner as runner
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecError, ExecResult, LocalTransport
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

# Answers each request line with its action and this process's id, as the helper answers (marker lines).
ECHO = '''
import json, os, sys
answers = os.fdopen(os.dup(1), 'w')
for line in iter(sys.stdin.readline, ''):
    request = json.loads(line)
    print('noise from env.py', file=sys.stderr)
    answers.write('\\n%s%s\\n' % (MARKER, json.dumps({'ok': True, 'action': request['action'], 'pid': os.getpid(),
                                                     'url': os.environ['ARTISAN_ALEMBIC_URL']})))
    answers.flush()
    if request['action'] == 'die':
        sys.exit(3)
'''.replace('MARKER', repr(runner.ANSWER_MARKER))
ARGV = [sys.executable, '-c', runner.BOOTSTRAP, runner.SESSION]


def session(program=ECHO, argv=None):
    return actions.HelperSession(LocalTransport(), argv or ARGV, {'ARTISAN_ALEMBIC_URL': 'postgresql://u:pw@h/db'}, program)


def test_one_process_answers_every_request_in_turn():
    helper = session()
    answers = [actions.parse_answer(helper.ask({'action': action})) for action in ('inspect', 'sql', 'apply')]
    assert [answer['action'] for answer in answers] == ['inspect', 'sql', 'apply']
    assert len({answer['pid'] for answer in answers}) == 1
    # The URL travels in the environment, never on the command line.
    assert answers[0]['url'] == 'postgresql://u:pw@h/db' and 'pw' not in helper.command
    assert helper.command == "%s -c 'import sys; exec(sys.stdin.readline())' session" % sys.executable
    result = helper.close()
    assert result.rc == 0 and 'noise from env.py' in result.stderr


def test_a_helper_that_ends_early_gives_no_answer_and_its_exit():
    helper = session()
    assert json.loads(helper.ask({'action': 'die'})[len(runner.ANSWER_MARKER):])['ok'] is True
    assert helper.ask({'action': 'inspect'}) is None
    assert helper.close().rc == 3


def test_a_program_that_fails_to_start_or_to_load_does_not_hang():
    missing = session(argv=['/nonexistent/python'] + ARGV[1:])
    assert missing.ask({'action': 'inspect'}) is None
    assert missing.close().rc == 127
    broken = session(program='raise SystemExit("broken program")')
    assert broken.ask({'action': 'inspect'}) is None
    result = broken.close()
    assert result.rc == 1 and 'broken program' in result.stderr


# --- the run: plan, safety, lock, apply, against a fake helper behind the transport interface ----------------------

PASSWORD = 'pa:ss/word'
URL = 'postgresql://app:pa%3Ass%2Fword@db.internal:5432/shop'
PYTHON = '/srv/app/venv/bin/python'
REVISIONS = [
    {'id': '0003', 'down': ['0002'], 'message': 'drop legacy column', 'depends_on': []},
    {'id': '0002', 'down': ['0001'], 'message': 'add email', 'depends_on': []},
    {'id': '0001', 'down': [], 'message': 'create users', 'depends_on': []},
]
SQL = {
    '0001': 'CREATE TABLE users (id integer PRIMARY KEY, legacy text);\n',
    '0002': 'ALTER TABLE users ADD COLUMN email text;\n',
    '0003': 'ALTER TABLE users DROP COLUMN legacy;\n',
}
DOWN_SQL = {'0003': 'ALTER TABLE users ADD COLUMN legacy text;\n', '0002': 'ALTER TABLE users DROP COLUMN email;\n'}
# The helper program as the payload zip's loader gives it (the module's own runs): text.
with open(runner.__file__, encoding='utf-8') as _source:
    PROGRAM = _source.read()
LOCK_HELD = ('another migration holds the advisory lock (pid 4242, artisan.upgrade.alembic_migrate from 10.0.0.7) after '
             '300s of waiting (lock_wait_timeout)')


class FakeApplication:
    """The helper's side of a run: the scripts' revisions, the database's current revisions, the answer to each
    request (as _alembic_runner answers them), and the requests received."""

    def __init__(self, current=('0001',), renders_sql=True, fail=None, lock_held=False, moved_to=None, errors=None):
        self.current = sorted(current)
        self.renders_sql = renders_sql
        self.fail = fail
        self.lock_held = lock_held
        self.moved_to = moved_to
        self.errors = dict(errors or {})
        self.requests = []

    def actions(self):
        return [request['action'] for request in self.requests]

    def answer(self, request):
        self.requests.append(request)
        if request['action'] in self.errors:
            return dict(self.errors[request['action']], ok=False)
        return dict({'ok': True}, **getattr(self, request['action'])(request))

    def inspect(self, request):
        answer = {'revisions': REVISIONS, 'heads': ['0003'], 'current': self.current, 'alembic_version': '1.13.2',
                  'python': PYTHON}
        steps = runner.pending_upgrades(REVISIONS, ['0003'], self.current) if request.get('pending_sql') else []
        if steps:
            rendered = self.sql({'steps': steps})
            answer.update({'sql': rendered['sql']} if rendered.get('ok', True) else {'sql_error': rendered['message']})
        return answer

    def sql(self, request):
        if not self.renders_sql:
            return {'ok': False, 'error': 'sql', 'message': 'env.py cannot render the SQL of revision 0002 offline: '
                                                            'this env.py needs a connection'}
        return {'sql': [{'revision': step['revision'], 'sql': (SQL if step['upgrade'] else DOWN_SQL)[step['revision']]}
                        for step in request['steps']]}

    def apply(self, request):
        if self.lock_held:
            return {'ok': False, 'error': 'lock_wait', 'message': LOCK_HELD}
        if self.moved_to is not None:  # another run held the lock and migrated meanwhile
            self.current, self.moved_to = sorted(self.moved_to), None
            waited = 12.5
        else:
            waited = 0.0
        if self.current != sorted(request['expected']):
            return {'status': 'moved', 'current': self.current, 'lock_waited': waited, 'applied': []}
        downs = {row['id']: row['down'] for row in REVISIONS}
        applied = []
        for step in request['steps']:
            if self.fail and step['revision'] == self.fail['revision']:
                return {'status': 'failed', 'failed': self.fail, 'applied': applied, 'current': self.current,
                        'lock_waited': waited}
            self.current = [step['revision']] if step['upgrade'] else sorted(downs[step['revision']])
            applied.append({'revision': step['revision'], 'direction': 'upgrade' if step['upgrade'] else 'downgrade',
                            'duration': 0.25, 'attempts': 1})
        return {'status': 'applied', 'failed': None, 'applied': applied, 'current': self.current, 'lock_waited': waited}


class HelperTransport:
    """The _exec transport interface, where the helper program is answered by a FakeApplication (no process).

    A session (``python -c BOOTSTRAP session``) reads requests from stdin and answers on stdout, as the real helper
    does; ``python - ACTION`` (the Job transport's way) answers the request in its environment. ``crash_on`` ends the
    helper without an answer to that action, with ``rc`` and ``stderr``.
    """

    def __init__(self, app, kind='local', crash_on=None, rc=1, stderr='', broken=None):
        self.app = app
        self.kind = kind
        self.crash_on = crash_on
        self.rc = rc
        self.stderr = stderr
        self.broken = broken
        self.calls = []

    def check(self):
        if self.broken:
            raise ExecError(self.broken)

    def command_line(self, argv, env, stdin=False):
        return list(argv)

    def run(self, argv, env=None, stdin=None, stdout=None):
        self.calls.append({'argv': list(argv), 'env': dict(env or {})})
        command = ' '.join(argv)
        if self.rc == 127:
            return ExecResult(127, 'cannot run %s: No such file or directory' % argv[0], command=command)
        if argv[1:] == ['-c', runner.BOOTSTRAP, runner.SESSION]:
            assert stdin.readline().decode() == runner.bootstrap_line(actions.runner_source())
            for line in iter(stdin.readline, b''):
                request = json.loads(line)
                if request['action'] == self.crash_on:
                    return ExecResult(self.rc, self.stderr, command=command)
                stdout.write(('\n%s%s\n' % (runner.ANSWER_MARKER, json.dumps(self.app.answer(request)))).encode())
            return ExecResult(0, self.stderr, command=command)
        assert argv[1] == '-' and stdin.read().decode() == PROGRAM
        request = dict(json.loads(env[runner.REQUEST_VARIABLE]), action=argv[2])
        if request['action'] == self.crash_on:
            return ExecResult(self.rc, self.stderr, stdout=b'', command=command)
        answer = 'env.py says hello\n%s%s\n' % (runner.ANSWER_MARKER, json.dumps(self.app.answer(request)))
        return ExecResult(0, self.stderr, stdout=answer.encode(), command=command)


def migrate_params(**changes):
    params = dict(
        url=URL, revision='head', config='alembic.ini', ini_section='alembic', script_location=None, chdir='/srv/app',
        virtualenv='/srv/app/venv', python=None, environment={'APP_ENV': 'production'},
        lock_name='artisan.upgrade.alembic_migrate', lock_wait_timeout=300, lock_timeout='5s',
        statement_timeout='15min', lock_retries=3, lock_retry_delay=5.0, safety='warn', safety_linter='builtin',
        safety_ignore=[], connect_timeout=10, db=None, login_host=None, port=None, login_user=None,
        login_password=None, login_unix_socket=None, ssl_mode=None, ssl_rootcert=None)
    params.update(changes)
    return params


def migrate(params, transport, check_mode=False, diff=False):
    """One module run as alembic_migrate makes it; the result and the warnings."""
    warnings = []
    return actions.migrate(actions.Migration(params, transport, check_mode, diff, warnings.append, None)), warnings


def migrate_failure(params, transport, check_mode=False, diff=False):
    """The exception a run raises, whatever its class (it carries ``msg`` and ``context``)."""
    with pytest.raises(Exception) as caught:
        migrate(params, transport, check_mode, diff)
    return caught.value


def planned(result):
    return [(entry['direction'], entry['revision']) for entry in result['plan']]


def test_check_mode_plans_and_checks_the_sql_without_applying():
    app = FakeApplication()
    transport = HelperTransport(app)
    result, warnings = migrate(migrate_params(), transport, check_mode=True)

    assert result['changed'] is True and result['applied'] == []
    assert planned(result) == [('upgrade', '0002'), ('upgrade', '0003')]
    assert result['msg'] == 'would upgrade 0001 to 0003: upgrade 0002, upgrade 0003'
    assert [entry['classification'] for entry in result['plan']] == ['expand', 'contract']
    assert [(f['revision'], f['rule']) for f in result['findings']] == [('0003', 'ban-drop-column')]
    assert warnings == ['migration safety: revision 0003 (drop legacy column) drops a column that the running release '
                        'may still read or write [ban-drop-column]: ALTER TABLE users DROP COLUMN legacy']
    assert app.actions() == ['inspect', 'sql'] and app.current == ['0001']
    assert app.requests[1]['starting'] == ['0001']
    assert result['from_revisions'] == ['0001'] and result['to_revisions'] == ['0003']
    assert len(transport.calls) == 1  # one helper process for the whole run


def test_check_mode_with_diff_shows_the_sql_of_each_revision():
    result, _warnings = migrate(migrate_params(), HelperTransport(FakeApplication()), check_mode=True, diff=True)
    assert [entry['sql'] for entry in result['plan']] == [SQL['0002'], SQL['0003']]
    assert result['diff']['before'] == '0001 create users\n'
    assert result['diff']['after'] == '0003 drop legacy column\n'
    assert result['diff']['prepared'] == SQL['0002'] + '\n' + SQL['0003']


def test_a_run_applies_the_plan_under_the_lock_and_reports_each_revision():
    app = FakeApplication()
    transport = HelperTransport(app)
    result, _warnings = migrate(migrate_params(), transport)

    assert result['changed'] is True and app.current == ['0003']
    assert result['msg'] == 'upgraded 0001 to 0003: 0002 (0.25s), 0003 (0.25s)'
    applied = [(item['revision'], item['message']) for item in result['applied']]
    assert applied == [('0002', 'add email'), ('0003', 'drop legacy column')]
    assert result['to_revisions'] == ['0003']
    key = decide.lock_key('artisan.upgrade.alembic_migrate')
    assert result['lock'] == {'name': 'artisan.upgrade.alembic_migrate', 'key': key, 'waited': 0.0}
    apply = app.requests[-1]
    assert app.actions() == ['inspect', 'sql', 'apply']
    assert apply['steps'] == [{'revision': '0002', 'upgrade': True}, {'revision': '0003', 'upgrade': True}]
    assert apply['expected'] == ['0001'] and apply['lock_key'] == key and apply['lock_wait_timeout'] == 300
    assert (apply['config'], apply['chdir'], apply['connect_timeout']) == ('alembic.ini', '/srv/app', 10)
    # The helper runs with the application's Python; the URL and session limits travel in its environment.
    (call,) = transport.calls
    assert call['argv'][0] == PYTHON
    assert call['env'][runner.URL_VARIABLE] == URL and call['env']['APP_ENV'] == 'production'
    assert call['env']['PGOPTIONS'] == '-c lock_timeout=5s -c statement_timeout=15min'
    assert result['commands'] and not any('pa%3Ass' in command or PASSWORD in command for command in result['commands'])


def test_a_database_at_the_target_is_left_alone():
    app = FakeApplication(current=['0003'])
    result, _warnings = migrate(migrate_params(), HelperTransport(app))
    assert result['changed'] is False and result['msg'] == 'already at 0003'
    assert result['plan'] == [] and result['applied'] == []
    assert app.actions() == ['inspect']


def test_a_failed_revision_reports_what_was_applied_and_what_was_not():
    app = FakeApplication(fail={'revision': '0003', 'attempts': 1, 'lock_timeout': False,
                                'error': '(psycopg.errors.UndefinedColumn) column "legacy" of relation "users" does not '
                                         'exist\n[SQL: ALTER TABLE users DROP COLUMN legacy]\n'
                                         '(Background on this error at: https://sqlalche.me/e/20/f405)'})
    error = migrate_failure(migrate_params(), HelperTransport(app))

    assert error.msg == ('revision 0003 (drop legacy column) failed: (psycopg.errors.UndefinedColumn) column "legacy" of '
                         'relation "users" does not exist\n[SQL: ALTER TABLE users DROP COLUMN legacy]. Its transaction '
                         'was rolled back: the database is at 0002 after applying 0002')
    assert [item['revision'] for item in error.context['applied']] == ['0002']
    assert error.context['failed_revision']['revision'] == '0003'
    assert error.context['to_revisions'] == ['0002']
    assert [entry['revision'] for entry in error.context['plan']] == ['0002', '0003']
    assert app.current == ['0002']


def test_a_first_revision_that_fails_says_nothing_was_applied():
    app = FakeApplication(fail={'revision': '0002', 'attempts': 1, 'lock_timeout': False, 'error': 'boom'})
    error = migrate_failure(migrate_params(), HelperTransport(app))
    assert error.msg == ('revision 0002 (add email) failed: boom. Its transaction was rolled back: the database is at '
                         '0001')
    assert error.context['applied'] == []


def test_a_table_lock_that_outlasts_the_retries_is_named_in_the_message():
    app = FakeApplication(fail={'revision': '0002', 'attempts': 4, 'lock_timeout': True,
                                'error': '(psycopg.errors.LockNotAvailable) canceling statement due to lock timeout'})
    error = migrate_failure(migrate_params(lock_retries=3, lock_retry_delay=0.5), HelperTransport(app))
    assert error.msg.startswith('revision 0002 (add email) failed: lock_timeout expired 4 time(s) waiting for a table '
                                'lock held by another session: (psycopg.errors.LockNotAvailable) canceling statement')
    assert (app.requests[-1]['lock_retries'], app.requests[-1]['lock_retry_delay']) == (3, 0.5)


def test_the_advisory_lock_held_by_another_run_is_reported_and_nothing_applied():
    app = FakeApplication(lock_held=True)
    error = migrate_failure(migrate_params(lock_wait_timeout=300), HelperTransport(app))
    assert error.msg == LOCK_HELD
    assert app.current == ['0001'] and app.actions() == ['inspect', 'sql', 'apply']


def test_a_downgrade_reverts_children_first_without_a_safety_check():
    app = FakeApplication(current=['0003'])
    result, warnings = migrate(migrate_params(revision='0001', safety='enforce'), HelperTransport(app))

    assert planned(result) == [('downgrade', '0003'), ('downgrade', '0002')]
    assert result['direction'] == 'downgrade' and result['findings'] == []
    assert result['msg'] == 'downgraded 0003 to 0001: 0003 (0.25s), 0002 (0.25s)'
    assert app.actions() == ['inspect', 'apply'] and app.current == ['0001']
    assert app.requests[-1]['steps'] == [{'revision': '0003', 'upgrade': False}, {'revision': '0002', 'upgrade': False}]
    assert warnings == []


def test_a_downgrade_shown_with_its_sql_is_not_refused_for_dropping_what_its_upgrade_added():
    app = FakeApplication(current=['0002'])
    result, warnings = migrate(migrate_params(revision='0001', safety='enforce'), HelperTransport(app), diff=True)
    assert result['changed'] is True and app.current == ['0001']
    assert result['plan'][0]['sql'] == DOWN_SQL['0002'] and result['findings'] == [] and warnings == []


def test_a_relative_downgrade_in_check_mode_shows_its_sql():
    app = FakeApplication(current=['0003'])
    result, _warnings = migrate(migrate_params(revision='-1'), HelperTransport(app), check_mode=True, diff=True)
    assert planned(result) == [('downgrade', '0003')] and result['to_revisions'] == ['0002']
    assert result['plan'][0]['sql'] == DOWN_SQL['0003']
    assert app.actions() == ['inspect', 'sql']


def test_safety_enforce_refuses_a_contract_revision_before_anything_runs():
    app = FakeApplication()
    error = migrate_failure(migrate_params(safety='enforce'), HelperTransport(app))
    assert error.msg.startswith('refusing contract revision 0003 before deploy (safety: enforce): revision 0003 (drop '
                                'legacy column) drops a column')
    assert 'Nothing was applied' in error.msg
    assert [f['rule'] for f in error.context['findings']] == ['ban-drop-column']
    assert app.actions() == ['inspect', 'sql'] and app.current == ['0001']


def test_safety_ignore_lets_an_accepted_rule_through():
    app = FakeApplication()
    result, warnings = migrate(migrate_params(safety='enforce', safety_ignore=['ban-drop-column']), HelperTransport(app))
    assert result['changed'] is True and result['findings'] == [] and warnings == []
    assert app.current == ['0003']


def test_sql_that_cannot_be_rendered_blocks_enforce_and_leaves_warn_unchecked():
    app = FakeApplication(renders_sql=False)
    error = migrate_failure(migrate_params(safety='enforce'), HelperTransport(app))
    assert error.msg == ("safety: enforce needs the migrations' SQL, but env.py cannot render the SQL of revision 0002 "
                         "offline: this env.py needs a connection")
    assert 'apply' not in app.actions()

    app = FakeApplication(renders_sql=False)
    result, warnings = migrate(migrate_params(safety='warn'), HelperTransport(app))
    assert result['changed'] is True and app.current == ['0003']
    assert [entry['classification'] for entry in result['plan']] == ['unchecked', 'unchecked']
    assert warnings == ['no SQL to check or show: env.py cannot render the SQL of revision 0002 offline: this env.py '
                        'needs a connection']


def test_a_run_that_waited_while_another_migrated_to_the_target_changes_nothing():
    app = FakeApplication(moved_to=['0003'])
    result, _warnings = migrate(migrate_params(), HelperTransport(app))
    assert result['changed'] is False and result['applied'] == []
    assert result['msg'] == 'already at 0003: another run migrated the database while this one waited for the lock'
    assert result['lock']['waited'] == 12.5


def test_a_run_that_waited_while_another_migrated_part_way_applies_the_rest():
    app = FakeApplication(moved_to=['0002'])
    result, _warnings = migrate(migrate_params(), HelperTransport(app))
    assert result['changed'] is True and [item['revision'] for item in result['applied']] == ['0003']
    assert app.actions() == ['inspect', 'sql', 'apply', 'apply']
    assert app.requests[-1]['expected'] == ['0002']
    assert app.requests[-1]['steps'] == [{'revision': '0003', 'upgrade': True}]


def test_a_database_at_a_revision_the_scripts_do_not_know_is_refused():
    app = FakeApplication(current=['9999'])
    error = migrate_failure(migrate_params(), HelperTransport(app))
    assert error.msg.startswith('the database is at 9999, which these migration scripts do not know')
    assert app.actions() == ['inspect']


def test_a_connection_failure_names_the_option_to_check_and_never_the_password():
    app = FakeApplication(errors={'inspect': {'error': 'connect', 'message': (
        'connection to server at "db.internal" (10.0.0.5), port 5432 failed: FATAL:  password authentication failed '
        'for user "app" (url %s)' % URL)}})
    error = migrate_failure(migrate_params(url=None, login_host='db.internal', port=5432, login_user='app',
                                           login_password=PASSWORD, db='shop'), HelperTransport(app))
    assert error.msg.startswith('cannot connect to database "shop" on db.internal:5432 as "app": wrong password for '
                                'role "app": check login_password')
    assert PASSWORD not in error.msg and 'pa%3Ass%2Fword' not in error.msg


def test_a_helper_that_dies_reports_its_exit_and_stderr_without_secrets():
    app = FakeApplication()
    transport = HelperTransport(app, crash_on='apply', rc=-9, stderr='Traceback ...\nMemoryError while connecting to %s\n' % URL)
    error = migrate_failure(migrate_params(), transport)
    assert error.msg.startswith('the alembic helper failed under %s (killed by SIGKILL): Traceback' % PYTHON)
    assert URL not in error.msg and '********' in error.msg
    assert app.current == ['0001']


def test_a_missing_interpreter_says_which_option_sets_it():
    error = migrate_failure(migrate_params(virtualenv=None, python='/opt/none/bin/python'),
                            HelperTransport(FakeApplication(), rc=127))
    assert error.msg == ("cannot run the application's Python /opt/none/bin/python (local, rc 127): cannot run "
                         "/opt/none/bin/python: No such file or directory. Set virtualenv or python to its interpreter")


def test_a_job_runs_one_helper_per_request_with_the_request_in_its_environment():
    app = FakeApplication()
    transport = HelperTransport(app, kind='job')
    result, _warnings = migrate(migrate_params(virtualenv=None), transport)

    assert result['changed'] is True and app.current == ['0003']
    # The read renders the pending SQL in the same Job: no Job of its own for it.
    assert [call['argv'] for call in transport.calls] == [['python3', '-', action] for action in ('inspect', 'apply')]
    assert app.requests[0]['pending_sql'] is True
    assert all(call['env'][runner.URL_VARIABLE] == URL for call in transport.calls)
    assert len(result['commands']) == 2
    assert [entry['classification'] for entry in result['plan']] == ['expand', 'contract']


def test_a_job_plan_then_its_apply_start_one_job_each():
    app = FakeApplication()
    plan, _warnings = migrate(migrate_params(virtualenv=None, revision='0002'), HelperTransport(app, kind='job'),
                              check_mode=True, diff=True)
    assert app.actions() == ['inspect'] and planned(plan) == [('upgrade', '0002')]
    assert plan['plan'][0]['sql'] == SQL['0002'] and plan['read']['current'] == ['0001']
    assert plan['read']['sql'] == {'0002': SQL['0002'], '0003': SQL['0003']}

    expand, _warnings = migrate(migrate_params(virtualenv=None, revision='0002', previous_read=plan['read']),
                                HelperTransport(app, kind='job'))
    assert app.actions() == ['inspect', 'apply'] and app.current == ['0002']
    assert expand['read']['current'] == ['0002']
    # The contract phase of the same run: its plan and its safety check from that read, then its Job.
    contract, warnings = migrate(migrate_params(virtualenv=None, previous_read=expand['read']), HelperTransport(app, kind='job'))
    assert app.actions() == ['inspect', 'apply', 'apply'] and app.current == ['0003']
    assert contract['from_revisions'] == ['0002'] and planned(contract) == [('upgrade', '0003')]
    assert contract['plan'][0]['classification'] == 'contract' and 'ban-drop-column' in warnings[0]


def test_a_previous_read_of_other_scripts_or_another_database_is_not_reused():
    app = FakeApplication()
    plan, _warnings = migrate(migrate_params(virtualenv=None), HelperTransport(app, kind='job'), check_mode=True)
    for other in ({'config': 'other.ini'}, {'url': URL.replace('/shop', '/shop2')}, {'job': {'image': 'app:3'}}):
        migrate(migrate_params(virtualenv=None, previous_read=plan['read'], **other), HelperTransport(app, kind='job'),
                check_mode=True)
    assert app.actions() == ['inspect'] * 4


def test_a_database_moved_since_the_previous_read_is_planned_again_under_the_lock():
    app = FakeApplication()
    plan, _warnings = migrate(migrate_params(virtualenv=None), HelperTransport(app, kind='job'), check_mode=True)
    app.current = ['0002']  # another run applied 0002 meanwhile
    result, _warnings = migrate(migrate_params(virtualenv=None, previous_read=plan['read']), HelperTransport(app, kind='job'))
    assert app.actions() == ['inspect', 'apply', 'apply'] and app.current == ['0003']
    assert [item['revision'] for item in result['applied']] == ['0003'] and result['read']['current'] == ['0003']


def test_a_job_whose_env_py_cannot_render_sql_offline_reads_once_and_leaves_the_plan_unchecked():
    app = FakeApplication(renders_sql=False)
    result, warnings = migrate(migrate_params(virtualenv=None), HelperTransport(app, kind='job'), check_mode=True)
    assert app.actions() == ['inspect']
    assert [entry['classification'] for entry in result['plan']] == ['unchecked', 'unchecked']
    assert warnings == ['no SQL to check or show: env.py cannot render the SQL of revision 0002 offline: this env.py '
                        'needs a connection']
    enforce = migrate_failure(migrate_params(virtualenv=None, safety='enforce', previous_read=result['read']),
                              HelperTransport(app, kind='job'))
    assert enforce.msg.startswith("safety: enforce needs the migrations' SQL, but env.py cannot render")
    assert app.actions() == ['inspect'] and app.current == ['0001']


def test_a_failed_job_reports_its_log():
    transport = HelperTransport(FakeApplication(), kind='job', crash_on='inspect', rc=2,
                                stderr="ModuleNotFoundError: No module named 'alembic'\n")
    error = migrate_failure(migrate_params(), transport)
    assert error.msg == "the alembic Job failed (rc 2): ModuleNotFoundError: No module named 'alembic'"


def test_a_transport_that_cannot_run_commands_fails_before_the_helper_starts():
    transport = HelperTransport(FakeApplication(), kind='docker', broken='container "app" is not running')
    error = migrate_failure(migrate_params(), transport)
    assert error.msg == 'container "app" is not running' and transport.calls == []


class Clock:
    def __init__(self):
        self.now = 10.0

    def __call__(self):
        return self.now


def migration(program, clock):
    params = dict(url='postgresql://app:s3cret-pw@db.internal/shop', python=sys.executable, config='alembic.ini',
                  ini_section='alembic', chdir=None, script_location=None, connect_timeout=5, environment=None,
                  lock_timeout='5s', statement_timeout='15min')
    run = actions.Migration(params, LocalTransport(), check_mode=False, diff=False, warn=lambda msg: None, squawk=None,
                            clock=clock)
    run.session = actions.HelperSession(LocalTransport(), ARGV, run.environment(), program)
    run.record(run.session.command)
    return run


def test_a_migration_run_masks_the_url_and_its_password_in_failures_and_answers_the_envelope():
    # A helper that fails the way a driver does: quoting the URL, and the password alone.
    failing = ('import os, sys\n'
               'url = os.environ["ARTISAN_ALEMBIC_URL"]\n'
               'sys.stderr.write("cannot connect to %s (password s3cret-pw)\\n" % url)\n'
               'sys.exit(2)\n')
    clock = Clock()
    run = migration(failing, clock)
    with pytest.raises(ModuleFailure) as failure:
        run.helper('inspect')
    clock.now += 1.25
    result = run.failure(failure.value, applied=[])
    assert 'the alembic helper failed' in result['msg']
    assert 's3cret-pw' not in json.dumps(result) and 'cannot connect to ******** (password ********)' in result['msg']
    assert result['commands'] == ["%s -c 'import sys; exec(sys.stdin.readline())' session" % sys.executable]
    assert result['duration'] == 1.25 and result['changed'] is False and result['applied'] == []


# --- the helper program as text, whatever loaded it -----------------------------------------------

def test_the_helper_program_is_text_whatever_loader_loaded_it():
    # Ansible's collection loader (ansible-test units, controller-side imports) returns get_source() as bytes.
    assert actions.runner_source() == PROGRAM


def test_a_job_sends_the_helper_program_as_loaded():
    app = FakeApplication(current=['0003'])
    result, _warnings = migrate(migrate_params(), HelperTransport(app, kind='job'))
    assert result['changed'] is False and app.actions() == ['inspect']
