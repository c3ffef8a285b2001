"""k8s_rollout against kubesim (the project's Kubernetes API simulator), run through ansible-playbook.

Every test reads the real outcome back independently of the module's answer: the Deployment, its
ReplicaSets and pods through the kubernetes client, and, where kubectl is installed, through kubectl
as a second client (``rollout status``, ``rollout history``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import kubernetes
import pytest

from .helpers.ansible import assert_ok, run_module_tasks

MODULE = 'artisan.upgrade.k8s_rollout'
CHANGE_CAUSE = 'kubernetes.io/change-cause'
REVISION = 'deployment.kubernetes.io/revision'
KUBECTL = shutil.which('kubectl')


def container(name, image, **fields):
    return dict({'name': name, 'image': image}, **fields)


def workload(kind, name, containers, replicas=3, **spec):
    body = {'apiVersion': 'apps/v1', 'kind': kind, 'metadata': {'name': name, 'labels': {'app': name}},
            'spec': dict({'selector': {'matchLabels': {'app': name}},
                          'template': {'metadata': {'labels': {'app': name}}, 'spec': {'containers': containers}}},
                         **spec)}
    if kind != 'DaemonSet':
        body['spec']['replicas'] = replicas
    return body


class Cluster:
    """The simulator as tests see it: typed clients, creation helpers, kubectl, and the module's connection."""

    def __init__(self, kubesim):
        self.sim = kubesim
        self.apps = kubernetes.client.AppsV1Api(kubesim.api_client())
        self.core = kubernetes.client.CoreV1Api(kubesim.api_client())
        self.conn = {'kubeconfig': kubesim.kubeconfig}

    def create(self, body, namespace='default'):
        create = {'Deployment': self.apps.create_namespaced_deployment,
                  'StatefulSet': self.apps.create_namespaced_stateful_set,
                  'DaemonSet': self.apps.create_namespaced_daemon_set}[body['kind']]
        create(namespace, body)

    def deployment(self, name='web', namespace='default'):
        return self.apps.read_namespaced_deployment(name, namespace)

    def replicasets(self, name='web', namespace='default'):
        items = self.apps.list_namespaced_replica_set(namespace, label_selector='app=%s' % name).items
        return sorted(items, key=lambda rs: int(rs.metadata.annotations[REVISION]))

    def pods(self, name='web', namespace='default'):
        return [pod for pod in self.core.list_namespaced_pod(namespace, label_selector='app=%s' % name).items
                if pod.metadata.deletion_timestamp is None]

    def images_of_pods(self, name='web'):
        return sorted({c.image for pod in self.pods(name) for c in pod.spec.containers})

    def wait_complete(self, name='web', timeout=60.0):
        """Wait (independently of the module) until kubectl's rollout-status rules say complete."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dep = self.deployment(name)
            status = dep.status
            if ((dep.metadata.generation or 0) <= (status.observed_generation or 0)
                    and (status.updated_replicas or 0) >= dep.spec.replicas
                    and (status.replicas or 0) <= (status.updated_replicas or 0)
                    and (status.available_replicas or 0) >= (status.updated_replicas or 0)):
                return dep
            time.sleep(0.05)
        raise AssertionError('deployment %s did not complete: %s' % (name, self.deployment(name).status))

    def kubectl(self, *args, check=True):
        result = subprocess.run([KUBECTL, '--kubeconfig', self.sim.kubeconfig, *args], capture_output=True, text=True,
                                timeout=60, check=False)
        if check:
            assert result.returncode == 0, result.stderr
        return result


@pytest.fixture()
def cluster(kubesim):
    return Cluster(kubesim)


def run_tasks(run_playbook, tasks):
    return run_module_tasks(run_playbook, MODULE, tasks)


def kubectl_checks(cluster, *args):
    """kubectl's view (an independent client), skipped where kubectl is not installed."""
    if KUBECTL:
        return cluster.kubectl(*args).stdout
    return None


def assert_kubectl_rollout_done(cluster, target, expected):
    """``kubectl rollout status`` agrees the rollout is complete (where kubectl is installed)."""
    status = kubectl_checks(cluster, 'rollout', 'status', target, '--timeout=5s')
    if status is not None:
        assert expected in status, status


# --- state rolled_out -----------------------------------------------------------------------------

