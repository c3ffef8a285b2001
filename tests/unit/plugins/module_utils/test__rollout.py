# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout as r

UID = '6b1c3f4e-0000-4000-8000-000000000001'


def deployment(replicas=3, generation=2, observed=2, status=None, images=None, annotations=None, paused=False,
               template_annotations=None, env=None):
    containers = [{'name': name, 'image': image} for name, image in (images or {'web': 'demoapp:1.0.0'}).items()]
    if env is not None:
        containers[0]['env'] = env
    template = {'metadata': {'labels': {'app': 'web'}}, 'spec': {'containers': containers}}
    if template_annotations:
        template['metadata']['annotations'] = template_annotations
    spec = {'replicas': replicas, 'selector': {'matchLabels': {'app': 'web'}}, 'template': template}
    if paused:
        spec['paused'] = True
    return {'kind': 'Deployment',
            'metadata': {'name': 'web', 'uid': UID, 'generation': generation, 'annotations': dict(annotations or {})},
            'spec': spec, 'status': dict({'observedGeneration': observed}, **(status or {}))}


def progressing(reason, updated='2026-11-22T05:00:00Z'):
    return {'conditions': [{'type': 'Progressing', 'status': 'False' if reason == 'ProgressDeadlineExceeded' else 'True',
                            'reason': reason, 'lastUpdateTime': updated}]}


# --- Deployment completion (kubectl's order of checks) ---------------------------------------------

@pytest.mark.parametrize('kwargs, done, message', [
    (dict(generation=3, observed=2, status={'replicas': 3, 'updatedReplicas': 3, 'availableReplicas': 3}),
     False, 'Waiting for deployment spec update to be observed...'),
    (dict(status={'replicas': 4, 'updatedReplicas': 1, 'availableReplicas': 3}),
     False, '1 out of 3 new replicas have been updated'),
    (dict(status={'replicas': 4, 'updatedReplicas': 3, 'availableReplicas': 3}),
     False, '1 old replicas are pending termination'),
    (dict(status={'replicas': 3, 'updatedReplicas': 3, 'availableReplicas': 2}),
     False, '2 of 3 updated replicas are available'),
    (dict(status={'replicas': 3, 'updatedReplicas': 3, 'availableReplicas': 3}),
     True, 'deployment "web" successfully rolled out'),
    # zero-valued integers are omitted by the API
    (dict(replicas=0, status={}), True, 'successfully rolled out'),
    (dict(replicas=2, status={}), False, '0 out of 2 new replicas'),
    # kubectl does not wait for readiness beyond availability: extra available replicas are fine
    (dict(status={'replicas': 3, 'updatedReplicas': 3, 'availableReplicas': 3, 'readyReplicas': 3}), True, ''),
])
def test_deployment_status(kwargs, done, message):
    status = r.deployment_status(deployment(**kwargs))
    assert status.done is done
    assert message in status.message
    assert status.failure is None


def test_deployment_spec_replicas_defaults_to_one():
    obj = deployment(status={'replicas': 1, 'updatedReplicas': 1, 'availableReplicas': 1})
    del obj['spec']['replicas']
    assert r.deployment_status(obj).done


def test_progress_deadline_fails_before_the_counts_are_looked_at():
    obj = deployment(status=dict(progressing('ProgressDeadlineExceeded'), replicas=4, updatedReplicas=1))
    status = r.deployment_status(obj)
    assert (status.done, status.failure) == (False, 'ProgressDeadlineExceeded')
    assert status.message == 'deployment "web" exceeded its progress deadline'


def test_progress_deadline_is_ignored_until_the_generation_is_observed():
    obj = deployment(generation=3, observed=2, status=progressing('ProgressDeadlineExceeded'))
    assert r.deployment_status(obj).failure is None


def test_stale_progress_deadline_from_before_our_write_is_tolerated():
    obj = deployment(status=dict(progressing('ProgressDeadlineExceeded', '2026-11-22T05:00:00Z'), replicas=4,
                                 updatedReplicas=3, availableReplicas=3))
    assert r.progress_deadline_time(obj) == '2026-11-22T05:00:00Z'
    assert r.deployment_status(obj, stale_deadline='2026-11-22T05:00:00Z').failure is None
    # a new deadline (later lastUpdateTime) is a failure again
    assert r.deployment_status(obj, stale_deadline='2026-11-22T04:00:00Z').failure == 'ProgressDeadlineExceeded'


@pytest.mark.parametrize('reason', ['NewReplicaSetAvailable', 'ReplicaSetUpdated', 'NewReplicaSetCreated'])
def test_progressing_reasons_that_are_not_failures(reason):
    assert r.progress_deadline_time(deployment(status=progressing(reason))) is None


