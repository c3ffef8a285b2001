"""alembic_migrate against a real PostgreSQL 15 with the demo application's real migrations, each release in
its own Python 3.11 venv (and in its image, through docker exec), run through ansible-playbook.

Every test reads the outcome from the database itself: alembic_version, the columns and tables the
revisions create or drop, and pg_locks.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import threading
import time
import urllib.parse

import kubernetes
import psycopg
import pytest

from .demoapp.support import columns, revision, tables
from .helpers.ansible import assert_ok, run_module_tasks
from .helpers.postgres import APP_PASSWORD

MODULE = 'artisan.upgrade.alembic_migrate'
SCRIPTS = pathlib.Path(__file__).resolve().parent / 'alembic_scripts'
IMAGE_VENV = '/opt/demoapp/venv'
IMAGE_CONFIG = IMAGE_VENV + '/lib/python3.11/site-packages/demoapp/alembic.ini'


def run_tasks(run_playbook, tasks, check=False, **play):
    return run_module_tasks(run_playbook, MODULE, tasks, check, **play)


def four_steps(run_playbook, args, schema):
    """check mode, real run, check mode again, real run again; ``schema()`` must not change in check mode."""
    before = schema()
    [planned] = run_tasks(run_playbook, [(args, {'check_mode': True})])
    assert schema() == before, 'check mode changed the database'
    return [planned] + run_tasks(run_playbook, [args, (args, {'check_mode': True}), args])


def assert_failed(result, *fragments):
    assert result.get('failed'), result
    for fragment in fragments:
        assert fragment in result['msg'], result['msg']


def schema(postgres, db):
    """What a migration changes: the revision, and every table with its columns."""
    return revision(postgres, db), {table: columns(postgres, db, table) for table in tables(postgres, db)}


def helper_processes(result):
    """The helper runs among the commands (squawk's, when it is installed, are the others)."""
    return [command for command in result['commands'] if command.endswith(" -c 'import sys; exec(sys.stdin.readline())' session")]


def dbname(url):
    return url.rsplit('/', 1)[1]


@pytest.fixture()
def app3(demoapp_releases):
    """Arguments that run release 3.0.0's migrations with its own venv and packaged alembic.ini."""
    release = demoapp_releases['3.0.0']
    config = next(release.venv.glob('lib/python3*/site-packages/demoapp/alembic.ini'))
    return dict(virtualenv=str(release.venv), config=str(config))


@pytest.fixture()
def scripts_db(module_databases, postgres):
    """A new database and the arguments of the test-only migrations, run by the module's own interpreter."""
    name = module_databases.create()
    return name, dict(url=postgres.dsn(name, 'artisan'), config=str(SCRIPTS / 'alembic.ini'))


# --- targets: head, relative steps, base, ids ------------------------------------------------------

def test_upgrade_to_head_check_real_check_real(app3, migrated_dsn, postgres, run_playbook):
    url = migrated_dsn('1.0.0')
    db = dbname(url)
    planned, real, check_again, real_again = four_steps(run_playbook, dict(app3, url=url), lambda: schema(postgres, db))

    assert_ok(planned)
    assert planned['changed'] is True and planned['applied'] == []
    assert [(p['revision'], p['direction'], p['classification']) for p in planned['plan']] == [
        ('0002', 'upgrade', 'expand'), ('0003', 'upgrade', 'contract')]
    assert planned['plan'][0]['message'].startswith('Release 2.0.0, expand')
    assert 'ALTER TABLE users DROP COLUMN full_name' in planned['plan'][1]['sql']
    assert 'ALTER TABLE users DROP COLUMN full_name' in planned['diff']['prepared']
    assert planned['diff']['before'].startswith('0001 ') and planned['diff']['after'].startswith('0003 ')
    assert [(f['revision'], f['rule'], f['kind']) for f in planned['findings']] == [('0003', 'ban-drop-column', 'contract')]
    assert planned['msg'] == 'would upgrade 0001 to 0003: upgrade 0002, upgrade 0003'

    assert_ok(real)
    assert real['changed'] is True
    assert (real['from_revisions'], real['to_revisions']) == (['0001'], ['0003'])
    assert [(a['revision'], a['direction'], a['attempts']) for a in real['applied']] == [
        ('0002', 'upgrade', 1), ('0003', 'upgrade', 1)]
    assert all(a['duration'] > 0 for a in real['applied'])
    assert revision(postgres, db) == ['0003']
    assert {'display_name'} <= columns(postgres, db, 'users') and 'full_name' not in columns(postgres, db, 'users')
    assert 'audit_log' in tables(postgres, db)
    # One helper process reads the scripts, renders the SQL and applies it: the application loads once.
    assert len(helper_processes(real)) == 1
    assert all(APP_PASSWORD not in c for c in real['commands'])

    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False and again['plan'] == [] and again['msg'] == 'already at 0003'
        assert len(helper_processes(again)) == 1
    assert revision(postgres, db) == ['0003']


def test_downgrade_by_step_then_to_base(app3, migrated_dsn, postgres, run_playbook):
    url = migrated_dsn('3.0.0')
    db = dbname(url)
    planned, stepped = run_tasks(run_playbook, [(dict(app3, url=url, revision='-1'), {'check_mode': True}),
                                                dict(app3, url=url, revision='-1')])
    assert_ok(planned)
    assert [(p['revision'], p['direction']) for p in planned['plan']] == [('0003', 'downgrade')]
    assert 'classification' not in planned['plan'][0] and planned['findings'] == []
    assert 'ADD COLUMN full_name' in planned['plan'][0]['sql']
    assert_ok(stepped)
    assert stepped['to_revisions'] == ['0002'] and revision(postgres, db) == ['0002']
    assert {'full_name', 'display_name'} <= columns(postgres, db, 'users')

    base = dict(app3, url=url, revision='base')
    planned, real, check_again, real_again = four_steps(run_playbook, base, lambda: schema(postgres, db))
    assert_ok(planned)
    assert [(p['revision'], p['direction']) for p in planned['plan']] == [('0002', 'downgrade'), ('0001', 'downgrade')]
    assert planned['msg'] == 'would downgrade 0002 to base: downgrade 0002, downgrade 0001'
    assert_ok(real)
    assert real['changed'] is True and real['to_revisions'] == []
    assert revision(postgres, db) == [] and tables(postgres, db) == {'alembic_version'}
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False and again['msg'] == 'already at base'


def test_revision_id_targets_check_real_check_real(app3, module_databases, postgres, run_playbook):
    db = module_databases.create()
    args = dict(app3, url=postgres.dsn(db, 'artisan'), revision='0002')
    planned, real, check_again, real_again = four_steps(run_playbook, args, lambda: schema(postgres, db))
    assert_ok(planned)
    assert [p['revision'] for p in planned['plan']] == ['0001', '0002'] and planned['from_revisions'] == []
    assert planned['findings'] == [] and {p['classification'] for p in planned['plan']} == {'expand'}
    assert_ok(real)
    assert revision(postgres, db) == ['0002'] and 'audit_log' in tables(postgres, db)
    assert check_again['changed'] is False and real_again['changed'] is False
    [prefix] = run_tasks(run_playbook, [dict(args, revision='000')])
    assert_failed(prefix, 'revision "000" is ambiguous: it starts 0001, 0002, 0003')
    assert revision(postgres, db) == ['0002']


def test_multiple_heads_are_refused_unless_asked(app3, migrated_dsn, postgres, run_playbook):
    url = migrated_dsn('2.0.0')
    unsafe = dict(app3, url=url, ini_section='unsafe')
    head, heads = run_tasks(run_playbook, [dict(unsafe), (dict(unsafe, revision='heads'), {'check_mode': True})])
    assert_failed(head, 'the script directory has 2 heads (0003, u0002)', 'revision: heads')
    assert head['heads'] == ['0003', 'u0002']
    assert_ok(heads)
    assert [p['revision'] for p in heads['plan']] == ['0003', 'u0001', 'u0002']
    assert heads['to_revisions'] == ['0003', 'u0002']
    assert revision(postgres, dbname(url)) == ['0002']


# --- bad input ---------------------------------------------------------------------------------------

def test_bad_inputs_fail_with_a_clear_message_and_change_nothing(app3, migrated_dsn, postgres, run_playbook, tmp_path):
    url = migrated_dsn('1.0.0')
    wrong_password = url.replace(APP_PASSWORD, 'not-the-password')
    results = run_tasks(run_playbook, [
        dict(app3, url=url, revision='0042'),
        dict(app3, url=wrong_password),
        dict(app3, url=url, virtualenv=str(tmp_path / 'no-venv')),
        dict(app3, url=url, config=str(tmp_path / 'alembic.ini')),
        dict(app3, url=url, ini_section='nope'),
        dict(app3, url='mysql://root:pw@127.0.0.1/app'),
        dict(app3, url=url, lock_timeout='5 seconds'),
        dict(app3, url=url, safety_ignore=['drop-everything']),
        dict(url=url),  # the module's interpreter has alembic, but no alembic.ini here
        dict(app3, url=url.replace(str(postgres.port), '1')),
    ])
    unknown, password, venv, config, section, mysql, timeout, ignore, no_ini, refused = results
    assert_failed(unknown, 'unknown revision "0042": the script directory has 0001, 0002, 0003')
    assert_failed(password, 'cannot connect to database "%s" on 127.0.0.1:%d as "artisan"' % (dbname(url), postgres.port),
                  'password authentication failed for user "artisan"')
    assert_failed(venv, "cannot run the application's Python %s/bin/python" % (tmp_path / 'no-venv'), 'Set virtualenv or python')
    assert_failed(config, 'alembic configuration %s not found' % (tmp_path / 'alembic.ini'))
    assert_failed(section, 'has no [nope] section; it has alembic, unsafe', 'set ini_section')
    assert_failed(mysql, 'url must be a PostgreSQL SQLAlchemy URL', 'not "mysql://..."')
    assert_failed(timeout, 'lock_timeout must be a PostgreSQL duration', '"5 seconds"')
    assert_failed(ignore, 'unknown rules in safety_ignore: drop-everything')
    assert_failed(no_ini, 'alembic configuration alembic.ini not found')
    assert_failed(refused, 'cannot connect to database', 'Connection refused')
    for result in results:
        text = json.dumps(result)
        assert APP_PASSWORD not in text and 'not-the-password' not in text
    assert revision(postgres, dbname(url)) == ['0001']


def test_a_wrong_password_says_which_option_to_check(app3, migrated_dsn, postgres, run_playbook):
    url = migrated_dsn('1.0.0')
    parts = urllib.parse.urlsplit(url)
    options = dict(app3, login_host=parts.hostname, port=parts.port, login_user=parts.username, db=dbname(url))
    from_url, from_options, both, neither, url_beside_env, env_password = run_tasks(run_playbook, [
        dict(app3, url=url.replace(APP_PASSWORD, 'not-the-password')),
        dict(options, login_password='not-the-password'),
        dict(options, url=url),
        app3,
        # PG* variables in the environment never clash with url (they apply only without it) ...
        (dict(app3, url=url), {'check_mode': True, 'environment': {'PGPASSWORD': 'not-the-password'}}),
        # ... and still fill in the options left unset.
        (options, {'check_mode': True, 'environment': {'PGPASSWORD': APP_PASSWORD}}),
    ])
    expected = (
        'cannot connect to database "{db}" on 127.0.0.1:{port} as "artisan": wrong password for role "artisan": check '
        '{option} (connection failed: connection to server at "127.0.0.1", port {port} failed: FATAL:  '
        'password authentication failed for user "artisan")')
    assert from_url['failed'] is True
    assert from_url['msg'] == expected.format(db=dbname(url), port=postgres.port, option='the password in url')
    # With the PostgreSQL options, the hint names the option that was used.
    assert from_options['failed'] is True
    assert from_options['msg'] == expected.format(db=dbname(url), port=postgres.port,
                                                  option='login_password (or PGPASSWORD)')
    assert 'not-the-password' not in json.dumps(from_options)
    assert_failed(both, 'parameters are mutually exclusive: url|login_host')
    assert_failed(neither, 'one of the following is required: url, db')
    for planned in (url_beside_env, env_password):
        assert not planned.get('failed'), planned['msg']
        assert planned['changed'] is True
    assert revision(postgres, dbname(url)) == ['0001']


def test_a_database_ahead_of_the_scripts_is_refused(demoapp_releases, migrated_dsn, postgres, run_playbook):
    """Release 2.0.0's migrations cannot move a database at 0003 (release 3.0.0's contract): say so, change nothing."""
    release = demoapp_releases['2.0.0']
    config = next(release.venv.glob('lib/python3*/site-packages/demoapp/alembic.ini'))
    url = migrated_dsn('3.0.0')
    [ahead] = run_tasks(run_playbook, [dict(url=url, virtualenv=str(release.venv), config=str(config), revision='0001')])
    assert_failed(ahead, 'the database is at 0003, which these migration scripts do not know')
    assert ahead['from_revisions'] == ['0003'] and ahead['heads'] == ['0002']
    assert revision(postgres, dbname(url)) == ['0003']


# --- transactions, locks, timeouts -------------------------------------------------------------------

@pytest.mark.parametrize('ini_section', ['alembic', 'one_transaction'])
def test_a_revision_failing_half_way_leaves_the_last_fully_applied_one(scripts_db, postgres, run_playbook, ini_section):
    """Each revision commits on its own, also when env.py wraps the run in a transaction of its own."""
    db, args = scripts_db
    [failed] = run_tasks(run_playbook, [dict(args, revision='t0003', ini_section=ini_section)])
    assert_failed(failed, 'revision t0003 (Create tags and fill them, then fail on the third statement', 'division by zero',
                  'the database is at t0002 after applying t0001, t0002')
    assert [a['revision'] for a in failed['applied']] == ['t0001', 't0002']
    assert failed['changed'] is True, 'the revisions applied before the failure changed the database'
    assert failed['failed_revision']['revision'] == 't0003' and failed['failed_revision']['lock_timeout'] is False
    # The failing revision's first statements (CREATE TABLE tags, INSERT) were rolled back with it.
    assert revision(postgres, db) == ['t0002']
    assert tables(postgres, db) == {'alembic_version', 'items'} and 'note' in columns(postgres, db, 'items')


def test_demoapp_unsafe_migration_fails_after_the_one_before_it_applied(app3, migrated_dsn, postgres, run_playbook):
    url = migrated_dsn('2.0.0')
    [failed] = run_tasks(run_playbook, [dict(app3, url=url, ini_section='unsafe', revision='u0002')])
    assert_failed(failed, 'revision u0002', 'column "email_verified" of relation "users" contains null values',
                  'the database is at u0001')
    assert revision(postgres, dbname(url)) == ['u0001']
    assert 'email_verified' not in columns(postgres, dbname(url), 'users')
    assert [(f['revision'], f['rule']) for f in failed['findings']] == [
        ('u0001', 'require-concurrent-index-creation'), ('u0002', 'adding-required-field')]


def test_two_concurrent_runs_one_applies_the_other_sees_nothing_to_do(scripts_db, postgres, run_playbook):
    db, args = scripts_db
    play = {'hosts': 'all', 'gather_facts': False, 'strategy': 'free',
            'tasks': [{'name': 'migrate', MODULE: dict(args, revision='t0002'), 'ignore_errors': True}]}
    run = run_playbook([play], inventory={'all': {'hosts': {
        name: {'ansible_connection': 'local'} for name in ('first', 'second')}}})
    results = [entry['res'] for entry in run.tasks if entry['task'] == 'migrate']
    assert len(results) == 2, run.stdout
    for result in results:
        assert_ok(result)
    winner, loser = sorted(results, key=lambda r: not r['changed'])
    assert winner['changed'] is True and [a['revision'] for a in winner['applied']] == ['t0001', 't0002']
    assert loser['changed'] is False and loser['applied'] == []
    assert 'another run migrated the database while this one waited for the lock' in loser['msg']
    assert loser['lock']['waited'] > 0.5
    assert revision(postgres, db) == ['t0002']


class TableLock:
    """A session holding ACCESS EXCLUSIVE on a table, as a long transaction in production would."""

    def __init__(self, postgres, db, table):
        self.postgres, self.db = postgres, db
        self.conn = psycopg.connect(postgres.dsn(db))
        self.conn.execute('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE' % table)

    def release(self):
        self.conn.rollback()
        self.conn.close()

    def waiters(self):
        return self.postgres.query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   'AND datname = %s', [self.db])[0][0]

    def release_after_a_timed_out_wait(self, timeout=120):
        """In a thread, release once a session waited for this lock and gave up: its retry then succeeds."""
        def watch():
            deadline = time.monotonic() + timeout
            while not self.waiters() and time.monotonic() < deadline:
                time.sleep(0.02)
            while self.waiters() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.release()
        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        return thread


