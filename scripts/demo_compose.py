"""make demo TARGET=compose: a copy of the examples/compose stack (PostgreSQL, app1 and app2, nginx) as the Compose
project artisan-demo-compose, nginx on 127.0.0.1:18690, upgraded with the values of examples/inventories/compose.
`down` removes the project's containers, network and volume (by the project's label) and the one-off migration
container (by its name), then the state folder."""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import typing as t

import requests
import yaml

from demo_common import say
from tests.integration.helpers.ansible import PlaybookRun, run_playbook
from tests.integration.helpers.compose import ComposeProject
from tests.integration.helpers.docker import connect
from tests.integration.helpers.systemd_fleet import get_json, wait_serving

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / 'examples' / 'compose'
EXAMPLE_VARS = ROOT / 'examples' / 'inventories' / 'compose' / 'group_vars' / 'all.yml'
PROJECT = 'artisan-demo-compose'
HTTP_PORT = 18690
UPGRADE = str(ROOT / 'playbooks' / 'upgrade.yml')
LABEL = 'com.docker.compose.project=%s' % PROJECT
# The password the example stack's compose.yaml defaults to (a demo value, no vault here).
DB_PASSWORD = 'artisan-demo-pw'


class ComposeDemo:
    name = 'compose'
    url = 'http://127.0.0.1:%d' % HTTP_PORT

    def __init__(self, state: pathlib.Path) -> None:
        self.state = state
        self.stack = state / 'stack'
        self.project = ComposeProject(str(self.stack))
        self.project.name = PROJECT
        # The stack's .env decides the release: none of the caller's values for it.
        self.project.env = {k: v for k, v in self.project.env.items()
                            if k not in ('DEMOAPP_VERSION', 'DEMO_HTTP_PORT', 'DEMOAPP_FAULT', 'COMPOSE_PROJECT_NAME')}
        self.inventory = state / 'inventory'

    def start(self) -> None:
        client = connect()
        if client.containers.list(all=True, filters={'label': LABEL}) or self.stack.exists():
            say('a previous compose demo is still up: removing it first')
            self.down()
        self.state.mkdir(parents=True, exist_ok=True)
        shutil.copytree(EXAMPLE, self.stack)
        (self.stack / '.env').write_text('# make demo TARGET=compose\nDEMO_HTTP_PORT=%d\nDEMOAPP_VERSION=1.0.0\n' % HTTP_PORT,
                                         encoding='utf-8')
        say('docker compose -p %s up -d --wait (PostgreSQL, the 1.0.0 migration, app1, app2, nginx on %s)' % (PROJECT, self.url))
        self.project.up_healthy()
        self.write_inventory()
        say('stack %s, inventory %s' % (self.stack, self.inventory))

    def write_inventory(self) -> None:
        """An inventory folder as a user keeps one: the example group_vars, then this stack's few differences."""
        group_vars = self.inventory / 'group_vars' / 'all'
        group_vars.mkdir(parents=True, exist_ok=True)
        (group_vars / '00-example.yml').symlink_to(EXAMPLE_VARS)
        values = {
            'app_compose_dir': str(self.stack), 'app_compose_project': PROJECT, 'app_http_port': HTTP_PORT,
            'app_db_password': DB_PASSWORD, 'preflight_environment': 'demo',
            # Generous: on a loaded machine the image's 2 s healthcheck can time out for minutes.
            'deploy_compose_health_timeout': 400,
            'backup_dest': str(self.state / 'backups'), 'preflight_records_dir': str(self.state / 'records'),
            'preflight_lock_dir': str(self.state / 'locks'), 'upgrade_host_records_dir': str(self.state / 'host-records'),
        }
        (group_vars / '50-demo.yml').write_text(yaml.safe_dump(values, sort_keys=False), encoding='utf-8')
        hosts = {'all': {'children': {'app': {'hosts': {'docker-host': {
            'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}}}
        (self.inventory / 'hosts.yml').write_text(yaml.safe_dump(hosts, sort_keys=False), encoding='utf-8')

    def install(self) -> None:
        say('1.0.0 serves through nginx; a user, a login and a post through the API')
        wait_serving(self.url + '/version', answers=4, deadline=300)
        add_data(self.url)

    def upgrade(self, version: str, fault: str, **run: t.Any) -> PlaybookRun:
        env_file = self.stack / '.env'
        before = env_file.read_text(encoding='utf-8')
        if fault:
            # The stack's environment for the new containers; 1.x and 2.x ignore it.
            env_file.write_text(before + 'DEMOAPP_FAULT=%s\n' % fault, encoding='utf-8')
        try:
            return run_playbook(UPGRADE, inventory=str(self.inventory / 'hosts.yml'), own_interpreter=False,
                                extravars={'upgrade_target': 'compose', 'app_version': version}, **run)
        finally:
            if fault:
                env_file.write_text(env_file.read_text(encoding='utf-8').replace('DEMOAPP_FAULT=%s\n' % fault, ''),
                                    encoding='utf-8')

    def versions(self) -> list[str]:
        return sorted({get_json(self.url + '/version')['version'] for _index in range(9)})

    def db_revision(self) -> str:
        postgres = connect().containers.get('%s-postgres-1' % PROJECT)
        code, out = postgres.exec_run(['psql', '-U', 'artisan', '-d', 'artisan', '-tAc', 'SELECT version_num FROM alembic_version'])
        return out.decode(errors='replace').strip() if code == 0 else 'unknown (%s)' % out.decode(errors='replace').strip()

    def served(self) -> str:
        images = {}
        for container in connect().containers.list(filters={'label': LABEL}):
            service = container.labels.get('com.docker.compose.service')
            if service in ('app1', 'app2'):
                # The image's demoapp tag (other repositories may tag the same image), else its short ID.
                tags = [tag for tag in container.image.tags if tag.startswith('demoapp:')]
                images[service] = tags[0] if tags else container.image.short_id
        return 'nginx serves %s; %s; database at revision %s' % (
            ', '.join(self.versions()), ', '.join('%s %s' % item for item in sorted(images.items())), self.db_revision())

    def where(self) -> list[str]:
        return ['nginx: %s/version   stack: %s   inventory: %s/hosts.yml' % (self.url, self.stack, self.inventory),
                'again by hand: ANSIBLE_COLLECTIONS_PATH=%s ansible-playbook artisan.upgrade.upgrade -i %s/hosts.yml '
                '-e upgrade_target=compose -e app_version=2.0.0' % (os.environ.get('ANSIBLE_COLLECTIONS_PATH', ''), self.inventory)]

    def down(self) -> None:
        client = connect()
        args = ['down', '--volumes', '--remove-orphans', '--timeout', '10']
        if self.stack.exists():
            self.project.run(*args, check=False)
        # What is left (no stack folder, or the one-off migration container): by the project's label and by name.
        removed = []
        for container in client.containers.list(all=True, filters={'name': '^/?%s-migrate$' % PROJECT}) + \
                client.containers.list(all=True, filters={'label': LABEL}):
            container.remove(force=True)
            removed.append(container.name)
        for network in client.networks.list(filters={'label': LABEL}):
            network.remove()
            removed.append(network.name)
        for volume in client.volumes.list(filters={'label': LABEL}):
            volume.remove(force=True)
            removed.append(volume.name)
        if self.state.exists():
            shutil.rmtree(self.state)
        print('removed the compose demo: project %s%s' % (PROJECT, ' (and %s)' % ', '.join(removed) if removed else ''))


def add_data(url: str) -> None:
    """Some data through demoapp's API, as a user leaves it: an account and a post (as molecule/systemd/prepare.yml)."""
    user = {'email': 'demo@example.com', 'password': 'demo-pw-123', 'full_name': 'Demo User'}
    response = requests.post(url + '/api/users', json=user, timeout=30)
    if response.status_code not in (201, 409):
        raise RuntimeError('registering a user: HTTP %d %s' % (response.status_code, response.text[:200]))
    token = requests.post(url + '/api/auth/login', json={'username': user['email'], 'password': user['password']},
                          timeout=30).json()['access_token']
    response = requests.post(url + '/api/posts', json={'title': 'Before the upgrade', 'body': 'written by 1.0.0'},
                             headers={'Authorization': 'Bearer %s' % token}, timeout=30)
    if response.status_code != 201:
        raise RuntimeError('writing a post: HTTP %d %s' % (response.status_code, response.text[:200]))
