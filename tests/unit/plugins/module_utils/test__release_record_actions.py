# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""release_record's states on a real folder: atomic files, check mode, and concurrent writers in real processes."""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _release_record_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

NOW = datetime.datetime(2026, 11, 26, 16, 1, 2, tzinfo=datetime.timezone.utc)


def params(folder, **given):
    base = dict(state='query', dir=str(folder), release_id=None, app=None, environment=None, version=None,
                version_from=None, dry_run=None, metadata=None, phase=None, host=None, result=None, results=[],
                keep=None, details=None, status=None, rollback=None, phases=[], query_status=[], last_green=False,
                secrets=[])
    return dict(base, **given)


def perform(folder, check_mode=False, **given):
    return actions.perform(params(folder, **given), check_mode, Run(secrets=given.get('secrets', [])), now=lambda: NOW)


def start(folder, check_mode=False, **given):
    return perform(folder, check_mode, **dict(dict(state='started', app='shop', environment='staging', version='2.0.0',
                                                   version_from='1.0.0'), **given))


def test_started_writes_one_file_and_a_second_start_returns_it_unchanged(tmp_path):
    folder = tmp_path / 'records'
    first = start(folder)
    assert first['changed'] and first['release_id'] == 'shop-1.0.0-2.0.0-20261126T160102Z'
    on_disk = json.loads((folder / (first['release_id'] + '.json')).read_text())
    assert on_disk == first['record'] and on_disk['status'] == 'running' and on_disk['check_mode'] is False
    assert sorted(os.listdir(folder)) == [first['release_id'] + '.json', first['release_id'] + '.json.lock']
    again = start(folder, release_id=first['release_id'], version='9.9.9')
    assert not again['changed'] and again['record'] == on_disk
    assert set(first) >= {'changed', 'msg', 'commands', 'duration'}


def test_check_mode_writes_nothing_but_shows_the_record(tmp_path):
    result = start(tmp_path / 'records', check_mode=True)
    assert result['changed'] and result['record']['check_mode'] is True
    assert result['diff']['before'] == {} and not (tmp_path / 'records').exists()


def test_phase_before_start_says_what_to_do(tmp_path):
    with pytest.raises(ModuleFailure, match='record state=started first'):
        perform(tmp_path, state='phase', release_id='nope', phase='backup', host='h')


def test_in_a_dry_run_that_wrote_no_record_a_phase_says_what_it_would_record(tmp_path):
    planned = perform(tmp_path, True, state='phase', release_id='nope', phase='backup', host='h')
    assert planned['changed'] and planned['record'] is None and planned['phase']['name'] == 'backup'
    assert 'not started yet' in planned['msg'] and not os.listdir(tmp_path)


def test_phase_finish_and_query(tmp_path):
    rid = start(tmp_path, release_id='r1')['release_id']
    backup = {'changed': True, 'msg': 'wrote', 'commands': ['pg_dump'], 'duration': 1.0, 'path': '/b/x.dump',
              'manifest': {'sha256': 'ff', 'size': 3}}
    added = perform(tmp_path, state='phase', release_id=rid, phase='backup', host='db1', results=[backup])
    assert added['changed'] and added['phase']['result'] == 'changed'
    assert added['phase']['modules'][0]['manifest'] == {'sha256': 'ff', 'size': 3}
    assert not perform(tmp_path, state='phase', release_id=rid, phase='backup', host='db1', results=[backup])['changed']
    planned = perform(tmp_path, True, state='finished', release_id=rid, status='succeeded')
    assert planned['changed'] and json.loads((tmp_path / 'r1.json').read_text())['status'] == 'running'
    done = perform(tmp_path, state='finished', release_id=rid, status='succeeded')
    assert done['changed'] and done['record']['finished_at'] == '2026-11-26T16:01:02Z'
    assert not perform(tmp_path, state='finished', release_id=rid, status='succeeded')['changed']
    found = perform(tmp_path, state='query', app='shop', environment='staging', version='2.0.0', last_green=True)
    assert found['found'] and found['release_id'] == 'r1' and not found['changed']
    missing = perform(tmp_path, state='query', app='shop', environment='production', last_green=True)
    assert not missing['found'] and missing['msg'] == 'no green release record of shop in production in %s' % tmp_path


def test_a_hosts_copy_gets_its_phases_with_its_end_in_one_write(tmp_path):
    controller, host = tmp_path / 'controller', tmp_path / 'host'
    start(controller, release_id='r2')
    start(host, release_id='r2')
    for name, where in (('preflight', 'app1'), ('deploy', 'app1'), ('deploy', 'app2')):
        perform(controller, state='phase', release_id='r2', phase=name, host=where,
                results=[{'changed': False, 'msg': 'ok', 'commands': [], 'duration': 0.2, 'token': 's3cr3t'}])
    phases = [p for p in json.loads((controller / 'r2.json').read_text())['phases'] if p['host'] == 'app1']
    done = perform(host, state='finished', release_id='r2', status='succeeded', phases=phases)
    on_disk = json.loads((host / 'r2.json').read_text())
    assert done['changed'] and on_disk['status'] == 'succeeded'
    assert [(p['name'], p['host']) for p in on_disk['phases']] == [('preflight', 'app1'), ('deploy', 'app1')]
    assert 's3cr3t' not in (host / 'r2.json').read_text()
    assert not perform(host, state='finished', release_id='r2', status='succeeded', phases=phases)['changed']
    with pytest.raises(ModuleFailure, match='dicts with at least name and host'):
        perform(host, state='finished', release_id='r2', status='succeeded', phases=[{'name': 'deploy'}])


def add_phase_in_a_process(folder, host):
    result = {'changed': True, 'msg': 'restarted on %s' % host, 'commands': [], 'duration': 0.1}
    perform(folder, state='phase', release_id='many', phase='deploy', host=host, results=[result])


def test_concurrent_processes_lose_no_phase(tmp_path):
    start(tmp_path, release_id='many')
    hosts = ['app%02d' % n for n in range(24)]
    context = multiprocessing.get_context('fork')
    processes = [context.Process(target=add_phase_in_a_process, args=(str(tmp_path), host)) for host in hosts]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    stored = json.loads((tmp_path / 'many.json').read_text())
    assert sorted(p['host'] for p in stored['phases']) == hosts
    assert not [name for name in os.listdir(tmp_path) if name.endswith('.tmp') or name.startswith('.artisan-tmp')]
