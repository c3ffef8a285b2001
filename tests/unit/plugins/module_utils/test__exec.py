# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exec transports: argument lists, environment by name, streaming to files, exit codes."""

from __future__ import annotations

import gzip
import inspect
import io
import json
import socket
import struct
import sys
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
    transport = _exec.DockerTransport('db-1', user='postgres', environ={})
    line = transport.command_line(['pg_dump', '--dbname=shop'], {'PGPASSWORD': 's3cret', 'PGHOST': 'x'}, stdin=True)
    assert line == ['docker', 'exec', '--interactive', '--user', 'postgres', '--env', 'PGHOST',
                    '--env', 'PGPASSWORD', 'db-1', 'pg_dump', '--dbname=shop']
    assert transport.command_line(['true'], {}) == ['docker', 'exec', '--user', 'postgres', 'db-1', 'true']


def frames(*parts):
    """An exec stream as the engine sends it without a tty: (stream, payload) frames."""
    return b''.join(struct.pack('>BxxxL', stream, len(payload)) + payload for stream, payload in parts)


def split(stream, piece_size, stdout, stderr):
    """Feed ``stream`` to a FrameSplitter in pieces of ``piece_size`` bytes, as reads of a socket under load return it."""
    splitter = _exec.FrameSplitter(stdout, stderr)
    for start in range(0, len(stream), piece_size):
        splitter.feed(stream[start:start + piece_size])
    splitter.end()


@pytest.mark.parametrize('piece_size', [1, 3, 8, 9, 1 << 20])
def test_frames_split_into_stdout_and_stderr_whatever_the_read_sizes(piece_size):
    stream = frames((1, b'-- dump part 1\n'), (2, b'pg_dump: warning\n'), (1, b'-- part 2\n'), (0, b'ignored'),
                    (1, b''), (2, b'done\n'))
    out, err = [], []
    split(stream, piece_size, lambda piece: out.append(bytes(piece)), lambda piece: err.append(bytes(piece)))
    assert b''.join(out) == b'-- dump part 1\n-- part 2\n'
    assert b''.join(err) == b'pg_dump: warning\ndone\n'


def test_a_large_frame_is_passed_on_as_it_arrives_never_gathered():
    payload = bytes(range(256)) * 4096  # 1 MiB in one frame
    pieces = []
    split(frames((1, payload)), 64 * 1024, lambda piece: pieces.append(bytes(piece)), pytest.fail)
    assert b''.join(pieces) == payload
    assert max(len(piece) for piece in pieces) <= 64 * 1024


@pytest.mark.parametrize('cut, problem', [(5, 'inside a frame header'), (8 + 3, '7 bytes before the end of a frame')])
def test_a_stream_cut_inside_a_frame_is_reported(cut, problem):
    with pytest.raises(_exec.ExecError, match=problem):
        split(frames((1, b'0123456789'))[:cut], 4, lambda piece: None, lambda piece: None)


def test_docker_engine_address_is_docker_host_or_the_local_socket():
    assert _exec.docker_engine_address({'DOCKER_HOST': 'tcp://127.0.0.1:2376'}) == 'tcp://127.0.0.1:2376'
    assert _exec.docker_engine_address({'DOCKER_HOST': ''}) == 'unix:///var/run/docker.sock'
    assert _exec.docker_engine_address({}) == 'unix:///var/run/docker.sock'


@pytest.mark.parametrize('state, problem', [
    ({'Running': True, 'Status': 'running'}, None),
    ({'Running': False, 'Status': 'exited'}, 'container "db" is not running (status: exited)'),
    ({'Running': True, 'Paused': True, 'Status': 'paused'}, 'container "db" is paused'),
    ({'Running': True, 'Restarting': True, 'Status': 'restarting'}, 'container "db" is not running (status: restarting)'),
    ({}, 'container "db" is not running (status: unknown)'),
])
def test_container_state_problem(state, problem):
    assert _exec.container_state_problem('db', state) == problem


def test_container_api_problem_names_the_container_and_the_engine():
    engine = 'unix:///var/run/docker.sock'
    assert _exec.container_api_problem('db', 404, 'No such container: db', engine) == \
        'container "db" not found on the Docker engine at unix:///var/run/docker.sock'
    assert _exec.container_api_problem('db', 409, 'Container abc is not running', engine) == \
        'container "db" cannot run commands: Container abc is not running'
    assert _exec.container_api_problem('db', 500, 'boom', engine) == 'Docker engine at unix:///var/run/docker.sock: boom'


def test_exec_failure_text_says_why_a_command_did_not_start():
    oci = b'OCI runtime exec failed: exec: "pg_dump": executable file not found in $PATH: unknown\r\n'
    assert _exec.exec_failure_text('db', 126, '', oci) == (
        'the command could not be started in container "db" (rc 126): OCI runtime exec failed: exec: "pg_dump": '
        'executable file not found in $PATH: unknown')
    assert _exec.exec_failure_text('db', 127, '', None) == 'the command could not be started in container "db" (rc 127)'
    assert _exec.exec_failure_text('db', 127, 'sh: pg_dump: not found\n', None) == 'sh: pg_dump: not found\n'
    assert _exec.exec_failure_text('db', 1, '', b'x') == ''


def test_docker_transport_without_the_sdk_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'docker', None)  # import docker now raises ImportError
    transport = _exec.DockerTransport('db', environ={})
    with pytest.raises(_exec.ExecError) as caught:
        transport.check()
    assert str(caught.value) == 'the docker Python package is needed on the host where the task runs: pip install docker'
    result = transport.run(['pg_dump', '--version'])
    assert result.rc == 127 and result.stderr == str(caught.value)


def test_docker_transport_names_the_engine_it_cannot_reach(tmp_path):
    address = 'unix://%s/no-engine.sock' % tmp_path
    transport = _exec.DockerTransport('db', environ={'DOCKER_HOST': address})
    with pytest.raises(_exec.ExecError, match='cannot reach the Docker engine at %s: .*DOCKER_HOST' % address):
        transport.check()
    assert transport.run(['true']).stderr.startswith('cannot reach the Docker engine at %s' % address)


def test_docker_transport_reads_tls_settings_from_the_environment(tmp_path):
    environ = {'DOCKER_HOST': 'tcp://127.0.0.1:1', 'DOCKER_TLS_VERIFY': '1', 'DOCKER_CERT_PATH': str(tmp_path / 'none')}
    with pytest.raises(_exec.ExecError, match=r'cannot reach the Docker engine at tcp://127\.0\.0\.1:1: .*DOCKER_CERT_PATH'):
        _exec.DockerTransport('db', environ=environ).check()


def test_transport_from_params():
    assert _exec.transport_from_params({'exec_via': None}).kind == 'local'
    docker = _exec.transport_from_params({'exec_via': {'type': 'docker', 'container': 'c', 'user': 'app'}})
    assert (docker.kind, docker.container, docker.user) == ('docker', 'c', 'app')
    params = {'exec_via': {'type': 'pod', 'pod': 'postgresql-0', 'namespace': 'db', 'container': None},
              'kubeconfig': '/etc/kube/prod', 'context': 'prod'}
    pod = _exec.transport_from_params(params)
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
