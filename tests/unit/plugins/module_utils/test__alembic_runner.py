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
