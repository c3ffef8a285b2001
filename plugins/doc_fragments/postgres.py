# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options of every module that talks to PostgreSQL; the code twin is
    plugins/module_utils/_postgres_options.py:postgres_common_argument_spec()."""

    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host name or address of the PostgreSQL server, as seen from where the commands run (see O(exec_via)).
      - When neither this nor O(login_unix_socket) is set, libpq's default (the local Unix socket) is used.
      - Falls back to the E(PGHOST) environment variable of the module.
    type: str
  port:
    description:
      - Server port.
      - Falls back to E(PGPORT), then to libpq's default V(5432).
    type: int
    aliases: [login_port]
  login_user:
    description:
      - Role to connect as.
      - Falls back to E(PGUSER), then to libpq's default (the operating system user name).
    type: str
    aliases: [login]
  login_password:
    description:
      - Password of O(login_user). It is handed to the client programs through their environment
        (E(PGPASSWORD)), never on a command line, and never returned.
      - Falls back to E(PGPASSWORD).
    type: str
  db:
    description:
      - Database to work on.
      - Falls back to E(PGDATABASE).
    type: str
    aliases: [dbname, login_db]
  login_unix_socket:
    description:
      - Directory of the server's Unix socket, used instead of O(login_host).
    type: path
    aliases: [unix_socket]
  ssl_mode:
    description:
      - libpq's C(sslmode). Falls back to E(PGSSLMODE), then to libpq's default V(prefer).
    type: str
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  ssl_rootcert:
    description:
      - CA certificate file to verify the server's certificate with (libpq's C(sslrootcert)).
      - Falls back to E(PGSSLROOTCERT).
    type: path
  connect_timeout:
    description:
      - Seconds to wait for a connection before giving up with a clear message.
    type: int
    default: 10
requirements:
  - psycopg (version 3) for queries made directly from the module
"""
