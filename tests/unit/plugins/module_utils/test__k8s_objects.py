# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_objects_backup's decisions: the definition kept of each kind, the file's stable text, what a restore does."""

from __future__ import annotations

import json

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s_objects as objects

LIVE_SECRET = {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque', 'data': {'PASSWORD': 'cHc='},
               'metadata': {'name': 'app-secret', 'namespace': 'shop', 'uid': 'u1', 'resourceVersion': '7',
                            'creationTimestamp': '2026-11-26T22:00:00Z', 'labels': {'app': 'shop'},
                            'managedFields': [{'manager': 'kubectl'}], 'annotations': {}}}
LIVE_CLAIM = {'metadata': {'name': 'data-pg-0', 'namespace': 'shop', 'uid': 'u2', 'resourceVersion': '9'},
              'spec': {'accessModes': ['ReadWriteOnce'], 'volumeName': 'pv-1'}, 'status': {'phase': 'Bound'}}


def test_the_definition_keeps_what_one_applies_again_and_nothing_the_server_added():
    assert objects.definition('Secret', LIVE_SECRET) == {
        'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque', 'data': {'PASSWORD': 'cHc='},
        'metadata': {'name': 'app-secret', 'namespace': 'shop', 'labels': {'app': 'shop'}}}
    assert objects.definition('PersistentVolumeClaim', LIVE_CLAIM) == {
        'apiVersion': 'v1', 'kind': 'PersistentVolumeClaim', 'metadata': {'name': 'data-pg-0', 'namespace': 'shop'},
        'spec': {'accessModes': ['ReadWriteOnce'], 'volumeName': 'pv-1'}}


def test_the_file_is_the_same_text_whatever_the_order_or_the_resource_versions():
    other = json.loads(json.dumps(LIVE_SECRET))
    other['metadata'].update(name='b-secret', resourceVersion='99')
    first = objects.document('Secret', 'shop', 'app=shop', [other, LIVE_SECRET])
    newer = dict(LIVE_SECRET, metadata=dict(LIVE_SECRET['metadata'], resourceVersion='8'))
    again = objects.document('Secret', 'shop', 'app=shop', [newer, other])
    assert first == again
    loaded = objects.read_document(first, 'secrets.json')
    assert [item['metadata']['name'] for item in loaded['items']] == ['app-secret', 'b-secret']
    assert objects.file_name('PersistentVolumeClaim') == 'persistentvolumeclaims.json'


@pytest.mark.parametrize('text, expected', [('nope', 'is not JSON'), ('{"schema": "x"}', 'is not a backup')])
def test_a_file_that_is_not_a_backup_is_refused(text, expected):
    with pytest.raises(ValueError, match=expected):
        objects.read_document(text, 'secrets.json')


def test_a_restore_creates_the_missing_replaces_what_differs_and_leaves_claims_alone():
    saved = objects.definition('Secret', LIVE_SECRET)
    assert objects.restore_action('Secret', saved, None) == 'create'
    assert objects.restore_action('Secret', saved, LIVE_SECRET) is None
    # The server defaults a Secret's type and drops empty maps: not a difference.
    assert objects.restore_action('Secret', dict(saved, type=None), dict(LIVE_SECRET, binaryData={})) is None
    changed = dict(LIVE_SECRET, data={'PASSWORD': 'bmV3'})
    assert objects.restore_action('Secret', saved, changed) == 'replace'
    body = objects.replacement(saved, changed)
    assert body['metadata']['resourceVersion'] == '7' and 'resourceVersion' not in saved['metadata']
    claim = objects.definition('PersistentVolumeClaim', LIVE_CLAIM)
    assert objects.restore_action('PersistentVolumeClaim', claim, None) == 'create'
    assert objects.restore_action('PersistentVolumeClaim', claim, dict(LIVE_CLAIM, spec={})) is None
