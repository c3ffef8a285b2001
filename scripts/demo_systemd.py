"""make demo TARGET=systemd: three systemd-host containers (artisan-demo-app1..3, 127.0.0.1:18681-18683) behind nginx
(artisan-demo-lb, 127.0.0.1:18680), PostgreSQL (artisan-demo-db, 127.0.0.1:18632); demoapp 1.0.0 installed the
runbook's way with some data. `down` removes exactly the containers and network `up` made (ids in STATE/ids.json)."""

from __future__ import annotations

import json
import pathlib
import shutil
import typing as t

from demo_common import Progress, say
from tests.integration.demoapp.support import WHEELHOUSE, build_wheelhouse
from tests.integration.helpers.ansible import PlaybookRun
from tests.integration.helpers.docker import DockerSession, connect, remove_by_ids
from tests.integration.helpers.systemd_fleet import Layout, Topology, save_ids

LAYOUT = Layout.fixed('artisan-demo', 3, 18680, 18632)


class SystemdDemo:
    name = 'systemd'

    def __init__(self, state: pathlib.Path) -> None:
        self.state = state
        self.topology: Topology | None = None
        self.url = ''

    def start(self) -> None:
        if (self.state / 'ids.json').exists():
            say('a previous demo is still up: removing it first')
            self.down()
        say('building the demoapp wheelhouse (skipped when up to date)')
        build_wheelhouse()
        say('starting 3 systemd hosts, nginx and PostgreSQL (artisan-demo-*)')
        self.topology = Topology(DockerSession(connect()), LAYOUT, WHEELHOUSE, self.state)
        save_ids(self.state / 'ids.json', self.topology.fleet)
        fleet = self.topology.fleet
        self.url = fleet.nginx_url
        say('nginx %s, hosts %s, PostgreSQL 127.0.0.1:%d' % (fleet.nginx_url, ', '.join(sorted(fleet.urls.values())), fleet.db_port))

    def install(self) -> None:
        say("the runbook's way: venv, env file, unit, data (molecule/systemd/prepare.yml)")
        assert self.topology is not None
        self.topology.install_runbook_release(on_event=Progress())

    def upgrade(self, version: str, fault: str, **run: t.Any) -> PlaybookRun:
        assert self.topology is not None
        return self.topology.upgrade(version, fault=fault, **run)

    def db_revision(self) -> str:
        assert self.topology is not None
        database = self.topology.fleet.database
        result = self.topology.fleet.db.exec_run(
            ['psql', '-h', '127.0.0.1', '-U', database.user, '-d', database.name, '-tAc', 'SELECT version_num FROM alembic_version'],
            environment={'PGPASSWORD': database.password})
        return result.output.decode(errors='replace').strip()

    def versions(self) -> list[str]:
        assert self.topology is not None
        return sorted(self.topology.fleet.nginx_versions(9))

    def served(self) -> str:
        assert self.topology is not None
        hosts = self.topology.fleet.versions()
        return 'nginx serves %s; hosts %s; database at revision %s' % (
            ', '.join(self.versions()), ', '.join('%s %s' % item for item in sorted(hosts.items())), self.db_revision())

    def where(self) -> list[str]:
        assert self.topology is not None
        return ['nginx: %s/version   inventory: %s/hosts.yml' % (self.url, self.topology.inventory)]

    def down(self) -> None:
        ids_file = self.state / 'ids.json'
        if not ids_file.exists():
            print('no systemd demo to remove (%s does not exist)' % ids_file)
            return
        ids = json.loads(ids_file.read_text(encoding='utf-8'))
        gone = remove_by_ids(connect(), ids['containers'], ids['networks'])
        print('removed the systemd demo: %d containers and %d network%s' % (
            len(ids['containers']), len(ids['networks']), ' (already gone: %d)' % len(gone) if gone else ''))
        for name in ('ids.json', 'inventory', 'backups', 'records', 'locks', 'runs'):
            path = self.state / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
