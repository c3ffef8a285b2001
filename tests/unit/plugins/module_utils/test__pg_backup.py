# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure decisions of pg_backup, the parsers pinned to outputs recorded from pg_dump/pg_restore 15.18."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _pg_backup as decide
from ansible_collections.artisan.upgrade.tests.unit.plugins.module_utils import pg_tool_outputs as recorded

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize('text, expected', [
    (recorded.PG_DUMP_VERSION, (15, 18)),
    (recorded.PG_RESTORE_VERSION, (15, 18)),
    ('pg_dump (PostgreSQL) 16.4\n', (16, 4)),  # upstream builds print no distribution suffix
    ('pg_dump (PostgreSQL) 17beta2\n', (17, 0)),
])
def test_parse_tool_version(text, expected):
    assert decide.parse_tool_version(text) == expected


def test_parse_tool_version_rejects_other_output():
    with pytest.raises(ValueError, match='cannot read a PostgreSQL version'):
        decide.parse_tool_version('sh: pg_dump: not found')


@pytest.mark.parametrize('pg_dump, server, refused', [
    ((15, 18), 150018, False),
    ((16, 1), 150018, False),  # a newer pg_dump dumps older servers
    ((15, 2), 150018, False),  # minor versions do not matter
    ((14, 9), 150018, True),
    ((15, 18), 160004, True),
])
def test_dump_version_error_refuses_an_older_pg_dump(pg_dump, server, refused):
    error = decide.dump_version_error(pg_dump, server)
    assert (error is not None) is refused
    if refused:
        assert 'is older than the server (%s)' % decide.version_text(server) in error


@pytest.mark.parametrize('method, level, major, expected, args', [
    ('auto', None, 15, {'method': 'gzip', 'level': 1}, ['--compress=1']),
    ('auto', 6, 15, {'method': 'gzip', 'level': 6}, ['--compress=6']),
    ('auto', None, 16, {'method': 'zstd', 'level': 1}, ['--compress=zstd:1']),
    ('gzip', 9, 16, {'method': 'gzip', 'level': 9}, ['--compress=gzip:9']),
    ('lz4', None, 17, {'method': 'lz4', 'level': 1}, ['--compress=lz4:1']),
    ('none', None, 15, {'method': 'none', 'level': 0}, ['--compress=0']),
    ('none', None, 16, {'method': 'none', 'level': 0}, ['--compress=none']),
])
def test_compression_follows_the_pg_dump_version(method, level, major, expected, args):
    chosen = decide.choose_compression(method, level, major)
    assert chosen == expected
    assert decide.compression_args(chosen, major) == args


@pytest.mark.parametrize('method, level, major, message', [
    ('zstd', None, 15, 'compression zstd needs pg_dump 16 or newer; this pg_dump is 15 (it supports gzip, none)'),
    ('lz4', None, 15, 'compression lz4 needs pg_dump 16'),
    ('gzip', 10, 15, 'compression_level 10 is outside 1-9 for gzip'),
    ('zstd', 0, 16, 'compression_level 0 is outside 1-22 for zstd'),
])
def test_compression_refuses_what_pg_dump_cannot_do(method, level, major, message):
    with pytest.raises(decide.BackupSpecError, match=message.replace('(', r'\(').replace(')', r'\)')):
        decide.choose_compression(method, level, major)


def test_dump_argv_is_a_list_with_the_password_nowhere():
    argv = decide.dump_argv('pg_dump', 'custom', ['--compress=1'], 'shop', '/b/.tmp', extra_args=['--exclude-table-data=log'])
    assert argv == ['pg_dump', '--format=custom', '--compress=1', '--file=/b/.tmp', '--exclude-table-data=log', '--dbname=shop']


def test_dump_argv_streams_to_stdout_without_output_and_parallelises_directories_only():
    assert decide.dump_argv('pg_dump', 'custom', [], 'shop', None, jobs=4) == ['pg_dump', '--format=custom', '--dbname=shop']
    assert '--jobs=4' in decide.dump_argv('pg_dump', 'directory', [], 'shop', '/b/d', jobs=4)
    assert decide.dump_argv('pg_dump', 'plain', [], 'shop', None)[2:4] == ['--clean', '--if-exists']


