# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""alembic_migrate's one I/O boundary with alembic and the database.

This file is a program: alembic_migrate runs it with the application's own interpreter where the
commands run (locally, in a container, in a pod), so alembic runs with the application's packages and
env.py. It reads the database URL from $ARTISAN_ALEMBIC_URL (never from the command line) and writes
each JSON answer on stdout, on a line of its own after ANSWER_MARKER; whatever env.py or the
application prints goes to stderr. It imports nothing from Ansible, and alembic and SQLAlchemy only
inside functions, so that the module itself can import it.

Two ways to run it. ``python -c BOOTSTRAP session``: the first line of stdin is the program (see
bootstrap_line()), then one JSON request per line, each answered in turn until stdin ends; the
application, alembic and the scripts load once for the whole run. ``python - <action>`` with the program
on stdin and one request in $ARTISAN_ALEMBIC_REQUEST: where stdin cannot stay open (a Kubernetes Job).

Actions: ``inspect`` (the revision graph and the database's current revisions; with ``pending_sql``, the
offline SQL of every pending upgrade as well, for a Job, where each request costs a pod), ``sql`` (each
planned step's offline SQL, rendered by env.py in offline mode) and ``apply`` (the steps, one alembic
run and one transaction each, under a PostgreSQL advisory lock, retrying a step that hit lock_timeout).
"""

from __future__ import annotations

import gc
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
# ``python -c`` this: it runs the program sent as the first line of stdin, and leaves the rest to it.
BOOTSTRAP = 'import sys; exec(sys.stdin.readline())'
SESSION = 'session'


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


def bootstrap_line(program):
    """The first line of a session's stdin: ``program`` (this file's text) as one Python statement."""
    return "exec(compile(%s, 'artisan-alembic-helper', 'exec'))\n" % ascii(program)


class Project:
    """The configuration, scripts and connection of a run, made once however many requests the run sends."""

    def __init__(self, url):
        self.url = url
        self.loaded = None
        self._connection = None

    def load(self, request):
        if self.loaded is None:
            config = load_config(request, self.url)
            self.loaded = (config,) + load_script(config)
        return self.loaded

    def close(self):
        if self._connection is not None:
            self._connection.close()

    def connection(self, connect_timeout):
        """Our own autocommit session (reads and the advisory lock); env.py makes its own for the migrations."""
        if self._connection is None:
            self._connection = connect(make_engine(self.url, connect_timeout))
        return self._connection


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


class StepFeed:
    """The steps of one env.py run, handed to alembic one at a time (its ``fn``), noting which ended and when.

    alembic asks for a step only once the one before it is done (committed, with a transaction per
    revision), so a step is applied when the next one is asked for or the feed runs out.
    """

    def __init__(self, script, steps, output=None):
        self.script = script
        self.steps = steps
        self.output = output
        self.done = []
        self.marks = []  # where each step's SQL begins in ``output``
        self.per_revision = True

    def __call__(self, heads, context):
        from alembic.runtime.migration import RevisionStep

        # Several revisions in one run only when each gets a transaction of its own: not when env.py opened
        # one around everything before configure() (alembic then runs all inside it, all or nothing).
        self.per_revision = context.as_sql or (getattr(context, '_transaction_per_migration', False)
                                               and not getattr(context, '_in_external_transaction', True))
        for index, step in enumerate(self.steps):
            if index and not self.per_revision:
                return
            self.marks.append(self.output.tell() if self.output is not None else 0)
            started = time.monotonic()
            yield RevisionStep(self.script.revision_map, self.script.get_revision(step['revision']), step['upgrade'])
            self.done.append({'revision': step['revision'], 'direction': 'upgrade' if step['upgrade'] else 'downgrade',
                              'duration': round(time.monotonic() - started, 3)})


def run_env(config, script, feed, as_sql, starting=None):
    """One run of the application's env.py over the feed's steps, a transaction per revision."""
    from alembic.runtime.environment import EnvironmentContext

    last = script.get_revision(feed.steps[-1]['revision'])
    destination = last.revision if feed.steps[-1]['upgrade'] else (last.down_revision or 'base')
    config.output_buffer = feed.output
    environment = EnvironmentContext(config, script, fn=feed, as_sql=as_sql, destination_rev=destination,
                                     starting_rev=(tuple(starting) or 'base') if as_sql else None)
    configure = environment.configure

    def configure_per_revision(*args, **kw):
        kw['transaction_per_migration'] = True
        return configure(*args, **kw)

    # env.py's context.configure() is this attribute of the instance (alembic installs it as a module proxy).
    environment.configure = configure_per_revision
    with environment:
        script.run_env()


def is_lock_timeout(exc):
    seen = exc
    while seen is not None:
        if LOCK_NOT_AVAILABLE in (getattr(seen, 'sqlstate', None), getattr(seen, 'pgcode', None)):
            return True
        seen = getattr(seen, 'orig', None) or seen.__cause__
    return 'lock timeout' in str(exc)


def graph_parents(rows):
    """Each revision's parents and dependencies among the known revisions (``rows`` as revision_rows gives them)."""
    known = {row['id'] for row in rows}
    return {row['id']: tuple(p for p in list(row['down']) + list(row.get('depends_on') or ()) if p in known)
            for row in rows}


