"""make demo: one target end to end on 127.0.0.1, with a line per phase (scripts/demo.sh runs it).

up:   the target's environment with demoapp 1.0.0 and some data; the upgrade 1.0.0 -> 2.0.0 with the collection's
      playbooks/upgrade.yml under a small bounded load (failed requests printed); then 3.0.0 with DEMOAPP_FAULT=crash:
      the upgrade fails, the automatic rollback puts 2.0.0 back, and 2.0.0 serves again. Prints what serves and the
      upgrade report's path (the upgrade_report callback's last line), or "report: not available".
      - systemd: three systemd-host containers behind nginx with PostgreSQL (scripts/demo_systemd.py);
      - compose: the examples/compose stack as the project artisan-demo-compose (scripts/demo_compose.py);
      - k8s: kubesim with the docker runtime and examples/k8s applied with kubectl (scripts/demo_k8s.py).
down: removes what `up` made for that target (containers, networks and volumes by name or label, the simulator by
      its PID file), then its state folder.
"""

from __future__ import annotations

import argparse
import inspect
import os
import pathlib
import shutil
import sys
import time
import typing as t

from bench import _report
from tests.integration.helpers.ansible import PlaybookRun, run_playbook
from tests.integration.helpers.backends import SteadyLoad

from demo_common import STARTED, Progress, phase, say

ROOT = pathlib.Path(__file__).resolve().parents[1]
UPGRADE_PLAYBOOK = str(ROOT / 'playbooks' / 'upgrade.yml')
LOAD = dict(max_requests=6000, max_seconds=300, pause=0.05)
REPORT_CALLBACK = 'artisan.upgrade.upgrade_report'
REPORT_PREFIX = 'Upgrade report: '


class Target(t.Protocol):
    """What each target's demo provides (scripts/demo_<target>.py)."""

    name: str
    url: str  # where clients reach the application: nginx, or the Service's proxy

    def start(self) -> None: ...
    def install(self) -> None: ...
    def upgrade(self, version: str, fault: str, **run: t.Any) -> PlaybookRun: ...
    def served(self) -> str: ...
    def versions(self) -> list[str]: ...
    def where(self) -> list[str]: ...
    def down(self) -> None: ...


def report_enabled() -> bool:
    """The upgrade report callback, when this checkout has it: enabled for every playbook the demo runs."""
    if not (ROOT / 'plugins' / 'callback' / 'upgrade_report.py').exists():
        return False
    enabled = [name for name in os.environ.get('ANSIBLE_CALLBACKS_ENABLED', '').split(',') if name]
    os.environ['ANSIBLE_CALLBACKS_ENABLED'] = ','.join(enabled + [REPORT_CALLBACK] * (REPORT_CALLBACK not in enabled))
    return True


def report_line(run: PlaybookRun) -> str:
    """The callback's last line, ``Upgrade report: <path>``; '' when it printed none."""
    lines = [line.strip() for line in run.stdout.splitlines() if line.strip().startswith(REPORT_PREFIX)]
    return lines[-1] if lines else ''


def kept_artifacts(state: pathlib.Path, label: str) -> dict[str, str]:
    """The runner's artifacts of a run kept in the state folder (under ansible-runner the report is written there),
    where the test helper can keep them (its ``artifact_dir``); else none: they go with its temporary folder."""
    if 'artifact_dir' not in inspect.signature(run_playbook).parameters:
        return {}
    folder = state / 'runs' / label
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return {'artifact_dir': str(folder)}


def bounded_upgrade(target: Target, state: pathlib.Path, version: str, fault: str = '') -> tuple[PlaybookRun, SteadyLoad, float]:
    started = time.monotonic()
    with SteadyLoad(target.url + '/version', **LOAD) as load:
        run = target.upgrade(version, fault, on_event=Progress(), **kept_artifacts(state, 'upgrade-' + version))
    return run, load, time.monotonic() - started


def up(target: Target, state: pathlib.Path) -> int:
    reporting = report_enabled()
    phase('Starting the %s demo environment on 127.0.0.1' % target.name)
    target.start()
    phase("Installing demoapp 1.0.0 with some data")
    target.install()
    say(target.served())

    phase('Upgrading 1.0.0 -> 2.0.0 with playbooks/upgrade.yml (upgrade_target=%s) while a client sends requests to %s'
          % (target.name, target.url))
    run, load, elapsed = bounded_upgrade(target, state, '2.0.0')
    say('upgrade finished in %.1f s, rc %d' % (elapsed, run.rc))
    say('failed requests: %d of %d' % (len(load.failures), load.total))
    say(_report.load_line(load.total, load.failures, load.answers))
    reports = [report_line(run)]
    if run.rc != 0:
        print(run.stdout[-4000:])
        return 1
    say(target.served())

    phase('Upgrading to 3.0.0, which crashes at start (DEMOAPP_FAULT=crash): the run must fail and roll back')
    run, load, elapsed = bounded_upgrade(target, state, '3.0.0', fault='crash')
    outcome = 'failed, as it should,' if run.rc else 'SUCCEEDED (unexpected)'
    say('the upgrade to 3.0.0 %s after %.1f s (rc %d)' % (outcome, elapsed, run.rc))
    say('failed requests meanwhile: %d of %d' % (len(load.failures), load.total))
    reports.append(report_line(run))
    after = sorted(set(target.versions()))
    say(target.served())
    if run.rc == 0 or after != ['2.0.0']:
        say('UNEXPECTED: %s serves %s after the failed upgrade' % (target.url, after))
        print(run.stdout[-4000:])
        return 1

    phase('Done in %.0f s: 2.0.0 serves again after the automatic rollback' % (time.monotonic() - STARTED))
    print('    served version: %s (%s/version)' % (', '.join(after), target.url))
    for label, line in zip(('upgrade to 2.0.0', 'upgrade to 3.0.0 (rolled back)'), reports):
        print('    %s: %s' % (label, line or ('report: not available' if not reporting else 'report: not printed')))
    for line in target.where():
        print('    %s' % line)
    print('    make demo-down TARGET=%s removes what this demo made (nothing else)' % target.name)
    return 0


def make_target(name: str, state: pathlib.Path) -> Target:
    # Imported by name: each target needs only its own tools (the k8s demo kubectl, the others not).
    if name == 'systemd':
        from demo_systemd import SystemdDemo  # pylint: disable=import-outside-toplevel
        return SystemdDemo(state)
    if name == 'compose':
        from demo_compose import ComposeDemo  # pylint: disable=import-outside-toplevel
        return ComposeDemo(state)
    from demo_k8s import K8sDemo  # pylint: disable=import-outside-toplevel
    return K8sDemo(state)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('action', choices=['up', 'down'])
    parser.add_argument('--target', choices=['compose', 'systemd', 'k8s'], default='compose')
    parser.add_argument('--state', type=pathlib.Path, required=True, help="where the demo keeps its ids, inventory and runs")
    args = parser.parse_args()
    if not os.environ.get('ANSIBLE_COLLECTIONS_PATH'):
        raise SystemExit('ANSIBLE_COLLECTIONS_PATH is not set: run through make demo')
    target = make_target(args.target, args.state)
    if args.action == 'down':
        target.down()
        return 0
    args.state.mkdir(parents=True, exist_ok=True)
    return up(target, args.state)


if __name__ == '__main__':
    sys.exit(main())
