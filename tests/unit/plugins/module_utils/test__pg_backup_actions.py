# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_backup's take, restore and remove, against fake PostgreSQL tools behind the transport interface.

The backup folder is a real temporary directory; only pg_dump, pg_restore and psql are faked (one fake
server answers psql's queries and records its statements). The tests read the result dict, the files left
in the folder and what the fake tools were asked to run.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import re
import shlex
import stat

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _pg_backup as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _pg_backup_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils import _postgres as pg
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecError, ExecResult, LocalTransport
from ansible_collections.artisan.upgrade.plugins.module_utils._run import MASK, ModuleFailure
from ansible_collections.artisan.upgrade.tests.unit.plugins.module_utils import pg_tool_outputs as recorded

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
PASSWORD = 's3cret-pw'
SYSTEM_ID = '7310000000000000001'
# What the fake pg_dump writes: a custom archive's magic and some bytes.
ARCHIVE = b'PGDMP\x01\x0e\x00' + bytes(range(256)) * 8
PLAIN = b'--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE public.users (id integer);\n' + recorded.PLAIN_TAIL


class FakeServer:
    """One PostgreSQL server as psql sees it: answers the catalog queries, records and applies statements."""

    def __init__(self) -> None:
        self.version_num = 150018
        self.size = 64 * 1024
        self.alembic = 'c3d4'
        self.system_identifier = SYSTEM_ID
        self.databases = {'shop': {'comment': None, 'count': 2, 'names': ['public.orders', 'public.users']},
                          'postgres': {'comment': None, 'count': 0, 'names': []}}
        self.role = {'user': 'artisan', 'superuser': True, 'createdb': True, 'owns_target': True, 'target_owner': None}
        self.statements: list[str] = []
        # What schema_objects() finds in the backup's schemas (pg_identify_object type and identity).
        self.objects = [['table', 'public.audit_log'], ['table', 'public.users'], ['type', 'public.mood']]
        self.schema_queries: list[str] = []

    @staticmethod
    def literal(query: str) -> str:
        return re.search(r"datname = '((?:[^']|'')*)'", query).group(1).replace("''", "'")

    def answer(self, query: str, dbname: str) -> str:
        if query == 'SHOW server_version_num':
            return '%d\n' % self.version_num
        if 'pg_database_size' in query:
            return '%d\n' % self.size
        if "to_regclass('alembic_version')" in query:
            return 't\n' if self.alembic else 'f\n'
        if 'FROM alembic_version' in query:
            return '%s\n' % self.alembic
        if 'pg_control_system' in query:
            return '%s\n' % (self.system_identifier or '')
        if query.startswith('SELECT 1 FROM pg_database'):
            return '1\n' if self.literal(query) in self.databases else ''
        if 'shobj_description' in query:
            held = self.databases.get(self.literal(query))
            return '' if held is None or held['comment'] is None else json.dumps(held['comment']) + '\n'
        if "json_build_object('user'" in query:
            return json.dumps(self.role) + '\n'
        if 'pg_identify_object' in query:
            self.schema_queries.append(query)
            return json.dumps(self.objects) + '\n'
        if "json_build_object('count'" in query:
            held = self.databases[dbname]
            return json.dumps({'count': held['count'], 'names': held['names']}) + '\n'
        return self.execute(query)

    def execute(self, statement: str) -> str:
        self.statements.append(statement)
        comment = re.match(r'''COMMENT ON DATABASE "([^"]+)" IS (NULL|'(.*)')$''', statement, re.DOTALL)
        if comment:
            self.databases[comment.group(1)]['comment'] = None if comment.group(2) == 'NULL' else comment.group(3).replace("''", "'")
        elif statement.startswith('DROP DATABASE'):
            del self.databases[re.match(r'DROP DATABASE "([^"]+)"', statement).group(1)]
        elif statement.startswith('CREATE DATABASE'):
            self.databases[re.match(r'CREATE DATABASE "([^"]+)"', statement).group(1)] = {
                'comment': None, 'count': 0, 'names': []}
        else:
            raise AssertionError('the fake server does not know %r' % statement)
        return ''


class FakeTransport:
    """The _exec transport interface; pg_dump, pg_restore and psql are answered by the fakes here."""

    def __init__(self, server: FakeServer, kind: str = 'docker', dump: bytes = ARCHIVE, dump_fails: tuple | None = None,
                 listing: str = recorded.LIST_CUSTOM,
                 list_fails: tuple | None = None, restore_fails: tuple | None = None, broken: str | None = None,
                 convert_fails: tuple | None = None) -> None:
        self.server = server
        self.kind = kind
        self.dump = dump
        self.dump_fails = dump_fails
        self.listing = listing
        self.list_fails = list_fails
        self.restore_fails = restore_fails
        self.broken = broken
        self.convert_fails = convert_fails
        self.calls: list[dict] = []

    def check(self) -> None:
        if self.broken:
            raise ExecError(self.broken)

    def programs(self) -> list[str]:
        return [call['program'] for call in self.calls]

    def called(self, program: str, flag: str | None = None) -> list[dict]:
        return [c for c in self.calls if c['program'] == program and (flag is None or any(a.startswith(flag) for a in c['argv']))]

    def run(self, argv, env=None, stdin=None, stdout=None):
        program = os.path.basename(argv[0])
        call = {'program': program, 'argv': list(argv), 'env': dict(env or {}), 'input': None}
        self.calls.append(call)
        done = dict(command=shlex.join(argv))
        if '--version' in argv:
            return ExecResult(0, '', stdout=('%s (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n' % program).encode(), **done)
        option = {a.split('=', 1)[0]: a.split('=', 1)[1] for a in argv if a.startswith('--') and '=' in a}
        if program == 'psql' and '--command' in option:
            return ExecResult(0, '', stdout=self.server.answer(option['--command'], option['--dbname']).encode(), **done)
        if program == 'pg_dump':
            return self.pg_dump(argv, option, stdout, done)
        data = stdin.read() if stdin is not None else self.read_file(argv[-1])
        call['input'] = data
        if program == 'pg_restore' and '--file' in option:  # the archive turned into SQL
            if self.convert_fails:
                return ExecResult(self.convert_fails[0], self.convert_fails[1], stdout=None, **done)
            sql = b'-- SQL of an archive of %d bytes\n' % len(data)
            if option['--file'] == '-':
                stdout.write(sql)
            else:
                with open(option['--file'], 'wb') as handle:
                    handle.write(sql)
            return ExecResult(0, '', stdout=None, **done)
        if '--list' in argv:
            if self.list_fails:
                return ExecResult(self.list_fails[0], self.list_fails[1], stdout=b'', **done)
            return ExecResult(0, '', stdout=self.listing.encode(), **done)
        if self.restore_fails:
            return ExecResult(self.restore_fails[0], self.restore_fails[1], stdout=b'', **done)
        return ExecResult(0, '', stdout=b'', **done)

    @staticmethod
    def read_file(path: str) -> bytes:
        if os.path.isdir(path):
            path = os.path.join(path, 'toc.dat')
        with open(path, 'rb') as handle:
            return handle.read()

    def pg_dump(self, argv, option, stdout, done):
        content = self.dump
        if option['--format'] == 'plain' and option.get('--compress', '0') != '0':
            content = gzip.compress(content)
        if self.dump_fails:
            content = content[:100]  # pg_dump wrote part of the archive before it failed
        if option['--format'] == 'directory':
            os.mkdir(option['--file'])
            for name, data in (('toc.dat', content[:64]), ('3356.dat.gz', content[64:])):
                with open(os.path.join(option['--file'], name), 'wb') as handle:
                    handle.write(data)
        elif '--file' in option:
            with open(option['--file'], 'wb') as handle:
                handle.write(content)
        else:
            stdout.write(content)
        if self.dump_fails:
            return ExecResult(self.dump_fails[0], self.dump_fails[1], stdout=None, **done)
        return ExecResult(0, '', stdout=None, **done)


class FakeCatalog:
    """The local transport's catalog (psycopg there): the same fake server, without a psql process."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def disconnect(self, dbname):
        return None

    def close(self):
        return None

    def scalar(self, query, dbname):
        lines = self.server.answer(query, dbname).splitlines()
        return lines[0] if lines and lines[0] else None

    def execute(self, statement, dbname):
        self.server.execute(statement)


@pytest.fixture
def local_catalog(monkeypatch):
    """Makes the local transport's psycopg catalog answer from a fake server; returns that server."""
    server = FakeServer()
    monkeypatch.setattr(pg, 'psycopg', object())
    monkeypatch.setattr(pg, 'PsycopgCatalog', lambda *args, **kwargs: FakeCatalog(server))
    return server


class Clock:
    """A clock that moves one second each time it is read."""

    def __init__(self, start: datetime.datetime = NOW) -> None:
        self.moment = start

    def __call__(self) -> datetime.datetime:
        self.moment += datetime.timedelta(seconds=1)
        return self.moment


def backup_params(dest, **changes):
    params = dict(
        state='present', db='shop', dest=str(dest), label='pre-2.0', force=False, format='custom', compression='auto',
        compression_level=None, jobs=1, dump_args=None, restore_args=None, metadata={'release': '2.0.0'}, keep=None,
        max_age=None, free_space_ratio=1.0, min_free='0', path=None, source_db=None, target_db=None, target_owner=None,
        restore_mode='clean', single_transaction=None, maintenance_db='postgres', bin_dir=None,
        login_host='db.internal', port=5432, login_user='artisan', login_password=PASSWORD, login_unix_socket=None,
        ssl_mode=None, ssl_rootcert=None, connect_timeout=10, exec_via={'type': 'docker', 'container': 'pg'})
    params.update(changes)
    return params


def perform(what, params, transport, check_mode=False, now=None):
    """Run one state's function as the module does; the result and the warnings."""
    warnings: list[str] = []
    action = actions.Action(params, transport, check_mode, warnings.append, now=now or Clock())
    try:
        return what(action), warnings
    finally:
        action.close()


def failure(what, params, transport, check_mode=False, now=None):
    """The exception a run raises, whatever its class (the module's failures carry ``msg`` and ``context``)."""
    with pytest.raises(Exception) as caught:
        perform(what, params, transport, check_mode, now)
    return caught.value


def listing(dest) -> list[str]:
    return sorted(os.listdir(str(dest))) if os.path.isdir(str(dest)) else []


def seed_backup(dest, label, finished, content=ARCHIVE, database='shop', **changes):
    """A verified backup as an earlier run left it: the data file and its manifest."""
    os.makedirs(str(dest), exist_ok=True)
    name = decide.backup_stem(database, label) + '.dump'
    with open(os.path.join(str(dest), name), 'wb') as handle:
        handle.write(content)
    manifest = dict(schema=decide.MANIFEST_SCHEMA, database=database, label=label, file=name, format='custom',
                    compression={'method': 'gzip', 'level': 1}, size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(), server_version='15.18',
                    system_identifier=SYSTEM_ID, pg_dump_version='15.18', started_at=decide.iso(finished),
                    finished_at=decide.iso(finished), toc_entries=13, alembic_revision='c3d4', exec_via='docker',
                    metadata={}, verified=True)
    manifest.update(changes)
    with open(os.path.join(str(dest), decide.manifest_name(database, label)), 'w') as handle:
        json.dump(manifest, handle)
    return manifest


def read_manifest(dest, label, database='shop'):
    with open(os.path.join(str(dest), decide.manifest_name(database, label))) as handle:
        return json.load(handle)


def sha256_file(path) -> str:
    with open(str(path), 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


# --- take -----------------------------------------------------------------------------------------

def test_a_backup_is_published_with_its_checksum_after_it_verifies(tmp_path):
    dest = tmp_path / 'backups'
    transport = FakeTransport(FakeServer())
    result, warnings = perform(actions.take_backup, backup_params(dest), transport)

    final = dest / 'shop--pre-2.0.dump'
    assert result['changed'] is True and result['path'] == str(final)
    assert listing(dest) == ['shop--pre-2.0.dump', 'shop--pre-2.0.manifest.json']
    assert final.read_bytes() == ARCHIVE and stat.S_IMODE(final.stat().st_mode) == 0o600
    manifest = read_manifest(dest, 'pre-2.0')
    assert manifest == result['manifest']
    assert manifest['sha256'] == hashlib.sha256(ARCHIVE).hexdigest() and manifest['size'] == len(ARCHIVE)
    assert manifest['verified'] is True and manifest['toc_entries'] == 13
    assert manifest['alembic_revision'] == 'c3d4' and manifest['system_identifier'] == SYSTEM_ID
    assert manifest['metadata'] == {'release': '2.0.0'} and manifest['exec_via'] == 'docker'
    assert manifest['sha256'][:12] in result['msg']
    assert warnings == []
    # The archive was listed as it was written (through stdin: the file is on this host, pg_restore in the container).
    assert transport.called('pg_restore', '--list')[0]['input'] == ARCHIVE
    dump = transport.called('pg_dump', '--format')[0]
    assert '--dbname=shop' in dump['argv'] and dump['env']['PGPASSWORD'] == PASSWORD
    assert any(command.startswith('pg_dump --format=custom') for command in result['commands'])
    assert not any(PASSWORD in command for command in result['commands'])
    assert result['diff']['before'] == '' and 'pre-2.0 shop--pre-2.0.dump' in result['diff']['after']


def test_a_local_dump_is_written_by_pg_dump_under_a_temporary_name_then_renamed(tmp_path, local_catalog):
    transport = FakeTransport(local_catalog, kind='local')
    result, _warnings = perform(actions.take_backup, backup_params(tmp_path), transport)

    written = re.match(r'--file=(.*)', transport.called('pg_dump', '--file')[0]['argv'][-2]).group(1)
    assert os.path.dirname(written) == str(tmp_path) and os.path.basename(written).startswith('.artisan-tmp-')
    assert not os.path.exists(written)
    # pg_restore read the same temporary file, before it was published.
    assert transport.called('pg_restore', '--list')[0]['argv'][-1] == written
    assert listing(tmp_path) == ['shop--pre-2.0.dump', 'shop--pre-2.0.manifest.json']
    assert result['manifest']['sha256'] == sha256_file(tmp_path / 'shop--pre-2.0.dump')


def test_a_directory_backup_is_checksummed_over_its_files(tmp_path, local_catalog):
    transport = FakeTransport(local_catalog, kind='local', listing=recorded.LIST_DIRECTORY)
    result, _warnings = perform(actions.take_backup, backup_params(tmp_path, format='directory', jobs=2), transport)

    folder = tmp_path / 'shop--pre-2.0.dir'
    assert sorted(os.listdir(str(folder))) == ['3356.dat.gz', 'toc.dat']
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert result['manifest']['size'] == len(ARCHIVE) and result['manifest']['format'] == 'directory'
    inner = ''.join('%s\0%s\n' % (name, sha256_file(folder / name)) for name in ('3356.dat.gz', 'toc.dat'))
    assert result['manifest']['sha256'] == hashlib.sha256(inner.encode()).hexdigest()
    assert '--jobs=2' in transport.called('pg_dump', '--format')[0]['argv']


@pytest.mark.parametrize('kind', ['docker', 'local'])
def test_a_failing_pg_dump_leaves_nothing_that_looks_like_a_backup(tmp_path, local_catalog, kind):
    server = local_catalog if kind == 'local' else FakeServer()
    transport = FakeTransport(server, kind=kind, dump_fails=recorded.PG_DUMP_WRONG_PASSWORD)
    error = failure(actions.take_backup, backup_params(tmp_path), transport)

    assert error.msg.startswith('pg_dump of shop failed (rc 1): wrong password for role "artisan": check login_password')
    assert 'no backup was written' in error.msg
    assert error.context['rc'] == 1 and 'password authentication failed' in error.context['stderr']
    assert listing(tmp_path) == []  # no manifest, no temporary file
    assert transport.called('pg_restore') == []


def test_a_failed_retake_keeps_the_previous_backup_of_that_label(tmp_path):
    old = seed_backup(tmp_path, 'pre-2.0', NOW - datetime.timedelta(days=1), content=b'the old archive')
    transport = FakeTransport(FakeServer(), dump_fails=recorded.PG_DUMP_REFUSED)
    error = failure(actions.take_backup, backup_params(tmp_path, force=True), transport)

    assert 'connection refused' in error.msg
    assert listing(tmp_path) == ['shop--pre-2.0.dump', 'shop--pre-2.0.manifest.json']
    assert (tmp_path / 'shop--pre-2.0.dump').read_bytes() == b'the old archive'
    assert read_manifest(tmp_path, 'pre-2.0') == old


@pytest.mark.parametrize('fails, expected', [
    (dict(list_fails=recorded.PG_RESTORE_TRUNCATED), 'pg_restore --list failed (rc 1): pg_restore: error: could not '
                                                     'read from input file: end of file'),
    (dict(listing=recorded.LIST_CUSTOM.replace('dbname: shop', 'dbname: other')), 'archive is of database other, '
                                                                                  'expected shop'),
    (dict(listing='garbage\n'), 'pg_restore --list printed no archive header'),
])
def test_a_dump_that_does_not_verify_is_not_published(tmp_path, fails, expected):
    transport = FakeTransport(FakeServer(), **fails)
    error = failure(actions.take_backup, backup_params(tmp_path), transport)

    assert error.msg == 'the dump of shop does not verify, no backup was written: %s' % expected
    assert listing(tmp_path) == []


def test_an_empty_database_is_backed_up_with_a_warning(tmp_path):
    transport = FakeTransport(FakeServer(), listing=recorded.LIST_CUSTOM_EMPTY.replace('dbname: empty', 'dbname: shop'))
    result, warnings = perform(actions.take_backup, backup_params(tmp_path), transport)
    assert result['changed'] is True and result['manifest']['toc_entries'] == 0
    assert warnings == ['the backup of shop lists no objects: is the database empty?']


def test_a_plain_dump_is_checked_for_the_completion_marker(tmp_path):
    transport = FakeTransport(FakeServer(), dump=PLAIN)
    result, _warnings = perform(actions.take_backup, backup_params(tmp_path, format='plain'), transport)
    assert result['path'] == str(tmp_path / 'shop--pre-2.0.sql.gz')
    assert gzip.decompress((tmp_path / 'shop--pre-2.0.sql.gz').read_bytes()) == PLAIN
    assert transport.called('pg_restore') == []

    truncated = FakeTransport(FakeServer(), dump=PLAIN[:-200])
    error = failure(actions.take_backup, backup_params(tmp_path / 'cut', format='plain'), truncated)
    assert "does not end with pg_dump's completion marker" in error.msg and 'truncated' in error.msg
    assert listing(tmp_path / 'cut') == []


def test_the_same_label_is_reused_without_dumping_again(tmp_path):
    server = FakeServer()
    first, _warnings = perform(actions.take_backup, backup_params(tmp_path), FakeTransport(server))
    again = FakeTransport(server)
    result, warnings = perform(actions.take_backup, backup_params(tmp_path), again)

    assert result['changed'] is False
    assert result['msg'] == 'verified backup pre-2.0 of shop exists'
    assert result['manifest'] == first['manifest'] and result['path'] == first['path']
    assert again.calls == [] and result['commands'] == []
    assert warnings == [] and result['diff']['before'] == result['diff']['after']


def test_a_reused_label_in_another_format_warns_and_is_kept(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW)
    transport = FakeTransport(FakeServer())
    result, warnings = perform(actions.take_backup, backup_params(tmp_path, format='plain'), transport)
    assert result['changed'] is False and transport.calls == []
    assert warnings == ['backup pre-2.0 exists in custom format; set force: true to take it again as plain']


def test_a_labelled_backup_whose_file_changed_is_taken_again(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW - datetime.timedelta(hours=1), content=b'short')
    (tmp_path / 'shop--pre-2.0.dump').write_bytes(b'sho')
    transport = FakeTransport(FakeServer())
    result, warnings = perform(actions.take_backup, backup_params(tmp_path), transport)

    assert result['changed'] is True and (tmp_path / 'shop--pre-2.0.dump').read_bytes() == ARCHIVE
    assert read_manifest(tmp_path, 'pre-2.0')['sha256'] == hashlib.sha256(ARCHIVE).hexdigest()
    assert warnings == ['backup pre-2.0 of shop cannot be reused (%s is 3 bytes, the manifest says 5): taking it '
                        'again' % (tmp_path / 'shop--pre-2.0.dump')]
    assert listing(tmp_path) == ['shop--pre-2.0.dump', 'shop--pre-2.0.manifest.json']


def test_check_mode_writes_nothing_and_runs_no_dump(tmp_path):
    dest = tmp_path / 'backups'
    transport = FakeTransport(FakeServer())
    result, _warnings = perform(actions.take_backup, backup_params(dest), transport, check_mode=True)

    assert result['changed'] is True and result['manifest'] is None
    assert result['msg'].startswith('would write backup pre-2.0 of shop (custom, 64.0 KiB) to ')
    assert not dest.exists()
    assert transport.called('pg_dump', '--format') == [] and transport.called('pg_restore') == []
    assert 'pre-2.0 shop--pre-2.0.dump' in result['diff']['after']


def test_check_mode_reuses_a_labelled_backup_and_prunes_nothing(tmp_path):
    seed_backup(tmp_path, 'old', NOW - datetime.timedelta(days=3))
    seed_backup(tmp_path, 'pre-2.0', NOW - datetime.timedelta(days=1))
    before = listing(tmp_path)
    result, _warnings = perform(actions.take_backup, backup_params(tmp_path, keep=1), FakeTransport(FakeServer()),
                                check_mode=True)
    assert result['changed'] is True and result['pruned'] == [str(tmp_path / 'shop--old.dump')]
    assert listing(tmp_path) == before
    assert 'old ' not in result['diff']['after'] and 'pre-2.0 ' in result['diff']['after']


def test_keep_zero_still_keeps_the_backup_just_taken(tmp_path):
    for days in (3, 2, 1):
        seed_backup(tmp_path, 'day-%d' % days, NOW - datetime.timedelta(days=days))
    result, _warnings = perform(actions.take_backup, backup_params(tmp_path, keep=0), FakeTransport(FakeServer()))

    assert sorted(result['pruned']) == sorted(str(tmp_path / ('shop--day-%d.dump' % d)) for d in (1, 2, 3))
    assert listing(tmp_path) == ['shop--pre-2.0.dump', 'shop--pre-2.0.manifest.json']


def test_retention_keeps_the_newest_and_the_reused_labelled_backup(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW - datetime.timedelta(days=5))
    seed_backup(tmp_path, 'middle', NOW - datetime.timedelta(days=3))
    seed_backup(tmp_path, 'newest', NOW - datetime.timedelta(days=1))
    transport = FakeTransport(FakeServer())
    result, _warnings = perform(actions.take_backup, backup_params(tmp_path, keep=1), transport)

    assert result['changed'] is True and result['pruned'] == [str(tmp_path / 'shop--middle.dump')]
    assert transport.calls == []
    assert listing(tmp_path) == ['shop--newest.dump', 'shop--newest.manifest.json',
                                 'shop--pre-2.0.dump', 'shop--pre-2.0.manifest.json']


def test_max_age_prunes_only_this_databases_old_backups(tmp_path):
    seed_backup(tmp_path, 'ancient', NOW - datetime.timedelta(days=30))
    seed_backup(tmp_path, 'recent', NOW - datetime.timedelta(hours=2))
    seed_backup(tmp_path, 'ancient', NOW - datetime.timedelta(days=30), database='billing')
    result, _warnings = perform(actions.take_backup, backup_params(tmp_path, max_age='7d'), FakeTransport(FakeServer()))

    assert result['pruned'] == [str(tmp_path / 'shop--ancient.dump')]
    assert listing(tmp_path) == ['billing--ancient.dump', 'billing--ancient.manifest.json',
                                 'shop--pre-2.0.dump', 'shop--pre-2.0.manifest.json',
                                 'shop--recent.dump', 'shop--recent.manifest.json']


def test_a_manifest_that_cannot_vouch_is_skipped_with_a_warning_and_never_pruned(tmp_path):
    seed_backup(tmp_path, 'unverified', NOW - datetime.timedelta(days=30), verified=False)
    (tmp_path / 'shop--broken.manifest.json').write_text('{not json')
    result, warnings = perform(actions.take_backup, backup_params(tmp_path, keep=0), FakeTransport(FakeServer()))

    assert result['pruned'] == []
    # Each read of the folder warns again; two distinct warnings.
    unique = sorted(set(warnings))
    assert len(unique) == 2
    assert unique[0] == 'ignoring manifest %s: the backup was never verified' % (tmp_path / 'shop--unverified.manifest.json')
    assert unique[1].startswith('ignoring unreadable manifest %s: ' % (tmp_path / 'shop--broken.manifest.json'))
    assert (tmp_path / 'shop--unverified.dump').exists()


@pytest.mark.parametrize('change, expected', [
    (dict(min_free='1T'), 'not enough free space at the destination'),
    (dict(format='directory'), 'format directory needs exec_via local'),
    (dict(format='plain', compression='lz4'), 'compression lz4 needs pg_dump 16 or newer'),
])
def test_refusals_before_the_dump_write_nothing(tmp_path, change, expected):
    transport = FakeTransport(FakeServer())
    error = failure(actions.take_backup, backup_params(tmp_path / 'b', **change), transport)
    assert expected in str(error)
    assert transport.called('pg_dump', '--format') == [] and listing(tmp_path / 'b') == []


def test_an_older_pg_dump_than_the_server_is_refused(tmp_path):
    server = FakeServer()
    server.version_num = 160004
    transport = FakeTransport(server)
    error = failure(actions.take_backup, backup_params(tmp_path), transport)
    assert error.msg.startswith('pg_dump 15.18 is older than the server (16.4)')
    assert transport.called('pg_dump', '--format') == [] and listing(tmp_path) == []


def test_an_unreachable_container_is_reported_as_the_transport_says(tmp_path):
    transport = FakeTransport(FakeServer(), broken='container "pg" is not running')
    error = failure(actions.take_backup, backup_params(tmp_path), transport)
    assert error.msg == 'container "pg" is not running' and transport.calls == []


def test_a_namesake_databases_backup_is_not_overwritten(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW, database='shop-eu')
    os.rename(str(tmp_path / 'shop-eu--pre-2.0.manifest.json'), str(tmp_path / 'shop_eu--pre-2.0.manifest.json'))
    transport = FakeTransport(FakeServer())
    error = failure(actions.take_backup, backup_params(tmp_path, db='shop_eu'), transport)
    assert 'already holds the backup pre-2.0 of database "shop-eu"' in error.msg
    assert transport.called('pg_dump') == []


# --- restore --------------------------------------------------------------------------------------

def restore_params(dest, **changes):
    return backup_params(dest, **dict(dict(state='restored', metadata=None), **changes))


def test_a_restore_streams_the_verified_archive_and_records_its_marker(tmp_path):
    manifest = seed_backup(tmp_path, 'pre-2.0', NOW)
    server = FakeServer()
    transport = FakeTransport(server)
    result, _warnings = perform(actions.restore_backup, restore_params(tmp_path), transport)

    assert result['changed'] is True and result['steps'] == ['clean', 'restore']
    assert result['msg'] == 'restored pre-2.0 into shop (clean, restore)'
    restore = transport.called('pg_restore', '--dbname')[0]
    assert restore['input'] == ARCHIVE
    assert {'--clean', '--if-exists', '--single-transaction', '--exit-on-error'} <= set(restore['argv'])
    assert server.databases['shop']['comment'] == 'artisan.restored_from: pre-2.0@sha256:%s' % manifest['sha256']
    assert result['diff']['after'] == 'shop: restored from pre-2.0@sha256:%s\n' % manifest['sha256']

    again = FakeTransport(server)
    result, _warnings = perform(actions.restore_backup, restore_params(tmp_path), again)
    assert result['changed'] is False and result['msg'] == 'backup pre-2.0 is already restored into shop'
    assert again.called('pg_restore') == []


def test_a_corrupted_backup_is_refused_before_anything_changes(tmp_path):
    manifest = seed_backup(tmp_path, 'pre-2.0', NOW)
    data = tmp_path / 'shop--pre-2.0.dump'
    data.write_bytes(b'X' + ARCHIVE[1:])  # same size, other content
    server = FakeServer()
    transport = FakeTransport(server)
    error = failure(actions.restore_backup, restore_params(tmp_path), transport)

    assert error.msg == ('backup %s is corrupted: size %d, sha256 %s; its manifest says size %d, sha256 %s. Refusing '
                         'to restore it' % (data, len(ARCHIVE), sha256_file(data), len(ARCHIVE), manifest['sha256']))
    assert transport.calls == [] and server.statements == []


def test_a_missing_backup_file_is_refused(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW)
    os.unlink(str(tmp_path / 'shop--pre-2.0.dump'))
    transport = FakeTransport(FakeServer())
    error = failure(actions.restore_backup, restore_params(tmp_path), transport)
    assert error.msg == 'backup %s is missing; refusing to restore' % (tmp_path / 'shop--pre-2.0.dump')
    assert transport.calls == []


@pytest.mark.parametrize('manifest_change, expected', [
    (dict(verified=False), 'the backup was never verified; refusing to restore'),
    (dict(schema='someone/else/v9'), "unknown schema 'someone/else/v9'; refusing to restore"),
])
def test_a_path_whose_manifest_cannot_vouch_is_refused(tmp_path, manifest_change, expected):
    seed_backup(tmp_path, 'pre-2.0', NOW, **manifest_change)
    transport = FakeTransport(FakeServer())
    error = failure(actions.restore_backup, restore_params(tmp_path, label=None, path=str(tmp_path / 'shop--pre-2.0.dump')),
                    transport)
    assert error.msg.startswith('manifest %s cannot vouch for ' % (tmp_path / 'shop--pre-2.0.manifest.json'))
    assert error.msg.endswith(expected) and transport.calls == []


def test_a_file_without_a_manifest_is_refused(tmp_path):
    (tmp_path / 'copied.dump').write_bytes(ARCHIVE)
    error = failure(actions.restore_backup, restore_params(tmp_path, label=None, path=str(tmp_path / 'copied.dump')),
                    FakeTransport(FakeServer()))
    assert error.msg.startswith('no manifest beside %s names it' % (tmp_path / 'copied.dump'))


def test_an_unknown_label_is_refused(tmp_path):
    seed_backup(tmp_path, 'pre-1.9', NOW)
    error = failure(actions.restore_backup, restore_params(tmp_path), FakeTransport(FakeServer()))
    assert error.msg == 'no verified backup labelled pre-2.0 of database shop in %s' % tmp_path


@pytest.mark.parametrize('check_mode', [False, True])
def test_another_databases_data_is_not_overwritten_without_force(tmp_path, check_mode):
    seed_backup(tmp_path, 'pre-2.0', NOW)
    server = FakeServer()
    server.databases['reports'] = {'comment': 'owned by the BI team', 'count': 12,
                                   'names': ['public.t%02d' % i for i in range(12)]}
    transport = FakeTransport(server)
    error = failure(actions.restore_backup, restore_params(tmp_path, target_db='reports'), transport, check_mode)

    assert error.msg.startswith('database "reports" holds 12 tables or views (public.t00, ')
    assert 'and 2 more) and is not the database this backup was taken of ("shop")' in error.msg
    assert 'nothing was changed' in error.msg
    assert error.context['diff']['before'] == error.context['diff']['after'] == \
        'reports: 12 tables or views, restored from (no pg_backup restore recorded)\n'
    assert server.statements == [] and transport.called('pg_restore') == []


def test_the_same_database_on_another_cluster_is_not_overwritten(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW)
    server = FakeServer()
    server.system_identifier = '7399999999999999999'
    error = failure(actions.restore_backup, restore_params(tmp_path), FakeTransport(server))
    assert 'on the server with system identifier %s; this one is 7399999999999999999' % SYSTEM_ID in error.msg
    assert server.statements == []


def test_a_role_without_the_privileges_is_refused_before_anything_changes(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW)
    server = FakeServer()
    server.role = {'user': 'app', 'superuser': False, 'createdb': False, 'owns_target': False, 'target_owner': None}
    error = failure(actions.restore_backup, restore_params(tmp_path, restore_mode='recreate'), FakeTransport(server))
    assert error.msg.startswith('role "app" cannot restore into database "shop" with restore_mode recreate: it needs '
                                'the CREATEDB attribute')
    assert server.statements == []


def test_check_mode_restore_changes_nothing(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW)
    server = FakeServer()
    transport = FakeTransport(server)
    result, _warnings = perform(actions.restore_backup, restore_params(tmp_path, restore_mode='recreate'), transport,
                                check_mode=True)
    assert result['changed'] is True and result['steps'] == ['drop', 'create', 'restore']
    assert result['msg'] == 'would restore pre-2.0 into shop (drop, create, restore)'
    assert server.statements == [] and transport.called('pg_restore') == []
    assert server.databases['shop']['comment'] is None


def test_recreate_drops_and_creates_then_restores(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW)
    server = FakeServer()
    transport = FakeTransport(server)
    result, _warnings = perform(actions.restore_backup, restore_params(tmp_path, restore_mode='recreate',
                                                                       target_owner='app'), transport)
    assert server.statements[:2] == ['DROP DATABASE "shop" WITH (FORCE)',
                                     'CREATE DATABASE "shop" TEMPLATE template0 OWNER "app"']
    # The SQL is reported with what ran (under queries today; the shared envelope's commands may carry it).
    assert set(server.statements[:2]) <= set(result.get('queries', []) + result['commands'])
    assert '--clean' not in transport.called('pg_restore', '--dbname')[0]['argv']


def test_a_failed_restore_does_not_leave_a_marker_that_says_done(tmp_path):
    seed_backup(tmp_path, 'pre-1.9', NOW - datetime.timedelta(days=1), content=b'older archive')
    seed_backup(tmp_path, 'pre-2.0', NOW)
    server = FakeServer()
    perform(actions.restore_backup, restore_params(tmp_path, label='pre-1.9'), FakeTransport(server))
    assert 'pre-1.9@sha256:' in server.databases['shop']['comment']

    server.statements.clear()
    boom = (1, 'pg_restore: error: could not execute query: ERROR:  boom\n')
    failing = FakeTransport(server, restore_fails=boom)
    error = failure(actions.restore_backup, restore_params(tmp_path, single_transaction=False), failing)
    assert error.msg.startswith('restore of %s into shop failed (rc 1); the database may be partly restored: '
                                'pg_restore: error' % (tmp_path / 'shop--pre-2.0.dump'))
    # The old marker was cleared before the restore began: the database claims neither backup, and the task
    # says that it changed the database.
    assert server.statements == ['COMMENT ON DATABASE "shop" IS NULL']
    assert server.databases['shop']['comment'] is None
    assert error.context['changed'] is True
    assert len(failing.called('pg_restore', '--dbname')) == 1


def restored_from_the_older_backup(tmp_path):
    """Two backups, the older one restored: (the server, the database's comment with its marker)."""
    seed_backup(tmp_path, 'pre-1.9', NOW - datetime.timedelta(days=1), content=b'older archive')
    seed_backup(tmp_path, 'pre-2.0', NOW)
    server = FakeServer()
    perform(actions.restore_backup, restore_params(tmp_path, label='pre-1.9'), FakeTransport(server))
    server.statements.clear()
    return server, server.databases['shop']['comment']


def test_a_failed_single_transaction_restore_leaves_the_database_and_its_marker_as_they_were(tmp_path):
    server, before = restored_from_the_older_backup(tmp_path)
    failing = FakeTransport(server, restore_fails=(1, 'pg_restore: error: could not execute query: ERROR:  boom\n'))
    error = failure(actions.restore_backup, restore_params(tmp_path), failing)
    assert 'the single transaction was rolled back: pg_restore: error' in error.msg
    assert server.statements == [] and server.databases['shop']['comment'] == before
    assert error.context['changed'] is False


def test_a_restore_failing_after_the_drop_says_it_changed_the_database(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW)
    server = FakeServer()
    failing = FakeTransport(server, restore_fails=(1, 'pg_restore: error: could not execute query: ERROR:  boom\n'))
    error = failure(actions.restore_backup, restore_params(tmp_path, restore_mode='recreate'), failing)
    assert server.statements[:2] == ['DROP DATABASE "shop" WITH (FORCE)', 'CREATE DATABASE "shop" TEMPLATE template0']
    assert error.context['changed'] is True and error.context['steps'] == ['drop', 'create', 'restore']
    assert 'the single transaction was rolled back' in error.msg


@pytest.mark.parametrize('kind', ['docker', 'local'])
def test_exact_drops_the_backups_schemas_and_replays_it_in_one_psql_transaction(tmp_path, kind, local_catalog):
    manifest = seed_backup(tmp_path, 'pre-2.0', NOW)
    server = local_catalog if kind == 'local' else FakeServer()
    transport = FakeTransport(server, kind=kind, listing=recorded.LIST_TWO_SCHEMAS)
    params = restore_params(tmp_path, restore_mode='exact', restore_args=['--no-owner'])

    planned, _warnings = perform(actions.restore_backup, params, transport, check_mode=True)
    assert planned['changed'] is True and planned['steps'] == ['clear', 'restore']
    assert planned['dropped'] == ['table public.audit_log', 'table public.users', 'type public.mood']
    assert "schemas extra, public: 3 objects dropped, then the backup's restored\n" in planned['diff']['before']
    assert "nspname IN ('extra', 'public')" in server.schema_queries[0]
    assert transport.called('psql', '--file') == [] and server.statements == []

    result, _warnings = perform(actions.restore_backup, params, transport)
    assert result['changed'] is True and result['msg'] == 'restored pre-2.0 into shop (clear, restore)'
    [convert] = transport.called('pg_restore', '--file')
    assert convert['argv'][:5] == ['pg_restore', '--clean', '--if-exists', '--exit-on-error', '--no-owner']
    [replay] = transport.called('psql', '--file')
    assert '--single-transaction' in replay['argv'] and '--set=ON_ERROR_STOP=1' in replay['argv']
    # The drops, then the SQL of the archive, in one script (one transaction).
    assert replay['input'] == (b'DROP TABLE IF EXISTS public.audit_log CASCADE;\nDROP TABLE IF EXISTS public.users CASCADE;\n'
                               b'DROP TYPE IF EXISTS public.mood CASCADE;\n-- SQL of an archive of %d bytes\n' % len(ARCHIVE))
    assert result['queries'][:3] == ['DROP TABLE IF EXISTS public.audit_log CASCADE',
                                     'DROP TABLE IF EXISTS public.users CASCADE', 'DROP TYPE IF EXISTS public.mood CASCADE']
    assert server.databases['shop']['comment'] == 'artisan.restored_from: pre-2.0@sha256:%s' % manifest['sha256']
    assert transport.called('pg_restore', '--dbname') == []
    assert listing(tmp_path) == ['shop--pre-2.0.dump', 'shop--pre-2.0.manifest.json'], 'the SQL script was left behind'


def test_exact_failing_changes_nothing_and_says_so(tmp_path):
    server, before = restored_from_the_older_backup(tmp_path)
    params = restore_params(tmp_path, restore_mode='exact')
    failing = FakeTransport(server, restore_fails=(3, 'psql:<stdin>:40: ERROR:  must be owner of table audit_log\n'))
    error = failure(actions.restore_backup, params, failing)
    assert error.msg.startswith('restore of %s into shop failed (rc 3); the single transaction was rolled back: '
                                'psql:<stdin>:40: ERROR:  must be owner' % (tmp_path / 'shop--pre-2.0.dump'))
    assert error.context['changed'] is False
    assert error.context['dropped'] == ['table public.audit_log', 'table public.users', 'type public.mood']
    assert server.statements == [] and server.databases['shop']['comment'] == before

    unconvertible = FakeTransport(server, convert_fails=(1, 'pg_restore: error: could not read from input file\n'))
    error = failure(actions.restore_backup, params, unconvertible)
    assert error.msg.startswith('pg_restore could not turn %s into SQL (rc 1), nothing was changed'
                                % (tmp_path / 'shop--pre-2.0.dump'))
    assert error.context['changed'] is False and unconvertible.called('psql', '--file') == []
    assert listing(tmp_path) == ['shop--pre-1.9.dump', 'shop--pre-1.9.manifest.json', 'shop--pre-2.0.dump',
                                 'shop--pre-2.0.manifest.json']


def test_exact_replays_a_plain_backup_after_the_drops(tmp_path):
    plain = PLAIN.replace(b'\nCREATE TABLE', b'\n-- Name: users; Type: TABLE; Schema: public; Owner: artisan\nCREATE TABLE')
    manifest = seed_backup(tmp_path, 'pre-2.0', NOW, content=gzip.compress(plain), format='plain')
    os.rename(str(tmp_path / 'shop--pre-2.0.dump'), str(tmp_path / manifest['file']))
    server = FakeServer()
    transport = FakeTransport(server)
    result, _warnings = perform(actions.restore_backup, restore_params(tmp_path, restore_mode='exact'), transport)
    assert result['changed'] is True
    assert "nspname IN ('public')" in server.schema_queries[0]
    [replay] = transport.called('psql', '--file')
    assert replay['input'].startswith(b'DROP TABLE IF EXISTS public.audit_log CASCADE;\n')
    assert replay['input'].endswith(plain) and transport.called('pg_restore') == []


def test_a_plain_backup_is_replayed_by_psql_decompressed(tmp_path):
    manifest = seed_backup(tmp_path, 'pre-2.0', NOW, content=gzip.compress(PLAIN), format='plain')
    os.rename(str(tmp_path / 'shop--pre-2.0.dump'), str(tmp_path / manifest['file']))
    transport = FakeTransport(FakeServer())
    result, _warnings = perform(actions.restore_backup, restore_params(tmp_path), transport)
    replay = transport.called('psql', '--file')[0]
    assert replay['input'] == PLAIN and '--single-transaction' in replay['argv']
    assert result['changed'] is True


@pytest.mark.parametrize('kind, change, expected', [
    ('docker', dict(jobs=4), 'parallel restore (jobs > 1) reads the archive from a file, but through docker'),
    ('local', dict(jobs=2, single_transaction=True), 'single_transaction cannot be combined with jobs > 1'),
    ('local', dict(jobs=2, restore_mode='exact'), 'restore_mode exact drops and restores in one transaction'),
])
def test_restore_option_conflicts_are_refused(tmp_path, kind, change, expected):
    seed_backup(tmp_path, 'pre-2.0', NOW)
    transport = FakeTransport(FakeServer(), kind=kind)
    error = failure(actions.restore_backup, restore_params(tmp_path, **change), transport)
    assert expected in str(error) and transport.calls == []


# --- remove ---------------------------------------------------------------------------------------

def test_absent_removes_the_labelled_backup_manifest_and_file(tmp_path):
    seed_backup(tmp_path, 'pre-2.0', NOW)
    seed_backup(tmp_path, 'other', NOW)
    params = backup_params(tmp_path, state='absent')

    checked, _warnings = perform(actions.remove_backups, params, FakeTransport(FakeServer()), check_mode=True)
    assert checked['changed'] is True and checked['msg'] == 'would remove shop--pre-2.0.dump'
    assert len(listing(tmp_path)) == 4

    result, _warnings = perform(actions.remove_backups, params, FakeTransport(FakeServer()))
    assert result['changed'] is True and result['path'] == str(tmp_path / 'shop--pre-2.0.dump')
    assert listing(tmp_path) == ['shop--other.dump', 'shop--other.manifest.json']

    again, _warnings = perform(actions.remove_backups, params, FakeTransport(FakeServer()))
    assert again['changed'] is False and again['msg'] == 'nothing to remove for shop'


# --- the run plumbing: recorded commands with the password masked, the envelope ---------------------------------


class Stopwatch:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 50.0

    def __call__(self):
        return self.now


class RecordingCatalog:
    """What psycopg would be sent (the statements), without a server."""

    def __init__(self):
        self.sent = []

    def execute(self, statement, dbname):
        self.sent.append((statement, dbname))


def plumbing_action(clock=None):
    params = dict(login_password='pw-0123456789', maintenance_db='postgres', bin_dir=None)
    return actions.Action(params, LocalTransport(), check_mode=False, warn=lambda msg: None, clock=clock or Stopwatch())


def test_commands_run_are_recorded_with_the_password_masked():
    run = plumbing_action()
    result = run.run(['sh', '-c', 'test -n "$PGPASSWORD"', 'pw-0123456789'])
    assert result.rc == 0, 'the password travels in the environment'
    assert run.commands == ["sh -c 'test -n \"$PGPASSWORD\"' %s" % MASK]


def test_statements_sent_by_psycopg_are_commands_too():
    run = plumbing_action()
    run._catalog = RecordingCatalog()
    run.admin('DROP DATABASE "shop" WITH (FORCE)')
    assert run._catalog.sent == [('DROP DATABASE "shop" WITH (FORCE)', 'postgres')]
    assert run.commands == run.queries == ['DROP DATABASE "shop" WITH (FORCE)']


def test_success_and_failure_answer_the_envelope_with_the_queries():
    clock = Stopwatch()
    run = plumbing_action(clock)
    run.queries.append('CREATE DATABASE "shop" TEMPLATE template0')
    clock.now += 2.5
    assert run.result(changed=True, msg='restored', steps=['create', 'restore']) == dict(
        changed=True, msg='restored', steps=['create', 'restore'], queries=['CREATE DATABASE "shop" TEMPLATE template0'],
        commands=[], duration=2.5)
    failed = run.failed(ModuleFailure('pg_dump of shop failed (rc 1)', rc=1, stderr='boom'))
    assert failed == dict(changed=False, msg='pg_dump of shop failed (rc 1)', rc=1, stderr='boom',
                          queries=['CREATE DATABASE "shop" TEMPLATE template0'], commands=[], duration=2.5)


# --- check mode prunes what the real run would; unreadable manifests ------------------------------

def test_check_mode_counts_the_backup_it_would_take_when_pruning(tmp_path):
    for name in ('checked', 'real'):
        seed_backup(tmp_path / name, 'older', NOW - datetime.timedelta(days=1))
    checked, _warnings = perform(actions.take_backup, backup_params(tmp_path / 'checked', keep=1),
                                 FakeTransport(FakeServer()), check_mode=True)
    real, _warnings = perform(actions.take_backup, backup_params(tmp_path / 'real', keep=1), FakeTransport(FakeServer()))

    assert real['pruned'] == [str(tmp_path / 'real' / 'shop--older.dump')]
    # Check mode must announce the same deletion, in pruned and in the diff.
    assert checked['pruned'] == [str(tmp_path / 'checked' / 'shop--older.dump')]
    assert 'older ' not in checked['diff']['after']


def test_check_mode_of_absent_prunes_as_if_the_labelled_backup_were_removed(tmp_path):
    for name in ('checked', 'real'):
        for label, days in (('x', 1), ('y', 2), ('z', 3)):
            seed_backup(tmp_path / name, label, NOW - datetime.timedelta(days=days))
    checked, _warnings = perform(actions.remove_backups, backup_params(tmp_path / 'checked', state='absent', label='x',
                                                                       keep=1), FakeTransport(FakeServer()), check_mode=True)
    real, _warnings = perform(actions.remove_backups, backup_params(tmp_path / 'real', state='absent', label='x', keep=1),
                              FakeTransport(FakeServer()))

    assert real['msg'] == 'removed shop--x.dump, shop--z.dump'
    assert checked['msg'] == 'would remove shop--x.dump, shop--z.dump'


def test_an_unreadable_manifest_at_the_labels_name_is_replaced_not_a_crash(tmp_path):
    (tmp_path / 'shop--pre-2.0.manifest.json').write_text('{"database": "shop", "lab')
    result, warnings = perform(actions.take_backup, backup_params(tmp_path), FakeTransport(FakeServer()))

    assert result['changed'] is True
    assert read_manifest(tmp_path, 'pre-2.0')['sha256'] == hashlib.sha256(ARCHIVE).hexdigest()
    assert warnings[0].startswith('ignoring unreadable manifest %s: ' % (tmp_path / 'shop--pre-2.0.manifest.json'))
