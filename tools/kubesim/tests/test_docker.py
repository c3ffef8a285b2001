"""The docker runtime: pods as real containers of the local images, Service proxies, exec and logs.

Skipped without a Docker engine or the demo images. Requests go to 127.0.0.1 only: the Service
proxies and the ports the pods' containers are published on.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import subprocess
import threading
import time

import pytest
from kubernetes import client
from kubernetes.stream import stream

from .helpers import wait_for

KUBECTL = shutil.which('kubectl')
DB_ENV = [{'name': 'POSTGRES_USER', 'value': 'app'}, {'name': 'POSTGRES_PASSWORD', 'value': 'secret'},
          {'name': 'POSTGRES_DB', 'value': 'app'}]
APP_ENV = [{'name': 'DATABASE_URI', 'value': 'postgresql://app:secret@db:5432/app'},
           {'name': 'DATABASE_URL', 'value': 'postgresql://app:secret@db:5432/app'},
           {'name': 'SECRET_KEY', 'value': 'kubesim-test-secret'}]


def _images_present(*names: str) -> bool:
    try:
        import docker  # pylint: disable=import-outside-toplevel
        api = docker.APIClient(timeout=5)
        for name in names:
            api.inspect_image(name)
        return True
    except Exception:  # pylint: disable=broad-exception-caught
        return False


pytestmark = [pytest.mark.skipif(KUBECTL is None, reason='kubectl is not installed'),
              pytest.mark.skipif(not _images_present('demoapp:1.0.0', 'demoapp:2.0.0', 'demoapp:3.0.0', 'artisan-upgrade/postgres:15'),
                                 reason='the demo images are not on this machine')]


@pytest.fixture()
def kubectl(kubesim_docker):
    def run(*args: str, stdin=None, check: bool = True, text: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([KUBECTL, '--kubeconfig', kubesim_docker.kubeconfig, *args], input=stdin, capture_output=True,
                                text=text, timeout=600, check=False)
        if check and result.returncode != 0:
            raise AssertionError('kubectl %s failed (%d): %s%s' % (' '.join(args), result.returncode, result.stdout, result.stderr))
        return result
    return run


@pytest.fixture()
def core(kubesim_docker):
    api_client = kubesim_docker.api_client()
    yield client.CoreV1Api(api_client)
    api_client.close()


def apply(kubectl, body: dict) -> None:
    kubectl('apply', '-f', '-', stdin=json.dumps(body))


def pod(name: str, image: str, restart_policy: str = 'Always', **container) -> dict:
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'labels': {'app': name}},
            'spec': {'restartPolicy': restart_policy, 'containers': [dict({'name': 'main', 'image': image}, **container)]}}


def database_pod() -> dict:
    return pod('db', 'artisan-upgrade/postgres:15', env=DB_ENV, ports=[{'containerPort': 5432}],
               readinessProbe={'exec': {'command': ['pg_isready', '-h', '127.0.0.1', '-U', 'app', '-d', 'app']},
                               'periodSeconds': 1})


def ready(core, name: str):
    current = core.read_namespaced_pod(name, 'default')
    return any(item.type == 'Ready' and item.status == 'True' for item in current.status.conditions or []) and current


def phase(core, name: str) -> str:
    return core.read_namespaced_pod(name, 'default').status.phase


def migrate(kubectl, core, version: str) -> None:
    """Run `demoapp migrate` of a release as a one-off pod, as an upgrade's migration step does."""
    apply(kubectl, pod('migrate-%s' % version.replace('.', '-'), 'demoapp:%s' % version, 'Never', env=APP_ENV,
                       command=['demoapp', 'migrate']))
    name = 'migrate-%s' % version.replace('.', '-')
    wait_for(lambda: phase(core, name) in ('Succeeded', 'Failed'), 60, 0.2, 'migration %s' % version)
    assert phase(core, name) == 'Succeeded', kubectl('logs', name).stdout


def web_deployment(image: str) -> dict:
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'web'},
            'spec': {'replicas': 3, 'selector': {'matchLabels': {'app': 'web'}},
                     'strategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': 1, 'maxUnavailable': 0}},
                     'template': {'metadata': {'labels': {'app': 'web'}}, 'spec': {'containers': [{
                         'name': 'web', 'image': image, 'env': APP_ENV, 'ports': [{'name': 'http', 'containerPort': 8000}],
                         'readinessProbe': {'httpGet': {'path': '/api/system/health', 'port': 'http'}, 'periodSeconds': 1,
                                            'failureThreshold': 1},
                         # Probe periods run at the clock's speed (5x) but the app starts in real time: liveness
                         # waits for the startup probe, which allows 60 simulated (12 real) seconds.
                         'startupProbe': {'httpGet': {'path': '/health', 'port': 8000}, 'periodSeconds': 1, 'failureThreshold': 60},
                         'livenessProbe': {'httpGet': {'path': '/health', 'port': 8000}, 'periodSeconds': 2}}]}}}}


