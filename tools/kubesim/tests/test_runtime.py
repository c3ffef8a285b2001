"""The fast runtime's failure modes and the Deployment controller's timers, driven through the clock."""

from __future__ import annotations

import pytest
from kubernetes import client

from kubesim.runtime import behaviour_of, container_timeline

from .helpers import deployment, rolled_out, wait_for


@pytest.fixture()
def core(kubesim):
    api_client = kubesim.api_client()
    yield client.CoreV1Api(api_client)
    api_client.close()


def pod(name: str, image: str, **container) -> dict:
    return {'metadata': {'name': name}, 'spec': {'containers': [dict({'name': 'app', 'image': image}, **container)]}}


def container_status(core, name: str):
    current = core.read_namespaced_pod(name, 'default')
    return current, (current.status.container_statuses or [None])[0]


def event_reasons(core, name: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event in core.list_namespaced_event('default', field_selector='involvedObject.name=%s' % name).items:
        found.setdefault(event.reason, []).append(event.message)
    return found


@pytest.mark.parametrize('image, annotation, expected', [
    ('nginx:1.25', None, ('ok', 0.0)), ('registry.invalid/app:does-not-exist', None, ('pullfail', 0.0)),
    ('app:crashloop', None, ('crashloop', 0.0)), ('app:slowstart-30', None, ('slowstart', 30.0)),
    ('nginx:1.25', 'neverready', ('neverready', 0.0)),
])
def test_behaviour_from_image_or_annotation(image, annotation, expected):
    assert behaviour_of(image, annotation) == expected


def test_crashloop_timeline_backs_off_exponentially():
    container = {'name': 'app', 'image': 'app:crashloop', 'imagePullPolicy': 'IfNotPresent'}
    # Pull 1 s, run 1 s, back off 10 s, run 1 s, back off 20 s: the third start is at 1+1+10+1+20 = 33 s.
    timeline = container_timeline(container, ('crashloop', 0.0), 32.5, 'p_default(u)', False, str)
    assert timeline.restarts == 2 and timeline.state['waiting']['reason'] == 'CrashLoopBackOff'
    assert timeline.state['waiting']['message'].startswith('back-off 20s restarting failed container=app')
    assert timeline.last_state['terminated']['exitCode'] == 1
    assert container_timeline(container, ('crashloop', 0.0), 33.5, 'p_default(u)', False, str).state == {'running': {'startedAt': '33.0'}}


def test_image_pull_failure(core, kubesim):
    core.create_namespaced_pod('default', pod('broken', 'registry.invalid/app:does-not-exist'))
    wait_for(lambda: (container_status(core, 'broken')[1] or False) and container_status(core, 'broken')[1].state.waiting.reason
             == 'ImagePullBackOff', message='ImagePullBackOff')
    current, status = container_status(core, 'broken')
    assert current.status.phase == 'Pending' and not status.ready and status.image_id == ''
    reasons = event_reasons(core, 'broken')
    assert 'Error: ErrImagePull' in reasons['Failed'] and 'Error: ImagePullBackOff' in reasons['Failed']
    assert reasons['BackOff'] == ['Back-off pulling image "registry.invalid/app:does-not-exist"']
    kubesim.clock.advance(15)
    wait_for(lambda: core.list_namespaced_event('default', field_selector='involvedObject.name=broken,reason=Pulling')
             .items[0].count >= 2, message='a second pull attempt')


def test_crash_loop(core, kubesim):
    core.create_namespaced_pod('default', pod('crashy', 'app:crashloop'))
    wait_for(lambda: (container_status(core, 'crashy')[1] or False) and container_status(core, 'crashy')[1].restart_count >= 1,
             message='a restart')
    kubesim.clock.advance(40)
    wait_for(lambda: container_status(core, 'crashy')[1].restart_count >= 2, message='a second restart')
    current, status = container_status(core, 'crashy')
    assert current.status.phase == 'Running' and not status.ready
    assert status.last_state.terminated.exit_code == 1 and status.last_state.terminated.reason == 'Error'
    assert 'BackOff' in event_reasons(core, 'crashy')


def test_never_ready_and_slow_start(core, kubesim):
    core.create_namespaced_pod('default', pod('lazy', 'nginx:1.25', readinessProbe={'httpGet': {'path': '/', 'port': 80}}))
    core.create_namespaced_pod('default', pod('stuck', 'app:neverready'))
    core.create_namespaced_pod('default', pod('slow', 'app:slowstart-60'))
    wait_for(lambda: container_status(core, 'lazy')[1] and container_status(core, 'lazy')[1].ready, message='a ready pod')
    wait_for(lambda: 'Unhealthy' in event_reasons(core, 'stuck'), message='a failed readiness probe')
    current, status = container_status(core, 'stuck')
    assert current.status.phase == 'Running' and status.started and not status.ready
    ready = next(condition for condition in current.status.conditions if condition.type == 'Ready')
    assert (ready.status, ready.reason, ready.message) == ('False', 'ContainersNotReady', 'containers with unready status: [app]')
    assert not container_status(core, 'slow')[1].ready
    kubesim.clock.advance(70)
    wait_for(lambda: container_status(core, 'slow')[1].ready, message='the slow pod to become ready')


def test_graceful_pod_deletion(core, kubesim):
    core.create_namespaced_pod('default', pod('short', 'nginx:1.25'))
    wait_for(lambda: core.read_namespaced_pod('short', 'default').status.phase == 'Running', message='Running')
    kubesim.clock.set_speed(0)
    terminating = core.delete_namespaced_pod('short', 'default')
    assert terminating.metadata.deletion_grace_period_seconds == 30
    assert core.read_namespaced_pod('short', 'default').metadata.deletion_timestamp is not None
    kubesim.clock.advance(2)
    wait_for(lambda: not core.list_namespaced_pod('default', field_selector='metadata.name=short').items, message='pod removal')
    assert 'Killing' in event_reasons(core, 'short')


def test_recreate_paused_and_history_limit(kubesim):
    api_client = kubesim.api_client()
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment('default', deployment(strategy={'type': 'Recreate'}, revisionHistoryLimit=1))
    wait_for(lambda: rolled_out(apps, 'web'), message='first rollout')
    for image in ('nginx:1.26', 'nginx:1.27'):
        apps.patch_namespaced_deployment('web', 'default', {'spec': {'template': {'spec': {'containers': [
            {'name': 'web', 'image': image}]}}}})
        wait_for(lambda: rolled_out(apps, 'web'), message='rollout to %s' % image)
    wait_for(lambda: len(apps.list_namespaced_replica_set('default').items) == 2, message='history cleanup to one old RS')
    sets = apps.list_namespaced_replica_set('default').items
    assert sorted(rs.spec.template.spec.containers[0].image for rs in sets) == ['nginx:1.26', 'nginx:1.27']
    scaling = [event.message for event in client.CoreV1Api(api_client).list_namespaced_event(
        'default', field_selector='involvedObject.kind=Deployment').items]
    assert any(message.endswith('from 3 to 0') and message.startswith('Scaled down replica set web-') for message in scaling)
    apps.patch_namespaced_deployment('web', 'default', {'spec': {'paused': True, 'template': {'spec': {'containers': [
        {'name': 'web', 'image': 'nginx:1.28'}]}}}})
    wait_for(lambda: any(c.reason == 'DeploymentPaused' for c in apps.read_namespaced_deployment('web', 'default').status.conditions),
             message='DeploymentPaused')
    paused = apps.read_namespaced_deployment('web', 'default')
    images = [rs.spec.template.spec.containers[0].image for rs in apps.list_namespaced_replica_set('default').items]
    # Paused: no new ReplicaSet, and (as upstream) history cleanup counts the current one as old, leaving only it.
    assert images == ['nginx:1.27']
    assert paused.status.observed_generation == paused.metadata.generation
    api_client.close()
