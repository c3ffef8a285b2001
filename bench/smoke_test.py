"""Benchmark smoke_test against a local demoapp 2.0.0 (real PostgreSQL), side by side in one run.

1. 20 checks: one smoke_test task vs 20 ansible.builtin.uri tasks (the anchor), and vs the bare
   HTTP requests in this process (the floor). Target: smoke_test <= 2 s including Ansible's start.
2. Restart: the service goes down and comes back; how long after it answers /health again does
   the module return? Target: <= 1 s + one back-off step (interval 0.5 s, max_interval 1 s here).

Run: make bench (prints the numbers; docs/benchmarks.md records them). Only 127.0.0.1 is used.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import requests

from tests.integration.demoapp.support import AppProcess, build_wheelhouse, install_release
from tests.integration.helpers.postgres import PostgresServer

REPO = pathlib.Path(__file__).resolve().parents[1]

REPEATS = 3
CHECKS = 20


def playbook(tasks: list[dict], path: pathlib.Path) -> pathlib.Path:
    path.write_text(json.dumps([{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]), encoding='utf-8')
    return path


def run_playbook(path: pathlib.Path) -> float:
    started = time.monotonic()
    subprocess.run(['ansible-playbook', '-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=%s' % sys.executable,
                    str(path)], check=True, capture_output=True)
    return time.monotonic() - started


def best_of(function, repeats: int = REPEATS) -> float:
    return min(function() for _attempt in range(repeats))


def twenty_checks(base_url: str, workdir: pathlib.Path) -> None:
    paths = ['/health', '/api/system/health', '/api', '/version', '/api/system/info'] * (CHECKS // 5)
    smoke = playbook([{'artisan.upgrade.smoke_test': {'base_url': base_url, 'checks': [
        {'name': 'check %d' % i, 'path': p} for i, p in enumerate(paths)]}}], workdir / 'smoke.yml')
    uri = playbook([{'ansible.builtin.uri': {'url': base_url + p}} for p in paths], workdir / 'uri.yml')
    noop = playbook([{'ansible.builtin.ping': {}}], workdir / 'noop.yml')

    def bare():
        started = time.monotonic()
        with requests.Session() as session:
            for p in paths:
                session.get(base_url + p, timeout=5).raise_for_status()
        return time.monotonic() - started

    smoke_s, uri_s, bare_s = best_of(lambda: run_playbook(smoke)), best_of(lambda: run_playbook(uri)), best_of(bare)
    noop_s = best_of(lambda: run_playbook(noop))
    print('20 checks, best of %d:' % REPEATS)
    print('  smoke_test (1 task)      %6.2f s   (target <= 2 s)' % smoke_s)
    print('  ping (1 task)            %6.2f s   Ansible start + one module: smoke_test adds %.2f s' % (noop_s, smoke_s - noop_s))
    print('  uri (20 tasks)           %6.2f s   ratio uri/smoke_test = %.1fx' % (uri_s, uri_s / smoke_s))
    print('  bare requests            %6.3f s   (the HTTP work itself)' % bare_s)


def restart_detection(app: AppProcess, workdir: pathlib.Path) -> None:
    book = playbook([{'artisan.upgrade.smoke_test': {'base_url': app.base_url, 'timeout': 60, 'interval': 0.5,
                                                     'max_interval': 1, 'checks': [{'path': '/health'}]}}],
                    workdir / 'restart.yml')
    delays = []
    for _attempt in range(REPEATS):
        app.stop()
        module = subprocess.Popen(['ansible-playbook', '-i', 'localhost,', '-c', 'local', '-e',
                                   'ansible_python_interpreter=%s' % sys.executable, str(book)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)  # the module is polling a service that is down
        app.start()
        healthy_at = None
        while healthy_at is None:
            try:
                if requests.get(app.url('/health'), timeout=1).status_code == 200:
                    healthy_at = time.monotonic()
            except requests.RequestException:
                time.sleep(0.01)
        module.wait(120)
        delays.append(time.monotonic() - healthy_at)
    print('restart: module returned %.2f s (median of %d; max %.2f s) after /health answered again'
          % (statistics.median(delays), REPEATS, max(delays)))
    print('  target <= 1 s + one back-off step (max_interval 1 s) = 2 s')


def main() -> None:
    os.environ.setdefault('ANSIBLE_COLLECTIONS_PATH', str(REPO / '.cache' / 'work') + ':' + str(REPO / '.cache' / 'collections'))
    release = install_release('2.0.0', build_wheelhouse())
    postgres = PostgresServer().start()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='artisan-bench-'))
    app = None
    try:
        postgres.create_database('bench')
        dsn = postgres.dsn('bench', 'artisan')
        release.migrate(dsn, 'upgrade', 'head')
        app = AppProcess(release, release.database_env(dsn), workdir / 'app.log').start().wait_live()
        twenty_checks(app.base_url, workdir)
        restart_detection(app, workdir)
    finally:
        if app:
            app.stop()
        postgres.stop()


if __name__ == '__main__':
    main()
