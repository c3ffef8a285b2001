# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import re

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _app_info as info
from ansible_collections.artisan.upgrade.plugins.module_utils._k8s import ApiError
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

UID = '6b1c3f4e-0000-4000-8000-000000000002'
LABELS = {'app.kubernetes.io/name': 'demoapp'}


@pytest.mark.parametrize('image, tag', [
    ('demoapp:2.0.0', '2.0.0'),
    ('registry.example.com:5000/shop/web:2.0.0', '2.0.0'),
    ('registry.example.com:5000/shop/web', None),
    ('demoapp', None),
    ('demoapp:2.0.0@sha256:' + 'a' * 64, '2.0.0'),
    ('demoapp@sha256:' + 'a' * 64, None),
])
def test_image_tag(image, tag):
    assert info.image_tag(image) == tag


def entry(revision, version, cause=None):
    return {'revision': revision, 'images': {'app': 'demoapp:' + version}, 'tags': {'app': version}, 'change_cause': cause}


def test_previous_is_the_revision_below_without_a_change_cause():
    history = [entry(1, '1.0.0'), entry(2, '2.0.0')]
    assert info.previous_entry(history, 2) == history[0]
    assert info.previous_entry(history[:1], 1) is None
    assert info.previous_entry([], None) is None


def test_previous_after_an_undone_rollout_is_where_the_current_revision_came_from():
    # 2.0.0 -> 3.0.0 (revision 3), a bad 4.0.0 (4) undone: 3.0.0 re-adopted as revision 5. kubectl rollout undo
    # would go to revision 4 (the broken one); the release that ran before 3.0.0 is 2.0.0.
    history = [entry(1, '1.0.0'), entry(2, '2.0.0', 'artisan.upgrade: 1.0.0 -> 2.0.0'),
               entry(4, '4.0.0', 'artisan.upgrade: 3.0.0 -> 4.0.0'), entry(5, '3.0.0', 'artisan.upgrade: 2.0.0 -> 3.0.0')]
    assert info.previous_entry(history, 5) == history[1]


def test_previous_falls_back_when_the_named_release_left_the_history():
    history = [entry(4, '4.0.0'), entry(5, '3.0.0', 'artisan.upgrade: 2.0.0 -> 3.0.0')]
    assert info.previous_entry(history, 5) == history[0]
    other_tool = [entry(1, '1.0.0'), entry(2, '2.0.0', 'kubectl set image deployment/demoapp app=demoapp:2.0.0')]
    assert info.previous_entry(other_tool, 2) == other_tool[0]


def pod(name, image='demoapp:2.0.0', ready=True, restarts=0, deleting=False):
    metadata = {'name': name, 'labels': dict(LABELS)}
    if deleting:
        metadata['deletionTimestamp'] = '2026-11-26T18:00:00Z'
    return {'metadata': metadata, 'spec': {'containers': [{'name': 'app', 'image': image}]},
            'status': {'phase': 'Running',
                       'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}],
                       'containerStatuses': [{'name': 'app', 'ready': ready, 'restartCount': restarts}]}}


def test_pod_summary():
    assert info.pod_summary(pod('a', restarts=2, ready=False), {'app': 'demoapp:2.0.0'}) == {
        'name': 'a', 'phase': 'Running', 'ready': False, 'terminating': False, 'restarts': 2,
        'images': {'app': 'demoapp:2.0.0'}, 'current': True}
    old = info.pod_summary(pod('b', image='demoapp:1.0.0', deleting=True), {'app': 'demoapp:2.0.0'})
    assert old['current'] is False and old['terminating'] is True


def test_log_pattern():
    pattern = info.compile_pattern(r'\bERROR\b')
    assert info.matching_lines('INFO up\nERROR db down\nERRORS none\n', pattern) == ['ERROR db down']
    assert info.compile_pattern('') is None
    with pytest.raises(ModuleFailure, match=r"log_pattern '\(' is not a valid regular expression"):
        info.compile_pattern('(')


def deployment(image='demoapp:2.0.0', revision='2'):
    return {'kind': 'Deployment',
            'metadata': {'name': 'demoapp', 'namespace': 'shop', 'uid': UID, 'generation': 2,
                         'annotations': {'deployment.kubernetes.io/revision': revision}},
            'spec': {'replicas': 2, 'selector': {'matchLabels': LABELS},
                     'template': {'metadata': {'labels': LABELS}, 'spec': {'containers': [{'name': 'app', 'image': image}]}}},
            'status': {'observedGeneration': 2, 'replicas': 2, 'updatedReplicas': 2, 'readyReplicas': 2,
                       'availableReplicas': 2}}


