"""Benchmark alembic_migrate on a real PostgreSQL 15, side by side in one run.

1. No-op at head on the demo app (release 3.0.0's venv, database at 0003): one alembic_migrate task,
   whole ansible-playbook run, vs one ansible.builtin.ping task (Ansible's start-up) and vs the shell
   task people write today (`demoapp migrate current`, no change detection). Target: <= 1.5 s.
2. Check mode with N pending revisions (generated, one ADD COLUMN each): the module's plan with every
   revision's offline SQL and safety check, vs alembic's own `upgrade base:head --sql` for the same N.

Run: make bench (prints the numbers; docs/benchmarks.md records them). Only 127.0.0.1 is used.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tests'))

from integration.demoapp.support import base_env, build_wheelhouse, install_release  # noqa: E402  pylint: disable=wrong-import-position
from integration.helpers.postgres import PostgresServer  # noqa: E402  pylint: disable=wrong-import-position

REPEATS = 3
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


def run_module_directly(args: dict, workdir: pathlib.Path) -> float:
    """The module as a plain process (no controller, no AnsiballZ): its own imports plus its work."""
    collections = os.environ['ANSIBLE_COLLECTIONS_PATH'].split(':')[0]
    path = workdir / 'args.json'
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}), encoding='utf-8')
    module = pathlib.Path(collections) / 'ansible_collections' / 'artisan' / 'upgrade' / 'plugins' / 'modules' / 'alembic_migrate.py'
    return timed([sys.executable, str(module), str(path)], dict(os.environ, PYTHONPATH=collections))


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


def main() -> None:
    os.environ.setdefault('ANSIBLE_COLLECTIONS_PATH', str(REPO / '.cache' / 'work') + ':' + str(REPO / '.cache' / 'collections'))
    postgres = PostgresServer().start()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='artisan-bench-'))
    try:
        noop_at_head(postgres, workdir)
        check_mode_plans(postgres, workdir)
    finally:
        postgres.stop()


if __name__ == '__main__':
    main()
