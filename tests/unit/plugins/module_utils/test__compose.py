# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Compose target's decisions: where an image is written and the edits that set it, what a rolling
replacement replaces, each step's nginx split, and what a container's state says."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _compose as decide

ANCHORED = """\
# the stack
x-app: &app
  image: myapp:1.0.0   # the release
  restart: unless-stopped

services:
  web1: *app
  web2:
    <<: *app
    environment: {A: "1"}
  worker:
    image: "myapp:1.0.0"
  db:
    image: postgres:15
"""

VARIABLE = """\
services:
  app1: &app
    image: demoapp:${DEMOAPP_VERSION:-1.0.0}
  app2: *app
  migrate:
    image: demoapp:${DEMOAPP_VERSION:-1.0.0}
    command: [demoapp, migrate]
"""
# `docker compose config --no-interpolate --format json` of VARIABLE (Compose 2.40.3): the images as written.
VARIABLE_RAW = {'app1': 'demoapp:${DEMOAPP_VERSION:-1.0.0}', 'app2': 'demoapp:${DEMOAPP_VERSION:-1.0.0}',
                'migrate': 'demoapp:${DEMOAPP_VERSION:-1.0.0}'}


def anchored_plan(wanted, effective=None):
    spots = decide.image_spots(ANCHORED, 'compose.yaml')
    raw = {name: spot.raw for name, spot in spots.items()}
    return decide.plan_images(wanted, effective or dict(raw), raw, {'compose.yaml': ANCHORED}, spots, '', '.env')


def test_image_spots_follow_anchors_and_merge_keys_to_the_line_that_writes_the_image():
    spots = decide.image_spots(ANCHORED, 'compose.yaml')
    assert spots['web1'] == spots['web2']
    assert ANCHORED[spots['web1'].start:spots['web1'].end] == 'myapp:1.0.0'
    assert ANCHORED[spots['worker'].start:spots['worker'].end] == '"myapp:1.0.0"'
    assert spots['worker'].raw == 'myapp:1.0.0'
    assert spots['db'].raw == 'postgres:15'


def test_invalid_yaml_is_reported_with_the_file():
    with pytest.raises(decide.ComposeError, match='^broken.yaml is not valid YAML'):
        decide.image_spots('services:\n  a: [unclosed\n', 'broken.yaml')


def test_a_file_edit_keeps_comments_anchors_and_quoting():
    plan = anchored_plan({'web1': 'myapp:2.0.0', 'web2': 'myapp:2.0.0', 'worker': 'myapp:2.0.0'})
    text = plan.files['compose.yaml']
    assert text == ANCHORED.replace('image: myapp:1.0.0   #', 'image: myapp:2.0.0   #').replace(
        'image: "myapp:1.0.0"', 'image: "myapp:2.0.0"')
    assert plan.changed_services == ['web1', 'web2', 'worker']
    assert plan.via['web1'] == 'image: in compose.yaml'


def test_an_anchored_image_changes_every_service_that_shares_it():
    plan = anchored_plan({'web1': 'myapp:2.0.0'})
    assert plan.changed_services == ['web1', 'web2']
    assert decide.bystanders(plan.changed_services, ['web1'], {'web2': 1}) == ['web2']
    assert decide.bystanders(plan.changed_services, ['web1'], {'web2': 0}) == []


def test_services_of_one_anchor_cannot_get_different_images():
    with pytest.raises(decide.ComposeError, match='share one "image:" line'):
        anchored_plan({'web1': 'myapp:2.0.0', 'web2': 'myapp:3.0.0'})


def test_nothing_to_edit_when_the_image_is_already_there():
    plan = anchored_plan({'web1': 'myapp:1.0.0', 'web2': 'myapp:1.0.0'})
    assert (plan.files, plan.changed_services) == ({}, [])