def test_restore_argv():
    assert decide.restore_argv('pg_restore', '/b/x.dump', 'shop', clean=True, single_transaction=True) == [
        'pg_restore', '--dbname=shop', '--exit-on-error', '--no-password', '--clean', '--if-exists',
        '--single-transaction', '/b/x.dump']
    from_stdin = decide.restore_argv('pg_restore', None, 'shop', clean=False, single_transaction=False, jobs=2,
                                     extra_args=['--no-owner'])
    assert from_stdin == ['pg_restore', '--dbname=shop', '--exit-on-error', '--no-password', '--jobs=2', '--no-owner']


def test_psql_restore_argv_stops_at_the_first_error():
    argv = decide.psql_restore_argv('psql', 'shop', True)
    assert '--set=ON_ERROR_STOP=1' in argv and '--single-transaction' in argv and argv[-1] == '--file=-'


@pytest.mark.parametrize('requested, jobs, expected', [(None, 1, True), (None, 4, False), (False, 1, False), (True, 1, True)])
def test_restore_single_transaction(requested, jobs, expected):
    assert decide.restore_single_transaction(requested, jobs) is expected


def test_restore_single_transaction_refuses_jobs():
    with pytest.raises(decide.BackupSpecError, match='cannot be combined with jobs > 1'):
        decide.restore_single_transaction(True, 2)


@pytest.mark.parametrize('requested, jobs, refused', [(None, 1, None), (True, 1, None), (False, 1, 'single_transaction false'),
                                                      (None, 2, 'jobs > 1')])
def test_restore_mode_exact_is_always_one_transaction(requested, jobs, refused):
    if refused is None:
        assert decide.restore_single_transaction(requested, jobs, 'exact') is True
        return
    with pytest.raises(decide.BackupSpecError, match='restore_mode exact drops and restores in one transaction: it '
                                                     'cannot run with %s' % refused):
        decide.restore_single_transaction(requested, jobs, 'exact')


def test_sql_script_argv_replaces_the_archives_own_objects():
    assert decide.sql_script_argv('/usr/lib/postgresql/15/bin/pg_restore', ['--no-owner']) == [
        '/usr/lib/postgresql/15/bin/pg_restore', '--clean', '--if-exists', '--exit-on-error', '--no-owner']


def test_the_schemas_an_archive_holds():
    two = decide.parse_restore_list(recorded.LIST_TWO_SCHEMAS)
    assert decide.listing_schemas(two) == ['extra', 'public']
    # PostgreSQL 15's pg_dump writes no SCHEMA entry for public: its objects name it.
    assert decide.listing_schemas(decide.parse_restore_list(recorded.LIST_CUSTOM)) == ['public']
    assert decide.listing_schemas(decide.parse_restore_list(recorded.LIST_CUSTOM_EMPTY)) == []
    # A schema of its own (created, commented) counts although it holds nothing; kinds with spaces are whole.
    assert decide.listing_schemas({'entries': [
        {'dump_id': 6, 'description': 'SCHEMA - audit artisan'},
        {'dump_id': 7, 'description': 'COMMENT - SCHEMA audit artisan'},
        {'dump_id': 8, 'description': 'MATERIALIZED VIEW DATA reports daily artisan'},
        {'dump_id': 9, 'description': 'EXTENSION - pgcrypto'},
        {'dump_id': 10, 'description': 'SOMETHING NEW x y z'},
    ]}) == ['audit', 'reports']


def test_the_schemas_a_plain_dump_holds():
    assert decide.plain_dump_schemas(recorded.PLAIN_HEADERS.splitlines()) == ['extra', 'public']
    assert decide.plain_dump_schemas(['CREATE TABLE public.x (id int);', '-- PostgreSQL database dump']) == []


