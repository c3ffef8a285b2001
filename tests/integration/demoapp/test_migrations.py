"""Migrations up and down between every pair of releases, checked on the real schema and data."""

from __future__ import annotations

import subprocess

import pytest

from .support import base_env, columns, revision, tables

V1_USERS = {'id', 'email', 'password_hash', 'full_name', 'created_at'}
V1_POSTS = {'id', 'user_id', 'title', 'body', 'created_at'}


def names(postgres, database):
    """{email: (full_name, display_name)}, None for a column the schema does not have."""
    present = columns(postgres, database, 'users')
    full = 'full_name' if 'full_name' in present else 'NULL'
    display = 'display_name' if 'display_name' in present else 'NULL'
    rows = postgres.query('SELECT email, %s, %s FROM users' % (full, display), dbname=database)
    return {row[0]: (row[1], row[2]) for row in rows}


def post_titles(postgres, database):
    return sorted(row[0] for row in postgres.query('SELECT title FROM posts', dbname=database))


def assert_schema(postgres, database, head):
    assert revision(postgres, database) == [head]
    expected_tables = {'alembic_version', 'users', 'posts'} | ({'audit_log'} if head >= '0002' else set())
    assert tables(postgres, database) == expected_tables
    users = {'0001': V1_USERS, '0002': V1_USERS | {'display_name'}, '0003': V1_USERS - {'full_name'} | {'display_name'}}
    assert columns(postgres, database, 'users') == users[head]
    assert columns(postgres, database, 'posts') == V1_POSTS


@pytest.fixture()
def dsn(postgres, database):
    return postgres.dsn(database, 'artisan')


def test_1_2_3_2_1_keeps_the_data(demoapp_releases, postgres, database, dsn):
    v1, v2, v3 = (demoapp_releases[version] for version in ('1.0.0', '2.0.0', '3.0.0'))
    v1.migrate(dsn, 'upgrade', 'head')
    assert_schema(postgres, database, '0001')
    postgres.load_sql(database, "INSERT INTO users (email, password_hash, full_name) VALUES ('carol@example.com', 'x', 'Carol');"
                                "INSERT INTO posts (user_id, title) SELECT id, 'by carol' FROM users WHERE email = 'carol@example.com'")
    assert names(postgres, database) == {'test@example.com': ('Test User', None), 'carol@example.com': ('Carol', None)}

    v2.migrate(dsn, 'upgrade', 'head')
    assert_schema(postgres, database, '0002')
    # The expand migration backfilled the new column from the old one.
    assert names(postgres, database) == {'test@example.com': ('Test User', 'Test User'), 'carol@example.com': ('Carol', 'Carol')}
    # Rows as each release writes them on this schema: release 2 both columns, release 1 only full_name.
    postgres.load_sql(database, "INSERT INTO users (email, password_hash, full_name, display_name) VALUES ('dave@example.com', 'x', 'Dave', 'Dave');"
                                "INSERT INTO users (email, password_hash, full_name) VALUES ('erin@example.com', 'x', 'Erin');"
                                "INSERT INTO audit_log (user_id, action) SELECT id, 'login' FROM users WHERE email = 'dave@example.com'")

    v3.migrate(dsn, 'upgrade', 'head')
    assert_schema(postgres, database, '0003')
    everyone = {'test@example.com': 'Test User', 'carol@example.com': 'Carol', 'dave@example.com': 'Dave', 'erin@example.com': 'Erin'}
    assert names(postgres, database) == {email: (None, name) for email, name in everyone.items()}
    assert postgres.query('SELECT count(*) FROM audit_log', dbname=database) == [(1,)]

    v3.migrate(dsn, 'downgrade', '0002')
    assert_schema(postgres, database, '0002')
    assert names(postgres, database) == {email: (name, name) for email, name in everyone.items()}
    assert postgres.query('SELECT count(*) FROM audit_log', dbname=database) == [(1,)]

    # Release 2's own tool can take its migration back down.
    v2.migrate(dsn, 'downgrade', '0001')
    assert_schema(postgres, database, '0001')
    assert names(postgres, database) == {email: (name, None) for email, name in everyone.items()}
    assert post_titles(postgres, database) == ['Welcome', 'by carol']

    v1.migrate(dsn, 'downgrade', 'base')
    assert tables(postgres, database) == {'alembic_version'}
    assert revision(postgres, database) == []