def graph_ancestors(parents, ids):
    """The revisions that must be applied for ``ids`` to be (ids included)."""
    seen = set()
    stack = list(ids)
    while stack:
        rid = stack.pop()
        if rid in seen:
            continue
        seen.add(rid)
        stack.extend(parents.get(rid, ()))
    return seen


def graph_order(parents):
    """Every revision, parents (and dependencies) first; ties broken by id so plans are stable."""
    pending = {rid: set(ups) for rid, ups in parents.items()}
    order = []
    ready = sorted(rid for rid, ups in pending.items() if not ups)
    while ready:
        rid = ready.pop(0)
        order.append(rid)
        for other, ups in pending.items():
            if rid in ups:
                ups.discard(rid)
                if not ups and other not in order and other not in ready:
                    ready.append(other)
        ready.sort()
    return order


def pending_upgrades(rows, heads, current):
    """The steps from ``current`` to ``heads``, parents first; [] when the database is at a revision the scripts
    do not know (nothing sensible to render)."""
    parents = graph_parents(rows)
    if any(rid not in parents for rid in current):
        return []
    pending = graph_ancestors(parents, heads) - graph_ancestors(parents, current)
    return [{'revision': rid, 'upgrade': True} for rid in graph_order(parents) if rid in pending]


def inspect(request, project):
    """The revision graph and the database's revisions; with ``pending_sql``, in the same run, the offline SQL of
    every pending upgrade (or why env.py cannot render it): one request where each costs a process (a Job)."""
    import alembic

    _config, script, revisions = project.load(request)
    current = current_heads(project.connection(request['connect_timeout']))
    rows = revision_rows(revisions)
    heads = sorted(script.get_heads())
    answer = {'revisions': rows, 'heads': heads, 'current': current,
              'alembic_version': alembic.__version__, 'python': sys.executable}
    steps = pending_upgrades(rows, heads, current) if request.get('pending_sql') else []
    if steps:
        try:
            answer['sql'] = offline_sql(dict(request, steps=steps, starting=current), project)['sql']
        except HelperError as exc:
            answer['sql_error'] = exc.message
    return answer


def offline_sql(request, project):
    """Each step's offline SQL, from one offline env.py run over them all (as ``alembic upgrade a:b --sql``)."""
    config, script, _revisions = project.load(request)
    steps = request['steps']
    output = io.StringIO()
    feed = StepFeed(script, steps, output)
    try:
        run_env(config, script, feed, as_sql=True, starting=request['starting'])
    except (Exception, SystemExit) as exc:  # env.py is the application's code: anything can happen
        revision = steps[max(len(feed.marks) - 1, 0)]['revision']
        raise HelperError('sql', 'env.py cannot render the SQL of revision %s offline: %s'
                          % (revision, first_line(exc) or type(exc).__name__))
    text = output.getvalue()
    bounds = [0] + feed.marks[1:] + [len(text)]
    return {'sql': [{'revision': step['revision'], 'sql': text[bounds[index]:bounds[index + 1]]}
                    for index, step in enumerate(steps[:len(feed.marks)])]}


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


