"""deploy_k8s's canary through ingress-nginx and its blue-green rollback, on kubesim's fast runtime with the demo
app's manifests applied by kubectl (examples/k8s/ingress/, examples/k8s/blue-green/).

kubesim stores Ingresses but routes no traffic through them (no ingress controller), so the canary test reads
what ingress-nginx would read: the canary Ingress's annotations at each step, streamed by ``kubectl get -w``
(an independent client), and the Deployments as kubectl reads them.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from .test_deploy_k8s import MANIFESTS, SLOTS, changed_tasks, deploy, deployments, failure, kubectl_for, pod_images, results

WEIGHT = 'nginx.ingress.kubernetes.io/canary-weight'
CANARY = 'nginx.ingress.kubernetes.io/canary'
INGRESS = dict(deploy_k8s_strategy='canary', deploy_k8s_canary_via='ingress', deploy_k8s_canary_ingress='demoapp')


def ingress_layout(kubesim):
    """The stable Deployment (3 pods) and the canary (0) with a Service each, and the Ingress users reach."""
    kubectl = kubectl_for(kubesim.kubeconfig)
    files = ['demoapp-configmap.yaml', 'demoapp-secret.yaml', 'demoapp-deployment.yaml', 'demoapp-canary-deployment.yaml']
    kubectl('apply', *[arg for name in files for arg in ('-f', str(MANIFESTS / name))], '-f', str(MANIFESTS / 'ingress'))
    kubectl('rollout', 'status', 'deployment/demoapp', '--timeout=60s')
    return kubectl


class IngressWatch:
    """``kubectl get ingresses -w --output-watch-events -o json``: every change of every Ingress, in order."""

    def __init__(self, kubeconfig):
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [shutil.which('kubectl'), '--kubeconfig', kubeconfig, 'get', 'ingresses', '-w', '--output-watch-events',
             '-o', 'json'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def stop(self) -> list[tuple[str, str, str | None, str | None]]:
        """(event, Ingress, canary annotation, canary-weight annotation) for each event seen."""
        self.process.terminate()
        out, _err = self.process.communicate(timeout=30)
        decoder, index, events = json.JSONDecoder(), 0, []
        while index < len(out):
            if out[index].isspace():
                index += 1
                continue
            event, index = decoder.raw_decode(out, index)
            annotations = event['object']['metadata'].get('annotations') or {}
            events.append((event['type'], event['object']['metadata']['name'], annotations.get(CANARY), annotations.get(WEIGHT)))
        return events


def test_canary_through_ingress_nginx_steps_the_weight_then_removes_the_canary(kubesim, run_playbook):
    kubectl = ingress_layout(kubesim)
    planned = deploy(run_playbook, kubesim.kubeconfig, check=True, deploy_k8s_version='2.0.0', **INGRESS)
    assert planned.rc == 0, planned.stdout
    assert deployments(kubectl) == {'demoapp': (3, 'demoapp:1.0.0'), 'demoapp-canary': (0, 'demoapp:1.0.0')}
    assert [i['metadata']['name'] for i in json.loads(kubectl('get', 'ingresses', '-o', 'json'))['items']] == ['demoapp']

    watch = IngressWatch(kubesim.kubeconfig)
    try:
        run = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', **INGRESS)
    finally:
        events = watch.stop()
    assert run.rc == 0, run.stdout
    canary = [(kind, flag, weight) for kind, name, flag, weight in events if name == 'demoapp-canary']
    # ingress-nginx reads a canary Ingress at 10, 30, 50 and 100 % in turn; then it is gone (all to stable).
    assert canary == [('ADDED', 'true', '10'), ('MODIFIED', 'true', '30'), ('MODIFIED', 'true', '50'),
                      ('MODIFIED', 'true', '100'), ('DELETED', 'true', '100')], events
    analyses = [entry for entry in run.tasks if entry['task'] == 'Pass the post-checks']
    assert len(analyses) == 5, 'one analysis per weight and one at the end'
    spec = run.result('Set the canary Ingress weight, percent 10')['after']['spec']
    assert spec['rules'][0]['host'] == 'demoapp.example.com'
    assert spec['rules'][0]['http']['paths'][0]['backend']['service'] == {'name': 'demoapp-canary', 'port': {'name': 'http'}}
    assert deployments(kubectl) == {'demoapp': (3, 'demoapp:2.0.0'), 'demoapp-canary': (0, 'demoapp:2.0.0')}
    assert pod_images(kubectl, 'app.kubernetes.io/name=demoapp') == ['demoapp:2.0.0'] * 3
    assert [i['metadata']['name'] for i in json.loads(kubectl('get', 'ingresses', '-o', 'json'))['items']] == ['demoapp']
    assert results(run)['deploy_result']['version_after'] == '2.0.0'

    again = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', **INGRESS)
    assert again.rc == 0 and changed_tasks(again) == [], again.stdout

    # A canary whose pods crash is stopped (after deploy_k8s_failure_grace) before ingress-nginx sends it anything.
    crashing = [{'name': 'demoapp', 'images': {'app': 'crashloop/demoapp'}}]
    watch = IngressWatch(kubesim.kubeconfig)
    try:
        aborted = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='3.0.0', deploy_k8s_workloads=crashing,
                         deploy_k8s_timeout=300, deploy_k8s_failure_grace=3, **INGRESS)
    finally:
        events = watch.stop()
    msg = failure(aborted)
    assert 'The canary of demoapp in namespace default to 3.0.0 through Ingress demoapp failed' in msg, msg
    assert 'pods of demoapp-canary are failing (failure_grace 3s): pod demoapp-canary-' in msg, msg
    assert msg.endswith('Aborted: canary Ingress demoapp-canary removed, demoapp-canary scaled to 0, demoapp back on '
                        'demoapp:2.0.0 with 3 pods.'), msg
    assert [event for event in events if event[1] == 'demoapp-canary'] == [], events
    assert deployments(kubectl)['demoapp'] == (3, 'demoapp:2.0.0') and deployments(kubectl)['demoapp-canary'][0] == 0


def test_an_ingress_canary_aborted_by_its_analysis_goes_back_to_weight_0_and_is_removed(kubesim, run_playbook):
    kubectl = ingress_layout(kubesim)
    # The fast runtime logs "kubesim: container app of pod <pod> started" once per pod: an error pattern that
    # matches it fails the first analysis, after the canary Ingress went to 10 %.
    watch = IngressWatch(kubesim.kubeconfig)
    try:
        run = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', deploy_k8s_log_error_pattern='started',
                     **INGRESS)
    finally:
        events = watch.stop()
    msg = failure(run)
    assert 'failed (Pass the post-checks: post-checks failed: 3 error lines' in msg, msg
    assert 'Aborted: canary Ingress demoapp-canary removed' in msg, msg
    assert [event for event in events if event[1] == 'demoapp-canary'] == [
        ('ADDED', 'demoapp-canary', 'true', '10'), ('DELETED', 'demoapp-canary', 'true', '10')], events
    assert deployments(kubectl) == {'demoapp': (3, 'demoapp:1.0.0'), 'demoapp-canary': (0, 'demoapp:2.0.0')}
    assert [i['metadata']['name'] for i in json.loads(kubectl('get', 'ingresses', '-o', 'json'))['items']] == ['demoapp']


def service_slot(kubectl) -> str:
    return json.loads(kubectl('get', 'service', 'demoapp-live', '-o', 'json'))['spec']['selector']['app.kubernetes.io/component']


def test_blue_green_rollback_switches_the_service_back_to_the_old_slot(kubesim, run_playbook):
    kubectl = kubectl_for(kubesim.kubeconfig)
    kubectl('apply', '-f', str(MANIFESTS / 'demoapp-configmap.yaml'), '-f', str(MANIFESTS / 'demoapp-secret.yaml'),
            '-f', str(MANIFESTS / 'blue-green'))
    kubectl('rollout', 'status', 'deployment/demoapp-blue', '--timeout=60s')
    options = dict(deploy_k8s_strategy='blue_green', deploy_k8s_blue_green_service='demoapp-live',
                   deploy_k8s_blue_green_grace=0, deploy_k8s_workloads=SLOTS)
    facts = results(deploy(run_playbook, kubesim.kubeconfig, entry='facts', **options))['deploy_facts']
    upgraded = deploy(run_playbook, kubesim.kubeconfig, deploy_k8s_version='2.0.0', **options)
    assert upgraded.rc == 0, upgraded.stdout
    assert deployments(kubectl) == {'demoapp-blue': (0, 'demoapp:1.0.0'), 'demoapp-green': (3, 'demoapp:2.0.0')}
    assert service_slot(kubectl) == 'green'
    blue_history = json.loads(kubectl('get', 'deployment', 'demoapp-blue', '-o', 'json'))['metadata']['generation']

    # The record of a later upgrade that failed before its switch (green live on 2.0.0, blue idle on 1.0.0): nothing
    # to switch back, and what serves after the rollback is green's 2.0.0, not the idle slot's template.
    now = results(deploy(run_playbook, kubesim.kubeconfig, entry='facts', **options))['deploy_facts']
    kept = deploy(run_playbook, kubesim.kubeconfig, entry='rollback', deploy_k8s_rollback_details=now['details'], **options)
    assert kept.rc == 0 and changed_tasks(kept) == [], kept.stdout
    result = results(kept)['deploy_result']
    assert (result['version_before'], result['version_after'], result['changed']) == ('2.0.0', '2.0.0', False)
    assert service_slot(kubectl) == 'green'

    planned = deploy(run_playbook, kubesim.kubeconfig, entry='rollback', check=True, deploy_k8s_rollback_details=facts['details'],
                     **options)
    assert planned.rc == 0, planned.stdout
    assert service_slot(kubectl) == 'green' and deployments(kubectl)['demoapp-blue'][0] == 0

    back = deploy(run_playbook, kubesim.kubeconfig, entry='rollback', deploy_k8s_rollback_details=facts['details'], **options)
    assert back.rc == 0, back.stdout
    # blue scaled up (it was at 0) and Ready before the Service moved; no rollout undo: blue's template unchanged.
    assert service_slot(kubectl) == 'blue'
    assert deployments(kubectl) == {'demoapp-blue': (3, 'demoapp:1.0.0'), 'demoapp-green': (0, 'demoapp:2.0.0')}
    assert pod_images(kubectl, 'app.kubernetes.io/component=blue') == ['demoapp:1.0.0'] * 3
    assert json.loads(kubectl('get', 'deployment', 'demoapp-blue', '-o', 'json'))['metadata']['generation'] == blue_history + 1
    endpoints = json.loads(kubectl('get', 'endpoints', 'demoapp-live', '-o', 'json'))
    assert len([a for subset in endpoints.get('subsets') or [] for a in subset.get('addresses') or []]) == 3
    result = results(back)['deploy_result']
    assert (result['strategy'], result['version_before'], result['version_after'], result['changed']) == (
        'rollback', '2.0.0', '1.0.0', True)
    assert changed_tasks(back) == ['Start as many pods in the old slot as the live one runs',
                                   'Switch the Service back to the old slot', 'Scale the slot rolled back from to 0'], back.stdout

    # The record's details say blue was on 1.0.0: a second rollback has nothing to do; so does one by version.
    same = deploy(run_playbook, kubesim.kubeconfig, entry='rollback', deploy_k8s_rollback_details=facts['details'], **options)
    assert same.rc == 0 and changed_tasks(same) == [], same.stdout
    by_version = deploy(run_playbook, kubesim.kubeconfig, entry='rollback', deploy_k8s_rollback_version='1.0.0', **options)
    assert by_version.rc == 0 and changed_tasks(by_version) == [], by_version.stdout
    assert service_slot(kubectl) == 'blue'
