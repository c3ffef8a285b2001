"""Release 3.0.0, contract: drop users.full_name, which release 3 no longer uses.

Not backward compatible: releases 1 and 2 read full_name, so this runs once no instance of them serves.
The last backfill catches names that release 1 instances wrote after the expand migration.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('UPDATE users SET display_name = full_name WHERE display_name IS NULL')
    op.drop_column('users', 'full_name')


def downgrade() -> None:
    op.add_column('users', sa.Column('full_name', sa.String(200), nullable=True))
    op.execute('UPDATE users SET full_name = display_name')