def test_a_variable_image_is_set_in_the_env_file_keeping_its_other_lines():
    spots = decide.image_spots(VARIABLE, 'compose.yaml')
    env = '# ports\nDEMO_HTTP_PORT=8080\nDEMOAPP_VERSION=1.0.0\n'
    effective = {name: 'demoapp:1.0.0' for name in VARIABLE_RAW}
    plan = decide.plan_images({'app1': 'demoapp:2.0.0', 'app2': 'demoapp:2.0.0'}, effective, VARIABLE_RAW,
                              {'compose.yaml': VARIABLE}, spots, env, '/srv/demo/.env')
    assert plan.files == {'/srv/demo/.env': '# ports\nDEMO_HTTP_PORT=8080\nDEMOAPP_VERSION=2.0.0\n'}
    assert plan.env_values == {'DEMOAPP_VERSION': '2.0.0'}
    assert plan.changed_services == ['app1', 'app2', 'migrate']
    assert plan.via['app1'] == 'variable DEMOAPP_VERSION in /srv/demo/.env'


def test_a_variable_missing_from_the_env_file_is_added():
    spots = decide.image_spots(VARIABLE, 'compose.yaml')
    plan = decide.plan_images({'app1': 'demoapp:2.0.0', 'app2': 'demoapp:2.0.0'}, {}, VARIABLE_RAW,
                              {'compose.yaml': VARIABLE}, spots, '', '.env')
    assert plan.files == {'.env': 'DEMOAPP_VERSION=2.0.0\n'}


@pytest.mark.parametrize('raw, image, expected', [
    ('demoapp:${DEMOAPP_VERSION:-1.0.0}', 'demoapp:2.0.0', ('DEMOAPP_VERSION', '2.0.0')),
    ('demoapp:${TAG}', 'demoapp:2.0.0-rc1', ('TAG', '2.0.0-rc1')),
    ('$IMAGE', 'registry.local/app:2', ('IMAGE', 'registry.local/app:2')),
    ('registry.local/${NAME?}:stable', 'registry.local/app:stable', ('NAME', 'app')),
])
def test_the_value_of_the_variable_that_gives_an_image(raw, image, expected):
    assert decide.variable_value(raw, image) == expected


def test_an_image_the_variable_cannot_give_is_refused_with_the_form_it_can():
    with pytest.raises(decide.ComposeError) as caught:
        decide.variable_value('demoapp:${DEMOAPP_VERSION:-1.0.0}', 'otherapp:2.0.0')
    assert 'can only give images of the form demoapp:<DEMOAPP_VERSION>, not otherapp:2.0.0' in str(caught.value)


def test_an_image_made_of_two_variables_is_refused():
    with pytest.raises(decide.ComposeError, match='several variables'):
        decide.image_variable('${REPO}:${TAG}')


def test_a_service_without_an_image_line_is_refused():
    with pytest.raises(decide.ComposeError, match='service app has no "image:" written'):
        decide.plan_images({'app': 'x:1'}, {}, {'app': None}, {'compose.yaml': 'services: {app: {build: .}}'}, {}, '',
                           '.env')


@pytest.mark.parametrize('ref, expected', [
    ('demoapp:2.0.0', ('demoapp', '2.0.0')),
    ('demoapp', ('demoapp', 'latest')),
    ('registry.local:5000/team/app', ('registry.local:5000/team/app', 'latest')),
    ('registry.local:5000/team/app:1', ('registry.local:5000/team/app', '1')),
    ('app@sha256:abc', ('app', 'sha256:abc')),
])
def test_split_image(ref, expected):
    assert decide.split_image(ref) == expected


@pytest.mark.parametrize('policy, present, pinned, pull', [
    ('never', False, False, False), ('missing', False, False, True), ('missing', True, False, False),
    ('always', True, False, True), ('always', False, True, False),
])
def test_pull_needed(policy, present, pinned, pull):
    assert decide.pull_needed(policy, present, pinned) is pull


def container(name, image='sha256:old', running=True, created='2026-11-26T10:00:00Z', health='healthy', labels=None,
              networks=None):
    return {'Name': '/' + name, 'Id': name + '-id', 'Image': image, 'Created': created,
            'State': {'Running': running, 'Status': 'running' if running else 'exited',
                      'Health': {'Status': health, 'Log': []} if health else None},
            'Config': {'Image': 'demoapp:1.0.0', 'Labels': labels or {}},
            'NetworkSettings': {'Networks': networks or {}}}