def test_lock_timeout_fails_fast_then_a_retry_succeeds_once_the_lock_is_gone(app3, migrated_dsn, postgres, run_playbook):
    url = migrated_dsn('1.0.0')
    db = dbname(url)
    args = dict(app3, url=url, revision='0002', lock_timeout='200ms', lock_retry_delay=0.2)
    holder = TableLock(postgres, db, 'users')
    try:
        [timed_out] = run_tasks(run_playbook, [dict(args, lock_retries=1)])
    finally:
        holder.release()
    assert_failed(timed_out, 'revision 0002', 'lock_timeout expired 2 time(s)', 'the database is at 0001')
    assert timed_out['failed_revision']['lock_timeout'] is True and timed_out['failed_revision']['attempts'] == 2
    assert revision(postgres, db) == ['0001']

    watcher = TableLock(postgres, db, 'users').release_after_a_timed_out_wait()
    [retried] = run_tasks(run_playbook, [dict(args, lock_retries=20)])
    watcher.join()
    assert_ok(retried)
    assert retried['applied'][0]['attempts'] > 1
    assert revision(postgres, db) == ['0002']


def test_lock_wait_timeout_names_the_holder(scripts_db, postgres, run_playbook):
    db, args = scripts_db
    [first] = run_tasks(run_playbook, [dict(args, revision='t0001', lock_name='other')])
    assert_ok(first)
    key = first['lock']['key']
    with psycopg.connect(postgres.dsn(db), autocommit=True) as conn:
        conn.execute('SELECT pg_advisory_lock(%s)', [key])
        pid = conn.info.backend_pid
        [waited] = run_tasks(run_playbook, [dict(args, revision='t0002', lock_name='other', lock_wait_timeout=1)])
    assert_failed(waited, 'another migration holds the advisory lock (pid %d' % pid, 'after 1s of waiting')
    assert revision(postgres, db) == ['t0001']


