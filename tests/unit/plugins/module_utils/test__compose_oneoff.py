# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose_oneoff's decisions: the container made from a service's definition as Compose reads it (environment,
network, labels), and when an existing container of that name is kept, replaced, removed or refused."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _compose_oneoff as oneoff
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

MODEL = {
    'name': 'demo',
    'services': {
        'app1': {'image': 'demoapp:1.0.0',
                 'environment': {'DATABASE_URL': 'postgresql://a:pw@postgres/a', 'EMPTY': None, 'PORT': '8000'},
                 'networks': {'default': None}},
        'worker': {'image': 'demoapp:1.0.0', 'environment': ['A=1', 'B'], 'user': 'demoapp', 'working_dir': '/srv',
                   'networks': {'back': None, 'default': None}},
    },
    'networks': {'default': {'name': 'demo_default'}, 'back': {'name': 'shared-back'}},
}


def existing(image='sha256:new', running=True, owner='demo-migrate', project='demo'):
    labels = {'com.docker.compose.project': project}
    if owner:
        labels[oneoff.OWNER_LABEL] = owner
    return {'Id': 'c1', 'Name': '/demo-migrate', 'Image': image, 'State': {'Running': running},
            'Config': {'Labels': labels}}


def test_spec_takes_the_service_environment_and_network_and_only_waits():
    spec = oneoff.container_spec(MODEL, 'demo', 'app1', 'demo-migrate', 'sha256:new', ['sleep', 'infinity'])
    assert spec['environment'] == {'DATABASE_URL': 'postgresql://a:pw@postgres/a', 'PORT': '8000'}
    assert (spec['network'], spec['image'], spec['entrypoint'], spec['command']) == (
        'demo_default', 'sha256:new', ['sleep'], ['infinity'])
    assert spec['labels'] == {'com.docker.compose.project': 'demo', 'com.docker.compose.service': 'app1',
                              'com.docker.compose.oneoff': 'True', oneoff.OWNER_LABEL: 'demo-migrate'}
    assert spec['healthcheck'] == {'test': ['NONE']}
    assert (spec['user'], spec['working_dir']) == (None, None)


def test_spec_reads_list_environments_and_the_first_declared_network():
    spec = oneoff.container_spec(MODEL, 'demo', 'worker', 'w', 'sha256:new', ['sleep', 'infinity'])
    assert spec['environment'] == {'A': '1'}
    assert (spec['network'], spec['user'], spec['working_dir']) == ('shared-back', 'demoapp', '/srv')
    # A network Compose did not name: the project's default naming.
    bare = dict(MODEL, networks={})
    assert oneoff.container_spec(bare, 'demo', 'app1', 'x', 'i', ['true'])['network'] == 'demo_default'


def test_the_command_shown_names_environment_variables_without_their_values():
    spec = oneoff.container_spec(MODEL, 'demo', 'app1', 'demo-migrate', 'sha256:new', ['sleep', 'infinity'])
    shown = oneoff.shown_command(spec)
    assert shown == ('docker run --detach --name demo-migrate --network demo_default --env DATABASE_URL --env PORT '
                     '--entrypoint sleep sha256:new infinity')
    assert 'pw' not in shown


@pytest.mark.parametrize('found, image_id, state, action', [
    (None, 'sha256:new', 'present', 'create'),
    (None, None, 'absent', 'keep'),
    (existing(), 'sha256:new', 'present', 'keep'),
    (existing(image='sha256:old'), 'sha256:new', 'present', 'replace'),
    (existing(running=False), 'sha256:new', 'present', 'replace'),
    (existing(), None, 'absent', 'remove'),
])
def test_plan(found, image_id, state, action):
    assert oneoff.plan(found, 'demo', image_id, state) == action


@pytest.mark.parametrize('found', [existing(owner=None), existing(project='other')])
def test_a_container_this_module_did_not_make_is_never_touched(found):
    with pytest.raises(ModuleFailure, match='is not a one-off container of compose project demo made by compose_oneoff'):
        oneoff.plan(found, 'demo', 'sha256:new', 'absent')
