# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL connections, shared by every module that talks to a server from where it runs.

The options of _postgres_options.py (the ``artisan.upgrade.postgres`` doc fragment), turned either into
the environment of libpq's command line tools (pg_dump, pg_restore, psql) or into a psycopg
connection, with one readable message for the usual connection failures.
"""

from __future__ import annotations

import json
import re
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils._postgres_options import (  # noqa: F401  pylint: disable=unused-import
    CONNECTION_OPTIONS, postgres_common_argument_spec)

try:
    import psycopg
except ImportError:
    psycopg = None  # modules report missing_required_lib('psycopg') before connecting

APPLICATION_NAME = 'artisan.upgrade'


class PostgresError(Exception):
    """A failure talking to PostgreSQL, with a message that says what to do."""


def connection_target(params: dict[str, t.Any], dbname: str | None = None) -> str:
    """Where we connect, for messages: ``db "app" on 127.0.0.1:5432`` (never the password)."""
    host = params.get('login_unix_socket') or params.get('login_host') or 'the default socket'
    port = params.get('port')
    where = '%s:%s' % (host, port) if port else host
    return 'database "%s" on %s' % (dbname or params.get('db') or '(default)', where)


def libpq_env(params: dict[str, t.Any], dbname: str | None = None, application: str = APPLICATION_NAME) -> dict[str, str]:
    """The PG* variables that make libpq tools connect as the options say.

    The password travels in PGPASSWORD so that it never appears in an argument list (visible in ps,
    in `docker inspect` of an exec, in Kubernetes audit logs).
    """
    env = {'PGAPPNAME': application, 'PGCONNECT_TIMEOUT': str(params.get('connect_timeout') or 10)}
    host = params.get('login_unix_socket') or params.get('login_host')
    pairs = (
        ('PGHOST', host),
        ('PGPORT', params.get('port')),
        ('PGUSER', params.get('login_user')),
        ('PGPASSWORD', params.get('login_password')),
        ('PGDATABASE', dbname or params.get('db')),
        ('PGSSLMODE', params.get('ssl_mode')),
        ('PGSSLROOTCERT', params.get('ssl_rootcert')),
    )
    env.update((name, str(value)) for name, value in pairs if value not in (None, ''))
    return env


def psycopg_kwargs(params: dict[str, t.Any], dbname: str | None = None, application: str = APPLICATION_NAME) -> dict[str, t.Any]:
    """Keyword arguments of ``psycopg.connect()`` for the same options as libpq_env()."""
    pairs = dict(
        host=params.get('login_unix_socket') or params.get('login_host'),
        port=params.get('port'),
        user=params.get('login_user'),
        password=params.get('login_password'),
        dbname=dbname or params.get('db'),
        sslmode=params.get('ssl_mode'),
        sslrootcert=params.get('ssl_rootcert'),
        connect_timeout=params.get('connect_timeout') or 10,
        application_name=application,
    )
    return {key: value for key, value in pairs.items() if value not in (None, '')}


CONNECTION_ERRORS = (
    (re.compile(r'password authentication failed for user "([^"]*)"'), 'wrong password for role "{0}": check {password}'),
    (re.compile(r'role "([^"]*)" does not exist'), 'role "{0}" does not exist: check {user}'),
    (re.compile(r'database "([^"]*)" does not exist'), 'database "{0}" does not exist: check {db}, or create it first'),
    (re.compile(r'no password supplied|fe_sendauth: no password'), 'the server asks for a password: set {password}'),
    (re.compile(r'could not translate host name "([^"]*)"'), 'unknown host "{0}": check {host}'),
    (re.compile(r'Connection refused'), 'connection refused: is the server running and listening on that host and port?'),
    (re.compile(r'timeout expired|timed out'), 'no answer within connect_timeout: check {host}, {port} and firewalls'),
    (re.compile(r'No such file or directory\s+Is the server running locally'),
     'no server socket: is PostgreSQL running locally, or should {host} be set?'),
    (re.compile(r'pg_hba\.conf'), 'the server refuses this host/role/database combination (pg_hba.conf)'),
)


def describe_connection_error(text: str, options: dict[str, str] | None = None) -> str | None:
    """A short, actionable reason for a libpq connection failure (from psycopg or a tool's stderr), or None.

    ``options`` names what sets each part of the connection (CONNECTION_OPTIONS by default)."""
    for pattern, message in CONNECTION_ERRORS:
        match = pattern.search(text)
        if match:
            return message.format(*match.groups(), **(options or CONNECTION_OPTIONS))
    return None


def connect(params: dict[str, t.Any], dbname: str | None = None, autocommit: bool = True) -> t.Any:
    """A psycopg connection, or PostgresError saying why there is none."""
    try:
        return psycopg.connect(autocommit=autocommit, **psycopg_kwargs(params, dbname))
    except psycopg.OperationalError as exc:
        text = str(exc).strip()
        reason = describe_connection_error(text)
        raise PostgresError('cannot connect to %s: %s' % (
            connection_target(params, dbname), '%s (%s)' % (reason, first_line(text)) if reason else text)) from None


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ''


class PsycopgCatalog:
    """Queries sent from the module's host with psycopg (one connection per database, reused)."""

    def __init__(self, params: dict[str, t.Any]) -> None:
        self.params = params
        self.connections: dict[str, t.Any] = {}

    def _connection(self, dbname: str) -> t.Any:
        if dbname not in self.connections:
            self.connections[dbname] = connect(self.params, dbname)
        return self.connections[dbname]

    def scalar(self, query: str, dbname: str) -> str | None:
        try:
            row = self._connection(dbname).execute(query).fetchone()
        except psycopg.Error as exc:
            target = connection_target(self.params, dbname)
            raise PostgresError('query failed on %s: %s' % (target, first_line(str(exc)))) from None
        return None if row is None or row[0] is None else str(row[0])

    def execute(self, statement: str, dbname: str) -> None:
        try:
            self._connection(dbname).execute(statement)
        except psycopg.Error as exc:
            raise PostgresError('%s failed on %s: %s' % (statement, connection_target(self.params, dbname),
                                                         first_line(str(exc)))) from None

    def disconnect(self, dbname: str) -> None:
        """Close the session on a database before it is dropped (DROP ... WITH (FORCE) would end it anyway)."""
        conn = self.connections.pop(dbname, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for conn in self.connections.values():
            conn.close()
        self.connections.clear()


class PsqlCatalog:
    """The same queries sent through psql where the commands run (``exec_via``): the server may be
    reachable only from inside that container or pod."""

    def __init__(self, params: dict[str, t.Any], transport: t.Any, psql: str, record: t.Callable[[str], None]) -> None:
        self.params = params
        self.transport = transport
        self.psql = psql
        self.record = record

    def _run(self, query: str, dbname: str) -> str:
        argv = [self.psql, '--no-psqlrc', '--no-password', '--tuples-only', '--no-align', '--quiet',
                '--set=ON_ERROR_STOP=1', '--dbname=%s' % dbname, '--command=%s' % query]
        result = self.transport.run(argv, libpq_env(self.params, dbname))
        self.record(result.command)
        if result.rc != 0:
            reason = describe_connection_error(result.stderr)
            if reason:
                raise PostgresError('cannot connect to %s: %s (%s)' % (
                    connection_target(self.params, dbname), reason, first_line(result.stderr)))
            raise PostgresError('psql failed on %s (rc %d): %s' % (
                connection_target(self.params, dbname), result.rc, result.stderr.strip() or query))
        return result.stdout_text()

    def scalar(self, query: str, dbname: str) -> str | None:
        lines = self._run(query, dbname).splitlines()
        return lines[0] if lines and lines[0] != '' else None

    def execute(self, statement: str, dbname: str) -> None:
        self._run(statement, dbname)

    def disconnect(self, dbname: str) -> None:
        return None

    def close(self) -> None:
        return None


def server_version_num(catalog: t.Any, dbname: str) -> int:
    """``server_version_num``, e.g. 150018 for 15.18."""
    return int(catalog.scalar('SHOW server_version_num', dbname))


def database_size(catalog: t.Any, dbname: str) -> int:
    return int(catalog.scalar('SELECT pg_database_size(current_database())', dbname))


def database_exists(catalog: t.Any, name: str, maintenance_db: str) -> bool:
    return catalog.scalar('SELECT 1 FROM pg_database WHERE datname = %s' % quote_literal(name), maintenance_db) == '1'


def alembic_revision(catalog: t.Any, dbname: str) -> str | None:
    """The alembic head(s) recorded in the database (comma separated when branched), or None without alembic."""
    if catalog.scalar("SELECT to_regclass('alembic_version') IS NOT NULL", dbname) not in ('t', 'True', 'true'):
        return None
    return catalog.scalar("SELECT string_agg(version_num, ',' ORDER BY version_num) FROM alembic_version", dbname)


def json_value(catalog: t.Any, query: str, dbname: str) -> t.Any:
    """The value of a query that returns one JSON text (one line, whatever it holds, through psql too)."""
    text = catalog.scalar(query, dbname)
    return None if text is None else json.loads(text)


def database_comment(catalog: t.Any, name: str, maintenance_db: str) -> str | None:
    return json_value(catalog, "SELECT to_json(shobj_description(oid, 'pg_database'))::text FROM pg_database "
                               "WHERE datname = %s" % quote_literal(name), maintenance_db)


def system_identifier(catalog: t.Any, dbname: str) -> str | None:
    """The cluster's system identifier (unique per initdb), or None where pg_control_system() is not granted."""
    return catalog.scalar("SELECT CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE') "
                          "THEN (SELECT system_identifier::text FROM pg_control_system()) END", dbname)


def restore_role(catalog: t.Any, target: str, target_owner: str | None, maintenance_db: str) -> dict[str, t.Any]:
    """What a restore's privilege check needs to know of the login role (see _pg_backup.restore_privilege_error)."""
    owner_check = ("(SELECT pg_has_role(o.oid, 'USAGE') FROM pg_roles o WHERE o.rolname = %s)" % quote_literal(target_owner)
                   if target_owner else 'NULL')
    return json_value(catalog, (
        "SELECT json_build_object('user', current_user, 'superuser', r.rolsuper, 'createdb', r.rolcreatedb, "
        "'owns_target', (SELECT pg_has_role(d.datdba, 'USAGE') FROM pg_database d WHERE d.datname = %s), "
        "'target_owner', %s)::text FROM pg_roles r WHERE r.rolname = current_user"
    ) % (quote_literal(target), owner_check), maintenance_db)


def user_relations(catalog: t.Any, dbname: str, kinds: t.Sequence[str], limit: int) -> dict[str, t.Any]:
    """How many tables/views (of these relkinds) a database holds outside the system schemas, and the first names."""
    return json_value(catalog, (
        "SELECT json_build_object('count', count(*), 'names', coalesce((array_agg(format('%%I.%%I', n.nspname, "
        "c.relname) ORDER BY n.nspname, c.relname))[1:%d], '{}'))::text FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN (%s) "
        "AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%'"
    ) % (limit, ', '.join(quote_literal(kind) for kind in kinds)), dbname)


# Every catalog whose objects live in a schema and can be dropped by name: (catalog, namespace column).
SCHEMA_CATALOGS = (
    ('pg_extension', 'extnamespace'), ('pg_class', 'relnamespace'), ('pg_type', 'typnamespace'),
    ('pg_proc', 'pronamespace'), ('pg_collation', 'collnamespace'), ('pg_conversion', 'connamespace'),
    ('pg_operator', 'oprnamespace'), ('pg_opfamily', 'opfnamespace'), ('pg_opclass', 'opcnamespace'),
    ('pg_ts_config', 'cfgnamespace'), ('pg_ts_dict', 'dictnamespace'), ('pg_ts_parser', 'prsnamespace'),
    ('pg_ts_template', 'tmplnamespace'), ('pg_statistic_ext', 'stxnamespace'),
)


def schema_objects(catalog: t.Any, dbname: str, schemas: t.Sequence[str]) -> list[list[str]]:
    """[type, identity] (pg_identify_object) of every object in these schemas that can be dropped on its own.

    Left out, as they go with what they belong to: extension members, objects internal to another (array and
    row types, identity sequences, range constructors), sequences owned by a column, partitions and indexes.
    Extensions come first, then by type and identity.
    """
    if not schemas:
        return []
    selects = []
    for table, column in SCHEMA_CATALOGS:
        where = '%s IN (SELECT oid FROM ns)' % column
        if table == 'pg_class':
            where += " AND relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
        elif table == 'pg_type':
            # A composite type is its pg_type row (its pg_class row is internal to it); a table's row type is not.
            where += " AND (typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = typrelid) = 'c')"
        selects.append("SELECT '%s'::regclass AS classid, oid AS objid FROM %s WHERE %s" % (table, table, where))
    return json_value(catalog, (
        "WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname IN (%s)), objects AS (%s) "
        "SELECT coalesce(json_agg(json_build_array(i.type, i.identity) ORDER BY "
        "o.classid = 'pg_extension'::regclass DESC, i.type, i.identity), '[]')::text "
        "FROM objects o, LATERAL pg_identify_object(o.classid, o.objid, 0) i "
        "WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid "
        "AND NOT (d.refclassid = o.classid AND d.refobjid = o.objid) AND (d.deptype IN ('e', 'i') OR "
        "(d.deptype = 'a' AND o.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass)))"
    ) % (', '.join(quote_literal(name) for name in schemas), ' UNION ALL '.join(selects)), dbname)


def quote_ident(name: str) -> str:
    """An SQL identifier, for statements also sent through psql (where no client-side binding exists)."""
    return '"%s"' % name.replace('"', '""')


def quote_literal(value: str) -> str:
    """An SQL string literal (standard_conforming_strings is on by default since 9.1)."""
    if '\0' in value:
        raise ValueError('NUL byte in an SQL literal')
    return "'%s'" % value.replace("'", "''")
