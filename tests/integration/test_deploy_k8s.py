"""The deploy_k8s role against kubesim, with the demo app's manifests applied as a user applies them
(``kubectl apply -f examples/k8s/``).

The outcome is read back with kubectl (an independent client): images, replicas, ``rollout history``; the
fast runtime for the role's logic, the docker runtime (pods are real demoapp containers behind the Service's
proxy) for the request stream that must not see a failure during the rolling upgrade.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import threading
import time

import pytest
from kubernetes import client

from .helpers.ansible import PlaybookRun
from .helpers.backends import SteadyLoad

MANIFESTS = pathlib.Path(__file__).resolve().parents[2] / 'examples' / 'k8s'
APP = [{'name': 'demoapp', 'images': {'app': 'demoapp'}}]


def kubectl_for(kubeconfig):
    binary = shutil.which('kubectl')
    if binary is None:
        pytest.skip('kubectl is not installed')

    def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run([binary, '--kubeconfig', kubeconfig, *args], input=stdin, capture_output=True,
                                text=True, timeout=600, check=False)
        assert not check or result.returncode == 0, 'kubectl %s: %s' % (' '.join(args), result.stderr)
        return result.stdout

    return kubectl


def deployments(kubectl) -> dict[str, tuple[int, str]]:
    """name -> (replicas, image of the first container), as kubectl reads them."""
    items = json.loads(kubectl('get', 'deployments', '-o', 'json'))['items']
    return {d['metadata']['name']: (d['spec']['replicas'], d['spec']['template']['spec']['containers'][0]['image'])
            for d in items}


def pod_images(kubectl, selector) -> list[str]:
    """Images of the Ready, not terminating pods of the selector."""
    pods = json.loads(kubectl('get', 'pods', '-l', selector, '-o', 'json'))['items']
    return sorted(p['spec']['containers'][0]['image'] for p in pods if not p['metadata'].get('deletionTimestamp')
                  and any(c['type'] == 'Ready' and c['status'] == 'True' for c in p['status'].get('conditions') or []))


def history(kubectl, workload) -> list[str]:
    """The lines of ``kubectl rollout history`` below its header."""
    return [line.strip() for line in kubectl('rollout', 'history', workload).splitlines()[2:] if line.strip()]


def play(kubeconfig, entry='main'):
    """The role's entry point in a play; the facts and result are shown whatever happens."""
    return [{'hosts': 'localhost', 'gather_facts': False,
             'module_defaults': {'group/artisan.upgrade.k8s': {'kubeconfig': kubeconfig}},
             'tasks': [{'block': [{'name': 'deploy_k8s %s' % entry, 'ansible.builtin.include_role': {
                 'name': 'artisan.upgrade.deploy_k8s', 'tasks_from': entry}}],
                 'always': [{'name': 'show the results', 'ansible.builtin.debug': {'msg': {
                     'deploy_facts': '{{ deploy_facts | default(None) }}',
                     'deploy_result': '{{ deploy_result | default(None) }}'}}}]}]}]


def deploy(run_playbook, kubeconfig, entry='main', check=False, **extravars) -> PlaybookRun:
    return run_playbook(play(kubeconfig, entry), extravars=dict({'deploy_k8s_workloads': APP}, **extravars),
                        check=check, diff=check)


def results(run: PlaybookRun) -> dict:
    return run.result('show the results')['msg']


def failure(run: PlaybookRun) -> str:
    failed = [entry['res'].get('msg', '') for entry in run.tasks if entry['res'].get('failed')]
    assert run.rc != 0 and failed, run.stdout
    return failed[-1]


def changed_tasks(run: PlaybookRun) -> list[str]:
    return [entry['task'] for entry in run.tasks if entry['res'].get('changed')]