# --- StatefulSet and DaemonSet completion -----------------------------------------------------------

def statefulset(replicas=3, status=None, strategy=None, generation=2):
    strategy = strategy or {'type': 'RollingUpdate', 'rollingUpdate': {'partition': 0}}
    return {'kind': 'StatefulSet', 'metadata': {'name': 'db', 'uid': UID, 'generation': generation},
            'spec': {'replicas': replicas, 'updateStrategy': strategy,
                     'template': {'metadata': {'labels': {'app': 'db'}},
                                  'spec': {'containers': [{'name': 'db', 'image': 'pg:15'}]}}},
            'status': dict({'observedGeneration': 2}, **(status or {}))}


@pytest.mark.parametrize('kwargs, done, message', [
    (dict(generation=3, status={'readyReplicas': 3}), False, 'spec update to be observed'),
    (dict(status={'readyReplicas': 2, 'updatedReplicas': 3}), False, 'Waiting for 1 pods to be ready'),
    (dict(status={'readyReplicas': 3, 'updatedReplicas': 2}), False, '2 out of 3 new pods have been updated'),
    (dict(status={'readyReplicas': 3, 'updatedReplicas': 3}), True, 'partitioned roll out complete: 3 new pods'),
    (dict(strategy={'type': 'RollingUpdate', 'rollingUpdate': {'partition': 2}},
          status={'readyReplicas': 3, 'updatedReplicas': 1}), True, 'partitioned roll out complete: 1 new pods'),
    (dict(strategy={'type': 'RollingUpdate', 'rollingUpdate': {'partition': 1}},
          status={'readyReplicas': 3, 'updatedReplicas': 1}), False, '1 out of 2 new pods'),
    (dict(strategy={'type': 'RollingUpdate'}, status={'readyReplicas': 3, 'updatedReplicas': 1,
                                                      'currentRevision': 'db-1', 'updateRevision': 'db-2'}),
     False, 'waiting for statefulset rolling update to complete 1 pods at revision db-2'),
    (dict(strategy={'type': 'RollingUpdate'}, status={'readyReplicas': 3, 'currentReplicas': 3,
                                                      'currentRevision': 'db-2', 'updateRevision': 'db-2'}),
     True, 'statefulset rolling update complete 3 pods at revision db-2'),
    (dict(strategy={'type': 'OnDelete'}, status={'readyReplicas': 1}), True, 'uses OnDelete'),
])
def test_statefulset_status(kwargs, done, message):
    status = r.rollout_status(statefulset(**kwargs))
    assert (status.done, status.failure) == (done, None)
    assert message in status.message


def test_statefulset_without_observed_generation_waits():
    obj = statefulset(status={'readyReplicas': 3})
    obj['status'].pop('observedGeneration')
    assert not r.statefulset_status(obj).done


def daemonset(status=None, generation=2, strategy=None):
    return {'kind': 'DaemonSet',
            'metadata': {'name': 'agent', 'uid': UID, 'generation': generation,
                         'annotations': {r.DAEMONSET_GENERATION_ANNOTATION: '2'}},
            'spec': {'updateStrategy': strategy or {'type': 'RollingUpdate'},
                     'template': {'metadata': {'labels': {'app': 'agent'}},
                                  'spec': {'containers': [{'name': 'agent', 'image': 'agent:1'}]}}},
            'status': dict({'observedGeneration': 2, 'desiredNumberScheduled': 3}, **(status or {}))}


@pytest.mark.parametrize('kwargs, done, message', [
    (dict(generation=3), False, 'spec update to be observed'),
    (dict(status={'updatedNumberScheduled': 1, 'numberAvailable': 3}), False, '1 out of 3 new pods have been updated'),
    (dict(status={'updatedNumberScheduled': 3, 'numberAvailable': 2}), False, '2 of 3 updated pods are available'),
    (dict(status={'updatedNumberScheduled': 3, 'numberAvailable': 3}), True, 'daemon set "agent" successfully rolled out'),
    (dict(strategy={'type': 'OnDelete'}), True, 'uses OnDelete'),
])
def test_daemonset_status(kwargs, done, message):
    status = r.rollout_status(daemonset(**kwargs))
    assert status.done is done
    assert message in status.message


def test_replica_counts_read_omitted_fields_as_zero():
    assert r.replica_counts(deployment(status={'replicas': 4, 'updatedReplicas': 1})) == {
        'desired': 3, 'current': 4, 'updated': 1, 'ready': 0, 'available': 0}
    assert r.replica_counts(daemonset(status={'numberReady': 2}))['ready'] == 2


# --- images, env, change cause ---------------------------------------------------------------------

TWO = {'web': 'demoapp:1.0.0', 'sidecar': 'proxy:0.9'}


