# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes providers of canary_shift against a fake of the Kubernetes boundary: what they write, when they
wait, what they put back, what they say."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _canary_k8s as k8s
from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s
from ansible_collections.artisan.upgrade.plugins.module_utils._canary import CanarySpecError
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

from ansible_collections.artisan.upgrade.tests.unit.plugins.module_utils.kube_fake import FakeKube

NS = 'default'
DEPLOYMENTS = '/apis/apps/v1/namespaces/default/deployments'
SERVICE = '/api/v1/namespaces/default/services/web'
INGRESSES = '/apis/networking.k8s.io/v1/namespaces/default/ingresses'
PODS = '/api/v1/namespaces/default/pods'
STABLE = {'app': 'web', 'version': '1'}
CANARY = {'app': 'web', 'version': '2'}


def deployment(name, replicas, available=None, conditions=()):
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment',
            'metadata': {'name': name, 'namespace': NS, 'generation': 1},
            'spec': {'replicas': replicas, 'selector': {'matchLabels': {'app': 'web', 'deployment': name}}},
            'status': {'observedGeneration': 1, 'availableReplicas': replicas if available is None else available,
                       'conditions': list(conditions)}}


def pod(name, labels, ip, ready=True):
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': NS, 'labels': dict(labels)},
            'status': {'podIP': ip, 'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}}


def endpoint_slice(service, addresses):
    return {'apiVersion': 'discovery.k8s.io/v1', 'kind': 'EndpointSlice',
            'metadata': {'name': '%s-abc' % service, 'namespace': NS, 'labels': {'kubernetes.io/service-name': service}},
            'endpoints': [{'addresses': [address], 'conditions': {'ready': True}} for address in addresses]}


def service(selector):
    return {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'web', 'namespace': NS},
            'spec': {'selector': dict(selector)}}


def scaled_and_available(fake, method, path, body):
    """The Deployment controller and the kubelet, at once: a scale is observed and its pods are available."""
    if path.endswith('/scale'):
        dep = fake.obj(path[:-len('/scale')])
        dep['status'] = {'observedGeneration': dep['metadata']['generation'], 'availableReplicas': dep['spec']['replicas']}


def endpoints_follow(fake, method, path, body):
    """The EndpointSlice controller: a new selector's Ready pods become the Service's endpoints."""
    if path == SERVICE:
        selector = fake.obj(SERVICE)['spec']['selector']
        ips = [p['status']['podIP'] for key, p in fake.objects.items() if '/pods/' in key
               and all(p['metadata']['labels'].get(k) == v for k, v in selector.items())]
        fake.objects['/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-abc'] = endpoint_slice('web', ips)


def shift(provider_class, fake, params, check_mode=False, warnings=None):
    cluster = k8s.Cluster(fake, NS)
    return provider_class(params, cluster, check_mode, warn=(warnings if warnings is not None else []).append).perform()


# --- k8s_replicas ------------------------------------------------------------------------------------

def replica_params(weight=30, force=False, wait_timeout=30, failure_grace=30):
    return {'weight': weight, 'force': force, 'wait_timeout': wait_timeout,
            'k8s_replicas': {'stable': 'web-v1', 'canary': 'web-v2', 'total': 10, 'failure_grace': failure_grace}}


def test_replicas_at_the_weight_already_are_no_change_and_no_write():
    fake = FakeKube([deployment('web-v1', 7), deployment('web-v2', 3)])
    result = shift(k8s.ReplicaShift, fake, replica_params(30))
    assert result['changed'] is False and result['msg'] == 'web-v2 already runs 3 of 10 pods (30.0 %)'
    assert fake.writes() == [] and result['changes'] == []


def test_replicas_check_mode_says_what_it_would_scale_and_touches_nothing():
    fake = FakeKube([deployment('web-v1', 10), deployment('web-v2', 0)])
    result = shift(k8s.ReplicaShift, fake, replica_params(30), check_mode=True)
    assert result['changed'] is True and result['msg'].startswith('would scale: canary web-v2: 0 -> 3 replicas')
    assert fake.writes() == []
    assert fake.obj(DEPLOYMENTS + '/web-v2')['spec']['replicas'] == 0


