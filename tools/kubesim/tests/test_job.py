"""The Job controller in the fast runtime, through kubectl and the typed client."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from kubesim.job import failure_reason, pod_failure_backoff, pods_to_create

from .helpers import wait_for

KUBECTL = shutil.which('kubectl')


def job(name: str, image: str = 'busybox:1.36', restart_policy: str = 'Never', **spec) -> dict:
    return {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': name},
            'spec': dict({'template': {'spec': {'restartPolicy': restart_policy,
                                                'containers': [{'name': 'work', 'image': image, 'command': ['sh', '-c', 'true']}]}}},
                         **spec)}


@pytest.fixture()
def batch(kubesim):
    api_client = kubesim.api_client()
    yield client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    api_client.close()


def conditions(current) -> dict:
    return {item.type: (item.status, item.reason) for item in current.status.conditions or []}


def test_pure_decisions():
    spec = job('x', backoffLimit=2)
    assert failure_reason(spec, 2, 0, 0.0, 100.0) is None
    assert failure_reason(spec, 3, 0, 0.0, 100.0)[0] == 'BackoffLimitExceeded'
    on_failure = job('x', restart_policy='OnFailure', backoffLimit=2)
    assert failure_reason(on_failure, 0, 2, 0.0, 1.0)[0] == 'BackoffLimitExceeded'
    assert failure_reason(job('x', activeDeadlineSeconds=5), 0, 0, 0.0, 5.0) == (
        'DeadlineExceeded', 'Job was active longer than specified deadline')
    parallel = job('x', completions=5, parallelism=2)
    parallel['spec'].update(completions=5, parallelism=2)
    assert [pods_to_create(parallel, active, done) for active, done in ((0, 0), (1, 0), (2, 3), (1, 4), (0, 5))] == [2, 1, 0, 0, 0]
    assert [pod_failure_backoff(count) for count in (0, 1, 2, 3)] == [0.0, 10.0, 20.0, 40.0]


def test_job_completes_with_parallel_pods(kubesim, batch):
    jobs, core = batch
    created = jobs.create_namespaced_job('default', job('work', completions=3, parallelism=2))
    uid = created.metadata.uid
    assert created.spec.selector.match_labels == {'batch.kubernetes.io/controller-uid': uid}
    assert created.spec.template.metadata.labels == {
        'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': 'work', 'controller-uid': uid, 'job-name': 'work'}
    assert (created.spec.backoff_limit, created.spec.completion_mode) == (6, 'NonIndexed')
    done = wait_for(lambda: 'Complete' in conditions(jobs.read_namespaced_job('work', 'default')) and
                    jobs.read_namespaced_job('work', 'default'), 20, 0.05, 'job complete')
    assert conditions(done) == {'SuccessCriteriaMet': ('True', 'CompletionsReached'), 'Complete': ('True', 'CompletionsReached')}
    assert (done.status.succeeded, done.status.active, done.status.failed, done.status.ready) == (3, None, None, 0)
    assert done.status.start_time and done.status.completion_time
    pods = core.list_namespaced_pod('default', label_selector='job-name=work').items
    assert len(pods) == 3 and {pod.status.phase for pod in pods} == {'Succeeded'}
    assert {pod.status.container_statuses[0].state.terminated.reason for pod in pods} == {'Completed'}
    assert all(pod.metadata.owner_references[0].kind == 'Job' for pod in pods)


def test_failing_job_reaches_its_backoff_limit(kubesim, batch):
    jobs, core = batch
    jobs.create_namespaced_job('default', job('broken', image='app:fail', backoffLimit=1))
    failed = wait_for(lambda: 'Failed' in conditions(jobs.read_namespaced_job('broken', 'default')) and
                      jobs.read_namespaced_job('broken', 'default'), 30, 0.05, 'job failed')
    assert conditions(failed) == {'FailureTarget': ('True', 'BackoffLimitExceeded'), 'Failed': ('True', 'BackoffLimitExceeded')}
    assert failed.status.failed == 2 and failed.status.succeeded is None and failed.status.completion_time is None
    pods = core.list_namespaced_pod('default', label_selector='job-name=broken').items
    assert {pod.status.phase for pod in pods} == {'Failed'}
    assert {pod.status.container_statuses[0].state.terminated.exit_code for pod in pods} == {1}


def test_on_failure_counts_restarts_and_deadline_fails(kubesim, batch):
    jobs, _core = batch
    restarts = job('restarts', restart_policy='OnFailure', backoffLimit=2)
    restarts['spec']['template']['spec']['containers'][0]['command'] = ['sh', '-c', 'fail']
    jobs.create_namespaced_job('default', restarts)
    jobs.create_namespaced_job('default', job('slow', image='app:slowstart-60', activeDeadlineSeconds=3))
    for name, reason in (('restarts', 'BackoffLimitExceeded'), ('slow', 'DeadlineExceeded')):
        current = wait_for(lambda name=name: 'Failed' in conditions(jobs.read_namespaced_job(name, 'default')) and
                           jobs.read_namespaced_job(name, 'default'), 60, 0.05, '%s failed' % name)
        assert conditions(current)['Failed'] == ('True', reason)


def test_restart_policy_always_is_invalid(kubesim, batch):
    jobs, _core = batch
    with pytest.raises(ApiException) as error:
        jobs.create_namespaced_job('default', job('always', restart_policy='Always'))
    assert error.value.status == 422
    assert 'Unsupported value: "Always": supported values: "OnFailure", "Never"' in json.loads(error.value.body)['message']


@pytest.mark.skipif(KUBECTL is None, reason='kubectl is not installed')
def test_kubectl_wait_and_logs(kubesim):
    def kubectl(*args, stdin=None):
        return subprocess.run([KUBECTL, '--kubeconfig', kubesim.kubeconfig, *args], input=stdin, capture_output=True, text=True,
                              timeout=60, check=False)
    assert kubectl('apply', '-f', '-', stdin=json.dumps(job('migrate'))).stdout == 'job.batch/migrate created\n'
    waited = kubectl('wait', '--for=condition=complete', 'job/migrate', '--timeout=30s')
    assert (waited.returncode, waited.stdout) == (0, 'job.batch/migrate condition met\n'), waited.stderr
    logs = kubectl('logs', 'job/migrate')
    assert logs.returncode == 0 and logs.stdout.startswith('kubesim: container work of pod migrate-'), logs.stderr
    kubectl('apply', '-f', '-', stdin=json.dumps(job('bad', image='app:fail', backoffLimit=0)))
    failed = kubectl('wait', '--for=condition=failed', 'job/bad', '--timeout=30s')
    assert failed.returncode == 0, failed.stderr
    deleted = kubectl('delete', 'job', 'migrate', '--cascade=foreground')
    assert deleted.returncode == 0
    assert not json.loads(kubectl('get', 'pods', '-l', 'job-name=migrate', '-o', 'json').stdout)['items']
