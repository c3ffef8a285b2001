# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The helper's pieces that need neither alembic nor a database (the rest runs in the integration tests)."""

from __future__ import annotations

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_runner as runner


class DriverError(Exception):
    def __init__(self, message, sqlstate=None, pgcode=None):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.pgcode = pgcode


class WrappedError(Exception):
    """As SQLAlchemy wraps a driver's error: the original in ``orig``."""

    def __init__(self, orig):
        super().__init__('(psycopg.errors.LockNotAvailable) %s' % orig)
        self.orig = orig


def test_lock_timeouts_are_recognised_by_sqlstate_through_wrappers_and_causes():
    assert runner.is_lock_timeout(WrappedError(DriverError('canceling statement', sqlstate='55P03')))
    assert runner.is_lock_timeout(WrappedError(DriverError('canceling statement', pgcode='55P03')))
    try:
        raise RuntimeError('env.py failed') from DriverError('x', sqlstate='55P03')
    except RuntimeError as exc:
        assert runner.is_lock_timeout(exc)
    assert runner.is_lock_timeout(Exception('canceling statement due to lock timeout'))
    assert not runner.is_lock_timeout(WrappedError(DriverError('canceling statement due to statement timeout',
                                                               sqlstate='57014')))


def test_database_errors_show_the_driver_message():
    assert runner.database_error(WrappedError(DriverError('password authentication failed'))) == \
        'password authentication failed'
    assert runner.database_error(ValueError(' plain ')) == 'plain'
    assert runner.first_line('one\ntwo') == 'one' and runner.first_line('') == ''


def rows(*edges):
    """Revision rows as revision_rows gives them, from (id, down..., ) tuples; ``~x`` in down is a depends_on."""
    return [{'id': rid, 'down': [d for d in down if not d.startswith('~')], 'message': '',
             'depends_on': [d[1:] for d in down if d.startswith('~')]} for rid, *down in edges]


def test_the_pending_upgrades_run_from_the_database_to_every_head_parents_first():
    branched = rows(('a',), ('b', 'a'), ('c', 'a'), ('d', 'b', 'c'), ('e', 'd'), ('f', 'a', '~e'))
    steps = runner.pending_upgrades(branched, ['f'], ['b'])
    assert [step['revision'] for step in steps] == ['c', 'd', 'e', 'f'] and all(step['upgrade'] for step in steps)
    assert [step['revision'] for step in runner.pending_upgrades(branched, ['f'], [])] == ['a', 'b', 'c', 'd', 'e', 'f']
    assert runner.pending_upgrades(branched, ['f'], ['f']) == []
    # A database at a revision these scripts do not know: nothing to render from there.
    assert runner.pending_upgrades(branched, ['f'], ['zz']) == []