def test_replicas_grow_the_canary_wait_for_it_then_shrink_the_stable():
    fake = FakeKube([deployment('web-v1', 10), deployment('web-v2', 0)], controller=scaled_and_available)
    result = shift(k8s.ReplicaShift, fake, replica_params(30))
    assert result['changed'] is True and result['after'] == {'stable': 7, 'canary': 3}
    assert fake.writes() == ['PATCH %s/web-v2/scale' % DEPLOYMENTS, 'PATCH %s/web-v1/scale' % DEPLOYMENTS]
    # The wait is a watch of the growing Deployment, between the two writes.
    watch = fake.requests.index('GET %s?watch=true' % DEPLOYMENTS)
    assert fake.requests.index('PATCH %s/web-v2/scale' % DEPLOYMENTS) < watch < fake.requests.index(
        'PATCH %s/web-v1/scale' % DEPLOYMENTS)


def test_a_canary_that_never_gets_available_is_scaled_back_and_reported_as_it_is():
    fake = FakeKube([deployment('web-v1', 10), deployment('web-v2', 0)])
    with pytest.raises(ModuleFailure) as failed:
        shift(k8s.ReplicaShift, fake, replica_params(30))
    assert failed.value.msg == ('waiting for 3 available pods of web-v2: not done within 30s; '
                                'scaled web-v2 back to 0, web-v1 untouched')
    assert fake.writes() == ['PATCH %s/web-v2/scale' % DEPLOYMENTS] * 2
    assert fake.obj(DEPLOYMENTS + '/web-v2')['spec']['replicas'] == 0
    context = failed.value.context
    assert context['changed'] is True and context['after'] == context['before'] == {'stable': 10, 'canary': 0}
    assert context['achieved_weight'] == 0


def test_a_progress_deadline_ends_the_wait_with_the_controllers_message():
    def stuck(fake, method, path, body):
        if path.endswith('/scale') and body['spec']['replicas'] == 3:
            fake.obj(path[:-len('/scale')])['status']['conditions'] = [{
                'type': 'Progressing', 'status': 'False', 'reason': 'ProgressDeadlineExceeded',
                'message': 'ReplicaSet "web-v2-5d9" has timed out progressing.'}]

    fake = FakeKube([deployment('web-v1', 10), deployment('web-v2', 0)], controller=stuck)
    with pytest.raises(ModuleFailure, match='web-v2: ReplicaSet "web-v2-5d9" has timed out progressing.; scaled web-v2 back'):
        shift(k8s.ReplicaShift, fake, replica_params(30))


def crashing_pod(name, restarts=1):
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': NS,
                                                            'labels': {'app': 'web', 'deployment': 'web-v2'}},
            'status': {'containerStatuses': [{
                'name': 'app', 'restartCount': restarts, 'ready': False,
                'state': {'waiting': {'reason': 'CrashLoopBackOff', 'message': 'back-off 10s restarting failed container'}},
                'lastState': {'terminated': {'exitCode': 1, 'reason': 'Error'}}}]}}


class Timeline(FakeKube):
    """The wait judged at given times of the injected clock, each with the pods the watch would show then."""

    def __init__(self, objects, moments):
        super().__init__(objects)
        self.moments = moments
        self.now = 0.0
        self.watched = None
        self.wakes = []

    def clock(self):
        return self.now

    def wait_until(self, streams, judge, clock=None, wake_at=None):
        self.watched = streams
        for when, pods in self.moments:
            self.now = when
            answer = judge({'deployment': {'web-v2': self.obj(DEPLOYMENTS + '/web-v2')},
                            'pods': {p['metadata']['name']: p for p in pods}})
            if answer:
                return answer
            self.wakes.append(wake_at())
        return None  # the deadline passed


def replica_shift_at(fake, params):
    return k8s.ReplicaShift(params, k8s.Cluster(fake, NS, clock=fake.clock), False).perform()


