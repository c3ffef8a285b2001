# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup folder: private files, checksums of files and folders, publication by rename."""

from __future__ import annotations

import gzip
import hashlib
import os
import stat

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _backup_store as store


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_private_file_is_0600_and_exclusive(tmp_path):
    path = str(tmp_path / 'x')
    with store.create_private_file(path) as handle:
        handle.write(b'data')
    assert mode(path) == 0o600
    with pytest.raises(FileExistsError):
        store.create_private_file(path)


def test_sha256_of_a_file_and_of_a_folder(tmp_path):
    (tmp_path / 'f').write_bytes(b'abc')
    assert store.sha256_of(str(tmp_path / 'f')) == hashlib.sha256(b'abc').hexdigest()
    folder = tmp_path / 'd'
    folder.mkdir()
    (folder / 'toc.dat').write_bytes(b'toc')
    (folder / '3356.dat.gz').write_bytes(b'rows')
    first = store.sha256_of(str(folder))
    assert store.size_of(str(folder)) == 7
    (folder / '3356.dat.gz').write_bytes(b'rowz')
    assert store.sha256_of(str(folder)) != first


def test_publish_replaces_a_file_and_a_folder(tmp_path):
    dest = str(tmp_path)
    final = os.path.join(dest, 'b.dump')
    for content in (b'one', b'two'):
        temp = store.temp_path(dest, 'b.dump')
        with store.create_private_file(temp) as handle:
            handle.write(content)
        store.publish(temp, final)
    assert open(final, 'rb').read() == b'two'
    final_dir = os.path.join(dest, 'b.dir')
    for content in (b'one', b'two'):
        temp = store.temp_path(dest, 'b.dir')
        os.mkdir(temp)  # pg_dump --format=directory creates its folder itself
        with open(os.path.join(temp, 'toc.dat'), 'wb') as handle:
            handle.write(content)
        store.make_private(temp)
        store.publish(temp, final_dir)
    assert open(os.path.join(final_dir, 'toc.dat'), 'rb').read() == b'two'
    assert mode(os.path.join(final_dir, 'toc.dat')) == 0o600 and mode(final_dir) == 0o700
    assert sorted(os.listdir(dest)) == ['b.dir', 'b.dump']  # no temporary or aside copies left


def test_write_json_is_private_and_manifest_paths_skip_temporaries(tmp_path):
    path = str(tmp_path / 'shop--v1.manifest.json')
    store.write_json(path, {'label': 'v1'})
    assert store.read_json(path) == {'label': 'v1'} and mode(path) == 0o600
    (tmp_path / (store.TEMP_PREFIX + 'x.manifest.json')).write_text('{}')
    assert store.manifest_paths(str(tmp_path), '.manifest.json') == [path]
    assert store.manifest_paths(str(tmp_path / 'missing'), '.manifest.json') == []


def test_ensure_dest_creates_a_private_folder_or_says_why_not(tmp_path):
    dest = str(tmp_path / 'a' / 'b')
    store.ensure_dest(dest)
    assert mode(dest) == 0o700 and os.listdir(dest) == []
    (tmp_path / 'file').write_text('x')
    with pytest.raises(store.StoreError, match='is not writable: Not a directory'):
        store.ensure_dest(str(tmp_path / 'file' / 'sub'))


def test_plain_dump_tail_decompresses_the_whole_stream(tmp_path):
    path = str(tmp_path / 'd.sql.gz')
    with gzip.open(path, 'wb') as handle:
        handle.write(b'x' * 100000 + b'THE END\n')
    assert store.plain_dump_tail(path, True, size=8) == b'THE END\n'
    with open(path, 'r+b') as handle:  # truncated gzip: decompression fails
        handle.truncate(os.path.getsize(path) - 12)
    with pytest.raises(EOFError):
        store.plain_dump_tail(path, True)
