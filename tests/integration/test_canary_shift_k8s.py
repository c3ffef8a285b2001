"""canary_shift's Kubernetes providers against kubesim (the project's API simulator, fast runtime).

The outcome is read back from the API independently of the module's answer: Deployments watched
while they are scaled (capacity must never dip), the canary Ingress's annotations and backends,
the Service's selector and its Endpoints.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time

import pytest
from kubernetes import client, watch

from .helpers.ansible import assert_ok, run_module_tasks
from .helpers.postgres import free_port

MODULE = 'artisan.upgrade.canary_shift'
NAMESPACE = 'default'


def deployment(name, version, replicas, image='demoapp:1.0.0'):
    labels = {'app': 'web', 'version': version}
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name, 'labels': labels},
            'spec': {'replicas': replicas, 'selector': {'matchLabels': labels},
                     'template': {'metadata': {'labels': labels},
                                  'spec': {'containers': [{'name': 'web', 'image': image, 'ports': [{'containerPort': 8000}]}]}}}}


def service(name, selector):
    return {'metadata': {'name': name}, 'spec': {'selector': selector, 'ports': [{'port': 80, 'targetPort': 8000}]}}


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.05)


@pytest.fixture()
def cluster(kubesim):
    api_client = kubesim.api_client()
    yield dict(apps=client.AppsV1Api(api_client), core=client.CoreV1Api(api_client),
               networking=client.NetworkingV1Api(api_client), kubeconfig=kubesim.kubeconfig)
    api_client.close()


def ready_addresses(core, service_name):
    """IPs of the Service's ready endpoints; none while the endpoints controller has not written them yet."""
    try:
        endpoints = core.read_namespaced_endpoints(service_name, NAMESPACE)
    except client.ApiException as exc:
        if exc.status == 404:
            return set()
        raise
    return {address.ip for subset in endpoints.subsets or [] for address in subset.addresses or []}


def available(apps, name):
    return apps.read_namespaced_deployment(name, NAMESPACE).status.available_replicas or 0


@pytest.fixture()
def two_versions(cluster):
    """web-v1 with 10 available pods, web-v2 with none, as before a canary starts."""
    cluster['apps'].create_namespaced_deployment(NAMESPACE, deployment('web-v1', '1', 10))
    cluster['apps'].create_namespaced_deployment(NAMESPACE, deployment('web-v2', '2', 0))
    wait_for(lambda: available(cluster['apps'], 'web-v1') == 10)
    return cluster


def run_tasks(run_playbook, tasks):
    return run_module_tasks(run_playbook, MODULE, tasks)


class CapacityWatch:
    """Every Deployment event while a shift runs: the lowest total of available pods, and the event log."""

    def __init__(self, apps):
        self.apps = apps
        self.latest = {}
        self.log = []
        self.lowest = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        version = self.apps.list_namespaced_deployment(NAMESPACE).metadata.resource_version
        while not self._stop.is_set():
            # Short watches chained by resourceVersion: no event is missed, and stop() is seen within 1 s.
            for event in watch.Watch().stream(self.apps.list_namespaced_deployment, NAMESPACE,
                                              resource_version=version, timeout_seconds=1):
                item = event['object']
                version = item.metadata.resource_version
                self.latest[item.metadata.name] = (item.spec.replicas, item.status.available_replicas or 0)
                self.log.append((item.metadata.name,) + self.latest[item.metadata.name])
                total = sum(avail for _spec, avail in self.latest.values())
                self.lowest = total if self.lowest is None else min(self.lowest, total)

    def __enter__(self):
        for item in self.apps.list_namespaced_deployment(NAMESPACE).items:
            self.latest[item.metadata.name] = (item.spec.replicas, item.status.available_replicas or 0)
        self.lowest = sum(avail for _spec, avail in self.latest.values())
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def writes(result):
    """The API requests of a result that change something (every request is recorded as METHOD path)."""
    return [command for command in result['commands'] if not command.startswith('GET ')]


def replicas_args(cluster, weight, **extra):
    return dict(provider='k8s_replicas', weight=weight, kubeconfig=cluster['kubeconfig'], wait_timeout=60,
                k8s_replicas=dict(stable='web-v1', canary='web-v2', total=10), **extra)


