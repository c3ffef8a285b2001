#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_rollout
short_description: Set images, watch the rollout, fail fast with reasons, undo and restart Kubernetes workloads
version_added: 0.1.0
description:
  - The runbook steps C(kubectl set image), C(kubectl rollout status), C(kubectl rollout undo) and
    C(kubectl rollout restart) as one idempotent module for a Deployment, StatefulSet or DaemonSet.
  - With O(state=rolled_out), patches only the images (and environment variables) that differ, records a
    C(kubernetes.io/change-cause) annotation (shown by C(kubectl rollout history)), then waits for the rollout
    by watching the workload and its pods, with kubectl's completion rules for each kind. The same images on a
    completed rollout change nothing; the same images during a rollout wait for it without changing anything.
  - Fails fast instead of at the timeout when pods of the new revision stay in C(ErrImagePull),
    C(ImagePullBackOff), C(CrashLoopBackOff), C(CreateContainerConfigError), C(RunContainerError) (or another
    waiting reason that does not end by itself) for O(failure_grace) seconds, or
    when the Deployment reports C(ProgressDeadlineExceeded); the failure names the pods, their recent events
    and the last log lines of crashed containers. With O(on_failure=undo) it rolls back to the revision it
    started from and waits for it before failing, like Helm's C(--atomic).
  - With O(state=undone), rolls back as C(kubectl rollout undo) does (to the previous revision or
    O(to_revision)); a workload already at that template is left alone (C(changed=false)).
  - With O(state=restarted), restarts the pods as C(kubectl rollout restart) does; a O(restart_token) (for
    example the release ID) is recorded in the pod template so repeating the task does not restart again.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
options:
  state:
    description:
      - V(rolled_out) sets O(images) or O(image) (and O(env)) and waits for the rollout.
      - V(undone) rolls back to O(to_revision) (default the previous revision) and waits.
      - V(restarted) restarts every pod of the workload and waits.
    type: str
    choices: [rolled_out, undone, restarted]
    default: rolled_out
  kind:
    description:
      - Kind of the workload (group C(apps/v1)).
    type: str
    choices: [Deployment, StatefulSet, DaemonSet]
    default: Deployment
  name:
    description:
      - Name of the workload.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the workload.
    type: str
    default: default
  images:
    description:
      - "Container name to image, for example V({web: registry.example.com/shop/web:2.0.0}). Containers not named
        keep their image. Init containers can be named too."
    type: dict
  image:
    description:
      - The image of a single-container workload (the module refuses it when there are several containers).
    type: str
  env:
    description:
      - "Environment variables to set, per container, as V({web: {LOG_LEVEL: info, OLD_FLAG: null}}); a null
        value removes the variable. Values are strings. Other variables are left alone."
    type: dict
  change_cause:
    description:
      - "Text of the C(kubernetes.io/change-cause) annotation written with a change. Defaults to the image
        versions, for example C(artisan.upgrade: 1.0.0 -> 2.0.0)."
    type: str
  to_revision:
    description:
      - Revision to roll back to with O(state=undone), as C(kubectl rollout history) lists them now. V(0) or
        unset is the previous revision.
      - As with C(kubectl rollout undo), a rollback gives the template it restores the next revision number and
        its old number leaves the history; naming the old number again fails (C(unable to find specified
        revision)). Naming the revision the workload is at changes nothing.
    type: int
  restart_token:
    description:
      - With O(state=restarted), an identifier of this restart (a release ID, a config checksum). The pods are
        restarted only when the pod template does not already carry this token. Without it, every run restarts.
    type: str
  wait:
    description:
      - Wait for the rollout to complete (or fail). Without waiting, the module returns after the write.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the rollout (and again for the rollback of O(on_failure=undo)).
      - Every request to the API server, the first read included, waits at most the time left, so an API server
        that does not answer fails the task after about this long.
    type: int
    default: 600
  failure_grace:
    description:
      - Seconds a pod of the new revision may show a failure reason (image pull error, crash loop, bad
        configuration) before the rollout is declared failed. A pod that recovers meanwhile is forgiven.
    type: int
    default: 30
  on_failure:
    description:
      - What to do when a rollout of O(state=rolled_out) started by this task fails or times out.
      - V(fail) leaves the workload as it is (the Deployment keeps its old pods serving while new ones fail).
      - V(undo) rolls back to the revision the task started from, waits for it, then fails with both the
        original reason and the result of the rollback.
    type: str
    choices: [fail, undo]
    default: fail
  log_lines:
    description:
      - Number of log lines of each crashed container reported on failure (V(0) for none).
    type: int
    default: 20
