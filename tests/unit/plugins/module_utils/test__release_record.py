# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release record's pure decisions: ids, phases, secrets, the end of a run, queries."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _release_record as rr
from ansible_collections.artisan.upgrade.plugins.module_utils._run import MASK, ModuleFailure

NOW = datetime.datetime(2026, 11, 26, 16, 1, 2, tzinfo=datetime.timezone.utc)


def record(**changes):
    base = rr.new_record(release_id='shop-1-2', app='shop', environment='staging', version_to='2.0.0',
                         version_from='1.0.0', started_at='2026-11-26T16:01:02Z', user='deploy', host='ctl',
                         dry_run=False, metadata=None)
    return dict(base, **changes)


def test_default_release_id_names_app_versions_and_utc_time():
    assert rr.default_release_id('shop', '1.0.0', '2.0.0', NOW) == 'shop-1.0.0-2.0.0-20261126T160102Z'
    assert rr.default_release_id('shop', None, '2.0.0-beta.1', NOW) == 'shop-none-2.0.0-beta.1-20261126T160102Z'


@pytest.mark.parametrize('bad', ['', '../etc/passwd', 'a/b', '.hidden', 'a..b', 'x' * 201, 'sp ace'])
def test_release_ids_that_are_not_plain_file_names_are_refused(bad):
    with pytest.raises(ModuleFailure, match='not usable as a file name'):
        rr.check_release_id(bad)


def test_new_record_carries_the_schema_version_and_starts_running():
    fresh = record()
    assert fresh['schema'] == 'artisan.upgrade/release_record/v1'
    assert fresh['status'] == 'running' and fresh['phases'] == [] and fresh['finished_at'] is None
    assert fresh['controller'] == {'user': 'deploy', 'host': 'ctl'}


def test_summary_keeps_the_envelope_and_chosen_keys_only():
    result = {'changed': True, 'msg': 'wrote backup', 'commands': ['pg_dump app'], 'duration': 2.5,
              'path': '/b/app.dump', 'manifest': {'sha256': 'abc', 'size': 10, 'database': 'app'},
              'invocation': {'module_args': {'login_password': 'pw'}}, 'pruned': []}
    assert rr.summarize(result, ['path', 'manifest.sha256']) == {
        'changed': True, 'msg': 'wrote backup', 'commands': ['pg_dump app'], 'duration': 2.5,
        'path': '/b/app.dump', 'manifest': {'sha256': 'abc'}}


def test_secrets_are_never_stored():
    result = {'changed': False, 'msg': 'connected to postgresql://app:hunter2@db/app as app', 'duration': 1,
              'captured': {'token': 'eyJhbGciOi'}, 'token': 'abc', 'details': {'api_key': 'k', 'url': 'https://u:p@x/y'},
              'checks': [{'name': 'login', 'error': 'echoed s3cr3t'}]}
    summary = rr.summarize(result, ['captured', 'token', 'details', 'checks', 'details.api_key'], secrets=['s3cr3t'])
    text = repr(summary)
    for secret in ('hunter2', 'eyJhbGciOi', "'abc'", "'k'", 's3cr3t', 'u:p@'):
        assert secret not in text
    assert summary['msg'] == 'connected to postgresql://app:%s@db/app as app' % MASK
    assert summary['details'] == {'url': 'https://u:%s@x/y' % MASK}
    assert summary['checks'] == [{'name': 'login', 'error': 'echoed %s' % MASK}]


def test_phase_result_adds_up_the_module_results():
    assert rr.phase_result([{'changed': False}, {'changed': True}]) == 'changed'
    assert rr.phase_result([{'changed': True}, {'failed': True}]) == 'failed'
    assert rr.phase_result([{'skipped': True}, {'skipped': True}]) == 'skipped'
    assert rr.phase_result([{'changed': False}]) == 'ok'
    assert rr.phase_result([]) == 'ok'


def phase(host='app1', name='smoke', results=None, at='2026-11-26T16:02:00Z', result=None):
    return rr.make_phase(name=name, host=host, result=result, results=results or [{'changed': False, 'msg': 'ok', 'duration': 1.5}],
                         keep=rr.DEFAULT_KEEP, recorded_at=at)


def test_phases_add_up_durations_and_append_per_host():
    first, _old, changed = rr.add_phase(record(), phase('app1'))
    assert changed and first['phases'][0]['duration'] == 1.5 and first['phases'][0]['result'] == 'ok'
    second, old, changed = rr.add_phase(first, phase('app2'))
    assert changed and old is None
    assert [(p['name'], p['host']) for p in second['phases']] == [('smoke', 'app1'), ('smoke', 'app2')]


def test_the_same_phase_of_the_same_host_replaces_the_old_one():
    first, _old, _changed = rr.add_phase(record(), phase('app1'))
    again, old, changed = rr.add_phase(first, phase('app1', at='2026-11-26T17:00:00Z'))
    assert not changed and again is first and old == first['phases'][0]
    failed = phase('app1', results=[{'failed': True, 'msg': 'health 503', 'duration': 3}])
    replaced, old, changed = rr.add_phase(first, failed)
    assert changed and len(replaced['phases']) == 1 and replaced['phases'][0]['result'] == 'failed'
    assert old['result'] == 'ok'


def test_finishing_sets_status_and_rollback_once():
    done, changed = rr.finish(record(), 'rolled_back', '2026-11-26T16:05:00Z', {'release': '1.0.0', 'db_password': 'x'})
    assert changed and done['status'] == 'rolled_back' and done['rollback'] == {'release': '1.0.0'}
    again, changed = rr.finish(done, 'rolled_back', '2026-11-26T16:06:00Z', {'release': '1.0.0'})
    assert not changed and again['finished_at'] == '2026-11-26T16:05:00Z'
    other, changed = rr.finish(done, 'failed', '2026-11-26T16:06:00Z', None)
    assert changed and other['status'] == 'failed' and other['rollback'] is None


def test_select_finds_the_newest_matching_and_green_excludes_dry_runs():
    records = [
        record(release_id='a', started_at='2026-11-20T10:00:00Z', status='succeeded'),
        record(release_id='b', started_at='2026-11-21T10:00:00Z', status='failed'),
        record(release_id='c', started_at='2026-11-22T10:00:00Z', status='succeeded', check_mode=True),
        record(release_id='d', started_at='2026-11-23T10:00:00Z', status='succeeded', environment='production'),
        record(release_id='e', started_at='2026-11-24T10:00:00Z', status='succeeded', version_to='3.0.0'),
        {'schema': 'something else', 'app': 'shop'},
        None,
    ]
    newest = rr.select(records, app='shop', environment='staging')
    assert [r['release_id'] for r in newest] == ['e', 'c', 'b', 'a']
    green = rr.select(records, app='shop', environment='staging', version='2.0.0', green=True)
    assert [r['release_id'] for r in green] == ['a']
    assert [r['release_id'] for r in rr.select(records, statuses=['failed'])] == ['b']


def test_query_description_reads_as_a_sentence():
    assert rr.describe_query('shop', 'staging', '2.0.0', [], True) == 'green release record of shop 2.0.0 in staging'
    assert rr.describe_query('shop', None, None, ['failed'], False) == 'failed release record of shop'