@pytest.fixture()
def demo(kubesim):
    """examples/k8s applied with kubectl on the fast runtime, demoapp 1.0.0 rolled out."""
    kubectl = kubectl_for(kubesim.kubeconfig)
    assert 'deployment.apps/demoapp created' in kubectl('apply', '-f', str(MANIFESTS))
    kubectl('rollout', 'status', 'deployment/demoapp', 'statefulset/postgresql', '--timeout=60s')
    return kubesim, kubectl


# --- fast runtime -------------------------------------------------------------------------------------------

def test_rolling_upgrade_check_mode_history_and_idempotence(demo, run_playbook):
    kubesim, kubectl = demo
    generation = json.loads(kubectl('get', 'deployment', 'demoapp', '-o', 'json'))['metadata']['generation']

    planned = deploy(run_playbook, kubesim.kubeconfig, check=True, deploy_k8s_version='2.0.0')
    assert planned.rc == 0, planned.stdout
    dry = planned.result('Roll out demoapp 2.0.0')
    assert dry['changed'] is True and dry['images']['after'] == {'app': 'demoapp:2.0.0'}
    assert any(c.endswith('?dryRun=All') for c in dry['commands'])
    assert deployments(kubectl)['demoapp'] == (3, 'demoapp:1.0.0')
    assert json.loads(kubectl('get', 'deployment', 'demoapp', '-o', 'json'))['metadata']['generation'] == generation

    real = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0')
    assert real.rc == 0, real.stdout
    result = results(real)['deploy_result']
    assert (result['version_before'], result['version_after'], result['changed']) == ('1.0.0', '2.0.0', True)
    assert result['details']['workloads'][0]['revision'] == {'before': 1, 'after': 2}
    assert deployments(kubectl) == {'demoapp': (3, 'demoapp:2.0.0'), 'demoapp-canary': (0, 'demoapp:1.0.0')}
    assert pod_images(kubectl, 'app.kubernetes.io/component=stable') == ['demoapp:2.0.0'] * 3
    assert history(kubectl, 'deployment/demoapp') == ['1         <none>', '2         artisan.upgrade: 1.0.0 -> 2.0.0']
    kubectl('rollout', 'status', 'deployment/demoapp', '--timeout=5s')

    facts = deploy(run_playbook, kubesim.kubeconfig, entry='facts')
    assert facts.rc == 0, facts.stdout
    read = results(facts)['deploy_facts']
    assert (read['target'], read['version'], read['previous']) == ('k8s', '2.0.0', '1.0.0')
    [workload] = read['details']['workloads']
    assert workload['revision'] == 2 and workload['images'] == {'app': 'demoapp:2.0.0'}
    assert [(h['revision'], h['images'], h['change_cause']) for h in workload['history']] == [
        (1, {'app': 'demoapp:1.0.0'}, None), (2, {'app': 'demoapp:2.0.0'}, 'artisan.upgrade: 1.0.0 -> 2.0.0')]

    again = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0')
    assert again.rc == 0, again.stdout
    assert changed_tasks(again) == []
    assert results(again)['deploy_result']['changed'] is False
    checked_again = deploy(run_playbook, kubesim.kubeconfig, check=True, deploy_k8s_version='2.0.0')
    assert checked_again.rc == 0 and changed_tasks(checked_again) == [], checked_again.stdout
    assert len(history(kubectl, 'deployment/demoapp')) == 2


WORKER = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'worker', 'labels': {'app': 'worker'}},
          'spec': {'replicas': 2, 'selector': {'matchLabels': {'app': 'worker'}},
                   'strategy': {'rollingUpdate': {'maxSurge': 1, 'maxUnavailable': 0}},
                   'template': {'metadata': {'labels': {'app': 'worker'}},
                                'spec': {'containers': [{'name': 'app', 'image': 'worker:1.0.0'}]}}}}