extends_documentation_fragment:
  - artisan.upgrade.attributes
  - artisan.upgrade.attributes.actiongroup_k8s
  - artisan.upgrade.k8s_auth
attributes:
  check_mode:
    support: full
    details: Reads the workload and sends the change as a server-side dry run (C(dryRun=All)), so the API server
      validates it; does not wait.
  diff_mode:
    support: full
    details: Images, workload annotations and pod template annotations, before and after.
  idempotent:
    support: full
    details: Without a O(restart_token), O(state=restarted) restarts on every run.
notes:
  - Waiting uses watches (with a re-list when the server has compacted the watched resourceVersion, HTTP 410),
    not polling, so the module returns as soon as the rollout completes.
  - StatefulSets and DaemonSets with the C(OnDelete) update strategy are done once their controller has seen
    the new template; their pods change only when deleted.
  - The completion rules are kubectl's; for a Deployment every replica must be updated and available and no
    old replica may remain, which C(kubernetes.core.k8s) with C(wait) does not check.
seealso:
  - module: kubernetes.core.k8s_rollback
    description: Rolls back a Deployment or DaemonSet without revision choice, waiting or idempotence.
  - name: kubectl rollout
    description: The commands this module automates.
    link: https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/
"""

EXAMPLES = r"""
- name: Upgrade the web Deployment to 2.0.0, rolling back by itself if the new pods fail
  artisan.upgrade.k8s_rollout:
    name: web
    namespace: shop
    image: registry.example.com/shop/web:2.0.0
    on_failure: undo
    timeout: 300
  register: rollout

- name: Several containers and an environment change in one rollout
  artisan.upgrade.k8s_rollout:
    name: api
    namespace: shop
    images:
      api: registry.example.com/shop/api:2.0.0
      migrate: registry.example.com/shop/api:2.0.0
    env:
      api:
        FEATURE_NEW_CHECKOUT: "true"
        LEGACY_MODE: null

- name: Roll back to the revision recorded before the upgrade
  artisan.upgrade.k8s_rollout:
    state: undone
    name: web
    namespace: shop
    to_revision: "{{ rollout.revision.before }}"

- name: Restart the workers once per release (a re-run does not restart them again)
  artisan.upgrade.k8s_rollout:
    state: restarted
    kind: StatefulSet
    name: worker
    namespace: shop
    restart_token: "{{ release_id }}"

- name: Share the connection between tasks
  module_defaults:
    group/artisan.upgrade.k8s:
      kubeconfig: ~/.kube/prod
      context: prod-eu
  block:
    - name: Roll out the agent everywhere
      artisan.upgrade.k8s_rollout:
        kind: DaemonSet
        name: node-agent
        namespace: kube-system
        image: registry.example.com/node-agent:1.8.2
"""

RETURN = r"""
kind:
  description: Kind of the workload.
  returned: when the workload was found
  type: str
  sample: Deployment
name:
  description: Name of the workload.
  returned: when the workload was found
  type: str
  sample: web
namespace:
  description: Namespace of the workload.
  returned: when the workload was found
  type: str
  sample: shop
revision:
  description:
    - Revision numbers (as C(kubectl rollout history) shows them) before the task and at its end; after a rollback of
      O(on_failure=undo), the number the restored template has now.
  returned: when the workload was found
  type: dict
  sample: {before: 3, after: 4}
images:
  description: Container name to image, before the task and after it (what it wrote, or would write).
  returned: when the workload was found
  type: dict
  sample: {before: {web: "demoapp:1.0.0"}, after: {web: "demoapp:2.0.0"}}
replicas:
  description: Replica counts at the end (for a DaemonSet, numbers of scheduled pods).
  returned: when the workload was found
  type: dict
  sample: {desired: 3, current: 3, updated: 3, ready: 3, available: 3}
conditions:
  description: The workload's status conditions at the end.
  returned: when the workload was found
  type: list
  elements: dict
  sample: [{type: Progressing, status: "True", reason: NewReplicaSetAvailable}]
