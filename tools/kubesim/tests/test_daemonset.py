"""The DaemonSet controller: per-node decisions against hand-computed sequences, then the controller on
three simulated nodes through the typed client and kubectl 1.32 (fast runtime)."""

from __future__ import annotations

import json
import shutil

import pytest
from kubernetes import client

from kubesim.daemonset import DaemonPod, daemonset_status, manage_actions, max_unavailable_of, rolling_update_deletions

from .helpers import kubectl_runner, wait_for, workload

NODES = ['a', 'b', 'c', 'd']
needs_kubectl = pytest.mark.skipif(shutil.which('kubectl') is None, reason='kubectl is not installed')


def old(node: str, available: bool = True) -> DaemonPod:
    return DaemonPod('old-' + node, updated=False, available=available)


def new(node: str, available: bool = True) -> DaemonPod:
    return DaemonPod('new-' + node, updated=True, available=available)


def test_manage_one_pod_per_node():
    pods = {'a': [old('a')], 'c': [old('c'), DaemonPod('extra-c', updated=True, available=True)],
            'd': [DaemonPod('gone-d', updated=False, terminating=True)], 'x': [old('x')]}
    assert manage_actions(NODES, pods) == (['b'], ['extra-c', 'old-x']), \
        'b needs a pod; d waits for its terminating pod; c keeps its oldest pod; x is not a node'
    assert manage_actions(['a'], {'a': [DaemonPod('failed-a', updated=True, failed=True)]}) == ([], ['failed-a'])


def test_max_unavailable_rounds_up_and_is_never_zero():
    def ds(value):
        return {'spec': {'updateStrategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': value, 'maxSurge': 0}}}}
    assert [max_unavailable_of(ds(value), 3) for value in (1, 2, '50%', '10%', 0, '0%')] == [1, 2, 2, 1, 1, 1]


def drive(max_unavailable: int) -> list[list[str]]:
    """Sync until every node runs an available new pod: a deleted pod is gone at the next sync, then a new
    pod is created on its node, and it becomes available one sync later. Returns the deletions per sync."""
    pods = {node: [old(node)] for node in NODES}
    steps = []
    for _sync in range(40):
        create, delete = manage_actions(NODES, pods)
        if not create and not delete:
            delete = rolling_update_deletions(NODES, pods, max_unavailable)
        if delete:
            steps.append(sorted(delete))
        for node, node_pods in pods.items():
            pods[node] = [new(node) if pod.updated else pod for pod in node_pods if not pod.terminating]
        for node in create:
            pods[node] = [new(node, available=False)]
        for node, node_pods in pods.items():
            pods[node] = [DaemonPod(pod.name, pod.updated, pod.available, terminating=pod.name in delete) for pod in node_pods]
        if all(node_pods == [new(node)] for node, node_pods in pods.items()):
            return steps
    raise AssertionError('no convergence: %r' % steps)


def test_rolling_update_without_surge_respects_max_unavailable():
    all_old = {node: [old(node)] for node in NODES}
    assert rolling_update_deletions(NODES, all_old, 1) == ['old-a']
    assert rolling_update_deletions(NODES, all_old, 2) == ['old-a', 'old-b']
    # A node without a pod, or with a new pod not available yet, uses up the budget.
    assert rolling_update_deletions(NODES, {**all_old, 'a': []}, 1) == []
    assert rolling_update_deletions(NODES, {**all_old, 'a': [new('a', available=False)]}, 2) == ['old-b']
    assert rolling_update_deletions(NODES, {**all_old, 'a': [DaemonPod('old-a', False, terminating=True)]}, 1) == []
    # An unavailable old pod is always replaced, on top of the budget.
    assert rolling_update_deletions(NODES, {**all_old, 'd': [old('d', available=False)]}, 1) == ['old-d', 'old-a']
    assert drive(1) == [['old-a'], ['old-b'], ['old-c'], ['old-d']]
    assert drive(2) == [['old-a', 'old-b'], ['old-c', 'old-d']]
    assert drive(4) == [['old-a', 'old-b', 'old-c', 'old-d']]


