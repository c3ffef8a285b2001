# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options: one argument spec, the environment of libpq tools, readable connection failures."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _postgres as pg
from ansible_collections.artisan.upgrade.tests.unit.plugins.module_utils import pg_tool_outputs as recorded

PARAMS = dict(login_host='db.internal', port=5433, login_user='app', login_password='s3cret', db='shop',
              login_unix_socket=None, ssl_mode='verify-full', ssl_rootcert='/etc/ssl/ca.pem', connect_timeout=7)


def test_argument_spec_marks_the_password_no_log_and_falls_back_to_pg_environment():
    spec = pg.postgres_common_argument_spec()
    assert spec['login_password']['no_log'] is True
    fallbacks = {name: option['fallback'][1][0] for name, option in spec.items() if 'fallback' in option}
    assert fallbacks == {'login_host': 'PGHOST', 'port': 'PGPORT', 'login_user': 'PGUSER', 'login_password': 'PGPASSWORD',
                         'db': 'PGDATABASE', 'ssl_mode': 'PGSSLMODE', 'ssl_rootcert': 'PGSSLROOTCERT'}
    assert spec['db']['aliases'] == ['dbname', 'login_db']


def test_libpq_env_carries_every_option_and_the_password():
    assert pg.libpq_env(PARAMS) == {
        'PGAPPNAME': 'artisan.upgrade', 'PGCONNECT_TIMEOUT': '7', 'PGHOST': 'db.internal', 'PGPORT': '5433',
        'PGUSER': 'app', 'PGPASSWORD': 's3cret', 'PGDATABASE': 'shop', 'PGSSLMODE': 'verify-full',
        'PGSSLROOTCERT': '/etc/ssl/ca.pem'}


def test_libpq_env_prefers_the_socket_and_leaves_unset_options_to_libpq():
    env = pg.libpq_env(dict(login_unix_socket='/run/postgresql', login_host='ignored', connect_timeout=None), 'other')
    assert env == {'PGAPPNAME': 'artisan.upgrade', 'PGCONNECT_TIMEOUT': '10', 'PGHOST': '/run/postgresql', 'PGDATABASE': 'other'}


def test_psycopg_kwargs_match_the_environment():
    assert pg.psycopg_kwargs(PARAMS, 'postgres') == dict(
        host='db.internal', port=5433, user='app', password='s3cret', dbname='postgres', sslmode='verify-full',
        sslrootcert='/etc/ssl/ca.pem', connect_timeout=7, application_name='artisan.upgrade')


def test_connection_target_never_shows_the_password():
    target = pg.connection_target(PARAMS)
    assert target == 'database "shop" on db.internal:5433'
    assert 's3cret' not in target


@pytest.mark.parametrize('stderr, reason', [
    (recorded.PG_DUMP_WRONG_PASSWORD[1], 'wrong password for role "artisan": check login_password'),
    (recorded.PG_DUMP_MISSING_DATABASE[1], 'database "nosuch" does not exist: check db'),
    (recorded.PG_DUMP_REFUSED[1], 'connection refused: is the server running'),
    (recorded.PG_DUMP_UNKNOWN_HOST[1], 'unknown host "nonexistent.invalid": check login_host'),
    ('FATAL:  role "ghost" does not exist', 'role "ghost" does not exist: check login_user'),
    ('fe_sendauth: no password supplied', 'the server asks for a password: set login_password'),
    ('connection to server at "10.0.0.1", port 5432 failed: timeout expired', 'no answer within connect_timeout'),
    ('FATAL:  no pg_hba.conf entry for host "10.1.1.1"', 'the server refuses this host/role/database combination'),
])
def test_describe_connection_error(stderr, reason):
    assert pg.describe_connection_error(stderr).startswith(reason)


def test_describe_connection_error_leaves_other_errors_alone():
    assert pg.describe_connection_error('pg_dump: error: query failed: ERROR:  permission denied for table x') is None


@pytest.mark.parametrize('name, quoted', [('shop', '"shop"'), ('we"ird', '"we""ird"'), ('Mixed Case', '"Mixed Case"')])
def test_quote_ident(name, quoted):
    assert pg.quote_ident(name) == quoted


def test_quote_literal():
    assert pg.quote_literal("it's") == "'it''s'"
    with pytest.raises(ValueError):
        pg.quote_literal('a\0b')


class FakeTransport:
    kind = 'docker'

    def __init__(self, rc, stdout=b'', stderr=''):
        self.result = type('R', (), dict(rc=rc, stdout=stdout, stderr=stderr, command='psql ...',
                                         stdout_text=lambda self: stdout.decode()))()
        self.calls = []

    def run(self, argv, env, stdin=None, stdout=None):
        self.calls.append((argv, env))
        return self.result


def test_psql_catalog_reads_one_value_and_passes_the_password_in_the_environment():
    transport = FakeTransport(0, b'150018\n')
    commands = []
    catalog = pg.PsqlCatalog(PARAMS, transport, 'psql', commands.append)
    assert pg.server_version_num(catalog, 'shop') == 150018
    argv, env = transport.calls[0]
    assert argv[-1] == '--command=SHOW server_version_num' and '--dbname=shop' in argv
    assert env['PGPASSWORD'] == 's3cret' and not any('s3cret' in a for a in argv)
    assert commands == ['psql ...']


def test_psql_catalog_null_is_none_and_failures_are_explained():
    assert pg.PsqlCatalog(PARAMS, FakeTransport(0, b'\n'), 'psql', list().append).scalar('SELECT NULL', 'shop') is None
    failing = pg.PsqlCatalog(PARAMS, FakeTransport(2, stderr='psql: error: ' + recorded.PG_DUMP_WRONG_PASSWORD[1]),
                             'psql', list().append)
    with pytest.raises(pg.PostgresError, match='cannot connect to database "shop" on db.internal:5433: wrong password'):
        failing.scalar('SELECT 1', 'shop')


def test_json_values_come_back_whole_through_psql():
    # A multi-line comment is one line of JSON, so psql's first line holds all of it.
    transport = FakeTransport(0, b'"Shop data\\nartisan.restored_from: pre@sha256:ab"\n')
    catalog = pg.PsqlCatalog(PARAMS, transport, 'psql', list().append)
    assert pg.database_comment(catalog, "it's", 'postgres') == 'Shop data\nartisan.restored_from: pre@sha256:ab'
    assert "WHERE datname = 'it''s'" in transport.calls[0][0][-1]
    assert pg.database_comment(pg.PsqlCatalog(PARAMS, FakeTransport(0, b'\n'), 'psql', list().append), 'x', 'postgres') is None


def test_user_relations_and_restore_role_queries():
    transport = FakeTransport(0, b'{"count" : 2, "names" : ["public.a","public.b"]}\n')
    catalog = pg.PsqlCatalog(PARAMS, transport, 'psql', list().append)
    assert pg.user_relations(catalog, 'shop', ('r', 'v'), 10) == {'count': 2, 'names': ['public.a', 'public.b']}
    query = transport.calls[0][0][-1]
    assert "relkind IN ('r', 'v')" in query and '[1:10]' in query and "format('%I.%I'" in query
    assert "NOT LIKE 'pg\\_%'" in query
    pg.restore_role(catalog, 'shop', None, 'postgres')
    assert "'target_owner', NULL)" in transport.calls[1][0][-1]
    pg.restore_role(catalog, 'shop', 'web', 'postgres')
    assert "o.rolname = 'web'" in transport.calls[2][0][-1] and '--dbname=postgres' in transport.calls[2][0]