def test_rolled_out_check_real_check_real(cluster, run_playbook):
    cluster.create(workload('Deployment', 'web', [container('web', 'demoapp:1.0.0')]))
    cluster.wait_complete()
    args = dict(cluster.conn, name='web', image='demoapp:2.0.0', timeout=120)

    planned, real, check_again, real_again = run_tasks(
        run_playbook, [(args, {'check_mode': True}), args, (args, {'check_mode': True}), args])

    assert_ok(planned)
    assert planned['changed'] is True
    assert planned['images'] == {'before': {'web': 'demoapp:1.0.0'}, 'after': {'web': 'demoapp:2.0.0'}}
    assert planned['diff']['after']['annotations'][CHANGE_CAUSE] == 'artisan.upgrade: 1.0.0 -> 2.0.0'
    assert CHANGE_CAUSE not in planned['diff']['before']['annotations']
    assert planned['rollout']['complete'] is False and 'would roll out' in planned['msg']

    assert_ok(real)
    assert real['changed'] is True
    assert real['revision'] == {'before': 1, 'after': 2}
    assert real['rollout']['complete'] is True
    assert real['rollout']['message'] == 'deployment "web" successfully rolled out'
    assert real['replicas'] == {'desired': 3, 'current': 3, 'updated': 3, 'ready': 3, 'available': 3}
    assert any(c['type'] == 'Available' and c['status'] == 'True' for c in real['conditions'])
    assert real['rollout']['progress'][-1]['message'] == real['rollout']['message']
    # The envelope: the API calls as METHOD path, the check mode's write a dry run; seconds as a float.
    path = '/apis/apps/v1/namespaces/default/deployments/web'
    assert planned['commands'] == ['GET %s' % path, 'PATCH %s?dryRun=All' % path]
    assert real['commands'][:2] == ['GET %s' % path, 'PATCH %s' % path]
    assert 'GET /apis/apps/v1/namespaces/default/deployments?watch=true' in real['commands']
    assert 'GET /api/v1/namespaces/default/pods' in real['commands']
    assert isinstance(real['duration'], float) and real['duration'] >= real['rollout']['waited']

    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False, again['msg']
        assert again['images']['before'] == again['images']['after'] == {'web': 'demoapp:2.0.0'}
        assert again['revision']['before'] == 2
        assert not [c for c in again['commands'] if not c.startswith('GET ')], again['commands']

    # The real state, read independently.
    dep = cluster.deployment()
    assert dep.spec.template.spec.containers[0].image == 'demoapp:2.0.0'
    assert dep.metadata.annotations[CHANGE_CAUSE] == 'artisan.upgrade: 1.0.0 -> 2.0.0'
    assert dep.metadata.annotations[REVISION] == '2'
    assert dep.metadata.generation == 2, 'the second run wrote to the Deployment'
    assert [rs.spec.replicas for rs in cluster.replicasets()] == [0, 3]
    assert cluster.images_of_pods() == ['demoapp:2.0.0'] and len(cluster.pods()) == 3
    history = kubectl_checks(cluster, 'rollout', 'history', 'deployment/web')
    if history is not None:
        assert 'artisan.upgrade: 1.0.0 -> 2.0.0' in history
    assert_kubectl_rollout_done(cluster, 'deployment/web', 'deployment "web" successfully rolled out')


def test_several_containers_and_env_in_one_rollout(cluster, run_playbook):
    cluster.create(workload('Deployment', 'web', [
        container('web', 'demoapp:1.0.0', env=[{'name': 'MODE', 'value': 'slow'}, {'name': 'OLD', 'value': '1'}]),
        container('proxy', 'proxy:0.9')], replicas=2))
    cluster.wait_complete()
    args = dict(cluster.conn, name='web', images={'web': 'demoapp:2.0.0', 'proxy': 'proxy:1.0'},
                env={'web': {'MODE': 'fast', 'OLD': None, 'NEW': 'yes'}}, timeout=120)

    real, real_again = run_tasks(run_playbook, [args, args])

    assert_ok(real)
    assert real['changed'] is True
    assert real['images']['after'] == {'web': 'demoapp:2.0.0', 'proxy': 'proxy:1.0'}
    assert real['diff']['after']['annotations'][CHANGE_CAUSE] == (
        'artisan.upgrade: web 1.0.0 -> 2.0.0, proxy 0.9 -> 1.0, env of web')
    assert_ok(real_again)
    assert real_again['changed'] is False
    spec = cluster.deployment().spec.template.spec
    assert [(c.name, c.image) for c in spec.containers] == [('web', 'demoapp:2.0.0'), ('proxy', 'proxy:1.0')]
    assert {e.name: e.value for e in spec.containers[0].env} == {'MODE': 'fast', 'NEW': 'yes'}
    assert len(cluster.replicasets()) == 2
    assert cluster.images_of_pods() == ['demoapp:2.0.0', 'proxy:1.0']


