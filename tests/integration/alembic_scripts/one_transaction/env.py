"""An env.py that begins its own transaction around every migration of the run, as some applications' do."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config

if context.is_offline_mode():
    context.configure(url=config.get_main_option('sqlalchemy.url'), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section), prefix='sqlalchemy.', poolclass=pool.NullPool)
    with engine.begin() as connection:
        context.configure(connection=connection)
        context.run_migrations()