# --- safety ------------------------------------------------------------------------------------------

def test_safety_enforce_refuses_contract_revisions_and_applies_expand_ones(app3, migrated_dsn, postgres, run_playbook):
    url = migrated_dsn('1.0.0')
    db = dbname(url)
    enforce = dict(app3, url=url, safety='enforce')
    refused, expand, accepted = run_tasks(run_playbook, [
        enforce, dict(enforce, revision='0002'), dict(enforce, safety_ignore=['ban-drop-column'])])
    assert_failed(refused, 'refusing contract revision 0003 before deploy (safety: enforce): revision 0003 (Release 3.0.0',
                  '[ban-drop-column]: ALTER TABLE users DROP COLUMN full_name', 'Nothing was applied')
    assert [(f['revision'], f['rule']) for f in refused['findings']] == [('0003', 'ban-drop-column')]
    assert_ok(expand)
    assert expand['findings'] == [] and expand['to_revisions'] == ['0002']
    assert_ok(accepted)
    assert accepted['to_revisions'] == ['0003']
    assert revision(postgres, db) == ['0003']


def test_safety_findings_on_the_unsafe_migrations(app3, migrated_dsn, postgres, run_playbook):
    url = migrated_dsn('2.0.0')
    unsafe = dict(app3, url=url, ini_section='unsafe', revision='u0002')
    enforced, off = run_tasks(run_playbook, [dict(unsafe, safety='enforce'),
                                             (dict(unsafe, safety='off'), {'check_mode': True})])
    assert_failed(enforced, 'refusing contract revision u0002', '[require-concurrent-index-creation]: CREATE INDEX '
                  'ix_users_display_name ON users (display_name)', '[adding-required-field]: ALTER TABLE users ADD COLUMN '
                  'email_verified BOOLEAN NOT NULL')
    assert [(f['revision'], f['kind']) for f in enforced['findings']] == [('u0001', 'blocking'), ('u0002', 'contract')]
    assert_ok(off)
    assert off['findings'] == []
    assert revision(postgres, dbname(url)) == ['0002']


