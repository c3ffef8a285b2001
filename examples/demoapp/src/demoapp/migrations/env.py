"""Alembic environment of demoapp.

The database URL comes from `-x url=...`, else sqlalchemy.url in the ini file, else the variable the installed
release reads (DATABASE_URL, or DATABASE_URI: see demoapp.config.database_url), with $DEMOAPP_ENV_FILE's values
under the environment. Without a URL, offline mode (--sql) still renders PostgreSQL SQL.
"""

from __future__ import annotations

import logging
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from demoapp.config import ConfigError, database_url, environment, sqlalchemy_url

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
log = logging.getLogger('alembic.env')


def configured_url(required: bool) -> str | None:
    url = context.get_x_argument(as_dictionary=True).get('url') or config.get_main_option('sqlalchemy.url')
    if not url:
        try:
            url, warnings = database_url(environment(os.environ))
        except ConfigError as exc:
            if not required:
                return None
            raise SystemExit('demoapp migrations: %s (or pass -x url=postgresql://...)' % exc) from None
        for warning in warnings:
            log.warning('%s', warning)
    return sqlalchemy_url(url)


def run_offline() -> None:
    url = configured_url(required=False)
    options = {'url': url} if url else {'dialect_name': 'postgresql'}
    context.configure(literal_binds=True, dialect_opts={'paramstyle': 'named'}, **options)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(configured_url(required=True), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
