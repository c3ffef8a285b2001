# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exec transports: argument lists, environment by name, streaming to files, exit codes."""

from __future__ import annotations

import gzip
import inspect
import io
import json
import socket
import threading

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _exec, _k8s
from ansible_collections.artisan.upgrade.tests.unit.plugins.module_utils.k8s_fakes import FakePods, ScriptedExec, exit_status


def test_local_run_streams_stdout_into_a_file_and_passes_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv('PGHOST', 'stray-host')  # the module's own PG* settings must not leak into tools
    out = tmp_path / 'out'
    with open(out, 'wb') as handle:
        result = _exec.LocalTransport().run(['sh', '-c', 'echo "$SECRET:${PGHOST:-unset}"; echo oops >&2; exit 3'],
                                            {'SECRET': 'hidden'}, stdout=handle)
    assert result.rc == 3 and not result.ok
    assert result.stderr == 'oops\n'
    assert out.read_bytes() == b'hidden:unset\n'
    assert result.stdout is None
    assert result.command == "sh -c 'echo \"$SECRET:${PGHOST:-unset}\"; echo oops >&2; exit 3'"


def test_local_run_captures_small_outputs_and_feeds_stdin_from_any_reader(tmp_path):
    transport = _exec.LocalTransport()
    assert transport.run(['echo', 'hello'], {}).stdout_text() == 'hello\n'
    packed = tmp_path / 'data.gz'
    with gzip.open(packed, 'wb') as handle:
        handle.write(b'line\n' * 1000)
    with gzip.open(packed, 'rb') as stream:  # a reader without a usable descriptor: pumped through a pipe
        assert transport.run(['wc', '-l'], {}, stdin=stream).stdout_text().strip() == '1000'
    assert transport.run(['cat'], {}, stdin=io.BytesIO(b'x' * 3_000_000)).stdout == b'x' * 3_000_000


def test_local_run_reports_a_missing_program():
    result = _exec.LocalTransport().run(['/nonexistent/pg_dump', '--version'], {})
    assert result.rc == 127 and 'cannot run /nonexistent/pg_dump' in result.stderr


@pytest.mark.parametrize('rc, text', [(0, 'rc 0'), (2, 'rc 2'), (-9, 'killed by SIGKILL'), (-15, 'killed by SIGTERM')])
def test_describe_exit(rc, text):
    assert _exec.describe_exit(rc) == text


def test_docker_command_line_names_variables_without_values():
    transport = _exec.DockerTransport('db-1', user='postgres', docker_bin='/usr/bin/docker')
    line = transport.command_line(['pg_dump', '--dbname=shop'], {'PGPASSWORD': 's3cret', 'PGHOST': 'x'}, stdin=True)
    assert line == ['/usr/bin/docker', 'exec', '--interactive', '--user', 'postgres', '--env', 'PGHOST',
                    '--env', 'PGPASSWORD', 'db-1', 'pg_dump', '--dbname=shop']
    assert '--interactive' not in transport.command_line(['true'], {})


def test_docker_run_hands_the_values_to_the_cli_through_its_environment(tmp_path):
    fake_docker = tmp_path / 'docker'
    fake_docker.write_text('#!/bin/sh\necho "$@|$PGPASSWORD"\n')
    fake_docker.chmod(0o755)
    result = _exec.DockerTransport('db-1', docker_bin=str(fake_docker)).run(['pg_dump', '--version'], {'PGPASSWORD': 's3cret'})
    assert result.stdout_text() == 'exec --env PGPASSWORD db-1 pg_dump --version|s3cret\n'
    assert 's3cret' not in result.command


def test_docker_check_explains_a_missing_or_stopped_container(tmp_path):
    fake_docker = tmp_path / 'docker'
    fake_docker.write_text('#!/bin/sh\n[ "$4" = up ] && { echo true; exit 0; }\n[ "$4" = stopped ] && { echo false; exit 0; }\n'
                           'echo "Error: No such object: $4" >&2; exit 1\n')
    fake_docker.chmod(0o755)
    _exec.DockerTransport('up', docker_bin=str(fake_docker)).check()
    with pytest.raises(_exec.ExecError, match='container "stopped" is not running'):
        _exec.DockerTransport('stopped', docker_bin=str(fake_docker)).check()
    with pytest.raises(_exec.ExecError, match='container "gone" not found: Error: No such object: gone'):
        _exec.DockerTransport('gone', docker_bin=str(fake_docker)).check()