@pytest.mark.parametrize('images, image, expected', [
    ({'web': 'demoapp:2.0.0'}, None, {'web': 'demoapp:2.0.0'}),
    (None, 'demoapp:2.0.0', {'web': 'demoapp:2.0.0'}),
    ({}, None, {}),
])
def test_requested_images(images, image, expected):
    template = deployment()['spec']['template']
    assert r.requested_images(template, images, image, 'deployment web') == expected


@pytest.mark.parametrize('images, image, error', [
    ({'api': 'demoapp:2.0.0'}, None, "deployment web has no container named 'api' \\(containers: web, sidecar\\)"),
    ({'web': ''}, None, "image of container 'web' must be an image reference"),
    ({'web': 'demo app:2'}, None, 'must be an image reference'),
    ({'web': 2}, None, 'must be an image reference'),
    (None, 'demoapp:2.0.0', 'image needs a single-container workload; deployment web has containers web, sidecar'),
])
def test_requested_images_refuses(images, image, error):
    template = deployment(images=TWO)['spec']['template']
    with pytest.raises(r.RolloutError, match=error):
        r.requested_images(template, images, image, 'deployment web')


def test_init_containers_can_be_set_by_name():
    obj = deployment()
    obj['spec']['template']['spec']['initContainers'] = [{'name': 'migrate', 'image': 'demoapp:1.0.0'}]
    images = r.requested_images(obj['spec']['template'], {'migrate': 'demoapp:2.0.0', 'web': 'demoapp:2.0.0'}, None, 'x')
    plan = r.plan_rollout(obj, images, {})
    assert plan.patch['spec']['template']['spec'] == {
        'initContainers': [{'name': 'migrate', 'image': 'demoapp:2.0.0'}],
        'containers': [{'name': 'web', 'image': 'demoapp:2.0.0'}]}


@pytest.mark.parametrize('before, after, env, text', [
    ({'web': 'demoapp:1.0.0'}, {'web': 'demoapp:2.0.0'}, (), 'artisan.upgrade: 1.0.0 -> 2.0.0'),
    ({'web': 'registry:5000/team/demoapp:1.0.0'}, {'web': 'registry:5000/team/demoapp:2.0.0'}, (),
     'artisan.upgrade: 1.0.0 -> 2.0.0'),
    ({'web': 'demoapp:1.0.0'}, {'web': 'other:2.0.0'}, (), 'artisan.upgrade: demoapp:1.0.0 -> other:2.0.0'),
    ({'web': 'demoapp'}, {'web': 'demoapp:2'}, (), 'artisan.upgrade: demoapp -> demoapp:2'),
    ({'web': 'app@sha256:aa'}, {'web': 'app@sha256:bb'}, (), 'artisan.upgrade: sha256:aa -> sha256:bb'),
    (TWO, dict(TWO, web='demoapp:2.0.0', sidecar='proxy:1.0'), (),
     'artisan.upgrade: web 1.0.0 -> 2.0.0, sidecar 0.9 -> 1.0'),
    (TWO, dict(TWO, web='demoapp:2.0.0'), ('sidecar',), 'artisan.upgrade: web 1.0.0 -> 2.0.0, env of sidecar'),
])
def test_change_cause(before, after, env, text):
    assert r.change_cause(before, after, env) == text


def test_plan_patches_only_the_containers_that_differ():
    obj = deployment(images=TWO, annotations={'team': 'shop'})
    plan = r.plan_rollout(obj, {'web': 'demoapp:2.0.0', 'sidecar': 'proxy:0.9'}, {})
    assert plan.patch == {
        'metadata': {'annotations': {r.CHANGE_CAUSE_ANNOTATION: 'artisan.upgrade: web 1.0.0 -> 2.0.0'}},
        'spec': {'template': {'spec': {'containers': [{'name': 'web', 'image': 'demoapp:2.0.0'}]}}}}
    assert plan.images_before == TWO and plan.images_after == dict(TWO, web='demoapp:2.0.0')
    assert plan.annotations_before == {'team': 'shop'}
    assert plan.annotations_after == {'team': 'shop', r.CHANGE_CAUSE_ANNOTATION: 'artisan.upgrade: web 1.0.0 -> 2.0.0'}


def test_plan_with_the_same_images_is_no_patch():
    obj = deployment(images=TWO)
    plan = r.plan_rollout(obj, dict(TWO), {})
    assert plan.patch is None
    assert plan.images_before == plan.images_after == TWO
    assert plan.annotations_before == plan.annotations_after


def test_plan_takes_a_given_change_cause():
    plan = r.plan_rollout(deployment(), {'web': 'demoapp:2.0.0'}, {}, cause='release 42')
    assert plan.patch['metadata']['annotations'] == {r.CHANGE_CAUSE_ANNOTATION: 'release 42'}