def replicaset(name, image, revision, cause=None):
    annotations = {'deployment.kubernetes.io/revision': str(revision)}
    if cause:
        annotations['kubernetes.io/change-cause'] = cause
    return {'metadata': {'name': name, 'annotations': annotations,
                         'ownerReferences': [{'uid': UID, 'controller': True}]},
            'spec': {'template': {'metadata': {'labels': dict(LABELS, **{'pod-template-hash': name[-5:]})},
                                  'spec': {'containers': [{'name': 'app', 'image': image}]}}}}


OWNED = [replicaset('demoapp-aaaaa', 'demoapp:1.0.0', 1),
         replicaset('demoapp-bbbbb', 'demoapp:2.0.0', 2, 'artisan.upgrade: 1.0.0 -> 2.0.0'),
         # A ReplicaSet matching the selector that the Deployment does not control is not its history.
         dict(replicaset('other-ccccc', 'other:9', 7), metadata={'name': 'other-ccccc', 'annotations': {}})]


def test_workload_summary():
    summary = info.workload_summary(deployment(), OWNED)
    assert summary['images'] == {'app': 'demoapp:2.0.0'} and summary['tags'] == {'app': '2.0.0'}
    assert summary['revision'] == 2
    assert [(h['revision'], h['tags'], h['change_cause']) for h in summary['history']] == [
        (1, {'app': '1.0.0'}, None), (2, {'app': '2.0.0'}, 'artisan.upgrade: 1.0.0 -> 2.0.0')]
    assert summary['previous']['tags'] == {'app': '1.0.0'}
    assert summary['complete'] is True and summary['message'] == 'deployment "demoapp" successfully rolled out'
    assert summary['selector'] == 'app.kubernetes.io/name=demoapp' and summary['match_labels'] == LABELS
    assert summary['replicas']['available'] == 2


class FakeKube:
    def __init__(self, pods, logs):
        self.pods, self.logs, self.requests = pods, logs, []

    def list(self, path, query=None):
        self.requests.append(('list', path, query['labelSelector']))
        return self.pods

    def pod_log(self, namespace, name, container=None, tail_lines=None):
        self.requests.append(('log', name, container, tail_lines))
        if name not in self.logs:
            raise ApiError('container "app" in pod "%s" is waiting to start: ContainerCreating' % name, 400)
        return self.logs[name]


class FakeApi:
    def __init__(self, objects, pods=(), logs=None):
        self.objects, self.kube = objects, FakeKube(list(pods), logs or {})

    def read(self, kind, namespace, name):
        if (kind, namespace, name) not in self.objects:
            raise ApiError('deployments.apps "%s" not found' % name, 404)
        return self.objects[(kind, namespace, name)]

    def owned_history(self, obj):
        return OWNED


def test_reader_counts_error_lines_of_current_pods_only():
    pods = [pod('demoapp-bbbbb-1'), pod('demoapp-bbbbb-2', restarts=1), pod('demoapp-bbbbb-3'),
            pod('demoapp-aaaaa-1', image='demoapp:1.0.0'), pod('demoapp-bbbbb-0', deleting=True)]
    logs = {'demoapp-bbbbb-1': 'ok\nERROR one\nERROR two\n', 'demoapp-bbbbb-2': 'fine\n',
            'demoapp-aaaaa-1': 'ERROR old pod\n'}
    api = FakeApi({('Deployment', 'shop', 'demoapp'): deployment()}, pods, logs)
    [summary] = info.AppReader(api).read('shop', [{'kind': 'Deployment', 'name': 'demoapp'}], False,
                                         re.compile('ERROR'), 50)
    by_name = {p['name']: p for p in summary['pods']}
    assert [p['name'] for p in summary['pods']] == sorted(by_name)
    assert by_name['demoapp-bbbbb-1']['log_matches'] == 2
    assert by_name['demoapp-bbbbb-1']['log_sample'] == ['app: ERROR one', 'app: ERROR two']
    assert by_name['demoapp-bbbbb-2']['restarts'] == 1 and by_name['demoapp-bbbbb-2']['log_matches'] == 0
    assert by_name['demoapp-bbbbb-3']['log_errors'] == [
        'app: container "app" in pod "demoapp-bbbbb-3" is waiting to start: ContainerCreating']
    assert 'log_matches' not in by_name['demoapp-aaaaa-1'] and 'log_matches' not in by_name['demoapp-bbbbb-0']
    assert ('log', 'demoapp-bbbbb-1', 'app', 50) in api.kube.requests
    assert info.summary_message([summary]) == 'deployment demoapp at revision 2 (app=demoapp:2.0.0), 4/5 pods ready'


def test_reader_names_a_missing_workload():
    api = FakeApi({})
    with pytest.raises(ModuleFailure) as caught:
        info.AppReader(api).read('shop', [{'kind': 'Deployment', 'name': 'nosuch', 'namespace': None}], False, None, 10)
    assert str(caught.value).startswith('deployment nosuch not found in namespace shop:')
    assert api.kube.requests == []
