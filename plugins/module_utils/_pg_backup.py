# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of pg_backup: names, pg_dump/pg_restore/psql argument lists, version rules,
parsing of pg_restore --list, manifests, retention, free space and diff. No I/O here."""

from __future__ import annotations

import datetime
import math
import re
import typing as t

MANIFEST_SCHEMA = 'artisan.upgrade/pg_backup/v1'
MANIFEST_SUFFIX = '.manifest.json'
LABEL_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$')
# The last lines pg_dump writes to a plain dump. Since 15.14/16.10/17.6 (CVE-2025-8714) a
# "\unrestrict <key>" line follows, so the marker is the last line before optional psql meta-commands.
PLAIN_DUMP_COMPLETE = b'-- PostgreSQL database dump complete'
EXTENSIONS = {'custom': '.dump', 'directory': '.dir', 'plain': '.sql'}
COMPRESSION_METHODS_BY_MAJOR = ((16, ('gzip', 'lz4', 'zstd', 'none')), (0, ('gzip', 'none')))
# Fast defaults (TOOLCHAIN.md: on 15, -Fc -Z1 took half the time of the default level for ~10% more bytes).
FAST_DEFAULT = {15: ('gzip', 1), 16: ('zstd', 1)}
GZIP_MAGIC = b'\x1f\x8b'


class BackupSpecError(ValueError):
    """Options that cannot describe a backup or a restore; the message says which and why."""


# --- versions -----------------------------------------------------------------------------------

def parse_tool_version(text: str) -> tuple[int, int]:
    """``pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`` -> (15, 18); ``16beta2`` -> (16, 0)."""
    match = re.search(r'\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?', text)
    if not match:
        raise ValueError('cannot read a PostgreSQL version from %r' % text.strip()[:200])
    return int(match.group(1)), int(match.group(2) or 0)


def version_text(version_num: int) -> str:
    """150018 -> ``15.18`` (server_version_num of 10 and later)."""
    return '%d.%d' % (version_num // 10000, version_num % 10000)


def dump_version_error(pg_dump: tuple[int, int], server_num: int) -> str | None:
    """Why this pg_dump must not dump this server, or None.

    An older pg_dump cannot read a newer server's catalogs; wrappers that swallow its refusal are
    how runbooks end up with empty dumps.
    """
    if pg_dump[0] < server_num // 10000:
        return ('pg_dump %d.%d is older than the server (%s): it cannot dump it faithfully. Use a pg_dump '
                'of major version %d or newer (bin_dir, or exec_via to run the server\'s own)'
                % (pg_dump[0], pg_dump[1], version_text(server_num), server_num // 10000))
    return None


# --- compression and argument lists --------------------------------------------------------------

def choose_compression(method: str, level: int | None, pg_dump_major: int) -> dict[str, t.Any]:
    """The compression to use: ``auto`` is the fast default of this pg_dump; others are checked against it."""
    supported = next(methods for major, methods in COMPRESSION_METHODS_BY_MAJOR if pg_dump_major >= major)
    if method == 'auto':
        method, default_level = FAST_DEFAULT[16 if pg_dump_major >= 16 else 15]
        level = default_level if level is None else level
    if method not in supported:
        raise BackupSpecError('compression %s needs pg_dump 16 or newer; this pg_dump is %d (it supports %s)'
                              % (method, pg_dump_major, ', '.join(supported)))
    if method == 'none':
        return {'method': 'none', 'level': 0}
    bounds = {'gzip': (1, 9), 'lz4': (1, 12), 'zstd': (1, 22)}[method]
    if level is None:
        level = {'gzip': 1, 'lz4': 1, 'zstd': 1}[method]
    if not bounds[0] <= level <= bounds[1]:
        raise BackupSpecError('compression_level %d is outside %d-%d for %s' % (level, bounds[0], bounds[1], method))
    return {'method': method, 'level': level}


def compression_args(compression: dict[str, t.Any], pg_dump_major: int) -> list[str]:
    """pg_dump 15 only knows ``-Z <0-9>`` (gzip); 16 and later take ``--compress=method:level``."""
    if pg_dump_major < 16:
        return ['--compress=%d' % (0 if compression['method'] == 'none' else compression['level'])]
    if compression['method'] == 'none':
        return ['--compress=none']
    return ['--compress=%s:%d' % (compression['method'], compression['level'])]


def file_extension(fmt: str, compression: dict[str, t.Any]) -> str:
    ext = EXTENSIONS[fmt]
    if fmt == 'plain' and compression['method'] != 'none':
        ext += {'gzip': '.gz', 'lz4': '.lz4', 'zstd': '.zst'}[compression['method']]
    return ext


def dump_argv(pg_dump: str, fmt: str, compression: list[str], dbname: str, output: str | None,
              jobs: int = 1, extra_args: list[str] | None = None) -> list[str]:
    """pg_dump's argument list. ``output`` None streams the archive to stdout (remote transports)."""
    argv = [pg_dump, '--format=%s' % fmt] + compression
    if fmt == 'directory' and jobs > 1:
        argv.append('--jobs=%d' % jobs)
    if fmt == 'plain':
        # Plain dumps are restored by psql into an existing database: make them able to replace it.
        argv += ['--clean', '--if-exists']
    if output is not None:
        argv.append('--file=%s' % output)
    argv += list(extra_args or [])
    argv.append('--dbname=%s' % dbname)
    return argv


