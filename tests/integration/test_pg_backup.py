"""pg_backup against a real PostgreSQL 15 (and one in a container), run through ansible-playbook.

Every test checks the real outcome independently of the module's answer: files and their modes in
the backup folder, manifests against the bytes on disk, and table contents (row counts and md5 of
every row) before and after a restore.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import stat
import subprocess
import tempfile

import psycopg
import pytest

from .helpers.ansible import assert_ok, run_module_tasks
from .helpers.collection import start_python, wait_with_peak_rss
from .helpers.postgres import APP_PASSWORD, APP_USER, SUPERUSER, SUPERUSER_PASSWORD, free_port

MODULE = 'artisan.upgrade.pg_backup'
SEED = """
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, note text);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers, total numeric(10,2), made timestamptz);
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('ae1027a6acf');
INSERT INTO customers (email, note) SELECT 'c' || g || '@example.com', repeat('x', g % 50) FROM generate_series(1, 500) g;
INSERT INTO orders (customer_id, total, made)
  SELECT 1 + g % 500, g * 1.25, '2024-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 3000) g;
"""


def fingerprint(postgres, dbname):
    """Row count and md5 of the sorted rows of every table in public: equal fingerprints, equal data."""
    tables = [r[0] for r in postgres.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", dbname=dbname)]
    return {table: postgres.query(
        'SELECT count(*), md5(coalesce(string_agg(t::text, %s ORDER BY t::text), %s)) FROM "{}" t'.format(table),
        ['|', ''], dbname=dbname)[0] for table in tables}


def sha256(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture()
def seeded(postgres, database):
    postgres.load_sql(database, SEED)
    return database


@pytest.fixture()
def conn(postgres):
    """Connection options of the superuser (restores create and drop databases)."""
    return dict(login_host='127.0.0.1', port=postgres.port, login_user=SUPERUSER, login_password=SUPERUSER_PASSWORD)


@pytest.fixture()
def scratch_dbs(postgres):
    """Names of extra databases a test restores into; dropped afterwards."""
    names = []
    yield names
    for name in names:
        postgres.drop_database(name)


def run_tasks(run_playbook, tasks, check=False):
    return run_module_tasks(run_playbook, MODULE, tasks, check)


def listing(dest):
    return sorted(os.listdir(dest)) if os.path.isdir(dest) else []


def read_manifest(path):
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


# --- state present --------------------------------------------------------------------------------

def test_present_check_real_check_real(postgres, seeded, conn, tmp_path, run_module, run_playbook):
    dest = str(tmp_path / 'backups')
    args = dict(conn, db=seeded, dest=dest, label='pre-upgrade-2.0.0', metadata={'app_version': '1.4.2'})

    planned = run_module(MODULE, args, check=True, diff=True)
    assert_ok(planned)
    assert planned['changed'] is True
    assert planned['path'] == os.path.join(dest, '%s--pre-upgrade-2.0.0.dump' % seeded)
    assert 'would write backup pre-upgrade-2.0.0' in planned['msg']
    assert 'pre-upgrade-2.0.0' in planned['diff']['after'] and planned['diff']['before'] == ''
    assert not os.path.exists(dest), 'check mode created the backup folder'

    real, check_again, real_again = run_tasks(run_playbook, [args, (args, {'check_mode': True}), args])
    assert_ok(real)
    assert real['changed'] is True
    path, manifest_path = real['path'], real['manifest_path']
    assert listing(dest) == sorted([os.path.basename(path), os.path.basename(manifest_path)])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(manifest_path).st_mode) == 0o600
    on_disk = read_manifest(manifest_path)
    assert on_disk == real['manifest']
    assert on_disk['sha256'] == sha256(path) and on_disk['size'] == os.path.getsize(path)
    assert (on_disk['database'], on_disk['label'], on_disk['format']) == (seeded, 'pre-upgrade-2.0.0', 'custom')
    assert on_disk['compression'] == {'method': 'gzip', 'level': 1}
    assert on_disk['alembic_revision'] == 'ae1027a6acf'
    assert on_disk['metadata'] == {'app_version': '1.4.2'}
    assert on_disk['server_version'].startswith('15.') and on_disk['pg_dump_version'].startswith('15.')
    assert on_disk['toc_entries'] >= 10  # 3 tables, their data, sequences, constraints
    assert on_disk['started_at'] <= on_disk['finished_at']
    assert any('--format=custom' in c and '--compress=1' in c for c in real['commands'])
    assert not any(SUPERUSER_PASSWORD in c for c in real['commands'])
    assert real['diff']['before'] == '' and 'pre-upgrade-2.0.0' in real['diff']['after']

    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False, again['msg']
        assert again['path'] == path
    assert read_manifest(manifest_path) == on_disk and sha256(path) == on_disk['sha256']


FORMATS = [  # (format, extra options, file suffix)
    ('directory', {'jobs': 2}, '.dir'),
    ('plain', {}, '.sql.gz'),
]


def test_other_formats_round_trip_into_a_new_database(postgres, seeded, conn, tmp_path, run_playbook, scratch_dbs):
    dest = str(tmp_path / 'backups')
    tasks = []
    for index, (fmt, options, _suffix) in enumerate(FORMATS):
        target = '%s_copy%d' % (seeded[:40], index)
        scratch_dbs.append(target)
        tasks += [dict(conn, db=seeded, dest=dest, label='v%d' % index, format=fmt, **options),
                  dict(conn, state='restored', db=seeded, dest=dest, label='v%d' % index, target_db=target,
                       restore_mode='create', jobs=options.get('jobs', 1))]
    results = run_tasks(run_playbook, tasks)
    original = fingerprint(postgres, seeded)
    for index, (fmt, _options, suffix) in enumerate(FORMATS):
        backup, restore = results[2 * index], results[2 * index + 1]
        assert_ok(backup)
        assert backup['path'].endswith(suffix)
        assert backup['manifest']['sha256'] == read_manifest(backup['manifest_path'])['sha256']
        if fmt == 'directory':
            assert os.path.isdir(backup['path'])
            assert all(stat.S_IMODE(os.stat(f).st_mode) == 0o600 for f in glob.glob(backup['path'] + '/*'))
            assert backup['manifest']['toc_entries'] >= 10
            assert any('--jobs=2' in c for c in backup['commands'] + restore['commands'])
        else:
            assert backup['manifest']['toc_entries'] is None
        assert_ok(restore)
        assert restore['steps'] == ['create', 'restore']
        assert fingerprint(postgres, scratch_dbs[index]) == original, fmt


# --- state restored -------------------------------------------------------------------------------

def test_restored_check_real_check_real_brings_the_data_back(postgres, seeded, conn, tmp_path, run_playbook):
    dest = str(tmp_path / 'backups')
    original = fingerprint(postgres, seeded)
    assert original['orders'][0] == 3000
    [backup] = run_tasks(run_playbook, [dict(conn, db=seeded, dest=dest, label='pre-2.0.0')])
    assert_ok(backup)
    # What a failed upgrade does: a dropped table, lost rows, a changed row, a new table.
    postgres.load_sql(seeded, "DROP TABLE orders; DELETE FROM customers WHERE id > 100;"
                              "UPDATE customers SET note = 'changed' WHERE id = 1; CREATE TABLE v2_only (x int);")
    damaged = fingerprint(postgres, seeded)
    restore = dict(conn, state='restored', db=seeded, dest=dest, label='pre-2.0.0')

    [planned] = run_tasks(run_playbook, [(restore, {'check_mode': True})])
    assert_ok(planned)
    assert planned['changed'] is True and planned['steps'] == ['clean', 'restore']
    assert fingerprint(postgres, seeded) == damaged, 'check mode changed the database'

    real, check_again, real_again = run_tasks(run_playbook, [restore, (restore, {'check_mode': True}), restore])
    assert_ok(real)
    assert real['changed'] is True
    restored = fingerprint(postgres, seeded)
    # clean restores the backup's objects; an object the backup does not know (v2_only) stays.
    assert {k: v for k, v in restored.items() if k != 'v2_only'} == original
    assert any('--single-transaction' in c and '--clean' in c for c in real['commands'])
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False, again['msg']
    assert fingerprint(postgres, seeded) == restored


def test_recreate_restores_exactly_and_a_corrupted_backup_is_refused(postgres, seeded, conn, tmp_path, run_playbook):
    dest = str(tmp_path / 'backups')
    original = fingerprint(postgres, seeded)
    good, bad = run_tasks(run_playbook, [dict(conn, db=seeded, dest=dest, label=label) for label in ('good', 'bad')])
    assert_ok(good) and assert_ok(bad)
    with open(bad['path'], 'r+b') as handle:  # one flipped byte in the middle of the archive
        handle.seek(os.path.getsize(bad['path']) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    postgres.load_sql(seeded, 'CREATE TABLE v2_only (x int); TRUNCATE orders;')
    session = postgres.connect(seeded)  # an open session must not block the drop
    try:
        refused, restored = run_tasks(run_playbook, [
            dict(conn, state='restored', db=seeded, dest=dest, label='bad', restore_mode='recreate'),
            dict(conn, state='restored', path=good['path'], restore_mode='recreate', target_owner='artisan'),
        ])
    finally:
        session.close()
    assert refused['failed'] is True
    assert 'is corrupted' in refused['msg'] and 'Refusing to restore' in refused['msg']
    assert refused['commands'] == [] and refused['queries'] == []  # the database was not touched
    assert_ok(restored)
    assert restored['steps'] == ['drop', 'create', 'restore']
    assert fingerprint(postgres, seeded) == original
    assert postgres.query('SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s', [seeded]) == [('artisan',)]


def test_the_database_owner_restores_without_superuser_or_createdb(postgres, seeded, tmp_path, run_playbook):
    # The usual production role: owns the application database and its tables, nothing more.
    assert postgres.role_attributes(APP_USER) == (False, False)
    owner = dict(login_host='127.0.0.1', port=postgres.port, login_user=APP_USER, login_password=APP_PASSWORD)
    dest = str(tmp_path / 'backups')
    original = fingerprint(postgres, seeded)
    postgres.execute('COMMENT ON DATABASE "%s" IS \'Shop data: ask the shop team\'' % seeded)
    [backup] = run_tasks(run_playbook, [dict(owner, db=seeded, dest=dest, label='pre-2.0.0')])
    assert_ok(backup)
    postgres.load_sql(seeded, 'DELETE FROM orders WHERE id > 10; UPDATE customers SET note = NULL;')
    restore = dict(owner, state='restored', db=seeded, dest=dest, label='pre-2.0.0')

    planned, real, check_again, real_again = run_tasks(
        run_playbook, [(restore, {'check_mode': True}), restore, (restore, {'check_mode': True}), restore])
    assert_ok(planned)
    assert planned['changed'] is True
    assert planned['diff']['before'] == '%s: 3 tables or views, restored from (no pg_backup restore recorded)\n' % seeded
    assert planned['diff']['after'] == '%s: restored from pre-2.0.0@sha256:%s\n' % (seeded, backup['manifest']['sha256'])
    assert_ok(real)
    assert real['changed'] is True and real['steps'] == ['clean', 'restore']
    assert fingerprint(postgres, seeded) == original
    # The marker sits in the database's comment, below the owner's own text, which stays.
    marker = 'artisan.restored_from: pre-2.0.0@sha256:%s' % backup['manifest']['sha256']
    assert postgres.database_comment(seeded) == 'Shop data: ask the shop team\n' + marker
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False, again['msg']
        assert not any('pg_restore' in c for c in again['commands'])
    assert fingerprint(postgres, seeded) == original


# What a newer release's migrations do after the backup (demoapp 2.0.0's 0002 adds audit_log with a foreign key
# on users.id): new objects that depend on the backup's, a schema the backup does not know, changed data.
NEWER_SCHEMA = """
CREATE TYPE order_state AS ENUM ('new', 'paid');
ALTER TABLE orders ADD COLUMN state order_state DEFAULT 'new';
CREATE TABLE audit_log (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id), at timestamptz);
INSERT INTO audit_log (customer_id) SELECT id FROM customers WHERE id <= 10;
CREATE VIEW big_spenders AS SELECT customer_id, sum(total) AS spent FROM orders GROUP BY customer_id;
CREATE SEQUENCE invoice_numbers;
CREATE FUNCTION order_count(customer int) RETURNS bigint LANGUAGE sql AS
  'SELECT count(*) FROM public.orders WHERE customer_id = customer';