def test_1_to_3_and_3_to_1_in_one_step(demoapp_releases, postgres, database, dsn):
    demoapp_releases['1.0.0'].migrate(dsn, 'upgrade', 'head')
    postgres.load_sql(database, "INSERT INTO users (email, password_hash, full_name) VALUES ('frank@example.com', 'x', 'Frank')")
    v3 = demoapp_releases['3.0.0']
    output = v3.migrate(dsn, 'upgrade', 'head').stderr
    assert 'Running upgrade 0001 -> 0002' in output and 'Running upgrade 0002 -> 0003' in output
    assert_schema(postgres, database, '0003')
    assert names(postgres, database)['frank@example.com'] == (None, 'Frank')
    v3.migrate(dsn, 'downgrade', '0001')
    assert_schema(postgres, database, '0001')
    assert names(postgres, database) == {'test@example.com': ('Test User', None), 'frank@example.com': ('Frank', None)}
    assert post_titles(postgres, database) == ['Welcome']


def test_a_release_knows_only_its_own_migrations(demoapp_releases, postgres, database, dsn):
    for version, head in (('1.0.0', '0001'), ('2.0.0', '0002'), ('3.0.0', '0003')):
        proc = demoapp_releases[version].run('migrate', 'heads')
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [head, '(head)']
    # Rolling back from a newer release's schema takes that release's tool: release 1 cannot find 0003.
    demoapp_releases['3.0.0'].migrate(dsn, 'upgrade', 'head')
    proc = demoapp_releases['1.0.0'].migrate(dsn, 'downgrade', 'base', check=False)
    assert proc.returncode != 0
    assert "Can't locate revision identified by '0003'" in proc.stdout + proc.stderr
    assert revision(postgres, database) == ['0003']


def test_plain_alembic_with_the_packaged_config(demoapp_releases, postgres, database, dsn):
    release = demoapp_releases['2.0.0']
    ini = release.run('config-path').stdout.strip()
    assert ini.endswith('/site-packages/demoapp/alembic.ini')
    proc = subprocess.run([release.bin('alembic'), '-c', ini, '-x', 'url=' + dsn, 'upgrade', 'head'], env=base_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert_schema(postgres, database, '0002')
    # As the runbook's migration job runs it: `alembic current`, with ALEMBIC_CONFIG and DATABASE_URL set.
    proc = subprocess.run([release.bin('alembic'), 'current'], env=base_env({'ALEMBIC_CONFIG': ini, 'DATABASE_URL': dsn}),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['0002', '(head)']


def test_migrate_without_a_database_url_says_so(demoapp_releases):
    proc = demoapp_releases['2.0.0'].run('migrate', 'upgrade', 'head')
    assert proc.returncode != 0
    assert 'DATABASE_URL is not set (or pass -x url=postgresql://...)' in proc.stderr


def test_offline_sql_needs_no_database(demoapp_releases):
    proc = demoapp_releases['3.0.0'].run('migrate', 'upgrade', '0001:0003', '--sql')
    assert proc.returncode == 0, proc.stderr
    assert 'ALTER TABLE users ADD COLUMN display_name VARCHAR(200)' in proc.stdout
    assert 'ALTER TABLE users DROP COLUMN full_name' in proc.stdout
    assert "UPDATE alembic_version SET version_num='0003'" in proc.stdout


def test_unsafe_migrations_sit_outside_the_normal_chain(demoapp_releases, postgres, database, dsn):
    v2 = demoapp_releases['2.0.0']
    assert v2.run('migrate', '--unsafe', 'heads').stdout.split() == ['u0002', '(head)']
    v2.migrate(dsn, 'upgrade', 'head')
    assert v2.migrate(dsn, 'upgrade', 'head').stderr.count('Running upgrade') == 0

    v2.migrate(dsn, '--unsafe', 'upgrade', 'u0001')
    assert revision(postgres, database) == ['u0001']
    indexes = postgres.query("SELECT indexname FROM pg_indexes WHERE tablename = 'users'", dbname=database)
    assert ('ix_users_display_name',) in indexes

    # A NOT NULL column without a default: PostgreSQL refuses it on a table with rows, and the transaction rolls back.
    proc = v2.migrate(dsn, '--unsafe', 'upgrade', 'u0002', check=False)
    assert proc.returncode != 0
    assert 'contains null values' in proc.stdout + proc.stderr
    assert revision(postgres, database) == ['u0001']
    assert 'email_verified' not in columns(postgres, database, 'users')

    v2.migrate(dsn, '--unsafe', 'downgrade', '0002')
    assert revision(postgres, database) == ['0002']
    indexes = postgres.query("SELECT indexname FROM pg_indexes WHERE tablename = 'users'", dbname=database)
    assert ('ix_users_display_name',) not in indexes
