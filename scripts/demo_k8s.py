"""make demo TARGET=k8s: kubesim with the docker runtime (API on 127.0.0.1:18970, Service proxies on 18975-18979, a
background process whose PID is in STATE/kubesim.pid), examples/k8s applied with kubectl as
tests/integration/test_upgrade_k8s.py applies it, upgraded with the values of examples/inventories/k8s.
`down` stops that simulator by its PID (it removes its pods' containers and network itself), then removes what is
left with its label, then the state folder."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time
import typing as t

import yaml

from demo_common import say
from tests.integration.helpers.ansible import PlaybookRun, run_playbook
from tests.integration.helpers.docker import connect
from tests.integration.helpers.systemd_fleet import get_json
from tests.integration.test_deploy_k8s import kubectl_for, pod_images
from tests.integration.test_upgrade_k8s import db_revision, inventory, start

ROOT = pathlib.Path(__file__).resolve().parents[1]
UPGRADE = str(ROOT / 'playbooks' / 'upgrade.yml')
API_PORT = 18970
PROXY_PORTS = '18975-18979'
# Simulated seconds per real second: as the integration tests' docker runtime.
SPEED = '5'
SIMULATOR_LABEL = 'kubesim.io/simulator'
STABLE = 'app.kubernetes.io/component=stable'


class Cluster:
    """What test_upgrade_k8s.start() needs of its fixture: the kubeconfig and a Service's proxy address."""

    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.kubectl = kubectl_for(kubeconfig)

    def service_address(self, name: str) -> tuple[str, int] | None:
        service = json.loads(self.kubectl('get', 'service', name, '-o', 'json'))
        address = (service['metadata'].get('annotations') or {}).get('kubesim.io/proxy')
        if not address:
            return None
        host, _colon, port = address.rpartition(':')
        return host, int(port)