class Load:
    """A steady stream of GET /version through the Service proxy: a new connection per request."""

    def __init__(self, address: tuple[str, int], threads: int = 4):
        self.address = address
        self.stop = threading.Event()
        self.results: list[tuple[float, str]] = []  # (when the request started, version or error)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _thread in range(threads)]

    def _one(self) -> str:
        connection = http.client.HTTPConnection(*self.address, timeout=5)
        try:
            connection.request('GET', '/version', headers={'Connection': 'close'})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                return 'error: HTTP %d %r' % (response.status, body[:200])
            return json.loads(body)['version']
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return 'error: %r' % exc
        finally:
            connection.close()

    def _run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            outcome = self._one()
            with self.lock:
                self.results.append((started, outcome))
            time.sleep(0.01)

    def __enter__(self) -> 'Load':
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def _three(pods: list) -> list | None:
    return pods if len(pods) == 3 else None


def test_rolling_update_through_the_service_proxy_drops_no_request(kubesim_docker, kubectl, core):
    apply(kubectl, database_pod())
    wait_for(lambda: ready(core, 'db'), 300, 0.2, 'database ready')
    migrate(kubectl, core, '1.0.0')
    apply(kubectl, web_deployment('demoapp:1.0.0'))
    apply(kubectl, {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'web'},
                    'spec': {'selector': {'app': 'web'}, 'ports': [{'name': 'http', 'port': 80, 'targetPort': 'http'}]}})
    kubectl('rollout', 'status', 'deployment/web', '--timeout=400s')
    address = wait_for(lambda: kubesim_docker.service_address('web'), 60, 0.1, 'service proxy')
    annotation = core.read_namespaced_service('web', 'default').metadata.annotations['kubesim.io/proxy']
    assert annotation == '127.0.0.1:%d' % address[1]

    with Load(address) as load:
        time.sleep(1)
        migrate(kubectl, core, '2.0.0')  # expand migration: 1.0.0 stays ready ("schema ahead")
        kubectl('set', 'image', 'deployment/web', 'web=demoapp:2.0.0')
        status = kubectl('rollout', 'status', 'deployment/web', '--timeout=400s')
        completed = time.monotonic()
        time.sleep(1)
    assert status.stdout.endswith('deployment "web" successfully rolled out\n')
    outcomes = [outcome for _at, outcome in load.results]
    failures = [outcome for outcome in outcomes if outcome.startswith('error')]
    assert not failures, failures[:5]
    assert len(outcomes) > 50 and {'1.0.0', '2.0.0'} <= set(outcomes)
    # Once rollout status says done, every new connection reaches a new pod. Requests are told apart by when
    # they started: on a busy machine one begun before that moment may end after it, still on an old pod.
    after_completion = [outcome for at, outcome in load.results if at > completed]
    assert after_completion and set(after_completion) == {'2.0.0'}, after_completion

    with Load(address, threads=2) as after:
        time.sleep(1)
    assert {outcome for _at, outcome in after.results} == {'2.0.0'}
    # rollout status is done before the last old pod has stopped (as on a cluster); a busy Docker engine is slow to stop it.
    pods = wait_for(lambda: _three(core.list_namespaced_pod('default', label_selector='app=web').items), 60, 0.2,
                    'the old pods to be gone')
    assert {item.spec.containers[0].image for item in pods} == {'demoapp:2.0.0'}
    assert all(item.status.container_statuses[0].ready and item.status.container_statuses[0].started for item in pods)
    assert all(item.status.container_statuses[0].restart_count == 0 for item in pods)


def test_crashing_container_backs_off(kubesim_docker, kubectl, core):
    apply(kubectl, pod('crash', 'demoapp:3.0.0', env=APP_ENV + [{'name': 'DEMOAPP_FAULT', 'value': 'crash'}]))

    def crash_looping():
        status = core.read_namespaced_pod('crash', 'default').status
        container = (status.container_statuses or [None])[0]
        waiting = container and container.state.waiting
        return waiting and waiting.reason == 'CrashLoopBackOff' and container.restart_count >= 1 and container

    container = wait_for(crash_looping, 60, 0.2, 'CrashLoopBackOff')
    assert container.last_state.terminated.exit_code == 1 and container.last_state.terminated.reason == 'Error'
    assert 'back-off 10s restarting failed container=main pod=crash_default' in container.state.waiting.message
    assert b'exiting with status 1 at start' in kubectl('logs', 'crash', text=False).stdout
    reasons = {event.reason for event in core.list_namespaced_event('default', field_selector='involvedObject.name=crash').items}
    assert {'Scheduled', 'Pulled', 'Created', 'Started', 'BackOff'} <= reasons