def test_replicas_check_real_check_real_never_dip_below_the_total(two_versions, run_playbook):
    apps = two_versions['apps']
    args = replicas_args(two_versions, 30)
    [planned] = run_tasks(run_playbook, [(args, {'check_mode': True})])
    assert_ok(planned)
    assert planned['changed'] is True and planned['after'] == {'stable': 7, 'canary': 3}
    assert apps.read_namespaced_deployment('web-v2', NAMESPACE).spec.replicas == 0

    with CapacityWatch(apps) as capacity:
        real, check_again, real_again = run_tasks(run_playbook, [args, (args, {'check_mode': True}), args])
    assert_ok(real)
    assert real['changed'] is True and real['before_weight'] == 0 and real['achieved_weight'] == 30
    # Every API request as METHOD path: the two scales, and the watch of web-v2 between them.
    scales = [c for c in real['commands'] if c.startswith('PATCH ')]
    assert scales == ['PATCH /apis/apps/v1/namespaces/default/deployments/web-v2/scale',
                      'PATCH /apis/apps/v1/namespaces/default/deployments/web-v1/scale']
    watch = real['commands'].index('GET /apis/apps/v1/namespaces/default/deployments?watch=true')
    assert real['commands'].index(scales[0]) < watch < real['commands'].index(scales[1]), real['commands']
    assert isinstance(real['duration'], float)
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False and writes(again) == []
    assert capacity.lowest >= 10, capacity.log
    shrink = next(i for i, entry in enumerate(capacity.log) if entry[:2] == ('web-v1', 7))
    assert capacity.latest['web-v2'][1] >= 3 and ('web-v2', 3, 3) in capacity.log[:shrink], capacity.log
    assert apps.read_namespaced_deployment('web-v1', NAMESPACE).spec.replicas == 7

    with CapacityWatch(apps) as capacity:
        [back] = run_tasks(run_playbook, [replicas_args(two_versions, 0)])
    assert_ok(back)
    assert writes(back)[0] == 'PATCH /apis/apps/v1/namespaces/default/deployments/web-v1/scale'
    assert capacity.lowest >= 10, capacity.log
    wait_for(lambda: available(apps, 'web-v1') == 10)
    assert apps.read_namespaced_deployment('web-v2', NAMESPACE).spec.replicas == 0


def test_replicas_rounding_and_a_canary_that_never_gets_ready(two_versions, run_playbook):
    apps = two_versions['apps']
    apps.patch_namespaced_deployment('web-v2', NAMESPACE, {'spec': {'template': {'spec': {'containers': [
        {'name': 'web', 'image': 'demoapp:neverready'}]}}}})
    odd = dict(replicas_args(two_versions, 25), k8s_replicas=dict(stable='web-v1', canary='web-v2', total=3))
    closed = 'http://127.0.0.1:%d' % free_port()
    stuck, missing, zero, no_kubeconfig, unreachable = run_tasks(run_playbook, [
        dict(replicas_args(two_versions, 30), wait_timeout=3),
        dict(replicas_args(two_versions, 30), k8s_replicas=dict(stable='web-v1', canary='nope', total=10)),
        dict(replicas_args(two_versions, 30), k8s_replicas=dict(stable='web-v1', canary='web-v2', total=0)),
        dict(replicas_args(two_versions, 30), kubeconfig='/nonexistent/kubeconfig'),
        dict(replicas_args(two_versions, 30), kubeconfig=None, host=closed),
    ])
    assert no_kubeconfig['failed'] and 'cannot load kubeconfig /nonexistent/kubeconfig' in no_kubeconfig['msg']
    assert unreachable['failed'] and 'cannot reach the Kubernetes API at %s' % closed in unreachable['msg']
    assert stuck['failed']
    assert 'waiting for 3 available pods of web-v2: not done within 3.0s; scaled web-v2 back to 0, web-v1 untouched' in stuck['msg']
    assert apps.read_namespaced_deployment('web-v2', NAMESPACE).spec.replicas == 0
    assert apps.read_namespaced_deployment('web-v1', NAMESPACE).spec.replicas == 10
    assert missing['failed'] and 'Deployment default/nope not found' in missing['msg']
    assert zero['failed'] and 'total replicas must be 1 or more, got 0' in zero['msg']

    [planned] = run_tasks(run_playbook, [(odd, {'check_mode': True})])
    assert_ok(planned)
    assert planned['after'] == {'stable': 2, 'canary': 1} and planned['achieved_weight'] == 33.33