CREATE SCHEMA reporting;
CREATE TABLE reporting.daily (customer_id int REFERENCES public.customers (id), day date);
INSERT INTO reporting.daily VALUES (1, '2026-11-26');
UPDATE alembic_version SET version_num = 'b2c3d4e5f6a7';
DELETE FROM orders WHERE id > 2000;
INSERT INTO customers (email) VALUES ('after-backup@example.com');
"""
NEWER_OBJECTS = ['function public.order_count(integer)', 'sequence public.invoice_numbers', 'table public.audit_log',
                 'type public.order_state', 'view public.big_spenders']


def schema_of(postgres, dbname, schema='public'):
    """pg_dump --schema-only of one schema, without the random \\restrict key lines: equal text, equal schema."""
    out = subprocess.run(['pg_dump', '--schema-only', '--schema=%s' % schema, postgres.dsn(dbname)],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if not line.startswith(('\\restrict', '\\unrestrict'))]


@pytest.mark.parametrize('login', ['superuser', 'owner'])
def test_exact_restores_the_backup_over_a_newer_schema(postgres, seeded, conn, tmp_path, run_playbook, login):
    # The rollback case: the backup's own database, migrated since. 'owner' is the usual production role, the
    # database's owner without superuser or CREATEDB.
    if login == 'owner':
        conn = dict(conn, login_user=APP_USER, login_password=APP_PASSWORD)
    dest = str(tmp_path / 'backups')
    original, original_schema = fingerprint(postgres, seeded), schema_of(postgres, seeded)
    [backup] = run_tasks(run_playbook, [dict(conn, db=seeded, dest=dest, label='pre-2.0.0')])
    assert_ok(backup)
    postgres.load_sql(seeded, NEWER_SCHEMA)
    newer = fingerprint(postgres, seeded)
    restore = dict(conn, state='restored', db=seeded, dest=dest, label='pre-2.0.0')

    # clean cannot drop customers_pkey while audit_log's foreign key needs it: it fails, rolled back, and says why.
    [clean] = run_tasks(run_playbook, [restore])
    assert clean['failed'] is True and clean['changed'] is False
    assert 'the single transaction was rolled back' in clean['msg'] and 'restore_mode exact' in clean['msg']
    assert fingerprint(postgres, seeded) == newer

    exact = dict(restore, restore_mode='exact')
    [planned] = run_tasks(run_playbook, [(exact, {'check_mode': True})])
    assert_ok(planned)
    assert planned['changed'] is True and planned['steps'] == ['clear', 'restore']
    assert set(NEWER_OBJECTS) <= set(planned['dropped'])
    assert 'table public.customers' in planned['dropped'] and 'table reporting.daily' not in planned['dropped']
    assert 'schemas public: %d objects dropped' % len(planned['dropped']) in planned['diff']['before']
    assert '  - table public.audit_log\n' in planned['diff']['before']
    assert fingerprint(postgres, seeded) == newer, 'check mode changed the database'

    real, check_again, real_again = run_tasks(run_playbook, [exact, (exact, {'check_mode': True}), exact])
    assert_ok(real)
    assert real['changed'] is True and real['dropped'] == planned['dropped']
    assert fingerprint(postgres, seeded) == original
    assert schema_of(postgres, seeded) == original_schema
    assert postgres.query('SELECT version_num FROM alembic_version', dbname=seeded) == [('ae1027a6acf',)]
    # A schema the backup does not hold stays, without the foreign key onto the replaced table.
    assert postgres.query('SELECT count(*) FROM reporting.daily', dbname=seeded) == [(1,)]
    assert postgres.query("SELECT count(*) FROM pg_constraint WHERE conrelid = 'reporting.daily'::regclass "
                          "AND contype = 'f'", dbname=seeded) == [(0,)]
    assert any(c.startswith('psql ') and '--single-transaction' in c for c in real['commands'])
    assert 'DROP TABLE IF EXISTS public.audit_log CASCADE' in real['queries']
    assert not glob.glob(os.path.join(dest, '.artisan-tmp-*')), 'the SQL script was left behind'
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False, again['msg']
    assert fingerprint(postgres, seeded) == original


REFUSE_ORDERS = """
CREATE SCHEMA dba;
CREATE FUNCTION dba.refuse_orders() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity = 'public.orders') THEN
    RAISE EXCEPTION 'no orders table today';
  END IF;
