"""Benchmark k8s_rollout on kubesim, side by side with kubernetes.core.k8s (wait: true) in one run.

1. Return latency: time from the simulator marking a rollout complete (kubectl's rules, seen by a
   watch in this process) to the module's result reaching Ansible. Target <= 0.5 s. kubernetes.core
   polls every 5 s (wait_sleep) and judges a Deployment without updatedReplicas, so it may also
   return before the rollout is complete (a negative latency).
2. Bad image: time from the first new pod showing an image pull failure to the module failing. Target <=
   failure_grace + 1 s. kubernetes.core has no such detection and fails at its wait_timeout.

kubernetes.core comes from the PyPI ``ansible`` wheel's bundled collection, extracted into a
temporary folder (ARTISAN_CACHE's downloaded wheel, else ``pip download``); without it, only
k8s_rollout is measured. Run: python -m bench.k8s_rollout (ANSIBLE_COLLECTIONS_PATH pointing at this
collection, as scripts/gates.sh sets it). Only 127.0.0.1 is used.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile

import ansible_runner
from kubesim.simulator import Simulator

REPO = pathlib.Path(__file__).resolve().parents[1]

ANSIBLE_BUNDLE = 'ansible==14.5.0'
REPEATS = 3
SPEED = 20.0
GRACE = 2
# A new pod is ready 40 simulated (2 real) seconds after it starts: a rollout of 3 takes a few seconds.
SLOW_IMAGE = 'demoapp:2.0.0-slowstart-40'
BAD_IMAGE = 'demoapp:2.0.0-does-not-exist'
# ErrImagePull lasts one simulated second (50 ms) before ImagePullBackOff: the stopwatch takes either.
PULL_FAILURES = ('ErrImagePull', 'ImagePullBackOff')


def kubernetes_core(workdir: str) -> str | None:
    """A collections path holding kubernetes.core from the ansible wheel, or None when it cannot be had offline."""
    wheels = glob.glob(os.path.join(os.environ.get('ARTISAN_CACHE', ''), 'downloads', 'ansible', 'ansible-*.whl'))
    if not wheels:
        download = subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', ANSIBLE_BUNDLE, '-d', workdir],
                                  capture_output=True, check=False)
        wheels = glob.glob(os.path.join(workdir, 'ansible-*.whl')) if download.returncode == 0 else []
    if not wheels:
        return None
    with zipfile.ZipFile(sorted(wheels)[-1]) as wheel:
        wheel.extractall(workdir, [name for name in wheel.namelist() if name.startswith('ansible_collections/kubernetes/core/')])
    return workdir


def deployment(name: str) -> dict:
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name},
            'spec': {'replicas': 3, 'selector': {'matchLabels': {'app': name}},
                     'template': {'metadata': {'labels': {'app': name}},
                                  'spec': {'containers': [{'name': 'web', 'image': 'demoapp:1.0.0'}]}}}}


def complete(obj: dict) -> bool:
    """kubectl rollout status's success, on the wire JSON."""
    status = obj.get('status') or {}
    updated = status.get('updatedReplicas') or 0
    return (obj['metadata']['generation'] <= (status.get('observedGeneration') or 0)
            and updated >= obj['spec']['replicas'] and (status.get('replicas') or 0) <= updated
            and (status.get('availableReplicas') or 0) >= updated)


class FirstSeen(threading.Thread):
    """The stopwatch: the wall time at which ``predicate`` first holds for what ``read`` returns, read every 10 ms.

    It polls on purpose: it must not share the watch machinery it measures, and 10 ms is fine-grained
    enough for a 0.5 s target.
    """

    def __init__(self, read, predicate):
        super().__init__(daemon=True)
        self.read = read
        self.predicate = predicate
        self.at: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            if self.predicate(self.read()):
                self.at = time.time()
                return
            time.sleep(0.01)


