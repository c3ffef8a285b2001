# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock's pure decisions: durations, the run's process, stale holders, messages."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _run_lock as rl
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

NOW = datetime.datetime(2026, 11, 26, 16, 0, 0, tzinfo=datetime.timezone.utc)


def holder(**changes):
    base = rl.owner(release_id='shop-1-2', host='ctl', user='deploy', pid=4242, pid_started='99',
                    now=NOW - datetime.timedelta(seconds=125))
    return dict(base, **changes)


@pytest.mark.parametrize('text, seconds', [('90', 90), ('90s', 90), ('30m', 1800), ('12h', 43200), ('2d', 172800),
                                           ('1.5h', 5400), (None, None), ('', None)])
def test_durations(text, seconds):
    assert rl.parse_duration(text) == seconds


def test_bad_duration_says_the_format():
    with pytest.raises(ModuleFailure, match='like 90s, 30m'):
        rl.parse_duration('soon')


@pytest.mark.parametrize('app', ['', '../x', 'a b', '.x'])
def test_app_names_that_are_not_file_names_are_refused(app):
    with pytest.raises(ModuleFailure, match='not usable as a lock file name'):
        rl.check_app(app)


def test_the_run_is_the_outermost_ansible_playbook_above_the_module():
    ancestors = [(300, '/bin/sh -c python3 AnsiballZ_run_lock.py'), (200, '/usr/bin/python3 /usr/bin/ansible-playbook x.yml'),
                 (100, '/usr/bin/python3 /usr/bin/ansible-playbook x.yml'), (50, 'pytest')]
    assert rl.run_pid(ancestors) == 100
    assert rl.run_pid([(9, 'sshd: deploy'), (1, 'init')]) is None


def test_a_live_holder_is_not_stale():
    assert rl.stale_reason(holder(), this_host='ctl', holder_alive=True, now=NOW, stale_after=None) is None
    assert rl.stale_reason(holder(), this_host='other', holder_alive=None, now=NOW, stale_after=3600) is None


def test_a_holder_whose_process_is_gone_here_is_stale():
    assert rl.stale_reason(holder(), this_host='ctl', holder_alive=False, now=NOW, stale_after=None) == \
        'its process 4242 on ctl is gone'


def test_an_old_holder_is_stale_after_stale_after_even_on_another_host():
    assert rl.stale_reason(holder(), this_host='other', holder_alive=None, now=NOW, stale_after=60) == \
        'it is older than stale_after (1m)'


def test_a_foreign_lock_file_is_stale():
    assert 'not a run lock' in rl.stale_reason({'x': 1}, this_host='ctl', holder_alive=None, now=NOW, stale_after=None)


def test_busy_message_names_holder_since_when_and_what_to_do():
    msg = rl.busy_message('shop', holder(), NOW, 30.2, '/locks/shop.json')
    assert msg.startswith('application shop is locked by release shop-1-2 (pid 4242 on ctl, user deploy) '
                          'since 2026-11-26T15:57:55Z (2m 5s ago); waited 30s.')
    assert 'raise timeout' in msg and 'state=released force=true' in msg and '/locks/shop.json' in msg


def test_human_seconds():
    assert [rl.human_seconds(s) for s in (0, 59, 60, 61, 3600, 90000)] == ['0s', '59s', '1m', '1m 1s', '1h', '1d']


def test_join_and_leave_keep_the_run_held_by_a_remaining_slice():
    me = rl.owner(release_id='r1', host='ctl', user='u', pid=10, pid_started='1', now=NOW)
    other = dict(me, pid=20, pid_started='2')
    held = rl.join(rl.join(None, 'a', me), 'b', other)
    assert set(held['members']) == {'a', 'b'} and held['pid'] == 10
    assert [p['pid'] for p in rl.holder_processes(held)] == [10, 10, 20]
    left = rl.leave(held, 'a')
    assert left['pid'] == 20 and set(left['members']) == {'b'}
    assert rl.leave(left, 'b') is None
