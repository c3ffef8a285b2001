"""The preflight role through real ansible-playbook, against a real PostgreSQL 15 and real Alembic scripts.

A good preflight passes and holds the run lock; each refusal fails with its message, gives the lock back and
leaves the database, the backup folder and the records as they were. The lock is also raced by real concurrent
ansible-playbook processes: the second refuses naming the holder, or waits and then proceeds.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

from .demoapp.support import revision
from .helpers.postgres import APP_PASSWORD, APP_USER

HERE = pathlib.Path(__file__).resolve().parent
ONE_HEAD = HERE / 'alembic_scripts' / 'alembic.ini'
TWO_HEADS = HERE / 'alembic_two_heads' / 'alembic.ini'
DAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')


@pytest.fixture()
def place(tmp_path, postgres, database):
    """Folders of one test and the play that runs the role with them against the test database."""
    class Place:
        records = tmp_path / 'records'
        locks = tmp_path / 'locks'
        backups = tmp_path / 'backups'
        db = database

        def play(self, check=False, **role_vars):
            variables = dict(
                preflight_app='shop', preflight_environment='staging', preflight_target_version='2.0.0',
                preflight_current_version='1.0.0', preflight_records_dir=str(self.records),
                preflight_lock_dir=str(self.locks), preflight_backup_dir=str(self.backups),
                preflight_alembic_config=str(ONE_HEAD), preflight_release_id='shop-run-1',
                preflight_compatibility=[{'versions': '2.x', 'python_min': '3.9', 'postgresql_min': '13'}],
                preflight_maintenance_windows=[{'start': '00:00', 'end': '00:00'}])
            variables.update(role_vars)
            play = [{
                'hosts': 'localhost', 'gather_facts': False,
                'module_defaults': {'group/artisan.upgrade.postgres': {
                    'login_host': '127.0.0.1', 'port': postgres.port, 'login_user': APP_USER,
                    'login_password': APP_PASSWORD, 'db': database}},
                'roles': [{'role': 'artisan.upgrade.preflight', 'vars': variables}],
                'post_tasks': [{'name': 'facts', 'ansible.builtin.debug': {'var': 'preflight_facts'}}],
            }]
            return play

        def lock_file(self):
            path = self.locks / 'shop.json'
            return json.loads(path.read_text()) if path.exists() else None

        def state(self):
            """Everything a preflight must leave as it was: the database, the backups, the records, the lock."""
            return (revision(postgres, database), sorted(os.listdir(self.backups)) if self.backups.exists() else [],
                    sorted(os.listdir(self.records)) if self.records.exists() else [], self.lock_file())

    return Place()


def changed_tasks(run):
    return [entry['task'] for entry in run.tasks if entry['res'].get('changed')]


def failure_message(run):
    failed = [entry for entry in run.tasks if entry['event'] == 'runner_on_failed' and not entry['res'].get('ignore_errors')]
    assert failed, run.stdout
    return failed[-1]['res']['msg']


def test_a_good_preflight_passes_holds_the_lock_and_changes_nothing_else(place, run_playbook, postgres):
    checked = run_playbook(place.play(), check=True)
    assert checked.rc == 0, checked.stdout
    assert place.state() == (None, [], [], None), 'check mode took the lock or wrote something'

    run = run_playbook(place.play())
    assert run.rc == 0, run.stdout
    facts = run.result('facts')['preflight_facts']
    assert facts['release_id'] == 'shop-run-1' and facts['alembic_heads'] == ['t0003']
    assert facts['postgresql_version'].startswith('15.')
    holder = place.lock_file()
    assert holder['release_id'] == 'shop-run-1' and holder['pid']
    assert place.state()[:3] == (None, [], []), 'preflight changed the database, the backups or the records'
    assert changed_tasks(run) == ['Take the run lock of shop']

    again = run_playbook(place.play())
    assert again.rc == 0 and changed_tasks(again) == []
    assert place.lock_file() == holder


def green_staging_record(records, version='2.0.0', **changes):
    records.mkdir(parents=True, exist_ok=True)
    record = dict({'schema': 'artisan.upgrade/release_record/v1', 'release_id': 'shop-staging-%s' % version,
                   'app': 'shop', 'environment': 'staging', 'version_from': '1.0.0', 'version_to': version,
                   'status': 'succeeded', 'started_at': '2026-11-20T10:00:00Z', 'finished_at': '2026-11-20T10:05:00Z',
                   'controller': {'user': 'u', 'host': 'h'}, 'check_mode': False, 'metadata': {}, 'phases': [],
                   'rollback': None}, **changes)
    (records / (record['release_id'] + '.json')).write_text(json.dumps(record))


def test_promotion_to_production_needs_a_green_staging_record(place, run_playbook):
    production = dict(preflight_environment='production', preflight_promotion_from='staging')
    green_staging_record(place.records, status='failed')
    green_staging_record(place.records, version='1.9.0')
    before = place.state()
    refused = run_playbook(place.play(**production))
    assert refused.rc != 0
    assert failure_message(refused) == (
        'preflight refused shop 2.0.0 in production: shop 2.0.0 has no green release record in staging (a finished, '
        'successful, non-check-mode run), and production accepts only versions promoted from staging: upgrade staging '
        'to 2.0.0 first, or set preflight_promotion_from: "" to skip the promotion policy')
    assert place.state() == before

    green_staging_record(place.records, status='succeeded')
    run = run_playbook(place.play(**production))
    assert run.rc == 0, run.stdout
    assert run.result('facts')['preflight_facts']['promoted_from'] == 'shop-staging-2.0.0'


def closed_window():
    """A window on a day three days ahead: never today nor tomorrow, whenever the test runs."""
    return [{'days': [DAYS[(datetime.datetime.now(datetime.timezone.utc).weekday() + 3) % 7]], 'start': '00:00', 'end': '23:59'}]


REFUSALS = {
    'downgrade': (dict(preflight_target_version='1.9.0', preflight_current_version='2.0.0'),
                  '1.9.0 is older than the running 2.0.0: refusing to downgrade', 'preflight_allow_downgrade: true'),
    'beta on stable': (dict(preflight_target_version='2.0.0-beta.1'),
                       '2.0.0-beta.1 is a pre-release and the release channel is stable', 'preflight_channel: beta'),
    'window closed': (dict(preflight_maintenance_windows=closed_window()),
                      'outside every maintenance window', 'preflight_maintenance_windows: []'),
    'two heads': (dict(preflight_alembic_config=str(TWO_HEADS)),
                  'the migration scripts have 2 heads (b0002, t0003)', 'alembic merge heads'),
    'old postgresql': (dict(preflight_compatibility=[{'versions': '2.x', 'postgresql_min': '16'}]),
                       'PostgreSQL 15.', 'is older than the minimum 16'),
    'no room for the backup': (dict(preflight_backup_min_free='1000T'),
                               'the backup could not be taken: not enough free space', 'preflight_backup_min_free'),
    'database unreachable': (dict(preflight_check_database=True), 'the database is not reachable from localhost',
                             'preflight_check_database: false'),
}


@pytest.mark.parametrize('case', sorted(REFUSALS))
def test_each_refusal_says_what_and_how_to_override_and_changes_nothing(case, place, run_playbook, postgres):
    role_vars, what, override = REFUSALS[case]
    play = place.play(**role_vars)
    if case == 'database unreachable':
        play[0]['module_defaults']['group/artisan.upgrade.postgres']['login_password'] = 'wrong-password'
    before = place.state()
    run = run_playbook(play)
    assert run.rc != 0
    msg = failure_message(run)
    assert msg.startswith('preflight refused shop ') and what in msg and override in msg, msg
    assert 'wrong-password' not in run.stdout
    assert place.state() == before, 'a refused preflight left something changed'
    assert run.result('Give the run lock back')['changed'], 'the lock taken for the checks was not given back'


def ansible_playbook(tmp_path, name, plays, *args):
    """Start a real ansible-playbook process; its output goes to a file that the test can watch."""
    import yaml  # pylint: disable=import-outside-toplevel
    path = tmp_path / (name + '.yml')
    path.write_text(yaml.safe_dump(plays))
    log = open(tmp_path / (name + '.log'), 'w', encoding='utf-8')  # pylint: disable=consider-using-with
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_STDOUT_CALLBACK='default')
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
         '-e', 'ansible_python_interpreter=%s' % sys.executable, str(path), *args],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    process.log_path = tmp_path / (name + '.log')
    return process


def holder_play(place, flag):
    """A run that takes the lock of shop, holds it until ``flag`` exists, then gives it back."""
    lock = {'app': 'shop', 'release_id': 'shop-holder', 'dir': str(place.locks)}
    return [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'take', 'artisan.upgrade.run_lock': lock},
        {'name': 'hold', 'ansible.builtin.wait_for': {'path': str(flag), 'timeout': 300}},
        {'name': 'give back', 'artisan.upgrade.run_lock': dict(lock, state='released')},
    ]}]


def wait_until(predicate, what, timeout=240):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'gave up waiting for %s' % what
        time.sleep(0.2)


def parent_of(pid):
    try:
        with open('/proc/%d/stat' % pid, 'rb') as handle:
            return int(handle.read().rsplit(b')', 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def run_lock_module_of(run_pid):
    """Whether a run_lock module started by the ansible-playbook process ``run_pid`` is running."""
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                if b'AnsiballZ_run_lock' not in handle.read():
                    continue
        except OSError:
            continue
        parent = parent_of(int(entry))
        while parent and parent > 1:
            if parent == run_pid:
                return True
            parent = parent_of(parent)
    return False


def test_a_second_run_refuses_naming_the_holder_while_the_first_holds_the_lock(place, tmp_path):
    flag = tmp_path / 'release-now'
    holder = ansible_playbook(tmp_path, 'holder', holder_play(place, flag))
    try:
        wait_until(lambda: place.lock_file() is not None or holder.poll() is not None, 'the holder to take the lock')
        assert place.lock_file()['release_id'] == 'shop-holder', holder.log_path.read_text()
        second = ansible_playbook(tmp_path, 'second', place.play())
        assert second.wait(300) != 0
        output = second.log_path.read_text()
        assert 'application shop is locked by release shop-holder (pid %d on ' % holder.pid in output, output
        assert place.lock_file()['release_id'] == 'shop-holder'
    finally:
        flag.touch()
        holder.wait(300)
    assert holder.returncode == 0, holder.log_path.read_text()
    assert place.lock_file() is None


def test_a_second_run_waits_for_the_lock_then_proceeds(place, tmp_path):
    flag = tmp_path / 'release-now'
    holder = ansible_playbook(tmp_path, 'holder', holder_play(place, flag))
    try:
        wait_until(lambda: place.lock_file() is not None or holder.poll() is not None, 'the holder to take the lock')
        waiter = ansible_playbook(tmp_path, 'waiter', place.play(preflight_lock_timeout=300), '-v')
        # Release only once the waiter's own run_lock module runs: the lock is held, so it is waiting then.
        wait_until(lambda: run_lock_module_of(waiter.pid) or waiter.poll() is not None, "the waiter's run_lock module")
        assert waiter.poll() is None, waiter.log_path.read_text()
        flag.touch()
        assert waiter.wait(300) == 0, waiter.log_path.read_text()
    finally:
        flag.touch()
        holder.wait(300)
    output = waiter.log_path.read_text()
    assert 'acquired the lock of shop for release shop-run-1' in output, output
    assert float(re.search(r'"waited": ([0-9.]+)', output).group(1)) > 0, output
    assert place.lock_file()['release_id'] == 'shop-run-1' and place.lock_file()['pid'] == waiter.pid
