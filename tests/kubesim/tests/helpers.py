"""Small helpers shared by the kubesim tests."""

from __future__ import annotations

import copy
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
