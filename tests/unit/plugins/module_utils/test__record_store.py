# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record store: atomic JSON files, and how the modules built on it end (result or failure, same envelope)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _record_store as store
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


class Ended(Exception):
    pass


class FakeModule:
    def __init__(self, diff=False):
        self.params = {'dir': '/records'}
        self._diff = diff
        self.ended = None

    def exit_json(self, **result):
        self.ended = ('exit', result)
        raise Ended()

    def fail_json(self, **result):
        self.ended = ('fail', result)
        raise Ended()


def end(module, action):
    with pytest.raises(Ended):
        store.exit_module(module, Run(), action)
    return module.ended


def test_result_keeps_its_diff_only_in_diff_mode():
    assert end(FakeModule(), lambda: {'changed': True, 'diff': {}}) == ('exit', {'changed': True})
    assert end(FakeModule(diff=True), lambda: {'changed': True, 'diff': {}}) == ('exit', {'changed': True, 'diff': {}})


def test_failures_end_in_the_envelope():
    def refuse():
        raise ModuleFailure('locked by r1', holder={'release_id': 'r1'})

    kind, result = end(FakeModule(), refuse)
    assert kind == 'fail' and result['msg'] == 'locked by r1' and result['holder'] == {'release_id': 'r1'}
    assert set(result) >= {'changed', 'msg', 'commands', 'duration'}


def test_os_errors_name_the_path():
    def denied():
        raise PermissionError(13, 'Permission denied', '/records/x.json')

    assert end(FakeModule(), denied)[1]['msg'] == '/records/x.json: Permission denied'


def test_json_round_trip_and_missing_files(tmp_path):
    path = str(tmp_path / 'r.json')
    assert store.read_json(path) is None
    store.write_json(path, {'a': 1})
    assert store.read_json(path) == {'a': 1} and store.json_files(str(tmp_path)) == [path]
    assert oct(os.stat(path).st_mode & 0o777) == '0o600'
    assert store.remove(path) and not store.remove(path)
    assert store.json_files(str(tmp_path / 'none')) == []