@pytest.mark.parametrize('current, wanted, changes', [
    ([], {'MODE': 'fast'}, [{'name': 'MODE', 'value': 'fast'}]),
    ([{'name': 'MODE', 'value': 'fast'}], {'MODE': 'fast'}, None),
    ([{'name': 'MODE', 'value': 'slow'}], {'MODE': 'fast'}, [{'name': 'MODE', 'value': 'fast'}]),
    ([{'name': 'MODE', 'value': 'slow'}], {'MODE': None}, [{'name': 'MODE', '$patch': 'delete'}]),
    ([], {'MODE': None}, None),
    ([{'name': 'MODE', 'valueFrom': {'configMapKeyRef': {'name': 'c', 'key': 'k'}}}], {'MODE': 'fast'},
     [{'name': 'MODE', 'value': 'fast', 'valueFrom': None}]),
    ([{'name': 'B', 'value': '1'}], {'B': '2', 'A': '1'}, [{'name': 'A', 'value': '1'}, {'name': 'B', 'value': '2'}]),
])
def test_env_patch(current, wanted, changes):
    obj = deployment(env=current)
    plan = r.plan_rollout(obj, {}, r.check_env(obj['spec']['template'], {'web': wanted}, 'deployment web'))
    if changes is None:
        assert plan.patch is None
    else:
        assert plan.patch['spec']['template']['spec']['containers'] == [{'name': 'web', 'env': changes}]
        assert plan.patch['metadata']['annotations'][r.CHANGE_CAUSE_ANNOTATION] == 'artisan.upgrade: env of web'


@pytest.mark.parametrize('env, error', [
    ({'api': {'A': '1'}}, "env: deployment web has no container named 'api'"),
    ({'web': ['A=1']}, 'must be a dict of NAME: value'),
    ({'web': {'PORT': 8000}}, 'env: web.PORT must be a string'),
])
def test_env_refuses(env, error):
    with pytest.raises(r.RolloutError, match=error):
        r.check_env(deployment()['spec']['template'], env, 'deployment web')


# --- restart ---------------------------------------------------------------------------------------

NOW = '2026-11-22T05:00:00Z'


def test_restart_without_token_always_patches():
    obj = deployment(template_annotations={r.RESTARTED_AT_ANNOTATION: '2026-01-01T00:00:00Z'})
    assert r.restart_patch(obj, None, NOW) == {
        'spec': {'template': {'metadata': {'annotations': {r.RESTARTED_AT_ANNOTATION: NOW}}}}}


@pytest.mark.parametrize('recorded, token, patched', [
    (None, 'release-7', True),
    ('release-6', 'release-7', True),
    ('release-7', 'release-7', False),
])
def test_restart_token(recorded, token, patched):
    obj = deployment(template_annotations={r.RESTART_TOKEN_ANNOTATION: recorded} if recorded else None)
    patch = r.restart_patch(obj, token, NOW)
    if patched:
        assert patch['spec']['template']['metadata']['annotations'] == {
            r.RESTARTED_AT_ANNOTATION: NOW, r.RESTART_TOKEN_ANNOTATION: token}
    else:
        assert patch is None


def test_restart_refuses_a_paused_deployment():
    with pytest.raises(r.RolloutError, match="can't restart paused deployment web"):
        r.restart_patch(deployment(paused=True), None, NOW)


# --- undo ------------------------------------------------------------------------------------------

def replicaset(revision, image, uid=UID, hash_='h%s', annotations=None, created=None):
    labels = {'app': 'web', r.POD_TEMPLATE_HASH: hash_ % revision}
    return {'metadata': {'name': 'web-' + hash_ % revision, 'creationTimestamp': created or '2026-11-22T05:00:0%dZ' % revision,
                         'ownerReferences': [{'controller': True, 'uid': uid, 'kind': 'Deployment', 'name': 'web'}],
                         'annotations': dict({r.REVISION_ANNOTATION: str(revision)}, **(annotations or {}))},
            'spec': {'template': {'metadata': {'labels': labels},
                                  'spec': {'containers': [{'name': 'web', 'image': image}]}}}}


def deployment_history():
    return [replicaset(1, 'demoapp:1.0.0', annotations={r.CHANGE_CAUSE_ANNOTATION: 'first'}),
            replicaset(2, 'demoapp:2.0.0', annotations={r.CHANGE_CAUSE_ANNOTATION: 'second'}),
            replicaset(3, 'demoapp:3.0.0'),
            replicaset(9, 'demoapp:0.1.0', uid='someone-else')]