END $$;
CREATE EVENT TRIGGER refuse_orders ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION dba.refuse_orders();
"""


def test_exact_is_all_or_nothing(postgres, seeded, tmp_path, run_playbook):
    owner = dict(login_host='127.0.0.1', port=postgres.port, login_user=APP_USER, login_password=APP_PASSWORD)
    dest = str(tmp_path / 'backups')
    original = fingerprint(postgres, seeded)
    [backup] = run_tasks(run_playbook, [dict(owner, db=seeded, dest=dest, label='pre')])
    assert_ok(backup)
    postgres.load_sql(seeded, NEWER_SCHEMA)
    # A DBA's event trigger refuses to create the orders table: the replay fails after every drop ran, and the
    # transaction takes the drops back with it.
    postgres.load_sql(seeded, REFUSE_ORDERS, user=SUPERUSER)
    newer = fingerprint(postgres, seeded)
    exact = dict(owner, state='restored', db=seeded, dest=dest, label='pre', restore_mode='exact')
    [refused] = run_tasks(run_playbook, [exact])
    assert refused['failed'] is True and refused['changed'] is False
    assert 'the single transaction was rolled back' in refused['msg'] and 'no orders table today' in refused['msg']
    assert 'table public.audit_log' in refused['dropped']
    assert fingerprint(postgres, seeded) == newer
    assert postgres.database_comment(seeded) is None

    postgres.load_sql(seeded, 'DROP EVENT TRIGGER refuse_orders', user=SUPERUSER)
    [restored] = run_tasks(run_playbook, [exact])
    assert_ok(restored)
    assert fingerprint(postgres, seeded) == original


def test_a_restore_lacking_privileges_is_refused_before_anything_changes(postgres, seeded, conn, tmp_path, run_playbook):
    owner = dict(login_host='127.0.0.1', port=postgres.port, login_user=APP_USER, login_password=APP_PASSWORD)
    dest = str(tmp_path / 'backups')
    [backup] = run_tasks(run_playbook, [dict(conn, db=seeded, dest=dest, label='pre')])
    assert_ok(backup)
    postgres.load_sql(seeded, 'DELETE FROM orders WHERE id > 10;')
    damaged = fingerprint(postgres, seeded)
    restore = dict(owner, state='restored', db=seeded, dest=dest, label='pre')
    # recreate: the owner may drop its database but, without CREATEDB, could never create it again.
    recreate = dict(restore, restore_mode='recreate')
    planned, refused = run_tasks(run_playbook, [(recreate, {'check_mode': True}), recreate])
    for result in (planned, refused):
        assert result['failed'] is True
        assert 'role "artisan" cannot restore into database "%s" with restore_mode recreate' % seeded in result['msg']
        assert 'CREATEDB' in result['msg'] and 'nothing was changed' in result['msg']
        assert result['queries'] == [] and not any('pg_restore' in c for c in result['commands'])
        assert result['diff']['before'] == result['diff']['after']
    assert postgres.query('SELECT 1 FROM pg_database WHERE datname = %s', [seeded]) == [(1,)]
    assert fingerprint(postgres, seeded) == damaged

    # clean: owning the tables is not enough, the restore marker needs the database's owner.
    postgres.execute('ALTER DATABASE "%s" OWNER TO %s' % (seeded, SUPERUSER))
    [not_owner] = run_tasks(run_playbook, [restore])
    assert not_owner['failed'] is True
    assert 'ownership of database "%s"' % seeded in not_owner['msg']
    assert not_owner['queries'] == [] and not any('pg_restore' in c for c in not_owner['commands'])
    assert fingerprint(postgres, seeded) == damaged
    assert postgres.database_comment(seeded) is None


def test_restoring_over_another_non_empty_database_needs_force(postgres, seeded, conn, tmp_path, run_playbook,
                                                               scratch_dbs):
    dest = str(tmp_path / 'backups')
    other = postgres.create_database(seeded[:40] + '_other')
    scratch_dbs.append(other)
    postgres.load_sql(other, "CREATE TABLE invoices (id int PRIMARY KEY); INSERT INTO invoices VALUES (1), (2);"
                             "CREATE TABLE customers (id int PRIMARY KEY, name text); INSERT INTO customers VALUES (7, 'x');")
    original, others = fingerprint(postgres, seeded), fingerprint(postgres, other)
    [backup] = run_tasks(run_playbook, [dict(conn, db=seeded, dest=dest, label='pre')])
    assert_ok(backup)
    into_other = dict(conn, state='restored', db=seeded, dest=dest, label='pre', target_db=other)

    planned, refused, recreate = run_tasks(run_playbook, [
        (into_other, {'check_mode': True}), into_other, dict(into_other, restore_mode='recreate')])
    for result in (planned, refused, recreate):
        assert result['failed'] is True
        assert ('database "%s" holds 2 tables or views (public.customers, public.invoices) and is not the '
                'database this backup was taken of ("%s")' % (other, seeded)) in result['msg']
        assert 'force: true' in result['msg']
        assert result['queries'] == [] and not any('pg_restore' in c for c in result['commands'])
        assert result['diff']['before'] == result['diff']['after']
    assert fingerprint(postgres, other) == others

    [forced] = run_tasks(run_playbook, [dict(into_other, force=True)])
    assert_ok(forced)
    assert forced['changed'] is True
    restored = fingerprint(postgres, other)
    assert {k: v for k, v in restored.items() if k != 'invoices'} == original  # clean keeps what the backup lacks

    # The rollback case: the backup's own database is restored into without force.
    postgres.load_sql(seeded, 'DELETE FROM orders WHERE id > 10;')
    [rollback] = run_tasks(run_playbook, [dict(conn, state='restored', db=seeded, dest=dest, label='pre')])
    assert_ok(rollback)
    assert rollback['changed'] is True
    assert fingerprint(postgres, seeded) == original


# --- state absent and retention -------------------------------------------------------------------

def test_absent_check_real_check_real(seeded, conn, tmp_path, run_playbook):
    dest = str(tmp_path / 'backups')
    absent = dict(db=seeded, dest=dest, state='absent', label='a')
    first, second, planned = run_tasks(run_playbook, [dict(conn, db=seeded, dest=dest, label='a'),
                                                      dict(conn, db=seeded, dest=dest, label='b'),
                                                      (absent, {'check_mode': True})])
    assert_ok(first) and assert_ok(second)
    assert planned['changed'] is True and planned['path'] == first['path']
    assert os.path.exists(first['path']) and os.path.exists(first['manifest_path'])

    real, check_again, real_again = run_tasks(run_playbook, [absent, (absent, {'check_mode': True}), absent])
    assert_ok(real)
    assert real['changed'] is True
    assert listing(dest) == sorted(os.path.basename(p) for p in (second['path'], second['manifest_path']))
    assert 'a ' in real['diff']['before'] and 'a ' not in real['diff']['after']
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False


def test_keep_and_max_age_never_prune_the_backup_just_taken(seeded, conn, tmp_path, run_playbook):
    dest = str(tmp_path / 'backups')
    take = [dict(conn, db=seeded, dest=dest, label=label) for label in ('r1', 'r2')]
    # keep: 2 counts the new one; max_age 0s would remove every older backup, never r4; re-running r4
    # reuses it with nothing left to prune.
    results = run_tasks(run_playbook, take + [dict(conn, db=seeded, dest=dest, label='r3', keep=2),
                                              dict(conn, db=seeded, dest=dest, label='r4', max_age='0s'),
                                              dict(conn, db=seeded, dest=dest, label='r4', max_age='0s')])
    assert all(not r.get('failed') for r in results), [r.get('msg') for r in results]
    r3, r4, again = results[2:]
    name = '%s--%%s.dump' % seeded
    assert [os.path.basename(p) for p in r3['pruned']] == [name % 'r1']
    assert sorted(os.path.basename(p) for p in r4['pruned']) == [name % 'r2', name % 'r3']
    assert listing(dest) == [name % 'r4', '%s--r4.manifest.json' % seeded]
    assert again['changed'] is False and again['pruned'] == []


def test_label_reuse_keeps_the_verified_backup_unless_forced(seeded, conn, tmp_path, run_playbook, postgres):
    dest = str(tmp_path / 'backups')
    args = dict(conn, db=seeded, dest=dest, label='pre')
    first, other_format, forced = run_tasks(run_playbook, [
        args, dict(args, format='plain'), dict(args, force=True, metadata={'take': 2})])
    assert_ok(first)
    assert other_format['changed'] is False
    assert any('exists in custom format' in w for w in other_format.get('warnings', []))
    assert_ok(forced)
    assert forced['changed'] is True and forced['path'] == first['path']
    assert read_manifest(forced['manifest_path'])['metadata'] == {'take': 2}
    assert read_manifest(forced['manifest_path'])['sha256'] == sha256(forced['path'])
    assert len(listing(dest)) == 2
    # A backup whose file no longer matches its manifest is not reused: it is taken again.
    with open(first['path'], 'ab') as handle:
        handle.write(b'junk')
    [retaken] = run_tasks(run_playbook, [args])
    assert_ok(retaken)
    assert retaken['changed'] is True and sha256(retaken['path']) == retaken['manifest']['sha256']


# --- failures ---------------------------------------------------------------------------------------

def test_bad_inputs_fail_early_with_a_clear_message(postgres, seeded, conn, tmp_path, run_playbook):
    dest = str(tmp_path / 'backups')
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a folder')
    old_pg_dump = tmp_path / 'bin-old'
    old_pg_dump.mkdir()
    (old_pg_dump / 'pg_dump').write_text('#!/bin/sh\necho "pg_dump (PostgreSQL) 14.9"\n')
    (old_pg_dump / 'pg_dump').chmod(0o755)
    results = run_tasks(run_playbook, [
        dict(conn, db=seeded, dest=dest, login_password='wrong-password'),
        dict(conn, db='no_such_db', dest=dest),
        dict(conn, db=seeded, dest=str(blocker / 'backups')),
        dict(conn, db=seeded, dest=dest, min_free='1000T'),
        dict(conn, db=seeded, dest=dest, bin_dir=str(old_pg_dump)),
        dict(conn, state='restored', db=seeded, dest=dest, label='never-taken'),
    ])
    messages = [r['msg'] for r in results]
    assert all(r['failed'] for r in results), messages
    assert 'wrong password for role "postgres"' in messages[0]
    assert 'database "no_such_db" does not exist' in messages[1]
    assert 'is not writable: Not a directory' in messages[2]
    assert 'not enough free space at the destination' in messages[3]
    assert 'pg_dump 14.9 is older than the server (15.' in messages[4]
    assert 'no verified backup labelled never-taken' in messages[5]
    assert not any(SUPERUSER_PASSWORD in json.dumps(r) for r in results)
    assert listing(dest) == []


KILLERS = {
    # killed while writing: a partial archive on disk
    'mid-dump': 'out=; for a; do case "$a" in --file=*) out=${a#--file=};; esac; done\n'
                'printf "PGDMP partial" > "$out"\nkill -KILL $$\n',
    # pg_dump itself succeeded but the process after it died: still a failure
    'after-dump': '/usr/bin/pg_dump "$@" || exit $?\nkill -KILL $$\n',
}


def killer_bin_dir(tmp_path, name):
    """A bin_dir whose pg_dump gets killed (pg_restore and psql are the real ones)."""
    bin_dir = tmp_path / ('bin-' + name)
    bin_dir.mkdir()
    (bin_dir / 'pg_dump').write_text('#!/bin/sh\n[ "$1" = --version ] && exec /usr/bin/pg_dump --version\n' + KILLERS[name])
    (bin_dir / 'pg_dump').chmod(0o755)
    for tool in ('pg_restore', 'psql'):
        os.symlink('/usr/bin/' + tool, str(bin_dir / tool))
    return str(bin_dir)


def test_killed_pg_dump_leaves_the_previous_backup_intact(seeded, conn, tmp_path, run_playbook):
    dest = str(tmp_path / 'backups')
    first, mid, after, reused = run_tasks(run_playbook, [
        dict(conn, db=seeded, dest=dest, label='pre'),
        dict(conn, db=seeded, dest=dest, label='pre', force=True, bin_dir=killer_bin_dir(tmp_path, 'mid-dump')),
        dict(conn, db=seeded, dest=dest, label='pre', force=True, bin_dir=killer_bin_dir(tmp_path, 'after-dump')),
        dict(conn, db=seeded, dest=dest, label='pre'),
    ])
    assert_ok(first)
    for killed in (mid, after):
        assert killed['failed'] is True
        assert 'pg_dump of %s failed (killed by SIGKILL)' % seeded in killed['msg']
        assert 'no backup was written' in killed['msg']
    assert listing(dest) == sorted(os.path.basename(p) for p in (first['path'], first['manifest_path']))
    assert sha256(first['path']) == read_manifest(first['manifest_path'])['sha256'] == first['manifest']['sha256']
    assert reused['changed'] is False


# --- in a container -----------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def pg_container(docker_session):
    port = free_port()
    container = docker_session.run(
        'artisan-upgrade/postgres:15',
        environment={'POSTGRES_USER': 'owner', 'POSTGRES_PASSWORD': 'container-pw', 'POSTGRES_DB': 'shop'},
        ports={'5432/tcp': ('127.0.0.1', port)})
    docker_session.wait_healthy(container)
    with psycopg.connect(host='127.0.0.1', port=port, user='owner', password='container-pw', dbname='shop',
                         autocommit=True) as db:
        db.execute(SEED)
    return {'container': container, 'port': port}


def container_fingerprint(pg_container, dbname):
    with psycopg.connect(host='127.0.0.1', port=pg_container['port'], user='owner', password='container-pw',
                         dbname=dbname, autocommit=True) as db:
        tables = [r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {t: db.execute('SELECT count(*), md5(string_agg(x::text, %s ORDER BY x::text)) FROM "{}" x'.format(t),
                              ['|']).fetchone() for t in tables}


def test_backup_and_restore_through_docker_exec(pg_container, tmp_path, run_playbook):
    dest = str(tmp_path / 'backups')
    container = pg_container['container']
    # The server is reached from inside the container; the password travels in the exec environment.
    where = dict(exec_via={'type': 'docker', 'container': container.name}, login_host='127.0.0.1',
                 login_user='owner', login_password='container-pw')
    into_copy = dict(where, state='restored', db='shop', dest=dest, label='pre-2.0.0', target_db='shop_copy')
    backup, again, other, restore, restored_again, refused, forced = run_tasks(run_playbook, [
        dict(where, db='shop', dest=dest, label='pre-2.0.0'),
        dict(where, db='shop', dest=dest, label='pre-2.0.0'),
        dict(where, db='shop', dest=dest, label='other'),
        dict(into_copy, restore_mode='create'),
        into_copy,  # the marker in the database's comment, read through psql in the container
        dict(into_copy, label='other'),
        dict(into_copy, label='other', force=True),
    ])
    assert_ok(backup)
    manifest = read_manifest(backup['manifest_path'])
    assert manifest['exec_via'] == 'docker' and manifest['alembic_revision'] == 'ae1027a6acf'
    assert manifest['sha256'] == sha256(backup['path']) and manifest['toc_entries'] >= 10
    assert stat.S_IMODE(os.stat(backup['path']).st_mode) == 0o600
    dump_command = next(c for c in backup['commands'] if '--format=custom' in c)
    assert ' exec --env PGAPPNAME' in dump_command and '--env PGPASSWORD' in dump_command
    assert not any('container-pw' in c for c in backup['commands'] + restore['commands'])
    assert again['changed'] is False
    assert_ok(other)
    assert_ok(restore)
    assert container_fingerprint(pg_container, 'shop_copy') == container_fingerprint(pg_container, 'shop')
    assert restored_again['changed'] is False, restored_again['msg']
    assert refused['failed'] and 'database "shop_copy" holds 3 tables or views (public.alembic_version, ' in refused['msg']
    assert_ok(forced)
    assert forced['steps'] == ['clean', 'restore']
    assert container_fingerprint(pg_container, 'shop_copy') == container_fingerprint(pg_container, 'shop')


# A database whose uncompressed dump is about 80 MB of incompressible hex: one fresh md5 per 32 bytes.
BIG_TABLE = """
CREATE TABLE blob AS
  SELECT g AS id, (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 32) i) AS payload
  FROM generate_series(1, 80000) g;
