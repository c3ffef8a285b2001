"""Add items.note, slowly (two seconds), so that a concurrent run arrives while this one holds the lock.

Revision ID: t0002
Revises: t0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 't0002'
down_revision = 't0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('SELECT pg_sleep(2)')
    op.add_column('items', sa.Column('note', sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column('items', 'note')
