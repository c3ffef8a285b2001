"""A throwaway PostgreSQL cluster on 127.0.0.1, run by the real server binaries.

initdb refuses to run as root, so when the tests run as root the cluster belongs to the
``postgres`` system user and every server command runs through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import typing as t

import psycopg
from psycopg import sql

SUPERUSER = 'postgres'
SUPERUSER_PASSWORD = 'super-secret-pw'
APP_USER = 'artisan'
APP_PASSWORD = 'app-secret-pw'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def server_bindir(major: str | None = None) -> str:
    candidates = sorted(glob.glob('/usr/lib/postgresql/%s/bin' % (major or '*')))
    if not candidates:
        raise RuntimeError('no PostgreSQL server binaries under /usr/lib/postgresql: install postgresql-15')
    return candidates[-1]


class PostgresServer:
    """One cluster: start(), stop(), and helpers to create databases and run SQL as the superuser."""

    def __init__(self, major: str | None = None) -> None:
        self.bindir = server_bindir(major)
        self.host = '127.0.0.1'
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix='artisan-pg-')
        self.datadir = os.path.join(self.root, 'data')
        self.logfile = os.path.join(self.root, 'server.log')
        self.owner = 'postgres' if os.geteuid() == 0 else None

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ['runuser', '-u', self.owner, '--'] + argv if self.owner else argv

    def _run(self, argv: list[str]) -> None:
        proc = subprocess.run(self._as_owner(argv), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError('%s failed (rc=%d): %s%s' % (argv[0], proc.returncode, proc.stdout, proc.stderr))

    def start(self) -> 'PostgresServer':
        if self.owner:
            pw = pwd.getpwnam(self.owner)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o700)
        pwfile = os.path.join(self.root, 'pwfile')
        with open(pwfile, 'w', encoding='utf-8') as handle:
            handle.write(SUPERUSER_PASSWORD)
        if self.owner:
            os.chown(pwfile, pwd.getpwnam(self.owner).pw_uid, -1)
        self._run([os.path.join(self.bindir, 'initdb'), '-D', self.datadir, '-U', SUPERUSER, '--pwfile', pwfile,
                   '--auth-local=scram-sha-256', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8'])
        os.unlink(pwfile)
        options = '-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off' % (self.port, self.root)
        self._run([os.path.join(self.bindir, 'pg_ctl'), '-D', self.datadir, '-l', self.logfile, '-o', options,
                   '-w', '-t', '60', 'start'])
        self.execute(sql.SQL('CREATE ROLE {} LOGIN PASSWORD {}').format(sql.Identifier(APP_USER), sql.Literal(APP_PASSWORD)))
        return self

    def stop(self) -> None:
        if os.path.exists(os.path.join(self.datadir, 'postmaster.pid')):
            self._run([os.path.join(self.bindir, 'pg_ctl'), '-D', self.datadir, '-m', 'fast', '-w', 'stop'])
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def version(self) -> int:
        return int(self.query('SHOW server_version_num')[0][0])

    def dsn(self, dbname: str = 'postgres', user: str = SUPERUSER, password: str | None = None) -> str:
        if password is None:
            password = SUPERUSER_PASSWORD if user == SUPERUSER else APP_PASSWORD
        return 'postgresql://%s:%s@%s:%d/%s' % (user, password, self.host, self.port, dbname)

    def connect(self, dbname: str = 'postgres', user: str = SUPERUSER) -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname, user), autocommit=True)

    def execute(self, statement: t.Any, params: t.Sequence[t.Any] | None = None, dbname: str = 'postgres') -> None:
        with self.connect(dbname) as conn:
            conn.execute(statement, params)

    def query(self, statement: str, params: t.Sequence[t.Any] | None = None, dbname: str = 'postgres') -> list[tuple]:
        with self.connect(dbname) as conn:
            return conn.execute(statement, params).fetchall()

    def create_database(self, name: str, owner: str = APP_USER) -> str:
        with self.connect() as conn:
            conn.execute(sql.SQL('CREATE DATABASE {} OWNER {}').format(sql.Identifier(name), sql.Identifier(owner)))
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)').format(sql.Identifier(name)))

    def database_comment(self, name: str) -> str | None:
        """The database's COMMENT (where pg_backup keeps its restore marker)."""
        rows = self.query("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name])
        return rows[0][0] if rows else None

    def role_attributes(self, name: str) -> tuple[bool, bool]:
        """(superuser, createdb) of a role."""
        return self.query('SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = %s', [name])[0]

    def load_sql(self, dbname: str, script: str, user: str = APP_USER) -> None:
        """Run a multi-statement SQL script in one transaction."""
        with psycopg.connect(self.dsn(dbname, user)) as conn:
            conn.execute(script)
