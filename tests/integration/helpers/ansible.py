"""Run modules and playbooks through real Ansible (ansible-runner, the engine AWX uses) and read results."""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import typing as t

import ansible_runner
import yaml


@dataclasses.dataclass
class PlaybookRun:
    status: str
    rc: int
    # Results of every task that ran, in order: {'task': name, 'host': host, 'event': ..., 'res': {...}, 'duration',
    # 'start', 'end' (ISO times of the runner's event), 'play': the play's name}
    tasks: list[dict[str, t.Any]]
    stdout: str

    def result(self, task: str) -> dict[str, t.Any]:
        """The module result of the last run of the named task."""
        matches = [entry['res'] for entry in self.tasks if entry['task'] == task]
        if not matches:
            raise AssertionError('task %r did not run; tasks that ran: %s\n%s'
                                 % (task, [entry['task'] for entry in self.tasks], self.stdout))
        return matches[-1]


RESULT_EVENTS = ('runner_on_ok', 'runner_on_failed', 'runner_on_skipped', 'runner_on_unreachable')


def _result(event: dict[str, t.Any]) -> dict[str, t.Any]:
    """The module result of a task event; failure is stated by the event type, so add it to the result."""
    res = dict(event['event_data'].get('res') or {})
    if event['event'] in ('runner_on_failed', 'runner_on_unreachable'):
        res['failed'] = True
    return res


def run_playbook(playbook: list[dict[str, t.Any]] | str, inventory: str | dict | None = None,
                 extravars: dict[str, t.Any] | None = None, check: bool = False, diff: bool = False,
                 limit: str | None = None, verbosity: int = 0, own_interpreter: bool = True,
                 forks: int | None = None, on_event: t.Callable[[dict[str, t.Any]], None] | None = None,
                 envvars: dict[str, str] | None = None, artifact_dir: str | None = None) -> PlaybookRun:
    """Run a playbook (a path, or plays as data) with this collection on ANSIBLE_COLLECTIONS_PATH;
    ``verbosity=3`` is -vvv (its output is in ``stdout``). ``own_interpreter=False`` leaves each host's Python
    to the inventory (the implicit localhost then runs this Python), instead of this Python everywhere.
    ``on_event`` sees each runner event as it comes (progress lines, timings). ``envvars`` adds to Ansible's
    environment; ``artifact_dir`` keeps the job's artifacts (else they go with the private data dir)."""
    with tempfile.TemporaryDirectory(prefix='artisan-runner-') as private:
        if isinstance(playbook, list):
            path = os.path.join(private, 'playbook.yml')
            with open(path, 'w', encoding='utf-8') as handle:
                yaml.safe_dump(playbook, handle)
            playbook = path
        cmdline = ' '.join(opt for opt, on in (('--check', check), ('--diff', diff)) if on)
        runner = ansible_runner.run(
            private_data_dir=private,
            playbook=playbook,
            inventory=inventory if inventory is not None else 'localhost ansible_connection=local',
            extravars=dict({'ansible_python_interpreter': sys.executable} if own_interpreter else {}, **(extravars or {})),
            forks=forks,
            event_handler=(lambda event: on_event(event) or True) if on_event else None,
            cmdline=cmdline or None,
            limit=limit,
            verbosity=verbosity or None,
            quiet=True,
            artifact_dir=artifact_dir,
            # Pipelining, as the example inventories recommend: one exec per task instead of four (put, chmod,
            # run, remove), which on a loaded 2-core machine is most of a task's cost over docker exec.
            envvars=dict({'ANSIBLE_COLLECTIONS_PATH': os.environ.get('ANSIBLE_COLLECTIONS_PATH', ''),
                          'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_PIPELINING': 'True'}, **(envvars or {})),
        )
        tasks = [
            {'task': event['event_data'].get('task'), 'host': event['event_data'].get('host'),
             'event': event['event'], 'res': _result(event), 'duration': event['event_data'].get('duration'),
             'start': event['event_data'].get('start'), 'end': event['event_data'].get('end'),
             'play': event['event_data'].get('play')}
            for event in runner.events if event.get('event') in RESULT_EVENTS
        ]
        return PlaybookRun(status=runner.status, rc=runner.rc, tasks=tasks, stdout=runner.stdout.read())


def run_module(module: str, args: dict[str, t.Any], check: bool = False, diff: bool = False,
               host_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    """Run one module on localhost in one task and return its result (``failed`` set when it failed)."""
    play = [{
        'name': 'run %s' % module,
        'hosts': 'localhost',
        'gather_facts': False,
        'vars': host_vars or {},
        'tasks': [{'name': 'module under test', module: args, 'ignore_errors': True}],
    }]
    run = run_playbook(play, check=check, diff=diff)
    return run.result('module under test')


def run_module_tasks(run_playbook: t.Callable[..., PlaybookRun], module: str, tasks: list[t.Any], check: bool = False,
                     **play: t.Any) -> list[dict[str, t.Any]]:
    """Several tasks of one module in one play (one Ansible start-up); their results in order.

    Each task is (args) or (args, {'check_mode': bool, ...}); all run with diff on and ignore_errors.
    """
    entries = []
    for index, task in enumerate(tasks):
        args, extra = task if isinstance(task, tuple) else (task, {})
        entries.append(dict({'name': 'step %d' % index, module: args, 'ignore_errors': True, 'diff': True}, **extra))
    run = run_playbook([dict({'hosts': 'localhost', 'gather_facts': False, 'tasks': entries}, **play)], check=check)
    return [run.result('step %d' % index) for index in range(len(tasks))]


def assert_ok(result: dict[str, t.Any]) -> None:
    assert not result.get('failed'), result.get('msg')
