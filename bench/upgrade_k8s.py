"""Benchmark the Kubernetes upgrade on kubesim's docker runtime, side by side with the runbook's kubectl commands.

One simulated cluster (API server on 127.0.0.1:18960; kubesim gives each Service's proxy a free 127.0.0.1 port) with
the demo app of examples/k8s (PostgreSQL, 3 pods of demoapp:1.0.0 as real containers, schema 0001) and the same
bounded request loop through the Service's proxy (one new connection per request, about 40 per second, at most
20 000 requests or 10 minutes) during:

1. the runbook's way, 1.0.0 -> 2.0.0, as a shell script of its kubectl commands (RUNBOOK below: pg_dump through
   `kubectl exec`, the ConfigMaps, Secrets and PVCs saved, the migration Job applied and awaited, `kubectl set
   image`, `kubectl rollout status`): wall time and requests dropped; then back to 1.0.0 and schema 0001 (not timed);
2. ours, 1.0.0 -> 2.0.0: playbooks/upgrade.yml with the example inventory (examples/inventories/k8s), rolling: the
   same steps plus preflight, the release record, the compatibility gate, post-checks and the smoke test; wall time
   and requests dropped; then the same run again (nothing to change);
3. a bad image (2.0.0 -> 9.9.9, never pullable) with the deploy_k8s role, failure_grace 3 s: from the start of the
   run, and from the first pod showing ErrImagePull, to the Deployment being back on 2.0.0 (its rollout complete,
   kubectl's rules) and the run's failure; the load says whether 2.0.0 kept serving. (The runbook's `rollout status`
   would wait for the progress deadline, 600 simulated seconds, before anyone runs `rollout undo`.)

Nothing is asserted. Only 127.0.0.1 is used. Run from the repository root: python -m bench.upgrade_k8s
(ANSIBLE_COLLECTIONS_PATH at the collection, kubectl and a Docker engine with the demoapp images on the machine).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from kubesim.simulator import Simulator

from bench import _report
from tests.integration.helpers.ansible import run_playbook
from tests.integration.helpers.backends import SteadyLoad
from tests.integration.test_upgrade_k8s import inventory

REPO = pathlib.Path(__file__).resolve().parents[1]
MANIFESTS = REPO / 'examples' / 'k8s'
API_PORT = 18960
SPEED = 5.0
LOAD = dict(max_requests=20000, max_seconds=600, pause=0.02)
APP = [{'name': 'demoapp', 'images': {'app': 'demoapp'}}]
BAD_VERSION = '9.9.9'
# The runbook's commands (runbook 000_823a2fcca27d0a36), as an operator's script runs them: $1 the version, $2 a folder.
RUNBOOK = r'''set -eu
version=$1 out=$2
kubectl exec postgresql-0 -- pg_dump -Fc -U demoapp -d demoapp >"$out/demoapp.dump"
kubectl get configmaps,persistentvolumeclaims -l app.kubernetes.io/part-of=demoapp -o yaml >"$out/objects.yaml"
(umask 077; kubectl get secrets -l app.kubernetes.io/part-of=demoapp -o yaml >"$out/secrets.yaml")
cat <<JOB | kubectl apply -f -
{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "demoapp-migrate-runbook"},
 "spec": {"backoffLimit": 3, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "migrate",
  "image": "demoapp:$version", "command": ["demoapp", "migrate", "upgrade", "head"],
  "envFrom": [{"configMapRef": {"name": "demoapp-config"}}, {"secretRef": {"name": "demoapp-secret"}}]}]}}}}
JOB
kubectl wait --for=condition=complete job/demoapp-migrate-runbook --timeout=600s
kubectl set image deployment/demoapp app=demoapp:$version
kubectl rollout status deployment/demoapp --timeout=600s
'''


class Cluster:
    def __init__(self, simulator: Simulator, kubeconfig: str) -> None:
        self.sim, self.kubeconfig = simulator, kubeconfig

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run([shutil.which('kubectl') or 'kubectl', '--kubeconfig', self.kubeconfig, *args], input=stdin,
                                capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            raise RuntimeError('kubectl %s: %s' % (' '.join(args), result.stderr))
        return result.stdout

    def migrate(self, version: str, *alembic: str) -> None:
        name = 'demoapp-migrate-%s' % version.replace('.', '-')
        job = {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': name},
               'spec': {'backoffLimit': 3, 'template': {'spec': {'restartPolicy': 'Never', 'containers': [{
                   'name': 'migrate', 'image': 'demoapp:%s' % version,
                   'command': ['demoapp', 'migrate', *(alembic or ('upgrade', 'head'))],
                   'envFrom': [{'configMapRef': {'name': 'demoapp-config'}}, {'secretRef': {'name': 'demoapp-secret'}}]}]}}}}
        self.kubectl('apply', '-f', '-', stdin=json.dumps(job))
        self.kubectl('wait', '--for=condition=complete', 'job/' + name, '--timeout=300s')
        self.kubectl('delete', 'job', name)

    def set_up(self) -> str:
        """The demo app at 1.0.0 on its schema; the Service's address through its proxy."""
        files = ['demoapp-configmap.yaml', 'demoapp-secret.yaml', 'postgresql-secret.yaml', 'postgresql-service.yaml',
                 'postgresql-statefulset.yaml']
        self.kubectl('apply', *[arg for name in files for arg in ('-f', str(MANIFESTS / name))])
        url = 'postgresql://demoapp:demoapp-demo-pw@postgresql-0:5432/demoapp'  # no cluster DNS in kubesim
        self.kubectl('patch', 'secret', 'demoapp-secret', '--type=merge', '-p',
                     json.dumps({'stringData': {'DATABASE_URL': url, 'DATABASE_URI': url}}))
        self.kubectl('rollout', 'status', 'statefulset/postgresql', '--timeout=300s')
        self.migrate('1.0.0')
        self.kubectl('apply', '-f', str(MANIFESTS / 'demoapp-deployment.yaml'), '-f', str(MANIFESTS / 'demoapp-service.yaml'))
        self.kubectl('patch', 'deployment', 'demoapp', '-p', json.dumps({'spec': {'progressDeadlineSeconds': 3600}}))
        self.kubectl('rollout', 'status', 'deployment/demoapp', '--timeout=600s')
        deadline = time.monotonic() + 60
        while self.sim.service_address('demoapp') is None:
            if time.monotonic() > deadline:
                raise RuntimeError('the Service demoapp has no proxy')
            time.sleep(0.2)
        host, port = self.sim.service_address('demoapp')
        return 'http://%s:%d' % (host, port)

    def runbook(self, version: str, folder: str) -> None:
        subprocess.run(['bash', '-c', RUNBOOK, 'runbook', version, folder], check=True, timeout=1800,
                       env=dict(os.environ, KUBECONFIG=self.kubeconfig), capture_output=True)

    def back_to_1(self) -> None:
        """1.0.0 on schema 0001 again, for ours to start where the runbook started."""
        self.kubectl('delete', 'job', 'demoapp-migrate-runbook')
        self.kubectl('set', 'image', 'deployment/demoapp', 'app=demoapp:1.0.0')
        self.kubectl('rollout', 'status', 'deployment/demoapp', '--timeout=600s')
        self.migrate('2.0.0', 'downgrade', '0001')

    def upgrade(self, url: str, place: str, version: str):
        os.environ['K8S_AUTH_KUBECONFIG'] = self.kubeconfig
        hosts = inventory(pathlib.Path(place), url, version)
        hosts['all']['vars'].update(deploy_k8s_timeout=600, deploy_k8s_failure_grace=3)
        return run_playbook(str(REPO / 'playbooks' / 'upgrade.yml'), inventory=hosts, extravars={'upgrade_target': 'k8s'},
                            own_interpreter=False)

    def deploy(self, version: str, **extravars):
        play = [{'hosts': 'localhost', 'gather_facts': False,
                 'module_defaults': {'group/artisan.upgrade.k8s': {'kubeconfig': self.kubeconfig}},
                 'tasks': [{'name': 'deploy_k8s', 'ansible.builtin.include_role': {'name': 'artisan.upgrade.deploy_k8s'}}]}]
        return run_playbook(play, extravars=dict(deploy_k8s_workloads=APP, deploy_k8s_version=version, deploy_k8s_timeout=300,
                                                 **extravars))

    def deployment(self) -> dict:
        return json.loads(self.kubectl('get', 'deployment', 'demoapp', '-o', 'json'))

    def pull_failing(self) -> bool:
        pods = json.loads(self.kubectl('get', 'pods', '-l', 'app.kubernetes.io/component=stable', '-o', 'json'))['items']
        return any((c.get('state') or {}).get('waiting', {}).get('reason') in ('ErrImagePull', 'ImagePullBackOff')
                   for pod in pods for c in (pod.get('status') or {}).get('containerStatuses') or [])


