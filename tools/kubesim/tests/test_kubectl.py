"""kubectl 1.32 as an independent client of the simulator, through a kubeconfig.

The messages asserted here are the ones kubectl itself prints (rollout_status.go, rollback.go,
history.go, objectrestarter.go), so they only appear when the simulator answers as a cluster would.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time

import pytest
from kubernetes import client, watch

from kubesim import clock
from kubesim.registry import resource_for

from .helpers import deployment, wait_for, workload

KUBECTL = shutil.which('kubectl')
PODS = resource_for('v1', 'Pod')
pytestmark = pytest.mark.skipif(KUBECTL is None, reason='kubectl is not installed')


@pytest.fixture()
def kubectl(kubesim, tmp_path):
    def run(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([KUBECTL, '--kubeconfig', kubesim.kubeconfig, *args], input=stdin, capture_output=True,
                                text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            raise AssertionError('kubectl %s failed (%d): %s%s' % (' '.join(args), result.returncode, result.stdout, result.stderr))
        return result

    run.tmp_path = tmp_path
    return run


def apply(kubectl, body: dict) -> subprocess.CompletedProcess:
    return kubectl('apply', '-f', '-', stdin=json.dumps(body))


def get_json(kubectl, *args: str) -> dict:
    return json.loads(kubectl('get', *args, '-o', 'json').stdout)


def replica_sets(kubectl, app: str = 'web') -> dict[str, dict]:
    return {item['metadata']['name']: item for item in get_json(kubectl, 'rs', '-l', 'app=%s' % app)['items']}


def image_of(obj: dict) -> str:
    return obj['spec']['template']['spec']['containers'][0]['image']


def test_apply_get_and_rollout_status(kubectl):
    assert apply(kubectl, deployment()).stdout == 'deployment.apps/web created\n'
    status = kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    assert status.stdout.endswith('deployment "web" successfully rolled out\n')
    current = get_json(kubectl, 'deployment', 'web')
    assert current['metadata']['generation'] == 1
    assert current['metadata']['annotations']['deployment.kubernetes.io/revision'] == '1'
    assert current['status']['observedGeneration'] == 1
    assert (current['status']['replicas'], current['status']['updatedReplicas'], current['status']['availableReplicas']) == (3, 3, 3)
    assert 'unavailableReplicas' not in current['status']
    assert {c['type']: c['reason'] for c in current['status']['conditions']} == {
        'Available': 'MinimumReplicasAvailable', 'Progressing': 'NewReplicaSetAvailable'}
    assert current['spec']['strategy'] == {'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': '25%', 'maxUnavailable': '25%'}}
    (rs,) = replica_sets(kubectl).values()
    pod_hash = rs['metadata']['labels']['pod-template-hash']
    assert rs['metadata']['name'] == 'web-' + pod_hash
    assert rs['spec']['selector']['matchLabels'] == {'app': 'web', 'pod-template-hash': pod_hash}
    assert rs['metadata']['ownerReferences'][0]['uid'] == current['metadata']['uid']
    assert rs['metadata']['annotations']['deployment.kubernetes.io/max-replicas'] == '4'
    pods = get_json(kubectl, 'pods', '-l', 'app=web')['items']
    assert len(pods) == 3 and all(pod['metadata']['name'].startswith(rs['metadata']['name'] + '-') for pod in pods)
    assert all(len(pod['metadata']['name']) == len(rs['metadata']['name']) + 6 for pod in pods)
    # Applying the same file again changes nothing: no new generation.
    assert apply(kubectl, deployment()).stdout == 'deployment.apps/web unchanged\n'


def test_set_image_history_and_change_cause(kubectl):
    apply(kubectl, deployment())
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    assert kubectl('set', 'image', 'deployment/web', 'web=nginx:1.26').stdout == 'deployment.apps/web image updated\n'
    kubectl('annotate', 'deployment/web', 'kubernetes.io/change-cause=upgrade to 1.26')
    status = kubectl('rollout', 'status', 'deployment/web', '--timeout=30s').stdout
    assert status.endswith('deployment "web" successfully rolled out\n')
    history = kubectl('rollout', 'history', 'deployment/web').stdout
    assert history.splitlines()[1:4] == ['REVISION  CHANGE-CAUSE', '1         <none>', '2         upgrade to 1.26']
    detail = kubectl('rollout', 'history', 'deployment/web', '--revision=2').stdout
    assert 'nginx:1.26' in detail and 'deployment.apps/web with revision #2' in detail
    sets = replica_sets(kubectl)
    assert sorted((rs['metadata']['annotations']['deployment.kubernetes.io/revision'], image_of(rs), rs['spec']['replicas'])
                  for rs in sets.values()) == [('1', 'nginx:1.25', 0), ('2', 'nginx:1.26', 3)]


def test_rollout_status_reports_an_exceeded_progress_deadline(kubectl):
    apply(kubectl, deployment(progressDeadlineSeconds=10))
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    kubectl('set', 'image', 'deployment/web', 'web=registry.invalid/app:pullfail')
    result = kubectl('rollout', 'status', 'deployment/web', '--timeout=60s', check=False)
    assert result.returncode == 1
    assert result.stderr == 'error: deployment "web" exceeded its progress deadline\n'
    progressing = next(c for c in get_json(kubectl, 'deployment', 'web')['status']['conditions'] if c['type'] == 'Progressing')
    assert (progressing['status'], progressing['reason']) == ('False', 'ProgressDeadlineExceeded')
    assert progressing['message'].endswith('has timed out progressing.')
    pods = get_json(kubectl, 'pods', '-l', 'app=web')['items']
    waiting = {pod['status']['containerStatuses'][0]['state'].get('waiting', {}).get('reason') for pod in pods
               if 'pullfail' in pod['spec']['containers'][0]['image']}
    assert waiting <= {'ErrImagePull', 'ImagePullBackOff'} and waiting


def test_rollout_undo_readopts_the_old_replica_set(kubectl):
    apply(kubectl, deployment())
    for image in ('nginx:1.26', 'nginx:1.27'):
        kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
        kubectl('set', 'image', 'deployment/web', 'web=%s' % image)
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    names = {image_of(rs): name for name, rs in replica_sets(kubectl).items()}

    assert kubectl('rollout', 'undo', 'deployment/web').stdout == 'deployment.apps/web rolled back\n'
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    sets = replica_sets(kubectl)
    assert len(sets) == 3, 'undo must re-adopt the old ReplicaSet, not create one'
    readopted = sets[names['nginx:1.26']]
    assert readopted['metadata']['annotations']['deployment.kubernetes.io/revision'] == '4'
    assert readopted['metadata']['annotations']['deployment.kubernetes.io/revision-history'] == '2'
    assert readopted['spec']['replicas'] == 3
    current = get_json(kubectl, 'deployment', 'web')
    assert image_of(current) == 'nginx:1.26'
    assert current['metadata']['annotations']['deployment.kubernetes.io/revision'] == '4'

    kubectl('rollout', 'undo', 'deployment/web', '--to-revision=1')
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    first = replica_sets(kubectl)[names['nginx:1.25']]
    assert first['metadata']['annotations']['deployment.kubernetes.io/revision'] == '5'
    assert first['metadata']['annotations']['deployment.kubernetes.io/revision-history'] == '1'
    history = kubectl('rollout', 'history', 'deployment/web').stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ['3', '4', '5']

    skipped = kubectl('rollout', 'undo', 'deployment/web', '--to-revision=5')
    assert skipped.stdout == 'deployment.apps/web skipped rollback (current template already matches revision 5)\n'
    missing = kubectl('rollout', 'undo', 'deployment/web', '--to-revision=42', check=False)
    assert missing.returncode == 1 and 'unable to find specified revision 42 in history' in missing.stderr


def test_rollout_restart_and_pause(kubectl):
    apply(kubectl, deployment())
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    assert kubectl('rollout', 'restart', 'deployment/web').stdout == 'deployment.apps/web restarted\n'
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    current = get_json(kubectl, 'deployment', 'web')
    assert 'kubectl.kubernetes.io/restartedAt' in current['spec']['template']['metadata']['annotations']
    assert current['metadata']['annotations']['deployment.kubernetes.io/revision'] == '2'
    assert kubectl('rollout', 'pause', 'deployment/web').stdout == 'deployment.apps/web paused\n'
    refused = kubectl('rollout', 'restart', 'deployment/web', check=False)
    assert refused.returncode == 1
    assert "can't restart paused deployment (run rollout resume first)" in refused.stderr
    progressing = next(c for c in get_json(kubectl, 'deployment', 'web')['status']['conditions'] if c['type'] == 'Progressing')
    wait_for(lambda: next(c for c in get_json(kubectl, 'deployment', 'web')['status']['conditions']
                          if c['type'] == 'Progressing')['reason'] == 'DeploymentPaused', message='DeploymentPaused')
    assert progressing['type'] == 'Progressing'
    assert kubectl('rollout', 'resume', 'deployment/web').stdout == 'deployment.apps/web resumed\n'


def test_scale_and_cascading_delete(kubectl):
    apply(kubectl, deployment())
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    assert kubectl('scale', 'deployment/web', '--replicas=5').stdout == 'deployment.apps/web scaled\n'
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    assert len(get_json(kubectl, 'pods', '-l', 'app=web')['items']) == 5
    events = get_json(kubectl, 'events', '--field-selector', 'involvedObject.kind=Deployment,involvedObject.name=web')['items']
    messages = [event['message'] for event in events if event['reason'] == 'ScalingReplicaSet']
    assert any(message.startswith('Scaled up replica set web-') and message.endswith(' from 3 to 5') for message in messages)
    assert kubectl('delete', 'deployment', 'web').stdout == 'deployment.apps "web" deleted\n'
    wait_for(lambda: not get_json(kubectl, 'rs,pods', '-l', 'app=web')['items'], message='ReplicaSets and pods to be deleted')


def test_exec_is_refused_clearly_by_the_fast_runtime(kubectl):
    kubectl('apply', '-f', '-', stdin=json.dumps({'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'p'},
                                                  'spec': {'containers': [{'name': 'c', 'image': 'nginx:1.25'}]}}))
    result = kubectl('exec', 'p', '--', 'true', check=False)
    assert result.returncode == 1
    assert result.stderr == 'Error from server (BadRequest): exec is not supported by the fast runtime: start the simulator with runtime docker\n'


def _lines_of(process: subprocess.Popen) -> queue.Queue:
    """The process's stdout lines, read by a thread so the test can wait on them with a deadline."""
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in process.stdout:
            lines.put(line.strip())
    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next_line(lines: queue.Queue, wanted: str, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line == wanted:
            return line
    return None


def test_watch_without_bookmarks_keeps_flowing_after_a_quiet_spell(kubectl, kubesim):
    """`kubectl get -w` and the Python client's Watch (neither asks for bookmarks) see a change made after more
    than 10 s of quiet (the server's bookmark interval), and an idle watch costs the server almost no CPU."""
    apply(kubectl, deployment())
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    command = [KUBECTL, '--kubeconfig', kubesim.kubeconfig, 'get', 'deployment', 'web', '--watch', '-o',
               'jsonpath={.spec.replicas}{"\\n"}']
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    api_client = kubesim.api_client()
    seen: queue.Queue = queue.Queue()

    def python_watch():
        stream = watch.Watch().stream(client.AppsV1Api(api_client).list_namespaced_deployment, 'default',
                                      field_selector='metadata.name=web', timeout_seconds=60)
        try:
            for event in stream:
                seen.put(str(event['object'].spec.replicas))
        except Exception:  # pylint: disable=broad-exception-caught
            pass  # the simulator stops under the stream when the test ends; what was seen is in ``seen``
    threading.Thread(target=python_watch, daemon=True).start()
    try:
        lines = _lines_of(process)
        assert _next_line(lines, '3', 30) and _next_line(seen, '3', 30), 'the watches did not start'
        time.sleep(10.5)  # past the bookmark interval, where the watches used to stop
        quiet_start, cpu_start = time.monotonic(), time.process_time()
        time.sleep(3)
        cpu_share = (time.process_time() - cpu_start) / (time.monotonic() - quiet_start)
        # The simulator runs in this process: its controllers' ticks take ~7 %; busy-waiting watches took a core.
        assert cpu_share < 0.25, 'idle watches used %.0f%% of a core' % (cpu_share * 100)
        kubectl('scale', 'deployment/web', '--replicas=5')
        assert _next_line(lines, '5', 30), 'kubectl get -w missed a change made after 13 s of quiet'
        assert _next_line(seen, '5', 30), 'the Python client watch missed a change made after 13 s of quiet'
    finally:
        process.kill()
        process.wait()
        api_client.close()


def _apply_web_with_named_port(kubectl) -> None:
    """Deployment `web` whose container port 8080 is named `http`, and a Service targeting it by that name."""
    body = deployment()
    body['spec']['template']['spec']['containers'][0]['ports'] = [{'name': 'http', 'containerPort': 8080}]
    apply(kubectl, body)
    apply(kubectl, {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'web', 'labels': {'app': 'web'}},
                    'spec': {'selector': {'app': 'web'}, 'ports': [{'name': 'http', 'port': 80, 'targetPort': 'http'}]}})
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')


