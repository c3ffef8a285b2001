"""The StatefulSet controller: its pure decisions against hand-computed sequences, then the controller
through the typed client and kubectl 1.32 (fast runtime)."""

from __future__ import annotations

import json
import shutil

import pytest
from kubernetes import client

from kubesim.clock import parse_rfc3339
from kubesim.registry import resource_for
from kubesim.statefulset import PodState, ordinal_of, revision_for_new_pod, statefulset_actions, statefulset_status

from .helpers import kubectl_runner, wait_for, workload

needs_kubectl = pytest.mark.skipif(shutil.which('kubectl') is None, reason='kubectl is not installed')
HEALTHY_C = PodState('c', healthy=True)
PODS = resource_for('v1', 'Pod')
EVENTS = resource_for('v1', 'Event')


def drive(replicas: int, pods: dict[int, PodState], parallel: bool = False, partition: int | None = 0) -> list[list[tuple]]:
    """Run the decisions until nothing is left to do; between syncs a created pod becomes healthy and a
    deleted one disappears (one step each). Returns the non-empty action lists in order."""
    steps = []
    pods = dict(pods)
    for _sync in range(60):
        actions = statefulset_actions(replicas, pods, parallel, partition, 'c', 'u')
        if actions:
            steps.append(actions)
        for action in actions:
            if action[0] == 'create':
                pods[action[1]] = PodState(action[2])
            else:
                pods[action[1]] = PodState(pods[action[1]].revision, terminating=True)
        settled = not actions
        for ordinal, pod in list(pods.items()):
            if pod.terminating:
                del pods[ordinal]
                settled = False
            elif not pod.healthy and not any(action[1] == ordinal for action in actions):
                pods[ordinal] = PodState(pod.revision, healthy=True)
                settled = False
        if settled:
            return steps
    raise AssertionError('no convergence: %r' % steps)


def test_ordinals_and_new_pod_revisions():
    assert [ordinal_of('web', name) for name in ('web-0', 'web-12', 'web-01', 'web-x', 'webby-1', 'web-')] == [0, 12, None, None, None, None]
    # RollingUpdate: below the partition a recreated pod keeps the current revision; OnDelete (None) always updates.
    assert [revision_for_new_pod(ordinal, 2, 'c', 'u') for ordinal in range(4)] == ['c', 'c', 'u', 'u']
    assert revision_for_new_pod(0, 0, 'c', 'u') == 'u' and revision_for_new_pod(0, None, 'c', 'u') == 'u'


def test_ordered_ready_creates_one_pod_at_a_time():
    assert statefulset_actions(3, {}, False, 0, 'c', 'u') == [('create', 0, 'u')]
    assert statefulset_actions(3, {0: PodState('u')}, False, 0, 'c', 'u') == [], 'waits for web-0 to be Running and Ready'
    assert statefulset_actions(3, {0: PodState('u', healthy=True)}, False, 0, 'c', 'u') == [('create', 1, 'u')]
    assert drive(3, {}) == [[('create', 0, 'u')], [('create', 1, 'u')], [('create', 2, 'u')]]
    # A failed pod is deleted, and recreated once it is gone.
    failed = {0: PodState('u', healthy=True), 1: PodState('u', failed=True)}
    assert statefulset_actions(3, failed, False, 0, 'c', 'u') == [('delete', 1)]


def test_parallel_creates_and_deletes_at_once():
    assert statefulset_actions(3, {}, True, 0, 'c', 'u') == [('create', 0, 'u'), ('create', 1, 'u'), ('create', 2, 'u')]
    five = {ordinal: PodState('u', healthy=True) for ordinal in range(5)}
    assert statefulset_actions(2, five, True, 0, 'c', 'u') == [('delete', 4), ('delete', 3), ('delete', 2)]