def why(run) -> str:
    """The message of the run's last failed task, or '' when it passed."""
    failed = [entry['res'].get('msg', '') for entry in run.tasks if entry['res'].get('failed')]
    return ' - failed: %s' % failed[-1][:400] if run.rc and failed else ''


def back_on(obj: dict, image: str) -> bool:
    """The Deployment's template is ``image`` and its rollout is complete (kubectl's rules)."""
    status = obj.get('status') or {}
    updated = status.get('updatedReplicas') or 0
    return (obj['spec']['template']['spec']['containers'][0]['image'] == image
            and obj['metadata']['generation'] <= (status.get('observedGeneration') or 0)
            and updated >= obj['spec']['replicas'] and (status.get('replicas') or 0) <= updated
            and (status.get('availableReplicas') or 0) >= updated)


def first_time(predicate, stop: threading.Event, out: list) -> None:
    """The monotonic time ``predicate()`` first holds, polled (kubectl, a separate client) until ``stop``."""
    while not stop.is_set():
        if predicate():
            out.append(time.monotonic())
            return
        time.sleep(0.1)


def timed(url: str, action) -> tuple[float, SteadyLoad, object]:
    started = time.monotonic()
    with SteadyLoad(url, **LOAD) as load:
        outcome = action()
    return time.monotonic() - started, load, outcome


