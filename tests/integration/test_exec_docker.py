"""The docker transport of exec_via against the real Docker engine: streams, exit codes, secrets, refusals.

pg_backup and alembic_migrate run through it in their own integration tests; these pin what every module
relies on, each checked outside the transport (bytes on disk, the engine's own view, the host's process list).
The transport runs in a child process with the collection importable, as on a target.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from .helpers.collection import python_json, start_python

SECRET = 'exec-env-s3cret-4711'
RUN = """
import io, json
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import DockerTransport, ExecError
def show(result):
    print(json.dumps(dict(rc=result.rc, stderr=result.stderr, command=result.command,
                          stdout=None if result.stdout is None else result.stdout.decode('utf-8', 'replace'))))
"""


def run(code, **values):
    """Run transport calls in a child; ``values`` become JSON-decoded names there."""
    names = ''.join('%s = json.loads(%r)\n' % (name, json.dumps(value)) for name, value in values.items())
    return python_json(RUN + names + code)


@pytest.fixture(scope='module')
def box(docker_session):
    return docker_session.run('artisan-upgrade/base:bookworm', command=['sleep', 'infinity'])


def test_stdout_and_stderr_interleaved_by_the_command_come_back_apart(box, tmp_path):
    # 2000 lines on each stream, alternating, so the engine's frames alternate too.
    script = 'i=0; while [ $i -lt 2000 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; exit 7'
    target = tmp_path / 'out'
    result = run('with open(target, "wb") as handle:\n    show(DockerTransport(name).run(["sh", "-c", script], {}, stdout=handle))',
                 name=box.name, script=script, target=str(target))
    assert result['rc'] == 7 and result['stdout'] is None
    assert target.read_bytes() == b''.join(b'out %d\n' % i for i in range(2000))
    assert result['stderr'] == ''.join('err %d\n' % i for i in range(2000))  # the tail kept is 64 KiB


def test_stdin_and_stdout_stream_both_ways_and_end_of_input_reaches_the_command(box, tmp_path):
    payload = hashlib.sha256(b'seed').digest() * (48 * 1024 * 1024 // 32)  # 48 MiB
    source, target = tmp_path / 'in', tmp_path / 'out'
    source.write_bytes(payload)
    result = run('with open(source, "rb") as stdin, open(target, "wb") as stdout:\n'
                 '    show(DockerTransport(name).run(["sh", "-c", "cat; echo done >&2"], {}, stdin=stdin, stdout=stdout))',
                 name=box.name, source=str(source), target=str(target))
    assert (result['rc'], result['stderr']) == (0, 'done\n')
    assert target.stat().st_size == len(payload) and target.read_bytes() == payload
    small = run('show(DockerTransport(name).run(["wc", "-c"], {}, stdin=io.BytesIO(b"x" * 3000000)))', name=box.name)
    assert (small['rc'], small['stdout'].strip()) == (0, '3000000')


def test_the_environment_travels_in_the_exec_config_not_in_any_command_line(box):
    api = box.client.api
    child = start_python(['-c', RUN + 'show(DockerTransport(%r, user="nobody").run(["sh", "-c", "sleep 3; echo \\"$ARTISAN_SECRET\\"; id -un"], '
                         '{"ARTISAN_SECRET": %r}))' % (box.name, SECRET)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not api.inspect_container(box.id).get('ExecIDs'):
            assert time.monotonic() < deadline and child.poll() is None, 'the exec never showed up'
            time.sleep(0.05)
        views = [json.dumps(api.exec_inspect(exec_id)) for exec_id in api.inspect_container(box.id)['ExecIDs']]
        views.append(json.dumps(api.inspect_container(box.id)))
        host_processes = subprocess.run(['ps', '-eo', 'args'], capture_output=True, text=True, check=True).stdout
    finally:
        out, err = child.communicate(timeout=120)
    assert any('sleep 3; echo' in view for view in views), views  # we did look at the running exec
    assert all(SECRET not in view for view in views)
    assert SECRET not in host_processes
    result = json.loads(out.strip().splitlines()[-1]) if out.strip() else pytest.fail(err)
    assert (result['rc'], result['stdout']) == (0, SECRET + '\nnobody\n')
    assert SECRET not in result['command'] and '--env ARTISAN_SECRET' in result['command']


def test_a_command_missing_in_the_container_is_reported_with_the_engine_s_reason(box):
    result = run('show(DockerTransport(name).run(["artisan-no-such-program"], {}))', name=box.name)
    assert result['rc'] == 126
    assert result['stderr'].startswith('the command could not be started in container "%s" (rc 126): ' % box.name)
    assert 'executable file not found' in result['stderr']


CHECK = """
try:
    DockerTransport(name).check()
    print(json.dumps('ok'))