def test_bad_image_is_undone_and_the_workloads_before_it_are_put_back(demo, run_playbook):
    kubesim, kubectl = demo
    kubectl('apply', '-f', '-', stdin=json.dumps(WORKER))
    kubectl('rollout', 'status', 'deployment/worker', '--timeout=60s')
    # The second workload's image does not exist (the fast runtime fails the pull of such a name).
    workloads = [{'name': 'worker', 'images': {'app': 'worker'}},
                 {'name': 'demoapp', 'images': {'app': 'registry.invalid/does-not-exist/demoapp'}}]
    started = time.monotonic()
    run = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', deploy_k8s_workloads=workloads,
                 deploy_k8s_failure_grace=3)
    elapsed = time.monotonic() - started
    print('bad image -> undone, worker put back, previous version serving: %.1f s (Ansible start included)' % elapsed)
    msg = failure(run)
    assert msg.startswith('The upgrade of worker, demoapp in namespace default to 2.0.0 failed (Roll out demoapp 2.0.0: '), msg
    assert 'ImagePullBackOff' in msg and 'undone to revision' in msg and 'worker put back on' in msg, msg
    result = results(run)['deploy_result']
    assert (result['version_before'], result['version_after']) == ('1.0.0', '1.0.0') and result['details']['error']
    assert deployments(kubectl)['worker'] == (2, 'worker:1.0.0')
    assert deployments(kubectl)['demoapp'] == (3, 'demoapp:1.0.0')
    kubectl('rollout', 'status', 'deployment/worker', 'deployment/demoapp', '--timeout=60s')
    assert pod_images(kubectl, 'app=worker') == ['worker:1.0.0'] * 2
    assert pod_images(kubectl, 'app.kubernetes.io/component=stable') == ['demoapp:1.0.0'] * 3
    # Each undo re-adopts the old ReplicaSet under the next revision number, as kubectl rollout undo does.
    assert history(kubectl, 'deployment/worker') == ['2         artisan.upgrade: 1.0.0 -> 2.0.0', '3         <none>']
    assert history(kubectl, 'deployment/demoapp')[-1] == '3         <none>'


def test_error_lines_in_the_new_pods_logs_fail_the_post_checks_and_everything_is_put_back(demo, run_playbook):
    kubesim, kubectl = demo
    kubectl('apply', '-f', '-', stdin=json.dumps(WORKER))
    kubectl('rollout', 'status', 'deployment/worker', '--timeout=60s')
    workloads = [{'name': 'worker', 'images': {'app': 'worker'}}] + APP
    # The fast runtime logs one line per container start: "kubesim: container app of pod <pod> started".
    run = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', deploy_k8s_workloads=workloads,
                 deploy_k8s_log_error_pattern='of pod demoapp-', deploy_k8s_log_error_max=2)
    msg = failure(run)
    assert 'post-checks failed: 3 error lines in the new pods\' logs (at most 2 allowed)' in msg, msg
    assert 'demoapp, worker put back on' in msg, msg
    kubectl('rollout', 'status', 'deployment/worker', 'deployment/demoapp', '--timeout=60s')
    assert deployments(kubectl)['worker'] == (2, 'worker:1.0.0')
    assert deployments(kubectl)['demoapp'] == (3, 'demoapp:1.0.0')

    passing = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', deploy_k8s_workloads=workloads,
                     deploy_k8s_log_error_pattern='of pod demoapp-', deploy_k8s_log_error_max=3)
    assert passing.rc == 0, passing.stdout
    assert [(w['name'], w['images']['after']) for w in results(passing)['deploy_result']['details']['workloads']] == [
        ('worker', {'app': 'worker:2.0.0'}), ('demoapp', {'app': 'demoapp:2.0.0'})]

    # rollback: the release before, as facts reads it; then the exact images of a record's details.
    back = deploy(run_playbook, kubesim.kubeconfig, entry='rollback', deploy_k8s_workloads=workloads)
    assert back.rc == 0, back.stdout
    assert results(back)['deploy_result']['version_after'] == '1.0.0'
    assert deployments(kubectl)['worker'] == (2, 'worker:1.0.0') and deployments(kubectl)['demoapp'] == (3, 'demoapp:1.0.0')
    details = {'workloads': [{'kind': 'Deployment', 'name': 'worker', 'images': {'app': 'worker:2.0.0'}},
                             {'kind': 'Deployment', 'name': 'demoapp', 'images': {'app': 'demoapp:2.0.0'}}]}
    exact = deploy(run_playbook, kubesim.kubeconfig, entry='rollback', deploy_k8s_workloads=workloads,
                   deploy_k8s_rollback_details=details)
    assert exact.rc == 0, exact.stdout
    assert deployments(kubectl)['worker'] == (2, 'worker:2.0.0') and deployments(kubectl)['demoapp'] == (3, 'demoapp:2.0.0')
    # Rolled back in reverse order: demoapp before worker.
    order = [item['__deploy_k8s_target']['name']
             for item in exact.result('Put back the images, in reverse rollout order')['results']]
    assert order == ['demoapp', 'worker'], order
    same = deploy(run_playbook, kubesim.kubeconfig, entry='rollback', deploy_k8s_workloads=workloads,
                  deploy_k8s_rollback_details=details)
    assert same.rc == 0 and changed_tasks(same) == [], same.stdout