def main() -> None:
    if not os.environ.get('ANSIBLE_COLLECTIONS_PATH'):
        sys.exit('set ANSIBLE_COLLECTIONS_PATH to the folder holding ansible_collections/artisan/upgrade')
    print('load average before: %s' % ' '.join('%.2f' % value for value in os.getloadavg()), flush=True)
    simulator = Simulator(port=API_PORT, speed=SPEED, runtime='docker').start()
    try:
        cluster = Cluster(simulator, simulator.write_kubeconfig(os.path.join(tempfile.mkdtemp(prefix='k8s-bench-'), 'kubeconfig')))
        started = time.monotonic()
        base = cluster.set_up()
        url = base + '/version'
        print('kubesim docker runtime at %gx, demoapp 1.0.0 on 3 pods, set up in %.1f s' % (SPEED, time.monotonic() - started),
              flush=True)
        place = tempfile.mkdtemp(prefix='k8s-bench-run-')

        wall, load, _outcome = timed(url, lambda: cluster.runbook('2.0.0', place))
        print('runbook way 1.0.0 -> 2.0.0 (script of its kubectl commands: pg_dump, objects, migration Job, set image, '
              'rollout status): %.1f s; %s' % (wall, _report.load_line(load.total, load.failures, load.answers)), flush=True)
        cluster.back_to_1()

        wall, load, run = timed(url, lambda: cluster.upgrade(base, place, '2.0.0'))
        print('ours 1.0.0 -> 2.0.0 (upgrade.yml, rolling, rc %s): %.1f s; %s%s'
              % (run.rc, wall, _report.load_line(load.total, load.failures, load.answers), why(run)), flush=True)
        again = time.monotonic()
        run = cluster.upgrade(base, place, '2.0.0')
        print('ours again at 2.0.0 (upgrade.yml, rc %s): %.1f s, changed tasks: %d'
              % (run.rc, time.monotonic() - again, sum(1 for entry in run.tasks if entry['res'].get('changed'))), flush=True)

        stop, failing, restored = threading.Event(), [], []
        # What ran before the bad release (2.0.0 unless ours failed above, which the rc lines say).
        previous = cluster.deployment()['spec']['template']['spec']['containers'][0]['image']

        def watch() -> None:
            first_time(cluster.pull_failing, stop, failing)
            first_time(lambda: back_on(cluster.deployment(), previous), stop, restored)

        watcher = threading.Thread(target=watch, daemon=True)
        started = time.monotonic()
        watcher.start()
        with SteadyLoad(url, **LOAD) as load:
            run = cluster.deploy(BAD_VERSION, deploy_k8s_failure_grace=3)
            failed_at = time.monotonic()
            watcher.join(120)
        stop.set()
        if not restored:
            restored.append(float('nan'))
        print('ours %s -> %s (bad image, failure_grace 3 s, rc %s): run failed after %.1f s; back on %s (rollout '
              'complete) %.1f s after the start, %s after the first ErrImagePull; %s'
              % (previous, BAD_VERSION, run.rc, failed_at - started, previous, restored[0] - started,
                 '%.1f s' % (restored[0] - failing[0]) if failing else 'unknown (no ErrImagePull seen)',
                 _report.load_line(load.total, load.failures, load.answers)), flush=True)
        print('load average after: %s' % ' '.join('%.2f' % value for value in os.getloadavg()), flush=True)
    finally:
        simulator.stop()


if __name__ == '__main__':
    main()
