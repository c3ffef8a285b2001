"""Create items.

Revision ID: t0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 't0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('items', sa.Column('id', sa.Integer, primary_key=True), sa.Column('name', sa.Text))
    op.execute("INSERT INTO items (name) VALUES ('first')")


def downgrade() -> None:
    op.drop_table('items')
