"""An env.py that cannot render SQL offline (it needs a live connection), as some applications' cannot."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config

if context.is_offline_mode():
    raise RuntimeError('this application migrates online only')

engine = engine_from_config(config.get_section(config.config_ini_section), prefix='sqlalchemy.', poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