def _pod_ips(kubectl) -> set[str]:
    return {pod['status']['podIP'] for pod in get_json(kubectl, 'pods', '-l', 'app=web')['items']
            if not pod['metadata'].get('deletionTimestamp')}


def test_endpoints_resolve_named_target_ports(kubectl, kubesim):
    """The endpoints controller resolves a named targetPort against each pod's container ports (podutil.FindPort):
    Endpoints carry the number, which the typed client requires."""
    _apply_web_with_named_port(kubectl)
    api_client = kubesim.api_client()
    try:
        core = client.CoreV1Api(api_client)
        subset = wait_for(lambda: next(iter(core.read_namespaced_endpoints('web', 'default').subsets or []), None),
                          message='endpoints')
        assert [(port.name, port.port, port.protocol) for port in subset.ports] == [('http', 8080, 'TCP')]
    finally:
        api_client.close()
    endpoints = wait_for(lambda: len((get_json(kubectl, 'endpoints', 'web').get('subsets') or [{}])[0].get('addresses', [])) == 3
                         and get_json(kubectl, 'endpoints', 'web'), message='3 ready addresses')
    (subset,) = endpoints['subsets']
    assert subset['ports'] == [{'name': 'http', 'port': 8080, 'protocol': 'TCP'}]
    assert {address['ip'] for address in subset['addresses']} == _pod_ips(kubectl)
    assert all(set(address['targetRef']) == {'kind', 'namespace', 'name', 'uid'} for address in subset['addresses'])