rollout:
  description:
    - C(complete), the last status C(message) in kubectl's words, and when waiting the C(progress) messages
      with the seconds after which each appeared, C(waited) seconds, and C(watch) counts (C(events),
      C(relists) after an expired resourceVersion).
  returned: when the workload was found
  type: dict
  sample:
    complete: true
    message: deployment "web" successfully rolled out
    waited: 6.41
    progress:
      - {after: 0.0, message: Waiting for deployment spec update to be observed...}
      - {after: 0.02, message: 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...'}
      - {after: 6.41, message: deployment "web" successfully rolled out}
    watch: {events: 41, relists: 0}
reason:
  description: Why the rollout failed (C(ImagePullBackOff), C(CrashLoopBackOff), C(ProgressDeadlineExceeded), C(Timeout), ...).
  returned: on failure of a rollout
  type: str
  sample: ImagePullBackOff
diagnostics:
  description:
    - The failing pods of the new revision with their reason, recent events and last log lines. When the rollout
      failed without a failing pod to blame (progress deadline, timeout), the pods of the new revision that are not
      ready, with why (waiting or terminated container, unschedulable or pending pod, readiness probe not passing).
  returned: on failure of a rollout
  type: list
  elements: dict
  sample:
    - pod: web-6d9f7c6b8-x2v4q
      container: web
      reason: CrashLoopBackOff
      message: "last exit code 1 (Error): back-off 20s restarting failed container"
      restarts: 3
      events: ["Warning BackOff (x4): Back-off restarting failed container web in pod web-6d9f7c6b8-x2v4q"]
      logs: ["Traceback (most recent call last):", "KeyError: 'DATABASE_URL'"]
undo:
  description:
    - The rollback made by O(on_failure=undo) - C(revision) the workload is at after it (as C(kubectl rollout history)
      shows it), C(rolled_back_to) the number that revision had before the rollback re-numbered it, C(complete),
      C(message), C(images).
  returned: when O(on_failure=undo) rolled back
  type: dict
  sample: {changed: true, revision: 5, rolled_back_to: 3, complete: true, message: deployment "web" successfully rolled out}
commands:
  description:
    - The requests the task sent to the API server, in order, as C(METHOD path); a dry run (check mode) shows
      C(?dryRun=All), a watch C(?watch=true).
  returned: always
  type: list
  elements: str
  sample:
    - GET /apis/apps/v1/namespaces/shop/deployments/web
    - PATCH /apis/apps/v1/namespaces/shop/deployments/web
    - GET /apis/apps/v1/namespaces/shop/deployments?watch=true
    - GET /api/v1/namespaces/shop/pods
duration:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 7.02
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s
from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._rollout_api import RolloutApi
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def argument_spec():
    spec = _k8s.k8s_auth_argument_spec()
    spec.update(
        state=dict(type='str', choices=['rolled_out', 'undone', 'restarted'], default='rolled_out'),
        kind=dict(type='str', choices=list(decide.KINDS), default='Deployment'),
        name=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        images=dict(type='dict'),
        image=dict(type='str'),
        env=dict(type='dict'),
        change_cause=dict(type='str'),
        to_revision=dict(type='int'),
        restart_token=dict(type='str', no_log=False),
        wait=dict(type='bool', default=True),
        timeout=dict(type='int', default=600),
        failure_grace=dict(type='int', default=30),
        on_failure=dict(type='str', choices=['fail', 'undo'], default='fail'),
        log_lines=dict(type='int', default=20),
    )
    return spec


def option_errors(params):
    """Constraints the argument spec cannot express; the first broken one, or None."""
    for option in ('timeout', 'failure_grace', 'log_lines', 'to_revision'):
        if (params[option] or 0) < 0:
            return '%s must be 0 or more, got %d' % (option, params[option])
    if params['state'] != 'rolled_out' and (params['images'] or params['image'] or params['env']):
        return 'images, image and env are options of state rolled_out, not %s' % params['state']
    return None


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[('state', 'rolled_out', ['images', 'image', 'env'], True)],
        mutually_exclusive=[('images', 'image')],
        supports_check_mode=True,
    )
    params = module.params
    run = Run(secrets=[params['api_key'], params['password']])
    if not _k8s.HAS_KUBERNETES:
        module.fail_json(**run.failure(ModuleFailure(missing_required_lib('kubernetes'),
                                                     exception=str(_k8s.KUBERNETES_IMPORT_ERROR))))
    error = option_errors(params)
    if error:
        module.fail_json(**run.failure(ModuleFailure(error)))
    what = '%s %s in namespace %s' % (params['kind'].lower(), params['name'], params['namespace'])
    failure = None
    try:
        kube = _k8s.Kube.from_params(params, run=run)
        result = actions.STATES[params['state']](actions.Rollout(params, RolloutApi(kube), module.check_mode, run))
    except decide.RolloutError as exc:
        failure = ModuleFailure(str(exc))
    except _k8s.ApiError as exc:
        failure = ModuleFailure('%s%s: %s' % (what, ' not found' if exc.not_found else '', exc.msg))
    except ModuleFailure as exc:
        failure = exc
    if failure is not None:
        result = run.failure(failure)
    if not module._diff:
        result.pop('diff', None)
    if failure is not None:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
