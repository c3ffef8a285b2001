"""What every target's demo prints: phase lines, progress lines, the plays and tasks of a playbook as they start."""

from __future__ import annotations

import time
import typing as t

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
