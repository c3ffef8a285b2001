"""A fleet of systemd hosts for demoapp behind an nginx container, with PostgreSQL in a container, on a Docker
network of its own; ports published on 127.0.0.1 only.

The integration tests (``start_fleet``, ``systemd_fleet``) make one with unique names and random ports and demoapp 1.0.0 as a
release of app_release; bench/upgrade_systemd.py and `make demo` make one with fixed names and ports
(``Layout.fixed``, ``Topology``) and install demoapp 1.0.0 the runbook's way with the Molecule scenario's own
preparation (molecule/systemd/prepare.yml).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import os
import pathlib
import sys
import time
import typing as t

import requests
import yaml

from .ansible import PlaybookRun, run_playbook
from .docker import BASE_IMAGE, SYSTEMD_RUN_OPTIONS, DockerSession, put_file, sh

REPO = pathlib.Path(__file__).resolve().parents[3]
EXAMPLE_GROUP_VARS = REPO / 'examples' / 'inventories' / 'systemd' / 'group_vars' / 'all.yml'
MOLECULE = REPO / 'molecule' / 'systemd'
DB_IMAGE = 'artisan-upgrade/postgres:15'
LB_IMAGE = 'artisan-upgrade/nginx:bookworm'
# Enough for systemd, a pip install and one demoapp process; twelve hosts fit on a small machine.
HOST_MEMORY = '384m'
# Where molecule/systemd/prepare.yml (the example inventory's values) puts demoapp, and the wheelhouse's mount.
RUNBOOK = {'venv': '/opt/demoapp/venv', 'env_file': '/etc/demoapp/production.env', 'unit': 'demoapp',
           'wheelhouse': '/srv/wheelhouse'}


@dataclasses.dataclass(frozen=True)
class Layout:
    """Names and published ports. Without a prefix: unique names and random free ports (tests)."""

    hosts: int
    prefix: str = ''
    lb_port: int | None = None  # app host i (from 1) publishes lb_port + i
    db_port: int | None = None

    @classmethod
    def fixed(cls, prefix: str, hosts: int, lb_port: int, db_port: int) -> 'Layout':
        if lb_port < db_port <= lb_port + hosts:
            raise ValueError('%d hosts from port %d overlap the database port %d' % (hosts, lb_port + 1, db_port))
        return cls(hosts, prefix, lb_port, db_port)

    def name(self, session: DockerSession, role: str) -> str:
        return '%s-%s' % (self.prefix, role) if self.prefix else session.name(role)

    def port(self, role: str, index: int = 0) -> int | None:
        if not self.prefix:
            return None
        return self.db_port if role == 'db' else self.lb_port + index  # type: ignore[operator]


@dataclasses.dataclass
class Database:
    user: str = 'demoapp'
    password: str = 'demoapp-fleet-pw'
    name: str = 'demoapp'


def host_port(container: t.Any, port: str) -> int:
    container.reload()
    return int(container.attrs['NetworkSettings']['Ports'][port][0]['HostPort'])


def get_json(url: str, deadline: float = 60) -> dict:
    """GET with a bounded wait for the service to answer 200."""
    end, last = time.monotonic() + deadline, None
    while time.monotonic() < end:
        try:
            answer = requests.get(url, timeout=5)
            if answer.status_code == 200:
                return answer.json()
            last = 'HTTP %d %s' % (answer.status_code, answer.text[:200])
        except requests.RequestException as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise AssertionError('%s did not answer 200 in %ss: %s' % (url, deadline, last))


class Fleet:
    """The containers of one fleet and how to reach them from this machine."""

    def __init__(self, network: t.Any, hosts: list[t.Any], nginx: t.Any, db: t.Any, database: Database,
                 lb_port: str = '80/tcp') -> None:
        self.network, self.hosts, self.nginx, self.db, self.database = network, hosts, nginx, db, database
        self.urls = {h.name: 'http://127.0.0.1:%d' % host_port(h, '8000/tcp') for h in hosts}
        self.nginx_url = 'http://127.0.0.1:%d' % host_port(nginx, lb_port)
        self.db_port = host_port(db, '5432/tcp')
        self.db_url = 'postgresql://%s:%s@127.0.0.1:%d/%s' % (database.user, database.password, self.db_port, database.name)
        self.inventory = {'all': {'hosts': {h.name: {} for h in hosts + [nginx]},
                                  'vars': {'ansible_connection': 'community.docker.docker'}},
                          'app': {'hosts': {h.name: {} for h in hosts}}}

    @property
    def containers(self) -> list[t.Any]:
        return self.hosts + [self.nginx, self.db]

    def ids(self) -> dict[str, list[str]]:
        """What to remove, by id: made by this fleet, never found by name."""
        return {'containers': [c.id for c in self.containers], 'networks': [self.network.id]}

    def versions(self) -> dict[str, str]:
        return {name: get_json(url + '/version')['version'] for name, url in self.urls.items()}

    def nginx_versions(self, count: int = 30) -> set[str]:
        return {get_json(self.nginx_url + '/version')['version'] for _index in range(count)}

    def remove(self) -> None:
        for container in self.containers:
            container.remove(force=True, v=True)
        self.network.remove()


def create_fleet(session: DockerSession, layout: Layout, wheelhouse: pathlib.Path, wheelhouse_mount: str,
                 database: Database | None = None, lb_port: str = '80/tcp') -> Fleet:
    """Network, PostgreSQL, the systemd hosts (booted together) and nginx; nothing installed on the hosts yet."""
    database = database or Database()
    network = session.network(name=layout.prefix or session.name('net'), driver='bridge')
    made = [network]
    try:
        db = session.run(DB_IMAGE, name=layout.name(session, 'db'), network=network.name,
                         ports={'5432/tcp': ('127.0.0.1', layout.port('db'))},
                         environment={'POSTGRES_USER': database.user, 'POSTGRES_PASSWORD': database.password,
                                      'POSTGRES_DB': database.name})
        made.append(db)
        volumes = dict(SYSTEMD_RUN_OPTIONS['volumes'], **{str(wheelhouse): {'bind': wheelhouse_mount, 'mode': 'ro'}})
        hosts = []
        for index in range(1, layout.hosts + 1):
            hosts.append(session.run_systemd(BASE_IMAGE, wait=False, name=layout.name(session, 'app%d' % index),
                                             volumes=volumes, network=network.name, mem_limit=HOST_MEMORY,
                                             ports={'8000/tcp': ('127.0.0.1', layout.port('app', index))}))
            made.append(hosts[-1])
        nginx = session.run(LB_IMAGE, name=layout.name(session, 'lb'), network=network.name,
                            ports={lb_port: ('127.0.0.1', layout.port('lb'))})
        made.append(nginx)
        for host in hosts:
            session.wait_booted(host)
        session.wait_healthy(db, timeout=120)
        session.wait_healthy(nginx)
        return Fleet(network, hosts, nginx, db, database, lb_port)
    except BaseException:
        for container in reversed(made[1:]):
            container.remove(force=True, v=True)
        network.remove()
        raise


# ---- the integration tests' fleet: demoapp 1.0.0 as a release of app_release under /srv ------------------

ENV_FILE = 'DATABASE_URI="postgresql://app:secret@{db}:5432/app"\nSECRET_KEY=shared-secret-for-the-fleet\n'
HAND_UNIT = """[Unit]
Description=demoapp, installed by hand as the runbook says
[Service]
User=demoapp
EnvironmentFile=/etc/demoapp/demoapp.env
ExecStart=/srv/demoapp/current/venv/bin/demoapp serve
[Install]
WantedBy=multi-user.target
"""
SITE = 'server { listen 8080; location / { proxy_pass http://demoapp; proxy_next_upstream error timeout; } }\n'
UPSTREAM = '/etc/nginx/conf.d/demoapp-upstream.conf'
DEBIAN = {'ansible_python_interpreter': '/usr/bin/python3'}
# Two hosts in the tests: one drained and restarted while the other serves is what a rolling or canary deploy has to
# get right, and every host more is another venv, restart and record per run on a 2-core machine. Molecule, the
# bench and make demo keep the three of the example inventory.
TEST_HOSTS = 2


def start_fleet(docker_session: DockerSession, wheelhouse: t.Any, releases: dict[str, t.Any],
                hosts_count: int = TEST_HOSTS) -> Fleet:
    """The tests' topology; the database migrated to 1.0.0's head from the controller. stop_fleet() removes it."""
    fleet = create_fleet(docker_session, Layout(hosts_count), wheelhouse, '/wheelhouse', Database('app', 'secret', 'app'),
                         lb_port='8080/tcp')
    try:
        releases['1.0.0'].migrate(fleet.db_url, 'upgrade', 'head')
        for host in fleet.hosts:  # 1.0.0 the runbook way: a venv, an env file with DATABASE_URI, a hand-written unit
            sh(host, 'useradd --system --no-create-home --shell /usr/sbin/nologin demoapp')
            put_file(host, '/etc/demoapp/demoapp.env', ENV_FILE.format(db=fleet.db.name), 0o640)
            put_file(host, '/etc/systemd/system/demoapp.service', HAND_UNIT)
            sh(host, 'chgrp demoapp /etc/demoapp/demoapp.env && systemctl daemon-reload')
        bootstrap = [{'hosts': 'app', 'gather_facts': False, 'tasks': [
            {'artisan.upgrade.app_release': {'app_root': '/srv/demoapp', 'version': '1.0.0', 'state': 'current',
                                             'requirements': ['demoapp==1.0.0'], 'wheelhouse': '/wheelhouse',
                                             'python': 'python3.11', 'owner': 'demoapp', 'group': 'demoapp'}},
            {'ansible.builtin.systemd_service': {'name': 'demoapp', 'state': 'started', 'enabled': True}}]}]
        inventory = {'all': {'hosts': {h.name: {} for h in fleet.hosts},
                             'vars': {'ansible_connection': 'community.docker.docker'}},
                     'app': {'hosts': {h.name: {} for h in fleet.hosts}}}
        done = run_playbook(bootstrap, inventory=inventory, extravars=DEBIAN)
        assert done.rc == 0, done.stdout
        put_file(fleet.nginx, UPSTREAM, 'upstream demoapp {\n%s}\n' % ''.join('    server %s:8000;\n' % h.name for h in fleet.hosts))
        put_file(fleet.nginx, '/etc/nginx/conf.d/site.conf', SITE)
        sh(fleet.nginx, 'nginx -t -q && nginx -s reload')
        assert set(fleet.versions().values()) == {'1.0.0'}
        assert fleet.nginx_versions() == {'1.0.0'}
    except BaseException:
        fleet.remove()
        raise
    return fleet


def stop_fleet(fleet: Fleet) -> None:
    fleet.remove()


@contextlib.contextmanager
def systemd_fleet(docker_session: DockerSession, wheelhouse: t.Any, releases: dict[str, t.Any],
                  hosts_count: int = TEST_HOSTS) -> t.Iterator[Fleet]:
    """start_fleet() as a context manager: the topology, removed on exit."""
    fleet = start_fleet(docker_session, wheelhouse, releases, hosts_count)
    try:
        yield fleet
    finally:
        stop_fleet(fleet)


# ---- demoapp 1.0.0 the runbook's way, and the inventory the playbooks use -------------------------------

def topology_vars(fleet: Fleet, backup_dest: pathlib.Path) -> dict[str, t.Any]:
    """This fleet's values over the example inventory's group_vars (as molecule/systemd/vars/topology.yml)."""
    return {
        'app_db_host': fleet.db.name, 'app_db_user': fleet.database.user, 'app_db_name': fleet.database.name,
        'app_db_password': fleet.database.password, 'app_secret_key': 'fleet-shared-signing-key-%s' % fleet.db.name,
        'app_published_port': {name: int(url.rsplit(':', 1)[1]) for name, url in fleet.urls.items()},
        'lb_published_url': fleet.nginx_url,
        'backup_login_host': '127.0.0.1', 'backup_login_port': fleet.db_port, 'backup_dest': str(backup_dest),
        'backup_files': ['{{ app_env_file }}', '{{ app_unit_file }}', '{{ app_root }}/current'],
        # The wheelhouse mounted into the hosts is their package index; records and locks beside the backups.
        'deploy_systemd_wheelhouse': RUNBOOK['wheelhouse'],
        'preflight_records_dir': str(backup_dest.parent / 'records'),
        'preflight_lock_dir': str(backup_dest.parent / 'locks'),
        'upgrade_records_dir': str(backup_dest.parent / 'records'),
    }


def write_inventory(fleet: Fleet, folder: pathlib.Path, values: dict[str, t.Any]) -> pathlib.Path:
    """An inventory folder as a user keeps one: hosts, the example group_vars, this fleet's values after them."""
    group_vars = folder / 'group_vars' / 'all'
    group_vars.mkdir(parents=True, exist_ok=True)
    example = group_vars / '00-example.yml'
    if not example.is_symlink():
        example.symlink_to(EXAMPLE_GROUP_VARS)
    (group_vars / '50-topology.yml').write_text(yaml.safe_dump(values, sort_keys=False), encoding='utf-8')
    docker_host = {'ansible_connection': 'community.docker.docker', 'ansible_python_interpreter': '/usr/bin/python3'}
    hosts = {'all': {'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}},
                     'children': {
                         'app': {'hosts': {h.name: docker_host for h in fleet.hosts}},
                         'lb': {'hosts': {fleet.nginx.name: docker_host}},
                         'db': {'hosts': {fleet.db.name: docker_host}}}}}
    (folder / 'hosts.yml').write_text(yaml.safe_dump(hosts, sort_keys=False), encoding='utf-8')
    return folder