def test_endpoint_slices_follow_the_service(kubectl, kubesim):
    """discovery.k8s.io/v1 EndpointSlices as the EndpointSlice controller keeps them, read by `kubectl describe svc`
    and the typed client, and in step with the Endpoints when the Deployment scales down."""
    _apply_web_with_named_port(kubectl)
    ips = _pod_ips(kubectl)
    described = wait_for(lambda: next((line for line in kubectl('describe', 'svc', 'web').stdout.splitlines()
                                       if line.startswith('Endpoints:') and '<none>' not in line), None),
                         message='kubectl describe svc to list endpoints')
    assert set(described.split(None, 1)[1].split(',')) == {'%s:8080' % ip for ip in ips}
    (endpoint_slice,) = get_json(kubectl, 'endpointslices', '-l', 'kubernetes.io/service-name=web')['items']
    service = get_json(kubectl, 'service', 'web')
    assert endpoint_slice['metadata']['name'].startswith('web-') and len(endpoint_slice['metadata']['name']) == len('web-') + 5
    assert endpoint_slice['metadata']['labels'] == {'app': 'web', 'kubernetes.io/service-name': 'web',
                                                    'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io'}
    (owner,) = endpoint_slice['metadata']['ownerReferences']
    assert (owner['kind'], owner['name'], owner['uid'], owner['controller']) == ('Service', 'web', service['metadata']['uid'], True)
    assert endpoint_slice['addressType'] == 'IPv4'
    assert endpoint_slice['ports'] == [{'name': 'http', 'port': 8080, 'protocol': 'TCP'}]
    assert {endpoint['addresses'][0] for endpoint in endpoint_slice['endpoints']} == ips
    assert all(endpoint['conditions'] == {'ready': True, 'serving': True, 'terminating': False}
               and endpoint['targetRef']['kind'] == 'Pod' and endpoint['nodeName'] == 'kubesim-node'
               for endpoint in endpoint_slice['endpoints'])

    api_client = kubesim.api_client()
    try:
        discovery = client.DiscoveryV1Api(api_client)
        listed = discovery.list_namespaced_endpoint_slice('default', label_selector='kubernetes.io/service-name=web')
        assert [item.metadata.name for item in listed.items] == [endpoint_slice['metadata']['name']]
        stream = watch.Watch().stream(discovery.list_namespaced_endpoint_slice, 'default',
                                      resource_version=listed.metadata.resource_version, timeout_seconds=20)
        kubectl('scale', 'deployment/web', '--replicas=1')
        for event in stream:
            endpoints = event['object'].endpoints or []
            if event['type'] == 'MODIFIED' and len(endpoints) == 1:
                break
        else:
            raise AssertionError('no EndpointSlice event with one endpoint left')
        (left,) = endpoints
        assert (left.conditions.ready, left.conditions.serving, left.conditions.terminating) == (True, True, False)
    finally:
        api_client.close()
    ready = {address['ip'] for address in get_json(kubectl, 'endpoints', 'web')['subsets'][0]['addresses']}
    assert ready == set(left.addresses) == _pod_ips(kubectl)


