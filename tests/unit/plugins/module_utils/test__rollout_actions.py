# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The three states of k8s_rollout against a fake API: what is written, when it waits, how failure is reported."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout as r
from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._rollout_api import WaitResult
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

UID = 'uid-web'


def deployment(image='demoapp:1.0.0', revision='1', paused=False, template_annotations=None):
    template = {'metadata': {'labels': {'app': 'web'}, 'annotations': dict(template_annotations or {})},
                'spec': {'containers': [{'name': 'web', 'image': image}]}}
    return {'kind': 'Deployment',
            'metadata': {'name': 'web', 'namespace': 'shop', 'uid': UID, 'generation': 1, 'resourceVersion': '10',
                         'annotations': {r.REVISION_ANNOTATION: revision}},
            'spec': {'replicas': 2, 'paused': paused, 'selector': {'matchLabels': {'app': 'web'}}, 'template': template},
            'status': {'observedGeneration': 1, 'replicas': 2, 'updatedReplicas': 2, 'availableReplicas': 2}}


def replicaset(revision, image):
    return {'metadata': {'name': 'web-%d' % revision, 'ownerReferences': [{'controller': True, 'uid': UID}],
                         'annotations': {r.REVISION_ANNOTATION: str(revision)}},
            'spec': {'template': {'metadata': {'labels': {'app': 'web', r.POD_TEMPLATE_HASH: 'h%d' % revision},
                                               'annotations': {}},
                                  'spec': {'containers': [{'name': 'web', 'image': image}]}}}}


class FakeApi:
    """Records writes; each wait answers the next verdict given (done by default)."""

    def __init__(self, obj, owned=(), verdicts=()):
        self.obj = obj
        self.owned = list(owned)
        self.verdicts = list(verdicts)
        self.patches = []
        self.waits = []
        self.deleted = []

    def read(self, kind, namespace, name):
        return copy.deepcopy(self.obj)

    def owned_history(self, obj):
        return self.owned

    def patch(self, obj, body, content_type=r'application/strategic-merge-patch+json', dry_run=False):
        self.patches.append((body, content_type, dry_run))
        patched = copy.deepcopy(obj)
        if content_type == 'application/json-patch+json' and not dry_run:
            # The Deployment controller re-adopts the old ReplicaSet under the next revision number.
            renumbered = max(int(rs['metadata']['annotations'][r.REVISION_ANNOTATION]) for rs in self.owned) + 1
            patched['spec']['template'] = body[0]['value']
            patched['metadata']['annotations'] = dict(body[1]['value'], **{r.REVISION_ANNOTATION: str(renumbered)})
            self.obj = patched
        if isinstance(body, dict) and 'spec' in body:
            for change in body['spec'].get('template', {}).get('spec', {}).get('containers', []):
                patched['spec']['template']['spec']['containers'][0].update(
                    {k: v for k, v in change.items() if k == 'image'})
        return patched

    def wait(self, obj, tracker, timeout):
        self.waits.append((obj, tracker.stale_deadline, timeout))
        result = WaitResult()
        result.verdict = self.verdicts.pop(0) if self.verdicts else r.Verdict(True, False, 'done')
        result.obj = obj
        return result

    def diagnostics(self, namespace, problems, log_lines):
        return [{'pod': p.pod} for p in problems]

    def delete_pod(self, namespace, name):
        self.deleted.append(name)


def params(**overrides):
    return dict(dict(kind='Deployment', name='web', namespace='shop', state='rolled_out', images=None, image=None,
                     env=None, change_cause=None, to_revision=None, restart_token=None, wait=True, timeout=60,
                     failure_grace=5, on_failure='fail', log_lines=5), **overrides)


def run_state(api, check_mode=False, **overrides):
    run = actions.Rollout(params(**overrides), api, check_mode, now=lambda: '2026-11-22T05:00:00Z')
    return actions.STATES[run.params['state']](run)


def test_same_image_waits_without_writing():
    api = FakeApi(deployment())
    result = run_state(api, image='demoapp:1.0.0')
    assert api.patches == [] and len(api.waits) == 1
    assert result['changed'] is False and result['msg'] == 'deployment web: done'


