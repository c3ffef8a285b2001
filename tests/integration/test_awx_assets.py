"""awx/assets.yml, what `awx import` (awxkit) loads into AWX, checked without an AWX: the shape awxkit's import
reads (resources, natural keys, related survey specs and credentials), credential types whose secrets reach the
job only through environment variables and files, job templates whose playbooks exist and import the
collection's, surveys whose every variable is one the playbooks or roles document (or that the job
template's own extra vars turn into one), and a workflow whose nodes run those job templates with what they need."""

from __future__ import annotations

import pathlib
import re

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO = pathlib.Path(__file__).resolve().parents[2]
ASSETS = yaml.safe_load((REPO / 'awx' / 'assets.yml').read_text(encoding='utf-8'))
# awxkit/api/pages/api.py: what import_assets reads, and the natural key of each (its NATURAL_KEYS).
EXPORTABLE_RESOURCES = {'users', 'organizations', 'teams', 'credential_types', 'credentials', 'notification_templates',
                        'projects', 'inventory', 'job_templates', 'workflow_job_templates', 'execution_environments'}
NATURAL_KEYS = {'credential_type': {'name', 'kind'}, 'credential': {'organization', 'name', 'credential_type'},
                'project': {'organization', 'name'}, 'job_template': {'organization', 'name'},
                'workflow_job_template': {'organization', 'name'},
                'workflow_job_template_node': {'workflow_job_template', 'identifier'}, 'organization': {'name'}}
SURVEY_TYPES = {'text', 'textarea', 'password', 'integer', 'float', 'multiplechoice', 'multiselect'}
FIELD_TYPES = {'string', 'boolean'}
JINJA_NAMES = re.compile(r'{{\s*([A-Za-z_][\w.]*)')


def singular(resource: str) -> str:
    return {'inventory': 'inventory'}.get(resource, resource[:-1])


def check_natural_key(key: dict, kind: str) -> None:
    assert key['type'] == kind, key
    assert set(key) - {'type'} == NATURAL_KEYS[kind], key
    for value in key.values():
        if isinstance(value, dict):
            check_natural_key(value, value['type'])


def documented_variables() -> set[str]:
    """Every role's argument_specs options and the variables the playbooks' header comments list."""
    names: set[str] = set()
    for spec in REPO.glob('roles/*/meta/argument_specs.yml'):
        for entry in (yaml.safe_load(spec.read_text(encoding='utf-8'))['argument_specs'] or {}).values():
            names.update((entry.get('options') or {}).keys())
    for playbook in REPO.glob('playbooks/*.yml'):
        names.update(re.findall(r'^#\s{2,}(\w+)\s', playbook.read_text(encoding='utf-8'), re.M))
    return names


DOCUMENTED = documented_variables()


def test_only_resources_awx_import_reads_each_with_its_natural_key():
    assert set(ASSETS) <= EXPORTABLE_RESOURCES
    for resource, assets in ASSETS.items():
        names = [asset['name'] for asset in assets]
        assert len(names) == len(set(names)), resource
        for asset in assets:
            check_natural_key(asset['natural_key'], singular(resource))
            assert asset['natural_key']['name'] == asset['name']


@pytest.mark.parametrize('kind', ASSETS['credential_types'], ids=lambda kind: kind['name'])
def test_credential_types_inject_secrets_into_the_environment_and_files_only(kind):
    assert kind['kind'] in ('cloud', 'net')  # the kinds AWX allows for custom credential types
    fields = {field['id']: field for field in kind['inputs']['fields']}
    assert all(field.get('type', 'string') in FIELD_TYPES for field in fields.values())
    assert set(kind['inputs'].get('required', [])) <= set(fields)
    injectors = kind['injectors']
    assert set(injectors) <= {'env', 'file'}, 'never extra_vars: they are shown in the job and its events'
    files = {'kubeconfig' if key == 'template.kubeconfig' else key.split('.', 1)[1] for key in injectors.get('file', {})}
    used = set()
    for value in list(injectors.get('env', {}).values()) + list(injectors.get('file', {}).values()):
        for name in JINJA_NAMES.findall(value):
            if name.startswith('tower.filename.'):
                assert name.split('.', 2)[2] in files, name
            else:
                assert name in fields, name
                used.add(name)
    assert used | {f for f in fields if f in files} >= {f for f, field in fields.items() if field.get('secret')}