def test_drop_statements_cascade_and_tolerate_what_is_already_gone():
    assert decide.drop_statements([
        ['extension', 'pgcrypto'], ['function', 'public.order_count(integer)'], ['table', 'public.audit_log'],
        ['materialized view', 'public.mv'], ['type', 'public.order_state'], ['composite type', 'public.pair'],
        ['statistics object', 'public.users_stats'], ['text search configuration', 'public.fr'],
    ]) == [
        'DROP EXTENSION IF EXISTS pgcrypto CASCADE', 'DROP FUNCTION IF EXISTS public.order_count(integer) CASCADE',
        'DROP TABLE IF EXISTS public.audit_log CASCADE', 'DROP MATERIALIZED VIEW IF EXISTS public.mv CASCADE',
        'DROP TYPE IF EXISTS public.order_state CASCADE', 'DROP TYPE IF EXISTS public.pair CASCADE',
        'DROP STATISTICS IF EXISTS public.users_stats CASCADE',
        'DROP TEXT SEARCH CONFIGURATION IF EXISTS public.fr CASCADE',
    ]


def test_exact_plan_lists_what_is_dropped():
    plan = decide.exact_plan('shop', ['extra', 'public'], [['table', 'public.audit_log'], ['view', 'public.v']])
    assert plan == ("schemas extra, public: 2 objects dropped, then the backup's restored\n"
                    '  - table public.audit_log\n  - view public.v\n')
    assert decide.exact_plan('shop', [], []) == ''


def test_a_failed_clean_restore_points_to_exact_when_new_objects_depend_on_the_old():
    stderr = ('pg_restore: error: could not execute query: ERROR:  cannot drop constraint users_pkey on table '
              'public.users because other objects depend on it\nDETAIL:  constraint audit_log_user_id_fkey on table '
              'audit_log depends on index users_pkey\n')
    assert 'restore_mode exact' in decide.restore_failure_hint('clean', stderr)
    assert decide.restore_failure_hint('exact', stderr) == ''
    assert decide.restore_failure_hint('clean', 'pg_restore: error: out of memory') == ''


def test_parse_restore_list_of_a_custom_archive():
    listing = decide.parse_restore_list(recorded.LIST_CUSTOM)
    assert listing['header']['Format'] == 'CUSTOM'
    assert listing['header']['dbname'] == 'shop'
    assert listing['header']['TOC Entries'] == '17'
    assert listing['header']['Dumped by pg_dump version'] == '15.18 (Debian 15.18-0+deb12u1)'
    assert len(listing['entries']) == 13
    assert listing['entries'][0] == {'dump_id': 216, 'description': 'TABLE public alembic_version artisan'}
    assert {'dump_id': 3356, 'description': 'TABLE DATA public users artisan'} in listing['entries']
    assert decide.listing_error(listing, 'custom', 'shop') is None


def test_parse_restore_list_of_a_directory_archive_and_an_empty_database():
    directory = decide.parse_restore_list(recorded.LIST_DIRECTORY)
    assert directory['header']['Format'] == 'DIRECTORY' and len(directory['entries']) == 13
    assert decide.listing_error(directory, 'directory', 'shop') is None
    empty = decide.parse_restore_list(recorded.LIST_CUSTOM_EMPTY)
    assert empty['entries'] == [] and empty['header']['TOC Entries'] == '4'
    assert decide.listing_error(empty, 'custom', 'empty') is None


@pytest.mark.parametrize('text, fmt, dbname, message', [
    ('', 'custom', 'shop', 'printed no archive header'),
    (recorded.LIST_CUSTOM, 'directory', 'shop', 'archive format is CUSTOM, expected DIRECTORY'),
    (recorded.LIST_CUSTOM, 'custom', 'other', 'archive is of database shop, expected other'),
    (recorded.LIST_CUSTOM.replace('TOC Entries: 17', 'TOC Entries: 0'), 'custom', 'shop', 'no TOC entries'),
])
def test_listing_error(text, fmt, dbname, message):
    assert message in decide.listing_error(decide.parse_restore_list(text), fmt, dbname)