def test_rerun_during_a_rollout_waits_for_it_without_writing(cluster, run_module):
    cluster.create(workload('Deployment', 'web', [container('web', 'demoapp:1.0.0')], replicas=2))
    cluster.wait_complete()
    # Each new pod is ready 200 simulated (10 real) seconds after it starts: room for a busy machine to start
    # Ansible before the first one is.
    slow = 'demoapp:2.0.0-slowstart-200'
    cluster.apps.patch_namespaced_deployment('web', 'default', {'spec': {'template': {'spec': {
        'containers': [{'name': 'web', 'image': slow}]}}}})

    result = run_module(MODULE, dict(cluster.conn, name='web', image=slow, timeout=120))

    assert_ok(result)
    assert result['changed'] is False
    assert result['rollout']['complete'] is True
    assert any('Waiting for deployment "web" rollout to finish' in p['message'] for p in result['rollout']['progress'])
    dep = cluster.deployment()
    assert dep.metadata.generation == 2 and CHANGE_CAUSE not in (dep.metadata.annotations or {})
    assert cluster.images_of_pods() == [slow] and len(cluster.pods()) == 2


def test_expired_watch_is_listed_again(cluster, kubesim, run_module):
    """The module watches from the resourceVersion it read; after a compaction that is 410 Gone."""
    cluster.create(workload('Deployment', 'web', [container('web', 'demoapp:1.0.0')], replicas=1))
    cluster.wait_complete()
    slow = 'demoapp:2.0.0-slowstart-300'
    cluster.apps.patch_namespaced_deployment('web', 'default', {'spec': {'template': {'spec': {
        'containers': [{'name': 'web', 'image': slow}]}}}})
    # Until the new pod is ready (15 real s, room for a busy machine to start Ansible) nothing changes the Deployment once the controller has scaled up:
    # the module then reads a resourceVersion older than the compaction.
    deadline = time.monotonic() + 10
    version, since = None, time.monotonic()
    while time.monotonic() - since < 0.5:
        assert time.monotonic() < deadline
        current = cluster.deployment().metadata.resource_version
        if current != version:
            version, since = current, time.monotonic()
        time.sleep(0.05)
    cluster.core.create_namespaced_config_map('default', {'metadata': {'name': 'later-write'}})
    kubesim.call(kubesim.simulator.registry.compact)

    result = run_module(MODULE, dict(cluster.conn, name='web', image=slow, timeout=120))

    assert_ok(result)
    assert result['rollout']['complete'] is True
    assert result['rollout']['watch']['relists'] >= 1, result['rollout']
    assert cluster.images_of_pods() == [slow]


# --- failing fast ---------------------------------------------------------------------------------

@pytest.mark.parametrize('image, reasons, evidence', [
    ('demoapp:2.0.0-does-not-exist', ('ErrImagePull', 'ImagePullBackOff'), 'events'),
    ('demoapp:2.0.0-crashloop', ('CrashLoopBackOff',), 'logs'),
])
def test_failing_new_pods_fail_within_the_grace_period(cluster, run_module, image, reasons, evidence):
    cluster.create(workload('Deployment', 'web', [container('web', 'demoapp:1.0.0')]))
    cluster.wait_complete()
    started = time.monotonic()

    result = run_module(MODULE, dict(cluster.conn, name='web', image=image, failure_grace=2, timeout=300))

    elapsed = time.monotonic() - started
    assert result['failed'] is True
    assert elapsed < 60, 'failed at %.1f s: found at the timeout, not within the grace period' % elapsed
    assert result['reason'] in reasons or any(r in result['reason'] for r in reasons), result['msg']
    assert 'new pods are failing' in result['msg'] and any(r in result['msg'] for r in reasons)
    assert result['changed'] is True and result['rollout']['complete'] is False
    problem = result['diagnostics'][0]
    assert problem['pod'].startswith('web-') and problem['container'] == 'web'
    assert problem['events'], problem
    if evidence == 'logs':
        assert problem['restarts'] >= 1 and 'logs' in problem
    # The Deployment controller keeps the old pods serving: the failure left a rollout in progress.
    dep = cluster.deployment()
    assert dep.spec.template.spec.containers[0].image == image
    assert (dep.status.available_replicas or 0) >= 2
    assert 'demoapp:1.0.0' in cluster.images_of_pods()


def test_progress_deadline_is_reported_at_once(cluster, kubesim, run_module):
    cluster.create(workload('Deployment', 'web', [container('web', 'demoapp:1.0.0')], progressDeadlineSeconds=60))
    cluster.wait_complete()
    started = time.monotonic()

    # neverready pods show no failure reason: only the progress deadline (60 simulated s = 3 real s) can tell.
    result = run_module(MODULE, dict(cluster.conn, name='web', image='demoapp:2.0.0-neverready', timeout=300))

    assert result['failed'] is True
    assert time.monotonic() - started < 60
    assert result['reason'] == 'ProgressDeadlineExceeded'
    # The failure still says why the new pod is not ready: its probe fails, as its events tell.
    assert result['msg'].startswith('deployment "web" exceeded its progress deadline; new pods not ready: pod web-')
    assert 'container web: NotReady' in result['msg'] and 'Warning Unhealthy' in result['msg'], result['msg']
    [problem] = result['diagnostics']
    assert problem['reason'] == 'NotReady' and any('Readiness probe failed' in e for e in problem['events'])
    progressing = next(c for c in cluster.deployment().status.conditions if c.type == 'Progressing')
    assert progressing.reason == 'ProgressDeadlineExceeded'
    new_pod = next(p for p in cluster.pods() if p.metadata.name == problem['pod'])
    assert new_pod.spec.containers[0].image == 'demoapp:2.0.0-neverready' and not new_pod.status.container_statuses[0].ready