def test_statefulset_history_shows_the_change_cause(kubectl):
    """The StatefulSet controller copies the set's annotations into each new ControllerRevision (newRevision in
    stateful_set_utils.go), which is where `rollout history` finds the change-cause."""
    body = workload('StatefulSet', 'db', image='nginx:1.25', replicas=2)
    body['metadata']['annotations'] = {'kubernetes.io/change-cause': 'first release'}
    apply(kubectl, body)
    kubectl('rollout', 'status', 'statefulset/db', '--timeout=30s')
    kubectl('annotate', '--overwrite', 'sts/db', 'kubernetes.io/change-cause=upgrade to 1.26')
    kubectl('set', 'image', 'sts/db', 'db=nginx:1.26')
    kubectl('rollout', 'status', 'statefulset/db', '--timeout=30s')
    history = kubectl('rollout', 'history', 'sts/db').stdout
    assert history == 'statefulset.apps/db \nREVISION  CHANGE-CAUSE\n1         first release\n2         upgrade to 1.26\n\n'
    revisions = get_json(kubectl, 'controllerrevisions', '-l', 'app=db')['items']
    assert all('kubectl.kubernetes.io/last-applied-configuration' in item['metadata']['annotations'] for item in revisions)


def _timestamps(value, found: list) -> list:
    """Every metav1.Time-shaped string (RFC3339, second precision) under ``value``, annotations aside."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and len(item) == 20 and item[10] == 'T' and item.endswith('Z'):
                found.append((key, item))
            elif key != 'annotations':
                _timestamps(item, found)
    elif isinstance(value, list):
        for item in value:
            _timestamps(item, found)
    return found


def test_timestamps_are_never_in_the_future(kubectl, kubesim):
    """The clock runs 20x and jumps 10 minutes, but objects show their times on the wall clock: nothing is stamped
    after `now`, kubectl's AGE is never <invalid>, and the order of events is kept."""
    started = time.time()
    apply(kubectl, deployment())
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    kubesim.clock.advance(600)
    kubectl('scale', 'deployment/web', '--replicas=4')
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    now = time.time()
    objects = get_json(kubectl, 'deployments,replicasets,pods,events')['items']
    stamps = _timestamps(objects, [])
    assert {'creationTimestamp', 'lastTransitionTime', 'lastUpdateTime', 'startTime', 'startedAt', 'lastTimestamp'} <= {
        key for key, _stamp in stamps}
    late = [(key, stamp) for key, stamp in stamps if clock.parse_rfc3339(stamp) > now + 1]
    assert not late, 'stamped in the future (now %s): %s' % (clock.rfc3339(now), late[:5])
    assert all(clock.parse_rfc3339(stamp) >= int(started) for _key, stamp in stamps)
    pods = sorted(get_json(kubectl, 'pods', '-l', 'app=web')['items'], key=lambda pod: pod['metadata']['creationTimestamp'])

    def stored_creation(pod: dict) -> str:
        stored = kubesim.call(kubesim.simulator.registry.get, PODS, 'default', pod['metadata']['name'])
        return stored['metadata']['creationTimestamp']
    newest = max(pods, key=stored_creation)
    assert newest['metadata']['creationTimestamp'] == pods[-1]['metadata']['creationTimestamp']
    table = kubectl('get', 'pods').stdout
    assert '<invalid>' not in table and len(table.splitlines()) == 5, table


