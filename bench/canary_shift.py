"""Benchmark canary_shift (provider nginx) against a real nginx on 127.0.0.1, side by side with the usual playbook.

20 consecutive weight changes while two bounded client loops send requests through nginx (about
100 requests per second each): one opens a connection per request (a failure there is a request
nginx dropped), one reuses keep-alive connections and retries a request once when a reload closed
its idle connection, as browsers do. After each change, 1000 more sequential requests are sent and
the backends' own request counters over that window give the split achieved (all clients' requests).

Side by side, the same 20 changes made the way playbooks usually do it: ansible.builtin.copy of the
upstream file, then `nginx -s reload` (no validation, no wait for the new workers).

Run: make bench (prints the numbers; docs/benchmarks.md records them). Only 127.0.0.1 is used.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import typing as t

import ansible_runner

from tests.integration.helpers.backends import NamedBackend, SteadyLoad, count_answers
from tests.integration.helpers.nginx import NGINX, NginxServer

REPO = pathlib.Path(__file__).resolve().parents[1]

WEIGHTS = [5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 75, 50, 25, 0, 10, 33, 66, 95, 1]
MEASURE_REQUESTS = 1000
LOAD_PAUSE = 0.01  # seconds between two requests of a load loop


def run_tasks(tasks: list[dict[str, t.Any]]) -> float:
    """Run tasks in one play; the summed duration of the tasks (Ansible's start-up excluded)."""
    with tempfile.TemporaryDirectory(prefix='artisan-bench-') as private:
        runner = ansible_runner.run(
            private_data_dir=private, quiet=True, inventory='localhost ansible_connection=local',
            playbook=[{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}],
            extravars={'ansible_python_interpreter': sys.executable},
            envvars={'ANSIBLE_COLLECTIONS_PATH': os.environ['ANSIBLE_COLLECTIONS_PATH']})
        if runner.rc != 0:
            raise RuntimeError('playbook failed:\n%s' % runner.stdout.read())
        return sum(e['event_data'].get('duration', 0) for e in runner.events if e.get('event') == 'runner_on_ok')


def naive_upstream(weight: int, stable: str, canary: str) -> str:
    servers = ['server %s%s;' % (stable, ' weight=%d' % (100 - weight) if weight < 100 else ' down'),
               'server %s%s;' % (canary, ' weight=%d' % weight if weight else ' down')]
    return 'upstream app {\n    %s\n}\n' % '\n    '.join(servers)


def canary_shift_task(weight: int, include: pathlib.Path, server: NginxServer, stable: str, canary: str) -> list[dict]:
    return [{'artisan.upgrade.canary_shift': {'provider': 'nginx', 'weight': weight, 'nginx': {
        'include_path': str(include), 'upstream': 'app', 'stable': [stable], 'canary': [canary],
        'config': server.config, 'binary': NGINX}}}]


def copy_and_reload_tasks(weight: int, include: pathlib.Path, server: NginxServer, stable: str, canary: str) -> list[dict]:
    return [{'ansible.builtin.copy': {'dest': str(include), 'content': naive_upstream(weight, stable, canary)}},
            {'ansible.builtin.command': {'argv': [NGINX, '-s', 'reload', '-c', server.config]}}]


def twenty_shifts(name: str, make_tasks: t.Callable[..., list[dict]], stable: NamedBackend, canary: NamedBackend,
                  workdir: pathlib.Path) -> float:
    include_dir = workdir / name
    include_dir.mkdir()
    include = include_dir / 'app.conf'
    include.write_text(naive_upstream(0, stable.address, canary.address))
    server = NginxServer('location / { proxy_pass http://app; }', 'include %s/*.conf;' % include_dir).start()
    durations, errors = [], []
    try:
        with SteadyLoad(server.url, max_requests=100000, max_seconds=900, pause=LOAD_PAUSE) as fresh, \
                SteadyLoad(server.url, max_requests=100000, max_seconds=900, keepalive=True, pause=LOAD_PAUSE) as reused:
            for weight in WEIGHTS:
                durations.append(run_tasks(make_tasks(weight, include, server, stable.address, canary.address)))
                before = stable.hits, canary.hits
                count_answers(server.url, MEASURE_REQUESTS)
                served = stable.hits - before[0], canary.hits - before[1]
                achieved = 100.0 * served[1] / sum(served)
                errors.append(abs(achieved - weight))
                print('  %-16s requested %3d %%  achieved %5.1f %%  task time %.2f s' % (name, weight, achieved, durations[-1]))
    finally:
        server.stop()
    print('%s: 20 shifts, time per shift median %.2f s (max %.2f s); |achieved - requested| max %.1f points' % (
        name, statistics.median(durations), max(durations), max(errors)))
    print('  new connection per request: %d requests, %d failed %s' % (fresh.total, len(fresh.failures), fresh.failures[:3]))
    print('  keep-alive client: %d requests, %d failed %s, %d retried after a reload closed an idle connection'
          % (reused.total, len(reused.failures), reused.failures[:3], reused.stale_retries))
    return statistics.median(durations)


def main() -> None:
    os.environ.setdefault('ANSIBLE_COLLECTIONS_PATH', str(REPO / '.cache' / 'work') + ':' + str(REPO / '.cache' / 'collections'))
    stable, canary = NamedBackend('stable'), NamedBackend('canary')
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='artisan-bench-'))
    try:
        shift = twenty_shifts('canary_shift', canary_shift_task, stable, canary, workdir)
        naive = twenty_shifts('copy+reload', copy_and_reload_tasks, stable, canary, workdir)
    finally:
        stable.stop()
        canary.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print('time per shift, canary_shift / copy+reload = %.1fx (validation with nginx -T/-t and the wait for new workers)'
          % (shift / naive))


if __name__ == '__main__':
    main()