def test_safety_with_the_squawk_linter(app3, migrated_dsn, postgres, run_playbook):
    """squawk-cli is optional (the built-in rules are the default when it is absent): run only where it is installed."""
    if shutil.which('squawk') is None:
        pytest.skip('squawk (PyPI squawk-cli) is not on the PATH')
    url = migrated_dsn('2.0.0')
    args = dict(app3, url=url, ini_section='unsafe', revision='heads', safety_linter='squawk')
    [planned] = run_tasks(run_playbook, [(args, {'check_mode': True})])
    assert_ok(planned)
    assert {(f['revision'], f['rule'], f['source']) for f in planned['findings']} == {
        ('0003', 'ban-drop-column', 'squawk'), ('u0001', 'require-concurrent-index-creation', 'squawk'),
        ('u0002', 'adding-required-field', 'squawk')}
    assert any(c.startswith(shutil.which('squawk') + ' --reporter json') for c in planned['commands'])
    assert revision(postgres, dbname(url)) == ['0002']


def test_revisions_whose_sql_was_not_checked_are_unchecked_not_expand(app3, migrated_dsn, scripts_db, postgres,
                                                                      run_playbook):
    """0003 drops users.full_name: with safety off nobody read its SQL (diff mode rendered it), so it must not pass
    for expand; neither may revisions whose env.py cannot render SQL offline."""
    url = migrated_dsn('1.0.0')
    off = dict(app3, url=url, safety='off')
    planned, real = run_tasks(run_playbook, [(off, {'check_mode': True}), off])
    for result in (planned, real):
        assert_ok(result)
        assert [(p['revision'], p['classification']) for p in result['plan']] == [
            ('0002', 'unchecked'), ('0003', 'unchecked')]
        assert result['findings'] == [] and 'DROP COLUMN full_name' in result['plan'][1]['sql']
    assert revision(postgres, dbname(url)) == ['0003'] and 'full_name' not in columns(postgres, dbname(url), 'users')

    db, args = scripts_db
    [online_only] = run_tasks(run_playbook, [dict(args, ini_section='online_only', revision='t0001')])
    assert_ok(online_only)
    assert [(p['revision'], p['classification']) for p in online_only['plan']] == [('t0001', 'unchecked')]
    assert any('no SQL to check or show' in w and 'online only' in w for w in online_only['warnings'])
    assert revision(postgres, db) == ['t0001']


