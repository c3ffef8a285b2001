"""The typed kubernetes client (strict types) against the simulator: every kind, errors, patches, watches."""

from __future__ import annotations

import pytest
import requests
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from .helpers import deployment, rolled_out, wait_for


@pytest.fixture()
def api(kubesim):
    api_client = kubesim.api_client()
    yield client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    api_client.close()


def error_of(call, *args, **kwargs) -> ApiException:
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    return caught.value


def test_every_kind_reads_through_the_typed_api(api):
    apps, core = api
    apps.create_namespaced_deployment('default', deployment())
    core.create_namespaced_service('default', {'metadata': {'name': 'web'},
                                               'spec': {'selector': {'app': 'web'}, 'ports': [{'port': 80}]}})
    core.create_namespaced_config_map('default', {'metadata': {'name': 'settings'}, 'data': {'mode': 'fast'}})
    core.create_namespaced_secret('default', {'metadata': {'name': 'token'}, 'stringData': {'token': 's3cret'}})
    current = wait_for(lambda: rolled_out(apps, 'web'), message='rollout')
    assert current.status.replicas == 3 and current.status.unavailable_replicas is None
    assert current.spec.strategy.rolling_update.max_surge == '25%'
    assert apps.read_namespaced_deployment_status('web', 'default').status.observed_generation == 1
    assert apps.read_namespaced_deployment_scale('web', 'default').status.selector == 'app=web'
    (rs,) = apps.list_namespaced_replica_set('default', label_selector='app=web').items
    assert rs.status.available_replicas == 3 and rs.metadata.owner_references[0].kind == 'Deployment'
    pods = core.list_namespaced_pod('default', label_selector='app=web').items
    assert len(pods) == 3
    pod = pods[0]
    assert pod.status.phase == 'Running' and pod.spec.node_name == 'kubesim-node'
    assert [c.type for c in pod.status.conditions] == ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady',
                                                       'PodScheduled']
    (container,) = pod.status.container_statuses
    assert container.ready and container.started and container.restart_count == 0 and container.state.running.started_at
    assert container.image == 'docker.io/library/nginx:1.25' and container.image_id.startswith('docker.io/library/nginx@sha256:')
    assert 'started' in core.read_namespaced_pod_log(pod.metadata.name, 'default')
    reasons = {event.reason for event in core.list_namespaced_event(
        'default', field_selector='involvedObject.name=%s' % pod.metadata.name).items}
    assert {'Scheduled', 'Pulled', 'Created', 'Started'} <= reasons
    endpoints = wait_for(lambda: (core.read_namespaced_endpoints('web', 'default').subsets or [None])[0], message='endpoints')
    assert len(endpoints.addresses) == 3 and endpoints.ports[0].port == 80
    assert core.read_namespaced_service('web', 'default').spec.cluster_ip.startswith('10.96.')
    assert core.read_namespaced_config_map('settings', 'default').data == {'mode': 'fast'}
    assert core.read_namespaced_secret('token', 'default').data == {'token': 'czNjcmV0'}
    assert {ns.metadata.name for ns in core.list_namespace().items} >= {'default', 'kube-system'}
    assert core.list_node().items[0].metadata.name == 'kubesim-node'
    assert core.list_namespaced_config_map('kube-public').items == []


def test_status_errors_match_the_api_server(api):
    apps, core = api
    missing = error_of(apps.read_namespaced_deployment, 'nope', 'default')
    assert (missing.status, missing.reason) == (404, 'Not Found')
    assert '"reason":"NotFound"' in missing.body.replace(' ', '') and 'deployments.apps \\"nope\\" not found' in missing.body
    apps.create_namespaced_deployment('default', deployment())
    exists = error_of(apps.create_namespaced_deployment, 'default', deployment())
    assert exists.status == 409 and '"AlreadyExists"' in exists.body
    mismatch = deployment(name='bad')
    mismatch['spec']['template']['metadata']['labels'] = {'app': 'other'}
    invalid = error_of(apps.create_namespaced_deployment, 'default', mismatch)
    assert invalid.status == 422 and '`selector` does not match template `labels`' in invalid.body
    empty = deployment(name='empty')
    empty['spec']['template']['spec']['containers'] = []
    assert 'spec.template.spec.containers' in error_of(apps.create_namespaced_deployment, 'default', empty).body
    immutable = error_of(apps.patch_namespaced_deployment, 'web', 'default',
                         {'spec': {'selector': {'matchLabels': {'app': 'x'}}, 'template': {'metadata': {'labels': {'app': 'x'}}}}})
    assert immutable.status == 422 and 'field is immutable' in immutable.body
    no_namespace = error_of(core.create_namespaced_config_map, 'nowhere', {'metadata': {'name': 'x'}})
    assert no_namespace.status == 404 and 'namespaces \\"nowhere\\" not found' in no_namespace.body


def test_stale_resource_version_conflicts(api):
    apps, _core = api
    created = apps.create_namespaced_deployment('default', deployment())
    apps.patch_namespaced_deployment('web', 'default', {'metadata': {'labels': {'tier': 'front'}}})
    created.spec.replicas = 5
    conflict = error_of(apps.replace_namespaced_deployment, 'web', 'default', created)
    assert conflict.status == 409 and '"Conflict"' in conflict.body and 'the object has been modified' in conflict.body
    # A fresh read-modify-write succeeds, retried as real clients do: the controller's own status writes
    # can land between the read and the write, and a real API server answers 409 then too.
    for attempt in range(5):
        fresh = apps.read_namespaced_deployment('web', 'default')
        fresh.spec.replicas = 5
        try:
            assert apps.replace_namespaced_deployment('web', 'default', fresh).spec.replicas == 5
            break
        except ApiException as exc:
            assert exc.status == 409 and attempt < 4, exc
    stale_patch = error_of(apps.patch_namespaced_deployment, 'web', 'default',
                           {'metadata': {'resourceVersion': created.metadata.resource_version}, 'spec': {'replicas': 1}})
    assert stale_patch.status == 409