def test_missing_image_is_never_pulled(kubesim_docker, kubectl, core):
    apply(kubectl, pod('missing', 'demoapp:9.9.9-kubesim-missing'))

    def reason():
        statuses = core.read_namespaced_pod('missing', 'default').status.container_statuses or []
        return statuses and statuses[0].state.waiting and statuses[0].state.waiting.reason

    wait_for(lambda: reason() == 'ErrImagePull', 20, 0.05, 'ErrImagePull')
    wait_for(lambda: reason() == 'ImagePullBackOff', 20, 0.1, 'ImagePullBackOff')
    assert phase(core, 'missing') == 'Pending'
    messages = [event.message for event in core.list_namespaced_event('default', field_selector='involvedObject.name=missing').items]
    assert 'Error: ErrImagePull' in messages and 'Error: ImagePullBackOff' in messages
    assert not _images_present('demoapp:9.9.9-kubesim-missing')
    kubectl('delete', 'pod', 'missing', '--wait=true', '--timeout=30s')


def test_exec_with_kubectl_and_the_python_client(kubesim_docker, kubectl, core):
    apply(kubectl, database_pod())
    wait_for(lambda: ready(core, 'db'), 300, 0.2, 'database ready')

    result = kubectl('exec', 'db', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3', check=False)
    assert (result.returncode, result.stdout, result.stderr) == (3, 'out\n', 'err\ncommand terminated with exit code 3\n')
    created = kubectl('exec', '-i', 'db', '--', 'psql', '-U', 'app', '-d', 'app', '-v', 'ON_ERROR_STOP=1', '-qAt',
                      stdin='CREATE TABLE t (v text); INSERT INTO t VALUES (\'from stdin\'); SELECT v FROM t;\n')
    assert created.stdout == 'from stdin\n'

    # Binary output: random bytes and a pg_dump custom-format archive come through unchanged.
    digest = kubectl('exec', 'db', '--', 'sh', '-c', 'head -c 300000 /dev/urandom > /tmp/blob && sha256sum /tmp/blob').stdout.split()[0]
    blob = kubectl('exec', 'db', '--', 'cat', '/tmp/blob', text=False).stdout
    assert len(blob) == 300000 and hashlib.sha256(blob).hexdigest() == digest

    response = stream(core.connect_get_namespaced_pod_exec, 'db', 'default', command=['pg_dump', '-U', 'app', '-Fc', 'app'],
                      stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False, binary=True)
    dump = b''
    while response.is_open():
        response.update(timeout=1)
        dump += response.read_stdout() or b''
    dump += response.read_stdout() or b''
    assert response.returncode == 0 and dump.startswith(b'PGDMP')
    restored = kubectl('exec', '-i', 'db', '--', 'pg_restore', '-f', '-', text=False, stdin=dump).stdout
    assert b"COPY public.t (v) FROM stdin;\nfrom stdin\n" in restored

    failing = stream(core.connect_get_namespaced_pod_exec, 'db', 'default', command=['sh', '-c', 'echo no >&2; exit 4'],
                     stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    failing.run_forever(timeout=10)
    assert failing.returncode == 4 and failing.read_stderr() == 'no\n'


def test_job_runs_containers_to_completion(kubesim_docker, kubectl):
    def job(name: str, script: str, backoff_limit: int) -> dict:
        return {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': name},
                'spec': {'backoffLimit': backoff_limit, 'template': {'spec': {'restartPolicy': 'Never', 'containers': [
                    {'name': 'work', 'image': 'demoapp:1.0.0', 'command': ['sh', '-c', script]}]}}}}

    apply(kubectl, job('hello', 'echo hello from the job; exit 0', 1))
    apply(kubectl, job('broken', 'echo about to fail >&2; exit 7', 0))
    assert kubectl('wait', '--for=condition=complete', 'job/hello', '--timeout=300s').stdout == 'job.batch/hello condition met\n'
    assert kubectl('logs', 'job/hello').stdout == 'hello from the job\n'
    kubectl('wait', '--for=condition=failed', 'job/broken', '--timeout=300s')
    broken = json.loads(kubectl('get', 'job', 'broken', '-o', 'json').stdout)
    assert broken['status']['failed'] == 1
    assert [(item['type'], item['reason']) for item in broken['status']['conditions']] == [
        ('FailureTarget', 'BackoffLimitExceeded'), ('Failed', 'BackoffLimitExceeded')]
    pods = json.loads(kubectl('get', 'pods', '-l', 'job-name=broken', '-o', 'json').stdout)['items']
    assert pods[0]['status']['phase'] == 'Failed'
    assert pods[0]['status']['containerStatuses'][0]['state']['terminated']['exitCode'] == 7
