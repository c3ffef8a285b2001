# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""alembic_migrate's run over the Kubernetes transports, against fakes of the boundary: each step as a Job
(answers read from its log, failures reported with the Job's reason), one helper session through pod exec."""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_job as job
from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_runner as runner
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import PodTransport

from ansible_collections.artisan.upgrade.tests.unit.plugins.module_utils.k8s_fakes import FakePods, JobCluster, pod

JOB = {'image': 'app:2.0.0', 'namespace': 'shop', 'service_account': None, 'labels': {}, 'timeout': 60}
URL = 'postgresql://owner:s3cret@db:5432/shop'
PARAMS = dict(url=URL, python=None, virtualenv=None, environment={}, lock_timeout='5s', statement_timeout='15min',
              config='alembic.ini', ini_section='alembic', chdir=None, script_location=None, connect_timeout=10)


# A stand-in helper: answers each request line, reading the URL from the environment the preamble set.
ECHO = '''
import json, os, sys
for line in iter(sys.stdin.readline, ''):
    request = json.loads(line)
    sys.stdout.write('\\n%s%s\\n' % (MARKER, json.dumps({'ok': True, 'action': request['action'], 'pid': os.getpid(),
                                                        'url': os.environ['ARTISAN_ALEMBIC_URL']})))
    sys.stdout.flush()
'''.replace('MARKER', repr(runner.ANSWER_MARKER))


@pytest.fixture(autouse=True)
def program(monkeypatch):
    """The helper's program as a string, whatever loader the test runner imported _alembic_runner with."""
    monkeypatch.setattr(actions, 'runner_source', lambda: ECHO)


def migration(transport, **params):
    return actions.Migration(dict(PARAMS, **params), transport, False, False, lambda message: None, None)


def answer(**fields):
    return '%s%s\n' % (runner.ANSWER_MARKER, json.dumps(dict({'ok': True}, **fields)))


def test_each_step_is_a_job_whose_log_carries_the_answer():
    kube = JobCluster([(None, [pod()]), ('Complete', [pod(exit_code=0)])],
                      logs={'x-abcde': 'INFO  [alembic] Context impl PostgresqlImpl.\n' + answer(current=['0002'])})
    run = migration(job.JobTransport({}, JOB, kube=kube))
    assert run.python == 'python3'
    assert run.helper('inspect')['current'] == ['0002']
    assert [c.split()[:3] for c in run.commands] == [['kubectl', 'create', 'job']]
    # The request and the URL reach the container through the Secret only.
    secret = kube.bodies['POST /api/v1/namespaces/shop/secrets']['stringData']
    assert secret[runner.URL_VARIABLE] == URL and json.loads(secret[runner.REQUEST_VARIABLE])['action'] == 'inspect'
    assert URL not in ' '.join(run.commands)
    assert kube.bodies['POST /api/v1/namespaces/shop/secrets']['stringData'][job.PROGRAM_VARIABLE] == ECHO


def test_a_failed_job_is_reported_with_its_exit_code_and_log_without_the_password():
    kube = JobCluster([('Failed', [pod()])], final_pods=[pod(exit_code=1)],
                      logs={'x-abcde': 'sqlalchemy.exc.OperationalError: connection to %s failed\n' % URL})
    run = migration(job.JobTransport({}, JOB, kube=kube))
    with pytest.raises(Exception) as failure:
        run.helper('inspect')
    assert failure.value.msg.startswith('the alembic Job failed (rc 1): sqlalchemy.exc.OperationalError')
    assert 's3cret' not in failure.value.msg


def test_a_job_that_cannot_pull_its_image_is_reported_with_the_reason():
    kube = JobCluster([(None, [pod(waiting='ImagePullBackOff')])])
    run = migration(job.JobTransport({}, JOB, kube=kube))
    with pytest.raises(Exception) as failure:
        run.helper('inspect')
    assert failure.value.msg.startswith('the alembic Job failed (rc 126): the Job alembic-migrate-')
    assert 'cannot start its container: ImagePullBackOff: image "app:9" not found' in failure.value.msg


def test_one_helper_session_through_pod_exec_answers_every_request():
    pods = FakePods()
    run = migration(PodTransport({}, 'demoapp-0', 'shop', client=pods), python=sys.executable)
    answers = [run.helper(action) for action in ('inspect', 'sql', 'apply')]
    assert [a['action'] for a in answers] == ['inspect', 'sql', 'apply'] and len({a['pid'] for a in answers}) == 1
    assert answers[0]['url'] == URL
    assert run.end_session().rc == 0
    [sent] = pods.execs
    # One exec: the URL went through stdin (the env preamble), never into the request's argument list.
    assert sent['stdin'] is True and URL not in json.dumps(sent['argv'])
    assert run.commands == [c for c in run.commands if c.startswith('kubectl exec --namespace shop --stdin demoapp-0 -- env')]
    assert len(run.commands) == 1 and 'ARTISAN_ALEMBIC_URL=<from stdin>' in run.commands[0] and URL not in run.commands[0]