def main_ingress():
    return {'apiVersion': 'networking.k8s.io/v1', 'kind': 'Ingress', 'metadata': {'name': 'web'},
            'spec': {'ingressClassName': 'nginx', 'rules': [{'host': 'shop.example', 'http': {'paths': [
                {'path': '/', 'pathType': 'Prefix', 'backend': {'service': {'name': 'web-v1', 'port': {'number': 80}}}}]}}]}}


def test_ingress_nginx_check_real_check_real_then_patch(cluster, run_playbook):
    apps, core, networking = cluster['apps'], cluster['core'], cluster['networking']
    apps.create_namespaced_deployment(NAMESPACE, deployment('web-v2', '2', 2))
    core.create_namespaced_service(NAMESPACE, service('web-v2', {'app': 'web', 'version': '2'}))
    core.create_namespaced_service(NAMESPACE, service('web-v3', {'app': 'web', 'version': '3'}))
    networking.create_namespaced_ingress(NAMESPACE, main_ingress())
    wait_for(lambda: ready_addresses(core, 'web-v2'))

    def args(weight, **options):
        return dict(provider='k8s_ingress_nginx', weight=weight, kubeconfig=cluster['kubeconfig'],
                    k8s_ingress_nginx=dict(dict(ingress='web', service='web-v2', header='X-Canary'), **options))

    check = (args(20), {'check_mode': True})
    [planned] = run_tasks(run_playbook, [check])
    assert_ok(planned)
    assert planned['changed'] is True and planned['changes'] == ['create Ingress web-canary']
    assert [i.metadata.name for i in networking.list_namespaced_ingress(NAMESPACE).items] == ['web']

    real, check_again, real_again, more = run_tasks(run_playbook, [args(20), check, args(20), args(50)])
    assert_ok(real)
    assert real['changed'] is True and real['ingress'] == 'web-canary'
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False and again['before_weight'] == 20
    assert_ok(more)
    assert more['changes'] == ['nginx.ingress.kubernetes.io/canary-weight: 20 -> 50'] and more['before_weight'] == 20

    canary = networking.read_namespaced_ingress('web-canary', NAMESPACE)
    annotations = canary.metadata.annotations
    assert annotations['nginx.ingress.kubernetes.io/canary'] == 'true'
    assert annotations['nginx.ingress.kubernetes.io/canary-weight'] == '50'
    assert annotations['nginx.ingress.kubernetes.io/canary-by-header'] == 'X-Canary'
    path = canary.spec.rules[0].http.paths[0]
    assert canary.spec.rules[0].host == 'shop.example' and path.path == '/'
    assert path.backend.service.name == 'web-v2' and path.backend.service.port.number == 80
    assert networking.read_namespaced_ingress('web', NAMESPACE).spec.rules[0].http.paths[0].backend.service.name == 'web-v1'

    no_endpoints, no_main = run_tasks(run_playbook, [
        args(10, service='web-v3', canary_ingress='web-v3-canary'), args(10, ingress='shop')])
    assert no_endpoints['failed'] and 'Service default/web-v3 has no Ready endpoints' in no_endpoints['msg']
    assert no_main['failed'] and 'Ingress default/shop not found' in no_main['msg']
    assert [i.metadata.name for i in networking.list_namespaced_ingress(NAMESPACE).items] == ['web', 'web-canary']


