# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role variable the documentation names exists: a README or docs/ page that tells users to set
`deploy_k8s_timeout` must not name a variable no role takes (a typo, or one renamed since)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLE_PREFIXES = ('backup', 'migrate', 'preflight', 'deploy_systemd', 'deploy_compose', 'deploy_k8s', 'smoke', 'rollback')
# Names with a role's prefix that are not variables: release-record phase names, and a module.
NOT_VARIABLES = {'migrate_expand', 'migrate_contract', 'rollback_smoke', 'smoke_test'}
# A name in text, not part of a path, a file name or a longer identifier.
NAME = re.compile(r'(?<![\w/.-])((?:%s)_[a-z0-9_]+)(?![\w/-]|\.\w)' % '|'.join(ROLE_PREFIXES))
PLAYBOOK_NAME = re.compile(r'(?<![\w/.-])(upgrade_[a-z0-9_]+)(?![\w/-]|\.\w)')


def documents():
    return [ROOT / 'README.md'] + sorted((ROOT / 'docs').rglob('*.md'))


def role_variables():
    names = set()
    for spec_file in (ROOT / 'roles').glob('*/meta/argument_specs.yml'):
        for entry in yaml.safe_load(spec_file.read_text(encoding='utf-8'))['argument_specs'].values():
            names.update(entry.get('options') or {})
    return names


def playbook_variables():
    text = ''.join(path.read_text(encoding='utf-8') for path in (ROOT / 'playbooks').glob('*.yml'))
    return set(PLAYBOOK_NAME.findall(text))


def awx_names():
    """The survey variables and credential fields of the AWX assets: docs/awx.md names them beside role variables."""
    names = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get('variable'), str):
                names.add(node['variable'])
            for field in (node.get('inputs') or {}).get('fields') or []:
                names.add(field['id'])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load((ROOT / 'awx' / 'assets.yml').read_text(encoding='utf-8')))
    return names


def unknown(pattern, known, allowed=frozenset()):
    found = {}
    for path in documents():
        for name in pattern.findall(path.read_text(encoding='utf-8')):
            # `backup_login_*` names a family: some variable must start with it.
            family = name.endswith('_') and any(variable.startswith(name) for variable in known)
            if name not in known and name not in allowed and not family:
                found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def test_the_documents_are_found():
    assert (ROOT / 'README.md').is_file() and len(documents()) > 3


def test_every_role_variable_the_docs_name_is_in_an_argument_spec():
    assert unknown(NAME, role_variables() | awx_names(), NOT_VARIABLES) == {}


def test_every_upgrade_variable_the_docs_name_is_used_by_a_playbook():
    benchmarks = {path.stem for path in (ROOT / 'bench').glob('upgrade_*.py')}
    assert unknown(PLAYBOOK_NAME, playbook_variables() | awx_names(), benchmarks) == {}


def test_a_misspelled_variable_is_caught():
    assert NAME.findall('set `deploy_k8s_timeot: 600` and roles/deploy_k8s/tasks/main.yml') == ['deploy_k8s_timeot']
    assert 'deploy_k8s_timeot' not in role_variables()
    assert NAME.findall('the `backup_login_*` and `migrate_lgin_*` connections') == ['backup_login_', 'migrate_lgin_']