def test_outdated_running_containers_oldest_first():
    found = decide.outdated([container('b', created='2026-11-26T11:00:00Z'), container('a'),
                             container('new', image='sha256:new'), container('stopped', running=False)], 'sha256:new')
    assert [c['Name'] for c in found] == ['/a', '/b']


@pytest.mark.parametrize('state, verdict', [
    ({'Running': True, 'Health': {'Status': 'healthy'}}, 'healthy'),
    ({'Running': True, 'Health': {'Status': 'starting'}}, 'starting'),
    ({'Running': True, 'Health': {'Status': 'unhealthy'}}, 'unhealthy'),
    ({'Running': True}, 'running'),
    ({'Running': True, 'Restarting': True, 'Health': {'Status': 'starting'}}, 'exited'),
    ({'Running': False, 'Status': 'exited'}, 'exited'),
])
def test_health(state, verdict):
    assert decide.health(state) == verdict


def test_unhealthy_message_quotes_the_health_log_and_the_last_log_lines():
    state = {'Running': True, 'Restarting': True, 'Status': 'restarting', 'ExitCode': 1,
             'Health': {'Status': 'starting', 'Log': [{'ExitCode': 7, 'Output': 'curl: (7) refused\n'}]}}
    msg = decide.unhealthy_message('app1', 'demo-app1-2', 'demoapp:3.0.0', 'exited', state, 'boom\ncrashed\n', 3.2)
    assert msg == ('the new container demo-app1-2 of service app1 (image demoapp:3.0.0) exited (restarting, exit code 1); '
                   'it was removed and the old container keeps serving. Health log: exit 7: curl: (7) refused. '
                   'Last log lines:\nboom\ncrashed')
    assert 'was still unhealthy after 120s' in decide.unhealthy_message('a', 'c', 'i', 'unhealthy', {}, '', 120.2)


def test_each_rolling_step_swaps_one_backend_and_keeps_even_shares():
    assert decide.backend_split(['a:80', 'old:80', 'new:80'], 'old:80', 'new:80') == dict(
        stable=['a:80'], canary=['new:80'], drain=[], weight=50)
    assert decide.backend_split(['a:80', 'b:80', 'old:80', 'new:80'], 'old:80', 'new:80')['weight'] == 33


def test_a_pool_of_one_keeps_the_leaving_backend_listed_down():
    assert decide.backend_split(['old:80', 'new:80'], 'old:80', 'new:80') == dict(
        stable=['new:80'], canary=['old:80'], drain=['old:80'], weight=0)


def test_versions_come_from_the_image_label_else_the_tag():
    labelled = container('a', labels={decide.VERSION_LABEL: '2.0.0'})
    assert decide.container_version(labelled) == '2.0.0'
    assert decide.container_version(container('b')) == '1.0.0'
    assert decide.service_version([labelled, container('c', labels={decide.VERSION_LABEL: '2.0.0'})]) == '2.0.0'
    assert decide.service_version([labelled, container('b')]) is None
    assert decide.service_version([container('d', running=False)]) is None


def test_the_backend_address_is_on_a_network_shared_with_nginx():
    app = container('a', networks={'other': {'IPAddress': '10.0.0.2'}, 'demo_default': {'IPAddress': '172.18.0.4'}})
    nginx = container('nginx', networks={'demo_default': {'IPAddress': '172.18.0.2'}})
    assert decide.shared_network(app, nginx) == ('demo_default', '172.18.0.4')
    assert decide.shared_network(app, container('lonely', networks={'x': {'IPAddress': '1.2.3.4'}})) is None


def test_a_container_summary_gives_its_address_on_each_network():
    app = container('a', networks={'demo_default': {'IPAddress': '172.18.0.4'}, 'detached': {'IPAddress': ''}})
    assert decide.container_summary(app)['networks'] == {'demo_default': '172.18.0.4'}