def test_ordered_scale_down_from_the_highest_ordinal():
    five = {ordinal: PodState('u', healthy=True) for ordinal in range(5)}
    assert drive(2, five) == [[('delete', 4)], [('delete', 3)], [('delete', 2)]]
    terminating = {**five, 4: PodState('u', terminating=True)}
    assert statefulset_actions(2, terminating, False, 0, 'c', 'u') == [], 'waits for web-4 to be gone'
    # An unhealthy lower replica blocks scale-down in OrderedReady.
    assert statefulset_actions(2, {**five, 1: PodState('u')}, False, 0, 'c', 'u') == []


def test_rolling_update_goes_down_one_pod_at_a_time():
    old = {ordinal: HEALTHY_C for ordinal in range(3)}
    assert drive(3, old) == [[('delete', 2)], [('create', 2, 'u')], [('delete', 1)], [('create', 1, 'u')],
                             [('delete', 0)], [('create', 0, 'u')]]
    # The next pod is not touched while the updated one above it is not healthy yet.
    assert statefulset_actions(3, {**old, 2: PodState('u')}, False, 0, 'c', 'u') == []
    # Parallel management does not change the one-at-a-time update.
    assert drive(3, old, parallel=True)[:2] == [[('delete', 2)], [('create', 2, 'u')]]


def test_partition_keeps_lower_ordinals_and_on_delete_waits():
    old = {ordinal: HEALTHY_C for ordinal in range(4)}
    assert drive(4, old, partition=2) == [[('delete', 3)], [('create', 3, 'u')], [('delete', 2)], [('create', 2, 'u')]]
    assert drive(4, old, partition=4) == []
    # A pod below the partition that disappears comes back at the current revision.
    assert statefulset_actions(4, {0: HEALTHY_C, 2: HEALTHY_C, 3: HEALTHY_C}, False, 2, 'c', 'u') == [('create', 1, 'c')]
    # OnDelete: nothing is replaced; a deleted pod comes back at the update revision.
    assert drive(3, {ordinal: HEALTHY_C for ordinal in range(3)}, partition=None) == []
    assert statefulset_actions(3, {0: HEALTHY_C, 2: HEALTHY_C}, False, None, 'c', 'u') == [('create', 1, 'u')]


def _pod(ordinal: int, revision: str, ready: bool = True, terminating: bool = False) -> dict:
    pod = {'metadata': {'name': 'web-%d' % ordinal, 'labels': {'controller-revision-hash': revision}},
           'status': {'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False',
                                                          'lastTransitionTime': '2024-01-01T00:00:00Z'}]}}
    if terminating:
        pod['metadata']['deletionTimestamp'] = '2024-01-01T00:00:30Z'
    return pod


def test_status_counts_and_completion():
    sts = workload('StatefulSet', 'web', replicas=3, updateStrategy={'type': 'RollingUpdate', 'rollingUpdate': {'partition': 0}})
    sts['metadata']['generation'] = 2
    midway = statefulset_status(sts, [_pod(0, 'c'), _pod(1, 'c'), _pod(2, 'u', ready=False)], 'c', 'u', 0, 0.0)
    assert midway == {'observedGeneration': 2, 'replicas': 3, 'readyReplicas': 2, 'availableReplicas': 2, 'currentReplicas': 2,
                      'updatedReplicas': 1, 'currentRevision': 'c', 'updateRevision': 'u', 'collisionCount': 0}
    done = statefulset_status(sts, [_pod(0, 'u'), _pod(1, 'u'), _pod(2, 'u')], 'c', 'u', 0, 0.0)
    assert (done['currentRevision'], done['currentReplicas'], done['updatedReplicas']) == ('u', 3, 3)
    empty = statefulset_status(dict(sts, spec=dict(sts['spec'], replicas=0)), [], 'c', 'c', 0, 0.0)
    assert empty == {'observedGeneration': 2, 'replicas': 0, 'availableReplicas': 0, 'currentRevision': 'c',
                     'updateRevision': 'c', 'collisionCount': 0}
    on_delete = dict(sts, spec=dict(sts['spec'], updateStrategy={'type': 'OnDelete'}))
    assert statefulset_status(on_delete, [_pod(0, 'u')], 'c', 'u', 0, 0.0)['currentRevision'] == 'c'
    terminating = statefulset_status(sts, [_pod(0, 'c'), _pod(1, 'c', terminating=True)], 'c', 'u', 0, 0.0)
    assert (terminating['replicas'], terminating['currentReplicas']) == (2, 1)