def watch_replicas(kubesim, names, stop, seen):
    apps = client.AppsV1Api(kubesim.api_client())
    while not stop.is_set():
        items = {d.metadata.name: d.spec.replicas for d in apps.list_namespaced_deployment('default').items}
        pair = tuple(items.get(name) for name in names)
        if not seen or seen[-1] != pair:
            seen.append(pair)
        time.sleep(0.02)


def test_canary_steps_of_ten_then_an_abort_restores_stable(demo, run_playbook):
    kubesim, kubectl = demo
    planned = deploy(run_playbook, kubesim.kubeconfig, check=True, deploy_k8s_version='2.0.0',
                     deploy_k8s_strategy='canary', deploy_k8s_canary_total=10)
    assert planned.rc == 0, planned.stdout
    assert planned.result('Give the canary demoapp-canary 2.0.0')['images']['after'] == {'app': 'demoapp:2.0.0'}
    assert deployments(kubectl) == {'demoapp': (3, 'demoapp:1.0.0'), 'demoapp-canary': (0, 'demoapp:1.0.0')}
    seen: list[tuple[int, int]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_replicas, args=(kubesim, ['demoapp', 'demoapp-canary'], stop, seen), daemon=True)
    watcher.start()
    try:
        run = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', deploy_k8s_strategy='canary',
                     deploy_k8s_canary_total=10)
    finally:
        stop.set()
        watcher.join(5)
    assert run.rc == 0, run.stdout
    # The runbook's 1, 3, 5, 10 canary pods of 10, the stable ones shrinking to match, then all back on stable.
    canary_counts = [canary for _stable, canary in seen]
    for pods in (1, 3, 5, 10):
        assert pods in canary_counts, seen
    assert canary_counts.index(1) < canary_counts.index(3) < canary_counts.index(5) < canary_counts.index(10), seen
    assert seen[-1] == (10, 0), seen
    assert deployments(kubectl) == {'demoapp': (10, 'demoapp:2.0.0'), 'demoapp-canary': (0, 'demoapp:2.0.0')}
    assert pod_images(kubectl, 'app.kubernetes.io/name=demoapp') == ['demoapp:2.0.0'] * 10
    analyses = [entry for entry in run.tasks if entry['task'] == 'Pass the post-checks']
    assert len(analyses) == 5, 'one analysis per step and one at the end'
    assert results(run)['deploy_result']['version_after'] == '2.0.0'

    again = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', deploy_k8s_strategy='canary')
    assert again.rc == 0 and changed_tasks(again) == [], again.stdout

    # A canary whose pods crash never becomes available: the step gives up once a pod has crash-looped for
    # deploy_k8s_failure_grace (not at deploy_k8s_timeout), the stable keeps (gets back) every pod.
    crashing = [{'name': 'demoapp', 'images': {'app': 'crashloop/demoapp'}}]
    aborted = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='3.0.0', deploy_k8s_strategy='canary',
                     deploy_k8s_workloads=crashing, deploy_k8s_timeout=300, deploy_k8s_failure_grace=3)
    msg = failure(aborted)
    assert 'The canary of demoapp in namespace default to 3.0.0 failed (Shift to the canary, percent 10' in msg, msg
    assert 'pods of demoapp-canary are failing (failure_grace 3s): pod demoapp-canary-' in msg, msg
    assert 'CrashLoopBackOff' in msg, msg
    assert 'Aborted: demoapp-canary scaled to 0, demoapp back on demoapp:2.0.0 with 10 pods.' in msg, msg
    result = results(aborted)['deploy_result']
    assert (result['version_before'], result['version_after'], result['changed']) == ('2.0.0', '2.0.0', True)
    assert [(w['name'], w['images']['after']) for w in result['details']['workloads']] == [
        ('demoapp-canary', {'app': 'crashloop/demoapp:3.0.0'})]
    kubectl('rollout', 'status', 'deployment/demoapp', '--timeout=60s')
    assert deployments(kubectl)['demoapp'] == (10, 'demoapp:2.0.0') and deployments(kubectl)['demoapp-canary'][0] == 0
    assert pod_images(kubectl, 'app.kubernetes.io/name=demoapp') == ['demoapp:2.0.0'] * 10