def test_a_canary_whose_pods_crash_for_the_grace_is_given_up_then_not_at_the_timeout():
    fake = Timeline([deployment('web-v1', 10), deployment('web-v2', 0, available=0)], [
        (0.0, []), (1.0, [crashing_pod('web-v2-a')]), (4.0, [crashing_pod('web-v2-a', restarts=2)]),
        (6.0, [crashing_pod('web-v2-a', restarts=3)])])
    with pytest.raises(ModuleFailure) as failed:
        replica_shift_at(fake, replica_params(30, failure_grace=5, wait_timeout=300))
    assert failed.value.msg == (
        'waiting for 3 available pods of web-v2: pods of web-v2 are failing (failure_grace 5s): pod web-v2-a container '
        'app: CrashLoopBackOff (last exit code 1 (Error): back-off 10s restarting failed container), for 5s; '
        'scaled web-v2 back to 0, web-v1 untouched')
    # The Deployment's pods are watched by its selector; the waiter is woken when the first problem's grace ends.
    assert fake.watched['pods'] == (PODS, {'labelSelector': 'app=web,deployment=web-v2'})
    assert fake.wakes == [None, 6.0, 6.0]
    assert fake.obj(DEPLOYMENTS + '/web-v2')['spec']['replicas'] == 0


def test_a_pod_that_recovers_before_the_grace_is_forgiven():
    recovered = pod('web-v2-a', {'app': 'web', 'deployment': 'web-v2'}, '10.0.0.9')
    fake = Timeline([deployment('web-v1', 10), deployment('web-v2', 0, available=0)], [
        (1.0, [crashing_pod('web-v2-a')]), (4.0, [recovered]), (30.0, [recovered])])
    with pytest.raises(ModuleFailure, match='not done within 300s'):
        replica_shift_at(fake, replica_params(30, failure_grace=5, wait_timeout=300))
    assert fake.wakes == [6.0, None, None]  # never failed: the deadline ended it


def test_a_negative_failure_grace_is_refused_before_anything_is_read():
    fake = FakeKube([deployment('web-v1', 10), deployment('web-v2', 0)])
    with pytest.raises(CanarySpecError, match='^k8s_replicas.failure_grace must be 0 or more seconds, got -1$'):
        shift(k8s.ReplicaShift, fake, replica_params(30, failure_grace=-1))
    assert fake.requests == []


def test_force_scales_without_waiting():
    fake = FakeKube([deployment('web-v1', 10), deployment('web-v2', 0)])
    result = shift(k8s.ReplicaShift, fake, replica_params(30, force=True))
    assert result['changed'] is True and len(fake.writes()) == 2
    assert not [request for request in fake.requests if 'watch' in request]


def test_a_missing_deployment_is_named():
    fake = FakeKube([deployment('web-v1', 10)])
    with pytest.raises(ModuleFailure, match='^Deployment default/web-v2 not found$'):
        shift(k8s.ReplicaShift, fake, replica_params(30))
    assert fake.writes() == []


# --- k8s_ingress_nginx -------------------------------------------------------------------------------

MAIN_INGRESS = {'apiVersion': 'networking.k8s.io/v1', 'kind': 'Ingress', 'metadata': {'name': 'web', 'namespace': NS},
                'spec': {'rules': [{'host': 'shop.example', 'http': {'paths': [{'path': '/', 'pathType': 'Prefix', 'backend': {
                    'service': {'name': 'web-v1', 'port': {'number': 80}}}}]}}]}}


def ingress_params(weight=10, force=False):
    return {'weight': weight, 'force': force, 'wait_timeout': 30,
            'k8s_ingress_nginx': {'ingress': 'web', 'canary_ingress': None, 'service': 'web-v2', 'port': None,
                                  'header': None, 'header_value': None, 'cookie': None}}


def test_the_canary_ingress_is_created_then_left_alone_at_the_same_weight():
    fake = FakeKube([MAIN_INGRESS, endpoint_slice('web-v2', ['10.0.0.9'])])
    planned = shift(k8s.IngressShift, fake, ingress_params(10), check_mode=True)
    assert planned['changed'] is True and fake.writes() == []
    created = shift(k8s.IngressShift, fake, ingress_params(10))
    assert created['changed'] is True and fake.writes() == ['POST %s' % INGRESSES]
    canary = fake.obj(INGRESSES + '/web-canary')
    assert canary['metadata']['annotations']['nginx.ingress.kubernetes.io/canary-weight'] == '10'
    assert canary['spec']['rules'][0]['http']['paths'][0]['backend']['service']['name'] == 'web-v2'
    again = shift(k8s.IngressShift, fake, ingress_params(10))
    assert again['changed'] is False and fake.writes() == ['POST %s' % INGRESSES]
    moved = shift(k8s.IngressShift, fake, ingress_params(50))
    assert moved['before_weight'] == 10 and fake.writes()[-1] == 'PATCH %s/web-canary' % INGRESSES
    assert fake.obj(INGRESSES + '/web-canary')['metadata']['annotations']['nginx.ingress.kubernetes.io/canary-weight'] == '50'