class Bench:
    def __init__(self, simulator: Simulator, collections: str):
        self.sim = simulator
        self.collections = collections
        self.kubeconfig = simulator.write_kubeconfig(os.path.join(tempfile.mkdtemp(prefix='k8s-bench-'), 'kubeconfig'))
        self.count = 0

    def api(self, method: str, path: str, body: dict | None = None, content_type: str = 'application/json') -> dict:
        request = urllib.request.Request(self.sim.url + path, method=method, headers={'Content-Type': content_type},
                                         data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def fresh_deployment(self) -> str:
        self.count += 1
        name = 'web%d' % self.count
        self.api('POST', '/apis/apps/v1/namespaces/default/deployments', deployment(name))
        deadline = time.monotonic() + 60
        while not complete(self.api('GET', '/apis/apps/v1/namespaces/default/deployments/' + name)):
            if time.monotonic() > deadline:
                raise RuntimeError('deployment %s never completed' % name)
            time.sleep(0.05)
        return name

    def run_task(self, task: dict) -> tuple[float, dict]:
        """Run one task; the wall time its result reached Ansible, and the result."""
        with tempfile.TemporaryDirectory(prefix='k8s-bench-runner-') as private:
            runner = ansible_runner.run(
                private_data_dir=private, quiet=True, inventory='localhost ansible_connection=local',
                playbook=[{'hosts': 'localhost', 'gather_facts': False, 'tasks': [dict(task, ignore_errors=True)]}],
                extravars={'ansible_python_interpreter': sys.executable},
                envvars={'ANSIBLE_COLLECTIONS_PATH': self.collections})
            for event in runner.events:
                if event.get('event') in ('runner_on_ok', 'runner_on_failed'):
                    created = datetime.datetime.fromisoformat(event['created'].replace('Z', '+00:00'))
                    if created.tzinfo is None:
                        created = created.replace(tzinfo=datetime.timezone.utc)
                    return created.timestamp(), event['event_data']['res']
        raise RuntimeError('the task produced no result: %s' % runner.stdout.read())

    @staticmethod
    def stopwatch(read, predicate) -> FirstSeen:
        watcher = FirstSeen(read, predicate)
        watcher.start()
        return watcher

    def latency(self, task_for) -> float:
        name = self.fresh_deployment()
        watcher = self.stopwatch(lambda: self.api('GET', '/apis/apps/v1/namespaces/default/deployments/' + name),
                                 lambda obj: obj['metadata']['generation'] >= 2 and complete(obj))
        returned, result = self.run_task(task_for(name, SLOW_IMAGE))
        if result.get('failed'):
            raise RuntimeError(result.get('msg'))
        watcher.join(60)
        watcher.stop.set()
        return returned - watcher.at

    def detection(self, task_for) -> float:
        name = self.fresh_deployment()
        watcher = self.stopwatch(lambda: self.api('GET', '/api/v1/namespaces/default/pods?labelSelector=app%%3D%s' % name),
                                 lambda pods: any((c.get('state') or {}).get('waiting', {}).get('reason') in PULL_FAILURES
                                                  for pod in pods['items']
                                                  for c in (pod.get('status') or {}).get('containerStatuses') or []))
        returned, _result = self.run_task(task_for(name, BAD_IMAGE))
        watcher.join(60)
        watcher.stop.set()
        return returned - watcher.at

    def k8s_rollout(self, name: str, image: str) -> dict:
        return {'artisan.upgrade.k8s_rollout': {'kubeconfig': self.kubeconfig, 'name': name, 'image': image,
                                                'failure_grace': GRACE, 'timeout': 120}}

    def core_k8s(self, name: str, image: str, timeout: int = 120) -> dict:
        return {'kubernetes.core.k8s': {'kubeconfig': self.kubeconfig, 'state': 'present', 'wait': True,
                                        'wait_timeout': timeout, 'definition': {
                                            'apiVersion': 'apps/v1', 'kind': 'Deployment',
                                            'metadata': {'name': name, 'namespace': 'default'},
                                            'spec': {'template': {'spec': {'containers': [{'name': 'web', 'image': image}]}}}}}}


def summary(values: list[float]) -> str:
    return 'median %6.2f s  (min %.2f, max %.2f, n=%d)' % (statistics.median(values), min(values), max(values), len(values))


def main() -> None:
    if not os.environ.get('ANSIBLE_COLLECTIONS_PATH'):
        sys.exit('set ANSIBLE_COLLECTIONS_PATH to the folder holding ansible_collections/artisan/upgrade')
    with tempfile.TemporaryDirectory(prefix='k8s-bench-core-') as core_dir:
        core = kubernetes_core(core_dir)
        collections = os.environ['ANSIBLE_COLLECTIONS_PATH'] + (os.pathsep + core if core else '')
        simulator = Simulator(speed=SPEED).start()
        try:
            bench = Bench(simulator, collections)
            ours = [bench.latency(bench.k8s_rollout) for _attempt in range(REPEATS)]
            print('kubesim at %gx; rollout of 3 replicas to %s (maxSurge 1)' % (SPEED, SLOW_IMAGE))
            print('return after the rollout completed:')
            print('  k8s_rollout              %s   (target <= 0.5 s)' % summary(ours))
            if core:
                theirs = [bench.latency(bench.core_k8s) for _attempt in range(REPEATS)]
                print('  kubernetes.core.k8s wait %s   (ratio of medians %.1fx; negative = returned before completion)'
                      % (summary(theirs), statistics.median(theirs) / max(statistics.median(ours), 0.001)))
            else:
                print('  kubernetes.core.k8s      not measured: the ansible wheel could not be had offline')
            detect = [bench.detection(bench.k8s_rollout) for _attempt in range(REPEATS)]
            print('bad image (%s): failure returned after the first pod showed a pull failure:' % BAD_IMAGE)
            print('  k8s_rollout              %s   (target <= failure_grace + 1 = %d s)' % (summary(detect), GRACE + 1))
            if core:
                core_timeout = 20
                their_detect = bench.detection(lambda name, image: bench.core_k8s(name, image, core_timeout))
                print('  kubernetes.core.k8s wait %6.2f s  (n=1: it fails only at wait_timeout=%d s)' % (their_detect, core_timeout))
        finally:
            simulator.stop()


if __name__ == '__main__':
    main()
