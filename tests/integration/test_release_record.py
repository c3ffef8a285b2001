"""release_record through real ansible-playbook: a record started once, phases added by several hosts at once
(forks, delegated to the controller) from a real module's result, closed; the file is read back independently."""

from __future__ import annotations

import json

from .helpers.postgres import APP_PASSWORD, APP_USER

HOSTS = ['app%d' % n for n in range(1, 9)]


def test_a_run_records_every_hosts_phase_and_no_secret(tmp_path, postgres, database, run_playbook):
    records = tmp_path / 'records'
    record = {'dir': str(records), 'release_id': 'shop-1.0.0-2.0.0-test'}
    inventory = '\n'.join('%s ansible_connection=local' % host for host in HOSTS)
    play = [{
        'hosts': 'all', 'gather_facts': False,
        'module_defaults': {'group/artisan.upgrade.postgres': {
            'login_host': '127.0.0.1', 'port': postgres.port, 'login_user': APP_USER,
            'login_password': APP_PASSWORD, 'db': database}},
        'tasks': [
            {'name': 'start', 'artisan.upgrade.release_record': dict(
                record, state='started', app='shop', environment='staging', version='2.0.0', version_from='1.0.0',
                dry_run='{{ ansible_check_mode }}', metadata={'db_url': 'postgresql://app:%s@db/app' % APP_PASSWORD}),
             'run_once': True, 'delegate_to': 'localhost', 'check_mode': False},
            {'name': 'read the database', 'artisan.upgrade.pg_info': {}, 'register': 'pg'},
            {'name': 'phase', 'artisan.upgrade.release_record': dict(
                record, state='phase', phase='preflight', host='{{ inventory_hostname }}', results=['{{ pg }}'],
                keep=['server_version', 'database_size', 'invocation.module_args.login_password']),
             'delegate_to': 'localhost', 'check_mode': False},
            {'name': 'finish', 'artisan.upgrade.release_record': dict(record, state='finished', status='succeeded'),
             'run_once': True, 'delegate_to': 'localhost', 'check_mode': False},
            {'name': 'query', 'artisan.upgrade.release_record': {
                'dir': str(records), 'state': 'query', 'app': 'shop', 'environment': 'staging', 'version': '2.0.0',
                'last_green': True}, 'run_once': True, 'delegate_to': 'localhost'},
        ],
    }]
    run = run_playbook(play, inventory=inventory)
    assert run.rc == 0, run.stdout
    text = (records / 'shop-1.0.0-2.0.0-test.json').read_text()
    stored = json.loads(text)
    assert stored['schema'] == 'artisan.upgrade/release_record/v1' and stored['status'] == 'succeeded'
    assert stored['check_mode'] is False and stored['finished_at']
    assert sorted(p['host'] for p in stored['phases']) == HOSTS
    first = stored['phases'][0]['modules'][0]
    assert set(first) == {'changed', 'msg', 'commands', 'duration', 'server_version', 'database_size'}
    assert first['server_version'].startswith('15.') and first['changed'] is False
    assert APP_PASSWORD not in text and stored['metadata'] == {'db_url': 'postgresql://app:********@db/app'}
    assert run.result('query')['release_id'] == 'shop-1.0.0-2.0.0-test'

    again = run_playbook(play, inventory=inventory)
    assert again.rc == 0, again.stdout
    assert not again.result('start')['changed'] and not again.result('finish')['changed']
    assert len(json.loads((records / 'shop-1.0.0-2.0.0-test.json').read_text())['phases']) == len(HOSTS)


def test_a_dry_run_record_is_kept_but_never_green(tmp_path, run_playbook):
    records = tmp_path / 'records'
    args = {'dir': str(records), 'release_id': 'dry', 'app': 'shop', 'environment': 'staging', 'version': '2.0.0'}
    play = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'start', 'artisan.upgrade.release_record': dict(args, state='started', dry_run='{{ ansible_check_mode }}'),
         'check_mode': False},
        {'name': 'finish', 'artisan.upgrade.release_record': {'dir': str(records), 'release_id': 'dry', 'state': 'finished',
                                                              'status': 'succeeded'}, 'check_mode': False},
        {'name': 'planned', 'artisan.upgrade.release_record': dict(args, release_id='other', state='started')},
        {'name': 'query', 'artisan.upgrade.release_record': {'dir': str(records), 'state': 'query', 'app': 'shop',
                                                             'last_green': True}},
    ]}]
    run = run_playbook(play, check=True)
    assert run.rc == 0, run.stdout
    assert json.loads((records / 'dry.json').read_text())['check_mode'] is True
    assert run.result('planned')['changed'] and not (records / 'other.json').exists()
    assert run.result('query')['found'] is False