SLOTS = [{'name': 'demoapp-blue', 'images': {'app': 'demoapp'}}, {'name': 'demoapp-green', 'images': {'app': 'demoapp'}}]


def watch_switch(kubesim, stop, seen):
    """(blue replicas, green available, Service selector's slot) each time one of them changes."""
    api_client = kubesim.api_client()
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    while not stop.is_set():
        blue = apps.read_namespaced_deployment('demoapp-blue', 'default')
        green = apps.read_namespaced_deployment('demoapp-green', 'default')
        slot = core.read_namespaced_service('demoapp-live', 'default').spec.selector['app.kubernetes.io/component']
        state = (blue.spec.replicas, green.status.available_replicas or 0, slot)
        if not seen or seen[-1] != state:
            seen.append(state)
        time.sleep(0.02)


def test_blue_green_switches_the_service_once_the_new_slot_is_ready(kubesim, run_playbook):
    kubectl = kubectl_for(kubesim.kubeconfig)
    kubectl('apply', '-f', str(MANIFESTS / 'demoapp-configmap.yaml'), '-f', str(MANIFESTS / 'demoapp-secret.yaml'),
            '-f', str(MANIFESTS / 'blue-green'))
    kubectl('rollout', 'status', 'deployment/demoapp-blue', '--timeout=60s')
    options = dict(deploy_k8s_strategy='blue_green', deploy_k8s_blue_green_service='demoapp-live',
                   deploy_k8s_blue_green_grace=1)
    planned = deploy(run_playbook, kubesim.kubeconfig, check=True, deploy_k8s_version='2.0.0', deploy_k8s_workloads=SLOTS,
                     **options)
    assert planned.rc == 0, planned.stdout
    assert deployments(kubectl) == {'demoapp-blue': (3, 'demoapp:1.0.0'), 'demoapp-green': (0, 'demoapp:1.0.0')}

    seen: list[tuple[int, int, str]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_switch, args=(kubesim, stop, seen), daemon=True)
    watcher.start()
    try:
        run = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', deploy_k8s_workloads=SLOTS, **options)
    finally:
        stop.set()
        watcher.join(5)
    assert run.rc == 0, run.stdout
    # The Service moves to green only when green has all 3 pods available; blue keeps its 3 until after.
    switched = next(index for index, state in enumerate(seen) if state[2] == 'green')
    assert seen[switched][:2] == (3, 3), seen
    assert all(state[0] == 3 for state in seen[:switched + 1]), seen
    assert seen[-1] == (0, 3, 'green'), seen
    assert deployments(kubectl) == {'demoapp-blue': (0, 'demoapp:1.0.0'), 'demoapp-green': (3, 'demoapp:2.0.0')}
    result = results(run)['deploy_result']
    assert (result['version_before'], result['version_after'], result['changed']) == ('1.0.0', '2.0.0', True)
    again = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', deploy_k8s_workloads=SLOTS, **options)
    assert again.rc == 0 and changed_tasks(again) == [], again.stdout
    assert results(again)['deploy_facts']['version'] == '2.0.0'

    # The next release goes to blue, whose pods crash: given up once a pod has crash-looped for deploy_k8s_failure_grace
    # (3 s), not at deploy_k8s_timeout (300 s, the only end of that wait before); the Service stays on green, blue back to 0.
    crashing = [dict(slot, images={'app': 'crashloop/demoapp'}) for slot in SLOTS]
    failed = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='3.0.0', deploy_k8s_timeout=300,
                    deploy_k8s_failure_grace=3, deploy_k8s_workloads=crashing, **options)
    msg = failure(failed)
    assert msg.startswith('The blue-green switch of demoapp-live from demoapp-green to demoapp-blue (3.0.0) failed'), msg
    assert ('(Start as many pods in the idle slot as the live one runs: waiting for 3 available pods of demoapp-blue: '
            'pods of demoapp-blue are failing (failure_grace 3s): pod demoapp-blue-') in msg, msg
    assert 'CrashLoopBackOff' in msg and 'scaled demoapp-blue back to 0, demoapp-green untouched' in msg, msg
    assert msg.endswith('demoapp-live serves demoapp-green again, demoapp-blue scaled to 0.'), msg
    assert deployments(kubectl)['demoapp-green'] == (3, 'demoapp:2.0.0') and deployments(kubectl)['demoapp-blue'][0] == 0
    assert json.loads(kubectl('get', 'service', 'demoapp-live', '-o', 'json'))['spec']['selector'] == {
        'app.kubernetes.io/name': 'demoapp', 'app.kubernetes.io/component': 'green'}


