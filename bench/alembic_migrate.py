"""Benchmark alembic_migrate on a real PostgreSQL 15, side by side in one run.

0. Base -> head on a self-contained project (an application package with models and settings, env.py as
   projects generate it, six revisions: tables, indexes, foreign keys, data migrations, a contract
   revision): plain `alembic upgrade head` vs the module process with safety warn and with safety off,
   each on a fresh database, several rounds in rotating order, medians and ratios. Target: warn <= 1.3x.
1. No-op at head on the demo app (release 3.0.0's venv, database at 0003): one alembic_migrate task,
   whole ansible-playbook run, vs one ansible.builtin.ping task (Ansible's start-up) and vs the shell
   task people write today (`demoapp migrate current`, no change detection). Target: <= 1.5 s.
2. Check mode with N pending revisions (generated, one ADD COLUMN each): the module's plan with every
   revision's offline SQL and safety check, vs alembic's own `upgrade base:head --sql` for the same N.

Run: make bench (prints the numbers; docs/benchmarks.md records them), or `python -m bench.alembic_migrate
upgrade` for part 0 alone (ALEMBIC_BENCH_ROUNDS rounds, 7 by default). Only 127.0.0.1 is used.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from tests.integration.demoapp.support import base_env, build_wheelhouse, install_release
from tests.integration.helpers.postgres import PostgresServer

REPO = pathlib.Path(__file__).resolve().parents[1]

REPEATS = 3
ROUNDS = int(os.environ.get('ALEMBIC_BENCH_ROUNDS', '7'))
PENDING = (10, 50)
REVISION = '''"""Add column c{n}.

Revision ID: r{n:04d}
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = 'r{n:04d}'
down_revision = {down_id}


def upgrade():
    op.add_column('items', sa.Column('c{n}', sa.Integer, nullable=True))


def downgrade():
    op.drop_column('items', 'c{n}')
'''
ENV_PY = '''from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
if context.is_offline_mode():
    context.configure(url=config.get_main_option('sqlalchemy.url'), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section), prefix='sqlalchemy.', poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
'''


# The benchmark's Alembic project: an app package with models and settings, env.py as generated projects have
# it, and six revisions as a product grows them (tables, unique and composite indexes, foreign keys with
# cascades, a data migration, and a contract revision that renames and drops columns).
PROJECT = {
    'alembic.ini': '''[alembic]
script_location = migrations
prepend_sys_path = .
version_path_separator = os

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console
qualname =

[logger_sqlalchemy]
level = WARN
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
''',
    'taskboard/__init__.py': '',
    'taskboard/settings.py': '''import os


class Settings:
    """Read from the environment, as twelve-factor applications configure themselves."""

    def __init__(self) -> None:
        self.database_url = os.environ["TASKBOARD_DATABASE_URL"]
        self.project_name = os.environ.get("TASKBOARD_PROJECT_NAME", "taskboard")


settings = Settings()
''',
    'taskboard/models.py': '''import datetime
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class Role(Base):
    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(32), unique=True)


class User(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str | None] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    role_id: Mapped[int | None] = mapped_column(sa.ForeignKey("roles.id"))
    items: Mapped[list["Item"]] = relationship(back_populates="owner", cascade="all, delete-orphan")


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))


class TeamMember(Base):
    __tablename__ = "team_members"
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    is_admin: Mapped[bool] = mapped_column(default=False)


