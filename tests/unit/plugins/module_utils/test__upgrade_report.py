# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade report's pure parts: what is kept of a task, where phases sit in time, canary steps with their
analyses, where the files go, the summary table."""

from __future__ import annotations

import json

from ansible_collections.artisan.upgrade.plugins.module_utils import _upgrade_report as ur

T0 = 1_800_000_000.0
SECRET = 'hunter2-very-secret'


def record(**changes):
    base = {
        'schema': 'artisan.upgrade/release_record/v1', 'release_id': 'shop-1.0.0-2.0.0-x', 'app': 'shop',
        'environment': 'production', 'version_from': '1.0.0', 'version_to': '2.0.0', 'status': 'succeeded',
        'started_at': '2027-01-15T08:00:00Z', 'finished_at': '2027-01-15T08:01:00Z', 'check_mode': False,
        'metadata': {'hosts': ['app1', 'app2'], 'target': 'systemd', 'strategy': 'canary'},
        'phases': [
            {'name': 'preflight', 'host': 'app1', 'result': 'ok', 'duration': 0.1, 'recorded_at': '2027-01-15T08:00:05Z',
             'modules': [], 'details': {'deploy_facts': {'version': '1.0.0'}}},
            {'name': 'preflight', 'host': 'app2', 'result': 'ok', 'duration': 0.1, 'recorded_at': '2027-01-15T08:00:05Z',
             'modules': [], 'details': {'deploy_facts': {'version': '1.0.0'}}},
            {'name': 'backup', 'host': 'localhost', 'result': 'changed', 'duration': 2.0,
             'recorded_at': '2027-01-15T08:00:10Z', 'details': {'path': '/b/shop.dump', 'sha256': 'ab' * 32, 'label': 'pre'},
             'modules': [{'changed': True, 'msg': 'wrote', 'path': '/b/shop.dump', 'manifest': {'sha256': 'ab' * 32}}]},
            {'name': 'migrate_expand', 'host': 'app1', 'result': 'changed', 'duration': 1.0,
             'recorded_at': '2027-01-15T08:00:20Z', 'modules': [],
             'details': {'revisions_before': ['0001'], 'revisions_after': ['0002']}},
            {'name': 'deploy', 'host': 'app1', 'result': 'changed', 'duration': 9.0, 'recorded_at': '2027-01-15T08:00:40Z',
             'modules': [], 'details': {'version_before': '1.0.0', 'version_after': '2.0.0'}},
        ],
        'rollback': None,
    }
    return dict(base, **changes)


def task(host, play, name, start, end, action='ansible.builtin.debug', uuid=None, observed=(), status='ok'):
    return {'host': host, 'play': play, 'task': name, 'action': action, 'uuid': uuid or name, 'start': T0 + start,
            'end': T0 + end, 'status': status, 'observed': list(observed)}


def mark(phase, host, result='ok'):
    return {'kind': 'record', 'path': '/r/x.json', 'controller': True, 'phase': {'name': phase, 'host': host, 'result': result}}


def test_observe_keeps_the_facts_of_known_modules_and_drops_secrets():
    [smoke] = ur.observe('artisan.upgrade.smoke_test', {
        'failed': True, 'totals': {'total': 2, 'passed': 1, 'failed': 1}, 'rounds': 3, 'msg': 'readiness failing',
        'checks': [{'name': 'readiness', 'ok': False, 'status': 503, 'message': 'status 503', 'headers': {'x': SECRET},
                    'token': SECRET}], 'captured': {'token': SECRET}})
    assert smoke == {'kind': 'smoke', 'ok': False, 'totals': {'total': 2, 'passed': 1, 'failed': 1}, 'rounds': 3,
                     'msg': 'readiness failing', 'checks': [{'name': 'readiness', 'ok': False, 'status': 503,
                                                             'message': 'status 503'}]}
    [shift] = ur.observe('canary_shift', {'weight': 30, 'achieved_weight': 30.0, 'provider': 'nginx', 'changed': True,
                                          'msg': 'to postgresql://u:%s@db/x' % SECRET})
    assert shift['weight'] == 30 and SECRET not in json.dumps(shift)
    [run] = ur.observe('ansible.builtin.set_fact', {'ansible_facts': {'upgrade_run': {
        'release_id': 'r1', 'records_dir': '~/records', 'password': SECRET}}})
    assert run == {'kind': 'run', 'release_id': 'r1', 'records_dir': '~/records'}
    assert ur.observe('ansible.builtin.command', {'stdout': SECRET}) == []
    # A failed task's result need not say so: the callback knows it from the event.
    assert ur.observe('artisan.upgrade.smoke_test', {'totals': {}}, failed=True)[0]['ok'] is False


def test_observe_keeps_nothing_of_a_no_log_task_or_loop_item():
    result = {'totals': {'total': 1}, 'msg': SECRET, 'checks': []}
    assert ur.observe('artisan.upgrade.smoke_test', result, no_log=True) == []
    assert ur.observe('artisan.upgrade.smoke_test', dict(result, _ansible_no_log=True)) == []
    looped = {'results': [dict(result, _ansible_no_log=True), {'weight': 10}]}
    assert ur.observe('artisan.upgrade.smoke_test', looped) == []
    assert [o['weight'] for o in ur.observe('artisan.upgrade.canary_shift', looped)] == [10]


def test_observe_of_a_release_record_result_keeps_its_phase_and_record():
    [seen] = ur.observe('artisan.upgrade.release_record', {
        'path': '/r/x.json', 'release_id': 'x', 'phase': {'name': 'deploy', 'host': 'app1', 'result': 'changed', 'modules': []},
        'record': record(metadata={'db_url': 'postgresql://a:%s@h/d' % SECRET})})
    assert seen['phase'] == {'name': 'deploy', 'host': 'app1', 'result': 'changed'}
    assert seen['record']['release_id'] == 'shop-1.0.0-2.0.0-x' and SECRET not in json.dumps(seen)


def test_the_controller_record_is_the_one_in_the_runs_folder_else_the_delegated_one():
    obs = {'path': '/home/u/records/x.json'}
    assert ur.controller_record(obs, '/home/u/records/', 'app1', None)
    assert not ur.controller_record({'path': '/var/lib/artisan-upgrade/releases/x.json'}, '/home/u/records', 'app1', 'localhost')
    assert ur.controller_record(obs, None, 'app1', 'localhost')
    assert not ur.controller_record(obs, None, 'app1', None)
    assert ur.controller_record(obs, None, 'localhost', None)


def test_the_report_goes_to_the_option_else_runners_artifacts_else_beside_the_record():
    runner = {'AWX_ISOLATED_DATA_DIR': '/runner/artifacts/abc'}
    assert ur.output_dir('/out', runner, '/r/x.json') == '/out'
    assert ur.output_dir(None, runner, '/r/x.json') == '/runner/artifacts/abc'
    assert ur.output_dir(None, {}, '/r/x.json') == '/r'
    assert ur.output_dir(None, {}, None) is None


def test_phases_start_when_the_host_began_the_play_or_the_plays_previous_phase_ended():
    tasks = [
        # play 0: preflight per host
        task('app1', 0, 'facts', 0, 1), task('app2', 0, 'facts', 0, 1.5),
        task('app1', 0, 'record', 4, 5, uuid='rec-pre', observed=[mark('preflight', 'app1')]),
        # an included record task may be another task object for each host
        task('app2', 0, 'record', 4, 5.2, uuid='rec-pre-2', observed=[mark('preflight', 'app2')]),
        # play 1: expand once on app1, then the gate on both hosts
        task('app1', 1, 'decide', 6, 6.1), task('app2', 1, 'decide', 6, 6.1),
        task('app1', 1, 'record', 9, 10, uuid='rec-exp', observed=[mark('migrate_expand', 'app1')]),
        task('app1', 1, 'record', 14, 15, uuid='rec-gate', observed=[mark('compat_gate', 'app1')]),
        task('app2', 1, 'record', 14, 15.5, uuid='rec-gate-2', observed=[mark('compat_gate', 'app2')]),
        # play 2: deploy, serial 1: app2's batch starts after app1's
        task('app1', 2, 'decide', 16, 16.1),
        task('app1', 2, 'record', 25, 26, uuid='rec-dep', observed=[mark('deploy', 'app1')]),
        task('app2', 2, 'decide', 26.5, 26.6),
        task('app2', 2, 'record', 35, 36, uuid='rec-dep', observed=[mark('deploy', 'app2')]),
        # a host's own record copy is not the controller's: ignored
        task('app2', 2, 'host copy', 36, 37, observed=[dict(mark('deploy', 'app2'), controller=False)]),
    ]
    spans = {key: (round(a - T0, 1), round(b - T0, 1)) for key, (a, b) in ur.observed_spans(tasks).items()}
    assert spans == {
        ('preflight', 'app1'): (0, 5), ('preflight', 'app2'): (0, 5.2),
        ('migrate_expand', 'app1'): (6, 10), ('compat_gate', 'app1'): (10, 15), ('compat_gate', 'app2'): (10, 15.5),
        ('deploy', 'app1'): (16, 26), ('deploy', 'app2'): (26.5, 36),
    }


def test_a_phase_the_callback_did_not_see_is_placed_from_the_record():
    report = ur.build_report(record(), [task('app1', 0, 'record', 0, 5, observed=[mark('preflight', 'app1')])])
    by_key = {(p['name'], p['host']): p for p in report['phases']}
    assert by_key[('preflight', 'app1')]['source'] == 'observed'
    deploy = by_key[('deploy', 'app1')]
    assert deploy['source'] == 'record' and deploy['seconds'] == 9.0 and deploy['end'] == '2027-01-15T08:00:40.000Z'


def test_the_report_has_hosts_versions_backup_revisions_and_the_first_failure():
    failed = dict(record()['phases'][-1], name='smoke', result='failed', modules=[{'msg': 'version 1.0.0, expected 2.0.0'}])
    rec = record(status='rolled_back', rollback={'release': '2.0.0 -> 1.0.0'},
                 phases=record()['phases'] + [failed, {
                     'name': 'rollback', 'host': 'localhost', 'result': 'changed', 'duration': 3, 'modules': [],
                     'recorded_at': '2027-01-15T08:00:59Z', 'details': {'version_to': '1.0.0', 'version_from': '2.0.0'}}])
    report = ur.build_report(rec, [], record_path='/r/x.json')
    assert report['schema'] == 'artisan.upgrade/upgrade_report/v1' and report['record_path'] == '/r/x.json'
    hosts = {h['name']: h for h in report['hosts']}
    assert list(hosts)[:2] == ['app1', 'app2']
    assert (hosts['app1']['version_before'], hosts['app1']['version_after'], hosts['app1']['result']) == ('1.0.0', '1.0.0', 'failed')
    assert report['backup']['path'] == '/b/shop.dump' and report['backup']['sha256'] == 'ab' * 32
    assert report['revisions'] == {'before': ['0001'], 'after_migrate_expand': ['0002']}
    assert report['failure'] == {'phase': 'smoke', 'host': 'app1', 'msg': 'version 1.0.0, expected 2.0.0'}
    assert report['rollback'] == {'release': '2.0.0 -> 1.0.0'}


def test_each_canary_step_gets_the_analyses_until_the_next_step_and_their_error_rate():
    def shift(weight):
        return {'kind': 'canary', 'weight': weight, 'achieved_weight': weight, 'provider': 'nginx', 'changed': True,
                'failed': False, 'msg': 'canary weight -> %d %%' % weight}

    def smoke(failed, ratio=None):
        checks = [{'name': 'errors', 'ok': ratio is None or ratio < 0.01, 'ratio': ratio}] if ratio is not None else []
        return {'kind': 'smoke', 'ok': not failed, 'totals': {'total': 4, 'passed': 4 - failed, 'failed': failed},
                'rounds': 1, 'msg': '', 'checks': checks}

    tasks = [
        task('app1', 0, 'deploy record', 0, 1, observed=[mark('deploy', 'app1')]),
        task('app1', 1, 'shift 10', 2, 3, observed=[shift(10)]),
        task('app1', 1, 'analyse 10', 3, 4, observed=[smoke(0, ratio=0.002)]),
        task('app1', 1, 'shift 50', 5, 6, observed=[shift(50)]),
        task('app1', 1, 'analyse 50', 6, 7, observed=[smoke(1)]),
        task('app1', 1, 'shift 100', 8, 9, observed=[shift(100)]),
    ]
    report = ur.build_report(record(phases=[]), tasks)
    steps = [(s['weight'], s['offset'], [a['task'] for a in s['analysis']], s['error_rate']) for s in report['canary']]
    assert steps == [(10, 3.0, ['analyse 10'], 0.002), (50, 6.0, ['analyse 50'], 0.25), (100, 9.0, [], None)]
    assert [s['task'] for s in report['smoke']] == ['analyse 10', 'analyse 50']


def test_the_summary_is_one_line_per_phase_however_many_hosts():
    tasks = [task('app%d' % n, 0, 'record', 0, 2 + n, uuid='r', observed=[mark('deploy', 'app%d' % n)]) for n in range(1, 4)]
    report = ur.build_report(record(phases=[
        {'name': 'deploy', 'host': 'app%d' % n, 'result': 'failed' if n == 2 else 'changed', 'duration': 1,
         'recorded_at': '2027-01-15T08:00:40Z', 'modules': [{'msg': 'boom\nat line 2'}], 'details': {}} for n in range(1, 4)]),
        tasks)
    lines = ur.summary_lines(report)
    assert lines[0] == 'shop 1.0.0 -> 2.0.0 (production): succeeded in 5.0 s'
    assert lines[1].split() == ['phase', 'hosts', 'result', 'seconds']
    assert lines[2].split() == ['deploy', '3', 'failed', '5.0']
    assert lines[3] == 'failed: deploy on app2: boom at line 2'


def test_the_report_is_json():
    report = ur.build_report(record(), [task('app1', 0, 'x', 0, 1)], generated_at=T0)
    assert json.loads(json.dumps(report)) == report
    assert report['tasks']['timings'] == [{'host': 'app1', 'play': 0, 'task': 'x', 'action': 'ansible.builtin.debug',
                                           'status': 'ok', 'offset': 0.0, 'seconds': 1.0}]