def test_progress_deadline_with_a_pull_failure_names_the_pod_and_its_reason(cluster, run_module):
    """The deadline (3 real s) comes long before the grace period (300 s): the report still shows the pull failure."""
    cluster.create(workload('Deployment', 'web', [container('web', 'demoapp:1.0.0')], replicas=2,
                            progressDeadlineSeconds=60))
    cluster.wait_complete()

    result = run_module(MODULE, dict(cluster.conn, name='web', image='demoapp:2.0.0-does-not-exist', failure_grace=300,
                                     timeout=300))

    assert result['failed'] is True
    assert result['reason'] == 'ProgressDeadlineExceeded', result['msg']
    assert result['diagnostics'], result
    pulls = ('ErrImagePull', 'ImagePullBackOff')
    for problem in result['diagnostics']:
        assert problem['reason'] in pulls and problem['container'] == 'web', problem
        assert problem['pod'] in result['msg']
        assert any('Failed to pull image "demoapp:2.0.0-does-not-exist"' in e for e in problem['events']), problem
    assert any(reason in result['msg'] for reason in pulls), result['msg']
    # The pods as kubectl's client sees them: the same pods, waiting on the same pull failure.
    waiting = {p.metadata.name: p.status.container_statuses[0].state.waiting.reason
               for p in cluster.pods() if p.spec.containers[0].image == 'demoapp:2.0.0-does-not-exist'}
    assert {d['pod'] for d in result['diagnostics']} <= set(waiting) and set(waiting.values()) <= set(pulls)


def history_revisions(cluster, target='deployment/web'):
    """The REVISION column of ``kubectl rollout history`` (kubectl as an independent client)."""
    output = kubectl_checks(cluster, 'rollout', 'history', target)
    if output is None:
        return None
    return [int(line.split()[0]) for line in output.splitlines()[2:] if line.strip()]


def test_on_failure_undo_rolls_back_and_reports_both(cluster, run_module):
    cluster.create(workload('Deployment', 'web', [container('web', 'demoapp:1.0.0')]))
    cluster.wait_complete()
    cluster.apps.patch_namespaced_deployment('web', 'default', {
        'metadata': {'annotations': {CHANGE_CAUSE: 'to 2.0.0'}},
        'spec': {'template': {'spec': {'containers': [{'name': 'web', 'image': 'demoapp:2.0.0'}]}}}})
    before = cluster.wait_complete()

    result = run_module(MODULE, dict(cluster.conn, name='web', image='demoapp:3.0.0-crashloop', failure_grace=2,
                                     on_failure='undo', timeout=120))

    assert result['failed'] is True
    assert 'CrashLoopBackOff' in result['msg']
    # Revision 2 was rolled back to: the controller re-adopted it as revision 4 (the failed one is 3).
    assert ('undone to revision 4 (revision 2 before the rollback re-numbered it): '
            'deployment "web" successfully rolled out') in result['msg']
    assert result['revision'] == {'before': 2, 'after': 4}
    assert result['undo']['revision'] == 4 and result['undo']['rolled_back_to'] == 2
    assert result['undo']['changed'] is True and result['undo']['complete'] is True
    assert result['undo']['images'] == {'web': 'demoapp:2.0.0'}
    dep = cluster.wait_complete()
    assert dep.spec.template.spec.containers[0].image == 'demoapp:2.0.0'
    assert dep.metadata.annotations[REVISION] == '4', 'kubectl re-adopts revision 2 as revision 4'
    assert dep.metadata.annotations.get(CHANGE_CAUSE) == before.metadata.annotations[CHANGE_CAUSE]
    assert cluster.images_of_pods() == ['demoapp:2.0.0']
    revisions = history_revisions(cluster)
    if revisions is not None:
        assert revisions == [1, 3, 4] and revisions[-1] == result['revision']['after'] == result['undo']['revision']


# --- state undone ---------------------------------------------------------------------------------

