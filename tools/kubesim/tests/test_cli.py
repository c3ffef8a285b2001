"""kubesim as a tool: the installed package's `kubesim` command and `python -m kubesim`, run as a separate process
the way Molecule scenarios and demos start it, then driven with kubectl and the Python client."""

from __future__ import annotations

import importlib.metadata
import json
import os
import pathlib
import queue
import re
import signal
import socket
import subprocess
import sys
import threading

import kubernetes
import pytest
import yaml

from .helpers import deployment, kubectl_runner, wait_for

READY = re.compile(r'^kubesim serving (http://127\.0\.0\.1:(\d+)) .*, kubeconfig (\S+)$')


def test_the_installed_distribution_provides_the_kubesim_command():
    distribution = importlib.metadata.distribution('kubesim')
    scripts = {entry.name: entry.value for entry in distribution.entry_points if entry.group == 'console_scripts'}
    assert scripts == {'kubesim': 'kubesim.cli:main'}
    assert any(re.match(r'aiohttp\b', requirement) for requirement in distribution.requires or [])
    command = pathlib.Path(sys.executable).parent / 'kubesim'
    result = subprocess.run([str(command), '--help'], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    for option in ('--host', '--port', '--kubeconfig', '--speed', '--nodes', '--runtime', '--id'):
        assert option in result.stdout


def lines_of(stream) -> queue.Queue:
    """The process's output lines, read by a thread so that waiting for one can have a deadline."""
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in stream:
            lines.put(line.rstrip('\n'))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def start(tmp_path, *args: str) -> tuple[subprocess.Popen, queue.Queue]:
    # From an empty folder: the package must come from the venv, not from a source tree next to the process.
    process = subprocess.Popen([sys.executable, '-m', 'kubesim', *args], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    return process, lines_of(process.stdout)


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(('127.0.0.1', port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize('stop_signal', [signal.SIGTERM, signal.SIGINT], ids=['SIGTERM', 'SIGINT'])
def test_python_m_kubesim_serves_kubectl_and_the_client_until_a_signal(tmp_path, stop_signal):
    kubeconfig = tmp_path / 'kubeconfig'
    process, lines = start(tmp_path, '--port', '0', '--speed', '20', '--nodes', '2', '--kubeconfig', str(kubeconfig))
    try:
        line = lines.get(timeout=120)
        ready = READY.match(line or '')
        assert ready, 'unexpected first line %r (stderr: %s)' % (line, process.stderr.read() if line is None else '')
        url, port, written = ready.group(1), int(ready.group(2)), ready.group(3)
        assert written == str(kubeconfig)
        config = yaml.safe_load(kubeconfig.read_text(encoding='utf-8'))
        assert config['clusters'][0]['cluster']['server'] == url

        kubectl = kubectl_runner(str(kubeconfig))
        assert json.loads(kubectl('version', '-o', 'json').stdout)['serverVersion']['gitVersion'].startswith('v1.32')
        kubectl('apply', '-f', '-', stdin=json.dumps(deployment(replicas=2)))
        kubectl('rollout', 'status', 'deployment/web', '--timeout=90s')

        api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        nodes = kubernetes.client.CoreV1Api(api).list_node()
        assert sorted(node.metadata.name for node in nodes.items) == ['kubesim-node', 'kubesim-node2']
        web = kubernetes.client.AppsV1Api(api).read_namespaced_deployment('web', 'default')
        assert web.status.ready_replicas == 2
        api.close()

        process.send_signal(stop_signal)
        assert process.wait(timeout=60) == 0
        assert 'Traceback' not in process.stderr.read()
        wait_for(lambda: port_is_free(port), timeout=10, message='port %d to be free' % port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        process, _lines = start(tmp_path, '--port', str(port))
        try:
            _stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 1
    assert stderr.startswith('kubesim: cannot listen on 127.0.0.1 port %d' % port), stderr
    assert 'Traceback' not in stderr


def test_bad_options_are_refused(tmp_path):
    for args in (['--speed', '0'], ['--nodes', '0'], ['--id', 'Artisan K8s'], ['--id', '-x']):
        result = subprocess.run([sys.executable, '-m', 'kubesim', *args], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode == 2, result
        assert 'kubesim: error: argument %s' % args[0] in result.stderr
    assert os.listdir(tmp_path) == []


def test_the_docker_runtime_without_an_engine_is_a_clear_error(tmp_path):
    environment = dict(os.environ, DOCKER_HOST='unix://%s' % (tmp_path / 'no-engine.sock'))
    result = subprocess.run([sys.executable, '-m', 'kubesim', '--runtime', 'docker', '--kubeconfig', str(tmp_path / 'config')],
                            cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result
    assert result.stderr.startswith('kubesim: the docker runtime needs a Docker engine (DOCKER_HOST): '), result.stderr
    assert not (tmp_path / 'config').exists()


def test_bad_proxy_ports_are_refused(tmp_path):
    for value in ('18979-18975', 'many', '0-10'):
        result = subprocess.run([sys.executable, '-m', 'kubesim', '--proxy-ports', value], cwd=tmp_path, capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == 2, result
        assert 'kubesim: error: argument --proxy-ports' in result.stderr