def test_state_absent_deletes_the_canary_ingress_once_and_needs_weight_0():
    fake = FakeKube([MAIN_INGRESS, endpoint_slice('web-v2', ['10.0.0.9'])])
    shift(k8s.IngressShift, fake, ingress_params(30))
    absent = dict(ingress_params(0), k8s_ingress_nginx=dict(ingress_params(0)['k8s_ingress_nginx'], state='absent'))
    planned = shift(k8s.IngressShift, fake, absent, check_mode=True)
    assert planned['changed'] is True and planned['before_weight'] == 30 and planned['changes'] == ['delete Ingress web-canary']
    assert fake.writes() == ['POST %s' % INGRESSES]
    removed = shift(k8s.IngressShift, fake, absent)
    assert removed['changed'] is True and removed['after'] is None and removed['msg'] == 'deleted Ingress web-canary'
    assert fake.writes()[-1] == 'DELETE %s/web-canary' % INGRESSES
    assert fake.get_or_none(INGRESSES + '/web-canary') is None and fake.get_or_none(INGRESSES + '/web') is not None
    again = shift(k8s.IngressShift, fake, absent)
    assert again['changed'] is False and again['msg'] == 'Ingress web-canary is absent' and len(fake.writes()) == 2
    with pytest.raises(CanarySpecError, match='state=absent removes the canary Ingress and needs weight 0, got 10'):
        shift(k8s.IngressShift, fake, dict(absent, weight=10))


def test_a_missing_main_ingress_is_named():
    fake = FakeKube([endpoint_slice('web-v2', ['10.0.0.9'])])
    with pytest.raises(ModuleFailure, match='Ingress default/web not found: the canary Ingress copies its hosts and paths'):
        shift(k8s.IngressShift, fake, ingress_params(10))


def test_traffic_to_a_service_without_ready_endpoints_is_refused_unless_forced():
    fake = FakeKube([MAIN_INGRESS, endpoint_slice('web-v2', [])])
    with pytest.raises(ModuleFailure, match='Service default/web-v2 has no Ready endpoints; refusing'):
        shift(k8s.IngressShift, fake, ingress_params(10))
    assert fake.writes() == []
    warnings = []
    assert shift(k8s.IngressShift, fake, ingress_params(10, force=True), warnings=warnings)['changed'] is True
    assert warnings == ['forced: Service web-v2 has no Ready endpoints']


# --- k8s_service -------------------------------------------------------------------------------------

def service_params(weight=100, force=False, wait_timeout=30):
    return {'weight': weight, 'force': force, 'wait_timeout': wait_timeout,
            'k8s_service': {'name': 'web', 'stable_selector': STABLE, 'canary_selector': CANARY}}


def blue_green(selector=None, canary_ready=True, controller=endpoints_follow):
    return FakeKube([service(selector or STABLE), pod('web-1', STABLE, '10.0.0.1'), pod('web-2', CANARY, '10.0.0.2', canary_ready),
                     endpoint_slice('web', ['10.0.0.1'])], controller=controller)


def test_a_service_already_on_the_side_is_no_change():
    fake = blue_green(selector=CANARY)
    result = shift(k8s.ServiceShift, fake, service_params(100))
    assert result['changed'] is False and result['msg'] == 'Service web already selects app=web,version=2'
    assert fake.writes() == []


def test_check_mode_switches_nothing():
    fake = blue_green()
    result = shift(k8s.ServiceShift, fake, service_params(100), check_mode=True)
    assert result['changed'] is True and result['msg'].startswith('would switch: selector app=web,version=1 -> ')
    assert fake.writes() == [] and fake.obj(SERVICE)['spec']['selector'] == STABLE