def playbook_of(template: dict) -> str:
    """The collection playbook a job template's project playbook imports."""
    plays = yaml.safe_load((REPO / 'awx' / 'project' / template['playbook']).read_text(encoding='utf-8'))
    (play,) = plays
    return play['ansible.builtin.import_playbook']


@pytest.mark.parametrize('template', ASSETS['job_templates'], ids=lambda template: template['name'])
def test_job_templates_run_the_collections_playbooks_with_known_credentials(template):
    imported = playbook_of(template)
    assert imported.startswith('artisan.upgrade.')
    assert (REPO / 'playbooks' / (imported.split('.', 2)[2] + '.yml')).is_file()
    projects = [project['natural_key'] for project in ASSETS['projects']]
    assert template['project'] in projects
    types = {kind['name'] for kind in ASSETS['credential_types']} | {'Machine'}
    for credential in template['related']['credentials']:
        check_natural_key(credential, 'credential')
        assert credential['credential_type']['name'] in types


JOB_TEMPLATES = {template['natural_key']['name']: template for template in ASSETS['job_templates']}


def job_templates_run_by(template: dict) -> list[dict]:
    """A job template itself; for a workflow, the job templates of its nodes."""
    if template['natural_key']['type'] == 'job_template':
        return [template]
    return [JOB_TEMPLATES[node['unified_job_template']['name']] for node in template['related']['workflow_nodes']]


@pytest.mark.parametrize('template', ASSETS['job_templates'] + ASSETS['workflow_job_templates'],
                         ids=lambda template: template['name'])
def test_survey_questions_set_documented_variables(template):
    survey = template['related']['survey_spec']
    assert template['survey_enabled'] and survey['spec']
    extra_vars = yaml.safe_load(template.get('extra_vars') or '{}')
    assert set(extra_vars) <= DOCUMENTED, set(extra_vars) - DOCUMENTED
    # A workflow's answers reach every node's job, where the node's job template's extra vars map them.
    mapped = {name for run in job_templates_run_by(template) for value in yaml.safe_load(run.get('extra_vars') or '{}').values()
              if isinstance(value, str) for name in JINJA_NAMES.findall(value)}
    answers = {}
    for question in survey['spec']:
        assert question['type'] in SURVEY_TYPES
        assert question['variable'] in DOCUMENTED | mapped, question['variable']
        if question['type'] == 'multiplechoice':
            assert question['default'] in question['choices']
        answers[question['variable']] = question.get('default', '2.0.0' if question['required'] else '')
    # The job template's templated extra vars render with the survey's answers into the roles' types.
    # (Ansible templates only what it trusts, as it trusts extra vars.)
    templar = Templar(loader=DataLoader(), variables=dict(answers, groups={'app': ['h1']}, ansible_play_hosts_all=['h1']))
    rendered = {name: templar.template(trust_as_template(value) if isinstance(value, str) else value)
                for name, value in extra_vars.items()}
    for name, value in rendered.items():
        if name.endswith('_canary_steps'):
            assert value == [10, 50, 100]
        if name in ('upgrade_rollback', 'rollback_restore_db'):
            assert isinstance(value, bool)


def test_every_playbook_has_a_job_template():
    assert {playbook_of(template) for template in ASSETS['job_templates']} == {
        'artisan.upgrade.' + path.stem for path in (REPO / 'playbooks').glob('*.yml')}


def set_stats_of(node) -> list:
    """Every set_stats task's arguments in a loaded playbook, blocks included."""
    if isinstance(node, list):
        return [found for item in node for found in set_stats_of(item)]
    if isinstance(node, dict):
        own = [node['ansible.builtin.set_stats']] if 'ansible.builtin.set_stats' in node else []
        return own + [found for value in node.values() for found in set_stats_of(value)]
    return []