# --- in the application's container ------------------------------------------------------------------

def test_migrate_inside_the_demoapp_container(docker_session, module_databases, postgres, run_playbook):
    db = module_databases.create()
    # The host network: the container reaches the test cluster on 127.0.0.1, like a sidecar would.
    container = docker_session.run('demoapp:2.0.0', command=['sleep', 'infinity'], network_mode='host')
    args = dict(url=postgres.dsn(db, 'artisan'), python=IMAGE_VENV + '/bin/python', config=IMAGE_CONFIG,
                exec_via={'type': 'docker', 'container': container.name, 'user': 'demoapp'})
    planned, real, check_again, real_again = four_steps(run_playbook, args, lambda: schema(postgres, db))
    assert_ok(planned)
    assert [p['revision'] for p in planned['plan']] == ['0001', '0002'] and planned['findings'] == []
    assert_ok(real)
    assert real['to_revisions'] == ['0002'] and revision(postgres, db) == ['0002']
    assert real['commands'][0].split(' ', 1)[1].startswith('exec --interactive --user demoapp --env ARTISAN_ALEMBIC_URL')
    assert all(APP_PASSWORD not in c for c in real['commands'])
    assert check_again['changed'] is False and real_again['changed'] is False

    [missing] = run_tasks(run_playbook, [dict(args, exec_via={'type': 'docker', 'container': 'artisan-no-such-ctr'})])
    assert_failed(missing, 'container "artisan-no-such-ctr" not found')