@pytest.mark.parametrize('tail, complete', [
    (recorded.PLAIN_TAIL, True),
    (recorded.PLAIN_TAIL.partition(b'\\unrestrict')[0], True),  # before 15.14: the marker is the end
    (b'--\n-- PostgreSQL database dump complete\n--\n\n', True),
    (recorded.PLAIN_TAIL[:120], False),  # cut before the marker
    (recorded.PLAIN_TAIL + b'INSERT INTO x VALUES (1);\n', False),  # SQL after the marker: not pg_dump's end
    (b'', False),
])
def test_plain_dump_complete(tail, complete):
    assert decide.plain_dump_complete(tail) is complete


@pytest.mark.parametrize('label', ['pre-upgrade-2.0.0', 'v1', '2.0.0+build.7', 'nightly_20261122'])
def test_check_label_accepts(label):
    assert decide.check_label(label) == label


@pytest.mark.parametrize('label', ['../escape', '.hidden', 'a/b', '', 'with space', 'x' * 129])
def test_check_label_refuses(label):
    with pytest.raises(decide.BackupSpecError, match='must start with a letter or digit'):
        decide.check_label(label)


def test_names():
    assert decide.timestamp_label(NOW) == '20261122T120000Z'
    assert decide.backup_stem('my db/x', 'v1') == 'my_db_x--v1'
    assert decide.manifest_name('shop', 'v1') == 'shop--v1.manifest.json'
    assert decide.file_extension('plain', {'method': 'gzip', 'level': 1}) == '.sql.gz'
    assert decide.file_extension('plain', {'method': 'none', 'level': 0}) == '.sql'
    assert decide.file_extension('custom', {'method': 'zstd', 'level': 1}) == '.dump'


def manifest(label, finished, **fields):
    base = decide.build_manifest(
        database='shop', label=label, file='shop--%s.dump' % label, fmt='custom', compression={'method': 'gzip', 'level': 1},
        size=10, sha256='ab' * 32, server_version='15.18', pg_dump_version='15.18', started=finished,
        finished=finished, toc_entries=13, alembic_revision=None, metadata=None, exec_via='local')
    return dict(base, **fields)


def test_manifest_round_trips_times_and_passes_its_own_check():
    made = manifest('v1', NOW)
    assert made['finished_at'] == '2026-11-22T12:00:00.000000Z'
    assert decide.parse_iso(made['finished_at']) == NOW
    assert decide.manifest_problem(made) is None


@pytest.mark.parametrize('broken, problem', [
    ([], 'not a JSON object'),
    ({'schema': decide.MANIFEST_SCHEMA}, 'missing database'),
    (manifest('v1', NOW, schema='other/v9'), "unknown schema 'other/v9'"),
    (manifest('v1', NOW, verified=False), 'never verified'),
    (manifest('v1', NOW, file='../etc/passwd'), 'is not a name in the backup folder'),
])
def test_manifest_problem(broken, problem):
    assert problem in decide.manifest_problem(broken)


def ages(*hours):
    return [manifest('h%d' % h, NOW - datetime.timedelta(hours=h)) for h in hours]


@pytest.mark.parametrize('keep, max_age, protect, doomed', [
    (2, None, None, ['h3', 'h4']),
    (None, 2 * 3600 + 1, None, ['h3', 'h4']),
    (3, 3600 + 1, None, ['h2', 'h3', 'h4']),  # both limits apply
    (0, None, 'h1', ['h2', 'h3', 'h4']),  # the backup just taken survives keep 0
    (None, 0, 'h4', ['h1', 'h2', 'h3']),  # ... and any max_age, even when it is the oldest
    (None, None, None, []),
])
def test_select_prunable(keep, max_age, protect, doomed):
    chosen = decide.select_prunable(ages(4, 1, 3, 2), keep, max_age, NOW, protect)
    assert sorted(m['label'] for m in chosen) == doomed


@pytest.mark.parametrize('text, seconds', [('90s', 90), ('30m', 1800), ('12h', 43200), ('7d', 604800), ('2w', 1209600), ('45', 45)])
def test_parse_age(text, seconds):
    assert decide.parse_age(text) == seconds


