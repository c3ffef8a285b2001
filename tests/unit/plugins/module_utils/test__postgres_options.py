# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL connection options: one spec, whose names the Kubernetes options never reuse."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils._k8s_auth import k8s_auth_argument_spec
from ansible_collections.artisan.upgrade.plugins.module_utils._postgres_options import environment_defaults, postgres_common_argument_spec


def names(spec):
    return {name for option, value in spec.items() for name in [option] + value.get('aliases', [])}


def test_no_postgres_option_name_is_a_kubernetes_option_name():
    """pg_backup and alembic_migrate take both sets and are in both action groups: one name, one meaning."""
    assert not names(postgres_common_argument_spec()) & names(k8s_auth_argument_spec())


def test_the_password_is_no_log():
    assert postgres_common_argument_spec()['login_password']['no_log'] is True


def test_the_options_come_without_psycopg():
    """alembic_migrate takes the options but never connects from the module: it must not pay for psycopg."""
    code = ('import sys; from ansible_collections.artisan.upgrade.plugins.modules import alembic_migrate; '
            'sys.exit("psycopg" in sys.modules)')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))  # the collection as this test process finds it
    assert subprocess.run([sys.executable, '-c', code], env=env, check=False, timeout=120).returncode == 0


def test_environment_defaults_fill_only_unset_options_typed():
    params = {'login_host': 'db.internal', 'port': None, 'login_password': None, 'db': None}
    environ = {'PGHOST': 'elsewhere', 'PGPORT': '5433', 'PGPASSWORD': 's3cret', 'PGDATABASE': ''}
    assert environment_defaults(params, environ) == {'port': 5433, 'login_password': 's3cret'}


def test_environment_defaults_refuse_a_port_that_is_no_number():
    with pytest.raises(ValueError, match="PGPORT='x' is not a port number"):
        environment_defaults({'port': None}, {'PGPORT': 'x'})