@pytest.mark.parametrize('extravars, expected', [
    ({'deploy_k8s_version': '2.0.0', 'deploy_k8s_workloads': [{'name': 'nosuch', 'images': {'app': 'demoapp'}}]},
     'deployment nosuch not found in namespace default'),
    ({'deploy_k8s_version': '2.0 .0'}, 'deploy_k8s_version must be an image tag such as 2.0.0'),
    ({'deploy_k8s_version': '2.0.0', 'deploy_k8s_workloads': [{'name': 'demoapp'}]},
     'deploy_k8s_workloads must list the application\'s Deployments/StatefulSets'),
    ({'deploy_k8s_version': '2.0.0', 'deploy_k8s_strategy': 'canary', 'deploy_k8s_canary_steps': [50, 10, 100]},
     'deploy_k8s_canary_steps rising percentages ending at 100'),
], ids=['missing-deployment', 'malformed-version', 'no-images', 'steps-not-rising'])
def test_bad_input_fails_before_anything_changes_with_a_clear_message(demo, run_playbook, extravars, expected):
    kubesim, kubectl = demo
    before = deployments(kubectl)
    run = deploy(run_playbook, kubesim.kubeconfig, **extravars)
    assert expected in failure(run)
    assert deployments(kubectl) == before


# --- docker runtime: real demoapp pods behind the Service's proxy ------------------------------------------

def migration_job(version):
    """The release's migrations as a one-off Job (what the migrate role runs before the deploy)."""
    return {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': 'demoapp-migrate-%s' % version.replace('.', '-')},
            'spec': {'backoffLimit': 3, 'template': {'spec': {'restartPolicy': 'Never', 'containers': [{
                'name': 'migrate', 'image': 'demoapp:%s' % version, 'command': ['demoapp', 'migrate', 'upgrade', 'head'],
                'envFrom': [{'configMapRef': {'name': 'demoapp-config'}}, {'secretRef': {'name': 'demoapp-secret'}}]}]}}}}