@pytest.mark.parametrize('text, size', [('0', 0), ('512M', 512 * 1024 ** 2), ('10G', 10 * 1024 ** 3), ('1.5GiB', int(1.5 * 1024 ** 3)),
                                        ('2k', 2048), ('100b', 100)])
def test_parse_size(text, size):
    assert decide.parse_size(text) == size


@pytest.mark.parametrize('parse, text', [(decide.parse_age, '7 days'), (decide.parse_age, '-1d'), (decide.parse_size, '10X'), (decide.parse_size, 'lots')])
def test_parse_rejects(parse, text):
    with pytest.raises(decide.BackupSpecError, match=repr(text).replace('(', r'\(')):
        parse(text)


def test_free_space_error():
    gib = 1024 ** 3
    assert decide.free_space_error(10 * gib, 4 * gib, 1.0, gib) is None
    assert decide.free_space_error(10 * gib, 40 * gib, 0.2, gib) is None
    message = decide.free_space_error(3 * gib, 4 * gib, 1.0, 0)
    assert message.startswith('not enough free space at the destination: 3.0 GiB free, 4.0 GiB needed')
    assert 'lower free_space_ratio' in message
    assert decide.free_space_error(0, 0, 1.0, 0) is None


@pytest.mark.parametrize('mode, exists, steps', [
    ('clean', True, ['clean', 'restore']),
    ('exact', True, ['clear', 'restore']),
    ('recreate', True, ['drop', 'create', 'restore']),
    ('recreate', False, ['create', 'restore']),
    ('create', False, ['create', 'restore']),
])
def test_restore_steps(mode, exists, steps):
    assert decide.restore_steps(mode, exists, 'shop') == steps


@pytest.mark.parametrize('mode, exists, message', [
    ('clean', False, 'database "shop" does not exist: restore_mode clean'),
    ('exact', False, 'database "shop" does not exist: restore_mode exact'),
    ('create', True, 'database "shop" already exists: restore_mode create'),
])
def test_restore_steps_refuses(mode, exists, message):
    with pytest.raises(decide.BackupSpecError, match=message):
        decide.restore_steps(mode, exists, 'shop')


def test_restored_marker_names_the_label_and_the_content():
    assert decide.restored_marker(manifest('pre', NOW)) == 'pre@sha256:' + 'ab' * 32


@pytest.mark.parametrize('comment, marker', [
    (None, None),
    ('Shop data', None),
    ('artisan.restored_from: pre@sha256:abc', 'pre@sha256:abc'),
    ('Shop data\nartisan.restored_from: pre@sha256:abc\nmore', 'pre@sha256:abc'),
    ('artisan.restored_from: ', None),
])
def test_marker_in_comment(comment, marker):
    assert decide.marker_in_comment(comment) == marker


@pytest.mark.parametrize('comment, marker, expected', [
    (None, 'm1', 'artisan.restored_from: m1'),
    ('Shop data', 'm1', 'Shop data\nartisan.restored_from: m1'),
    ('Shop data\nartisan.restored_from: m0', 'm1', 'Shop data\nartisan.restored_from: m1'),
    ('Shop data\nartisan.restored_from: m0', None, 'Shop data'),
    ('artisan.restored_from: m0', None, None),  # nothing left: the comment is removed
])
def test_comment_with_marker_keeps_the_owners_text(comment, marker, expected):
    assert decide.comment_with_marker(comment, marker) == expected
    assert decide.marker_in_comment(decide.comment_with_marker(comment, marker)) == marker


OWNER = {'user': 'app', 'superuser': False, 'createdb': False, 'owns_target': True, 'target_owner': None}