def test_status_judges_the_oldest_pod_per_node():
    def pod(name, created, ready=True, revision='h1'):
        return {'metadata': {'name': name, 'creationTimestamp': created, 'labels': {'controller-revision-hash': revision}},
                'status': {'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False',
                                           'lastTransitionTime': '2024-01-01T00:00:00Z'}]}}
    ds = workload('DaemonSet', 'agent')
    ds['metadata']['generation'] = 3
    by_node = {'a': [pod('p1', '1'), pod('p2', '2', revision='h2')], 'b': [pod('p3', '1', ready=False, revision='h2')]}
    status = daemonset_status(ds, ['a', 'b', 'c'], by_node, lambda p: p['metadata']['labels']['controller-revision-hash'] == 'h2', 0.0)
    assert status == {'currentNumberScheduled': 2, 'numberMisscheduled': 0, 'desiredNumberScheduled': 3, 'numberReady': 1,
                      'observedGeneration': 3, 'updatedNumberScheduled': 1, 'numberAvailable': 1, 'numberUnavailable': 2}
    assert daemonset_status(dict(ds, metadata={}), [], {}, lambda p: True, 0.0) == {
        'currentNumberScheduled': 0, 'numberMisscheduled': 0, 'desiredNumberScheduled': 0, 'numberReady': 0}


@pytest.mark.kubesim_nodes(3)
def test_one_pod_per_node_through_the_typed_client(kubesim):
    api_client = kubesim.api_client()
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    assert [node.metadata.name for node in core.list_node().items] == ['kubesim-node', 'kubesim-node2', 'kubesim-node3']
    apps.create_namespaced_daemon_set('default', workload('DaemonSet', 'agent', image='agent:1.0'))
    ds = wait_for(lambda: (apps.read_namespaced_daemon_set('agent', 'default').status.number_available or 0) == 3
                  and apps.read_namespaced_daemon_set('agent', 'default'), 15, 0.05, '3 available daemon pods')
    assert (ds.status.desired_number_scheduled, ds.status.current_number_scheduled, ds.status.number_ready,
            ds.status.updated_number_scheduled, ds.status.number_misscheduled, ds.status.number_unavailable) == (3, 3, 3, 3, 0, None)
    assert ds.spec.update_strategy.rolling_update.max_unavailable == 1 and ds.metadata.annotations == {
        'deprecated.daemonset.template.generation': '1'}
    pods = core.list_namespaced_pod('default', label_selector='app=agent').items
    assert sorted(pod.spec.node_name for pod in pods) == ['kubesim-node', 'kubesim-node2', 'kubesim-node3']
    for pod in pods:
        term = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms[0]
        assert (term.match_fields[0].key, term.match_fields[0].values) == ('metadata.name', [pod.spec.node_name])
        assert pod.status.host_ip == {'kubesim-node': '10.0.0.10', 'kubesim-node2': '10.0.0.11', 'kubesim-node3': '10.0.0.12'}[pod.spec.node_name]
        assert pod.metadata.labels['pod-template-generation'] == '1'
    (revision,) = apps.list_namespaced_controller_revision('default', label_selector='app=agent').items
    assert revision.metadata.name == 'agent-' + revision.metadata.labels['controller-revision-hash'] and revision.revision == 1
    assert {pod.metadata.labels['controller-revision-hash'] for pod in pods} == {revision.metadata.labels['controller-revision-hash']}
    api_client.close()


@pytest.fixture()
def kubectl(kubesim):
    return kubectl_runner(kubesim.kubeconfig)


def _pods(kubectl) -> list[dict]:
    return [pod for pod in json.loads(kubectl('get', 'pods', '-l', 'app=agent', '-o', 'json').stdout)['items']
            if not pod['metadata'].get('deletionTimestamp')]


