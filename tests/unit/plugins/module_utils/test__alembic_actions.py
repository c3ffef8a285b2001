# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The helper session's plumbing and a migration run's answer, with stand-in programs in a real child process
(alembic itself runs in the integration tests)."""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_runner as runner
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import LocalTransport
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