def test_the_switch_waits_until_the_endpoints_are_the_target_pods():
    fake = blue_green()
    result = shift(k8s.ServiceShift, fake, service_params(100))
    assert result['changed'] is True and result['ready_endpoints'] == 1
    assert fake.writes() == ['PATCH %s' % SERVICE] and fake.obj(SERVICE)['spec']['selector'] == CANARY
    assert 'GET /apis/discovery.k8s.io/v1/namespaces/default/endpointslices?watch=true' in fake.requests


def test_a_refused_switch_reports_the_live_state():
    fake = blue_green(canary_ready=False)
    with pytest.raises(ModuleFailure) as refused:
        shift(k8s.ServiceShift, fake, service_params(100))
    assert refused.value.msg.startswith('no Ready pod matches app=web,version=2; refusing to switch Service web')
    context = refused.value.context
    assert context['changed'] is False and fake.writes() == []
    assert context['achieved_weight'] == 0 and context['before_weight'] == 0
    assert context['after'] == context['before'] == {'selector': STABLE}
    assert context['diff']['after'] == context['diff']['before']


def test_a_failed_wait_puts_the_selector_back_and_says_so():
    fake = blue_green(controller=None)
    with pytest.raises(ModuleFailure) as failed:
        shift(k8s.ServiceShift, fake, service_params(100))
    assert failed.value.msg == ('waiting for the endpoints of web to be the canary pods: not done within 30s; '
                                'the selector was put back')
    assert fake.writes() == ['PATCH %s' % SERVICE] * 2 and fake.obj(SERVICE)['spec']['selector'] == STABLE
    assert failed.value.context['achieved_weight'] == 0 and failed.value.context['after'] == {'selector': STABLE}


@pytest.mark.parametrize('failure', [RuntimeError('boom'), KeyboardInterrupt()])
def test_any_exception_after_the_switch_puts_the_selector_back(failure):
    fake = blue_green()
    fake.failures['GET /apis/discovery.k8s.io/v1/namespaces/default/endpointslices'] = failure
    with pytest.raises(type(failure)):
        shift(k8s.ServiceShift, fake, service_params(100))
    assert fake.obj(SERVICE)['spec']['selector'] == STABLE and len(fake.writes()) == 2


def test_an_unreachable_server_during_the_wait_puts_the_selector_back():
    fake = blue_green()
    fake.failures['GET /apis/discovery.k8s.io/v1/namespaces/default/endpointslices'] = _k8s.Unreachable(
        fake.server, 'connection refused')
    with pytest.raises(ModuleFailure, match='^cannot reach the Kubernetes API at http://127.0.0.1:6443: connection '
                                            'refused; the selector was put back$'):
        shift(k8s.ServiceShift, fake, service_params(100))
    assert fake.obj(SERVICE)['spec']['selector'] == STABLE


def test_a_failing_put_back_is_reported_with_the_first_error():
    class Broken(FakeKube):
        def patch(self, path, body, content_type=_k8s.STRATEGIC_MERGE, dry_run=False):
            if isinstance(body, list) and body[0]['value'] == STABLE:
                raise _k8s.ApiError('connection refused', 500)
            return super().patch(path, body, content_type, dry_run)

    fake = Broken([service(STABLE), pod('web-2', CANARY, '10.0.0.2')])
    fake.failures['GET /apis/discovery.k8s.io/v1/namespaces/default/endpointslices'] = RuntimeError('boom')
    with pytest.raises(ModuleFailure, match='^boom; putting the previous state back failed too: patch service web: '
                                            'connection refused$'):
        shift(k8s.ServiceShift, fake, service_params(100))


def test_a_missing_service_is_named():
    fake = FakeKube([])
    with pytest.raises(ModuleFailure, match='^Service default/web not found$'):
        shift(k8s.ServiceShift, fake, service_params(100))


def test_an_api_error_names_the_request():
    fake = blue_green()
    fake.failures['PATCH %s' % SERVICE] = _k8s.ApiError('services "web" is forbidden (HTTP 403)', 403)
    with pytest.raises(ModuleFailure, match=r'^patch service web: services "web" is forbidden \(HTTP 403\)$'):
        shift(k8s.ServiceShift, fake, service_params(100))
