# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""alembic_migrate's one I/O boundary with alembic and the database.

This file is a program: alembic_migrate sends its text to ``<app python> - <action>`` where the
commands run (locally, in a container, in a pod), so alembic runs with the application's own
interpreter, packages and env.py. It reads a JSON request from $ARTISAN_ALEMBIC_REQUEST and the
database URL from $ARTISAN_ALEMBIC_URL (never from the command line) and writes one JSON answer on
stdout, on a line of its own after ANSWER_MARKER; whatever env.py or the application prints goes to
stderr. It imports nothing from Ansible, and alembic and SQLAlchemy only inside functions, so that
the module itself can import it.

Actions: ``inspect`` (the revision graph and the database's current revisions), ``sql`` (each
planned step's offline SQL, rendered by env.py in offline mode) and ``apply`` (the steps, one alembic
run and one transaction each, under a PostgreSQL advisory lock, retrying a step that hit lock_timeout).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import traceback

REQUEST_VARIABLE = 'ARTISAN_ALEMBIC_REQUEST'
URL_VARIABLE = 'ARTISAN_ALEMBIC_URL'
LOCK_NOT_AVAILABLE = '55P03'
ERROR_LIMIT = 4000
APPLICATION_NAME = 'artisan.upgrade.alembic_migrate'
# The answer's line starts with this: where stdout and stderr arrive mixed (a Job's log), it is still found.
ANSWER_MARKER = 'artisan-alembic-answer: '


class HelperError(Exception):
    def __init__(self, kind, message, **context):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.context = context


def first_line(text):
    text = str(text).strip()
    return text.splitlines()[0] if text else ''


def database_error(exc):
    """The driver's message of a SQLAlchemy error (without SQLAlchemy's wrapping), else the error itself."""
    orig = getattr(exc, 'orig', None)
    return str(orig if orig is not None else exc).strip()


def load_config(request, url):
    from alembic.config import Config

    if request.get('chdir'):
        try:
            os.chdir(request['chdir'])
        except OSError as exc:
            raise HelperError('chdir', 'cannot change to the working directory %s: %s' % (request['chdir'], exc.strerror))
    path = request['config']
    if not os.path.isfile(path):
        raise HelperError('config', 'alembic configuration %s not found (working directory %s): set config (and chdir)'
                          % (path, os.getcwd()))
    config = Config(path, ini_section=request['ini_section'])
    if not config.file_config.has_section(request['ini_section']):
        raise HelperError('config', '%s has no [%s] section; it has %s: set ini_section' % (
            path, request['ini_section'], ', '.join(config.file_config.sections()) or 'none'))
    if request.get('script_location'):
        config.set_main_option('script_location', request['script_location'])
    # configparser interpolation: a % in the URL (an escaped password character) must be doubled.
    config.set_main_option('sqlalchemy.url', url.replace('%', '%%'))
    return config


def load_script(config):
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        script = ScriptDirectory.from_config(config)
        revisions = list(script.walk_revisions())
    except (CommandError, ImportError, SyntaxError, OSError) as exc:
        raise HelperError('script', 'cannot read the migration scripts (%s): %s' % (
            config.get_main_option('script_location'), exc))
    return script, revisions


def revision_rows(revisions):
    from alembic.util import to_tuple

    return [{'id': rev.revision, 'down': list(to_tuple(rev.down_revision, default=())),
             'message': first_line(rev.doc or ''), 'depends_on': list(to_tuple(rev.dependencies, default=()))}
            for rev in revisions]


def available_driver():
    for name in ('psycopg', 'psycopg2'):
        try:
            __import__(name)
            return name
        except ImportError:
            continue
    raise HelperError('driver', 'neither psycopg nor psycopg2 is importable by %s: install one in the application\'s '
                      'environment' % sys.executable)


def make_engine(url, connect_timeout):
    from sqlalchemy import create_engine, pool
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername == 'postgresql':
        parsed = parsed.set(drivername='postgresql+%s' % available_driver())
    return create_engine(parsed, poolclass=pool.NullPool,
                         connect_args={'connect_timeout': connect_timeout, 'application_name': APPLICATION_NAME})


def connect(engine):
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return engine.connect().execution_options(isolation_level='AUTOCOMMIT')
    except SQLAlchemyError as exc:
        raise HelperError('connect', database_error(exc))


def current_heads(connection):
    from alembic.runtime.migration import MigrationContext

    return sorted(MigrationContext.configure(connection).get_current_heads())


def run_step(config, script, step, as_sql, output=None):
    """One revision up or down through the application's env.py: one env.py run, one transaction."""
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import RevisionStep

    revision = script.get_revision(step['revision'])
    migration = RevisionStep(script.revision_map, revision, step['upgrade'])
    destination = step['revision'] if step['upgrade'] else (revision.down_revision or 'base')
    config.output_buffer = output
    with EnvironmentContext(config, script, fn=lambda heads, context: [migration], as_sql=as_sql,
                            starting_rev=(tuple(step['starting']) or 'base') if as_sql else None,
                            destination_rev=destination):
        script.run_env()


def is_lock_timeout(exc):
    seen = exc
    while seen is not None:
        if LOCK_NOT_AVAILABLE in (getattr(seen, 'sqlstate', None), getattr(seen, 'pgcode', None)):
            return True
        seen = getattr(seen, 'orig', None) or seen.__cause__
    return 'lock timeout' in str(exc)


