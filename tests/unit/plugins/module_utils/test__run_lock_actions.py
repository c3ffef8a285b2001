# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock on a real folder, with real processes: one holder at a time, waits, refusals, stale holders."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _run_lock_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def params(folder, **given):
    return dict(dict(state='acquired', app='shop', release_id='r1', dir=str(folder), timeout=0, stale_after=None,
                     pid=None, force=False, member=None), **given)


def lock(folder, check_mode=False, warnings=None, **given):
    return actions.Lock(params(folder, **given), check_mode, Run(), (warnings if warnings is not None else []).append)


def test_acquire_release_and_idempotence(tmp_path):
    first = lock(tmp_path).acquire()
    assert first['changed'] and first['acquired'] and first['holder']['release_id'] == 'r1'
    assert json.loads((tmp_path / 'shop.json').read_text())['release_id'] == 'r1'
    assert not lock(tmp_path).acquire()['changed']
    released = lock(tmp_path, state='released').release()
    assert released['changed'] and not (tmp_path / 'shop.json').exists()
    assert not lock(tmp_path, state='released').release()['changed']


def test_check_mode_neither_acquires_nor_releases(tmp_path):
    planned = lock(tmp_path, check_mode=True).acquire()
    assert planned['changed'] and not planned['acquired'] and not (tmp_path / 'shop.json').exists()
    lock(tmp_path).acquire()
    with pytest.raises(ModuleFailure, match='locked by release r1'):
        lock(tmp_path, check_mode=True, release_id='r2', timeout=30).acquire()
    assert lock(tmp_path, check_mode=True, state='released').release()['changed']
    assert (tmp_path / 'shop.json').exists()


def test_a_held_lock_is_refused_naming_the_holder(tmp_path):
    lock(tmp_path, pid=os.getpid()).acquire()
    with pytest.raises(ModuleFailure) as raised:
        lock(tmp_path, release_id='r2').acquire()
    assert 'application shop is locked by release r1 (pid %d on ' % os.getpid() in raised.value.msg
    assert raised.value.context['holder']['release_id'] == 'r1'
    with pytest.raises(ModuleFailure, match='not by release r2: pass force=true'):
        lock(tmp_path, state='released', release_id='r2').release()
    assert lock(tmp_path, state='released', release_id=None, force=True).release()['changed']


def test_the_lock_of_a_process_that_is_gone_is_taken_over_with_a_warning(tmp_path):
    gone = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True,
                          check=True)
    lock(tmp_path, pid=int(gone.stdout)).acquire()
    warnings = []
    taken = lock(tmp_path, warnings=warnings, release_id='r2').acquire()
    assert taken['changed'] and taken['previous_holder']['release_id'] == 'r1'
    assert warnings and 'is gone' in warnings[0]


def hold_then_release(folder, held, release):
    lock(folder, release_id='first', pid=os.getpid()).acquire()
    held.set()
    release.wait(60)
    lock(folder, state='released', release_id='first').release()


def test_a_second_process_waits_then_acquires(tmp_path):
    context = multiprocessing.get_context('fork')
    held, release = context.Event(), context.Event()
    holder = context.Process(target=hold_then_release, args=(str(tmp_path), held, release))
    holder.start()
    try:
        assert held.wait(60)
        waiter = lock(tmp_path, release_id='second', timeout=120)
        waiter.sleep = lambda seconds: (release.set(), __import__('time').sleep(seconds))
        result = waiter.acquire()
        assert result['acquired'] and result['waited'] > 0 and result['holder']['release_id'] == 'second'
    finally:
        release.set()
        holder.join(60)
    assert holder.exitcode == 0


def race(folder, name, start, results):
    start.wait(60)
    try:
        lock(folder, release_id=name, pid=os.getppid()).acquire()  # the test process, alive throughout
        results.put(name)
    except ModuleFailure:
        results.put(None)


def test_of_many_processes_starting_at_once_exactly_one_acquires(tmp_path):
    context = multiprocessing.get_context('fork')
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=race, args=(str(tmp_path), 'r%d' % n, start, results)) for n in range(12)]
    for process in processes:
        process.start()
    start.set()
    winners = [results.get(timeout=120) for process in processes]
    for process in processes:
        process.join(60)
    assert len([w for w in winners if w]) == 1


def test_negative_timeout_is_refused(tmp_path):
    with pytest.raises(ModuleFailure, match='timeout must be 0 or more'):
        lock(tmp_path, timeout=-1).acquire()


def test_slices_of_one_run_join_the_lock_and_the_last_one_releases_it(tmp_path):
    first = lock(tmp_path, member='a', pid=os.getpid()).acquire()
    assert first['changed'] and first['acquired'] and set(first['holder']['members']) == {'a'}
    joined = lock(tmp_path, member='b', pid=os.getpid()).acquire()
    assert joined['changed'] and joined['acquired'] and 'slice b joined' in joined['msg']
    assert set(json.loads((tmp_path / 'shop.json').read_text())['members']) == {'a', 'b'}
    assert not lock(tmp_path, member='b').acquire()['changed']
    with pytest.raises(ModuleFailure, match='locked by release r1'):
        lock(tmp_path, release_id='r2', member='c').acquire()
    left = lock(tmp_path, state='released', member='a').release()
    assert left['changed'] and '1 slice(s) of release r1 still hold it' in left['msg']
    assert set(json.loads((tmp_path / 'shop.json').read_text())['members']) == {'b'}
    assert not lock(tmp_path, state='released', member='a').release()['changed']
    assert lock(tmp_path, state='released', member='b').release()['changed']
    assert not (tmp_path / 'shop.json').exists()


def test_a_run_whose_first_slice_is_gone_keeps_its_lock_while_another_slice_runs(tmp_path):
    gone = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True,
                          check=True)
    lock(tmp_path, member='a', pid=int(gone.stdout)).acquire()
    lock(tmp_path, member='b', pid=os.getpid()).acquire()
    with pytest.raises(ModuleFailure, match='locked by release r1'):
        lock(tmp_path, release_id='r2').acquire()
    assert not lock(tmp_path, member='b', check_mode=True).acquire()['changed']


def test_without_member_a_second_process_of_the_same_release_shares_the_lock_as_before(tmp_path):
    lock(tmp_path, pid=os.getpid()).acquire()
    again = lock(tmp_path, pid=os.getpid()).acquire()
    assert not again['changed'] and 'members' not in again['holder']
    assert lock(tmp_path, state='released').release()['changed']
    assert not (tmp_path / 'shop.json').exists()