def test_new_image_patches_then_waits():
    api = FakeApi(deployment())
    result = run_state(api, image='demoapp:2.0.0')
    [(body, content_type, dry_run)] = api.patches
    assert body['spec']['template']['spec']['containers'] == [{'name': 'web', 'image': 'demoapp:2.0.0'}]
    assert (content_type, dry_run) == (r'application/strategic-merge-patch+json', False)
    assert result['changed'] is True and result['msg'] == 'rolled out deployment web: done'
    assert result['images'] == {'before': {'web': 'demoapp:1.0.0'}, 'after': {'web': 'demoapp:2.0.0'}}


def test_check_mode_sends_a_dry_run_and_does_not_wait():
    api = FakeApi(deployment())
    result = run_state(api, check_mode=True, image='demoapp:2.0.0')
    assert [dry_run for _body, _type, dry_run in api.patches] == [True]
    assert api.waits == []
    assert result['changed'] is True and result['msg'] == 'would roll out deployment web'


def test_no_wait_returns_after_the_write():
    api = FakeApi(deployment())
    result = run_state(api, image='demoapp:2.0.0', wait=False)
    assert len(api.patches) == 1 and api.waits == []
    assert result['rollout']['complete'] is False


def test_paused_deployment_is_refused_before_any_write():
    api = FakeApi(deployment(paused=True))
    with pytest.raises(r.RolloutError, match='deployment web is paused'):
        run_state(api, image='demoapp:2.0.0')
    assert api.patches == []


def test_failure_is_reported_with_diagnostics():
    problem = r.PodProblem('web-h2-a', 'web', 'ImagePullBackOff', 'Back-off pulling image', 0)
    api = FakeApi(deployment(), verdicts=[r.Verdict(False, True, 'deployment web: new pods are failing', 'ImagePullBackOff',
                                                    (problem,))])
    with pytest.raises(ModuleFailure) as failed:
        run_state(api, image='demoapp:2.0.0')
    result = Run().failure(failed.value)
    assert result['msg'] == 'deployment web: new pods are failing'
    assert result['reason'] == 'ImagePullBackOff' and result['diagnostics'] == [{'pod': 'web-h2-a'}]
    assert 'undo' not in result and len(api.patches) == 1


def test_on_failure_undo_rolls_back_to_the_revision_it_started_from():
    failing = r.Verdict(False, True, 'deployment web: new pods are failing', 'CrashLoopBackOff')
    api = FakeApi(deployment(revision='1'), owned=[replicaset(1, 'demoapp:1.0.0'), replicaset(2, 'demoapp:2.0.0')],
                  verdicts=[failing, r.Verdict(True, False, 'deployment "web" successfully rolled out')])
    api.obj['status']['conditions'] = [{'type': 'Progressing', 'reason': 'ProgressDeadlineExceeded',
                                        'lastUpdateTime': '2026-11-22T04:00:00Z'}]
    with pytest.raises(ModuleFailure) as failed:
        run_state(api, image='demoapp:2.0.0', on_failure='undo')
    result = Run().failure(failed.value)
    assert result['msg'] == ('deployment web: new pods are failing; undone to revision 3 (revision 1 before the '
                             'rollback re-numbered it): deployment "web" successfully rolled out')
    # the numbers as kubectl rollout history shows them after the rollback, read again after it
    assert result['undo']['revision'] == 3 and result['undo']['rolled_back_to'] == 1
    assert result['revision'] == {'before': 1, 'after': 3} and result['undo']['complete'] is True
    rollback, content_type, _dry_run = api.patches[1]
    assert content_type == 'application/json-patch+json'
    assert rollback[0]['value']['spec']['containers'][0]['image'] == 'demoapp:1.0.0'
    # the rollout started on a Deployment with an old deadline condition: neither wait counts it as a failure
    assert [stale for _obj, stale, _timeout in api.waits] == ['2026-11-22T04:00:00Z'] * 2


