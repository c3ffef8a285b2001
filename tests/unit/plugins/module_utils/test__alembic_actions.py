# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The helper session's plumbing, with stand-in programs in a real child process (alembic itself runs in the
integration tests)."""

from __future__ import annotations

import json
import sys

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_runner as runner
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import LocalTransport

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