def test_service_switch_check_real_check_real_and_refusals(cluster, run_playbook):
    apps, core = cluster['apps'], cluster['core']
    apps.create_namespaced_deployment(NAMESPACE, deployment('web-v1', '1', 2))
    apps.create_namespaced_deployment(NAMESPACE, deployment('web-v2', '2', 3))
    core.create_namespaced_service(NAMESPACE, service('web', {'app': 'web', 'version': '1'}))
    wait_for(lambda: available(apps, 'web-v1') == 2 and available(apps, 'web-v2') == 3)

    def args(weight, canary_version=2, **extra):  # a number, as YAML reads `version: 2`
        return dict(provider='k8s_service', weight=weight, kubeconfig=cluster['kubeconfig'], wait_timeout=30,
                    k8s_service=dict(name='web', stable_selector={'app': 'web', 'version': '1'},
                                     canary_selector={'app': 'web', 'version': canary_version}), **extra)

    check = (args(100), {'check_mode': True})
    [planned] = run_tasks(run_playbook, [check])
    assert_ok(planned)
    assert planned['changed'] is True and planned['ready_endpoints'] == 3
    assert core.read_namespaced_service('web', NAMESPACE).spec.selector == {'app': 'web', 'version': '1'}

    real, check_again, real_again = run_tasks(run_playbook, [args(100), check, args(100)])
    assert_ok(real)
    assert real['changed'] is True and real['before_weight'] == 0
    assert real['diff']['after'] != real['diff']['before']
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False and again['before_weight'] == 100
    assert core.read_namespaced_service('web', NAMESPACE).spec.selector == {'app': 'web', 'version': '2'}
    v2_ips = {p.status.pod_ip for p in core.list_namespaced_pod(NAMESPACE, label_selector='version=2').items}
    assert ready_addresses(core, 'web') == v2_ips

    half, refused, forced = run_tasks(run_playbook, [args(50), args(100, canary_version=3),
                                                     args(100, canary_version=3, force=True)])
    assert half['failed'] and 'weight must be 0 (stable) or 100 (canary), got 50' in half['msg']
    assert refused['failed'] and refused['changed'] is False
    assert 'no Ready pod matches app=web,version=3; refusing to switch Service web' in refused['msg']
    assert_ok(forced)
    assert core.read_namespaced_service('web', NAMESPACE).spec.selector == {'app': 'web', 'version': '3'}


def test_a_refused_switch_reports_the_selector_the_service_still_has(cluster, run_playbook):
    apps, core = cluster['apps'], cluster['core']
    apps.create_namespaced_deployment(NAMESPACE, deployment('web-v1', '1', 2))
    core.create_namespaced_service(NAMESPACE, service('web', {'app': 'web', 'version': '1'}))
    wait_for(lambda: available(apps, 'web-v1') == 2 and ready_addresses(core, 'web'))
    v1_ips = ready_addresses(core, 'web')
    stable, canary = {'app': 'web', 'version': '1'}, {'app': 'web', 'version': '3'}

    [refused] = run_tasks(run_playbook, [dict(
        provider='k8s_service', weight=100, kubeconfig=cluster['kubeconfig'], wait_timeout=30,
        k8s_service=dict(name='web', stable_selector=stable, canary_selector=canary))])

    assert refused['failed'] is True and refused['changed'] is False
    assert 'no Ready pod matches app=web,version=3; refusing to switch Service web' in refused['msg']
    # Nothing moved: the answer is the live state, not the refused target.
    assert refused['achieved_weight'] == 0 and refused['before_weight'] == 0
    assert refused['after'] == refused['before'] == {'selector': stable}
    assert writes(refused) == [] and refused['commands'], refused['commands']
    assert core.read_namespaced_service('web', NAMESPACE).spec.selector == stable
    assert ready_addresses(core, 'web') == v1_ips


def test_an_api_server_that_never_answers_fails_within_wait_timeout(run_playbook):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(64)  # the kernel accepts the connections; nothing ever answers them
    url = 'http://127.0.0.1:%d' % listener.getsockname()[1]
    try:
        started = time.monotonic()
        [result] = run_tasks(run_playbook, [dict(
            provider='k8s_service', weight=100, host=url, wait_timeout=5,
            k8s_service=dict(name='web', stable_selector={'version': '1'}, canary_selector={'version': '2'}))])
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert result['failed'] is True
    assert result['msg'].startswith('cannot reach the Kubernetes API at %s: no answer in time' % url), result['msg']
    # Generous bound (Ansible's start-up included): before, it waited on the unanswered read for minutes.
    assert elapsed < 5 + 20, 'failed after %.1f s with wait_timeout 5' % elapsed


def test_exec_via_doc_says_what_canary_shift_runs():
    """The shared exec_via text speaks of pg_dump and restores; canary_shift's own says what it runs there."""
    rendered = subprocess.run(['ansible-doc', '--json', MODULE], capture_output=True, text=True, check=True, timeout=120)
    option = json.loads(rendered.stdout)[MODULE]['doc']['options']['exec_via']
    text = ' '.join(option['description'])
    assert 'pg_dump' not in text and 'PGPASSWORD' not in text and 'restore' not in text, text
    assert 'nginx -t' in text and 'include file' in text
    assert option['type'] == 'dict' and {'type', 'container', 'pod'} <= set(option['suboptions'])
    # The pod transport uses the module's top-level Kubernetes options (module_defaults reaches those), no copy.
    assert 'kubeconfig' not in option['suboptions'] and 'kubeconfig' in json.loads(rendered.stdout)[MODULE]['doc']['options']