def inspect(request, url):
    import alembic

    config = load_config(request, url)
    script, revisions = load_script(config)
    engine = make_engine(url, request['connect_timeout'])
    with connect(engine) as connection:
        current = current_heads(connection)
    return {'revisions': revision_rows(revisions), 'heads': sorted(script.get_heads()), 'current': current,
            'alembic_version': alembic.__version__, 'python': sys.executable}


def offline_sql(request, url):
    config = load_config(request, url)
    script, _revisions = load_script(config)
    rendered = []
    for step in request['steps']:
        output = io.StringIO()
        try:
            run_step(config, script, step, as_sql=True, output=output)
        except (Exception, SystemExit) as exc:  # env.py is the application's code: anything can happen
            raise HelperError('sql', 'env.py cannot render the SQL of revision %s offline: %s'
                              % (step['revision'], first_line(exc) or type(exc).__name__))
        rendered.append({'revision': step['revision'], 'sql': output.getvalue()})
    return {'sql': rendered}


def acquire_lock(connection, key, wait_timeout):
    """Seconds waited for the advisory lock, or HelperError naming who holds it."""
    from sqlalchemy import text

    started = time.monotonic()
    while True:
        if connection.execute(text('SELECT pg_try_advisory_lock(:key)'), {'key': key}).scalar():
            return round(time.monotonic() - started, 3)
        waited = time.monotonic() - started
        if waited >= wait_timeout:
            holders = connection.execute(text(
                "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local') "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                'AND l.granted AND l.classid::bigint = :high AND l.objid::bigint = :low AND l.objsubid = 1'),
                {'high': (key >> 32) & 0xFFFFFFFF, 'low': key & 0xFFFFFFFF}).fetchall()
            raise HelperError('lock_wait', 'another migration holds the advisory lock (%s) after %ds of waiting '
                              '(lock_wait_timeout)' % (', '.join('pid %s, %s from %s' % tuple(row) for row in holders)
                                                       or 'its holder just left', wait_timeout))
        time.sleep(min(0.25, wait_timeout - waited))


def apply(request, url):
    from sqlalchemy import text

    config = load_config(request, url)
    script, _revisions = load_script(config)
    engine = make_engine(url, request['connect_timeout'])
    with connect(engine) as connection:
        waited = acquire_lock(connection, request['lock_key'], request['lock_wait_timeout'])
        try:
            current = current_heads(connection)
            if current != sorted(request['expected']):
                return {'status': 'moved', 'current': current, 'lock_waited': waited, 'applied': []}
            applied = []
            for step in request['steps']:
                failure = apply_step(config, script, step, request['lock_retries'], request['lock_retry_delay'], applied)
                if failure:
                    return {'status': 'failed', 'failed': failure, 'applied': applied,
                            'current': current_heads(connection), 'lock_waited': waited}
            return {'status': 'applied', 'applied': applied, 'current': current_heads(connection), 'lock_waited': waited}
        finally:
            connection.execute(text('SELECT pg_advisory_unlock(:key)'), {'key': request['lock_key']})


def apply_step(config, script, step, retries, delay, applied):
    """Run one step, again after a lock timeout (up to ``retries`` more times); the failure, or None."""
    attempts = 0
    while True:
        attempts += 1
        started = time.monotonic()
        try:
            run_step(config, script, step, as_sql=False)
        except (Exception, SystemExit) as exc:  # env.py is the application's code: anything can happen
            lock_timeout = is_lock_timeout(exc)
            if lock_timeout and attempts <= retries:
                time.sleep(delay)
                continue
            return {'revision': step['revision'], 'attempts': attempts, 'lock_timeout': lock_timeout,
                    'error': (str(exc) or type(exc).__name__)[:ERROR_LIMIT]}
        applied.append({'revision': step['revision'], 'direction': 'upgrade' if step['upgrade'] else 'downgrade',
                        'duration': round(time.monotonic() - started, 3), 'attempts': attempts})
        return None


ACTIONS = {'inspect': inspect, 'sql': offline_sql, 'apply': apply}


def main():
    answer_fd = os.dup(1)
    # From here on, fd 1 is stderr: prints of env.py or the application cannot corrupt the JSON answer.
    os.dup2(2, 1)
    url = os.environ.get(URL_VARIABLE, '')
    try:
        from sqlalchemy.engine import make_url

        secret = make_url(url).password if url else None
    except Exception:  # pylint: disable=broad-exception-caught
        secret = None
    try:
        answer = ACTIONS[sys.argv[1]](json.loads(os.environ[REQUEST_VARIABLE]), url)
        answer['ok'] = True
    except HelperError as exc:
        answer = dict(exc.context, ok=False, error=exc.kind, message=exc.message)
    except ImportError as exc:
        answer = {'ok': False, 'error': 'import', 'message': '%s cannot import %s: run it with the application\'s '
                  'Python (python or virtualenv)' % (sys.executable, exc.name or exc)}
    except Exception:  # pylint: disable=broad-exception-caught
        answer = {'ok': False, 'error': 'unexpected', 'message': traceback.format_exc()[-ERROR_LIMIT:]}
    text = json.dumps(answer)
    if secret:
        text = text.replace(json.dumps(str(secret))[1:-1], '********')
    with os.fdopen(answer_fd, 'w') as out:
        out.write('\n%s%s\n' % (ANSWER_MARKER, text))


if __name__ == '__main__':
    main()