@pytest.fixture()
def apps(kubesim):
    api_client = kubesim.api_client()
    yield client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    api_client.close()


def _created(kubesim, name: str) -> float:
    """A pod's creation in simulated time, as stored (the API shows it on the wall clock, 20x coarser)."""
    pod = kubesim.call(kubesim.simulator.registry.get, PODS, 'default', name)
    return parse_rfc3339(pod['metadata']['creationTimestamp'])


def test_ordered_creation_status_and_revisions_through_the_typed_client(kubesim, apps):
    apps_api, core = apps
    body = workload('StatefulSet', 'db', image='postgres:slowstart-3', replicas=3, serviceName='db')
    apps_api.create_namespaced_stateful_set('default', body)
    done = wait_for(lambda: (apps_api.read_namespaced_stateful_set('db', 'default').status.ready_replicas or 0) == 3
                    and apps_api.read_namespaced_stateful_set('db', 'default'), 20, 0.05, '3 ready replicas')
    status = done.status
    assert (status.replicas, status.available_replicas, status.current_replicas, status.updated_replicas,
            status.collision_count, status.observed_generation) == (3, 3, 3, 3, 0, 1)
    assert status.current_revision == status.update_revision and status.current_revision.startswith('db-')
    assert (done.spec.pod_management_policy, done.spec.update_strategy.rolling_update.partition, done.spec.revision_history_limit) == (
        'OrderedReady', 0, 10)
    # OrderedReady: each pod is created only after the previous one is Ready (slowstart-3 + 1 s pull).
    created = [_created(kubesim, 'db-%d' % ordinal) for ordinal in range(3)]
    assert created[1] - created[0] >= 3 and created[2] - created[1] >= 3
    pod = core.read_namespaced_pod('db-1', 'default')
    assert pod.metadata.labels == {'app': 'db', 'controller-revision-hash': status.update_revision,
                                   'statefulset.kubernetes.io/pod-name': 'db-1', 'apps.kubernetes.io/pod-index': '1'}
    assert (pod.spec.hostname, pod.spec.subdomain, pod.metadata.owner_references[0].kind) == ('db-1', 'db', 'StatefulSet')
    (revision,) = apps_api.list_namespaced_controller_revision('default', label_selector='app=db').items
    assert (revision.metadata.name, revision.revision) == (status.update_revision, 1)
    assert revision.metadata.labels['controller.kubernetes.io/hash'] == status.update_revision[len('db-'):]
    assert revision.data['spec']['template']['$patch'] == 'replace'
    assert revision.data['spec']['template']['spec']['containers'][0]['image'] == 'postgres:slowstart-3'


def test_parallel_pods_start_together(kubesim, apps):
    apps_api, core = apps
    apps_api.create_namespaced_stateful_set('default', workload('StatefulSet', 'cache', image='redis:slowstart-20', replicas=3,
                                                                podManagementPolicy='Parallel'))
    pods = wait_for(lambda: len(core.list_namespaced_pod('default', label_selector='app=cache').items) == 3
                    and core.list_namespaced_pod('default', label_selector='app=cache').items, 5, 0.02, 'three pods')
    assert all(not any(c.type == 'Ready' and c.status == 'True' for c in pod.status.conditions or []) for pod in pods)


@pytest.fixture()
def kubectl(kubesim):
    return kubectl_runner(kubesim.kubeconfig)


def _json(kubectl, *args: str) -> dict:
    return json.loads(kubectl('get', *args, '-o', 'json').stdout)


def _images(kubectl, app: str) -> dict[str, str]:
    return {pod['metadata']['name']: pod['spec']['containers'][0]['image']
            for pod in _json(kubectl, 'pods', '-l', 'app=%s' % app)['items'] if not pod['metadata'].get('deletionTimestamp')}