# --- in a Kubernetes pod (kubesim's docker runtime: the pods are real containers) -----------------------

POD_PASSWORD = 'pod-db-pw'
POD_URL = 'postgresql://owner:%s@postgresql-0:5432/shop' % POD_PASSWORD
PODS = [
    {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'postgresql-0'},
     'spec': {'containers': [{
         'name': 'postgres', 'image': 'artisan-upgrade/postgres:15',
         'env': [{'name': 'POSTGRES_USER', 'value': 'owner'}, {'name': 'POSTGRES_PASSWORD', 'value': POD_PASSWORD},
                 {'name': 'POSTGRES_DB', 'value': 'shop'}],
         'readinessProbe': {'exec': {'command': ['pg_isready', '-h', '127.0.0.1', '-U', 'owner', '-d', 'shop']},
                            'periodSeconds': 1}}]}},
    # The application's pod, as a release's Deployment would run it; the migration runs inside it.
    {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'demoapp-0'},
     'spec': {'containers': [{'name': 'app', 'image': 'demoapp:3.0.0', 'command': ['sleep', 'infinity']}]}},
]


@pytest.fixture()
def cluster(kubesim_docker, kubectl_docker):
    """The database and application pods; ``psql(sql)`` runs in the database pod through kubectl (an independent client)."""
    kubectl = kubectl_docker
    for pod in PODS:
        kubectl('apply', '-f', '-', stdin=json.dumps(pod))
    kubectl('wait', '--for=condition=Ready', 'pod/postgresql-0', 'pod/demoapp-0', '--timeout=90s')

    def psql(sql):
        return kubectl('exec', '-i', 'postgresql-0', '--', 'psql', '-U', 'owner', '-d', 'shop', '-v', 'ON_ERROR_STOP=1',
                       '-qAt', stdin=sql).split()

    return kubesim_docker, psql