def roll(cluster, *images, name='web'):
    """Create the Deployment at the first image, then set each next one, waiting for each rollout."""
    cluster.create(workload('Deployment', name, [container('web', images[0])], replicas=2))
    cluster.wait_complete(name)
    for image in images[1:]:
        cluster.apps.patch_namespaced_deployment(name, 'default', {
            'metadata': {'annotations': {CHANGE_CAUSE: 'to %s' % image}},
            'spec': {'template': {'spec': {'containers': [{'name': 'web', 'image': image}]}}}})
        cluster.wait_complete(name)


def test_undone_to_previous_check_real_check_real(cluster, run_playbook):
    roll(cluster, 'demoapp:1.0.0', 'demoapp:2.0.0', 'demoapp:3.0.0')
    args = dict(cluster.conn, state='undone', name='web', timeout=120)
    # "previous" is relative to now: after one undo, a second one goes back again, as kubectl does. The
    # idempotent form names the revision, which the first undo reports as its target.
    [planned] = run_tasks(run_playbook, [(args, {'check_mode': True})])
    assert_ok(planned)
    assert planned['changed'] is True and 'would undo deployment web to revision 2' in planned['msg']
    assert planned['images']['after'] == {'web': 'demoapp:2.0.0'}
    assert cluster.deployment().spec.template.spec.containers[0].image == 'demoapp:3.0.0'

    [real] = run_tasks(run_playbook, [args])
    assert_ok(real)
    assert real['changed'] is True and real['revision'] == {'before': 3, 'after': 4}
    dep = cluster.deployment()
    assert dep.spec.template.spec.containers[0].image == 'demoapp:2.0.0'
    assert dep.metadata.annotations[CHANGE_CAUSE] == 'to demoapp:2.0.0'
    assert cluster.images_of_pods() == ['demoapp:2.0.0']
    # The old ReplicaSet was re-adopted under its name, with the next revision (kubectl's semantics).
    assert [rs.spec.template.spec.containers[0].image for rs in cluster.replicasets()] == [
        'demoapp:1.0.0', 'demoapp:3.0.0', 'demoapp:2.0.0']
    history = kubectl_checks(cluster, 'rollout', 'history', 'deployment/web')
    if history is not None:
        assert 'to demoapp:2.0.0' in history.splitlines()[-2]


def test_undone_to_a_revision_then_already_there(cluster, run_playbook):
    roll(cluster, 'demoapp:1.0.0', 'demoapp:2.0.0', 'demoapp:3.0.0')
    args = dict(cluster.conn, state='undone', name='web', to_revision=1, timeout=120)
    # The undo re-numbers revision 1 as revision 4: naming 4 is the idempotent form.
    at_4 = dict(args, to_revision=4)

    planned, real, check_again, real_again = run_tasks(
        run_playbook, [(args, {'check_mode': True}), args, (at_4, {'check_mode': True}), at_4])

    assert_ok(planned)
    assert planned['changed'] is True
    assert_ok(real)
    assert real['changed'] is True and real['revision'] == {'before': 3, 'after': 4}
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False, again['msg']
    dep = cluster.deployment()
    assert dep.spec.template.spec.containers[0].image == 'demoapp:1.0.0'
    assert dep.metadata.generation == 4, 'only the real undo wrote'
    assert cluster.images_of_pods() == ['demoapp:1.0.0']
    assert_kubectl_rollout_done(cluster, 'deployment/web', 'successfully rolled out')
    # kubectl itself sees the template in place: its undo to the re-numbered revision is skipped
    skipped = kubectl_checks(cluster, 'rollout', 'undo', 'deployment/web', '--to-revision=4')
    if skipped is not None:
        assert 'skipped rollback (current template already matches revision 4)' in skipped


def test_undone_to_a_number_the_rollback_took_away_is_refused_as_kubectl_does(cluster, run_playbook):
    roll(cluster, 'demoapp:1.0.0', 'demoapp:2.0.0', 'demoapp:3.0.0')
    args = dict(cluster.conn, state='undone', name='web', to_revision=1, timeout=120)

    real, check_again, real_again = run_tasks(run_playbook, [args, (args, {'check_mode': True}), args])

    assert_ok(real)
    assert real['changed'] is True and real['revision'] == {'before': 3, 'after': 4}
    for again in (check_again, real_again):
        assert again['failed'] is True and again['changed'] is False
        assert again['msg'] == 'unable to find specified revision 1 in history of deployment web (revisions: 2, 3, 4)'
    assert cluster.deployment().metadata.generation == 4, 'the refused runs wrote nothing'
    if KUBECTL:
        refused = cluster.kubectl('rollout', 'undo', 'deployment/web', '--to-revision=1', check=False)
        assert refused.returncode != 0 and 'unable to find specified revision 1 in history' in refused.stderr
        assert history_revisions(cluster) == [2, 3, 4]