@needs_kubectl
def test_kubectl_rollout_history_undo_restart(kubectl):
    body = workload('StatefulSet', 'web', image='nginx:1.25', replicas=3)
    assert kubectl('apply', '-f', '-', stdin=json.dumps(body)).stdout == 'statefulset.apps/web created\n'
    status = kubectl('rollout', 'status', 'statefulset/web', '--timeout=30s').stdout
    # partition defaults to 0, so kubectl 1.32 reports a "partitioned" roll out for every RollingUpdate.
    assert status.endswith('partitioned roll out complete: 3 new pods have been updated...\n')
    assert kubectl('set', 'image', 'sts/web', 'web=nginx:1.26').stdout == 'statefulset.apps/web image updated\n'
    status = kubectl('rollout', 'status', 'sts/web', '--timeout=30s').stdout
    assert status.endswith('partitioned roll out complete: 3 new pods have been updated...\n')
    assert set(_images(kubectl, 'web').values()) == {'nginx:1.26'}
    current = _json(kubectl, 'sts', 'web')
    assert current['status']['currentRevision'] == current['status']['updateRevision']
    deletions = [event['message'] for event in _json(kubectl, 'events', '--field-selector', 'involvedObject.name=web,reason=SuccessfulDelete')['items']]
    assert deletions == ['delete Pod web-%d in StatefulSet web successful' % ordinal for ordinal in (2, 1, 0)]
    history = kubectl('rollout', 'history', 'sts/web').stdout
    assert history == 'statefulset.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n'
    detail = kubectl('rollout', 'history', 'sts/web', '--revision=1').stdout
    assert detail.startswith('statefulset.apps/web with revision #1\nPod Template:\n') and 'Image:\tnginx:1.25' in detail

    assert kubectl('rollout', 'undo', 'sts/web').stdout == 'statefulset.apps/web rolled back\n'
    kubectl('rollout', 'status', 'sts/web', '--timeout=30s')
    assert set(_images(kubectl, 'web').values()) == {'nginx:1.25'}
    revisions = {item['metadata']['name']: item['revision'] for item in _json(kubectl, 'controllerrevisions', '-l', 'app=web')['items']}
    assert sorted(revisions.values()) == [2, 3], 'undo re-numbers the old revision instead of creating one'
    assert revisions[_json(kubectl, 'sts', 'web')['status']['updateRevision']] == 3
    skipped = kubectl('rollout', 'undo', 'sts/web', '--to-revision=3').stdout
    assert skipped == 'statefulset.apps/web skipped rollback (current template already matches revision 3)\n'
    missing = kubectl('rollout', 'undo', 'sts/web', '--to-revision=1', check=False)
    assert missing.returncode == 1 and missing.stderr == 'error: unable to find specified revision 1 in history\n'
    kubectl('rollout', 'undo', 'sts/web', '--to-revision=2')
    kubectl('rollout', 'status', 'sts/web', '--timeout=30s')
    assert set(_images(kubectl, 'web').values()) == {'nginx:1.26'}

    assert kubectl('rollout', 'restart', 'sts/web').stdout == 'statefulset.apps/web restarted\n'
    kubectl('rollout', 'status', 'sts/web', '--timeout=30s')
    pods = _json(kubectl, 'pods', '-l', 'app=web')['items']
    assert all('kubectl.kubernetes.io/restartedAt' in pod['metadata']['annotations'] for pod in pods)


