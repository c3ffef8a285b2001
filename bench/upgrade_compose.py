"""Benchmark the compose upgrade of examples/compose (PostgreSQL, app1 and app2, nginx) beside the runbook's way.

One stack at a time, project artisan-bench-compose (and artisan-bench-compose-green), nginx on 127.0.0.1:18790, made
from demoapp 1.0.0; the same bounded request loop through nginx (one new connection per request, about 40 per second,
at most 20 000 requests or 10 minutes) during:

1. the runbook's way: `DEMOAPP_VERSION=2.0.0 docker compose up -d --wait` (its migrate service runs first, to head);
2. on a second stack with the expand revision 0002 applied, the deploy_compose role's main entry point 1.0.0 -> 2.0.0
   with `rolling`, then its rollback entry point back to 1.0.0 (as after a failed smoke), then the same with
   `blue_green` (grace period 5 s; the rollback switches nginx back to the kept 1.0.0 project and stops 2.0.0).

Wall time and failed requests are printed side by side; nothing is asserted. For each rollback, a second loop (one
request every 0.2 s) gives the seconds from the rollback's start (where upgrade.yml's rollback play starts after a
failed smoke) to the first answer of 1.0.0 through nginx. With --rollback-only, only step 2's blue_green and its
rollback run. Only 127.0.0.1 is used. Run from the repository root: python -m bench.upgrade_compose [--rollback-only]
(ANSIBLE_COLLECTIONS_PATH at the collection).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile
import threading
import time

import requests

from bench import _report
from tests.integration.helpers.backends import SteadyLoad
from tests.integration.helpers.compose import ComposeProject
from tests.integration.helpers.docker import connect
from tests.integration.test_deploy_compose import Stack

PROJECT, PORT = 'artisan-bench-compose', 18790
EXAMPLE = pathlib.Path(__file__).parent.parent / 'examples' / 'compose'
LOAD = dict(max_requests=20000, max_seconds=600, pause=0.02)
ENV = ('DEMOAPP_VERSION', 'DEMO_HTTP_PORT', 'DEMOAPP_FAULT')


def fresh_stack(folder: pathlib.Path, client) -> Stack:
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(EXAMPLE, folder)
    (folder / '.env').write_text('DEMO_HTTP_PORT=%d\nDEMOAPP_VERSION=1.0.0\n' % PORT)
    project = ComposeProject(str(folder), env={})
    project.name = PROJECT
    project.env = {k: v for k, v in os.environ.items() if k not in ENV}
    try:
        project.up_healthy()
    except AssertionError:
        project.down()
        raise
    return Stack(project, 'demoapp', PORT, client)


def expand(stack: Stack) -> None:
    """The revision 2.0.0 needs and 1.0.0 runs on, as the migrate role's expand phase applies it."""
    environ = stack.project.env
    stack.project.env = dict(environ, DEMOAPP_VERSION='2.0.0')
    stack.project.run('run', '--rm', '--no-deps', 'migrate', 'demoapp', 'migrate', 'upgrade', '0002')
    stack.project.env = environ


def remove(stack: Stack | None) -> None:
    if stack is None:
        return
    green = ComposeProject(str(stack.dir))
    green.name, green.env = PROJECT + '-green', stack.project.env
    green.run('rm', '--stop', '--force', check=False)
    stack.project.down()


def timed(action) -> tuple[float, SteadyLoad, object]:
    with SteadyLoad('http://127.0.0.1:%d/version' % PORT, **LOAD) as load:
        started = time.monotonic()
        outcome = action()
        wall = time.monotonic() - started
    return wall, load, outcome


def sample_versions(stop: threading.Event, samples: list) -> None:
    """(monotonic time, version answered or None) through nginx every 0.2 s until ``stop``."""
    while not stop.is_set():
        try:
            version = requests.get('http://127.0.0.1:%d/version' % PORT, timeout=2).json()['version']
        except (requests.RequestException, ValueError, KeyError):
            version = None
        samples.append((time.monotonic(), version))
        stop.wait(0.2)