def test_undone_to_a_missing_revision_is_refused(cluster, run_module):
    roll(cluster, 'demoapp:1.0.0', 'demoapp:2.0.0')
    result = run_module(MODULE, dict(cluster.conn, state='undone', name='web', to_revision=42))
    assert result['failed'] is True
    assert result['msg'] == 'unable to find specified revision 42 in history of deployment web (revisions: 1, 2)'
    assert cluster.deployment().spec.template.spec.containers[0].image == 'demoapp:2.0.0'


# --- state restarted ------------------------------------------------------------------------------

RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt'
TOKEN = 'artisan.upgrade/restart-token'


def test_restarted_with_a_token_check_real_check_real(cluster, run_playbook):
    cluster.create(workload('Deployment', 'web', [container('web', 'demoapp:1.0.0')], replicas=2))
    cluster.wait_complete()
    pods_before = {pod.metadata.name for pod in cluster.pods()}
    args = dict(cluster.conn, state='restarted', name='web', restart_token='release-42', timeout=120)

    planned, real, check_again, real_again = run_tasks(
        run_playbook, [(args, {'check_mode': True}), args, (args, {'check_mode': True}), args])

    assert_ok(planned)
    assert planned['changed'] is True
    assert planned['diff']['after']['template_annotations'][TOKEN] == 'release-42'
    assert_ok(real)
    assert real['changed'] is True and real['rollout']['complete'] is True
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False
    template = cluster.deployment().spec.template.metadata.annotations
    assert template[TOKEN] == 'release-42' and RESTARTED_AT in template
    pods_after = {pod.metadata.name for pod in cluster.pods()}
    assert len(pods_after) == 2 and not pods_after & pods_before, 'every pod was replaced once'
    assert len(cluster.replicasets()) == 2
    assert_kubectl_rollout_done(cluster, 'deployment/web', 'successfully rolled out')


def test_restarted_without_a_token_restarts_every_time(cluster, run_playbook):
    cluster.create(workload('Deployment', 'web', [container('web', 'demoapp:1.0.0')], replicas=1))
    cluster.wait_complete()
    args = dict(cluster.conn, state='restarted', name='web', timeout=120)

    first, second = run_tasks(run_playbook, [args, args])

    assert_ok(first)
    assert_ok(second)
    assert first['changed'] is True and second['changed'] is True
    assert second['revision'] == {'before': 2, 'after': 3}
    assert cluster.deployment().metadata.annotations[REVISION] == '3'


# --- StatefulSet and DaemonSet --------------------------------------------------------------------

def test_statefulset_with_a_partition_updates_only_above_it(cluster, run_playbook):
    cluster.create(workload('StatefulSet', 'db', [container('db', 'pg:15.1')], serviceName='db',
                            updateStrategy={'type': 'RollingUpdate', 'rollingUpdate': {'partition': 2}}))
    args = dict(cluster.conn, kind='StatefulSet', name='db', image='pg:15.2', timeout=120)
    deadline = time.monotonic() + 30
    while (cluster.apps.read_namespaced_stateful_set('db', 'default').status.ready_replicas or 0) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    planned, real, real_again = run_tasks(run_playbook, [(args, {'check_mode': True}), args, args])

    assert_ok(planned)
    assert planned['changed'] is True
    assert_ok(real)
    assert real['changed'] is True and real['rollout']['complete'] is True
    assert real['rollout']['message'] == 'partitioned roll out complete: 1 new pods have been updated...'
    assert real['revision'] == {'before': 1, 'after': 2}
    assert_ok(real_again)
    assert real_again['changed'] is False
    images = {pod.metadata.name: pod.spec.containers[0].image for pod in cluster.pods('db')}
    assert images == {'db-0': 'pg:15.1', 'db-1': 'pg:15.1', 'db-2': 'pg:15.2'}
    assert_kubectl_rollout_done(cluster, 'statefulset/db', 'partitioned roll out complete: 1 new pods have been updated')


def test_statefulset_undo_uses_controller_revisions(cluster, run_playbook):
    cluster.create(workload('StatefulSet', 'db', [container('db', 'pg:15.1')], replicas=2, serviceName='db'))
    args = dict(cluster.conn, kind='StatefulSet', name='db', timeout=120)

    rolled, undone, undone_again, gone = run_tasks(run_playbook, [
        dict(args, image='pg:15.2'), dict(args, state='undone', to_revision=1),
        dict(args, state='undone', to_revision=3), dict(args, state='undone', to_revision=1)])

    assert_ok(rolled)
    assert rolled['revision']['after'] == 2
    assert_ok(undone)
    assert undone['changed'] is True and undone['revision']['after'] == 3
    assert_ok(undone_again)
    assert undone_again['changed'] is False
    assert gone['failed'] is True and 'unable to find specified revision 1 in history of statefulset db' in gone['msg']
    assert {pod.spec.containers[0].image for pod in cluster.pods('db')} == {'pg:15.1'}
    history = kubectl_checks(cluster, 'rollout', 'history', 'statefulset/db')
    if history is not None:
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ['2', '3']