def current_deployment():
    return deployment(images={'web': 'demoapp:3.0.0'},
                      annotations={r.REVISION_ANNOTATION: '3', 'deployment.kubernetes.io/revision-history': '1',
                                   r.CHANGE_CAUSE_ANNOTATION: 'third', 'note': 'x'})


def test_history_keeps_only_what_the_workload_controls():
    entries = r.history(current_deployment(), deployment_history())
    assert [e.revision for e in entries] == [1, 2, 3]
    assert r.POD_TEMPLATE_HASH not in entries[0].template['metadata']['labels']
    assert r.current_revision(current_deployment(), entries) == 3


@pytest.mark.parametrize('to_revision, target, image', [(0, 2, 'demoapp:2.0.0'), (1, 1, 'demoapp:1.0.0')])
def test_undo_deployment_is_kubectls_json_patch(to_revision, target, image):
    obj = current_deployment()
    plan = r.plan_undo(obj, r.history(obj, deployment_history()), to_revision)
    assert plan.target.revision == target
    assert plan.patch_type == 'application/json-patch+json'
    template_op, annotations_op = plan.patch
    assert template_op['op'] == 'replace' and template_op['path'] == '/spec/template'
    assert template_op['value']['spec']['containers'][0]['image'] == image
    assert template_op['value']['metadata']['labels'] == {'app': 'web'}
    # the Deployment keeps its own revision bookkeeping; everything else comes from the ReplicaSet
    assert annotations_op == {'op': 'replace', 'path': '/metadata/annotations', 'value': {
        r.REVISION_ANNOTATION: '3', 'deployment.kubernetes.io/revision-history': '1',
        r.CHANGE_CAUSE_ANNOTATION: 'first' if target == 1 else 'second'}}


def test_undo_does_not_find_a_number_a_rollback_took_away():
    # revision 1 was rolled back to: the Deployment controller made it revision 4 (revision-history keeps the 1),
    # and kubectl answers "unable to find specified revision 1 in history"
    sets = deployment_history()[1:3] + [replicaset(4, 'demoapp:1.0.0', hash_='h1%s',
                                                   annotations={r.RS_REVISION_HISTORY: '1'})]
    obj = deployment(images={'web': 'demoapp:1.0.0'}, annotations={r.REVISION_ANNOTATION: '4'})
    entries = r.history(obj, sets)
    with pytest.raises(r.RolloutError, match=r'unable to find specified revision 1 in history of deployment web '
                                             r'\(revisions: 2, 3, 4\)'):
        r.plan_undo(obj, entries, 1)
    plan = r.plan_undo(obj, entries, 4)
    assert plan.patch is None and plan.target.revision == 4


def test_undo_of_a_paused_deployment_names_a_missing_revision_first():
    obj = dict(current_deployment(), spec=dict(current_deployment()['spec'], paused=True))
    entries = r.history(obj, deployment_history())
    with pytest.raises(r.RolloutError, match='unable to find specified revision 7'):
        r.plan_undo(obj, entries, 7)
    with pytest.raises(r.RolloutError, match='you cannot rollback a paused deployment'):
        r.plan_undo(obj, entries, 1)


def test_undo_to_the_current_template_is_skipped():
    obj = current_deployment()
    plan = r.plan_undo(obj, r.history(obj, deployment_history()), 3)
    assert plan.patch is None and plan.target.revision == 3


@pytest.mark.parametrize('history_, to_revision, error', [
    ([], 0, 'no rollout history found for deployment web'),
    ([replicaset(3, 'demoapp:3.0.0')], 0, 'no rollout history found for deployment web: it has only revision 3'),
    (None, 42, r'unable to find specified revision 42 in history of deployment web \(revisions: 1, 2, 3\)'),
])
def test_undo_refuses(history_, to_revision, error):
    obj = current_deployment()
    with pytest.raises(r.RolloutError, match=error):
        r.plan_undo(obj, r.history(obj, deployment_history() if history_ is None else history_), to_revision)


def test_undo_refuses_a_paused_deployment():
    obj = current_deployment()
    obj['spec']['paused'] = True
    with pytest.raises(r.RolloutError, match='you cannot rollback a paused deployment'):
        r.plan_undo(obj, r.history(obj, deployment_history()), 0)


def controller_revision(revision, image, uid=UID):
    template = {'metadata': {'labels': {'app': 'db'}}, 'spec': {'containers': [{'name': 'db', 'image': image}]},
                '$patch': 'replace'}
    return {'metadata': {'name': 'db-%d' % revision, 'ownerReferences': [{'controller': True, 'uid': uid}]},
            'revision': revision, 'data': {'spec': {'template': template}}}