def test_transport_from_params():
    assert _exec.transport_from_params({'exec_via': None}, lambda name: None).kind == 'local'
    docker = _exec.transport_from_params({'exec_via': {'type': 'docker', 'container': 'c', 'user': None}},
                                         lambda name: '/bin/' + name)
    assert (docker.kind, docker.container, docker.docker_bin) == ('docker', 'c', '/bin/docker')
    params = {'exec_via': {'type': 'pod', 'pod': 'postgresql-0', 'namespace': 'db', 'container': None},
              'kubeconfig': '/etc/kube/prod', 'context': 'prod'}
    pod = _exec.transport_from_params(params, lambda name: None)
    assert (pod.kind, pod.pod, pod.namespace, pod.container) == ('pod', 'postgresql-0', 'db', None)
    # The pod is reached with the module's top-level Kubernetes options, the ones module_defaults can set.
    assert pod.params['kubeconfig'] == '/etc/kube/prod' and pod.params['context'] == 'prod'


def test_exec_via_spec_requires_what_each_transport_needs_and_holds_no_kubernetes_options():
    spec = _exec.exec_via_argument_spec()['exec_via']
    assert ('type', 'pod', ['pod']) in spec['required_if']
    assert set(spec['options']) == {'type', 'container', 'user', 'pod', 'namespace'}


def test_env_preamble_reads_secrets_from_stdin_then_hands_the_rest_over(tmp_path):
    prefix, lines = _exec.env_preamble({'PGPASSWORD': 'p a$s', 'PGUSER': 'app'})
    assert prefix[:2] == ['sh', '-c'] and 'p a$s' not in ' '.join(prefix)
    assert lines == b'p a$s\napp\n'
    # The same script a pod would run, here with a local shell: the variables arrive, stdin stays intact.
    result = _exec.LocalTransport().run(prefix + ['sh', '-c', 'echo "$PGUSER:$PGPASSWORD"; cat'],
                                        stdin=io.BytesIO(lines + b'payload\n'))
    assert result.rc == 0 and result.stdout == b'app:p a$s\npayload\n'
    assert _exec.env_preamble({}) == ([], b'')


@pytest.mark.parametrize('env, problem', [({'A-B': 'x'}, 'name'), ({'PGPASSWORD': 'two\nlines'}, 'line break')])
def test_env_preamble_refuses_what_a_line_cannot_carry(env, problem):
    with pytest.raises(_exec.ExecError, match=problem):
        _exec.env_preamble(env)


@pytest.mark.parametrize('status, expected', [
    ({'status': 'Success'}, (0, '')),
    ({'status': 'Failure', 'reason': 'NonZeroExitCode', 'details': {'causes': [{'reason': 'ExitCode', 'message': '3'}]}}, (3, '')),
    ({'status': 'Failure', 'message': 'exec: "pg_dumb": executable file not found in $PATH'},
     (126, 'exec: "pg_dumb": executable file not found in $PATH')),
])
def test_exit_code_of_an_exec_status(status, expected):
    assert _exec.exit_code_of(status) == expected


def test_pod_command_line_shows_kubectl_and_variable_names_only():
    pod = _exec.PodTransport({}, 'postgresql-0', 'db', 'postgres')
    line = pod.command_line(['pg_dump', 'shop'], {'PGPASSWORD': 'secret'})
    assert line == ['kubectl', 'exec', '--namespace', 'db', '--stdin', '--container', 'postgres', 'postgresql-0', '--',
                    'env', 'PGPASSWORD=<from stdin>', 'pg_dump', 'shop']


def test_pod_check_gives_up_on_an_api_server_that_never_answers(monkeypatch):
    pytest.importorskip('kubernetes')
    monkeypatch.setattr(_k8s, 'REQUEST_TIMEOUT', 1.0)
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(8)  # the kernel takes the connection; nothing answers it
    outcome = []
    pod = _exec.PodTransport({'host': 'http://127.0.0.1:%d' % listener.getsockname()[1]}, 'nginx-0')

    def check():
        try:
            pod.check()
        except _exec.ExecError as exc:
            outcome.append(str(exc))

    thread = threading.Thread(target=check, daemon=True)
    thread.start()
    thread.join(30)
    listener.close()
    assert not thread.is_alive(), 'the pod read still waits for an answer'
    assert outcome and 'cannot reach the Kubernetes API at http://127.0.0.1:' in outcome[0]


def test_pod_run_sends_secrets_through_stdin_and_frames_stdout_and_stderr():
    pods = FakePods()
    transport = _exec.PodTransport({}, 'db-0', 'shop', 'postgres', client=pods)
    result = transport.run(['sh', '-c', 'echo "$PGUSER:$PGPASSWORD"; cat; echo oops >&2; exit 3'],
                           {'PGPASSWORD': 'p a$s', 'PGUSER': 'app'}, stdin=io.BytesIO(b'payload\n' * 1000))
    assert result.rc == 3 and result.stderr == 'oops\n'
    assert result.stdout == b'app:p a$s\n' + b'payload\n' * 1000
    [sent] = pods.execs
    assert (sent['namespace'], sent['pod'], sent['container'], sent['stdin']) == ('shop', 'db-0', 'postgres', True)
    # The secret is in no argument of the request (its URL lands in audit logs), nor in the command shown.
    assert 'p a$s' not in ' '.join(sent['argv']) and 'p a$s' not in result.command
    assert sent['argv'][-3:] == ['sh', '-c', 'echo "$PGUSER:$PGPASSWORD"; cat; echo oops >&2; exit 3']