def test_statefulset_on_failure_undo_replaces_the_broken_pod(cluster, run_module):
    cluster.create(workload('StatefulSet', 'db', [container('db', 'pg:15.1')], replicas=2, serviceName='db'))
    deadline = time.monotonic() + 30
    while (cluster.apps.read_namespaced_stateful_set('db', 'default').status.ready_replicas or 0) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    result = run_module(MODULE, dict(cluster.conn, kind='StatefulSet', name='db', image='pg:16-crashloop',
                                     failure_grace=2, on_failure='undo', timeout=60))

    assert result['failed'] is True
    assert 'pod db-1 container db: CrashLoopBackOff' in result['msg']
    assert result['undo']['complete'] is True, result['undo']
    sts = cluster.apps.read_namespaced_stateful_set('db', 'default')
    assert sts.spec.template.spec.containers[0].image == 'pg:15.1'
    assert sts.status.current_revision == sts.status.update_revision
    assert {pod.spec.containers[0].image for pod in cluster.pods('db')} == {'pg:15.1'}


@pytest.mark.kubesim_nodes(3)
def test_daemonset_rolls_out_on_every_node(cluster, run_playbook):
    cluster.create(workload('DaemonSet', 'agent', [container('agent', 'agent:1.0')]))
    args = dict(cluster.conn, kind='DaemonSet', name='agent', image='agent:1.1', timeout=120)

    planned, real, real_again = run_tasks(run_playbook, [(args, {'check_mode': True}), args, args])

    assert_ok(planned)
    assert planned['changed'] is True
    assert_ok(real)
    assert real['changed'] is True
    assert real['rollout']['message'] == 'daemon set "agent" successfully rolled out'
    assert real['replicas'] == {'desired': 3, 'updated': 3, 'ready': 3, 'available': 3}
    assert_ok(real_again)
    assert real_again['changed'] is False
    pods = cluster.pods('agent')
    assert sorted(pod.spec.node_name for pod in pods) == ['kubesim-node', 'kubesim-node2', 'kubesim-node3']
    assert {pod.spec.containers[0].image for pod in pods} == {'agent:1.1'}
    assert_kubectl_rollout_done(cluster, 'daemonset/agent', 'daemon set "agent" successfully rolled out')


# --- bad input ------------------------------------------------------------------------------------

def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_bad_input_fails_clearly_and_changes_nothing(cluster, run_playbook):
    cluster.create(workload('Deployment', 'web', [container('web', 'demoapp:1.0.0')], replicas=1))
    cluster.wait_complete()
    cases = [
        (dict(cluster.conn, name='nope', image='demoapp:2.0.0'),
         'deployment nope in namespace default not found: deployments.apps "nope" not found (HTTP 404)'),
        (dict(cluster.conn, name='web', namespace='elsewhere', image='demoapp:2.0.0'),
         'deployment web in namespace elsewhere not found'),
        (dict(cluster.conn, name='web', images={'api': 'demoapp:2.0.0'}),
         "deployment web has no container named 'api' (containers: web)"),
        (dict(cluster.conn, name='web', images={'web': 'demo app'}),
         "image of container 'web' must be an image reference"),
        (dict(cluster.conn, name='web', image='demoapp:2.0.0', images={'web': 'demoapp:2.0.0'}),
         'parameters are mutually exclusive: images|image'),
        (dict(cluster.conn, name='web'), 'state is rolled_out but any of the following are missing: images, image, env'),
        (dict(cluster.conn, name='web', state='restarted', image='demoapp:2.0.0'),
         'images, image and env are options of state rolled_out, not restarted'),
        (dict(host='http://127.0.0.1:%d' % closed_port(), name='web', image='demoapp:2.0.0'),
         'cannot reach the Kubernetes API at http://127.0.0.1:'),
        (dict(kubeconfig='/nonexistent/kubeconfig', name='web', image='demoapp:2.0.0'),
         'cannot load kubeconfig /nonexistent/kubeconfig: no such file (kubeconfig)'),
    ]
    results = run_tasks(run_playbook, [args for args, _msg in cases])
    for (args, msg), result in zip(cases, results):
        assert result['failed'] is True, args
        assert msg in result['msg'], (msg, result['msg'])
    dep = cluster.deployment()
    assert dep.metadata.generation == 1 and dep.spec.template.spec.containers[0].image == 'demoapp:1.0.0'


