# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_backup's three states as plain functions: take (present), restore (restored), remove (absent).

Each returns the module result (the _run envelope with pg_backup's own keys), or raises ModuleFailure with a
message and context. The decisions come from _pg_backup; commands go through an _exec transport; files through
_backup_store.
"""

from __future__ import annotations

import datetime
import os
import time
import typing as t
import zlib

from ansible_collections.artisan.upgrade.plugins.module_utils import _backup_store as store
from ansible_collections.artisan.upgrade.plugins.module_utils import _pg_backup as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _postgres as pg
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecError, describe_exit
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Action(Run):
    """One pg_backup run: the transport, the catalog (queries), and the commands and queries run so far."""

    def __init__(self, params: dict[str, t.Any], transport: t.Any, check_mode: bool,
                 warn: t.Callable[[str], None], now: t.Callable[[], datetime.datetime] = utcnow,
                 clock: t.Callable[[], float] = time.monotonic) -> None:
        super().__init__(secrets=[params.get('login_password')], clock=clock)
        self.params = params
        self.transport = transport
        self.check_mode = check_mode
        self.warn = warn
        self.now = now
        self.queries: list[str] = []
        self._catalog: t.Any = None

    # -- plumbing --------------------------------------------------------------------------------

    def tool(self, name: str) -> str:
        return os.path.join(self.params['bin_dir'], name) if self.params.get('bin_dir') else name

    def run(self, argv: list[str], dbname: str | None = None, stdin: t.Any = None, stdout: t.Any = None) -> t.Any:
        result = self.transport.run(argv, pg.libpq_env(self.params, dbname), stdin=stdin, stdout=stdout)
        self.record(result.command)
        return result

    def catalog(self) -> t.Any:
        if self._catalog is None:
            if self.transport.kind == 'local':
                if pg.psycopg is None:
                    raise ModuleFailure('psycopg (version 3) is needed on this host to query PostgreSQL: '
                                        'pip install "psycopg[binary]"')
                self._catalog = pg.PsycopgCatalog(self.params)
            else:
                self._catalog = pg.PsqlCatalog(self.params, self.transport, self.tool('psql'), self.record)
        return self._catalog

    def admin(self, statement: str) -> None:
        self.queries.append(statement)
        if self.transport.kind == 'local':
            # psycopg sends it itself; through psql, the psql line that carries it is recorded.
            self.record(statement)
        self.catalog().execute(statement, self.params['maintenance_db'])

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()

    def tool_version(self, name: str) -> tuple[int, int]:
        result = self.run([self.tool(name), '--version'])
        if result.rc != 0:
            raise ModuleFailure('cannot run %s where the commands run (%s): %s' % (
                self.tool(name), self.transport.kind, result.stderr.strip() or describe_exit(result.rc)))
        return decide.parse_tool_version(result.stdout_text())

    def result(self, changed: bool, msg: str, **fields: t.Any) -> dict[str, t.Any]:
        return self.envelope(changed, msg, queries=list(self.queries), **fields)

    def failed(self, exc: ModuleFailure) -> dict[str, t.Any]:
        return self.failure(exc, queries=list(self.queries))

    # -- the backup folder -----------------------------------------------------------------------

    def backups(self, dbname: str) -> list[dict[str, t.Any]]:
        """Verified manifests of this database's backups in dest (others are skipped with a warning)."""
        found = []
        for path in store.manifest_paths(self.params['dest'], decide.MANIFEST_SUFFIX):
            try:
                manifest = store.read_json(path)
            except (OSError, ValueError) as exc:
                self.warn('ignoring unreadable manifest %s: %s' % (path, exc))
                continue
            problem = decide.manifest_problem(manifest)
            if problem:
                self.warn('ignoring manifest %s: %s' % (path, problem))
                continue
            if manifest['database'] == dbname:
                found.append(manifest)
        return found

    def data_path(self, manifest: dict[str, t.Any]) -> str:
        return os.path.join(self.params['dest'], manifest['file'])

    def manifest_path(self, manifest: dict[str, t.Any]) -> str:
        return os.path.join(self.params['dest'], decide.manifest_name(manifest['database'], manifest['label']))

    def remove_backup(self, manifest: dict[str, t.Any]) -> str:
        # Manifest first: a half-removed backup must never look verified.
        store.remove_path(self.manifest_path(manifest))
        store.remove_path(self.data_path(manifest))
        return self.data_path(manifest)

    def prune(self, dbname: str, protect: str | None, present: list[dict[str, t.Any]] | None = None) -> list[str]:
        """Apply retention; ``present`` is the folder as the real run would see it (check mode has not changed it)."""
        keep, max_age = self.params.get('keep'), self.params.get('max_age')
        if keep is None and max_age is None:
            return []
        doomed = decide.select_prunable(self.backups(dbname) if present is None else present, keep,
                                        decide.parse_age(max_age) if max_age else None, self.now(), protect)
        if self.check_mode:
            return [self.data_path(m) for m in doomed]
        return [self.remove_backup(m) for m in doomed]


def existing_problem(action: Action, manifest: dict[str, t.Any]) -> str | None:
    """Why a labelled backup cannot be reused as is (cheap checks; restore re-checks the sha256)."""
    path = action.data_path(manifest)
    if not os.path.exists(path):
        return '%s is missing' % path
    size = store.size_of(path)
    if size != manifest['size']:
        return '%s is %d bytes, the manifest says %d' % (path, size, manifest['size'])
    return None


# --- state: present ------------------------------------------------------------------------------

def take_backup(action: Action) -> dict[str, t.Any]:
    params = action.params
    dbname, dest, fmt = params['db'], params['dest'], params['format']
    label = decide.check_label(params['label']) if params.get('label') else decide.timestamp_label(action.now())
    before = action.backups(dbname)
    existing = next((m for m in before if m['label'] == label), None)
    if existing and not params['force']:
        problem = existing_problem(action, existing)
        if problem is None:
            if existing['format'] != fmt:
                action.warn('backup %s exists in %s format; set force: true to take it again as %s'
                            % (label, existing['format'], fmt))
            pruned = action.prune(dbname, label)
            after = action.backups(dbname) if not action.check_mode else [m for m in before if action.data_path(m) not in pruned]
            return action.result(
                changed=bool(pruned), path=action.data_path(existing), manifest_path=action.manifest_path(existing),
                manifest=existing, pruned=pruned, diff=decide.backups_diff(dbname, before, after),
                msg='verified backup %s of %s exists' % (label, dbname))
        action.warn('backup %s of %s cannot be reused (%s): taking it again' % (label, dbname, problem))
    collision = os.path.join(dest, decide.manifest_name(dbname, label))
    if os.path.exists(collision) and existing is None:
        try:
            other = store.read_json(collision) if os.path.isfile(collision) else {}
        except (OSError, ValueError):
            other = {}  # unreadable: not a backup anyone can restore, so it is replaced
        if isinstance(other, dict) and other.get('database') not in (None, dbname):
            raise ModuleFailure('%s already holds the backup %s of database "%s", whose file name is the same as '
                                '"%s"\'s: use another dest or label' % (collision, label, other.get('database'), dbname))

    try:
        action.transport.check()
    except ExecError as exc:
        raise ModuleFailure(str(exc)) from None
    catalog = action.catalog()
    server_num = pg.server_version_num(catalog, dbname)
    pg_dump = action.tool_version('pg_dump')
    version_error = decide.dump_version_error(pg_dump, server_num)
    if version_error:
        raise ModuleFailure(version_error)
    compression = decide.choose_compression(params['compression'], params.get('compression_level'), pg_dump[0])
    if fmt == 'plain' and compression['method'] not in ('gzip', 'none'):
        raise ModuleFailure('plain dumps are verified by decompressing them here: use compression gzip or none '
                            'with format plain, or format custom for %s' % compression['method'])
    if fmt == 'directory' and action.transport.kind != 'local':
        raise ModuleFailure('format directory needs exec_via local (pg_dump writes the folder itself); '
                            'use format custom through %s' % action.transport.kind)
    db_size = pg.database_size(catalog, dbname)
    revision = pg.alembic_revision(catalog, dbname)
    cluster = pg.system_identifier(catalog, dbname)

    final = os.path.join(dest, decide.backup_stem(dbname, label) + decide.file_extension(fmt, compression))
    check_free_space(action, dest, db_size)
    if action.check_mode:
        planned = dict(database=dbname, label=label, file=os.path.basename(final), format=fmt, compression=compression,
                       size=None, sha256='(not written)', finished_at=decide.iso(action.now()))
        after = [m for m in before if m['label'] != label] + [planned]
        pruned = action.prune(dbname, label, present=after)
        after = [m for m in after if action.data_path(m) not in pruned]
        return action.result(
            changed=True, path=final, manifest_path=os.path.join(dest, decide.manifest_name(dbname, label)),
            manifest=None, pruned=pruned, diff=decide.backups_diff(dbname, before, after),
            msg='would write backup %s of %s (%s, %s) to %s' % (label, dbname, fmt, decide.human_size(db_size), final))

    try:
        store.ensure_dest(dest)
    except store.StoreError as exc:
        raise ModuleFailure(str(exc)) from None
    started = action.now()
    temp = store.temp_path(dest, os.path.basename(final))
    try:
        toc_entries = dump_and_verify(action, dbname, fmt, compression, pg_dump, temp)
        size, sha256 = store.size_of(temp), store.sha256_of(temp)
        manifest = decide.build_manifest(
            database=dbname, label=label, file=os.path.basename(final), fmt=fmt, compression=compression, size=size,
            sha256=sha256, server_version=decide.version_text(server_num), pg_dump_version='%d.%d' % pg_dump,
            started=started, finished=action.now(), toc_entries=toc_entries, alembic_revision=revision,
            metadata=params.get('metadata'), exec_via=action.transport.kind, system_identifier=cluster)
        store.make_private(temp)
        store.fsync_tree(temp)
        manifest_path = os.path.join(dest, decide.manifest_name(dbname, label))
        if existing:
            action.remove_backup(existing)
        store.publish(temp, final)
        store.write_json(manifest_path, manifest)
    except BaseException:
        store.remove_path(temp)
        raise
    pruned = action.prune(dbname, label)
    return action.result(
        changed=True, path=final, manifest_path=manifest_path, manifest=manifest, pruned=pruned,
        diff=decide.backups_diff(dbname, before, action.backups(dbname)),
        msg='wrote backup %s of %s to %s (%s, sha256 %s)' % (label, dbname, final, decide.human_size(size), sha256[:12]))


def check_free_space(action: Action, dest: str, db_size: int) -> None:
    existing = dest
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    error = decide.free_space_error(store.free_bytes(existing), db_size, action.params['free_space_ratio'],
                                    decide.parse_size(action.params['min_free']))
    if error:
        raise ModuleFailure(error)


def dump_and_verify(action: Action, dbname: str, fmt: str, compression: dict[str, t.Any],
                    pg_dump: tuple[int, int], temp: str) -> int | None:
    """Run pg_dump into ``temp`` and prove the result restorable; the TOC entry count (None for plain)."""
    local = action.transport.kind == 'local'
    argv = decide.dump_argv(action.tool('pg_dump'), fmt, decide.compression_args(compression, pg_dump[0]), dbname,
                            temp if local else None, action.params['jobs'], action.params.get('dump_args'))
    if fmt == 'directory':
        result = action.run(argv, dbname)
    else:
        # Created here (0600, exclusive) so that the dump is private from its first byte.
        with store.create_private_file(temp) as handle:
            result = action.run(argv, dbname, stdout=None if local else handle)
    if result.rc != 0:
        reason = pg.describe_connection_error(result.stderr)
        raise ModuleFailure('pg_dump of %s failed (%s)%s; no backup was written: %s' % (
            dbname, describe_exit(result.rc), ': ' + reason if reason else '', result.stderr.strip()),
            rc=result.rc, stderr=result.stderr)
    if fmt == 'plain':
        try:
            tail = store.plain_dump_tail(temp, compression['method'] == 'gzip')
        except (EOFError, OSError, zlib.error) as exc:
            raise ModuleFailure('the plain dump of %s does not decompress (%s); no backup was written' % (dbname, exc)) from None
        if not decide.plain_dump_complete(tail):
            raise ModuleFailure('the plain dump of %s does not end with pg_dump\'s completion marker (%r): it is '
                                'truncated; no backup was written' % (dbname, decide.PLAIN_DUMP_COMPLETE.decode()))
        return None
    if local:
        listed = action.run([action.tool('pg_restore'), '--list', temp])
    else:
        with open(temp, 'rb') as archive:
            listed = action.run([action.tool('pg_restore'), '--list'], stdin=archive)
    listing = decide.parse_restore_list(listed.stdout_text())
    problem = ('pg_restore --list failed (%s): %s' % (describe_exit(listed.rc), listed.stderr.strip())
               if listed.rc != 0 else decide.listing_error(listing, fmt, dbname))
    if problem:
        raise ModuleFailure('the dump of %s does not verify, no backup was written: %s' % (dbname, problem),
                            rc=listed.rc, stderr=listed.stderr)
    if not listing['entries']:
        action.warn('the backup of %s lists no objects: is the database empty?' % dbname)
    return len(listing['entries'])


# --- state: restored -----------------------------------------------------------------------------

def locate_backup(action: Action) -> tuple[dict[str, t.Any], str]:
    """The manifest and data path of the backup to restore, from ``path`` or from ``label`` + ``db``."""
    params = action.params
    if params.get('path'):
        path = params['path'].rstrip('/')
        folder = os.path.dirname(path) or '.'
        if path.endswith(decide.MANIFEST_SUFFIX):
            candidates = [path]
        else:
            candidates = store.manifest_paths(folder, decide.MANIFEST_SUFFIX)
        for candidate in candidates:
            try:
                manifest = store.read_json(candidate)
            except (OSError, ValueError):
                continue
            if isinstance(manifest, dict) and (candidate == path or manifest.get('file') == os.path.basename(path)):
                problem = decide.manifest_problem(manifest)
                if problem:
                    raise ModuleFailure('manifest %s cannot vouch for %s: %s; refusing to restore' % (candidate, path, problem))
                return manifest, os.path.join(folder, manifest['file'])
        raise ModuleFailure('no manifest beside %s names it: pg_backup restores only backups it verified '
                            '(their sha256 is checked first)' % path)
    source_db = params.get('source_db') or params['db']
    manifest = next((m for m in action.backups(source_db) if m['label'] == params['label']), None)
    if manifest is None:
        raise ModuleFailure('no verified backup labelled %s of database %s in %s' % (params['label'], source_db, params['dest']))
    return manifest, action.data_path(manifest)


def verify_checksum(manifest: dict[str, t.Any], path: str) -> None:
    if not os.path.exists(path):
        raise ModuleFailure('backup %s is missing; refusing to restore' % path)
    size = store.size_of(path)
    sha256 = store.sha256_of(path)
    if size != manifest['size'] or sha256 != manifest['sha256']:
        raise ModuleFailure('backup %s is corrupted: size %d, sha256 %s; its manifest says size %d, sha256 %s. '
                            'Refusing to restore it' % (path, size, sha256, manifest['size'], manifest['sha256']))


def restore_backup(action: Action) -> dict[str, t.Any]:
    params = action.params
    manifest, path = locate_backup(action)
    verify_checksum(manifest, path)
    target = params.get('target_db') or params.get('db') or manifest['database']
    mode, fmt, jobs, remote = params['restore_mode'], manifest['format'], params['jobs'], action.transport.kind != 'local'
    if remote and fmt == 'directory':
        raise ModuleFailure('a directory-format backup is restored with exec_via local only')
    if remote and jobs > 1:
        raise ModuleFailure('parallel restore (jobs > 1) reads the archive from a file, but through %s it comes on '
                            'stdin, which pg_restore cannot restore in parallel: use jobs 1' % action.transport.kind)
    if fmt == 'plain' and jobs > 1:
        raise ModuleFailure('a plain backup is replayed by psql, which has no parallel jobs: use jobs 1')
    single = decide.restore_single_transaction(params.get('single_transaction'), jobs, mode)
    try:
        action.transport.check()
    except ExecError as exc:
        raise ModuleFailure(str(exc)) from None
    catalog = action.catalog()
    maintenance = params['maintenance_db']
    exists = pg.database_exists(catalog, target, maintenance)
    wanted = decide.restored_marker(manifest)
    comment = pg.database_comment(catalog, target, maintenance) if exists else None
    marker = decide.marker_in_comment(comment)
    summary = dict(path=path, manifest=manifest, target_db=target, pruned=[], dropped=[])
    if exists and marker == wanted and not params['force']:
        unchanged = decide.database_state(target, exists, None, marker)
        return action.result(changed=False, steps=[], diff=restore_diff(target, unchanged, unchanged),
                             msg='backup %s is already restored into %s' % (manifest['label'], target), **summary)
    try:
        steps = decide.restore_steps(mode, exists, target)
    except decide.BackupSpecError as exc:
        raise ModuleFailure(str(exc)) from None
    contents = check_restore_allowed(action, manifest, target, exists, steps, summary, marker)
    plan = ''
    if 'clear' in steps:
        schemas = backup_schemas(action, manifest, path)
        objects = pg.schema_objects(catalog, target, schemas)
        summary['dropped'] = ['%s %s' % (kind, identity) for kind, identity in objects]
        plan = decide.exact_plan(target, schemas, objects)
    diff = restore_diff(target, decide.database_state(target, exists, contents, marker) + plan,
                        decide.database_state(target, True, None, wanted))
    if action.check_mode:
        return action.result(changed=True, steps=steps, diff=diff, msg='would restore %s into %s (%s)' % (
            manifest['label'], target, ', '.join(steps)), **summary)

    touched = False  # whether a failure from here on leaves the database other than it was
    try:
        ident = pg.quote_ident(target)
        if marker is not None and 'drop' not in steps and not single:
            # A restore that fails half way must not look done; a single transaction leaves everything as it was.
            touched = True
            set_comment(action, target, decide.comment_with_marker(comment, None))
        if 'drop' in steps:
            catalog.disconnect(target)
            touched = True
            action.admin('DROP DATABASE %s WITH (FORCE)' % ident)
        if 'create' in steps:
            owner = ' OWNER %s' % pg.quote_ident(params['target_owner']) if params.get('target_owner') else ''
            action.admin('CREATE DATABASE %s TEMPLATE template0%s' % (ident, owner))
        if 'clear' in steps:
            result = replay_exact(action, manifest, path, target, decide.drop_statements(objects))
        else:
            result = replay(action, manifest, path, target, 'clean' in steps, single, jobs)
        if result.rc != 0:
            touched = touched or not single
            raise ModuleFailure('restore of %s into %s failed (%s)%s%s: %s' % (
                path, target, describe_exit(result.rc),
                '; the single transaction was rolled back' if single else '; the database may be partly restored',
                decide.restore_failure_hint(mode, result.stderr), result.stderr.strip()),
                rc=result.rc, stderr=result.stderr)
        touched = True
        # The owner's own comment survives a recreate too.
        set_comment(action, target, decide.comment_with_marker(comment, wanted))
    except ModuleFailure as exc:
        raise ModuleFailure(exc.msg, **dict(exc.context, changed=touched, steps=steps, diff=diff, **summary)) from None
    except pg.PostgresError as exc:
        raise ModuleFailure(str(exc), changed=touched, steps=steps, diff=diff, **summary) from None
    return action.result(changed=True, steps=steps, diff=diff, msg='restored %s into %s (%s)' % (
        manifest['label'], target, ', '.join(steps)), **summary)


def backup_schemas(action: Action, manifest: dict[str, t.Any], path: str) -> list[str]:
    """The schemas the backup holds objects in: from pg_restore --list, or from a plain dump's object headers."""
    if manifest['format'] == 'plain':
        with store.open_plain_dump(path, manifest['compression']['method'] == 'gzip') as stream:
            return decide.plain_dump_schemas(line.decode('utf-8', errors='replace') for line in stream)
    if action.transport.kind == 'local':
        listed = action.run([action.tool('pg_restore'), '--list', path])
    else:
        with open(path, 'rb') as archive:
            listed = action.run([action.tool('pg_restore'), '--list'], stdin=archive)
    if listed.rc != 0:
        raise ModuleFailure('pg_restore --list of %s failed (%s), nothing was changed: %s' % (
            path, describe_exit(listed.rc), listed.stderr.strip()), rc=listed.rc, stderr=listed.stderr)
    return decide.listing_schemas(decide.parse_restore_list(listed.stdout_text()))


def check_restore_allowed(action: Action, manifest: dict[str, t.Any], target: str, exists: bool, steps: list[str],
                          summary: dict[str, t.Any], marker: str | None) -> dict[str, t.Any] | None:
    """Refuse (in check mode too) a restore the role cannot finish, or one over another database's data.

    Returns what the target holds (None when it does not exist yet).
    """
    params, catalog, maintenance = action.params, action.catalog(), action.params['maintenance_db']
    role = pg.restore_role(catalog, target, params.get('target_owner'), maintenance)
    refusal = decide.restore_privilege_error(role, steps, params['restore_mode'], target, params.get('target_owner'))
    contents = None
    if refusal is None and exists:
        contents = pg.user_relations(catalog, target, decide.USER_RELATION_KINDS, decide.NAMES_SHOWN)
        if not params['force']:
            refusal = decide.overwrite_refusal(manifest, target, contents, pg.system_identifier(catalog, maintenance))
    if refusal:
        state = decide.database_state(target, exists, contents, marker)
        raise ModuleFailure(refusal, steps=[], diff=restore_diff(target, state, state), **summary)
    return contents


def restore_diff(target: str, before: str, after: str) -> dict[str, str]:
    return {'before_header': target, 'after_header': target, 'before': before, 'after': after}


def set_comment(action: Action, target: str, comment: str | None) -> None:
    action.admin('COMMENT ON DATABASE %s IS %s' % (
        pg.quote_ident(target), 'NULL' if comment is None else pg.quote_literal(comment)))


def replay(action: Action, manifest: dict[str, t.Any], path: str, target: str, clean: bool, single: bool, jobs: int) -> t.Any:
    extra = action.params.get('restore_args')
    if manifest['format'] == 'plain':
        argv = decide.psql_restore_argv(action.tool('psql'), target, single) + list(extra or [])
        with store.open_plain_dump(path, manifest['compression']['method'] == 'gzip') as stream:
            return action.run(argv, target, stdin=stream)
    if action.transport.kind == 'local':
        return action.run(decide.restore_argv(action.tool('pg_restore'), path, target, clean, single, jobs, extra), target)
    with open(path, 'rb') as archive:
        return action.run(decide.restore_argv(action.tool('pg_restore'), None, target, clean, single, 1, extra), target,
                          stdin=archive)


class ChainedReader:
    """Bytes first, then a stream: psql reads the drops and the backup's SQL as one script, in one transaction."""

    def __init__(self, head: bytes, stream: t.Any) -> None:
        self.head = head
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            head, self.head = self.head, b''
            return head + self.stream.read()
        if self.head:
            chunk, self.head = self.head[:size], self.head[size:]
            return chunk
        return self.stream.read(size)


def replay_exact(action: Action, manifest: dict[str, t.Any], path: str, target: str, drops: list[str]) -> t.Any:
    """Drop everything in the backup's schemas and replay the backup as SQL, in one psql transaction.

    pg_restore cannot run statements of ours in its transaction, so an archive is first turned into SQL
    (``pg_restore --clean --if-exists --file``: it then also drops and recreates the schemas it creates) in a
    private file beside the backup, which is removed afterwards.
    """
    head = ''.join('%s;\n' % statement for statement in drops).encode('utf-8')
    argv = decide.psql_restore_argv(action.tool('psql'), target, True)
    if manifest['format'] == 'plain':
        argv += list(action.params.get('restore_args') or [])
        action.queries.extend(drops)
        with store.open_plain_dump(path, manifest['compression']['method'] == 'gzip') as stream:
            return action.run(argv, target, stdin=ChainedReader(head, stream))
    script = store.temp_path(os.path.dirname(path.rstrip('/')) or '.', os.path.basename(path.rstrip('/')) + '.sql')
    try:
        with store.create_private_file(script) as handle:
            convert = decide.sql_script_argv(action.tool('pg_restore'), action.params.get('restore_args'))
            if action.transport.kind == 'local':
                converted = action.run(convert + ['--file=%s' % script, path])
            else:
                with open(path, 'rb') as archive:
                    converted = action.run(convert + ['--file=-'], stdin=archive, stdout=handle)
        if converted.rc != 0:
            raise ModuleFailure('pg_restore could not turn %s into SQL (%s), nothing was changed: %s' % (
                path, describe_exit(converted.rc), converted.stderr.strip()), rc=converted.rc, stderr=converted.stderr)
        action.queries.extend(drops)
        with open(script, 'rb') as stream:
            return action.run(argv, target, stdin=ChainedReader(head, stream))
    finally:
        store.remove_path(script)


# --- state: absent -------------------------------------------------------------------------------

def remove_backups(action: Action) -> dict[str, t.Any]:
    dbname, label = action.params['db'], action.params.get('label')
    before = action.backups(dbname)
    removed = []
    if label:
        doomed = next((m for m in before if m['label'] == label), None)
        if doomed:
            removed.append(action.data_path(doomed) if action.check_mode else action.remove_backup(doomed))
    remaining = [m for m in before if action.data_path(m) not in removed] if action.check_mode else None
    pruned = action.prune(dbname, None, present=remaining)
    gone = set(removed + pruned)
    after = [m for m in before if action.data_path(m) not in gone]
    what = ', '.join(os.path.basename(p) for p in removed + pruned)
    verb = 'would remove' if action.check_mode else 'removed'
    return action.result(
        changed=bool(gone), path=removed[0] if removed else None, manifest=None, pruned=pruned,
        diff=decide.backups_diff(dbname, before, after),
        msg='%s %s' % (verb, what) if gone else 'nothing to remove for %s' % dbname)