def test_undo_failure_keeps_the_original_reason():
    api = FakeApi(deployment(revision='1'), owned=[],
                  verdicts=[r.Verdict(False, True, 'timed out', 'Timeout')])
    with pytest.raises(ModuleFailure) as failed:
        run_state(api, image='demoapp:2.0.0', on_failure='undo')
    result = Run().failure(failed.value)
    assert result['reason'] == 'Timeout'
    assert result['msg'] == ('timed out; undo failed: unable to find specified revision 1 in history of deployment web '
                             '(revisions: )')
    assert result['revision'] == {'before': 1, 'after': 1} and 'revision' not in result['undo']


def test_a_deadline_failure_reports_the_pods_that_are_not_ready():
    stuck = r.PodProblem('web-h2-a', 'web', 'ImagePullBackOff', 'Back-off pulling image "demoapp:2.0.0"', 0)
    waits = []

    class Api(FakeApi):
        def wait(self, obj, tracker, timeout):
            result = super().wait(obj, tracker, timeout)
            result.not_ready = [stuck]
            waits.append(result)
            return result

        def diagnostics(self, namespace, problems, log_lines):
            return [{'pod': p.pod, 'container': p.container, 'reason': p.reason, 'message': p.message,
                     'restarts': p.restarts, 'events': ['Normal Pulling: Pulling image', 'Warning Failed (x3): Error: ImagePullBackOff']}
                    for p in problems]

    api = Api(deployment(), verdicts=[r.Verdict(False, True, 'deployment "web" exceeded its progress deadline',
                                                'ProgressDeadlineExceeded')])
    with pytest.raises(ModuleFailure) as failed:
        run_state(api, image='demoapp:2.0.0')
    result = Run().failure(failed.value)
    assert result['msg'] == (
        'deployment "web" exceeded its progress deadline; new pods not ready: pod web-h2-a container web: '
        'ImagePullBackOff (Back-off pulling image "demoapp:2.0.0"), last event: Warning Failed (x3): Error: ImagePullBackOff')
    assert [d['reason'] for d in result['diagnostics']] == ['ImagePullBackOff']


def test_every_request_is_bounded_by_the_timeout():
    api = FakeApi(deployment())
    run_state(api, image='demoapp:2.0.0', timeout=7)
    assert api.deadline.seconds == 7


def test_restart_token_already_recorded_is_no_write():
    api = FakeApi(deployment(template_annotations={r.RESTART_TOKEN_ANNOTATION: 'r1'}))
    result = run_state(api, state='restarted', restart_token='r1')
    assert api.patches == [] and result['changed'] is False


def test_restart_writes_the_time_and_token():
    api = FakeApi(deployment())
    result = run_state(api, state='restarted', restart_token='r2')
    [(body, _type, _dry_run)] = api.patches
    assert body['spec']['template']['metadata']['annotations'] == {
        r.RESTARTED_AT_ANNOTATION: '2026-11-22T05:00:00Z', r.RESTART_TOKEN_ANNOTATION: 'r2'}
    assert result['changed'] is True


def test_undo_of_a_statefulset_patches_its_template_only():
    sts = deployment()
    sts.update(kind='StatefulSet')
    sts['metadata']['annotations'] = {}
    template = {'metadata': {'labels': {'app': 'web'}}, 'spec': {'containers': [{'name': 'web', 'image': 'old'}]},
                '$patch': 'replace'}
    revisions = [{'metadata': {'name': 'web-a', 'ownerReferences': [{'controller': True, 'uid': UID}]}, 'revision': 1,
                  'data': {'spec': {'template': template}}},
                 {'metadata': {'name': 'web-b', 'ownerReferences': [{'controller': True, 'uid': UID}]}, 'revision': 2,
                  'data': {'spec': {'template': dict(copy.deepcopy(sts['spec']['template']), **{'$patch': 'replace'})}}}]
    api = FakeApi(sts, owned=revisions)
    result = run_state(api, kind='StatefulSet', state='undone')
    assert [kind for _body, kind, _dry_run in api.patches] == ['application/strategic-merge-patch+json']
    assert result['msg'] == 'undone statefulset web to revision 1: done'
