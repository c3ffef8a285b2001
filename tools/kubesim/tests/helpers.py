"""Small helpers shared by the kubesim tests."""

from __future__ import annotations

import copy
import shutil
import subprocess
import time


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05, message: str = 'condition'):
    """Poll ``predicate`` until it returns something truthy; fail with ``message`` after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError('timed out waiting for %s (last value: %r)' % (message, last))


DEPLOYMENT = {
    'apiVersion': 'apps/v1', 'kind': 'Deployment',
    'metadata': {'name': 'web', 'labels': {'app': 'web'}},
    'spec': {'replicas': 3, 'selector': {'matchLabels': {'app': 'web'}},
             'template': {'metadata': {'labels': {'app': 'web'}},
                          'spec': {'containers': [{'name': 'web', 'image': 'nginx:1.25', 'ports': [{'containerPort': 80}]}]}}},
}


def deployment(name: str = 'web', image: str = 'nginx:1.25', replicas: int = 3, **spec) -> dict:
    body = copy.deepcopy(DEPLOYMENT)
    body['metadata']['name'] = name
    body['metadata']['labels'] = {'app': name}
    body['spec']['selector'] = {'matchLabels': {'app': name}}
    body['spec']['template']['metadata']['labels'] = {'app': name}
    body['spec']['template']['spec']['containers'][0]['image'] = image
    body['spec']['replicas'] = replicas
    body['spec'].update(spec)
    return body


def rolled_out(apps, name: str, namespace: str = 'default'):
    """kubectl's rollout-status predicate (rollout_status.go), on the typed client's object."""
    current = apps.read_namespaced_deployment(name, namespace)
    status = current.status
    if (current.metadata.generation or 0) > (status.observed_generation or 0):
        return False
    replicas = current.spec.replicas
    return ((status.updated_replicas or 0) >= replicas and (status.replicas or 0) <= (status.updated_replicas or 0)
            and (status.available_replicas or 0) >= (status.updated_replicas or 0)) and current


def kubectl_runner(kubeconfig: str):
    """``run(*args, stdin=None, check=True)``: kubectl against the simulator; raises on failure unless ``check`` is False."""
    binary = shutil.which('kubectl')

    def run(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([binary, '--kubeconfig', kubeconfig, *args], input=stdin, capture_output=True,
                                text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            raise AssertionError('kubectl %s failed (%d): %s%s' % (' '.join(args), result.returncode, result.stdout, result.stderr))
        return result
    return run


def workload(kind: str, name: str, image: str = 'nginx:1.25', **spec) -> dict:
    """A StatefulSet or DaemonSet body with one container; ``spec`` entries are added to its spec."""
    body = {'apiVersion': 'apps/v1', 'kind': kind, 'metadata': {'name': name},
            'spec': {'selector': {'matchLabels': {'app': name}},
                     'template': {'metadata': {'labels': {'app': name}},
                                  'spec': {'containers': [{'name': name, 'image': image}]}}}}
    body['spec'].update(spec)
    return body
