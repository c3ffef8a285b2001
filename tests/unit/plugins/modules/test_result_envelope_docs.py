# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module documents the result envelope (tests/integration/test_result_envelope.py checks the values)."""

from __future__ import annotations

import ast
import pathlib

import pytest
import yaml

MODULES = sorted((pathlib.Path(__file__).resolve().parents[4] / 'plugins' / 'modules').glob('[!_]*.py'))


def documented_return(path):
    for node in ast.parse(path.read_text(encoding='utf-8')).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == 'RETURN':
            return yaml.safe_load(node.value.value)
    return None


def test_every_module_is_found():
    assert len(MODULES) >= 5, MODULES


@pytest.mark.parametrize('path', MODULES, ids=lambda path: path.stem)
def test_the_envelope_is_documented(path):
    returned = documented_return(path)
    assert returned, '%s has no RETURN' % path.name
    # changed and msg are Ansible's common returns; these two are ours.
    for key, kind in (('commands', 'list'), ('duration', 'float')):
        assert key in returned, '%s does not document %s' % (path.stem, key)
        assert returned[key].get('type') == kind, '%s: %s is not documented as %s' % (path.stem, key, kind)
        assert returned[key].get('returned') == 'always', '%s: %s is not returned always' % (path.stem, key)
