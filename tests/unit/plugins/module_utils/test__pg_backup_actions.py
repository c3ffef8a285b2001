# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_backup's run plumbing: what it runs is recorded with the password masked, and every answer is the envelope."""

from __future__ import annotations

from ansible_collections.artisan.upgrade.plugins.module_utils import _pg_backup_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import LocalTransport
from ansible_collections.artisan.upgrade.plugins.module_utils._run import MASK, ModuleFailure


class Clock:
    def __init__(self):
        self.now = 50.0

    def __call__(self):
        return self.now


class Catalog:
    """What psycopg would be sent (the statements), without a server."""

    def __init__(self):
        self.sent = []

    def execute(self, statement, dbname):
        self.sent.append((statement, dbname))


def action(clock=None):
    params = dict(login_password='pw-0123456789', maintenance_db='postgres', bin_dir=None)
    return actions.Action(params, LocalTransport(), check_mode=False, warn=lambda msg: None, clock=clock or Clock())


def test_commands_run_are_recorded_with_the_password_masked():
    run = action()
    result = run.run(['sh', '-c', 'test -n "$PGPASSWORD"', 'pw-0123456789'])
    assert result.rc == 0, 'the password travels in the environment'
    assert run.commands == ["sh -c 'test -n \"$PGPASSWORD\"' %s" % MASK]


def test_statements_sent_by_psycopg_are_commands_too():
    run = action()
    run._catalog = Catalog()
    run.admin('DROP DATABASE "shop" WITH (FORCE)')
    assert run._catalog.sent == [('DROP DATABASE "shop" WITH (FORCE)', 'postgres')]
    assert run.commands == run.queries == ['DROP DATABASE "shop" WITH (FORCE)']


def test_success_and_failure_answer_the_envelope_with_the_queries():
    clock = Clock()
    run = action(clock)
    run.queries.append('CREATE DATABASE "shop" TEMPLATE template0')
    clock.now += 2.5
    assert run.result(changed=True, msg='restored', steps=['create', 'restore']) == dict(
        changed=True, msg='restored', steps=['create', 'restore'], queries=['CREATE DATABASE "shop" TEMPLATE template0'],
        commands=[], duration=2.5)
    failed = run.failed(ModuleFailure('pg_dump of shop failed (rc 1)', rc=1, stderr='boom'))
    assert failed == dict(changed=False, msg='pg_dump of shop failed (rc 1)', rc=1, stderr='boom',
                          queries=['CREATE DATABASE "shop" TEMPLATE template0'], commands=[], duration=2.5)