@needs_kubectl
@pytest.mark.kubesim_nodes(3)
def test_kubectl_rollout_history_undo_restart(kubectl, kubesim):
    assert kubectl('apply', '-f', '-', stdin=json.dumps(workload('DaemonSet', 'agent', image='agent:1.0'))).stdout == \
        'daemonset.apps/agent created\n'
    assert kubectl('rollout', 'status', 'ds/agent', '--timeout=30s').stdout.endswith('daemon set "agent" successfully rolled out\n')
    # At 20x the three pods can be replaced before a slow kubectl first looks: watch this rollout at 2x.
    speed = kubesim.clock.speed
    kubesim.clock.set_speed(2)
    assert kubectl('set', 'image', 'ds/agent', 'agent=agent:2.0').stdout == 'daemonset.apps/agent image updated\n'
    status = kubectl('rollout', 'status', 'daemonset/agent', '--timeout=60s').stdout
    kubesim.clock.set_speed(speed)
    assert 'Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...\n' in status
    assert status.endswith('daemon set "agent" successfully rolled out\n')
    assert sorted((pod['spec']['nodeName'], pod['spec']['containers'][0]['image']) for pod in _pods(kubectl)) == [
        ('kubesim-node', 'agent:2.0'), ('kubesim-node2', 'agent:2.0'), ('kubesim-node3', 'agent:2.0')]
    current = json.loads(kubectl('get', 'ds', 'agent', '-o', 'json').stdout)
    assert current['metadata']['annotations']['deprecated.daemonset.template.generation'] == '2'
    assert kubectl('rollout', 'history', 'ds/agent').stdout == 'daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n'
    assert 'Image:\tagent:1.0' in kubectl('rollout', 'history', 'ds/agent', '--revision=1').stdout

    assert kubectl('rollout', 'undo', 'ds/agent').stdout == 'daemonset.apps/agent rolled back\n'
    kubectl('rollout', 'status', 'ds/agent', '--timeout=30s')
    assert {pod['spec']['containers'][0]['image'] for pod in _pods(kubectl)} == {'agent:1.0'}
    revisions = json.loads(kubectl('get', 'controllerrevisions', '-l', 'app=agent', '-o', 'json').stdout)['items']
    assert sorted(item['revision'] for item in revisions) == [2, 3]
    skipped = kubectl('rollout', 'undo', 'ds/agent', '--to-revision=3').stdout
    assert skipped == 'daemonset.apps/agent skipped rollback (current template already matches revision 3)\n'
    assert kubectl('rollout', 'restart', 'ds/agent').stdout == 'daemonset.apps/agent restarted\n'
    kubectl('rollout', 'status', 'ds/agent', '--timeout=30s')
    assert all('kubectl.kubernetes.io/restartedAt' in pod['metadata']['annotations'] for pod in _pods(kubectl))
    assert len(_pods(kubectl)) == 3

    on_delete = json.dumps({'spec': {'updateStrategy': {'type': 'OnDelete', 'rollingUpdate': None}}})
    kubectl('patch', 'ds/agent', '--type=merge', '-p', on_delete)
    kubectl('set', 'image', 'ds/agent', 'agent=agent:3.0')
    refused = kubectl('rollout', 'status', 'ds/agent', check=False)
    assert refused.returncode == 1 and 'rollout status is only available for RollingUpdate strategy type' in refused.stderr
    victim = next(pod for pod in _pods(kubectl) if pod['spec']['nodeName'] == 'kubesim-node2')
    kubectl('delete', 'pod', victim['metadata']['name'])
    wait_for(lambda: sorted(pod['spec']['containers'][0]['image'] for pod in _pods(kubectl)) == ['agent:1.0', 'agent:1.0', 'agent:3.0'],
             message='only the deleted pod replaced, at the new revision')
    assert kubectl('delete', 'ds', 'agent').stdout == 'daemonset.apps "agent" deleted\n'
    wait_for(lambda: not json.loads(kubectl('get', 'pods,controllerrevisions', '-l', 'app=agent', '-o', 'json').stdout)['items'],
             message='pods and revisions deleted')
