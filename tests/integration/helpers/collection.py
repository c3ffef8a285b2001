"""Run this collection's Python code in a child process, as a target does (the tests import only helpers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import typing as t


def collection_root() -> str:
    """The ANSIBLE_COLLECTIONS_PATH entry that holds artisan.upgrade (a symlink to the checkout under test)."""
    for entry in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(':'):
        if os.path.isdir(os.path.join(entry, 'ansible_collections', 'artisan', 'upgrade')):
            return entry
    raise RuntimeError('ANSIBLE_COLLECTIONS_PATH must hold the artisan.upgrade collection under test')


def start_python(args: list[str], **kwargs: t.Any) -> subprocess.Popen:
    """``python *args`` with the collection importable as ``ansible_collections.artisan.upgrade``."""
    return subprocess.Popen([sys.executable] + args, env=dict(os.environ, PYTHONPATH=collection_root()), **kwargs)


def python_json(code: str, timeout: float = 300) -> t.Any:
    """Run ``code``, which prints one JSON document last, and return that document."""
    proc = start_python(['-c', code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError('child failed (rc %s): %s' % (proc.returncode, err[-3000:]))
    return json.loads(out.strip().splitlines()[-1])


def wait_with_peak_rss(proc: subprocess.Popen, interval: float = 0.02) -> tuple[int, int]:
    """Wait for ``proc``; its exit code and peak resident memory in bytes.

    The kernel's high-water mark (VmHWM) of the process's own memory, followed until it exits: wait4's ru_maxrss
    would also count the parent's pages the child had between fork and exec.
    """
    peak = [0]

    def follow() -> None:
        while proc.poll() is None:
            try:
                with open('/proc/%d/status' % proc.pid, encoding='ascii') as handle:
                    for line in handle:
                        if line.startswith('VmHWM:'):
                            peak[0] = max(peak[0], int(line.split()[1]) * 1024)
            except (OSError, ValueError):
                return
            time.sleep(interval)

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    watcher.join()
    return proc.wait(), peak[0]
