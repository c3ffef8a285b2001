"""The docker runtime's pure decisions, without an engine: probes, restarts, ports, env, proxy backends, exec status."""

from __future__ import annotations

import asyncio
import socket

from kubesim.docker_runtime import (ProbeState, container_env, ports_to_publish, resolve_port, restart_backoff, should_restart,
                                    terminated_reason)
from kubesim.podexec import choose_container, exit_status
from kubesim.proxy import Listener, ServiceProxies, ready_backends

from .test_cli import port_is_free


def test_probe_thresholds_as_the_prober_counts_them():
    readiness = ProbeState({'successThreshold': 2, 'failureThreshold': 3}, None)
    assert [readiness.record(ok) for ok in (True, False, True, True, False, False, True, False, False, False)] == [
        None, None, None, True, True, True, True, True, True, False]
    liveness = ProbeState({}, True)
    assert [liveness.record(ok) for ok in (False, False, True, False, False, False)] == [True, True, True, True, True, False]


def test_restarts_and_back_off():
    assert [restart_backoff(count) for count in (1, 2, 3, 6, 10)] == [10.0, 20.0, 40.0, 300.0, 300.0]
    assert [should_restart(policy, code) for policy, code in (('Always', 0), ('OnFailure', 0), ('OnFailure', 2), ('Never', 1))] == [
        True, False, True, False]
    assert [terminated_reason(0, False), terminated_reason(1, False), terminated_reason(137, True)] == ['Completed', 'Error', 'OOMKilled']


def test_published_ports():
    container = {'ports': [{'name': 'http', 'containerPort': 8000, 'protocol': 'TCP'}, {'containerPort': 53, 'protocol': 'UDP'}],
                 'readinessProbe': {'tcpSocket': {'port': 9000}}, 'livenessProbe': {'httpGet': {'port': 'http'}}}
    assert ports_to_publish(container, {'5432/tcp': {}, '9999/udp': {}}) == [5432, 8000, 9000]
    assert [resolve_port(port, container) for port in (8080, '8080', 'http', 'nope')] == [8080, 8080, 8000, None]


def test_environment():
    pod = {'metadata': {'name': 'web-1', 'namespace': 'shop', 'uid': 'u', 'labels': {'app': 'web'}},
           'spec': {'nodeName': 'kubesim-node'}, 'status': {'podIP': '172.18.0.4'}}
    container = {'envFrom': [{'configMapRef': {'name': 'settings'}, 'prefix': 'CFG_'}],
                 'env': [{'name': 'HOST', 'value': 'db'}, {'name': 'URL', 'value': 'postgresql://$(HOST)/app'},
                         {'name': 'PASSWORD', 'valueFrom': {'secretKeyRef': {'name': 'db', 'key': 'password'}}},
                         {'name': 'POD', 'valueFrom': {'fieldRef': {'fieldPath': 'metadata.name'}}},
                         {'name': 'APP', 'valueFrom': {'fieldRef': {'fieldPath': "metadata.labels['app']"}}},
                         {'name': 'MISSING', 'valueFrom': {'configMapKeyRef': {'name': 'none', 'key': 'x'}}}]}
    data = {('ConfigMap', 'settings'): {'MODE': 'fast'}, ('Secret', 'db'): {'password': 's3cret'}}
    assert container_env(container, pod, lambda kind, name: data.get((kind, name))) == [
        'CFG_MODE=fast', 'HOST=db', 'URL=postgresql://db/app', 'PASSWORD=s3cret', 'POD=web-1', 'APP=web']


def test_proxy_backends_are_ready_live_pods_with_a_published_port():
    pods = {'a': {'metadata': {'uid': 'ua'}, 'spec': {'containers': [{'ports': [{'name': 'http', 'containerPort': 8000}]}]}},
            'b': {'metadata': {'uid': 'ub', 'deletionTimestamp': 'x'}, 'spec': {'containers': [{'ports': []}]}},
            'c': {'metadata': {'uid': 'uc'}, 'spec': {'containers': [{'ports': [{'name': 'http', 'containerPort': 8000}]}]}}}
    endpoints = {'subsets': [{'addresses': [{'targetRef': {'namespace': 'default', 'name': name, 'uid': 'u' + name}}
                                            for name in ('a', 'b', 'c', 'gone')],
                              'notReadyAddresses': [{'targetRef': {'namespace': 'default', 'name': 'a', 'uid': 'ua'}}],
                              'ports': [{'name': 'web', 'port': 8000, 'protocol': 'TCP'}]},
                             {'addresses': [{'targetRef': {'namespace': 'default', 'name': 'a', 'uid': 'ua'}}],
                              'ports': [{'name': 'metrics', 'port': 9000, 'protocol': 'TCP'}]}]}
    published = {('ua', 8000): 30001, ('uc', 8000): 30003, ('ua', 9000): 30009}
    backends = ready_backends(endpoints, {'name': 'web', 'port': 80, 'targetPort': 'http'}, lambda namespace, name: pods.get(name),
                              lambda uid, port: published.get((uid, port)))
    assert backends == [('ua', 30001), ('uc', 30003)]
    assert ready_backends(None, {'port': 80}, lambda namespace, name: None, lambda uid, port: None) == []


def test_exec_status_and_container_choice():
    assert exit_status(['sh', '-c', 'exit 3'], 3) == {
        'metadata': {}, 'status': 'Failure', 'reason': 'NonZeroExitCode',
        'message': 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
        'details': {'causes': [{'reason': 'ExitCode', 'message': '3'}]}}
    assert exit_status(['true'], 0) == {'metadata': {}, 'status': 'Success'}
    pod = {'metadata': {'name': 'p', 'annotations': {'kubectl.kubernetes.io/default-container': 'b'}},
           'spec': {'containers': [{'name': 'a'}, {'name': 'b'}]}}
    assert choose_container(pod, None) == (1, 'b') and choose_container(pod, 'a') == (0, 'a')


def _free_run(count: int) -> range:
    """``count`` consecutive ports of 127.0.0.1 free at this moment (the first one a free port's neighbours)."""
    for _attempt in range(50):
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            first = probe.getsockname()[1]
        ports = range(first, first + count)
        if ports[-1] <= 65535 and all(port_is_free(port) for port in ports):
            return ports
    raise AssertionError('no %d consecutive free ports' % count)


def test_proxy_listeners_take_the_first_free_port_of_the_range_then_any():
    async def scenario(ports: range) -> list[int]:
        proxies = ServiceProxies(None, None, ports)
        with socket.socket() as taken:
            taken.bind(('127.0.0.1', ports[1]))
            taken.listen()
            listeners = [Listener(proxies, 'default', name, {'port': 80}) for name in ('a', 'b', 'c')]
            for listener in listeners:
                await listener.open()
            opened = [int(listener.address.rpartition(':')[2]) for listener in listeners]
            for listener in listeners:
                listener.close()
        return opened

    ports = _free_run(3)
    first, third, anywhere = asyncio.run(scenario(ports))
    # The second port is taken by another process: skipped; the range exhausted: any free port.
    assert (first, third) == (ports[0], ports[2])
    assert anywhere not in ports and anywhere > 0
