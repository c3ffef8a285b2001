"""The systemd target's topology for tests: three systemd-host containers running demoapp 1.0.0 (a release of
app_release, an env file with the runbook's DATABASE_URI, a hand-written unit) behind an nginx container, with
PostgreSQL in a container at 1.0.0's schema, on a Docker network of its own; ports published on 127.0.0.1 only,
names unique to the session."""

from __future__ import annotations

import contextlib
import time
import typing as t

import requests

from .ansible import run_playbook
from .docker import BASE_IMAGE, SYSTEMD_RUN_OPTIONS, DockerSession, put_file, sh

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
    def __init__(self, hosts: list[t.Any], nginx: t.Any, db: t.Any, db_url: str) -> None:
        self.hosts, self.nginx, self.db, self.db_url = hosts, nginx, db, db_url
        self.urls = {h.name: 'http://127.0.0.1:%d' % host_port(h, '8000/tcp') for h in hosts}
        self.nginx_url = 'http://127.0.0.1:%d' % host_port(nginx, '8080/tcp')
        self.inventory = {'all': {'hosts': {h.name: {} for h in hosts + [nginx]},
                                  'vars': {'ansible_connection': 'community.docker.docker'}},
                          'app': {'hosts': {h.name: {} for h in hosts}}}

    def versions(self) -> dict[str, str]:
        return {name: get_json(url + '/version')['version'] for name, url in self.urls.items()}

    def nginx_versions(self, count: int = 30) -> set[str]:
        return {get_json(self.nginx_url + '/version')['version'] for _index in range(count)}


@contextlib.contextmanager
def systemd_fleet(docker_session: DockerSession, wheelhouse: t.Any, releases: dict[str, t.Any],
                  hosts_count: int = 3) -> t.Iterator[Fleet]:
    """The topology, removed on exit; the database migrated to 1.0.0's head from the controller."""
    network = docker_session.network(driver='bridge')
    containers: list[t.Any] = []
    try:
        db = docker_session.run('artisan-upgrade/postgres:15', network=network.name,
                                ports={'5432/tcp': ('127.0.0.1', None)},
                                environment={'POSTGRES_USER': 'app', 'POSTGRES_PASSWORD': 'secret', 'POSTGRES_DB': 'app'})
        containers.append(db)
        docker_session.wait_healthy(db, timeout=120)
        db_url = 'postgresql://app:secret@127.0.0.1:%d/app' % host_port(db, '5432/tcp')
        releases['1.0.0'].migrate(db_url, 'upgrade', 'head')
        volumes = dict(SYSTEMD_RUN_OPTIONS['volumes'], **{str(wheelhouse): {'bind': '/wheelhouse', 'mode': 'ro'}})
        hosts = []
        for _index in range(hosts_count):
            hosts.append(docker_session.run_systemd(BASE_IMAGE, volumes=volumes, network=network.name,
                                                    ports={'8000/tcp': ('127.0.0.1', None)}))
            containers.append(hosts[-1])
        for host in hosts:  # 1.0.0 the runbook way: a venv, an env file with DATABASE_URI, a hand-written unit
            sh(host, 'useradd --system --no-create-home --shell /usr/sbin/nologin demoapp')
            put_file(host, '/etc/demoapp/demoapp.env', ENV_FILE.format(db=db.name), 0o640)
            put_file(host, '/etc/systemd/system/demoapp.service', HAND_UNIT)
            sh(host, 'chgrp demoapp /etc/demoapp/demoapp.env && systemctl daemon-reload')
        bootstrap = [{'hosts': 'app', 'gather_facts': False, 'tasks': [
            {'artisan.upgrade.app_release': {'app_root': '/srv/demoapp', 'version': '1.0.0', 'state': 'current',
                                             'requirements': ['demoapp==1.0.0'], 'wheelhouse': '/wheelhouse',
                                             'python': 'python3.11', 'owner': 'demoapp', 'group': 'demoapp'}},
            {'ansible.builtin.systemd_service': {'name': 'demoapp', 'state': 'started', 'enabled': True}}]}]
        nginx = docker_session.run('artisan-upgrade/nginx:bookworm', network=network.name,
                                   ports={'8080/tcp': ('127.0.0.1', None)})
        containers.append(nginx)
        docker_session.wait_healthy(nginx)
        inventory = {'all': {'hosts': {h.name: {} for h in hosts},
                             'vars': {'ansible_connection': 'community.docker.docker'}},
                     'app': {'hosts': {h.name: {} for h in hosts}}}
        done = run_playbook(bootstrap, inventory=inventory, extravars=DEBIAN)
        assert done.rc == 0, done.stdout
        put_file(nginx, UPSTREAM, 'upstream demoapp {\n%s}\n' % ''.join('    server %s:8000;\n' % h.name for h in hosts))
        put_file(nginx, '/etc/nginx/conf.d/site.conf', SITE)
        sh(nginx, 'nginx -t -q && nginx -s reload')
        fleet = Fleet(hosts, nginx, db, db_url)
        assert set(fleet.versions().values()) == {'1.0.0'}
        assert fleet.nginx_versions() == {'1.0.0'}
        yield fleet
    finally:
        for container in containers:
            container.remove(force=True, v=True)
        network.remove()
