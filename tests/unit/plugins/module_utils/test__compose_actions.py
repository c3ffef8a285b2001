# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health gate of a rolling step, against a fake engine and clock: exits fail at once, an unhealthy
verdict may still turn healthy before the deadline (a start slower than the image's start period)."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _compose_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

NEW = {'Id': 'new-id', 'Name': '/demo-app1-2', 'Config': {'Image': 'demoapp:2.0.0'}}


def state(health=None, running=True, **more):
    found = dict(Running=running, Status='running' if running else 'exited', **more)
    if health:
        found['Health'] = {'Status': health, 'Log': [{'ExitCode': 1, 'Output': 'curl: (7) refused'}]}
    return found


class FakeEngine:
    def __init__(self, states):
        self.states = list(states)
        self.inspected = 0

    def inspect(self, container):
        self.inspected += 1
        return {'State': self.states.pop(0) if len(self.states) > 1 else self.states[0]}

    def logs(self, container, lines):
        return 'starting\nboom\n'


def gate(states, timeout=60):
    deploy = object.__new__(actions.Deploy)
    now = [0.0]
    deploy.engine, deploy.run, deploy.warnings = FakeEngine(states), Run(clock=lambda: now[0]), []
    deploy.params = {'health_timeout': timeout, 'log_lines': 5}
    deploy.warn = deploy.warnings.append
    deploy.clock = lambda: now[0]

    def sleep(seconds):
        now[0] += seconds

    deploy.sleep = sleep
    deploy.wait_healthy('app1', NEW)
    return deploy


def test_an_unhealthy_verdict_may_still_turn_healthy_before_the_deadline():
    deploy = gate([state('starting'), state('unhealthy'), state('unhealthy'), state('healthy')])
    assert deploy.engine.inspected == 4
    assert deploy.run.commands == ['docker inspect demo-app1-2  # healthy after 1.5s']


def test_an_exit_fails_at_once_with_the_health_log_and_the_logs():
    with pytest.raises(ModuleFailure) as caught:
        gate([state('starting'), state('starting', running=False, ExitCode=1), state('healthy')])
    assert caught.value.msg.startswith('the new container demo-app1-2 of service app1 (image demoapp:2.0.0) exited '
                                       '(exited, exit code 1)')
    assert caught.value.context['logs'] == ['starting', 'boom']
    assert caught.value.context['health_log'] == ['exit 1: curl: (7) refused']


def test_still_unhealthy_at_the_deadline_fails():
    with pytest.raises(ModuleFailure, match='was still unhealthy after 10s'):
        gate([state('unhealthy')], timeout=10)


def test_a_container_without_healthcheck_is_ready_once_running_with_a_warning():
    deploy = gate([state()])
    assert deploy.warnings == ['service app1 has no healthcheck: its new container demo-app1-2 counts as ready once running']
