#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_app_info
short_description: Read the images, revision history, rollout status and pods of an application's Kubernetes workloads
version_added: 0.1.0
description:
  - Reads, for each Deployment or StatefulSet of an application, what C(kubectl get -o json), C(kubectl rollout history)
    and C(kubectl rollout status) tell - its images, the revision it is at, every revision kept with its images and
    change cause, the revision before the current one, the replica counts and whether the rollout is complete.
  - With O(pods=true) (or a O(log_pattern)), lists the pods of each workload (by its selector) with their readiness,
    restart count and whether they run the workload's current images.
  - With O(log_pattern), reads the last O(log_lines) log lines of every container of the current pods and counts the lines
    matching the pattern, for a post-upgrade check such as "no more than N error lines in the new pods".
  - Changes nothing. A workload that does not exist fails the task, naming it.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - the C(kubernetes) Python library (29.0.0 or later) on the host the module runs on
options:
  namespace:
    description:
      - Namespace of the workloads that do not name one.
    type: str
    default: default
  workloads:
    description:
      - The workloads to read, in the order they are returned.
    type: list
    elements: dict
    required: true
    suboptions:
      kind:
        description:
          - Kind of the workload (group C(apps/v1)).
        type: str
        choices: [Deployment, StatefulSet]
        default: Deployment
      name:
        description:
          - Name of the workload.
        type: str
        required: true
      namespace:
        description:
          - Namespace of the workload, when it is not O(namespace).
        type: str
  pods:
    description:
      - List the pods of each workload.
    type: bool
    default: false
  log_pattern:
    description:
      - Regular expression (Python syntax) searched in each line of the logs of the current pods (those running the
        workload's images of now, not terminating). Implies O(pods=true).
    type: str
  log_lines:
    description:
      - Number of log lines read from the end of each container's log.
    type: int
    default: 200
  timeout:
    description:
      - Seconds the whole task may take; every request to the API server waits at most the time left.
    type: int
    default: 60
extends_documentation_fragment:
  - artisan.upgrade.attributes
  - artisan.upgrade.attributes.actiongroup_k8s
  - artisan.upgrade.k8s_auth
attributes:
  check_mode:
    support: full
    details: Reads as in a normal run.
  diff_mode:
    support: none
  idempotent:
    support: full
notes:
  - The history is read from the ReplicaSets (Deployment) or ControllerRevisions (StatefulSet) the workload controls, as
    kubectl does; a rollback gives the template it restores the next revision number.
seealso:
  - module: artisan.upgrade.k8s_rollout
    description: Changes images, waits for the rollout, undoes it.
"""

EXAMPLES = r"""
- name: Read what runs of the shop
  artisan.upgrade.k8s_app_info:
    namespace: shop
    workloads:
      - name: backend
      - name: frontend
  register: shop

- name: Show the image of the backend and the one it would go back to
  ansible.builtin.debug:
    msg: "{{ shop.workloads[0].images }} (previous {{ shop.workloads[0].previous.images | default('none') }})"

- name: After an upgrade, count error lines in the new pods' logs
  artisan.upgrade.k8s_app_info:
    namespace: shop
    workloads:
      - name: backend
    log_pattern: '\b(ERROR|CRITICAL)\b|Traceback'
  register: checked

- name: Fail on a pod not ready, restarting, or logging errors
  ansible.builtin.assert:
    that:
      - checked.workloads[0].pods | rejectattr('ready') | list | length == 0
      - checked.workloads[0].pods | map(attribute='restarts') | max == 0
      - checked.workloads[0].pods | map(attribute='log_matches', default=0) | sum == 0
"""

RETURN = r"""
workloads:
  description: One entry per workload of O(workloads), in that order.
  returned: success
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the workload.
      type: str
      sample: Deployment
    name:
      description: Name of the workload.
      type: str
      sample: backend
    namespace:
      description: Namespace of the workload.
      type: str
      sample: shop
    images:
      description: Container name to image of the pod template now (init containers included).
      type: dict
      sample: {app: "demoapp:2.0.0"}
    tags:
      description: Container name to the tag of its image (null for an image without a tag).
      type: dict
      sample: {app: "2.0.0"}
    revision:
      description: The revision of the current template, as C(kubectl rollout history) numbers it (null before the controller recorded it).
      type: int
      sample: 3
    history:
      description:
        - Every revision kept, oldest first, with C(revision), C(images), C(tags) and C(change_cause) (null when none was
          recorded).
      type: list
      elements: dict
      sample: [{revision: 1, images: {app: "demoapp:1.0.0"}, tags: {app: "1.0.0"}, change_cause: null},
               {revision: 2, images: {app: "demoapp:2.0.0"}, tags: {app: "2.0.0"}, change_cause: "artisan.upgrade: 1.0.0 -> 2.0.0"}]
    previous:
      description: The newest revision older than the current one (what C(kubectl rollout undo) goes back to), null when there is none.
      type: dict
      sample: {revision: 1, images: {app: "demoapp:1.0.0"}, tags: {app: "1.0.0"}, change_cause: null}
    replicas:
      description: Replica counts (C(desired), C(current), C(updated), C(ready), C(available)).
      type: dict
      sample: {desired: 3, current: 3, updated: 3, ready: 3, available: 3}
    complete:
      description: Whether the rollout is complete by kubectl's rules.
      type: bool
      sample: true
    message:
      description: The rollout status in kubectl's words, or why it failed.
      type: str
      sample: deployment "backend" successfully rolled out
    selector:
      description: The workload's label selector, as C(kubectl get -l) takes it.
      type: str
      sample: app=backend
    match_labels:
      description: The C(matchLabels) of the workload's selector (for a Service's selector, for example).
      type: dict
      sample: {app: backend}
    pods:
      description:
        - With O(pods) or O(log_pattern), the workload's pods by name - C(name), C(phase), C(ready), C(terminating),
          C(restarts) (sum over the containers), C(images), C(current) (runs the workload's images of now); with
          O(log_pattern), for the current pods also C(log_matches) (number of matching lines), C(log_sample) (the first
          five, prefixed with the container's name) and C(log_errors) when a log could not be read.
      type: list
      elements: dict
      sample: [{name: backend-7c9f6d-x2v4q, phase: Running, ready: true, terminating: false, restarts: 0,
                images: {app: "demoapp:2.0.0"}, current: true, log_matches: 0, log_sample: []}]
commands:
  description: The requests the task sent to the API server, in order, as C(METHOD path).
  returned: always
  type: list
  elements: str
  sample: [GET /apis/apps/v1/namespaces/shop/deployments/backend, GET /apis/apps/v1/namespaces/shop/replicasets]
duration:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 0.12
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.artisan.upgrade.plugins.module_utils import _app_info as info
from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s
from ansible_collections.artisan.upgrade.plugins.module_utils._rollout_api import RolloutApi
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def argument_spec():
    spec = _k8s.k8s_auth_argument_spec()
    spec.update(
        namespace=dict(type='str', default='default'),
        workloads=dict(type='list', elements='dict', required=True, options=dict(
            kind=dict(type='str', choices=list(info.KINDS), default='Deployment'),
            name=dict(type='str', required=True),
            namespace=dict(type='str'),
        )),
        pods=dict(type='bool', default=False),
        log_pattern=dict(type='str'),
        log_lines=dict(type='int', default=200),
        timeout=dict(type='int', default=60),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    run = Run(secrets=[params['api_key'], params['password']])
    if not _k8s.HAS_KUBERNETES:
        module.fail_json(**run.failure(ModuleFailure(missing_required_lib('kubernetes'),
                                                     exception=str(_k8s.KUBERNETES_IMPORT_ERROR))))
    try:
        if not params['workloads']:
            raise ModuleFailure('workloads is empty: name at least one Deployment or StatefulSet')
        if params['log_lines'] < 1 or params['timeout'] < 1:
            raise ModuleFailure('log_lines and timeout must be 1 or more')
        pattern = info.compile_pattern(params['log_pattern'])
        kube = _k8s.Kube.from_params(params, deadline=_k8s.Deadline(params['timeout']), run=run)
        workloads = info.AppReader(RolloutApi(kube)).read(params['namespace'], params['workloads'], params['pods'],
                                                          pattern, params['log_lines'])
    except ModuleFailure as exc:
        module.fail_json(**run.failure(exc))
    module.exit_json(**run.envelope(False, info.summary_message(workloads), workloads=workloads))


if __name__ == '__main__':
    main()