class Item(Base):
    __tablename__ = "items"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), server_default="open")
    owner_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id", ondelete="SET NULL"))
    created_at: Mapped[datetime.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    owner: Mapped[User] = relationship(back_populates="items")
    __table_args__ = (sa.Index("ix_items_owner_id_created_at", "owner_id", "created_at"),)
''',
    'migrations/script.py.mako': '''"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""
from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
''',
    'migrations/env.py': '''from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

from taskboard.models import Base
from taskboard.settings import settings

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def run_migrations_offline():
    context.configure(url=settings.database_url, target_metadata=target_metadata, literal_binds=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    configuration = config.get_section(config.config_ini_section) or {}
    configuration["sqlalchemy.url"] = settings.database_url
    connectable = engine_from_config(configuration, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
''',
    'migrations/versions/1a2b3c4d5e6f_initial_users_and_items.py': '''"""initial: users and items

Revision ID: 1a2b3c4d5e6f
Revises:
Create Date: 2024-01-08 10:12:03.118211
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "1a2b3c4d5e6f"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("hashed_password", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
    )
    op.create_index("ix_users_email", "users", ["email"], unique=True)
    op.create_table(
        "items",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_items_owner_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
    )


def downgrade():
    op.drop_table("items")
    op.drop_index("ix_users_email", table_name="users")
    op.drop_table("users")
''',
    'migrations/versions/2b3c4d5e6f7a_teams_and_memberships.py': '''"""teams and memberships

Revision ID: 2b3c4d5e6f7a
Revises: 1a2b3c4d5e6f
Create Date: 2024-02-19 16:40:51.402177
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "2b3c4d5e6f7a"
down_revision = "1a2b3c4d5e6f"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_team_members_team_id_teams", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_team_members_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_team_members"),
    )
    op.create_index("ix_team_members_user_id", "team_members", ["user_id"])
    op.add_column("items", sa.Column("team_id", sa.Integer(), nullable=True))
    op.create_foreign_key("fk_items_team_id_teams", "items", "teams", ["team_id"], ["id"], ondelete="SET NULL")


def downgrade():
    op.drop_constraint("fk_items_team_id_teams", "items", type_="foreignkey")
    op.drop_column("items", "team_id")
    op.drop_index("ix_team_members_user_id", table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
''',
    'migrations/versions/3c4d5e6f7a8b_items_created_at_and_status.py': '''"""items: created_at and status

Revision ID: 3c4d5e6f7a8b
Revises: 2b3c4d5e6f7a
Create Date: 2024-03-04 09:05:27.930154
"""
from alembic import op
import sqlalchemy as sa

revision = "3c4d5e6f7a8b"
down_revision = "2b3c4d5e6f7a"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("items", sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                                     nullable=False))
    op.add_column("items", sa.Column("status", sa.String(length=16), server_default="open", nullable=False))
    op.create_index("ix_items_owner_id_created_at", "items", ["owner_id", "created_at"])


def downgrade():
    op.drop_index("ix_items_owner_id_created_at", table_name="items")
    op.drop_column("items", "status")
    op.drop_column("items", "created_at")
''',
    'migrations/versions/4d5e6f7a8b9c_roles_replace_is_superuser.py': '''"""roles replace users.is_superuser (data migration)

Revision ID: 4d5e6f7a8b9c
Revises: 3c4d5e6f7a8b
Create Date: 2024-04-22 14:31:10.664392
"""
from alembic import op
import sqlalchemy as sa

revision = "4d5e6f7a8b9c"
down_revision = "3c4d5e6f7a8b"
branch_labels = None
depends_on = None

roles = sa.table("roles", sa.column("id", sa.Integer), sa.column("name", sa.String))
users = sa.table("users", sa.column("role_id", sa.Integer), sa.column("is_superuser", sa.Boolean))


def upgrade():
    op.create_table(
        "roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_roles"),
        sa.UniqueConstraint("name", name="uq_roles_name"),
    )
    op.bulk_insert(roles, [{"id": 1, "name": "admin"}, {"id": 2, "name": "member"}, {"id": 3, "name": "viewer"}])
    op.add_column("users", sa.Column("role_id", sa.Integer(), nullable=True))
    op.create_foreign_key("fk_users_role_id_roles", "users", "roles", ["role_id"], ["id"])
    op.execute(users.update().where(users.c.is_superuser.is_(True)).values(role_id=1))
    op.execute(users.update().where(users.c.is_superuser.is_(False)).values(role_id=2))


def downgrade():
    op.drop_constraint("fk_users_role_id_roles", "users", type_="foreignkey")
    op.drop_column("users", "role_id")
    op.drop_table("roles")
''',
    'migrations/versions/5e6f7a8b9c0d_users_display_name.py': '''"""users.display_name, filled from full_name (data migration)

Revision ID: 5e6f7a8b9c0d
Revises: 4d5e6f7a8b9c
Create Date: 2024-05-13 11:48:36.205918
"""
from alembic import op
import sqlalchemy as sa

revision = "5e6f7a8b9c0d"
down_revision = "4d5e6f7a8b9c"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("display_name", sa.String(length=255), nullable=True))
    op.execute("UPDATE users SET display_name = coalesce(full_name, split_part(email, '@', 1))")


def downgrade():
    op.drop_column("users", "display_name")
''',
    'migrations/versions/6f7a8b9c0d1e_contract_drop_legacy_columns.py': '''"""contract: items.description becomes body; drop users.full_name and is_superuser

Revision ID: 6f7a8b9c0d1e
Revises: 5e6f7a8b9c0d
Create Date: 2024-06-03 08:22:14.517730
"""
from alembic import op
import sqlalchemy as sa

revision = "6f7a8b9c0d1e"
down_revision = "5e6f7a8b9c0d"
branch_labels = None
depends_on = None