class K8sDemo:
    name = 'k8s'

    def __init__(self, state: pathlib.Path) -> None:
        self.state = state
        self.kubeconfig = str(state / 'kubeconfig')
        self.pid_file = state / 'kubesim.pid'
        self.url = ''
        self.kubectl: t.Callable[..., str] | None = None

    def start(self) -> None:
        if shutil.which('kubectl') is None:
            raise SystemExit('make demo TARGET=k8s needs kubectl on the PATH')
        if self.pid_file.exists():
            say('a previous k8s demo is still up: removing it first')
            self.down()
        self.state.mkdir(parents=True, exist_ok=True)
        log = self.state / 'kubesim.log'
        say('kubesim --runtime docker on 127.0.0.1:%d (Service proxies on %s; log %s)' % (API_PORT, PROXY_PORTS, log))
        with open(log, 'wb') as output:
            # Its own session: the simulator outlives this script, until make demo-down.
            process = subprocess.Popen(  # pylint: disable=consider-using-with
                [sys.executable, '-m', 'kubesim', '--port', str(API_PORT), '--kubeconfig', self.kubeconfig, '--speed', SPEED,
                 '--runtime', 'docker', '--proxy-ports', PROXY_PORTS],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_file.write_text(str(process.pid), encoding='utf-8')
        deadline = time.monotonic() + 120
        while 'kubesim serving' not in log.read_text(encoding='utf-8', errors='replace'):
            if process.poll() is not None or time.monotonic() > deadline:
                self.pid_file.unlink()
                raise SystemExit('kubesim did not start:\n%s' % log.read_text(encoding='utf-8', errors='replace')[-2000:])
            time.sleep(0.2)
        cluster = Cluster(self.kubeconfig)
        say('examples/k8s with kubectl: PostgreSQL, the 1.0.0 migration Job, the Deployments and the Service '
            '(pods are containers: minutes on a loaded machine)')
        done = threading.Event()
        watcher = threading.Thread(target=self.watch_pods, args=(cluster.kubectl, done), daemon=True)
        watcher.start()
        try:
            self.kubectl, self.url = start(cluster)
        finally:
            done.set()
            watcher.join(timeout=30)
        self.remember_simulator(cluster.kubectl)
        say('the Service demoapp: %s; kubeconfig %s' % (self.url, self.kubeconfig))

    def watch_pods(self, kubectl: t.Callable[..., str], done: threading.Event) -> None:
        """A progress line every 15 s while the manifests come up (the pods' phases and readiness), and the
        simulator's id as soon as the database pod runs (for down() after a start that failed)."""
        while not done.wait(15):
            try:
                pods = json.loads(kubectl('get', 'pods', '-o', 'json', check=False) or '{}').get('items', [])
            except ValueError:
                continue
            states = []
            for pod in pods:
                ready = any(c['type'] == 'Ready' and c['status'] == 'True' for c in pod['status'].get('conditions') or [])
                states.append('%s %s%s' % (pod['metadata']['name'], pod['status'].get('phase', '?'), ' Ready' if ready else ''))
            say('  pods: %s' % (', '.join(sorted(states)) or 'none yet'))
            if not (self.state / 'kubesim.id').exists():
                self.remember_simulator(kubectl)

    def remember_simulator(self, kubectl: t.Callable[..., str]) -> None:
        """The simulator's id (the label of its containers), for down() when the process is gone: the container of
        pod postgresql-0 whose address on its network is the pod's IP (other simulators may run beside this one)."""
        found = kubectl('get', 'pod', 'postgresql-0', '-o', 'json', check=False)
        pod_ip = json.loads(found)['status'].get('podIP') if found else None
        for container in connect().containers.list(filters={'label': 'kubesim.io/pod=default/postgresql-0'}):
            networks = container.attrs['NetworkSettings']['Networks'].values()
            if pod_ip and any(network.get('IPAddress') == pod_ip for network in networks):
                (self.state / 'kubesim.id').write_text(container.labels[SIMULATOR_LABEL], encoding='utf-8')
                return

    def install(self) -> None:
        say('1.0.0 serves through the Service; a user, a login and a post through the API')
        from demo_compose import add_data  # pylint: disable=import-outside-toplevel
        add_data(self.url)

    def upgrade(self, version: str, fault: str, **run: t.Any) -> PlaybookRun:
        assert self.kubectl is not None
        if fault:
            # The ConfigMap the new pods take their environment from; releases before 3.0.0 ignore DEMOAPP_FAULT.
            self.kubectl('patch', 'configmap', 'demoapp-config', '--type=merge', '-p',
                         json.dumps({'data': {'DEMOAPP_FAULT': fault}}))
        values = inventory(self.state, self.url, version)
        path = self.state / 'inventory.yml'
        path.write_text(yaml.safe_dump(values, sort_keys=False), encoding='utf-8')
        os.environ['K8S_AUTH_KUBECONFIG'] = self.kubeconfig
        return run_playbook(UPGRADE, inventory=str(path), extravars={'upgrade_target': 'k8s'}, own_interpreter=False, **run)

    def versions(self) -> list[str]:
        return sorted({get_json(self.url + '/version')['version'] for _index in range(9)})

    def served(self) -> str:
        assert self.kubectl is not None
        return 'the Service serves %s; Ready pods run %s; database at revision %s' % (
            ', '.join(self.versions()), ', '.join(pod_images(self.kubectl, STABLE)), ', '.join(db_revision(self.kubectl)))

    def where(self) -> list[str]:
        collections = os.environ.get('ANSIBLE_COLLECTIONS_PATH', '')
        return ['the Service: %s/version   kubectl --kubeconfig %s get pods' % (self.url, self.kubeconfig),
                'again by hand: K8S_AUTH_KUBECONFIG=%s ANSIBLE_COLLECTIONS_PATH=%s ansible-playbook artisan.upgrade.upgrade '
                '-i %s -e upgrade_target=k8s -e app_version=2.0.0' % (self.kubeconfig, collections, self.state / 'inventory.yml')]

    def down(self) -> None:
        stopped = self.stop_simulator()
        client = connect()
        removed = []
        simulator_id = (self.state / 'kubesim.id').read_text(encoding='utf-8') if (self.state / 'kubesim.id').exists() else ''
        if simulator_id:
            selector = {'label': '%s=%s' % (SIMULATOR_LABEL, simulator_id)}
            for container in client.containers.list(all=True, filters=selector):
                container.remove(force=True)
                removed.append(container.name)
            for network in client.networks.list(filters=selector):
                network.remove()
                removed.append(network.name)
        if self.state.exists():
            shutil.rmtree(self.state)
        print('removed the k8s demo: %s%s' % (stopped, '; left over and removed: %s' % ', '.join(removed) if removed else ''))

    def stop_simulator(self) -> str:
        """SIGTERM to the simulator of the PID file (only if that process is still a kubesim), bounded wait."""
        if not self.pid_file.exists():
            return 'no simulator was running (%s does not exist)' % self.pid_file
        pid = int(self.pid_file.read_text(encoding='utf-8'))
        try:
            command = pathlib.Path('/proc/%d/cmdline' % pid).read_bytes().split(b'\0')
        except OSError:
            return 'the simulator (PID %d) had already stopped' % pid
        if b'kubesim' not in command:
            return 'PID %d is no longer the simulator: left alone' % pid
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 120
        while pathlib.Path('/proc/%d' % pid).exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        if pathlib.Path('/proc/%d' % pid).exists():
            os.kill(pid, signal.SIGKILL)
            return 'the simulator (PID %d) did not stop in 120 s: killed' % pid
        return 'the simulator (PID %d) stopped, its containers and network with it' % pid
