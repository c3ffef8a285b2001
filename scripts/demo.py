"""make demo: the systemd target end to end on 127.0.0.1, with a line per phase (scripts/demo.sh runs it).

up:   three systemd-host containers (artisan-demo-app1..3, 127.0.0.1:18681-18683) behind nginx (artisan-demo-lb,
      127.0.0.1:18680), PostgreSQL (artisan-demo-db, 127.0.0.1:18632); demoapp 1.0.0 installed the runbook's way with
      some data; upgrade 1.0.0 -> 2.0.0 with the collection's upgrade playbook under a small bounded load through
      nginx (failed requests printed); then 3.0.0 with DEMOAPP_FAULT=crash: the upgrade fails, the automatic
      rollback puts 2.0.0 back, and nginx serves 2.0.0 again.
down: removes exactly the containers and network `up` made (their ids are in STATE/ids.json), then STATE.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import time
import typing as t

from bench import _report
from tests.integration.demoapp.support import WHEELHOUSE, build_wheelhouse
from tests.integration.helpers.backends import SteadyLoad
from tests.integration.helpers.docker import DockerSession, connect, remove_by_ids
from tests.integration.helpers.systemd_fleet import Layout, Topology, environment_ready, save_ids

LAYOUT = Layout.fixed('artisan-demo', 3, 18680, 18632)
LOAD = dict(max_requests=6000, max_seconds=300, pause=0.05)
STARTED = time.monotonic()


def phase(text: str) -> None:
    print('\n==> [%5.1f s] %s' % (time.monotonic() - STARTED, text), flush=True)


def say(text: str) -> None:
    print('    [%5.1f s] %s' % (time.monotonic() - STARTED, text), flush=True)


class Progress:
    """Prints the plays and tasks of a playbook as they start, and what failed (an ansible-runner event handler)."""

    def __init__(self) -> None:
        self.last = ''

    def __call__(self, event: dict[str, t.Any]) -> None:
        data = event.get('event_data', {})
        kind = event.get('event')
        if kind == 'playbook_on_play_start':
            say('play: %s' % data.get('play'))
        elif kind == 'playbook_on_task_start' and data.get('task') != self.last:
            self.last = data.get('task', '')
            say('  %s' % self.last)
        elif kind == 'runner_on_failed' and not data.get('ignore_errors'):
            message = str((data.get('res') or {}).get('msg', '')).strip().splitlines()
            say('  FAILED on %s: %s' % (data.get('host'), message[0][:200] if message else ''))


def db_revision(topology: Topology) -> str:
    database = topology.fleet.database
    result = topology.fleet.db.exec_run(
        ['psql', '-h', '127.0.0.1', '-U', database.user, '-d', database.name, '-tAc', 'SELECT version_num FROM alembic_version'],
        environment={'PGPASSWORD': database.password})
    return result.output.decode(errors='replace').strip()


def served(topology: Topology) -> str:
    hosts = topology.fleet.versions()
    through_nginx = sorted(topology.fleet.nginx_versions(9))
    return 'nginx serves %s; hosts %s; database at revision %s' % (
        ', '.join(through_nginx), ', '.join('%s %s' % item for item in sorted(hosts.items())), db_revision(topology))


def down(state: pathlib.Path, quiet: bool = False) -> None:
    ids_file = state / 'ids.json'
    if not ids_file.exists():
        if not quiet:
            print('no demo to remove (%s does not exist)' % ids_file)
        return
    ids = json.loads(ids_file.read_text(encoding='utf-8'))
    gone = remove_by_ids(connect(), ids['containers'], ids['networks'])
    print('removed the demo: %d containers and %d network%s' % (
        len(ids['containers']), len(ids['networks']), ' (already gone: %d)' % len(gone) if gone else ''))
    for name in ('ids.json', 'inventory', 'backups', 'records', 'locks'):
        path = state / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def up(state: pathlib.Path) -> int:
    environment_ready()
    if (state / 'ids.json').exists():
        phase('A previous demo is still up: removing it first')
        down(state)
    phase('Building what the demo needs (the demoapp wheelhouse, skipped when up to date)')
    build_wheelhouse()
    phase('Starting 3 systemd hosts, nginx and PostgreSQL on 127.0.0.1 (artisan-demo-*)')
    topology = Topology(DockerSession(connect()), LAYOUT, WHEELHOUSE, state)
    save_ids(state / 'ids.json', topology.fleet)
    say('nginx %s, hosts %s, PostgreSQL 127.0.0.1:%d' % (
        topology.fleet.nginx_url, ', '.join(sorted(topology.fleet.urls.values())), topology.fleet.db_port))

    phase("Installing demoapp 1.0.0 the runbook's way (venv, env file, unit) with some data")
    topology.install_runbook_release(on_event=Progress())
    say(served(topology))

    phase('Upgrading 1.0.0 -> 2.0.0 with playbooks/upgrade.yml, one host at a time, while a client sends requests '
          'through nginx')
    started = time.monotonic()
    with SteadyLoad(topology.fleet.nginx_url + '/version', **LOAD) as load:
        run = topology.upgrade('2.0.0', on_event=Progress())
    say('upgrade finished in %.1f s, rc %d' % (time.monotonic() - started, run.rc))
    say('failed requests through nginx: %d of %d' % (len(load.failures), load.total))
    say(_report.load_line(load.total, load.failures, load.answers))
    if run.rc != 0:
        print(run.stdout[-4000:])
        return 1
    say(served(topology))

    phase('Upgrading to 3.0.0, which crashes at start (DEMOAPP_FAULT=crash): the run must fail and roll back')
    started = time.monotonic()
    with SteadyLoad(topology.fleet.nginx_url + '/version', **LOAD) as load:
        run = topology.upgrade('3.0.0', fault='crash', on_event=Progress())
    outcome = 'failed, as it should,' if run.rc else 'SUCCEEDED (unexpected)'
    say('the upgrade to 3.0.0 %s after %.1f s (rc %d)' % (outcome, time.monotonic() - started, run.rc))
    say('failed requests meanwhile: %d of %d' % (len(load.failures), load.total))
    after = sorted(topology.fleet.nginx_versions(9))
    say(served(topology))
    if run.rc == 0 or after != ['2.0.0']:
        say('UNEXPECTED: nginx serves %s after the failed upgrade' % after)
        return 1

    phase('Done in %.0f s: 2.0.0 serves again after the automatic rollback' % (time.monotonic() - STARTED))
    print('    nginx: %s/version   inventory: %s/hosts.yml' % (topology.fleet.nginx_url, topology.inventory))
    print('    make demo-down removes the containers and network of this demo (nothing else)')
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('action', choices=['up', 'down'])
    parser.add_argument('--state', type=pathlib.Path, required=True, help='where the demo keeps its ids and inventory')
    args = parser.parse_args()
    if args.action == 'down':
        down(args.state)
        return 0
    args.state.mkdir(parents=True, exist_ok=True)
    return up(args.state)


if __name__ == '__main__':
    sys.exit(main())