def timed_rollback(action) -> tuple[float, float | None, SteadyLoad, object]:
    """Wall time of the rollback, and seconds from its start to the first answer of 1.0.0 through nginx."""
    samples: list = []
    stop = threading.Event()
    poller = threading.Thread(target=sample_versions, args=(stop, samples), daemon=True)
    started = time.monotonic()
    poller.start()
    try:
        wall, load, outcome = timed(action)
    finally:
        stop.set()
        poller.join()
    back = _report.all_serving_at({'nginx': samples}, '1.0.0', started)
    return wall, None if back is None else back - started, load, outcome


def serves_only(version: str) -> bool:
    try:
        return all(requests.get('http://127.0.0.1:%d/version' % PORT, timeout=2).json()['version'] == version
                   for _index in range(6))
    except (requests.RequestException, ValueError, KeyError):
        return False


def main(rollback_only: bool = False) -> None:
    client = connect()
    work = pathlib.Path(tempfile.mkdtemp(prefix='artisan-bench-compose-'))
    folder = work / 'stack'
    rows = []
    stack = None
    try:
        print('load average before: %s' % ' '.join(open('/proc/loadavg').read().split()[:3]), flush=True)
        stack = None if rollback_only else fresh_stack(folder, client)

        def runbook():
            stack.project.env = dict(stack.project.env, DEMOAPP_VERSION='2.0.0')
            return stack.project.run('up', '-d', '--wait', '--wait-timeout', '600', check=False, timeout=700)

        if not rollback_only:
            wall, load, proc = timed(runbook)
            print('runbook up -d 1.0.0 -> 2.0.0: rc %d, %.1f s; %s' % (proc.returncode, wall, _report.load_line(
                load.total, load.failures, load.answers)), flush=True)
            rows.append(('runbook `DEMOAPP_VERSION=2.0.0 docker compose up -d`', wall, load))
            remove(stack)

        # One stack for ours, as a user would run it: the expand revision first (1.0.0 runs on it), then each strategy
        # from 1.0.0, each followed by the rollback entry point back to 1.0.0.
        stack = fresh_stack(folder, client)
        expand(stack)
        for strategy in ('blue_green',) if rollback_only else ('rolling', 'blue_green'):
            options = dict(deploy_compose_strategy=strategy, deploy_compose_grace_period=5, deploy_compose_health_timeout=300)
            wall, load, run = timed(lambda: stack.role('main', deploy_compose_version='2.0.0', **options))
            print('ours %s 1.0.0 -> 2.0.0: rc %d, %.1f s; %s' % (strategy, run.rc, wall, _report.load_line(
                load.total, load.failures, load.answers)), flush=True)
            rows.append(('deploy_compose `%s` 1.0.0 -> 2.0.0' % strategy, wall, load))
            wall, back, load, run = timed_rollback(lambda: stack.role('rollback', **options))
            answered = _report.load_line(load.total, load.failures, load.answers)
            after = 'never' if back is None else '%.1f s' % back
            print('rollback entry point after %s (back to 1.0.0): rc %d, %.1f s, 1.0.0 answering through nginx after %s; '
                  'nginx answers 1.0.0 only: %s; %s' % (strategy, run.rc, wall, after, serves_only('1.0.0'), answered),
                  flush=True)
            rows.append(('rollback entry point after `%s` (2.0.0 -> 1.0.0)' % strategy, wall, load))
        print('\n| way | wall | failed / requests |\n| --- | --- | --- |')
        for name, wall, load in rows:
            print('| %s | %.1f s | %d / %d |' % (name, wall, len(load.failures), load.total))
        print('load average after: %s' % ' '.join(open('/proc/loadavg').read().split()[:3]), flush=True)
    finally:
        remove(stack)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main(rollback_only='--rollback-only' in sys.argv[1:])
