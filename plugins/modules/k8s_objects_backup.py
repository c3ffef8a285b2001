#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_objects_backup
short_description: Save an application's ConfigMaps, Secrets and PVC definitions to files, and put them back
version_added: 0.1.0
description:
  - With O(state=saved), lists the objects of O(kinds) in O(namespace) that match O(selector) and writes their
    definitions (what one would apply again - no uid, resourceVersion, status or managed fields) to one JSON file per
    kind in O(dir) - C(configmaps.json), C(secrets.json), C(persistentvolumeclaims.json) - each with mode C(0600)
    (the Secrets' values are in theirs). A file whose content would not change is left alone.
  - With O(state=restored), reads those files and puts back what differs - a missing object is created, a ConfigMap
    or Secret whose content differs is replaced (with its resourceVersion, so a concurrent change is refused); a
    claim's spec cannot change, so a claim is only re-created when it is missing (bound again to its volume when the
    definition names it).
  - Values never reach the result, the diff or the logs - only kinds and names.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - the C(kubernetes) Python library (29.0.0 or later) on the host the module runs on
options:
  state:
    description:
      - V(saved) writes the files, V(restored) applies them.
    type: str
    choices: [saved, restored]
    default: saved
  dir:
    description:
      - Folder of the files, on the host the module runs on; created with mode C(0700) when missing.
    type: path
    required: true
  namespace:
    description:
      - Namespace of the objects.
    type: str
    default: default
  selector:
    description:
      - Label selector of the application's objects, as C(kubectl get -l) takes it, for example
        V(app.kubernetes.io/part-of=demoapp). Required with O(state=saved).
    type: str
  kinds:
    description:
      - The kinds saved or restored. A restore skips a kind whose file is missing.
    type: list
    elements: str
    choices: [ConfigMap, Secret, PersistentVolumeClaim]
    default: [ConfigMap, Secret, PersistentVolumeClaim]
  timeout:
    description:
      - Seconds the whole task may take.
    type: int
    default: 60
extends_documentation_fragment:
  - artisan.upgrade.attributes
  - artisan.upgrade.attributes.actiongroup_k8s
  - artisan.upgrade.k8s_auth
attributes:
  check_mode:
    support: full
    details: Reads the cluster and the files and says what would be written or applied; writes nothing.
  diff_mode:
    support: full
    details: The kinds and names written or put back, never a value.
  idempotent:
    support: full
notes:
  - The C(backup) role saves them beside the database dump (C(backup_k8s_objects)); the C(rollback) role puts them back
    (C(rollback_restore_config)).
seealso:
  - module: artisan.upgrade.pg_backup
    description: The database dump they are kept beside.
"""

EXAMPLES = r"""
- name: Keep the shop's ConfigMaps, Secrets and PVC definitions beside the dump
  artisan.upgrade.k8s_objects_backup:
    dir: /var/backups/shop/pre-upgrade-2.0.0.files/k8s
    namespace: shop
    selector: app.kubernetes.io/part-of=shop

- name: Put the ConfigMaps and Secrets back as they were
  artisan.upgrade.k8s_objects_backup:
    state: restored
    dir: /var/backups/shop/pre-upgrade-2.0.0.files/k8s
    namespace: shop
    kinds: [ConfigMap, Secret]
"""

RETURN = r"""
objects:
  description: Each object saved or put back (or found as saved) - C(kind), C(name), C(action) (V(saved), V(create),
    V(replace) or V(none)).
  returned: success
  type: list
  elements: dict
  sample: [{kind: Secret, name: demoapp-secret, action: replace}]
files:
  description: The file of each kind, written or read.
  returned: success
  type: dict
  sample: {Secret: /var/backups/shop/pre-upgrade-2.0.0.files/k8s/secrets.json}
commands:
  description: The requests the task sent to the API server, in order, as C(METHOD path).
  returned: always
  type: list
  elements: str
  sample: [GET /api/v1/namespaces/shop/configmaps]
