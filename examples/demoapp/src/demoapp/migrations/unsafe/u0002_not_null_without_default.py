"""UNSAFE on purpose, for migration-safety tests: a NOT NULL column without a default.

Old code does not write the column, so its inserts would fail; and PostgreSQL rejects the statement on a table
that has rows ("column ... contains null values"). users always has the demo user, so this migration always
FAILS, and its transaction leaves the database where it was. Outside the normal chain, like u0001:
    demoapp migrate --unsafe upgrade u0002

Revision ID: u0002
Revises: u0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'u0002'
down_revision = 'u0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('email_verified', sa.Boolean, nullable=False))


def downgrade() -> None:
    op.drop_column('users', 'email_verified')