def run_on_fleet(playbook: str | list, inventory: pathlib.Path, hosts: int, extravars: dict[str, t.Any] | None = None,
                 **kwargs: t.Any) -> PlaybookRun:
    """A playbook on the fleet's inventory, one fork per host (all hosts of a parallel phase at once)."""
    return run_playbook(playbook, inventory=str(inventory / 'hosts.yml'), extravars=extravars,
                        own_interpreter=False, forks=max(5, hosts + 2), **kwargs)


def install_runbook_release(inventory: pathlib.Path, values: dict[str, t.Any], hosts: int, **kwargs: t.Any) -> PlaybookRun:
    """demoapp 1.0.0 as the runbook installs it (venv, env file with DATABASE_URI, unit), nginx, some data.

    The Molecule playbook reads its topology from vars_files, which beat the inventory: the fleet's values go
    in as extra vars.
    """
    run = run_on_fleet(str(MOLECULE / 'prepare.yml'), inventory, hosts, values, **kwargs)
    if run.rc != 0:
        raise RuntimeError('molecule/systemd/prepare.yml failed on the fleet:\n%s' % run.stdout[-6000:])
    return run


def in_parallel(function: t.Callable[[t.Any], t.Any], items: t.Sequence[t.Any]) -> list[t.Any]:
    """function(item) for every item at once, results in order (the first exception is raised)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(items))) as pool:
        return list(pool.map(function, items))


def save_ids(path: pathlib.Path, fleet: Fleet, **extra: t.Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(fleet.ids(), **extra), indent=1), encoding='utf-8')


def environment_ready() -> None:
    """The collection under test must be on ANSIBLE_COLLECTIONS_PATH (scripts/gates.sh and scripts/demo.sh do it)."""
    if not os.environ.get('ANSIBLE_COLLECTIONS_PATH'):
        raise SystemExit('ANSIBLE_COLLECTIONS_PATH is not set: run through make bench / make demo')


# ---- upgrades on a fleet: the runbook's way and ours --------------------------------------------------

UPGRADE_PLAYBOOK = REPO / 'playbooks' / 'upgrade.yml'


def exec_ok(container: t.Any, argv: list[str]) -> str:
    result = container.exec_run(argv)
    if result.exit_code != 0:
        raise RuntimeError('%s on %s failed (%d): %s' % (' '.join(argv), container.name, result.exit_code,
                                                         result.output.decode(errors='replace')[-2000:]))
    return result.output.decode(errors='replace')


def wait_ready(url: str, deadline: float = 120, interval: float = 0.05) -> float:
    """Poll a readiness URL until it answers 200; the monotonic time it did (bounded by ``deadline`` seconds)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.monotonic()
        except requests.RequestException:
            pass
        time.sleep(interval)
    raise RuntimeError('%s not ready within %ss' % (url, deadline))


