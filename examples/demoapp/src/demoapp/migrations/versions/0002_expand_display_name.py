"""Release 2.0.0, expand: users.display_name (nullable, backfilled from full_name) and the audit_log table.

Backward compatible: release 1 keeps working on this schema (it neither reads nor writes the new column and
table), so old and new instances can serve side by side during a rolling upgrade. Release 2 writes both name
columns and reads display_name, falling back to full_name for rows release 1 wrote meanwhile.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('display_name', sa.String(200), nullable=True))
    op.execute('UPDATE users SET display_name = full_name WHERE display_name IS NULL')
    op.create_table(
        'audit_log',
        sa.Column('id', sa.BigInteger, primary_key=True),
        sa.Column('user_id', sa.Integer, sa.ForeignKey('users.id', ondelete='SET NULL', name='fk_audit_log_user_id'),
                  nullable=True),
        sa.Column('action', sa.String(64), nullable=False),
        sa.Column('detail', sa.Text, nullable=False, server_default=''),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index('ix_audit_log_user_id', 'audit_log', ['user_id'])


def downgrade() -> None:
    # Release 2 writes full_name too, so dropping display_name loses no name.
    op.drop_table('audit_log')
    op.drop_column('users', 'display_name')
