"""A second branch from t0001, as two feature branches that each added a migration would leave it.

Revision ID: b0002
Revises: t0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0002'
down_revision = 't0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('items', sa.Column('colour', sa.Text))


def downgrade() -> None:
    op.drop_column('items', 'colour')