def handed_on(playbook: str) -> set[str]:
    """The variables a playbook hands to the workflow nodes after its job: the keys of its set_stats data."""
    plays = yaml.safe_load((REPO / 'playbooks' / playbook).read_text(encoding='utf-8'))
    return {key for stats in set_stats_of(plays) for key in re.findall(r"{'(\w+)':", stats['data'])}


def survey_variables(template: dict) -> set[str]:
    return {question['variable'] for question in template['related']['survey_spec']['spec']}


@pytest.mark.parametrize('workflow', ASSETS['workflow_job_templates'], ids=lambda workflow: workflow['name'])
def test_workflow_nodes_run_known_job_templates_with_what_they_need(workflow):
    nodes = {node['identifier']: node for node in workflow['related']['workflow_nodes']}
    assert len(nodes) == len(workflow['related']['workflow_nodes'])
    links = {}
    for name, node in nodes.items():
        assert node['natural_key'] == {'type': 'workflow_job_template_node', 'identifier': name,
                                       'workflow_job_template': workflow['natural_key']}
        check_natural_key(node['natural_key'], 'workflow_job_template_node')
        check_natural_key(node['unified_job_template'], 'job_template')
        assert node['unified_job_template'] in [template['natural_key'] for template in ASSETS['job_templates']]
        links[name] = {}
        for kind in ('success_nodes', 'failure_nodes', 'always_nodes'):
            for key in node['related'].get(kind, []):
                assert key['workflow_job_template'] == workflow['natural_key'] and key['identifier'] in nodes, key
                links[name].setdefault(kind, []).append(key['identifier'])
    # One root, no cycle: the links are those of a tree from it.
    children = [child for kinds in links.values() for targets in kinds.values() for child in targets]
    roots = set(nodes) - set(children)
    assert len(roots) == 1 and len(children) == len(set(children)) == len(nodes) - 1
    parents = {child: parent for parent, kinds in links.items() for targets in kinds.values() for child in targets}

    answered_by_workflow = {q['variable'] for q in workflow['related']['survey_spec']['spec']}
    for name, node in nodes.items():
        template = JOB_TEMPLATES[node['unified_job_template']['name']]
        # AWX takes a node's prompts only where its job template asks for them (the survey asks for its variables).
        if node.get('extra_data'):
            assert template.get('ask_variables_on_launch') or set(node['extra_data']) <= survey_variables(template), name
        if node.get('limit'):
            assert template.get('ask_limit_on_launch'), name
        # No job waits for an answer: each required question without a default is answered by the workflow's
        # survey, the node, or what the job before it hands on.
        given = answered_by_workflow | set(node.get('extra_data') or {})
        if name in parents:
            given |= handed_on(JOB_TEMPLATES[nodes[parents[name]]['unified_job_template']['name']]['playbook'])
        for question in template['related']['survey_spec']['spec']:
            if question['required'] and 'default' not in question:
                assert question['variable'] in given, (name, question['variable'])


def test_upgrade_workflow_rolls_back_this_run_on_failure_and_smoke_tests_on_success():
    [workflow] = [w for w in ASSETS['workflow_job_templates'] if w['name'] == 'artisan.upgrade upgrade, rollback on failure']
    nodes = {node['identifier']: node for node in workflow['related']['workflow_nodes']}
    runs = {name: node['unified_job_template']['name'] for name, node in nodes.items()}
    assert runs == {'upgrade': 'artisan.upgrade upgrade', 'rollback': 'artisan.upgrade rollback', 'smoke': 'artisan.upgrade smoke'}
    related = nodes['upgrade']['related']
    assert [key['identifier'] for key in related['failure_nodes']] == ['rollback']
    assert [key['identifier'] for key in related['success_nodes']] == ['smoke']
    # The upgrade hands on its release id; until then the rollback node names a record that does not exist, so
    # it never falls back to the newest record (an older run's).
    assert {'rollback_record', 'smoke_expect_version'} <= handed_on('upgrade.yml')
    assert nodes['rollback']['extra_data']['rollback_record'].startswith('none-')
