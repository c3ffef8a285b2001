# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exec transports: argument lists, environment by name, streaming to files, exit codes."""

from __future__ import annotations

import gzip
import io
import socket
import threading

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _exec, _k8s


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
