# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small JSON files that several processes update: an exclusive ``fcntl`` lock around read-modify-write.

The I/O boundary of release_record and run_lock; writes are atomic (temporary file, fsync, rename, fsync
of the folder) through _backup_store, and what to write is decided by pure functions elsewhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _backup_store as files
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

LOCK_SUFFIX = '.lock'


def ensure_dir(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)


@contextlib.contextmanager
def locked(path: str) -> t.Iterator[None]:
    """Hold an exclusive lock on ``path + '.lock'`` (created if missing) for the block.

    A separate lock file, because the data file itself is replaced by rename while others wait on it.
    """
    fd = os.open(path + LOCK_SUFFIX, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def read_json(path: str) -> t.Any:
    """The JSON in ``path``, or None when there is no such file."""
    try:
        return files.read_json(path)
    except FileNotFoundError:
        return None


def write_json(path: str, data: t.Any) -> None:
    """Replace ``path`` atomically: readers see the old file or the new one, never a part of one."""
    files.write_json(path, data)


def remove(path: str) -> bool:
    removed = files.remove_path(path)
    if removed:
        files.fsync_dir(os.path.dirname(path) or '.')
    return removed


def json_files(folder: str) -> list[str]:
    """Paths of the finished ``*.json`` files in ``folder`` (none when it does not exist)."""
    return files.manifest_paths(folder, '.json')


def exit_module(module: t.Any, run: t.Any, action: t.Callable[[], dict[str, t.Any]]) -> None:
    """End a module whose work is ``action`` on files of ``module.params['dir']``: its result, or its failure
    (a ModuleFailure, or an OSError named by its path) in the same envelope; the diff only in diff mode."""
    try:
        result = action()
    except ModuleFailure as exc:
        module.fail_json(**run.failure(exc))
    except OSError as exc:
        module.fail_json(**run.failure(ModuleFailure('%s: %s' % (exc.filename or module.params['dir'], exc.strerror or exc))))
    if not module._diff:  # pylint: disable=protected-access
        result.pop('diff', None)
    module.exit_json(**result)