def test_migrate_inside_the_application_pod(cluster, run_playbook):
    kubesim_docker, psql = cluster
    pod = {'type': 'pod', 'pod': 'demoapp-0'}
    args = dict(url=POD_URL, python=IMAGE_VENV + '/bin/python', config=IMAGE_CONFIG, exec_via=pod,
                kubeconfig=kubesim_docker.kubeconfig)
    planned, real, check_again, real_again, down, missing = run_tasks(run_playbook, [
        (args, {'check_mode': True}), args, (args, {'check_mode': True}), args, dict(args, revision='0002'),
        dict(args, exec_via=dict(pod, pod='demoapp-9'))])
    assert_ok(planned)
    assert [p['revision'] for p in planned['plan']] == ['0001', '0002', '0003']
    assert_ok(real)
    assert real['to_revisions'] == ['0003'] and real['alembic_version']
    assert real['commands'][0].startswith('kubectl exec --namespace default --stdin demoapp-0 -- env')
    assert not any(POD_PASSWORD in c for c in real['commands'])
    assert check_again['changed'] is False and real_again['changed'] is False
    assert_ok(down)
    assert [a['revision'] for a in down['applied']] == ['0003']
    assert psql('SELECT version_num FROM alembic_version') == ['0002']
    assert psql("SELECT column_name FROM information_schema.columns WHERE table_name = 'users' "
                "AND column_name = 'full_name'") == ['full_name']
    assert_failed(missing, 'pods "demoapp-9" not found')