@pytest.mark.parametrize('role, steps, mode, target_owner, missing', [
    ({'user': 'postgres', 'superuser': True}, ['drop', 'create', 'restore'], 'recreate', 'app', None),
    (OWNER, ['clean', 'restore'], 'clean', None, None),
    (OWNER, ['clear', 'restore'], 'exact', None, None),  # no CREATEDB needed
    (dict(OWNER, owns_target=False), ['clear', 'restore'], 'exact', None,
     ['ownership of database "shop" (to replace its objects in it']),
    (dict(OWNER, createdb=True), ['drop', 'create', 'restore'], 'recreate', None, None),
    (dict(OWNER, createdb=True), ['create', 'restore'], 'create', 'app', None),  # owning itself needs no membership
    (dict(OWNER, createdb=True, target_owner=True), ['create', 'restore'], 'create', 'web', None),
    (dict(OWNER, owns_target=False), ['clean', 'restore'], 'clean', None, ['ownership of database "shop"']),
    (OWNER, ['drop', 'create', 'restore'], 'recreate', None, ['the CREATEDB attribute']),
    (dict(OWNER, owns_target=False), ['drop', 'create', 'restore'], 'recreate', None,
     ['the CREATEDB attribute', 'ownership of database "shop" (to drop it']),
    (dict(OWNER, createdb=True), ['create', 'restore'], 'create', 'web', ['membership in role "web"']),
])
def test_restore_privilege_error_names_what_is_missing(role, steps, mode, target_owner, missing):
    error = decide.restore_privilege_error(role, steps, mode, 'shop', target_owner)
    if missing is None:
        assert error is None
        return
    assert error.startswith('role "app" cannot restore into database "shop" with restore_mode %s: it needs ' % mode)
    assert error.endswith('or superuser; nothing was changed')
    assert all(text in error for text in missing), error


CONTENTS = {'count': 12, 'names': ['public.t%02d' % i for i in range(10)]}


@pytest.mark.parametrize('target, recorded, current, refused', [
    ('shop', None, '7712468653615273199', False),  # older manifests: the name decides
    ('shop', '7712468653615273199', '7712468653615273199', False),  # the rollback case
    ('shop', '7712468653615273199', None, False),  # pg_control_system() not granted here
    ('shop', '7712468653615273199', '1111', True),  # a namesake on another cluster
    ('shop_copy', '7712468653615273199', '7712468653615273199', True),
])
def test_overwrite_refusal_spares_the_backups_own_database(target, recorded, current, refused):
    made = manifest('pre', NOW, system_identifier=recorded)
    error = decide.overwrite_refusal(made, target, CONTENTS, current)
    assert (error is not None) is refused
    if refused:
        assert error.startswith('database "%s" holds 12 tables or views (public.t00, public.t01, ' % target)
        assert 'public.t09 and 2 more) and is not the database this backup was taken of ("shop"' in error
        assert 'Set force: true' in error and error.endswith('nothing was changed')
    if refused and target == 'shop':
        assert 'on the server with system identifier 7712468653615273199; this one is 1111' in error


def test_overwrite_refusal_allows_an_empty_database():
    assert decide.overwrite_refusal(manifest('pre', NOW), 'other', {'count': 0, 'names': []}, None) is None


def test_database_state():
    assert decide.database_state('shop', False, None, None) == 'shop: absent\n'
    assert decide.database_state('shop', True, {'count': 3, 'names': []}, None) == (
        'shop: 3 tables or views, restored from (no pg_backup restore recorded)\n')
    assert decide.database_state('shop', True, None, 'pre@sha256:ab') == 'shop: restored from pre@sha256:ab\n'


def test_backups_diff_lists_oldest_first():
    before = ages(2)
    after = ages(2, 0)
    diff = decide.backups_diff('shop', before, after)
    assert diff['before_header'] == 'backups of shop'
    assert diff['before'].splitlines() == ['h2 shop--h2.dump 2026-11-22T10:00:00.000000Z sha256:abababababab']
    assert [line.split()[0] for line in diff['after'].splitlines()] == ['h2', 'h0']
    assert decide.backups_diff('shop', [], [])['before'] == ''


def test_human_size():
    assert decide.human_size(512) == '512 B'
    assert decide.human_size(1536) == '1.5 KiB'
    assert decide.human_size(5 * 1024 ** 4) == '5.0 TiB'
