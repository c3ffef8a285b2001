"""Release 1.0.0: users and posts, and the demo user the smoke tests log in with.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import base64
import hashlib
import os

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

DEMO_EMAIL = 'test@example.com'
DEMO_PASSWORD = 'password'
DEMO_NAME = 'Test User'


def scrypt_hash(password: str) -> str:
    """demoapp.security.hash_password's format, spelled out: a migration must not change when the app does."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode('utf-8'), salt=salt, n=2 ** 14, r=8, p=1, dklen=32)
    return 'scrypt$16384$8$1$%s$%s' % (base64.b64encode(salt).decode('ascii'), base64.b64encode(digest).decode('ascii'))


def upgrade() -> None:
    users = op.create_table(
        'users',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('email', sa.String(320), nullable=False),
        sa.Column('password_hash', sa.String(255), nullable=False),
        sa.Column('full_name', sa.String(200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint('email', name='uq_users_email'),
    )
    op.create_table(
        'posts',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('user_id', sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE', name='fk_posts_user_id'),
                  nullable=False),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('body', sa.Text, nullable=False, server_default=''),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index('ix_posts_user_id', 'posts', ['user_id'])
    op.bulk_insert(users, [{'email': DEMO_EMAIL, 'password_hash': scrypt_hash(DEMO_PASSWORD), 'full_name': DEMO_NAME}])
    op.execute("INSERT INTO posts (user_id, title, body) SELECT id, 'Welcome', 'The first post of the demo user.' "
               "FROM users WHERE email = '%s'" % DEMO_EMAIL)


def downgrade() -> None:
    op.drop_table('posts')
    op.drop_table('users')