def test_pod_run_streams_stdout_into_a_file(tmp_path):
    out = tmp_path / 'dump'
    with open(out, 'wb') as handle:
        result = _exec.PodTransport({}, 'db-0', client=FakePods()).run(['sh', '-c', 'seq 1 20000'], {}, stdout=handle)
    assert result.rc == 0 and result.stdout is None
    assert out.read_bytes() == b''.join(b'%d\n' % n for n in range(1, 20001))


def test_pod_run_without_stdin_opens_no_stdin_channel():
    pods = FakePods()
    result = _exec.PodTransport({}, 'db-0', client=pods).run(['echo', 'hello'])
    assert result.ok and result.stdout == b'hello\n' and pods.execs[0]['stdin'] is False


def test_pod_run_reports_a_command_the_container_cannot_start():
    status = json.dumps({'status': 'Failure', 'message': 'exec: "pg_dumb": executable file not found in $PATH'}).encode()
    result = _exec.PodTransport({}, 'db-0', client=FakePods(scripted=ScriptedExec([(3, status)]))).run(['pg_dumb'])
    assert result.rc == 126 and result.stderr == 'exec: "pg_dumb": executable file not found in $PATH'


def test_pod_run_reports_a_stream_that_breaks_or_ends_without_a_status():
    broken = ScriptedExec([(1, b'part'), ConnectionResetError('reset by peer')])
    result = _exec.PodTransport({}, 'db-0', client=FakePods(scripted=broken)).run(['pg_dump'])
    assert result.rc == 255 and result.stdout == b'part' and broken.closed
    assert 'the exec stream broke: reset by peer' in result.stderr
    assert 'without an exit status' in result.stderr
    silent = _exec.PodTransport({}, 'db-0', client=FakePods(scripted=ScriptedExec([(1, b'x')]))).run(['true'])
    assert silent.rc == 255 and silent.stderr.endswith('the exec connection closed without an exit status')


def test_pod_run_needs_the_v5_protocol_to_end_stdin():
    old = ScriptedExec([(3, exit_status(0))], can_close_stdin=False)
    result = _exec.PodTransport({}, 'db-0', client=FakePods(scripted=old)).run(['cat'], stdin=io.BytesIO(b'x'))
    assert result.rc == 127 and 'v5 exec protocol' in result.stderr and old.closed
    assert _exec.PodTransport({}, 'db-0', client=FakePods(scripted=old)).run(['true']).rc == 0


def test_pod_run_reports_a_refused_exec():
    refused = _k8s.ApiError('pods "db-9" not found (HTTP 404)', 404)
    result = _exec.PodTransport({}, 'db-9', client=FakePods(refuse=refused)).run(['true'])
    assert result.rc == 127 and result.stderr == 'exec in pod "db-9": pods "db-9" not found (HTTP 404)'


def test_pod_check_says_what_is_wrong_with_the_pod():
    _exec.PodTransport({}, 'db-0', 'shop', 'postgres', client=FakePods()).check()
    pending = FakePods(pod={'metadata': {}, 'status': {'phase': 'Pending'}, 'spec': {'containers': [{'name': 'a'}]}})
    with pytest.raises(_exec.ExecError, match=r'^pod "db-0" in namespace "shop" is Pending, not Running$'):
        _exec.PodTransport({}, 'db-0', 'shop', client=pending).check()
    with pytest.raises(_exec.ExecError, match=r'has no container "sidecar" \(it has: postgres\)$'):
        _exec.PodTransport({}, 'db-0', 'shop', 'sidecar', client=FakePods()).check()
    missing = FakePods(refuse=_k8s.ApiError('pods "db-9" not found (HTTP 404)', 404))
    with pytest.raises(_exec.ExecError, match=r'^pod "db-9" in namespace "shop": pods "db-9" not found \(HTTP 404\)$'):
        _exec.PodTransport({}, 'db-9', 'shop', client=missing).check()


def test_pod_transport_reads_no_private_attribute_of_the_websocket():
    """The exec socket is the boundary's own (_k8s.PodExec): the transport uses its public methods only."""
    source = inspect.getsource(_exec.PodTransport)
    assert '.sock' not in source and 'recv_data_frame' not in source