duration:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 0.12
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s
from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s_objects as objects
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def argument_spec():
    spec = _k8s.k8s_auth_argument_spec()
    spec.update(
        state=dict(type='str', choices=['saved', 'restored'], default='saved'),
        dir=dict(type='path', required=True),
        namespace=dict(type='str', default='default'),
        selector=dict(type='str'),
        kinds=dict(type='list', elements='str', choices=list(objects.KINDS), default=list(objects.KINDS)),
        timeout=dict(type='int', default=60),
    )
    return spec


def write_private(path, text):
    """Replace ``path`` with ``text`` atomically, readable by its owner only."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.k8s-objects-')
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as stream:
            stream.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def save(kube, params, check_mode):
    if not params['selector']:
        raise ModuleFailure('selector is required to save: the label selector of the application\'s objects, '
                            'for example app.kubernetes.io/part-of=demoapp')
    changed, found, files = False, [], {}
    for kind in params['kinds']:
        plural = objects.KINDS[kind][0]
        items = kube.list(_k8s.api_path('v1', plural, params['namespace']), {'labelSelector': params['selector']})
        text = objects.document(kind, params['namespace'], params['selector'], items)
        path = files[kind] = os.path.join(params['dir'], objects.file_name(kind))
        current = None
        if os.path.exists(path):
            with open(path, encoding='utf-8') as stream:
                current = stream.read()
        same = current == text and (os.stat(path).st_mode & 0o777) == 0o600
        found.extend({'kind': kind, 'name': item['metadata']['name'], 'action': 'none' if same else 'saved'}
                     for item in items)
        if not same:
            changed = True
            if not check_mode:
                os.makedirs(params['dir'], mode=0o700, exist_ok=True)
                write_private(path, text)
    return changed, found, files


def restore(kube, params, check_mode):
    changed, done, files = False, [], {}
    for kind in params['kinds']:
        path = os.path.join(params['dir'], objects.file_name(kind))
        if not os.path.exists(path):
            continue
        files[kind] = path
        with open(path, encoding='utf-8') as stream:
            try:
                saved = objects.read_document(stream.read(), path)
            except ValueError as exc:
                raise ModuleFailure(str(exc)) from None
        plural = objects.KINDS[kind][0]
        for item in saved['items']:
            name = item['metadata']['name']
            item_path = _k8s.api_path('v1', plural, params['namespace'], name)
            live = kube.get_or_none(item_path)
            action = objects.restore_action(kind, item, live)
            done.append({'kind': kind, 'name': name, 'action': action or 'none'})
            if action is None:
                continue
            changed = True
            body = dict(item, metadata=dict(item['metadata'], namespace=params['namespace']))
            if action == 'create':
                kube.create(_k8s.api_path('v1', plural, params['namespace']), body, dry_run=check_mode)
            else:
                kube.request('PUT', item_path, {'dryRun': 'All'} if check_mode else None, objects.replacement(body, live))
    return changed, done, files


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    run = Run(secrets=[params['api_key'], params['password']])
    if not _k8s.HAS_KUBERNETES:
        module.fail_json(**run.failure(ModuleFailure(missing_required_lib('kubernetes'),
                                                     exception=str(_k8s.KUBERNETES_IMPORT_ERROR))))
    try:
        if params['timeout'] < 1:
            raise ModuleFailure('timeout must be 1 or more')
        kube = _k8s.Kube.from_params(params, deadline=_k8s.Deadline(params['timeout']), run=run)
        step = save if params['state'] == 'saved' else restore
        changed, found, files = step(kube, params, module.check_mode)
    except ModuleFailure as exc:
        module.fail_json(**run.failure(exc))
    touched = ['%s/%s' % (item['kind'], item['name']) for item in found if item['action'] != 'none']
    verb = ('would ' if module.check_mode else '') + ('save' if params['state'] == 'saved' else 'put back')
    msg = ('%s %s' % (verb, ', '.join(touched))) if touched else 'nothing to do: %d objects as saved' % len(found)
    result = run.envelope(changed, msg, objects=found, files=files)
    if module._diff:
        result['diff'] = {'before': '', 'after': '\n'.join(touched) + ('\n' if touched else '')}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