def upgrade():
    op.alter_column("items", "description", new_column_name="body")
    op.drop_column("users", "full_name")
    op.drop_column("users", "is_superuser")


def downgrade():
    op.add_column("users", sa.Column("is_superuser", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("users", sa.Column("full_name", sa.String(length=255), nullable=True))
    op.alter_column("items", "body", new_column_name="description")
''',
}


def run_playbook(tasks: list[dict], workdir: pathlib.Path, check: bool = False) -> tuple[float, list[dict]]:
    """Wall time of ansible-playbook and the task results (from the json callback)."""
    path = workdir / 'play.json'
    path.write_text(json.dumps([{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]), encoding='utf-8')
    argv = ['ansible-playbook', '-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=%s' % sys.executable,
            str(path)] + (['--check'] if check else [])
    started = time.monotonic()
    proc = subprocess.run(argv, check=True, capture_output=True, text=True,
                          env=dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json'))
    elapsed = time.monotonic() - started
    plays = json.loads(proc.stdout)['plays']
    return elapsed, [task['hosts']['localhost'] for task in plays[0]['tasks']]


def fastest(function, repeats: int = REPEATS):
    """The fastest of several (seconds, results) runs."""
    return min((function() for _attempt in range(repeats)), key=lambda run: run[0])


def best_of(function, repeats: int = REPEATS) -> float:
    return min(function() for _attempt in range(repeats))


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.monotonic() - started


def module_process(args: dict, workdir: pathlib.Path) -> tuple[float, dict]:
    """The module as a plain process (no controller, no AnsiballZ), as on a target: its imports plus its work;
    the wall time and its result."""
    collections = os.environ['ANSIBLE_COLLECTIONS_PATH'].split(':')[0]
    path = workdir / 'args.json'
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}), encoding='utf-8')
    module = pathlib.Path(collections) / 'ansible_collections' / 'artisan' / 'upgrade' / 'plugins' / 'modules' / 'alembic_migrate.py'
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(module), str(path)], check=False, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=collections))
    elapsed = time.monotonic() - started
    return elapsed, json.loads(proc.stdout)


def run_module_directly(args: dict, workdir: pathlib.Path) -> float:
    return module_process(args, workdir)[0]


def noop_at_head(postgres: PostgresServer, workdir: pathlib.Path) -> None:
    release = install_release('3.0.0', build_wheelhouse())
    postgres.create_database('bench_noop')
    url = postgres.dsn('bench_noop', 'artisan')
    release.migrate(url, 'upgrade', 'head')
    config = next(release.venv.glob('lib/python3*/site-packages/demoapp/alembic.ini'))
    task = {'artisan.upgrade.alembic_migrate': {'url': url, 'virtualenv': str(release.venv), 'config': str(config)}}
    module_s, [result] = fastest(lambda: run_playbook([task], workdir))
    assert result['changed'] is False, result
    direct_s = best_of(lambda: run_module_directly(task['artisan.upgrade.alembic_migrate'], workdir))
    ping_s = fastest(lambda: run_playbook([{'ansible.builtin.ping': {}}], workdir))[0]
    shell_s = best_of(lambda: timed([release.bin('demoapp'), 'migrate', 'current'], base_env(release.database_env(url))))
    print('no-op at head (demoapp 3.0.0, database at 0003), best of %d:' % REPEATS)
    print('  alembic_migrate (1 task, whole playbook)  %5.2f s   (target <= 1.5 s)' % module_s)
    print('    of which the module itself              %5.2f s   (its duration: inspect in the app venv)' % result['duration'])
    print('  the module process alone                  %5.2f s   (python alembic_migrate.py args.json)' % direct_s)
    print('  ping (1 task, whole playbook)             %5.2f s   Ansible start + one module' % ping_s)
    print('  `demoapp migrate current` alone           %5.2f s   the shell task it replaces, no playbook' % shell_s)


def scripts(folder: pathlib.Path, count: int) -> pathlib.Path:
    (folder / 'versions').mkdir(parents=True)
    # The module passes its own URL; alembic's CLI renders offline SQL from this one's dialect.
    (folder / 'alembic.ini').write_text('[alembic]\nscript_location = %(here)s\nsqlalchemy.url = postgresql+psycopg:///unused\n',
                                        encoding='utf-8')
    (folder / 'env.py').write_text(ENV_PY, encoding='utf-8')
    (folder / 'versions' / 'r0000.py').write_text(
        '"""items.\n\nRevision ID: r0000\n"""\nimport sqlalchemy as sa\nfrom alembic import op\n\nrevision = \'r0000\'\n'
        'down_revision = None\n\n\ndef upgrade():\n    op.create_table(\'items\', sa.Column(\'id\', sa.Integer, '
        'primary_key=True))\n\n\ndef downgrade():\n    op.drop_table(\'items\')\n', encoding='utf-8')
    for n in range(1, count + 1):
        down = 'r%04d' % (n - 1)
        (folder / 'versions' / ('r%04d.py' % n)).write_text(
            REVISION.format(n=n, down=down, down_id=repr(down)), encoding='utf-8')
    return folder / 'alembic.ini'


def check_mode_plans(postgres: PostgresServer, workdir: pathlib.Path) -> None:
    print('check mode with N pending revisions (module interpreter, one ADD COLUMN each), best of %d:' % REPEATS)
    for count in PENDING:
        name = 'bench_plan_%d' % count
        postgres.create_database(name)
        url = postgres.dsn(name, 'artisan')
        config = scripts(workdir / ('scripts-%d' % count), count)
        task = {'artisan.upgrade.alembic_migrate': {'url': url, 'config': str(config), 'revision': 'head'}}
        module_s, [result] = fastest(lambda: run_playbook([task], workdir, check=True))
        assert result['changed'] is True and len(result['plan']) == count + 1, result
        alembic = [str(pathlib.Path(sys.executable).parent / 'alembic'), '-c', str(config), 'upgrade', 'base:head', '--sql']
        sql_s = best_of(lambda: timed(alembic, dict(os.environ)))
        print('  N=%-3d alembic_migrate --check %5.2f s (module %5.2f s)   `alembic upgrade base:head --sql` %5.2f s'
              % (count + 1, module_s, result['duration'], sql_s))


def write_project(folder: pathlib.Path) -> pathlib.Path:
    for name, text in PROJECT.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding='utf-8')
    return folder


def upgrade_base_to_head(postgres: PostgresServer, workdir: pathlib.Path) -> None:
    project = write_project(workdir / 'taskboard')
    heads = {'6f7a8b9c0d1e'}
    alembic = str(pathlib.Path(sys.executable).parent / 'alembic')
    times: dict[str, list[float]] = {'plain': [], 'warn': [], 'off': []}
    linters = set()

    def plain(url: str) -> float:
        started = time.monotonic()
        subprocess.run([alembic, 'upgrade', 'head'], check=True, capture_output=True, cwd=project,
                       env=dict(os.environ, TASKBOARD_DATABASE_URL=url))
        return time.monotonic() - started

    def module(url: str, safety: str) -> float:
        elapsed, result = module_process({'url': url, 'chdir': str(project), 'python': sys.executable, 'safety': safety,
                                          'environment': {'TASKBOARD_DATABASE_URL': url}}, workdir)
        assert result.get('changed') and set(result['to_revisions']) == heads, result
        linters.update(finding['source'] for finding in result['findings'])
        return elapsed

    runs = {'plain': plain, 'warn': lambda url: module(url, 'warn'), 'off': lambda url: module(url, 'off')}
    for number in range(ROUNDS):
        names = list(runs)
        names = names[number % 3:] + names[:number % 3]  # rotate the order: no contender always goes first
        for name in names:
            database = postgres.create_database('bench_up_%s_%d' % (name, number))
            url = postgres.dsn(database, 'artisan')
            times[name].append(runs[name](url))
            assert postgres.query('SELECT version_num FROM alembic_version', dbname=database) == [('6f7a8b9c0d1e',)]
    median = {name: statistics.median(values) for name, values in times.items()}
    print('base -> head, 6 revisions (taskboard project), median of %d rounds (min-max):' % ROUNDS)
    print('  `alembic upgrade head`               %5.2f s  (%.2f-%.2f)' % (median['plain'], min(times['plain']), max(times['plain'])))
    for name in ('warn', 'off'):
        print('  alembic_migrate safety %-4s process  %5.2f s  (%.2f-%.2f)  %.2fx plain' % (
            name, median[name], min(times[name]), max(times[name]), median[name] / median['plain']))
    print('  linter of the warn runs: %s' % (', '.join(sorted(linters)) or 'none reported'))


SECTIONS = {'upgrade': upgrade_base_to_head, 'noop': noop_at_head, 'plans': check_mode_plans}


def main() -> None:
    os.environ.setdefault('ANSIBLE_COLLECTIONS_PATH', str(REPO / '.cache' / 'work') + ':' + str(REPO / '.cache' / 'collections'))
    postgres = PostgresServer().start()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='artisan-bench-'))
    try:
        for name in sys.argv[1:] or list(SECTIONS):
            SECTIONS[name](postgres, workdir)
    finally:
        postgres.stop()


if __name__ == '__main__':
    main()