except ExecError as exc:
    print(json.dumps(str(exc)))
"""


def test_missing_and_stopped_containers_are_refused_with_their_name(docker_session):
    stopped = docker_session.run('artisan-upgrade/base:bookworm', command=['sleep', 'infinity'])
    stopped.stop(timeout=0)
    assert run(CHECK, name=stopped.name) == 'container "%s" is not running (status: exited)' % stopped.name
    result = run('show(DockerTransport(name).run(["true"], {}))', name=stopped.name)
    assert result['rc'] == 127 and result['stderr'].startswith('container "%s" cannot run commands: ' % stopped.name)
    assert run(CHECK, name='artisan-no-such-ctr') == \
        'container "artisan-no-such-ctr" not found on the Docker engine at unix:///var/run/docker.sock'


def test_an_unreachable_engine_is_named_with_docker_host(tmp_path):
    code = 'import os\nos.environ["DOCKER_HOST"] = address\n' + CHECK
    address = 'unix://%s/no-engine.sock' % tmp_path
    message = run(code, name='db', address=address)
    assert message.startswith('cannot reach the Docker engine at %s: ' % address) and 'DOCKER_HOST' in message


def test_a_signal_reaches_the_container_s_main_process(docker_session):
    target = docker_session.run('artisan-upgrade/base:bookworm', command=['sh', '-c', 'trap "exit 42" HUP; while :; do sleep 0.1; done'])
    result = run('show(DockerTransport(name).kill("HUP"))', name=target.name)
    assert (result['rc'], result['command']) == (0, 'docker kill --signal HUP %s' % target.name)
    assert target.wait(timeout=60)['StatusCode'] == 42
    gone = run('show(DockerTransport(name).kill("HUP"))', name='artisan-no-such-ctr')
    assert gone['rc'] == 1 and gone['stderr'].startswith('container "artisan-no-such-ctr" not found')


class EngineOverTcp:
    """A listener on 127.0.0.1 relaying each connection to the engine's unix socket (half-closes included)."""

    def __init__(self) -> None:
        host = os.environ.get('DOCKER_HOST') or 'unix:///var/run/docker.sock'
        assert host.startswith('unix://'), 'the relay reaches a local engine only'
        self.target = host[len('unix://'):]
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.address = 'tcp://127.0.0.1:%d' % self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                client, _peer = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            for source, dest in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.relay, args=(source, dest), daemon=True).start()

    @staticmethod
    def relay(source, dest) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                dest.sendall(data)
            dest.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def test_docker_host_selects_the_engine(box):
    relay = EngineOverTcp()
    try:
        code = ('import os\nos.environ["DOCKER_HOST"] = address\n'
                'show(DockerTransport(name).run(["sh", "-c", "wc -c; echo to-stderr >&2"], {}, stdin=io.BytesIO(b"y" * 5000000)))')
        result = run(code, name=box.name, address=relay.address)
    finally:
        relay.listener.close()
    assert (result['rc'], result['stdout'].strip(), result['stderr']) == (0, '5000000', 'to-stderr\n')
    assert relay.connections >= 2  # the API calls (one kept-alive connection) and the exec stream went through it
