# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL connection options of the ``artisan.upgrade.postgres`` doc fragment.

Apart from _postgres.py (which re-exports them) because alembic_migrate takes these options but never
connects from the module itself, and importing psycopg there would add a tenth of a second to every run.
"""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import env_fallback


def postgres_common_argument_spec() -> dict[str, dict[str, t.Any]]:
    """The connection options of the ``artisan.upgrade.postgres`` doc fragment, with PG* fallbacks.

    No name or alias here may be one of the Kubernetes options (``host``, ``ca_cert``, ...): the modules
    that take both sets are in both action groups, and one name would then mean two things."""
    return dict(
        login_host=dict(type='str', fallback=(env_fallback, ['PGHOST'])),
        port=dict(type='int', aliases=['login_port'], fallback=(env_fallback, ['PGPORT'])),
        login_user=dict(type='str', aliases=['login'], fallback=(env_fallback, ['PGUSER'])),
        login_password=dict(type='str', no_log=True, fallback=(env_fallback, ['PGPASSWORD'])),
        db=dict(type='str', aliases=['dbname', 'login_db'], fallback=(env_fallback, ['PGDATABASE'])),
        login_unix_socket=dict(type='path', aliases=['unix_socket']),
        ssl_mode=dict(type='str', choices=['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'],
                      fallback=(env_fallback, ['PGSSLMODE'])),
        ssl_rootcert=dict(type='path', fallback=(env_fallback, ['PGSSLROOTCERT'])),
        connect_timeout=dict(type='int', default=10),
    )


# What sets each part of a connection, as the hints name it: the options of postgres_common_argument_spec().
CONNECTION_OPTIONS = {'host': 'login_host', 'port': 'port', 'user': 'login_user',
                      'password': 'login_password (or PGPASSWORD)', 'db': 'db'}


def fallback_variables() -> dict[str, str]:
    """{option: the PG* environment variable it falls back to} for the options that have one."""
    return {name: option['fallback'][1][0] for name, option in postgres_common_argument_spec().items() if 'fallback' in option}


def environment_defaults(params: dict[str, t.Any], environ: t.Mapping[str, str]) -> dict[str, t.Any]:
    """The unset options that the PG* environment sets, typed as the argument spec types them.

    For a module that applies the fallbacks itself, after the argument spec's checks: there a PGPASSWORD in the
    environment would count as a given login_password and clash with an option that excludes it (alembic_migrate's url).
    """
    defaults = {}
    for name, variable in fallback_variables().items():
        if params.get(name) is None and environ.get(variable):
            value = environ[variable]
            if name == 'port':
                try:
                    value = int(value)
                except ValueError:
                    raise ValueError('%s=%r is not a port number' % (variable, value)) from None
            defaults[name] = value
    return defaults
