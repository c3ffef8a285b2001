# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument handling of pg_backup: every bad input fails before any connection, with a clear msg."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.artisan.upgrade.plugins.modules import pg_backup


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        pg_backup.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


BASE = dict(db='shop', dest='/nonexistent/backups', login_host='127.0.0.1', port=1)


@pytest.mark.parametrize('args, message', [
    (dict(dest='/b'), 'state is present but all of the following are missing: db'),
    (dict(state='restored', db='shop'), 'state is restored but any of the following are missing: label, path'),
    (dict(BASE, state='restored', label='x', path='/b/x.dump'), 'parameters are mutually exclusive: label|path'),
    (dict(BASE, label='../up'), "label '../up' must start with a letter or digit"),
    (dict(BASE, jobs=0), 'jobs must be 1 or more, got 0'),
    (dict(BASE, keep=-1), 'keep must be 0 or more, got -1'),
    (dict(BASE, max_age='a week'), "max_age 'a week' is not a duration like 7d"),
    (dict(BASE, min_free='lots'), "'lots' is not a size like 0, 512M or 10G"),
    (dict(BASE, free_space_ratio=-1), 'free_space_ratio must be 0 or more'),
    (dict(BASE, state='absent'), 'state absent needs a label to remove, or keep / max_age to prune'),
    (dict(state='restored', label='x', db='shop'), 'restoring by label needs dest and db'),
    (dict(BASE, exec_via=dict(type='docker')), 'type is docker but all of the following are missing: container'),
    (dict(BASE, format='tar'), 'value of format must be one of: custom, directory, plain'),
])
def test_bad_input_fails_with_a_clear_message(capsys, args, message):
    rc, result = run_module(capsys, args)
    assert rc == 1
    assert result['failed'] is True
    assert message in result['msg']


def test_restore_of_a_file_without_manifest_is_refused(capsys, tmp_path):
    archive = tmp_path / 'shop.dump'
    archive.write_bytes(b'PGDMP')
    rc, result = run_module(capsys, dict(state='restored', path=str(archive), login_password='s3cret'))
    assert rc == 1
    assert 'no manifest beside %s names it' % archive in result['msg']
    assert result['commands'] == []
    assert 's3cret' not in json.dumps(result)


def test_absent_without_backups_changes_nothing(capsys, tmp_path):
    rc, result = run_module(capsys, dict(state='absent', db='shop', dest=str(tmp_path), label='v1', keep=1))
    assert rc == 0
    assert result['changed'] is False and result['pruned'] == [] and result['msg'] == 'nothing to remove for shop'
