"""UNSAFE on purpose, for migration-safety tests: an index built without CONCURRENTLY.

CREATE INDEX holds a SHARE lock on users for the whole build, blocking every write: on a large table, an outage.
The safe form is op.create_index(..., postgresql_concurrently=True) outside a transaction. This migration
succeeds. It lives outside the normal chain (migrations/unsafe, the [unsafe] section of alembic.ini):
    demoapp migrate --unsafe upgrade u0001

Revision ID: u0001
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = 'u0001'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_users_display_name', 'users', ['display_name'])


def downgrade() -> None:
    op.drop_index('ix_users_display_name', table_name='users')