def apply(request, project):
    from sqlalchemy import text

    config, script, _revisions = project.load(request)
    connection = project.connection(request['connect_timeout'])
    waited = acquire_lock(connection, request['lock_key'], request['lock_wait_timeout'])
    try:
        current = current_heads(connection)
        if current != sorted(request['expected']):
            return {'status': 'moved', 'current': current, 'lock_waited': waited, 'applied': []}
        applied, failure = apply_steps(config, script, request['steps'], request['lock_retries'],
                                       request['lock_retry_delay'])
        return {'status': 'failed' if failure else 'applied', 'failed': failure, 'applied': applied,
                'current': current_heads(connection), 'lock_waited': waited}
    finally:
        connection.execute(text('SELECT pg_advisory_unlock(:key)'), {'key': request['lock_key']})


def apply_steps(config, script, steps, retries, delay):
    """Run the steps, a transaction each, in as few env.py runs as env.py allows; a step that hit lock_timeout
    is tried again (up to ``retries`` more times). The steps applied, and the failure or None."""
    applied, pending, attempts = [], list(steps), 0
    while pending:
        attempts += 1
        feed = StepFeed(script, pending)
        error = None
        try:
            run_env(config, script, feed, as_sql=False)
        except (Exception, SystemExit) as exc:  # env.py is the application's code: anything can happen
            error = exc
            if not feed.per_revision:
                feed.done = []  # env.py's own transaction was rolled back, with the step inside it
        for index, item in enumerate(feed.done):
            applied.append(dict(item, attempts=attempts if index == 0 else 1))
        if feed.done:
            pending, attempts = pending[len(feed.done):], 0
        if error is None:
            if not feed.done:
                raise HelperError('apply', 'env.py ran no migration (does it call context.run_migrations()?)')
            continue
        if not pending:
            raise HelperError('apply', 'env.py failed after applying every revision: %s' % (
                str(error) or type(error).__name__)[:ERROR_LIMIT], applied=applied)
        attempts = max(attempts, 1)
        lock_timeout = is_lock_timeout(error)
        if lock_timeout and attempts <= retries:
            time.sleep(delay)
            continue
        return applied, {'revision': pending[0]['revision'], 'attempts': attempts, 'lock_timeout': lock_timeout,
                         'error': (str(error) or type(error).__name__)[:ERROR_LIMIT]}
    return applied, None


ACTIONS = {'inspect': inspect, 'sql': offline_sql, 'apply': apply}


def requests(argv):
    """The run's requests: JSON lines on stdin in a session, else the one in the environment."""
    if argv[1] == SESSION:
        for line in iter(sys.stdin.readline, ''):
            yield json.loads(line)
    else:
        yield dict(json.loads(os.environ[REQUEST_VARIABLE]), action=argv[1])


def answer(request, project):
    try:
        result = ACTIONS[request['action']](request, project)
        result['ok'] = True
        return result
    except HelperError as exc:
        return dict(exc.context, ok=False, error=exc.kind, message=exc.message)
    except ImportError as exc:
        return {'ok': False, 'error': 'import', 'message': '%s cannot import %s: run it with the application\'s '
                'Python (python or virtualenv)' % (sys.executable, exc.name or exc)}
    except Exception:  # pylint: disable=broad-exception-caught
        return {'ok': False, 'error': 'unexpected', 'message': traceback.format_exc()[-ERROR_LIMIT:]}


def main():
    answer_fd = os.dup(1)
    # From here on, fd 1 is stderr: prints of env.py or the application cannot corrupt the JSON answers.
    os.dup2(2, 1)
    url = os.environ.get(URL_VARIABLE, '')
    try:
        from sqlalchemy.engine import make_url

        secret = make_url(url).password if url else None
    except Exception:  # pylint: disable=broad-exception-caught
        secret = None
    project = Project(url)
    with os.fdopen(answer_fd, 'w') as out:
        for request in requests(sys.argv):
            text = json.dumps(answer(request, project))
            if secret:
                text = text.replace(json.dumps(str(secret))[1:-1], '********')
            out.write('\n%s%s\n' % (ANSWER_MARKER, text))
            out.flush()
    project.close()
    # Exit without the collector's last passes over alembic's and SQLAlchemy's objects (0.1-0.3 s, as long as
    # a migration): the process frees them anyway.
    gc.freeze()


if __name__ == '__main__':
    main()
