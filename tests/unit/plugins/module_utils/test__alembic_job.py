# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration Job: its manifest, how its end is judged, and its orchestration against a fake of the Kubernetes
boundary (create the Secret and the Job, wait by watch, read the log, clean up)."""

from __future__ import annotations

import io
import json

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_job as job
from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s_state as state
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecError
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run
from ansible_collections.artisan.upgrade.tests.unit.plugins.module_utils import kube_fake
from ansible_collections.artisan.upgrade.tests.unit.plugins.module_utils.k8s_fakes import JobCluster, job_object, pod

JOB = {'image': 'app:2.0.0', 'namespace': 'shop', 'service_account': None, 'labels': {}, 'timeout': 60}


def test_the_job_spec_carries_no_environment_value_only_the_secret_reference():
    manifest = job.job_manifest('alembic-migrate-1a2b', {'image': 'app:2.0.0', 'service_account': 'migrator',
                                                         'labels': {'release': 2}}, ['python', '-c', 'x'], 'alembic-migrate-1a2b')
    pod = manifest['spec']['template']['spec']
    assert manifest['spec']['backoffLimit'] == 0 and pod['restartPolicy'] == 'Never'
    assert pod['serviceAccountName'] == 'migrator'
    assert pod['containers'] == [{'name': 'migrate', 'image': 'app:2.0.0', 'command': ['python', '-c', 'x'],
                                  'envFrom': [{'secretRef': {'name': 'alembic-migrate-1a2b'}}]}]
    assert manifest['metadata']['labels']['release'] == '2'
    assert manifest['spec']['template']['metadata']['labels'] == manifest['metadata']['labels']


def test_backoff_limit_sets_the_jobs_retries_none_by_default():
    assert job.job_manifest('n', {'image': 'app:2.0.0', 'backoff_limit': 3}, ['python'], 'n')['spec']['backoffLimit'] == 3
    assert job.job_manifest('n', {'image': 'app:2.0.0', 'backoff_limit': None}, ['python'], 'n')['spec']['backoffLimit'] == 0
    spec = job.job_argument_spec()['job']['options']['backoff_limit']
    assert spec == {'type': 'int', 'default': 0}


def test_a_failed_attempt_does_not_end_the_wait_while_the_job_retries_a_pod_that_cannot_start_does():
    assert job.job_verdict(job_object(), [pod('x-1', exit_code=1)]) is None
    stuck = job.job_verdict(job_object(), [pod('x-1', exit_code=1), pod('x-2', waiting='ImagePullBackOff')])
    assert stuck.outcome == 'Stuck' and stuck.problem.pod == 'x-2'


def attempt(name, created, exit_code):
    found = pod(name, exit_code=exit_code)
    found['metadata']['creationTimestamp'] = created
    return found


def test_the_attempt_that_succeeded_or_the_last_that_failed_tells_the_end():
    first, second, third = (attempt('x-c', '2026-11-27T08:00:00Z', 1), attempt('x-a', '2026-11-27T08:00:20Z', 2),
                            attempt('x-b', '2026-11-27T08:00:50Z', 0))
    assert job.deciding_pods('Complete', [third, first, second]) == [third]
    assert job.deciding_pods('Failed', [second, first]) == [second]
    assert job.deciding_pods('Failed', []) == []
    assert job.deciding_pods('Complete', [pod()]) == [pod()]


def test_the_jobs_end_or_a_pod_that_cannot_start_ends_the_wait():
    assert job.job_verdict(job_object('Complete'), [pod()]) == job.JobVerdict('Complete')
    assert job.job_verdict(job_object('Failed'), []) == job.JobVerdict('Failed')
    assert job.job_verdict(job_object(), [pod()]) is None
    assert job.job_verdict(None, []) is None
    stuck = job.job_verdict(job_object(), [pod(), pod('x-fghij', waiting='ErrImagePull')])
    assert stuck.outcome == 'Stuck' and (stuck.problem.pod, stuck.problem.reason) == ('x-fghij', 'ErrImagePull')
    assert job.job_verdict(job_object(), [pod(waiting='ContainerCreating')]) is None


@pytest.mark.parametrize('reason', state.FAILURE_REASONS)
def test_the_job_uses_the_shared_failure_reasons(reason):
    """One set of reasons for rollouts and the Job (RunContainerError was only the Job's, CrashLoopBackOff only
    the rollouts')."""
    assert job.job_verdict(job_object(), [pod(waiting=reason)]).problem.reason == reason
    assert not hasattr(job, 'STUCK_REASONS')


def test_exit_code_of_a_failed_job():
    assert job.job_exit_code('Complete', []) == 0
    assert job.job_exit_code('Failed', [pod(exit_code=3)]) == 3
    assert job.job_exit_code('Failed', [pod()]) == 1


# -- orchestration against a fake boundary -------------------------------------------------------------

def run(kube, argv=('python3', '-', 'inspect'), env=None, program=b'print("hi")'):
    transport = job.JobTransport({}, JOB, kube=kube)
    return transport, transport.run(list(argv), env or {'ARTISAN_ALEMBIC_URL': 'postgresql://u:pw@db/shop'},
                                    stdin=io.BytesIO(program))


def test_a_job_that_completes_gives_its_log_and_leaves_nothing_behind():
    kube = JobCluster([(None, []), (None, [pod()]), ('Complete', [pod(exit_code=0)])], logs={'x-abcde': 'answer\n'})
    _transport, result = run(kube)
    name = kube.job_name()
    assert result.rc == 0 and result.stdout == b'answer\n' and result.stderr == ''
    assert kube.requests == [
        'POST /api/v1/namespaces/shop/secrets',
        'POST /apis/batch/v1/namespaces/shop/jobs',
        'PATCH /api/v1/namespaces/shop/secrets/%s' % name,
        'GET /api/v1/namespaces/shop/pods',
        'GET /api/v1/namespaces/shop/pods/x-abcde/log',
        'DELETE /apis/batch/v1/namespaces/shop/jobs/%s' % name,
        'DELETE /api/v1/namespaces/shop/secrets/%s' % name,
    ]
    # The URL and the program travel in the Secret only; the Secret is owned by the Job.
    secret = kube.bodies['POST /api/v1/namespaces/shop/secrets']
    assert secret['stringData'] == {'ARTISAN_ALEMBIC_URL': 'postgresql://u:pw@db/shop', job.PROGRAM_VARIABLE: 'print("hi")'}
    manifest = kube.bodies['POST /apis/batch/v1/namespaces/shop/jobs']
    assert 'pw@db' not in json.dumps(manifest) and 'print("hi")' not in json.dumps(manifest)
    assert manifest['spec']['template']['spec']['containers'][0]['command'] == ['python3', '-c', job.BOOTSTRAP, 'inspect']
    patch, content_type = kube.bodies['PATCH /api/v1/namespaces/shop/secrets/%s' % name]
    assert patch['metadata']['ownerReferences'][0]['uid'] == 'uid-2' and content_type == 'application/merge-patch+json'
    assert list(kube.objects) == ['/api/v1/namespaces/shop']  # the Job and its Secret are deleted
    # Waited for by watching the Job (by name) and its pods (by the job-name label).
    assert kube.watched == {'job': ('/apis/batch/v1/namespaces/shop/jobs', {'fieldSelector': 'metadata.name=%s' % name}),
                            'pods': ('/api/v1/namespaces/shop/pods', {'labelSelector': 'job-name=%s' % name})}
    assert {kube.bodies[c] for c in kube.requests if c.startswith('DELETE')} == {'Background'}
    assert result.command.startswith('kubectl create job %s --namespace shop --image app:2.0.0 -- python3 -c' % name)


def test_a_failed_job_gives_its_containers_exit_code_and_log_tail():
    kube = JobCluster([(None, [pod()]), ('Failed', [pod()])], final_pods=[pod(exit_code=3)],
                      logs={'x-abcde': 'x' * 5000 + 'Traceback: boom\n'})
    _transport, result = run(kube)
    assert result.rc == 3
    assert result.stderr.endswith('Traceback: boom\n') and len(result.stderr) == job.LOG_TAIL
    assert result.stdout.endswith(b'Traceback: boom\n')
    assert [c.split()[0] for c in kube.requests[-2:]] == ['DELETE', 'DELETE']


def test_with_retries_the_log_and_exit_code_are_those_of_the_attempt_that_decided():
    failed, succeeded = attempt('x-abcde', '2026-11-27T08:00:00Z', 1), attempt('x-fghij', '2026-11-27T08:00:30Z', 0)
    logs = {'x-abcde': 'attempt 1: connection reset\n', 'x-fghij': 'answer\n'}
    kube = JobCluster([(None, [failed]), ('Complete', [failed, succeeded])], final_pods=[succeeded, failed], logs=logs)
    _transport, result = run(kube)
    assert result.rc == 0 and result.stdout == b'answer\n' and result.stderr == ''
    assert 'GET /api/v1/namespaces/shop/pods/x-abcde/log' not in kube.requests
    last = attempt('x-fghij', '2026-11-27T08:00:30Z', 2)
    kube = JobCluster([(None, [failed]), ('Failed', [failed, last])], final_pods=[last, failed],
                      logs={'x-abcde': 'attempt 1: boom\n', 'x-fghij': 'attempt 2: Traceback: boom\n'})
    _transport, result = run(kube)
    assert result.rc == 2 and result.stderr == 'attempt 2: Traceback: boom\n'


def test_a_pod_that_cannot_pull_its_image_fails_at_once_with_the_shared_reason():
    kube = JobCluster([(None, []), (None, [pod(waiting='ErrImagePull')]), ('Complete', [pod(exit_code=0)])])
    _transport, result = run(kube)
    assert result.rc == 126
    assert result.stderr == 'the Job %s cannot start its container: ErrImagePull: image "app:9" not found' % kube.job_name()
    assert not any(c.endswith('/log') for c in kube.requests)
    assert [c.split()[0] for c in kube.requests[-2:]] == ['DELETE', 'DELETE']


def test_a_job_that_does_not_end_in_time_is_reported_and_deleted():
    kube = JobCluster([(None, [pod()])])
    _transport, result = run(kube)
    assert result.rc == 124 and result.stderr == 'the Job %s did not end within 60s (job.timeout)' % kube.job_name()
    assert kube.requests[-2:] == ['DELETE /apis/batch/v1/namespaces/shop/jobs/%s' % kube.job_name(),
                                  'DELETE /api/v1/namespaces/shop/secrets/%s' % kube.job_name()]


def test_a_refused_job_still_deletes_its_secret():
    kube = JobCluster()
    kube.failures['POST /apis/batch/v1/namespaces/shop/jobs'] = ModuleFailure('jobs.batch is forbidden (HTTP 403)')
    _transport, result = run(kube)
    name = kube.bodies['POST /api/v1/namespaces/shop/secrets']['metadata']['name']
    assert result.rc == 126 and result.stderr == 'cannot create the Job %s: jobs.batch is forbidden (HTTP 403)' % name
    assert kube.requests[-1] == 'DELETE /api/v1/namespaces/shop/secrets/%s' % name


def test_a_refused_secret_creates_no_job():
    kube = JobCluster()
    kube.failures['POST /api/v1/namespaces/shop/secrets'] = ModuleFailure('secrets is forbidden (HTTP 403)')
    _transport, result = run(kube)
    assert result.rc == 126 and 'cannot create the Secret' in result.stderr and 'forbidden' in result.stderr
    assert not any('/jobs' in c for c in kube.requests)


def test_a_server_lost_while_waiting_is_a_failed_step_and_cleanup_is_still_tried():
    def lost(streams, judge, clock=None):
        raise ModuleFailure('cannot reach the Kubernetes API at http://127.0.0.1:1: connection refused')
    kube = JobCluster([(None, [pod()])])
    kube.wait_until = lost
    _transport, result = run(kube)
    assert result.rc == 125 and 'cannot reach the Kubernetes API at http://127.0.0.1:1' in result.stderr
    assert [c.split()[0] for c in kube.requests[-2:]] == ['DELETE', 'DELETE']


def test_check_reads_the_namespace_and_says_what_is_wrong():
    transport = job.JobTransport({}, JOB, kube=JobCluster())
    transport.check()
    assert transport._kube.requests == ['GET /api/v1/namespaces/shop']
    with pytest.raises(ExecError, match=r'^job: namespace "shop": shop not found \(HTTP 404\)$'):
        job.JobTransport({}, JOB, kube=kube_fake.FakeKube()).check()


def test_the_api_calls_are_noted_into_the_modules_commands():
    _k8s = pytest.importorskip('ansible_collections.artisan.upgrade.plugins.module_utils._k8s')
    pytest.importorskip('kubernetes')
    transport = job.JobTransport({'host': 'http://127.0.0.1:1'}, JOB)
    run = Run(secrets=['s3cret'])
    run.record('squawk --reporter json')
    transport.record_into(run)
    kube = transport.kube(30)
    assert isinstance(kube, _k8s.Kube) and 25 < kube.deadline.left() <= 30
    kube.record('POST', '/api/v1/namespaces/shop/secrets/s3cret')
    assert run.commands == ['squawk --reporter json', 'POST /api/v1/namespaces/shop/secrets/********']


def test_an_unreachable_server_is_the_one_message():
    _k8s = pytest.importorskip('ansible_collections.artisan.upgrade.plugins.module_utils._k8s')
    pytest.importorskip('kubernetes')
    gone = JobCluster()
    gone.failures['GET /api/v1/namespaces/shop'] = _k8s.Unreachable('http://127.0.0.1:1', 'connection refused')
    with pytest.raises(ExecError, match=r'^job: cannot reach the Kubernetes API at http://127.0.0.1:1: connection refused$'):
        job.JobTransport({}, JOB, kube=gone).check()


def test_the_answer_is_the_last_marked_line_whatever_surrounds_it():
    output = 'INFO  [alembic] Running upgrade\n\nartisan-alembic-answer: {"ok": true, "current": ["0002"]}\nWARNING bye\n'
    assert actions.parse_answer(output) == {'ok': True, 'current': ['0002']}
    with pytest.raises(ValueError):
        actions.parse_answer('Traceback (most recent call last):\n')


# -- the named Job that applies (migrate_job of the migrate role) --------------------------------------------

NAMED = dict(JOB, name='demoapp-migrate-2-0-0-expand',
             env_from=[{'configMapRef': {'name': 'demoapp-config'}}, {'secretRef': {'name': 'demoapp-secret'}}])
NAMED_PATH = '/apis/batch/v1/namespaces/shop/jobs/demoapp-migrate-2-0-0-expand'


class NamedJobCluster(JobCluster):
    """JobCluster whose wait for a Job to be gone (a stream of the Job alone) looks at the fake's objects."""

    def wait_until(self, streams, judge, clock=None):
        if set(streams) == {'job'}:
            return judge({'job': {}}) if NAMED_PATH not in self.objects else None
        return super().wait_until(streams, judge, clock)


def run_named(kube, action='apply'):
    transport = job.JobTransport({}, NAMED, kube=kube)
    return transport.run(['python3', '-', action], {'ARTISAN_ALEMBIC_URL': 'postgresql://u:pw@db/shop'},
                         stdin=io.BytesIO(b'print(1)'))


def test_the_application_config_and_secret_come_before_the_runs_secret():
    manifest = job.job_manifest('n', NAMED, ['python3'], 'n')
    assert manifest['spec']['template']['spec']['containers'][0]['envFrom'] == [
        {'configMapRef': {'name': 'demoapp-config'}}, {'secretRef': {'name': 'demoapp-secret'}}, {'secretRef': {'name': 'n'}}]


def test_the_applying_job_has_the_given_name_and_is_kept_the_others_are_not():
    kube = NamedJobCluster([('Complete', [pod(exit_code=0)])], logs={'x-abcde': 'answer\n'})
    result = run_named(kube)
    assert result.rc == 0 and kube.job_name() == 'demoapp-migrate-2-0-0-expand'
    assert 'DELETE ' + NAMED_PATH not in kube.requests
    assert kube.requests[-1] == 'DELETE /api/v1/namespaces/shop/secrets/demoapp-migrate-2-0-0-expand'
    assert NAMED_PATH in kube.objects  # kept: `kubectl logs job/<name>` shows what ran
    read = NamedJobCluster([('Complete', [pod(exit_code=0)])])
    assert run_named(read, action='inspect').rc == 0
    assert read.job_name().startswith('alembic-migrate-') and not any(p.endswith('/jobs/' + read.job_name()) for p in read.objects)


def test_a_finished_earlier_job_of_the_name_is_replaced_a_running_one_refused():
    kube = NamedJobCluster([('Complete', [pod(exit_code=0)])])
    kube.objects[NAMED_PATH] = dict(job_object('Failed'), metadata={'name': 'demoapp-migrate-2-0-0-expand'})
    assert run_named(kube).rc == 0
    assert kube.requests.index('DELETE ' + NAMED_PATH) < kube.requests.index('POST /apis/batch/v1/namespaces/shop/jobs')
    running = NamedJobCluster([('Complete', [pod(exit_code=0)])])
    running.objects[NAMED_PATH] = dict(job_object(), metadata={'name': 'demoapp-migrate-2-0-0-expand'})
    refused = run_named(running)
    assert refused.rc == 126 and 'the Job demoapp-migrate-2-0-0-expand is still running' in refused.stderr
    assert not any(r.startswith('POST') for r in running.requests)


@pytest.mark.parametrize('option, expected', [
    ({'name': 'Demoapp_2.0.0'}, 'job.name must be a DNS-1123 label'),
    ({'name': 'x' * 64}, 'job.name must be a DNS-1123 label'),
    ({'env_from': [{'name': 'app'}]}, 'job.env_from items are envFrom sources'),
    ({'name': 'demoapp-migrate-1', 'env_from': [{'secretRef': {'name': 'a'}}]}, None),
    ({'backoff_limit': -1}, 'job.backoff_limit must be 0 or more (how many times a failed migration pod is retried'),
    ({'backoff_limit': 3}, None),
    ({'backoff_limit': None}, None),
])
def test_job_option_errors(option, expected):
    error = job.job_option_errors(option)
    assert (error is None) if expected is None else error.startswith(expected)
