#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_backup
short_description: Verified, atomic, labelled PostgreSQL backups and restores tied to a release
version_added: 0.1.0
description:
  - Takes a backup of a PostgreSQL database with C(pg_dump), identified by a O(label) such as
    V(pre-upgrade-2.0.0), restores one with C(pg_restore) or C(psql), and removes or prunes old ones.
  - A backup is written under a temporary name, checked (C(pg_restore --list) lists its entries; a plain
    dump decompresses and ends with pg_dump's completion marker), made private (mode 0600), flushed to disk
    and only then renamed into place, next to a JSON manifest with its size, sha256, versions, times,
    alembic revision and your O(metadata). On any failure the partial file is removed and a previous
    backup with the same label is left untouched.
  - Idempotent. With O(state=present), a verified backup with the same label is reused
    (C(changed=false)); with O(state=restored), a database records the backup restored into it and is
    not restored again; O(force=true) overrides both.
  - A restore refuses, before it changes anything (and in check mode too), when the login role lacks a
    privilege it needs (see O(restore_mode)), and when it would overwrite a database that holds tables or
    views and is not the backup's own source database, unless O(force=true).
  - The client programs run where O(exec_via) says (locally, in a container, or in a Kubernetes pod); the dump
    is streamed to O(dest) on the host the module runs on, never held in memory.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - pg_dump, pg_restore and psql where the commands run, pg_dump at least as new as the server
  - psycopg (3) on the host the module runs on, with O(exec_via.type=local)
  - the C(docker) Python SDK (7.0 or later) on the host the module runs on, with O(exec_via.type=docker)
  - the C(kubernetes) Python library on the host the module runs on, with O(exec_via.type=pod)
options:
  state:
    description:
      - V(present) takes a backup unless a verified one with the same O(label) exists.
      - V(restored) restores the backup given by O(label) or O(path) into O(target_db).
      - V(absent) removes the backup O(label) and/or prunes by O(keep) and O(max_age).
    type: str
    choices: [present, restored, absent]
    default: present
  dest:
    description:
      - Folder of the backups on the host the module runs on; created (mode 0700) if missing.
      - Required with O(state=present), O(state=absent), and O(state=restored) with a O(label).
    type: path
  label:
    description:
      - Name of the backup, for example the release it protects (V(pre-upgrade-2.0.0)). Letters, digits
        and C(. _ + -).
      - With O(state=present) and no label, a UTC timestamp is used, so every run takes a new backup.
    type: str
  force:
    description:
      - Take the backup again although a verified one with this label exists (it is replaced only once the
        new one verified), or restore again although the database records this backup as restored.
      - Also needed to restore over an existing database that holds tables or views when it is not the
        database the backup was taken of (same name and, when the manifest records it, the same cluster
        system identifier). Restoring into the backup's own database (the rollback case) or into an empty
        one needs no O(force).
    type: bool
    default: false
  format:
    description:
      - pg_dump's archive format. V(custom) is one compressed file restored selectively or in parallel;
        V(directory) dumps in parallel with O(jobs) (only with O(exec_via.type=local)); V(plain) is SQL
        replayed by psql.
    type: str
    choices: [custom, directory, plain]
    default: custom
  compression:
    description:
      - V(auto) picks a fast setting for the pg_dump in use, gzip level 1 up to pg_dump 15 and zstd level 1
        from pg_dump 16; on 15, C(-Z1) takes about half the time of gzip's default for about 10% more bytes.
      - V(lz4) and V(zstd) need pg_dump 16 or newer, and are refused for plain dumps.
    type: str
    choices: [auto, gzip, lz4, zstd, none]
    default: auto
  compression_level:
    description:
      - Level of O(compression) (gzip 1-9, lz4 1-12, zstd 1-22). Defaults to 1.
    type: int
  jobs:
    description:
      - Parallel jobs of C(pg_dump) (format V(directory)) and of C(pg_restore) (custom and directory
        backups restored with O(exec_via.type=local)).
    type: int
    default: 1
  dump_args:
    description:
      - Extra arguments of C(pg_dump), one list item per argument (never a shell string), for example
        V([--exclude-table-data=audit_log]).
    type: list
    elements: str
  restore_args:
    description:
      - Extra arguments of C(pg_restore) (or C(psql) for plain backups), one list item per argument, for
        example V([--no-owner]).
    type: list
    elements: str
  metadata:
    description:
      - Free-form data stored in the manifest, for example the application version and release ID.
    type: dict
  keep:
    description:
      - Keep at most this many backups of O(db) in O(dest), newest first; older ones are deleted. The
        backup of this task is never deleted.
    type: int
  max_age:
    description:
      - Delete backups of O(db) in O(dest) older than this (V(90s), V(30m), V(12h), V(7d), V(2w)). The
        backup of this task is never deleted. Both O(keep) and O(max_age) apply when both are given.
    type: str
  free_space_ratio:
    description:
      - Before dumping, O(dest) must have at least the database size times this ratio, plus O(min_free),
        free. The default assumes the worst case (an uncompressed dump); V(0) checks O(min_free) only.
    type: float
    default: 1.0
  min_free:
    description:
      - Space that must remain free at O(dest) beyond the estimate, as V(512M), V(10G), ...
    type: str
    default: '0'
  path:
    description:
      - Backup file (or directory) to restore, with its manifest beside it. Alternative to O(label).
    type: path
  source_db:
    description:
      - Database whose backup O(label) names, when restoring into another database. Defaults to O(db).
    type: str
  target_db:
    description:
      - Database to restore into. Defaults to O(db), then to the database the backup was taken of.
    type: str
  target_owner:
    description:
      - Owner of a database created by the restore. Defaults to O(login_user).
    type: str
  restore_mode:
    description:
      - V(exact) makes the existing O(target_db) hold exactly what the backup holds in its schemas, in ONE
        transaction. It drops every object of the schemas the backup holds objects in (tables, views, sequences,
        types, domains, functions, extensions, and so on, with CASCADE, so foreign keys and views of other schemas
        that depend on them go too), then replays the backup (an archive is first turned into SQL by
        C(pg_restore --clean --if-exists --file), in a private temporary file beside the backup). If any
        statement fails, PostgreSQL rolls everything back and the database is as it was. This is the mode for
        a rollback. Objects that a newer schema added (a table with a foreign key onto a restored table, a view,
        an enum type) would make V(clean) fail. Schemas the backup does not hold are left as they are; the
        schemas themselves (owner, privileges of V(public)) are kept, those the backup creates are recreated.
        Needs ownership of O(target_db) (or superuser) and of the objects it drops; no C(CREATEDB). Always one
        transaction, so not with O(jobs) above 1 or O(single_transaction=false).
      - V(clean) restores into the existing O(target_db), dropping the objects the backup holds first
        (C(pg_restore --clean --if-exists)); objects the backup does not hold stay, and it fails when one of them
        depends on an object it replaces. Needs ownership of O(target_db) (or superuser) and of the objects the
        backup replaces.
      - V(recreate) drops O(target_db) (disconnecting its sessions) and creates it empty before restoring.
        Needs ownership of O(target_db) and the C(CREATEDB) attribute (or superuser).
      - V(create) creates O(target_db), which must not exist. Needs C(CREATEDB) (or superuser).
      - With O(target_owner) naming another role, creating the database also needs the privileges of that
        role (membership with inherit).
      - The database privileges above are checked before anything is changed; a role without them is refused
        with a message naming what it lacks. Ownership of the objects is left to C(pg_restore), whose failure
        the default O(single_transaction) rolls back.
      - V(recreate) is not atomic (C(DROP DATABASE) cannot run in a transaction); if the restore fails after the
        drop, the database is left empty or partly restored and the task fails with C(changed=true) saying so.
    type: str
    choices: [exact, clean, recreate, create]
    default: clean
  single_transaction:
    description:
      - Restore in one transaction (all or nothing). Defaults to V(true) unless O(jobs) is above 1, which
        pg_restore cannot combine with it.
    type: bool
  maintenance_db:
    description:
      - Database to connect to for creating, dropping and inspecting O(target_db).
    type: str
    default: postgres
  bin_dir:
    description:
      - Folder of C(pg_dump), C(pg_restore) and C(psql) where the commands run, for example
        V(/usr/lib/postgresql/16/bin). Defaults to the first ones on E(PATH).
    type: path
extends_documentation_fragment:
  - artisan.upgrade.attributes
  - artisan.upgrade.attributes.actiongroup_postgres_k8s
  - artisan.upgrade.postgres
  - artisan.upgrade.exec_via
  - artisan.upgrade.k8s_auth
attributes:
  check_mode:
    support: full
    details: Connects and reads (versions, database size, free space, checksums) to say what would be written,
      restored or removed; writes nothing.
  diff_mode:
    support: full
    details: The list of backups of the database before and after; for a restore, how many tables or views the
      target holds, which backup it was restored from and, with O(restore_mode=exact), the objects dropped before
      the backup is replayed. A refused restore shows the same before and after.
  idempotent:
    support: full
    details: Without a O(label), O(state=present) takes a new timestamped backup on every run.
notes:
  - The Kubernetes connection options (O(kubeconfig), O(context), O(host), ...) say which cluster
    O(exec_via.type=pod) reaches; they are not used otherwise.
  - The password reaches the client programs through E(PGPASSWORD) in their environment (with
    O(exec_via.type=docker), it is in the exec's environment, which C(docker inspect) does not show; with
    O(exec_via.type=pod), it is the first line of the exec stream's stdin), never through a command line, and is
    never returned.
  - A restored database records the backup in its comment (C(COMMENT ON DATABASE)), as a line that starts with
    C(artisan.restored_from) and names the label and sha256 of the backup; other lines of the comment are kept. That is how a
    second run knows it is done. A comment needs only the database's ownership, whereas PostgreSQL 15 refuses
    C(ALTER DATABASE ... SET) of a custom setting to every role but a superuser.
  - Privileges by state. V(present) needs what C(pg_dump) needs, reading every object dumped (normally the
    database's owner). V(restored) needs what O(restore_mode) says, checked first. V(absent) touches no
    database.
  - Parallel restores (O(jobs) above 1) need the archive as a file where pg_restore runs, so they are done with
    O(exec_via.type=local) only.
seealso:
  - module: community.postgresql.postgresql_db
    description: Dump and restore by file extension, without verification, checksum or retention.
"""

EXAMPLES = r"""
- name: Back up the application database before upgrading to 2.0.0 (reused when re-run)
  artisan.upgrade.pg_backup:
    login_host: 127.0.0.1
    login_user: app
    login_password: "{{ vault_db_password }}"
    db: app
    dest: /var/backups/postgres
    label: pre-upgrade-2.0.0
    metadata:
      app_version: 1.4.2
      release_id: "{{ release_id }}"
    keep: 5
  register: backup

- name: Same, with pg_dump running in the compose stack's database container
  artisan.upgrade.pg_backup:
    exec_via:
      type: docker
      container: shop-postgres-1
    login_user: postgres
    login_password: "{{ vault_db_password }}"
    db: app
    dest: /var/backups/postgres
    label: pre-upgrade-2.0.0

- name: Same, through the Kubernetes API into the database pod (kubectl exec postgresql-0 -- pg_dump)
  artisan.upgrade.pg_backup:
    exec_via:
      type: pod
      pod: postgresql-0
      namespace: shop
      container: postgresql
    context: prod
    login_host: 127.0.0.1
    login_user: postgres
    login_password: "{{ vault_db_password }}"
    db: app
    dest: /var/backups/postgres
    label: pre-upgrade-2.0.0

- name: Roll back to the pre-upgrade backup as the database's owner (no superuser, no CREATEDB), all or nothing
  artisan.upgrade.pg_backup:
    state: restored
    login_host: 127.0.0.1
    login_user: app
    login_password: "{{ vault_db_password }}"
    db: app
    dest: /var/backups/postgres
    label: pre-upgrade-2.0.0
    restore_mode: exact

- name: Roll back by dropping and creating the database (needs CREATEDB; not atomic)
  artisan.upgrade.pg_backup:
    state: restored
    login_host: 127.0.0.1
    login_user: postgres
    login_password: "{{ vault_db_password }}"
    db: app
    dest: /var/backups/postgres
    label: pre-upgrade-2.0.0
    restore_mode: recreate
    target_owner: app

- name: Restore a backup file into a new database to inspect it
  artisan.upgrade.pg_backup:
    state: restored
    path: /var/backups/postgres/app--pre-upgrade-2.0.0.dump
    target_db: app_inspect
    restore_mode: create
    jobs: 2

- name: Keep a week of backups, at most 10
  artisan.upgrade.pg_backup:
    state: absent
    db: app
    dest: /var/backups/postgres
    keep: 10
    max_age: 7d

- name: Share the connections between tasks (the pod transport uses the Kubernetes options)
  module_defaults:
    group/artisan.upgrade.postgres:
      login_host: 127.0.0.1
      login_user: app
      login_password: "{{ vault_db_password }}"
    group/artisan.upgrade.k8s:
      kubeconfig: ~/.kube/prod
      context: prod
  block:
    - name: Back up
      artisan.upgrade.pg_backup:
        db: app
        dest: /var/backups/postgres
        label: nightly-{{ now(utc=true, fmt='%Y%m%d') }}
"""

RETURN = r"""
path:
  description: The backup file (or directory) written, reused, restored or removed.
  returned: when there is one
  type: str
  sample: /var/backups/postgres/app--pre-upgrade-2.0.0.dump
manifest_path:
  description: The manifest beside the backup.
  returned: state is present
  type: str
  sample: /var/backups/postgres/app--pre-upgrade-2.0.0.manifest.json
manifest:
  description: The backup's manifest (null in check mode before a first backup, and for O(state=absent)).
  returned: state is present or restored
  type: dict
  sample:
    schema: artisan.upgrade/pg_backup/v1
    database: app
    label: pre-upgrade-2.0.0
    file: app--pre-upgrade-2.0.0.dump
    format: custom
    compression: {method: gzip, level: 1}
    size: 104857
    sha256: 3b1f0c5e2f0d4a6c9e8b7a6d5c4b3a2918f7e6d5c4b3a29180f1e2d3c4b5a697
    server_version: "15.18"
    system_identifier: "7712468653615273199"
    pg_dump_version: "15.18"
    started_at: "2026-11-22T03:24:29.103000Z"
    finished_at: "2026-11-22T03:24:31.874000Z"
    toc_entries: 13
    alembic_revision: ae1027a6acf
    exec_via: local
    metadata: {app_version: 1.4.2}
    verified: true
pruned:
  description: Backups deleted (or that would be, in check mode) by O(keep) and O(max_age).
  returned: always
  type: list
  elements: str
  sample: [/var/backups/postgres/app--pre-upgrade-1.9.0.dump]
steps:
  description:
    - What the restore did (or would do) to the target database, in order. V(drop) and V(create) the database,
      V(clean) (pg_restore drops the backup's objects), V(clear) (everything in the backup's schemas is dropped, in
      the transaction of the restore), V(restore).
  returned: state is restored
  type: list
  elements: str
  sample: [clear, restore]
dropped:
  description:
    - With O(restore_mode=exact), the objects (type and identity) of the backup's schemas that the restore drops
      (or would drop, in check mode) before it replays the backup, which recreates its own. Objects of other schemas
      that depend on them (a foreign key, a view) are dropped with them by CASCADE.
  returned: state is restored
  type: list
  elements: str
  sample: [extension pg_trgm, table public.audit_log, table public.users, type public.mood, view public.active_users]
target_db:
  description: The database restored into.
  returned: state is restored
  type: str
  sample: app
queries:
  description: SQL statements that changed something (create, drop, the restored marker).
  returned: always
  type: list
  elements: str
  sample: ['DROP DATABASE "app" WITH (FORCE)', 'CREATE DATABASE "app" TEMPLATE template0',
           "COMMENT ON DATABASE \"app\" IS 'artisan.restored_from: pre-upgrade-2.0.0@sha256:3b1f0c5e...'"]
commands:
  description:
    - What the task ran, in order (command lines shell-quoted, SQL statements, Kubernetes API calls as C(METHOD path),
      HTTP requests as C(METHOD URL)), with secrets (passwords, tokens, URLs that hold them) replaced by C(********).
      Returned on failure and in check mode too.
    - pg_backup lists its pg_dump, pg_restore and psql lines, and the statements that change a database (also in
      RV(queries)) when psycopg sends them.
  returned: always
  type: list
  elements: str
  sample: ["pg_dump --version", "pg_dump --format=custom --compress=1 --file=/var/backups/postgres/.artisan-tmp-1a2b3c4d-app--x.dump --dbname=app"]
duration:
  description: Seconds the task took, as a float. Returned on failure and in check mode too.
  returned: always
  type: float
  sample: 2.84
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.artisan.upgrade.plugins.module_utils import _pg_backup as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _pg_backup_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils import _postgres as pg
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import exec_via_argument_spec, transport_from_params
from ansible_collections.artisan.upgrade.plugins.module_utils._k8s_auth import k8s_auth_argument_spec
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure


def argument_spec():
    spec = pg.postgres_common_argument_spec()
    spec.update(exec_via_argument_spec())
    spec.update(k8s_auth_argument_spec())
    spec.update(
        state=dict(type='str', choices=['present', 'restored', 'absent'], default='present'),
        dest=dict(type='path'),
        label=dict(type='str'),
        force=dict(type='bool', default=False),
        format=dict(type='str', choices=['custom', 'directory', 'plain'], default='custom'),
        compression=dict(type='str', choices=['auto', 'gzip', 'lz4', 'zstd', 'none'], default='auto'),
        compression_level=dict(type='int'),
        jobs=dict(type='int', default=1),
        dump_args=dict(type='list', elements='str'),
        restore_args=dict(type='list', elements='str'),
        metadata=dict(type='dict'),
        keep=dict(type='int'),
        max_age=dict(type='str'),
        free_space_ratio=dict(type='float', default=1.0),
        min_free=dict(type='str', default='0'),
        path=dict(type='path'),
        source_db=dict(type='str'),
        target_db=dict(type='str'),
        target_owner=dict(type='str'),
        restore_mode=dict(type='str', choices=['exact', 'clean', 'recreate', 'create'], default='clean'),
        single_transaction=dict(type='bool'),
        maintenance_db=dict(type='str', default='postgres'),
        bin_dir=dict(type='path'),
    )
    return spec


def option_errors(params):
    """Constraints the argument spec cannot express; the first broken one, or None."""
    if params['jobs'] < 1:
        return 'jobs must be 1 or more, got %d' % params['jobs']
    if params['keep'] is not None and params['keep'] < 0:
        return 'keep must be 0 or more, got %d' % params['keep']
    if params['free_space_ratio'] < 0:
        return 'free_space_ratio must be 0 or more'
    if params['state'] == 'restored' and params['label'] and not (params['dest'] and (params['source_db'] or params['db'])):
        return 'restoring by label needs dest and db (or source_db) to find the backup'
    if params['state'] == 'absent' and not (params['label'] or params['keep'] is not None or params['max_age']):
        return 'state absent needs a label to remove, or keep / max_age to prune'
    try:
        if params['label']:
            decide.check_label(params['label'])
        if params['max_age']:
            decide.parse_age(params['max_age'])
        decide.parse_size(params['min_free'])
    except decide.BackupSpecError as exc:
        return str(exc)
    return None


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[
            ('state', 'present', ['db', 'dest']),
            ('state', 'absent', ['db', 'dest']),
            ('state', 'restored', ['label', 'path'], True),
        ],
        mutually_exclusive=[('label', 'path')],
        supports_check_mode=True,
    )
    transport = transport_from_params(module.params)
    action = actions.Action(module.params, transport, module.check_mode, module.warn)
    error = option_errors(module.params)
    if error:
        module.fail_json(**action.failed(ModuleFailure(error)))
    perform = {'present': actions.take_backup, 'restored': actions.restore_backup,
               'absent': actions.remove_backups}[module.params['state']]
    failure = None
    try:
        result = perform(action)
    except ModuleFailure as exc:
        failure = exc
    except (pg.PostgresError, decide.BackupSpecError) as exc:
        failure = ModuleFailure(str(exc))
    except OSError as exc:
        failure = ModuleFailure('%s: %s' % (exc.filename or 'file system', exc.strerror or exc))
    finally:
        action.close()
    if failure is not None:
        result = action.failed(failure)
    if not module._diff:
        result.pop('diff', None)
    if failure is not None:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