def test_undo_statefulset_applies_the_stored_patch():
    obj = statefulset()
    obj['spec']['template']['spec']['containers'][0]['image'] = 'pg:16'
    revisions = [controller_revision(2, 'pg:16'), controller_revision(1, 'pg:15'), controller_revision(5, 'x', 'other')]
    entries = r.history(obj, revisions)
    assert [e.revision for e in entries] == [1, 2]
    assert r.current_revision(obj, entries) == 2
    plan = r.plan_undo(obj, entries, 0)
    assert plan.target.revision == 1
    assert plan.patch == revisions[1]['data']
    assert plan.patch_type == 'application/strategic-merge-patch+json'
    assert r.plan_undo(obj, entries, 2).patch is None


def test_new_replicaset_is_the_oldest_owned_with_an_equal_template():
    obj = deployment(images={'web': 'demoapp:2.0.0'})
    sets = [replicaset(4, 'demoapp:2.0.0', created='2026-11-22T05:00:09Z'), replicaset(2, 'demoapp:2.0.0'),
            replicaset(3, 'demoapp:3.0.0'), replicaset(1, 'demoapp:2.0.0', uid='other')]
    assert r.new_replicaset(obj, sets)['metadata']['name'] == 'web-h2'
    assert r.new_revision_label(obj, sets[1]) == (r.POD_TEMPLATE_HASH, 'h2')
    assert r.new_replicaset(deployment(images={'web': 'nope:1'}), sets) is None


def test_new_revision_label_waits_for_the_controller():
    assert r.new_revision_label(deployment(generation=3, observed=2), replicaset(1, 'x')) is None
    assert r.new_revision_label(statefulset(status={'updateRevision': 'db-7c'})) == ('controller-revision-hash', 'db-7c')
    assert r.new_revision_label(daemonset()) == ('pod-template-generation', '2')


@pytest.mark.parametrize('selector, text', [
    ({'matchLabels': {'app': 'web', 'tier': 'front'}}, 'app=web,tier=front'),
    ({'matchLabels': {'app': 'web'}, 'matchExpressions': [
        {'key': 'track', 'operator': 'In', 'values': ['stable', 'canary']},
        {'key': 'legacy', 'operator': 'DoesNotExist'}, {'key': 'zone', 'operator': 'Exists'},
        {'key': 'env', 'operator': 'NotIn', 'values': ['dev']}]},
     'app=web,track in (stable,canary),!legacy,zone,env notin (dev)'),
])
def test_label_selector(selector, text):
    assert r.label_selector(selector) == text


# --- pod failures and the grace period -------------------------------------------------------------