def restore_argv(pg_restore: str, source: str | None, dbname: str, clean: bool, single_transaction: bool,
                 jobs: int = 1, extra_args: list[str] | None = None) -> list[str]:
    """pg_restore's argument list; ``source`` None reads the archive from stdin (no parallel jobs then)."""
    argv = [pg_restore, '--dbname=%s' % dbname, '--exit-on-error', '--no-password']
    if clean:
        argv += ['--clean', '--if-exists']
    if single_transaction:
        argv.append('--single-transaction')
    if jobs > 1:
        argv.append('--jobs=%d' % jobs)
    argv += list(extra_args or [])
    if source is not None:
        argv.append(source)
    return argv


def sql_script_argv(pg_restore: str, extra_args: list[str] | None = None) -> list[str]:
    """pg_restore turning an archive into the SQL that replaces its objects (output and input are added after)."""
    return [pg_restore, '--clean', '--if-exists', '--exit-on-error'] + list(extra_args or [])


def psql_restore_argv(psql: str, dbname: str, single_transaction: bool) -> list[str]:
    """psql replaying a plain dump from stdin, stopping at the first error."""
    argv = [psql, '--no-psqlrc', '--quiet', '--no-password', '--set=ON_ERROR_STOP=1', '--dbname=%s' % dbname]
    if single_transaction:
        argv.append('--single-transaction')
    return argv + ['--file=-']


def restore_single_transaction(requested: bool | None, jobs: int, mode: str = 'clean') -> bool:
    """One transaction (all or nothing) unless parallel jobs are asked for, which pg_restore forbids with it.

    restore_mode exact is one transaction by design: its drops must never stand without the restore.
    """
    if mode == 'exact' and (requested is False or jobs > 1):
        raise BackupSpecError('restore_mode exact drops and restores in one transaction: it cannot run with %s'
                              % ('single_transaction false' if requested is False else 'jobs > 1'))
    if requested and jobs > 1:
        raise BackupSpecError('single_transaction cannot be combined with jobs > 1 (pg_restore refuses it): '
                              'choose one')
    return jobs <= 1 if requested is None else requested


# --- names --------------------------------------------------------------------------------------

def check_label(label: str) -> str:
    if not LABEL_RE.match(label):
        raise BackupSpecError('label %r must start with a letter or digit and hold only letters, digits and . _ + - '
                              '(at most 128 characters)' % label)
    return label