def migrate(kubectl, version):
    job = migration_job(version)
    kubectl('apply', '-f', '-', stdin=json.dumps(job))
    kubectl('wait', '--for=condition=complete', 'job/' + job['metadata']['name'], '--timeout=180s')


def demo_database(kubectl):
    """PostgreSQL, the app's ConfigMap and Secret applied, the schema of 1.0.0 migrated by a Job."""
    database = ['demoapp-configmap.yaml', 'demoapp-secret.yaml', 'postgresql-secret.yaml', 'postgresql-service.yaml',
                'postgresql-statefulset.yaml']
    kubectl('apply', *[arg for name in database for arg in ('-f', str(MANIFESTS / name))])
    # kubesim has no cluster DNS: pods reach the database by its pod name, not by the Service's name.
    url = 'postgresql://demoapp:demoapp-demo-pw@postgresql-0:5432/demoapp'
    kubectl('patch', 'secret', 'demoapp-secret', '--type=merge', '-p',
            json.dumps({'stringData': {'DATABASE_URL': url, 'DATABASE_URI': url}}))
    kubectl('rollout', 'status', 'statefulset/postgresql', '--timeout=240s')
    migrate(kubectl, '1.0.0')


def test_rolling_upgrade_serves_every_request_through_the_service(kubesim_docker, run_playbook):
    kubectl = kubectl_for(kubesim_docker.kubeconfig)
    demo_database(kubectl)
    app = ['demoapp-deployment.yaml', 'demoapp-canary-deployment.yaml', 'demoapp-service.yaml']
    kubectl('apply', *[arg for name in app for arg in ('-f', str(MANIFESTS / name))])
    # Simulated time runs 5x faster than the containers start: on a loaded machine the default progress
    # deadline (600 simulated seconds, 2 minutes) can pass while the first pods start.
    kubectl('patch', 'deployment', 'demoapp', '-p', json.dumps({'spec': {'progressDeadlineSeconds': 3600}}))
    ready = subprocess.run([shutil.which('kubectl'), '--kubeconfig', kubesim_docker.kubeconfig, 'rollout', 'status',
                            'deployment/demoapp', '--timeout=480s'], capture_output=True, text=True, timeout=600, check=False)
    assert ready.returncode == 0, '%s\n%s' % (ready.stderr, kubectl('describe', 'pods', '-l', 'app.kubernetes.io/component=stable'))
    migrate(kubectl, '2.0.0')  # expand: 1.0.0 stays ready on the new schema
    deadline = time.monotonic() + 60
    while kubesim_docker.service_address('demoapp') is None:
        assert time.monotonic() < deadline, 'the Service has no proxy'
        time.sleep(0.2)
    host, port = kubesim_docker.service_address('demoapp')
    started = time.monotonic()
    with SteadyLoad('http://%s:%d/version' % (host, port), max_requests=20000, max_seconds=600, pause=0.02) as load:
        run = deploy(run_playbook, kubesim_docker.kubeconfig, deploy_k8s_version='2.0.0', deploy_k8s_timeout=300)
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.stdout
    print('rolling 1.0.0 -> 2.0.0 on real pods: %.1f s, %d requests through the Service, %d failed, answers %s'
          % (elapsed, load.total, len(load.failures), dict(load.answers)))
    assert load.total > 50, 'the request stream did not run'
    assert load.failures == [], load.failures[:10]
    assert {json.loads(answer)['version'] for answer in load.answers} == {'1.0.0', '2.0.0'}
    assert deployments(kubectl)['demoapp'] == (3, 'demoapp:2.0.0')
    assert history(kubectl, 'deployment/demoapp')[-1] == '2         artisan.upgrade: 1.0.0 -> 2.0.0'
    kubectl('delete', 'job', '--all', '--wait=false')