def test_a_missing_default_kubeconfig_is_named(cluster, run_playbook, tmp_path):
    """Without kubeconfig and host the client reads $KUBECONFIG, else ~/.kube/config: the message names the file."""
    missing = str(tmp_path / 'nowhere' / 'config')
    args = dict(name='web', image='demoapp:2.0.0')
    from_variable, from_home = run_tasks(run_playbook, [
        (args, {'environment': {'KUBECONFIG': missing}}),
        (args, {'environment': {'HOME': str(tmp_path)}})])
    assert from_variable['failed'] is True
    assert from_variable['msg'].startswith('cannot load kubeconfig %s: no such file (KUBECONFIG)' % missing)
    assert from_home['failed'] is True
    assert from_home['msg'].startswith('cannot load kubeconfig ~/.kube/config (%s/.kube/config): no such file'
                                       % tmp_path), from_home['msg']
    assert 'No configuration found' not in from_variable['msg'] + from_home['msg']


@contextlib.contextmanager
def silent_api_server():
    """A TCP listener on 127.0.0.1 that accepts connections and never answers (a hung API server)."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(64)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        listener.close()


def test_an_api_server_that_never_answers_fails_within_the_timeout(run_module):
    timeout = 5
    with silent_api_server() as (url, accepted):
        started = time.monotonic()
        result = run_module(MODULE, dict(host=url, name='web', image='demoapp:2.0.0', timeout=timeout))
        elapsed = time.monotonic() - started
    assert result['failed'] is True
    assert result['msg'].startswith('cannot reach the Kubernetes API at %s: no answer in time' % url), result['msg']
    assert accepted, 'the module connected to the listener'
    # Generous bound (Ansible's start-up included): without a request timeout it took 4 x 30 s.
    assert elapsed < timeout + 20, 'failed after %.1f s with timeout %d' % (elapsed, timeout)


# --- real containers ------------------------------------------------------------------------------

APP_ENV = [{'name': 'DATABASE_URI', 'value': 'postgresql://app:secret@db:5432/app'},
           {'name': 'DATABASE_URL', 'value': 'postgresql://app:secret@db:5432/app'},
           {'name': 'SECRET_KEY', 'value': 'kubesim-test-secret'}]


def test_demoapp_containers_upgrade_then_a_crashing_release_is_undone(kubesim_docker, run_playbook):
    cluster = Cluster(kubesim_docker)
    probe = {'httpGet': {'path': '/health', 'port': 8000}, 'periodSeconds': 1, 'failureThreshold': 1}
    cluster.create(workload('Deployment', 'web', [container(
        'web', 'demoapp:1.0.0', env=APP_ENV, ports=[{'containerPort': 8000}], readinessProbe=probe)], replicas=2,
        strategy={'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': 1, 'maxUnavailable': 0}}))
    cluster.wait_complete(timeout=120)
    upgrade = dict(cluster.conn, name='web', image='demoapp:2.0.0', timeout=180)
    # Release 3 with DEMOAPP_FAULT=crash exits with status 1 at start, as a broken release does.
    crash = dict(cluster.conn, name='web', image='demoapp:3.0.0', env={'web': {'DEMOAPP_FAULT': 'crash'}},
                 failure_grace=3, on_failure='undo', timeout=180)

    real, real_again, crashed = run_tasks(run_playbook, [upgrade, upgrade, crash])

    assert_ok(real)
    assert real['changed'] is True and real['rollout']['complete'] is True
    assert_ok(real_again)
    assert real_again['changed'] is False
    assert crashed.get('failed') is True, crashed
    assert crashed['reason'] == 'CrashLoopBackOff', crashed['msg']
    assert ('undone to revision 4 (revision 2 before the rollback re-numbered it): '
            'deployment "web" successfully rolled out') in crashed['msg']
    assert crashed['revision'] == {'before': 2, 'after': 4} and crashed['undo']['revision'] == 4
    assert crashed['diagnostics'][0]['logs'], 'the crashed container\'s real output is reported'
    dep = cluster.wait_complete()
    assert dep.spec.template.spec.containers[0].image == 'demoapp:2.0.0'
    assert 'DEMOAPP_FAULT' not in {e.name for e in dep.spec.template.spec.containers[0].env}
    pods = cluster.pods()
    assert len(pods) == 2 and {p.status.container_statuses[0].image for p in pods} == {'docker.io/library/demoapp:2.0.0'}
    assert all(p.status.container_statuses[0].ready for p in pods)
    # The running application itself says which release answers, through the Service's proxy.
    cluster.core.create_namespaced_service('default', {'metadata': {'name': 'web'}, 'spec': {
        'selector': {'app': 'web'}, 'ports': [{'port': 80, 'targetPort': 8000}]}})
    deadline = time.monotonic() + 30
    while kubesim_docker.service_address('web') is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    host, port = kubesim_docker.service_address('web')
    versions = {json.loads(urllib.request.urlopen('http://%s:%d/version' % (host, port), timeout=10).read())['version']
                for _attempt in range(4)}
    assert versions == {'2.0.0'}