def timestamp_label(now: datetime.datetime) -> str:
    return now.astimezone(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')


def safe_database_name(dbname: str) -> str:
    """A file-name-safe form of a database name (the manifest keeps the real one)."""
    return re.sub(r'[^A-Za-z0-9._-]', '_', dbname) or '_'


def backup_stem(dbname: str, label: str) -> str:
    return '%s--%s' % (safe_database_name(dbname), label)


def manifest_name(dbname: str, label: str) -> str:
    return backup_stem(dbname, label) + MANIFEST_SUFFIX


# --- pg_restore --list ---------------------------------------------------------------------------

ENTRY_RE = re.compile(r'^(\d+);\s+(\d+)\s+(\d+)\s+(.*)$')


def parse_restore_list(text: str) -> dict[str, t.Any]:
    """Split ``pg_restore --list`` output into its header fields and TOC entries.

    Entry lines are ``<dumpId>; <catalog oid> <oid> <description>``; header lines are ``;     Key: value``.
    """
    header: dict[str, str] = {}
    entries = []
    for line in text.splitlines():
        if line.startswith(';'):
            match = re.match(r'^;\s+([A-Za-z][A-Za-z_ ]*?):\s*(.*)$', line)
            if match and not entries:
                header[match.group(1)] = match.group(2).strip()
            continue
        match = ENTRY_RE.match(line)
        if match:
            entries.append({'dump_id': int(match.group(1)), 'description': match.group(4)})
    return {'header': header, 'entries': entries}


# The object kinds pg_dump writes in a TOC (pg_restore --list prints ``<kind> <schema> <name> <owner>``); the
# kind may hold spaces, so the longest kind that starts the description wins.
TOC_KINDS = sorted((
    'ACCESS METHOD', 'ACL', 'AGGREGATE', 'BLOB', 'BLOB DATA', 'BLOBS', 'CAST', 'CHECK CONSTRAINT', 'COLLATION',
    'COMMENT', 'CONSTRAINT', 'CONVERSION', 'DATABASE', 'DATABASE PROPERTIES', 'DEFAULT', 'DEFAULT ACL', 'DOMAIN',
    'ENCODING', 'EVENT TRIGGER', 'EXTENSION', 'FK CONSTRAINT', 'FOREIGN DATA WRAPPER', 'FOREIGN SERVER',
    'FOREIGN TABLE', 'FUNCTION', 'INDEX', 'INDEX ATTACH', 'LARGE OBJECT', 'MATERIALIZED VIEW',
    'MATERIALIZED VIEW DATA', 'OPERATOR', 'OPERATOR CLASS', 'OPERATOR FAMILY', 'POLICY', 'PROCEDURAL LANGUAGE',
    'PROCEDURE', 'PUBLICATION', 'PUBLICATION TABLE', 'PUBLICATION TABLES IN SCHEMA', 'ROW SECURITY', 'RULE',
    'SCHEMA', 'SEARCHPATH', 'SECURITY LABEL', 'SEQUENCE', 'SEQUENCE OWNED BY', 'SEQUENCE SET', 'SERVER',
    'SHELL TYPE', 'STATISTICS', 'STATISTICS DATA', 'STDSTRINGS', 'SUBSCRIPTION', 'SUBSCRIPTION TABLE', 'TABLE',
    'TABLE ATTACH', 'TABLE DATA', 'TEXT SEARCH CONFIGURATION', 'TEXT SEARCH DICTIONARY', 'TEXT SEARCH PARSER',
    'TEXT SEARCH TEMPLATE', 'TRANSFORM', 'TRIGGER', 'TYPE', 'USER MAPPING', 'VIEW'), key=len, reverse=True)
# Plain dumps (and pg_restore --file) head every object with ``-- Name: users; Type: TABLE; Schema: public; ...``.
PLAIN_HEADER_RE = re.compile(r'^-- (?:Data for )?Name: (.*?); Type: (.*?); Schema: (.*?); Owner: ')


def listing_schemas(listing: dict[str, t.Any]) -> list[str]:
    """The schemas an archive holds objects in (or creates), from its parsed ``pg_restore --list``."""
    schemas = set()
    for entry in listing['entries']:
        description = entry['description']
        kind = next((k for k in TOC_KINDS if description == k or description.startswith(k + ' ')), None)
        if kind is None:
            continue
        words = description[len(kind):].split()
        if kind == 'SCHEMA' and len(words) >= 2:
            schemas.add(words[1])
        elif words and words[0] != '-':
            schemas.add(words[0])
    return sorted(schemas)


def plain_dump_schemas(lines: t.Iterable[str]) -> list[str]:
    """The schemas a plain dump holds objects in (or creates), from its object headers."""
    schemas = set()
    for line in lines:
        match = PLAIN_HEADER_RE.match(line)
        if not match:
            continue
        name, kind, schema = match.groups()
        if kind == 'SCHEMA':
            schemas.add(name)
        elif schema != '-':
            schemas.add(schema)
    return sorted(schemas)


# pg_identify_object() types whose DROP statement is named otherwise.
DROP_KEYWORDS = {'composite type': 'TYPE', 'statistics object': 'STATISTICS'}


def drop_statements(objects: list[list[str]]) -> list[str]:
    """``DROP ... IF EXISTS ... CASCADE`` for each (type, identity) of pg_identify_object(), in the order given.

    CASCADE takes what depends on them, IF EXISTS skips what an earlier CASCADE already took.
    """
    return ['DROP %s IF EXISTS %s CASCADE' % (DROP_KEYWORDS.get(kind, kind.upper()), identity)
            for kind, identity in objects]


def exact_plan(target: str, schemas: list[str], objects: list[list[str]]) -> str:
    """The lines of the restore diff that say what restore_mode exact drops before it restores."""
    if not schemas:
        return ''
    lines = ['schemas %s: %d objects dropped, then the backup\'s restored\n' % (', '.join(schemas), len(objects))]
    lines += ['  - %s %s\n' % (kind, identity) for kind, identity in objects]
    return ''.join(lines)


def restore_failure_hint(mode: str, stderr: str) -> str:
    """What to do when a restore failed because objects the backup does not hold depend on what it replaces."""
    if mode == 'clean' and re.search(r'cannot drop .* because other objects depend on it', stderr):
        return (' (objects that the backup does not hold depend on objects it replaces: restore_mode exact drops '
                'everything in the schemas the backup holds and restores it, in one transaction)')
    return ''


def listing_error(listing: dict[str, t.Any], fmt: str, dbname: str) -> str | None:
    """Why a listed archive is not the backup we meant to write, or None."""
    header = listing['header']
    if 'TOC Entries' not in header or 'Format' not in header:
        return 'pg_restore --list printed no archive header'
    if header['Format'].lower() != fmt:
        return 'archive format is %s, expected %s' % (header['Format'], fmt.upper())
    if header.get('dbname') not in (None, dbname):
        return 'archive is of database %s, expected %s' % (header.get('dbname'), dbname)
    if int(header['TOC Entries']) < 1:
        return 'archive has no TOC entries'
    return None


def plain_dump_complete(tail: bytes) -> bool:
    """Whether the end of a (decompressed) plain dump carries pg_dump's completion marker.

    Only psql meta-commands (``\\unrestrict ...``), comment lines and blank lines may follow it.
    """
    position = tail.rfind(PLAIN_DUMP_COMPLETE)
    if position < 0:
        return False
    rest = tail[position + len(PLAIN_DUMP_COMPLETE):].decode('utf-8', errors='replace').splitlines()[1:]
    return all(not line.strip() or line.startswith('--') or line.startswith('\\') for line in rest)


# --- manifests ----------------------------------------------------------------------------------

def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def parse_iso(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc)


def build_manifest(*, database: str, label: str, file: str, fmt: str, compression: dict[str, t.Any], size: int,
                   sha256: str, server_version: str, pg_dump_version: str, started: datetime.datetime,
                   finished: datetime.datetime, toc_entries: int | None, alembic_revision: str | None,
                   metadata: dict[str, t.Any] | None, exec_via: str,
                   system_identifier: str | None = None) -> dict[str, t.Any]:
    """The manifest; ``system_identifier`` (the cluster's) tells the backup's own database from a namesake elsewhere."""
    return {
        'schema': MANIFEST_SCHEMA,
        'database': database,
        'label': label,
        'file': file,
        'format': fmt,
        'compression': compression,
        'size': size,
        'sha256': sha256,
        'server_version': server_version,
        'system_identifier': system_identifier,
        'pg_dump_version': pg_dump_version,
        'started_at': iso(started),
        'finished_at': iso(finished),
        'toc_entries': toc_entries,
        'alembic_revision': alembic_revision,
        'exec_via': exec_via,
        'metadata': metadata or {},
        'verified': True,
    }


MANIFEST_REQUIRED = ('schema', 'database', 'label', 'file', 'format', 'size', 'sha256', 'finished_at', 'verified')


def manifest_problem(manifest: t.Any) -> str | None:
    """Why a manifest cannot vouch for a backup, or None."""
    if not isinstance(manifest, dict):
        return 'not a JSON object'
    missing = [key for key in MANIFEST_REQUIRED if key not in manifest]
    if missing:
        return 'missing %s' % ', '.join(missing)
    if manifest['schema'] != MANIFEST_SCHEMA:
        return 'unknown schema %r' % manifest['schema']
    if manifest['verified'] is not True:
        return 'the backup was never verified'
    if '/' in manifest['file'] or manifest['file'] in ('', '.', '..'):
        return 'file %r is not a name in the backup folder' % manifest['file']
    return None


# --- retention ----------------------------------------------------------------------------------

AGE_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
SIZE_UNITS = {'': 1, 'b': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4}


def parse_age(text: str) -> int:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` (or a bare number of seconds) -> seconds."""
    match = re.fullmatch(r'\s*(\d+)\s*([smhdw]?)\s*', str(text).lower())
    if not match:
        raise BackupSpecError('max_age %r is not a duration like 7d, 12h, 30m, 90s or 2w' % text)
    return int(match.group(1)) * AGE_UNITS[match.group(2) or 's']


def parse_size(text: str) -> int:
    """``0``, ``512M``, ``10G``, ``1.5GiB`` -> bytes (powers of 1024)."""
    match = re.fullmatch(r'\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*', str(text).lower())
    if not match:
        raise BackupSpecError('%r is not a size like 0, 512M or 10G' % text)
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2)])


def select_prunable(backups: list[dict[str, t.Any]], keep: int | None, max_age: int | None,
                    now: datetime.datetime, protect: str | None = None) -> list[dict[str, t.Any]]:
    """The backups (manifests) to delete: beyond the newest ``keep``, or older than ``max_age`` seconds.

    ``protect`` is the label of the backup just taken (or re-used), never deleted whatever the limits.
    """
    ordered = sorted(backups, key=lambda m: m['finished_at'], reverse=True)
    doomed = []
    for index, manifest in enumerate(ordered):
        if manifest['label'] == protect:
            continue
        too_many = keep is not None and index >= keep
        too_old = max_age is not None and (now - parse_iso(manifest['finished_at'])).total_seconds() > max_age
        if too_many or too_old:
            doomed.append(manifest)
    return doomed


# --- free space ---------------------------------------------------------------------------------

def free_space_error(free_bytes: int, database_bytes: int, ratio: float, min_free: int) -> str | None:
    """Why the destination is too small for a dump of a database of this size, or None."""
    needed = int(math.ceil(database_bytes * ratio)) + min_free
    if free_bytes < needed:
        return ('not enough free space at the destination: %s free, %s needed (database %s x free_space_ratio %s '
                '+ min_free %s). Free space, choose another dest, or lower free_space_ratio'
                % (human_size(free_bytes), human_size(needed), human_size(database_bytes), ratio, human_size(min_free)))
    return None


def human_size(value: float) -> str:
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if abs(value) < 1024 or unit == 'TiB':
            return ('%d %s' if unit == 'B' else '%.1f %s') % (value, unit)
        value /= 1024.0
    return str(value)


# --- restore, diff ------------------------------------------------------------------------------

def restore_steps(mode: str, target_exists: bool, target: str) -> list[str]:
    """What a restore does to the target database: ``drop``, ``create``, then ``restore`` (after ``clean``
    or ``clear``)."""
    if mode in ('clean', 'exact'):
        if not target_exists:
            raise BackupSpecError('database "%s" does not exist: restore_mode %s restores into an existing '
                                  'database; use create or recreate' % (target, mode))
        return ['clean' if mode == 'clean' else 'clear', 'restore']
    if mode == 'create':
        if target_exists:
            raise BackupSpecError('database "%s" already exists: restore_mode create makes a new database; use '
                                  'clean or recreate, or another target_db' % target)
        return ['create', 'restore']
    return (['drop'] if target_exists else []) + ['create', 'restore']


RESTORED_MARKER_PREFIX = 'artisan.restored_from: '
# What the overwrite guard counts as the content of a database (pg_class.relkind).
USER_RELATION_KINDS = ('r', 'p', 'v', 'm', 'f')
NAMES_SHOWN = 10


def restored_marker(manifest: dict[str, t.Any]) -> str:
    """What pg_backup records on a restored database to know it is done."""
    return '%s@sha256:%s' % (manifest['label'], manifest['sha256'])


def marker_in_comment(comment: str | None) -> str | None:
    """The restore marker kept in a database's COMMENT, or None.

    A comment, unlike ``ALTER DATABASE ... SET artisan.*``, is writable by the database's owner
    without superuser (PostgreSQL 15 refuses custom settings to non-superusers).
    """
    for line in (comment or '').splitlines():
        if line.startswith(RESTORED_MARKER_PREFIX):
            return line[len(RESTORED_MARKER_PREFIX):].strip() or None
    return None


def comment_with_marker(comment: str | None, marker: str | None) -> str | None:
    """The database's comment with its marker line replaced (or removed with None); other lines are kept."""
    lines = [line for line in (comment or '').splitlines() if not line.startswith(RESTORED_MARKER_PREFIX)]
    if marker is not None:
        lines.append(RESTORED_MARKER_PREFIX + marker)
    return '\n'.join(lines) or None


def restore_privilege_error(role: dict[str, t.Any], steps: list[str], mode: str, target: str,
                            target_owner: str | None) -> str | None:
    """Why the connected role cannot do these restore steps, or None; checked before anything changes.

    ``role`` holds what the server says of the login role: ``user``, ``superuser``, ``createdb``,
    ``owns_target`` (privileges of the target's owner; None when it does not exist) and
    ``target_owner`` (privileges of the role ``target_owner`` names; None when that role does not exist).
    """
    if role.get('superuser'):
        return None
    missing = []
    if 'create' in steps and not role.get('createdb'):
        missing.append('the CREATEDB attribute (to create the database)')
    if any(step in steps for step in ('clean', 'clear', 'drop')) and not role.get('owns_target'):
        missing.append('ownership of database "%s" (to %s it and to record the restore marker, '
                       'a COMMENT ON DATABASE)' % (target, 'drop' if 'drop' in steps else 'replace its objects in'))
    if 'create' in steps and target_owner and target_owner != role.get('user') and not role.get('target_owner'):
        missing.append('membership in role "%s" (target_owner)' % target_owner)
    if not missing:
        return None
    return ('role "%s" cannot restore into database "%s" with restore_mode %s: it needs %s, or superuser; '
            'nothing was changed' % (role.get('user'), target, mode, ' and '.join(missing)))


def is_backup_source(manifest: dict[str, t.Any], target: str, system_identifier: str | None) -> bool:
    """Whether ``target`` is the database the backup was taken of (same name, and same cluster when both are known)."""
    if manifest['database'] != target:
        return False
    recorded = manifest.get('system_identifier')
    return recorded is None or system_identifier is None or str(recorded) == str(system_identifier)


def overwrite_refusal(manifest: dict[str, t.Any], target: str, contents: dict[str, t.Any],
                      system_identifier: str | None) -> str | None:
    """Why restoring over this non-empty database needs ``force``, or None.

    Replacing the data of the backup's own database is the rollback case; any other database that
    holds tables is someone's data.
    """
    if not contents['count'] or is_backup_source(manifest, target, system_identifier):
        return None
    names = ', '.join(contents['names'][:NAMES_SHOWN])
    if contents['count'] > NAMES_SHOWN:
        names += ' and %d more' % (contents['count'] - NAMES_SHOWN)
    source = '"%s"' % manifest['database']
    if manifest['database'] == target:
        source += ' on the server with system identifier %s; this one is %s' % (
            manifest.get('system_identifier'), system_identifier)
    return ('database "%s" holds %d tables or views (%s) and is not the database this backup was taken of (%s): '
            'restoring would overwrite them. Set force: true to restore anyway, or restore into a new database '
            '(restore_mode: create with another target_db); nothing was changed'
            % (target, contents['count'], names, source))


def database_state(target: str, exists: bool, contents: dict[str, t.Any] | None, marker: str | None) -> str:
    """One line of the restore diff: what the target holds and which backup it was restored from."""
    if not exists:
        return '%s: absent\n' % target
    held = '' if contents is None else ' %d tables or views,' % contents['count']
    return '%s:%s restored from %s\n' % (target, held, marker or '(no pg_backup restore recorded)')


def backup_list(manifests: list[dict[str, t.Any]]) -> list[str]:
    """One line per backup of a database, oldest first: what the diff shows."""
    ordered = sorted(manifests, key=lambda m: m['finished_at'])
    return ['%s %s %s sha256:%s' % (m['label'], m['file'], m['finished_at'], m['sha256'][:12]) for m in ordered]


def backups_diff(dbname: str, before: list[dict[str, t.Any]], after: list[dict[str, t.Any]]) -> dict[str, str]:
    header = 'backups of %s' % dbname
    return {
        'before_header': header, 'after_header': header,
        'before': '\n'.join(backup_list(before)) + ('\n' if before else ''),
        'after': '\n'.join(backup_list(after)) + ('\n' if after else ''),
    }