def wait_serving(url: str, answers: int, deadline: float = 120, interval: float = 0.05) -> None:
    """Poll nginx until ``answers`` requests in a row get 200. After every host was down at once, nginx keeps
    them marked failed for its fail_timeout (10 s by default) and answers 502 though each host is ready."""
    end = time.monotonic() + deadline
    in_a_row = 0
    while in_a_row < answers:
        if time.monotonic() > end:
            raise RuntimeError('%s did not answer 200 %d times in a row within %ss' % (url, answers, deadline))
        try:
            in_a_row = in_a_row + 1 if requests.get(url, headers={'Connection': 'close'}, timeout=2).status_code == 200 else 0
        except requests.RequestException:
            in_a_row = 0
        time.sleep(interval)


class Topology:
    """A fleet with demoapp 1.0.0 installed the runbook's way, its inventory folder, and the upgrades to run on it."""

    def __init__(self, session: DockerSession, layout: Layout, wheelhouse: pathlib.Path, workdir: pathlib.Path) -> None:
        self.layout = layout
        self.workdir = workdir
        self.fleet = create_fleet(session, layout, wheelhouse, RUNBOOK['wheelhouse'])
        self.values = topology_vars(self.fleet, workdir / 'backups')
        self.inventory = write_inventory(self.fleet, workdir / 'inventory', self.values)

    def install_runbook_release(self, **kwargs: t.Any) -> PlaybookRun:
        return install_runbook_release(self.inventory, self.values, self.layout.hosts, **kwargs)

    def host_url(self, container: t.Any, path: str) -> str:
        return self.fleet.urls[container.name] + path

    def runbook_switch(self, version: str, migrate: list[str] | None = None) -> float:
        """The runbook's way on every host at once: stop, pip install --upgrade into the one venv, migrate once
        (the first host), start; returns when every host is ready again. Wall seconds."""
        hosts = self.fleet.hosts
        started = time.monotonic()
        pip = [RUNBOOK['venv'] + '/bin/pip', 'install', '--quiet', '--no-index', '--find-links', RUNBOOK['wheelhouse'],
               '--upgrade', 'demoapp==%s' % version]
        in_parallel(lambda host: (exec_ok(host, ['systemctl', 'stop', RUNBOOK['unit']]), exec_ok(host, pip)), hosts)
        exec_ok(hosts[0], [RUNBOOK['venv'] + '/bin/demoapp', 'migrate', '--env-file', RUNBOOK['env_file']]
                + (migrate or []))
        in_parallel(lambda host: exec_ok(host, ['systemctl', 'start', RUNBOOK['unit']]), hosts)
        in_parallel(lambda host: wait_ready(self.host_url(host, '/api/system/health')), hosts)
        return time.monotonic() - started

    def runbook_downgrade(self, version: str, revision: str) -> None:
        """Back to ``version`` the runbook's way; the schema first, with the newer release's scripts."""
        hosts = self.fleet.hosts
        in_parallel(lambda host: exec_ok(host, ['systemctl', 'stop', RUNBOOK['unit']]), hosts)
        exec_ok(hosts[0], [RUNBOOK['venv'] + '/bin/demoapp', 'migrate', '--env-file', RUNBOOK['env_file'],
                           'downgrade', revision])
        pip = [RUNBOOK['venv'] + '/bin/pip', 'install', '--quiet', '--no-index', '--find-links', RUNBOOK['wheelhouse'],
               'demoapp==%s' % version]
        in_parallel(lambda host: exec_ok(host, pip), hosts)
        in_parallel(lambda host: exec_ok(host, ['systemctl', 'start', RUNBOOK['unit']]), hosts)
        in_parallel(lambda host: wait_ready(self.host_url(host, '/api/system/health')), hosts)
        # What comes next is measured through nginx: start once nginx serves from every host again.
        wait_serving(self.fleet.nginx_url + '/version', answers=4 * len(hosts))

    def upgrade(self, version: str, serial: int = 1, fault: str = '', **kwargs: t.Any) -> PlaybookRun:
        """Our upgrade to ``version``: the collection's playbooks/upgrade.yml, ``serial`` hosts per batch, with the
        version as a user gives it (-e app_version=...). ``fault`` sets DEMOAPP_FAULT on the new release."""
        extravars = {'app_version': version, 'upgrade_target': 'systemd', 'upgrade_serial': serial}
        if fault:
            extravars['deploy_systemd_env_set'] = {'DEMOAPP_FAULT': fault}
        return run_on_fleet(str(UPGRADE_PLAYBOOK), self.inventory, self.layout.hosts, extravars, **kwargs)

    def remove(self) -> None:
        self.fleet.remove()
