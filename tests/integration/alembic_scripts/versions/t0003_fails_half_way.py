"""Create tags and fill them, then fail on the third statement: the whole revision must roll back.

Revision ID: t0003
Revises: t0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 't0003'
down_revision = 't0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tags', sa.Column('id', sa.Integer, primary_key=True), sa.Column('label', sa.Text))
    op.execute("INSERT INTO tags (label) VALUES ('a'), ('b')")
    op.execute('UPDATE items SET note = (SELECT 1 / 0)::text')


def downgrade() -> None:
    op.drop_table('tags')
