"""The default template's env.py, shortened: the URL comes from sqlalchemy.url.

Sections of alembic.ini make it behave as some applications' do: ``online_only`` cannot render SQL offline,
``one_transaction`` begins a transaction of its own around every migration of the run."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config

if context.is_offline_mode():
    if config.get_main_option('online_only'):
        raise RuntimeError('this application migrates online only')
    context.configure(url=config.get_main_option('sqlalchemy.url'), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section), prefix='sqlalchemy.', poolclass=pool.NullPool)
    if config.get_main_option('one_transaction'):
        with engine.begin() as connection:
            context.configure(connection=connection)
            context.run_migrations()
    else:
        with engine.connect() as connection:
            context.configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
