#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compose_oneoff
short_description: Keep a one-off container of a compose service's definition running from another image, or remove it
version_added: 0.2.0
description:
  - Starts a container named O(name) with the environment, user and working folder of a service of a Docker Compose v2
    project (as C(docker compose config) reads them) on the service's project network, from the image O(image) (for
    example the release about to be deployed) instead of the service's, running O(command) (by default it only waits).
    The migrations of that release then run in it with C(docker exec) (M(artisan.upgrade.alembic_migrate) with
    C(exec_via.type=docker)) before any serving container changes. The role artisan.upgrade.deploy_compose uses it.
  - The container carries the project's labels as a one-off container (C(docker compose down) removes it too,
    M(artisan.upgrade.compose_stack_info) does not count it as a service container) and a label of this module; a
    container of that name without that label is never touched.
  - O(state=present) keeps a running container of that name that runs the image's ID (no change), else replaces it.
    O(state=absent) removes it.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - Docker Compose v2 (C(docker compose)) and the Python C(docker) SDK (7.0 or later) on the host the module runs on.
options:
  project_src:
    description:
      - Folder of the compose project (C(--project-directory)).
    type: path
    required: true
  files:
    description:
      - Compose files, relative to O(project_src). Defaults to the one Compose picks and its C(.override) file.
    type: list
    elements: str
  project_name:
    description:
      - Compose project name. Defaults to the C(name:) of the files, else the folder's name.
    type: str
  env_file:
    description:
      - File of O(project_src) holding the variables of the compose files.
    type: str
    default: .env
  service:
    description:
      - The service whose definition (environment, user, working folder, first network) the container gets.
    type: str
    required: true
  name:
    description:
      - Name of the container.
    type: str
    required: true
  image:
    description:
      - The image reference (or ID) to run; defaults to the service's own image.
    type: str
  pull:
    description:
      - V(missing) pulls the image when it is not on the host, V(always) pulls it every time, V(never) fails when it
        is not on the host.
    type: str
    choices: [always, missing, never]
    default: missing
  command:
    description:
      - What the container runs (its entrypoint is replaced by the first element).
    type: list
    elements: str
    default: [sleep, infinity]
  state:
    description:
      - V(present) keeps it running from O(image); V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - artisan.upgrade.attributes
attributes:
  check_mode:
    support: full
    details: Says what it would do (start, replace, remove), changing nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Not with O(pull=always), which pulls every time.
"""

EXAMPLES = r"""
- name: A container of release 2.0.0 for its migrations, on the stack's network with app1's environment
  artisan.upgrade.compose_oneoff:
    project_src: /srv/demo
    service: app1
    name: demo-migrate
    image: demoapp:2.0.0
    pull: never

- name: Run the migrations in it
  artisan.upgrade.alembic_migrate:
    revision: head
    virtualenv: /opt/demoapp/venv
    config: /opt/demoapp/venv/lib/python3.11/site-packages/demoapp/alembic.ini
    url: postgresql://demoapp@postgres:5432/demoapp
    exec_via:
      type: docker
      container: demo-migrate

- name: Remove it
  artisan.upgrade.compose_oneoff:
    project_src: /srv/demo
    service: app1
    name: demo-migrate
    state: absent
"""

RETURN = r"""
project_name:
  description: The compose project.
  returned: success
  type: str
  sample: demo
name:
  description: The container's name.
  returned: success
  type: str
  sample: demo-migrate
service:
  description: The service whose definition it has.
  returned: success
  type: str
  sample: app1
image:
  description: The image reference it runs (null with O(state=absent)).
  returned: success
  type: str
  sample: demoapp:2.0.0
image_id:
  description: The ID of that image (null with O(state=absent), or before a pull in check mode).
  returned: success
  type: str
  sample: "sha256:34862e417059..."
action:
  description: What was (in check mode, would be) done - C(create), C(replace), C(remove) or C(keep).
  returned: success
  type: str
  sample: create
container_id:
  description: The ID of the container started.
  returned: when one was started
  type: str
  sample: "4f0c5a..."
commands:
  description: The commands run (C(docker compose) lines, engine calls as the C(docker) command doing the same; the
    environment by variable name only).
  returned: always
  type: list
  elements: str
  sample: ["docker run --detach --name demo-migrate --network demo_default --env DATABASE_URL --entrypoint sleep
            sha256:34862e417059... infinity"]
duration:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 1.2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.artisan.upgrade.plugins.module_utils import _compose_oneoff as oneoff
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def main():
    module = AnsibleModule(argument_spec=dict(
        project_src=dict(type='path', required=True),
        files=dict(type='list', elements='str'),
        project_name=dict(type='str'),
        env_file=dict(type='str', default='.env'),
        service=dict(type='str', required=True),
        name=dict(type='str', required=True),
        image=dict(type='str'),
        pull=dict(type='str', choices=['always', 'missing', 'never'], default='missing'),
        command=dict(type='list', elements='str', default=['sleep', 'infinity']),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ), supports_check_mode=True)
    run = Run()
    if not module.params['command']:
        module.fail_json(**run.failure(ModuleFailure('command is empty: give what the container runs')))
    try:
        result = oneoff.perform(module.params, module.check_mode, run)
    except ModuleFailure as exc:
        module.fail_json(**run.failure(exc))
    fields = {key: value for key, value in result.items() if key not in ('changed', 'msg')}
    module.exit_json(**run.envelope(result['changed'], result['msg'], **fields))


if __name__ == '__main__':
    main()
