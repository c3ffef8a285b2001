#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_info
short_description: Read what an upgrade needs to know of a PostgreSQL database, changing nothing
version_added: 0.1.0
description:
  - Connects to the database O(db) and reads the server's version, the database's size, the cluster's system
    identifier and the Alembic revision the database is at. Nothing is written; the module never reports a change.
  - A failed connection fails the task with the reason and the option to check, so the task also tells whether
    the database is reachable from where the commands run (O(exec_via)).
  - The C(preflight) role uses it for the compatibility matrix (PostgreSQL version) and the reachability check.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - psycopg (3) on the host the module runs on with O(exec_via.type=local); psql where the commands run otherwise.
options:
  bin_dir:
    description:
      - Folder of C(psql) where the commands run, when it is not on the E(PATH) (not used with a local O(exec_via)).
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
    details: Reads as in a normal run.
  diff_mode:
    support: none
  idempotent:
    support: full
notes:
  - Locally the queries run with psycopg from the module's host; with another O(exec_via) they run through C(psql)
    in that container or pod, where the server may be the only one reachable.
seealso:
  - module: artisan.upgrade.pg_backup
    description: Its check mode tells whether the backup would fit in its folder.
"""

EXAMPLES = r"""
- name: Read the server version and the database's revision
  artisan.upgrade.pg_info:
    login_host: db.internal
    login_user: app
    login_password: "{{ vault_db_password }}"
    db: app
  register: pg

- name: Refuse PostgreSQL older than 14
  ansible.builtin.assert:
    that: pg.server_version_num >= 140000
    fail_msg: "PostgreSQL {{ pg.server_version }} is too old for this release"
"""

RETURN = r"""
database:
  description: The database connected to.
  returned: success
  type: str
  sample: app
server_version:
  description: The server's version, major and minor.
  returned: success
  type: str
  sample: "15.18"
server_version_num:
  description: The server's C(server_version_num).
  returned: success
  type: int
  sample: 150018
database_size:
  description: Bytes the database takes on disk (C(pg_database_size)).
  returned: success
  type: int
  sample: 7631663
system_identifier:
  description: The cluster's system identifier, null when the login role may not read it.
  returned: success
  type: str
  sample: "7712468653615273199"
alembic_revision:
  description: The Alembic revision(s) the database is at, comma separated when branched; null without Alembic.
  returned: success
  type: str
  sample: ae1027a6acf
commands:
  description: The psql commands run (none with a local O(exec_via)).
  returned: always
  type: list
  elements: str
  sample: []
duration:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 0.05
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.artisan.upgrade.plugins.module_utils import _pg_backup_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils import _postgres as pg
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import exec_via_argument_spec, transport_from_params
from ansible_collections.artisan.upgrade.plugins.module_utils._k8s_auth import k8s_auth_argument_spec
from ansible_collections.artisan.upgrade.plugins.module_utils._pg_backup import version_text
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def argument_spec():
    spec = pg.postgres_common_argument_spec()
    spec.update(exec_via_argument_spec())
    spec.update(k8s_auth_argument_spec())
    spec.update(bin_dir=dict(type='path'))
    return spec


def read_info(action, dbname):
    catalog = action.catalog()
    version_num = pg.server_version_num(catalog, dbname)
    return dict(database=dbname, server_version=version_text(version_num), server_version_num=version_num,
                database_size=pg.database_size(catalog, dbname), system_identifier=pg.system_identifier(catalog, dbname),
                alembic_revision=pg.alembic_revision(catalog, dbname))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run = Run(secrets=[module.params['login_password']])
    if not module.params['db']:
        module.fail_json(**run.failure(ModuleFailure('db is required: name the database (or set PGDATABASE)')))
    transport = transport_from_params(module.params)
    action = actions.Action(module.params, transport, module.check_mode, module.warn)
    try:
        info = read_info(action, module.params['db'])
    except ModuleFailure as exc:
        failure = exc
    except pg.PostgresError as exc:
        failure = ModuleFailure(str(exc))
    else:
        failure = None
    finally:
        action.close()
    for command in action.commands:
        run.record(command)
    if failure:
        module.fail_json(**run.failure(failure))
    module.exit_json(**run.envelope(False, 'PostgreSQL %s, database %s (%d bytes) at alembic revision %s' % (
        info['server_version'], info['database'], info['database_size'], info['alembic_revision'] or '(none)'), **info))


if __name__ == '__main__':
    main()