@needs_kubectl
def test_kubectl_partition_on_delete_scale_and_delete(kubectl, kubesim):
    body = workload('StatefulSet', 'web', image='nginx:1.25', replicas=3,
                    updateStrategy={'type': 'RollingUpdate', 'rollingUpdate': {'partition': 2}})
    kubectl('apply', '-f', '-', stdin=json.dumps(body))
    kubectl('rollout', 'status', 'sts/web', '--timeout=30s')
    kubectl('set', 'image', 'sts/web', 'web=nginx:1.26')
    status = kubectl('rollout', 'status', 'sts/web', '--timeout=30s').stdout
    assert status.endswith('partitioned roll out complete: 1 new pods have been updated...\n')
    assert _images(kubectl, 'web') == {'web-0': 'nginx:1.25', 'web-1': 'nginx:1.25', 'web-2': 'nginx:1.26'}
    current = _json(kubectl, 'sts', 'web')['status']
    assert current['currentRevision'] != current['updateRevision']
    assert (current['currentReplicas'], current['updatedReplicas']) == (2, 1)

    on_delete = json.dumps({'spec': {'updateStrategy': {'type': 'OnDelete', 'rollingUpdate': None}}})
    kubectl('patch', 'sts/web', '--type=merge', '-p', on_delete)
    refused = kubectl('rollout', 'status', 'sts/web', check=False)
    assert refused.returncode == 1 and refused.stderr == 'error: rollout status is only available for RollingUpdate strategy type\n'
    kubectl('set', 'image', 'sts/web', 'web=nginx:1.27')
    # This test is about OnDelete; kubectl's own wait for the deletion once hung here for 60 s in a full gate run
    # (not reproduced in 36 runs alone; listed in the README's open questions), so the recreation is awaited below.
    kubectl('delete', 'pod', 'web-0', '--wait=false')
    wait_for(lambda: _images(kubectl, 'web').get('web-0') == 'nginx:1.27', message='web-0 recreated at the update revision')
    assert _images(kubectl, 'web') == {'web-0': 'nginx:1.27', 'web-1': 'nginx:1.25', 'web-2': 'nginx:1.26'}

    assert kubectl('scale', 'sts/web', '--replicas=5').stdout == 'statefulset.apps/web scaled\n'
    wait_for(lambda: len(_images(kubectl, 'web')) == 5, message='5 pods')
    kubectl('scale', 'sts/web', '--replicas=2')
    wait_for(lambda: sorted(_images(kubectl, 'web')) == ['web-0', 'web-1'], message='scaled down to 2')
    events = kubesim.call(kubesim.simulator.registry.list, EVENTS, 'default', None, 'involvedObject.name=web,reason=SuccessfulDelete')
    # Highest ordinal first, each deletion after the previous pod is gone: the events' order is their
    # resourceVersions' (1 s of simulated termination is 50 ms at 20x, often within one second of the timestamps).
    order = sorted(events, key=lambda event: int(event['metadata']['resourceVersion']))
    assert [event['message'].split()[2] for event in order] == ['web-4', 'web-3', 'web-2']
    stamps = [event['lastTimestamp'] for event in order]
    assert stamps == sorted(stamps)
    assert kubectl('delete', 'sts', 'web').stdout == 'statefulset.apps "web" deleted\n'
    wait_for(lambda: not _json(kubectl, 'pods,controllerrevisions', '-l', 'app=web')['items'], message='pods and revisions deleted')


def test_claims_of_the_volume_claim_templates_are_created_once_and_kept(kubesim, apps):
    apps_api, core = apps
    template = {'metadata': {'name': 'data', 'labels': {'tier': 'db'}},
                'spec': {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': '1Gi'}}}}
    apps_api.create_namespaced_stateful_set('default', workload('StatefulSet', 'pg', replicas=2,
                                                                volumeClaimTemplates=[template]))
    claims = wait_for(lambda: len(core.list_namespaced_persistent_volume_claim('default').items) == 2
                      and core.list_namespaced_persistent_volume_claim('default').items, 20, 0.05, 'two claims')
    assert sorted(c.metadata.name for c in claims) == ['data-pg-0', 'data-pg-1']
    assert claims[0].metadata.labels == {'tier': 'db', 'app': 'pg'} and claims[0].status.phase == 'Bound'
    assert claims[0].spec.resources.requests == {'storage': '1Gi'}
    # Scaled down, the claims stay (as the controller's default retention policy keeps them).
    apps_api.patch_namespaced_stateful_set('pg', 'default', {'spec': {'replicas': 0}})
    wait_for(lambda: not core.list_namespaced_pod('default', label_selector='app=pg').items, 20, 0.05, 'no pod')
    assert len(core.list_namespaced_persistent_volume_claim('default').items) == 2
