# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup folder: private temporary files, fsync + rename publication, checksums, manifests."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import typing as t
import uuid

CHUNK = 1024 * 1024
TEMP_PREFIX = '.artisan-tmp-'


class StoreError(Exception):
    """A destination folder problem, with the path and the OS reason."""


def ensure_dest(dest: str) -> None:
    """Create the backup folder (0700) if needed and prove it is writable before any dump starts."""
    try:
        os.makedirs(dest, mode=0o700, exist_ok=True)
        probe = os.path.join(dest, '%sprobe-%s' % (TEMP_PREFIX, uuid.uuid4().hex[:8]))
        with open(probe, 'wb'):
            pass
        os.unlink(probe)
    except OSError as exc:
        raise StoreError('backup folder %s is not writable: %s' % (dest, exc.strerror or exc)) from None


def free_bytes(dest: str) -> int:
    stat = os.statvfs(dest)
    return stat.f_bavail * stat.f_frsize


def temp_path(dest: str, final_name: str) -> str:
    return os.path.join(dest, '%s%s-%s' % (TEMP_PREFIX, uuid.uuid4().hex[:8], final_name))


def create_private_file(path: str) -> t.BinaryIO:
    """A new file only its owner can read (dumps hold every row of the database)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), 'wb')


def _files_of(path: str) -> list[str]:
    """The files of a backup: the file itself, or every file of a directory-format dump, sorted."""
    if not os.path.isdir(path):
        return [path]
    found = []
    for root, _dirs, files in os.walk(path):
        found.extend(os.path.join(root, name) for name in files)
    return sorted(found)


def size_of(path: str) -> int:
    return sum(os.path.getsize(f) for f in _files_of(path))


def sha256_of(path: str) -> str:
    """sha256 of a file; of a directory: over each file's relative name and content digest, in name order."""
    if not os.path.isdir(path):
        return _file_sha256(path)
    outer = hashlib.sha256()
    for name in _files_of(path):
        outer.update(('%s\0%s\n' % (os.path.relpath(name, path), _file_sha256(name))).encode())
    return outer.hexdigest()


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def make_private(path: str) -> None:
    """0600 for files, 0700 for folders (pg_dump -Fd creates its files with the umask)."""
    for name in _files_of(path):
        os.chmod(name, 0o600)
    if os.path.isdir(path):
        for root, dirs, _files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o700)
        os.chmod(path, 0o700)


def fsync_tree(path: str) -> None:
    """Flush a backup's data to disk before it is renamed into place."""
    for name in _files_of(path):
        fd = os.open(name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    if os.path.isdir(path):
        fsync_dir(path)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(temp: str, final: str) -> None:
    """Move a finished backup to its final name: atomic for files; a directory replaces the old one
    only after it is complete (the old one is renamed aside first, then removed)."""
    if os.path.isdir(temp) and os.path.lexists(final):
        aside = temp_path(os.path.dirname(final), 'old-' + os.path.basename(final))
        os.rename(final, aside)
        os.rename(temp, final)
        remove_path(aside)
    elif os.path.isdir(final):
        remove_path(final)
        os.rename(temp, final)
    else:
        os.rename(temp, final)
    fsync_dir(os.path.dirname(final))


def write_json(path: str, data: dict[str, t.Any]) -> None:
    """Write JSON through a temporary file, fsync and rename, mode 0600."""
    temp = temp_path(os.path.dirname(path), os.path.basename(path))
    try:
        with create_private_file(temp) as handle:
            handle.write((json.dumps(data, indent=2, sort_keys=True) + '\n').encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temp, path)
    except BaseException:
        remove_path(temp)
        raise
    fsync_dir(os.path.dirname(path))


def read_json(path: str) -> t.Any:
    with open(path, 'rb') as handle:
        return json.loads(handle.read().decode('utf-8'))


def remove_path(path: str) -> bool:
    """Remove a file or folder if it is there; whether something was removed."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
        return True
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def manifest_paths(dest: str, suffix: str) -> list[str]:
    try:
        names = os.listdir(dest)
    except (FileNotFoundError, NotADirectoryError):
        return []  # nothing there yet; ensure_dest() says why it cannot be created
    return sorted(os.path.join(dest, n) for n in names if n.endswith(suffix) and not n.startswith(TEMP_PREFIX))


def plain_dump_tail(path: str, compressed: bool, size: int = 4096) -> bytes:
    """The last bytes of a plain dump, decompressed on the fly (reads it all: also proves it decompresses)."""
    opener = gzip.open if compressed else open
    tail = b''
    with opener(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            tail = (tail + chunk)[-size:]
    return tail


def open_plain_dump(path: str, compressed: bool) -> t.BinaryIO:
    return gzip.open(path, 'rb') if compressed else open(path, 'rb')