def test_zero_values_are_omitted_and_defaults_set(kubectl, kubesim):
    """As a round trip through the Go types: omitempty fields at their zero value are not returned (minReadySeconds,
    paused, empty lists, a probe's initialDelaySeconds), zeros that are defaulted take the default, and the
    API server's defaults (pointer fields) are always there."""
    body = deployment(minReadySeconds=0, paused=False)
    container = body['spec']['template']['spec']['containers'][0]
    container.update({'ports': [], 'env': [], 'stdin': False, 'workingDir': '',
                      'readinessProbe': {'tcpSocket': {'port': 80}, 'initialDelaySeconds': 0, 'periodSeconds': 0}})
    body['spec']['template']['spec']['hostNetwork'] = False
    body['spec']['template']['metadata']['annotations'] = {}
    apply(kubectl, body)
    kubectl('rollout', 'status', 'deployment/web', '--timeout=30s')
    spec = get_json(kubectl, 'deployment', 'web')['spec']
    assert 'minReadySeconds' not in spec and 'paused' not in spec
    assert (spec['replicas'], spec['revisionHistoryLimit'], spec['progressDeadlineSeconds']) == (3, 10, 600)
    template = spec['template']
    assert 'annotations' not in template['metadata'] and 'hostNetwork' not in template['spec']
    (container,) = template['spec']['containers']
    assert not {'ports', 'env', 'stdin', 'workingDir'} & set(container)
    assert container['readinessProbe'] == {'tcpSocket': {'port': 80}, 'periodSeconds': 10, 'timeoutSeconds': 1,
                                           'successThreshold': 1, 'failureThreshold': 3}
    api_client = kubesim.api_client()
    try:
        typed = client.AppsV1Api(api_client).read_namespaced_deployment('web', 'default')
        assert typed.spec.min_ready_seconds is None and typed.spec.paused is None
    finally:
        api_client.close()
    (rs,) = replica_sets(kubectl).values()
    assert 'minReadySeconds' not in rs['spec'] and 'ports' not in rs['spec']['template']['spec']['containers'][0]
