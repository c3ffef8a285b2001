"""Database access through a small psycopg 3 async pool, and the SQL each release runs.

The releases differ in the users' name column: release 1 has full_name; release 2 adds display_name (expand),
writes both and reads the new one, falling back to full_name for rows that release 1 instances still write;
release 3 uses display_name only (its migration drops full_name).
"""

from __future__ import annotations

import typing as t

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from .config import libpq_url

Row = dict[str, t.Any]

_NAME_EXPRESSION = {1: 'u.full_name', 2: 'COALESCE(u.display_name, u.full_name)', 3: 'u.display_name'}
_NAME_COLUMNS = {1: ('full_name',), 2: ('full_name', 'display_name'), 3: ('display_name',)}


class DuplicateEmail(Exception):
    """A user with this email exists already."""


def user_query(release: int, where: str) -> str:
    return ('SELECT u.id, u.email, u.password_hash, %s AS name, u.created_at FROM users u WHERE %s'
            % (_NAME_EXPRESSION[release], where))


def post_query(release: int, tail: str) -> str:
    return ('SELECT p.id, p.user_id, %s AS author, p.title, p.body, p.created_at FROM posts p '
            'JOIN users u ON u.id = p.user_id ' % _NAME_EXPRESSION[release]) + tail


def insert_user_query(release: int) -> str:
    columns = ('email', 'password_hash') + _NAME_COLUMNS[release]
    return ('INSERT INTO users (%s) VALUES (%s) RETURNING id'
            % (', '.join(columns), ', '.join(['%s'] * len(columns))))


class Database:
    def __init__(self, url: str, release: int) -> None:
        self.release = release
        # check= replaces connections that died under us (a restarted or restored database) before handing them out.
        self.pool = AsyncConnectionPool(
            libpq_url(url), min_size=1, max_size=5, open=False, timeout=5.0, name='demoapp',
            check=AsyncConnectionPool.check_connection,
            kwargs={'autocommit': True, 'connect_timeout': 3, 'row_factory': dict_row})

    async def open(self) -> None:
        # Do not wait for a first connection: the app must start (and answer /health) with the database down.
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    async def fetch_all(self, query: str, params: t.Sequence[t.Any] = (), timeout: float | None = None) -> list[Row]:
        async with self.pool.connection(timeout=timeout) as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall()

    async def fetch_one(self, query: str, params: t.Sequence[t.Any] = ()) -> Row | None:
        rows = await self.fetch_all(query, params)
        return rows[0] if rows else None

    async def revisions(self, timeout: float) -> list[str] | None:
        """The Alembic revisions the database is at; None when it was never migrated."""
        try:
            rows = await self.fetch_all('SELECT version_num FROM alembic_version', timeout=timeout)
        except psycopg.errors.UndefinedTable:
            return None
        return [row['version_num'] for row in rows]

    async def user_by_email(self, email: str) -> Row | None:
        return await self.fetch_one(user_query(self.release, 'lower(u.email) = lower(%s)'), (email,))

    async def user_by_id(self, user_id: int) -> Row | None:
        return await self.fetch_one(user_query(self.release, 'u.id = %s'), (user_id,))

    async def create_user(self, email: str, password_hash: str, name: str | None) -> Row:
        names = (name,) * len(_NAME_COLUMNS[self.release])
        try:
            row = await self.fetch_one(insert_user_query(self.release), (email, password_hash) + names)
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateEmail(email) from exc
        return await self.user_by_id(row['id'])

    async def audit(self, user_id: int | None, action: str, detail: str = '') -> None:
        """Release 2 added the audit_log table; release 1 has nowhere to write."""
        if self.release >= 2:
            await self.fetch_all('INSERT INTO audit_log (user_id, action, detail) VALUES (%s, %s, %s) RETURNING id',
                                 (user_id, action, detail))

    async def posts(self, limit: int) -> list[Row]:
        return await self.fetch_all(post_query(self.release, 'ORDER BY p.id DESC LIMIT %s'), (limit,))

    async def create_post(self, user_id: int, title: str, body: str) -> Row:
        row = await self.fetch_one('INSERT INTO posts (user_id, title, body) VALUES (%s, %s, %s) RETURNING id',
                                   (user_id, title, body))
        return await self.fetch_one(post_query(self.release, 'WHERE p.id = %s'), (row['id'],))