def test_three_patch_types_and_generation(api, kubesim):
    apps, _core = api
    apps.create_namespaced_deployment('default', deployment())
    # Strategic merge: containers merge by name, so the port list survives an image change.
    patched = apps.patch_namespaced_deployment('web', 'default', {'spec': {'template': {'spec': {'containers': [
        {'name': 'web', 'image': 'nginx:1.26'}]}}}})
    container = patched.spec.template.spec.containers[0]
    assert container.image == 'nginx:1.26' and container.ports[0].container_port == 80
    assert patched.metadata.generation == 2
    # JSON patch (the client's default for a list body).
    patched = apps.patch_namespaced_deployment('web', 'default', [{'op': 'replace', 'path': '/spec/replicas', 'value': 2}])
    assert patched.spec.replicas == 2 and patched.metadata.generation == 3
    # Merge patch replaces lists wholesale and deletes with null.
    response = requests.patch(kubesim.url + '/apis/apps/v1/namespaces/default/deployments/web', timeout=10,
                              headers={'Content-Type': 'application/merge-patch+json'},
                              json={'metadata': {'labels': {'app': None, 'tier': 'front'}}})
    assert response.status_code == 200 and response.json()['metadata']['labels'] == {'tier': 'front'}
    # Annotations bump a Deployment's generation; status writes never do.
    patched = apps.patch_namespaced_deployment('web', 'default', {'metadata': {'annotations': {'note': 'x'}}})
    assert patched.metadata.generation == 4
    status = apps.patch_namespaced_deployment_status('web', 'default', {'status': {'collisionCount': 1}})
    assert status.metadata.generation == 4
    unsupported = requests.patch(kubesim.url + '/apis/apps/v1/namespaces/default/deployments/web', data='spec: {}',
                                 headers={'Content-Type': 'application/yaml'}, timeout=10)
    assert unsupported.status_code == 415 and unsupported.json()['reason'] == 'UnsupportedMediaType'
    dry = apps.create_namespaced_deployment('default', deployment(name='dry'), dry_run='All')
    assert dry.metadata.uid and error_of(apps.read_namespaced_deployment, 'dry', 'default').status == 404


def test_watch_from_resource_version_and_selector_transitions(api):
    _apps, core = api
    core.create_namespaced_config_map('default', {'metadata': {'name': 'before', 'labels': {'app': 'a'}}})
    version = core.list_namespaced_config_map('default').metadata.resource_version
    core.create_namespaced_config_map('default', {'metadata': {'name': 'after', 'labels': {'app': 'a'}}})
    core.patch_namespaced_config_map('before', 'default', {'metadata': {'labels': {'app': 'b'}}})
    core.patch_namespaced_config_map('before', 'default', {'metadata': {'labels': {'app': 'a'}}})
    core.delete_namespaced_config_map('after', 'default')
    seen = [(event['type'], event['object'].metadata.name) for event in watch.Watch().stream(
        core.list_namespaced_config_map, 'default', label_selector='app=a', resource_version=version, timeout_seconds=1)]
    assert seen == [('ADDED', 'after'), ('DELETED', 'before'), ('ADDED', 'before'), ('DELETED', 'after')]
    # Without a resourceVersion the watch starts with the current objects as ADDED.
    initial = [(event['type'], event['object'].metadata.name) for event in watch.Watch().stream(
        core.list_namespaced_config_map, 'default', timeout_seconds=1)]
    assert initial == [('ADDED', 'before')]


def test_watch_on_an_expired_resource_version_gets_410(api, kubesim):
    _apps, core = api
    version = core.list_namespaced_config_map('default').metadata.resource_version
    core.create_namespaced_config_map('default', {'metadata': {'name': 'x'}})
    kubesim.call(kubesim.simulator.registry.compact)
    stream = watch.Watch().stream(core.list_namespaced_config_map, 'default', resource_version=version, timeout_seconds=1)
    with pytest.raises(ApiException) as caught:
        list(stream)
    assert caught.value.status == 410
    raw = requests.get(kubesim.url + '/api/v1/namespaces/default/configmaps', timeout=10,
                       params={'watch': 'true', 'resourceVersion': version}).json()
    assert raw['type'] == 'ERROR' and raw['object']['reason'] == 'Expired' and raw['object']['code'] == 410


def test_cascading_delete_through_the_client(api):
    apps, core = api
    apps.create_namespaced_deployment('default', deployment())
    wait_for(lambda: rolled_out(apps, 'web'), message='rollout')
    # The 37.x client types DELETE responses as plain objects: here the Status the API server returns.
    status = apps.delete_namespaced_deployment('web', 'default')
    assert (status['kind'], status['status'], status['details']['kind']) == ('Status', 'Success', 'deployments')
    wait_for(lambda: not core.list_namespaced_pod('default').items and not apps.list_namespaced_replica_set('default').items,
             message='dependents to be garbage collected')