"""


def module_peak_rss(args, workdir):
    """Run pg_backup as its own process with an args file, as Ansible does on a target: (result, peak RSS in bytes).

    The commands run in the container, so the peak is the module's own memory.
    """
    args_file = os.path.join(workdir, 'args.json')
    with open(args_file, 'w', encoding='utf-8') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    with tempfile.TemporaryFile() as out:
        proc = start_python(['-m', 'ansible_collections.artisan.upgrade.plugins.modules.pg_backup', args_file],
                            stdout=out, stderr=subprocess.STDOUT)
        _rc, peak = wait_with_peak_rss(proc)
        out.seek(0)
        return json.loads(out.read()), peak


def test_a_large_dump_streams_through_the_container_with_bounded_memory(pg_container, tmp_path):
    container = pg_container['container']
    with psycopg.connect(host='127.0.0.1', port=pg_container['port'], user='owner', password='container-pw',
                         dbname='shop', autocommit=True) as db:
        db.execute('DROP DATABASE IF EXISTS big')
        db.execute('CREATE DATABASE big')
    with psycopg.connect(host='127.0.0.1', port=pg_container['port'], user='owner', password='container-pw',
                         dbname='big', autocommit=True) as db:
        db.execute(BIG_TABLE)
    # pg_dump --verbose writes a line to stderr for every step while the data flows on stdout: not one stderr
    # byte may land in the archive.
    where = dict(exec_via={'type': 'docker', 'container': container.name}, login_host='127.0.0.1',
                 login_user='owner', login_password='container-pw', dest=str(tmp_path / 'backups'),
                 compression='none', dump_args=['--verbose'])
    small, small_peak = module_peak_rss(dict(where, db='shop', label='small'), str(tmp_path))
    big, big_peak = module_peak_rss(dict(where, db='big', label='big'), str(tmp_path))
    assert not small.get('failed') and not big.get('failed'), (small.get('msg'), big.get('msg'))
    size = os.path.getsize(big['path'])
    assert size > 80 * 1000 * 1000
    # The archive passes through the module in bounded pieces (stdout) and back for its check (pg_restore --list
    # reads it on stdin): the process grows by far less than the dump, whose size it never holds.
    print('module peak RSS: %.1f MiB for the small dump, %.1f MiB for the %.1f MB one'
          % (small_peak / 2 ** 20, big_peak / 2 ** 20, size / 1e6))
    assert big_peak - small_peak < 24 * 1024 * 1024, (small_peak, big_peak, size)
    with open(big['path'], 'rb') as handle:
        archive = handle.read()
    assert archive.startswith(b'PGDMP') and b'pg_dump: ' not in archive
    assert read_manifest(big['manifest_path'])['sha256'] == hashlib.sha256(archive).hexdigest()
    restored, _peak = module_peak_rss(dict(where, state='restored', db='big', label='big', target_db='big_copy',
                                           restore_mode='create'), str(tmp_path))
    assert not restored.get('failed'), restored.get('msg')
    assert container_fingerprint(pg_container, 'big_copy') == container_fingerprint(pg_container, 'big')


def test_a_missing_or_stopped_container_is_named_in_the_failure(docker_session, tmp_path, run_playbook):
    stopped = docker_session.run('artisan-upgrade/base:bookworm', command=['sleep', 'infinity'])
    stopped.stop(timeout=0)
    base = dict(db='shop', dest=str(tmp_path / 'backups'), login_host='127.0.0.1', login_user='owner',
                login_password='container-pw')
    missing, down = run_tasks(run_playbook, [
        dict(base, exec_via={'type': 'docker', 'container': 'artisan-no-such-ctr'}),
        dict(base, exec_via={'type': 'docker', 'container': stopped.name}),
    ])
    assert missing['failed'] and 'container "artisan-no-such-ctr" not found on the Docker engine at ' in missing['msg']
    assert down['failed'] and 'container "%s" is not running (status: exited)' % stopped.name in down['msg']
    assert listing(str(tmp_path / 'backups')) == []


# --- in a Kubernetes pod (kubesim's docker runtime: the pod is a real postgres container) ---------------

DB_POD = {
    'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'postgresql-0', 'labels': {'app': 'postgresql'}},
    'spec': {'containers': [{
        'name': 'postgres', 'image': 'artisan-upgrade/postgres:15',
        'env': [{'name': 'POSTGRES_USER', 'value': 'owner'}, {'name': 'POSTGRES_PASSWORD', 'value': 'pod-pw'},
                {'name': 'POSTGRES_DB', 'value': 'shop'}],
        'readinessProbe': {'exec': {'command': ['pg_isready', '-h', '127.0.0.1', '-U', 'owner', '-d', 'shop']},
                           'periodSeconds': 1}}]},
}


@pytest.fixture()
def db_pod(kubectl_docker):
    """A PostgreSQL pod holding the seed data; kubectl (an independent client) runs psql in it."""
    kubectl = kubectl_docker
    kubectl('apply', '-f', '-', stdin=json.dumps(DB_POD))
    kubectl('wait', '--for=condition=Ready', 'pod/postgresql-0', '--timeout=90s')

    def psql(dbname, sql):
        return kubectl('exec', '-i', 'postgresql-0', '--', 'psql', '-U', 'owner', '-d', dbname, '-v', 'ON_ERROR_STOP=1',
                       '-qAt', stdin=sql)

    psql('shop', SEED)
    return psql


def pod_fingerprint(psql, dbname):
    tables = psql(dbname, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").split()
    return {t: psql(dbname, "SELECT count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM \"%s\" x" % t)
            for t in tables}


def test_backup_and_restore_through_pod_exec(kubesim_docker, db_pod, tmp_path, run_playbook):
    dest = str(tmp_path / 'backups')
    # pg_dump runs in the pod and reaches the server over TCP with a password: the password goes
    # through the exec stream's stdin, never into the exec request (its URL lands in audit logs).
    pod = {'type': 'pod', 'pod': 'postgresql-0', 'namespace': 'default'}
    where = dict(exec_via=pod, kubeconfig=kubesim_docker.kubeconfig, login_host='127.0.0.1', login_user='owner',
                 login_password='pod-pw')
    planned, backup, again, restore, wrong_pw, missing_pod = run_tasks(run_playbook, [
        (dict(where, db='shop', dest=dest, label='pre-2.0.0'), {'check_mode': True}),
        dict(where, db='shop', dest=dest, label='pre-2.0.0'),
        dict(where, db='shop', dest=dest, label='pre-2.0.0'),
        dict(where, state='restored', db='shop', dest=dest, label='pre-2.0.0', target_db='shop_copy',
             restore_mode='create'),
        dict(where, db='shop', dest=dest, label='other', login_password='wrong'),
        dict(where, db='shop', dest=dest, label='other', exec_via=dict(pod, pod='postgresql-9')),
    ])
    assert_ok(planned)
    assert planned['changed'] is True and not any('--format=custom' in c for c in planned['commands'])
    assert_ok(backup)
    manifest = read_manifest(backup['manifest_path'])
    assert manifest['exec_via'] == 'pod' and manifest['alembic_revision'] == 'ae1027a6acf'
    assert manifest['sha256'] == sha256(backup['path']) and manifest['toc_entries'] >= 10
    with open(backup['path'], 'rb') as handle:
        assert handle.read(5) == b'PGDMP'
    dump_command = next(c for c in backup['commands'] if '--format=custom' in c)
    assert dump_command.startswith('kubectl exec --namespace default --stdin postgresql-0 -- env')
    assert 'PGPASSWORD=<from stdin>' in dump_command
    assert not any('pod-pw' in c for c in backup['commands'] + restore['commands'])
    assert again['changed'] is False
    assert_ok(restore)
    assert pod_fingerprint(db_pod, 'shop_copy') == pod_fingerprint(db_pod, 'shop')
    assert wrong_pw['failed'] and 'password authentication failed' in wrong_pw['msg']
    assert not glob.glob(os.path.join(dest, 'shop--other*'))
    assert missing_pod['failed'] and 'pods "postgresql-9" not found' in missing_pod['msg']