def pod(name, waiting=None, message='', restarts=0, ready=False, revision='h2', last_exit=None, deleting=False):
    state = {'waiting': {'reason': waiting, 'message': message}} if waiting else {'running': {}}
    container = {'name': 'web', 'restartCount': restarts, 'state': state, 'ready': ready}
    if last_exit is not None:
        container['lastState'] = {'terminated': {'exitCode': last_exit, 'reason': 'Error'}}
    metadata = {'name': name, 'labels': {'app': 'web', r.POD_TEMPLATE_HASH: revision}}
    if deleting:
        metadata['deletionTimestamp'] = NOW
    return {'metadata': metadata,
            'status': {'containerStatuses': [container],
                       'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}}


@pytest.mark.parametrize('reason', r.FAILURE_REASONS)
def test_pod_problem_reasons(reason):
    problem = r.pod_problem(pod('web-h2-a', reason, 'oops'))
    assert (problem.pod, problem.container, problem.reason) == ('web-h2-a', 'web', reason)


@pytest.mark.parametrize('waiting', [None, 'ContainerCreating', 'PodInitializing'])
def test_pod_problem_ignores_normal_states(waiting):
    assert r.pod_problem(pod('web-h2-a', waiting)) is None


def test_crash_loop_problem_carries_the_exit_code():
    problem = r.pod_problem(pod('web-h2-a', 'CrashLoopBackOff', 'back-off 10s', restarts=2, last_exit=1))
    assert problem.message == 'last exit code 1 (Error): back-off 10s'
    assert problem.restarts == 2


def test_init_container_problems_count():
    bad = pod('web-h2-a')
    bad['status']['initContainerStatuses'] = [{'name': 'migrate', 'state': {'waiting': {'reason': 'ErrImagePull'}}}]
    assert r.pod_problem(bad).container == 'migrate'


def unscheduled(name, reason=None, message=None, node=None):
    """A pending pod: unschedulable (PodScheduled False), or not bound to a node yet."""
    status = {'phase': 'Pending'}
    if reason:
        status['conditions'] = [{'type': 'PodScheduled', 'status': 'False', 'reason': reason, 'message': message}]
    return {'metadata': {'name': name, 'labels': {r.POD_TEMPLATE_HASH: 'h2'}}, 'spec': {'nodeName': node} if node else {},
            'status': status}


@pytest.mark.parametrize('pod_, expected', [
    (pod('web-h2-a', 'ImagePullBackOff', 'Back-off pulling image "x"'),
     'pod web-h2-a container web: ImagePullBackOff (Back-off pulling image "x")'),
    (pod('web-h2-a', 'ContainerCreating'), 'pod web-h2-a container web: ContainerCreating'),
    (pod('web-h2-a'), 'pod web-h2-a container web: NotReady (running, its readiness probe does not pass)'),
    (unscheduled('web-h2-a', 'Unschedulable', '0/3 nodes are available: 3 Insufficient cpu.'),
     'pod web-h2-a: Unschedulable (0/3 nodes are available: 3 Insufficient cpu.)'),
    (unscheduled('web-h2-a'), 'pod web-h2-a: Pending (not scheduled to a node yet)'),
    (unscheduled('web-h2-a', node='n1'), 'pod web-h2-a: Pending (on node n1, no container started yet)'),
])
def test_pod_not_ready_says_why(pod_, expected):
    assert r.describe_problem(r.pod_not_ready(pod_)) == expected


def test_pod_not_ready_reports_a_terminated_container():
    ended = pod('web-h2-a')
    ended['status']['containerStatuses'][0]['state'] = {'terminated': {'reason': 'OOMKilled', 'exitCode': 137}}
    assert r.describe_problem(r.pod_not_ready(ended)) == 'pod web-h2-a container web: OOMKilled (exit code 137)'


def test_tracker_reports_the_new_pods_that_are_not_ready():
    tracker = tracker_with()
    tracker.observe_pod('ADDED', pod('web-h2-b', 'ImagePullBackOff'), now=0.0)
    tracker.observe_pod('ADDED', unscheduled('web-h2-a', 'Unschedulable', 'no node'), now=0.0)
    tracker.observe_pod('ADDED', pod('web-h2-c', ready=True), now=0.0)
    tracker.observe_pod('ADDED', pod('web-h1-a', 'CrashLoopBackOff', revision='h1'), now=0.0)
    assert [(p.pod, p.reason) for p in tracker.not_ready_report()] == [
        ('web-h2-a', 'Unschedulable'), ('web-h2-b', 'ImagePullBackOff')]
    tracker.new_revision = None  # before the revision is known, every unready pod is reported
    assert [p.pod for p in tracker.not_ready_report()] == ['web-h1-a', 'web-h2-a', 'web-h2-b']


def test_failure_summary_adds_the_last_warning_event():
    diagnostics = [{'pod': 'web-h2-a', 'container': 'web', 'reason': 'NotReady', 'message': '', 'restarts': 0,
                    'events': ['Warning Unhealthy (x4): Readiness probe failed: 503', 'Normal Pulled: pulled']},
                   {'pod': 'web-h2-b', 'container': '', 'reason': 'Pending', 'message': 'not scheduled', 'restarts': 0,
                    'events': []}]
    assert r.failure_summary(diagnostics) == ('pod web-h2-a container web: NotReady, last event: Warning Unhealthy (x4): '
                                              'Readiness probe failed: 503; pod web-h2-b: Pending (not scheduled)')


def tracker_with(obj=None, grace=5.0):
    tracker = r.RolloutTracker(grace)
    tracker.observe_object(obj or deployment(status={'replicas': 4, 'updatedReplicas': 1, 'availableReplicas': 3}))
    tracker.new_revision = (r.POD_TEMPLATE_HASH, 'h2')
    return tracker


def test_tracker_fails_only_after_the_grace_period():
    tracker = tracker_with()
    tracker.observe_pod('ADDED', pod('web-h2-a', 'ErrImagePull', 'pull access denied'), now=100.0)
    waiting = tracker.verdict(102.0)
    assert (waiting.done, waiting.failed, waiting.wake_at) == (False, False, 105.0)
    tracker.observe_pod('MODIFIED', pod('web-h2-a', 'ImagePullBackOff', 'Back-off pulling image'), now=103.0)
    failed = tracker.verdict(105.0)
    assert failed.failed and failed.reason == 'ImagePullBackOff'
    assert failed.message == ('deployment web: new pods are failing: pod web-h2-a container web: ImagePullBackOff '
                              '(Back-off pulling image)')
    assert [p.pod for p in failed.problems] == ['web-h2-a']


def test_tracker_ignores_failing_pods_of_old_revisions():
    tracker = tracker_with()
    tracker.observe_pod('ADDED', pod('web-h1-a', 'CrashLoopBackOff', revision='h1'), now=0.0)
    assert not tracker.verdict(100.0).failed


def test_tracker_does_not_judge_pods_before_the_new_revision_is_known():
    tracker = tracker_with()
    tracker.new_revision = None
    tracker.observe_pod('ADDED', pod('web-h2-a', 'ErrImagePull'), now=0.0)
    assert not tracker.verdict(100.0).failed
    tracker.new_revision = (r.POD_TEMPLATE_HASH, 'h2')
    assert tracker.verdict(100.0).failed


def test_tracker_forgets_a_pod_that_recovered():
    tracker = tracker_with()
    tracker.observe_pod('ADDED', pod('web-h2-a', 'ErrImagePull'), now=0.0)
    tracker.observe_pod('MODIFIED', pod('web-h2-a'), now=1.0)  # pulled on retry, starting
    assert tracker.suspects == {}
    assert not tracker.verdict(100.0).failed


@pytest.mark.parametrize('restarts_while_running', [1, 2])  # kubelets count the restart at the crash or the start
def test_tracker_keeps_a_crash_looping_pod_between_restarts(restarts_while_running):
    tracker = tracker_with()
    tracker.observe_pod('ADDED', pod('web-h2-a', 'CrashLoopBackOff', restarts=1, last_exit=1), now=0.0)
    tracker.observe_pod('MODIFIED', pod('web-h2-a', restarts=restarts_while_running, last_exit=1), now=3.0)
    assert 'web-h2-a' in tracker.suspects
    verdict = tracker.verdict(5.0)
    assert verdict.failed and verdict.reason == 'CrashLoopBackOff'


def test_tracker_forgets_a_pod_that_became_ready():
    tracker = tracker_with()
    tracker.observe_pod('ADDED', pod('web-h2-a', 'CrashLoopBackOff', restarts=1, last_exit=1), now=0.0)
    tracker.observe_pod('MODIFIED', pod('web-h2-a', restarts=1, ready=True, last_exit=1), now=3.0)
    assert not tracker.verdict(10.0).failed


@pytest.mark.parametrize('event, deleting', [('DELETED', False), ('MODIFIED', True)])
def test_tracker_forgets_deleted_pods(event, deleting):
    tracker = tracker_with()
    tracker.observe_pod('ADDED', pod('web-h2-a', 'ErrImagePull'), now=0.0)
    tracker.observe_pod(event, pod('web-h2-a', 'ErrImagePull', deleting=deleting), now=1.0)
    assert not tracker.verdict(10.0).failed and tracker.pods == {}


def test_unready_new_pods():
    tracker = tracker_with()
    tracker.observe_pod('ADDED', pod('web-h2-b', 'CrashLoopBackOff'), now=0.0)
    tracker.observe_pod('ADDED', pod('web-h2-a'), now=0.0)
    tracker.observe_pod('ADDED', pod('web-h2-c', ready=True), now=0.0)
    tracker.observe_pod('ADDED', pod('web-h1-a', revision='h1'), now=0.0)
    assert tracker.unready_new_pods() == ['web-h2-a', 'web-h2-b']


def test_tracker_done_wins_over_suspects():
    done = deployment(status={'replicas': 3, 'updatedReplicas': 3, 'availableReplicas': 3})
    tracker = tracker_with(done)
    tracker.observe_pod('ADDED', pod('web-h2-a', 'ErrImagePull'), now=0.0)
    assert tracker.verdict(100.0).done


def test_tracker_reports_the_progress_deadline_at_once():
    tracker = tracker_with(deployment(status=progressing('ProgressDeadlineExceeded')))
    verdict = tracker.verdict(0.0)
    assert verdict.failed and verdict.reason == 'ProgressDeadlineExceeded'


def test_tracker_tolerates_the_deadline_it_was_told_is_stale():
    tracker = tracker_with(deployment(status=progressing('ProgressDeadlineExceeded')))
    tracker.stale_deadline = '2026-11-22T05:00:00Z'
    assert not tracker.verdict(0.0).failed


def test_tracker_before_the_first_read_waits():
    assert not r.RolloutTracker(5.0).verdict(0.0).done


def test_several_failing_pods_are_all_named():
    tracker = tracker_with()
    tracker.observe_pod('ADDED', pod('web-h2-b', 'CrashLoopBackOff', restarts=1), now=0.0)
    tracker.observe_pod('ADDED', pod('web-h2-a', 'ErrImagePull'), now=1.0)
    verdict = tracker.verdict(6.0)
    assert verdict.reason == 'CrashLoopBackOff, ErrImagePull'
    assert [p.pod for p in verdict.problems] == ['web-h2-a', 'web-h2-b']


def test_plan_does_not_modify_its_input():
    obj = deployment(images=TWO)
    copied = copy.deepcopy(obj)
    r.plan_rollout(obj, {'web': 'demoapp:2.0.0'}, {'web': {'A': '1'}})
    assert obj == copied