def test_migrate_as_a_kubernetes_job_from_the_application_image(cluster, run_playbook):
    kubesim_docker, psql = cluster
    batch = kubernetes.client.BatchV1Api(kubesim_docker.api_client())
    core = kubernetes.client.CoreV1Api(kubesim_docker.api_client())
    seen = []  # every Job spec seen while the module runs: the password and URL must be in none of them
    attempts = set()  # the Jobs' pods that ran /bin/false (each attempt is a pod of its own)
    done = threading.Event()

    def watch_jobs():
        while not done.is_set():
            seen.extend(json.dumps(kubesim_docker.api_client().sanitize_for_serialization(job))
                        for job in batch.list_namespaced_job('default').items)
            attempts.update(pod.metadata.name for pod in core.list_namespaced_pod(
                'default', label_selector='app.kubernetes.io/managed-by=artisan.upgrade').items
                if pod.spec.containers[0].command[0] == '/bin/false')
            time.sleep(0.05)
    watcher = threading.Thread(target=watch_jobs, daemon=True)
    watcher.start()
    # The PostgreSQL options (POD_URL's parts): the URL they make must reach the Job as url does, by Secret only.
    args = dict(login_host='postgresql-0', port=5432, login_user='owner', login_password=POD_PASSWORD, db='shop',
                python=IMAGE_VENV + '/bin/python', config=IMAGE_CONFIG, revision='0002',
                job={'image': 'demoapp:3.0.0', 'labels': {'release': '3.0.0'}}, kubeconfig=kubesim_docker.kubeconfig)
    try:
        # With retries (backoff_limit), an image that cannot be pulled still fails at once; a pod that dies without
        # answering (its program exits 1) is tried backoff_limit + 1 times, then the step fails.
        planned, real, again, missing_image, dying = run_tasks(run_playbook, [
            (args, {'check_mode': True}), args, args,
            dict(args, job={'image': 'demoapp:9.9.9', 'timeout': 60, 'backoff_limit': 3}),
            dict(args, python='/bin/false', job={'image': 'demoapp:3.0.0', 'timeout': 120, 'backoff_limit': 1})])
    finally:
        done.set()
        watcher.join()
    assert_ok(planned)
    assert [p['revision'] for p in planned['plan']] == ['0001', '0002'] and planned['findings'] == []
    # One Job read the revisions and rendered the SQL the safety check classified.
    assert [p['classification'] for p in planned['plan']] == ['expand', 'expand']
    assert sum(c.startswith('kubectl create job') for c in planned['commands']) == 1
    assert sorted(planned['read']['sql']) == ['0001', '0002', '0003'] and planned['read']['current'] == []
    assert_ok(real)
    assert real['to_revisions'] == ['0002'] and [a['revision'] for a in real['applied']] == ['0001', '0002']
    # Two Jobs: one reads (revisions and pending SQL), one applies (the squawk linter, when installed, runs beside
    # the module).
    jobs = [c for c in real['commands'] if not c.startswith(str(shutil.which('squawk')))]
    assert [c.split()[:3] for c in jobs if c.startswith('kubectl')] == [['kubectl', 'create', 'job']] * 2
    # Every API call is in the commands as METHOD path; each Job is waited for by watch, never by polling its status.
    calls = [c for c in jobs if not c.startswith('kubectl')]
    assert calls[0] == 'GET /api/v1/namespaces/default'
    assert all(c.split()[0] in ('GET', 'POST', 'PATCH', 'DELETE') and c.split()[1].startswith('/api') for c in calls)
    assert calls.count('POST /apis/batch/v1/namespaces/default/jobs') == 2
    assert calls.count('GET /apis/batch/v1/namespaces/default/jobs?watch=true') >= 2
    assert calls.count('GET /api/v1/namespaces/default/pods?watch=true') >= 2
    assert not any(c.endswith('/status') for c in calls)
    assert sum(c.startswith('DELETE /apis/batch/v1/namespaces/default/jobs/') for c in calls) == 2
    assert again['changed'] is False
    assert_failed(missing_image, 'the alembic Job failed', 'cannot start its container', 'demoapp:9.9.9')
    assert missing_image['duration'] < 60, missing_image['duration']
    assert_failed(dying, 'the alembic Job failed')
    assert len(attempts) == 2, (attempts, dying['msg'])
    assert psql('SELECT version_num FROM alembic_version') == ['0002']
    assert seen and any('"release": "3.0.0"' in spec for spec in seen)
    assert not any(POD_PASSWORD in spec or 'postgresql-0:5432' in spec for spec in seen)
    # Nothing is left behind: the Jobs and their Secrets are deleted.
    selector = 'app.kubernetes.io/managed-by=artisan.upgrade'
    assert batch.list_namespaced_job('default', label_selector=selector).items == []
    assert core.list_namespaced_secret('default', label_selector=selector).items == []
