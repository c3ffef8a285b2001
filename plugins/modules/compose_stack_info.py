#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compose_stack_info
short_description: Read a Docker Compose project - its files, services, and the exact images its containers run
version_added: 0.2.0
description:
  - Reads a Docker Compose v2 project as Compose does (C(docker compose config)) and, through the Docker engine API, the
    containers of each service with the ID and repository digests of the image each one runs, its health and the
    version its image's C(org.opencontainers.image.version) label (or tag) says. A release record made from this
    restores exactly what ran, even if a tag was moved since.
  - Changes nothing.
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
      - File of O(project_src) holding the variables images are written with, reported as RV(env_file).
    type: str
    default: .env
  services:
    description:
      - Services to report; all when empty. A name that is not a service of the project fails the task.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - artisan.upgrade.attributes
attributes:
  check_mode:
    support: full
    details: Reads as in a normal run.
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Read what the demo stack runs
  artisan.upgrade.compose_stack_info:
    project_src: /srv/demo
    services: [app1, app2]
  register: stack

- name: Show the image IDs to restore on rollback
  ansible.builtin.debug:
    msg: "{{ stack.services | dict2items | map(attribute='value.image_ids') | list }}"
"""

RETURN = r"""
project_name:
  description: The compose project.
  returned: success
  type: str
  sample: demo
project_dir:
  description: Its folder.
  returned: success
  type: str
  sample: /srv/demo
files:
  description: The compose files read, as absolute paths.
  returned: success
  type: list
  elements: str
  sample: [/srv/demo/compose.yaml]
env_file:
  description: The file holding the image variables.
  returned: success
  type: str
  sample: /srv/demo/.env
services:
  description:
    - Per service, the image its files give (C(image)), the version its running containers agree on (C(version), null
      when none runs or they differ), the IDs of the images they run (C(image_ids)), that ID when they all run one
      (C(image_id), else null), how many run (C(running)), and each
      container (C(name), C(id), C(image_id), C(image), C(version), C(status), C(health), C(repo_digests), and
      C(networks), its IP address per network).
  returned: success
  type: dict
  sample:
    app1:
      image: "demoapp:1.0.0"
      version: 1.0.0
      image_ids: ["sha256:34862e417059..."]
      image_id: "sha256:34862e417059..."
      running: 1
      containers:
        - {name: demo-app1-1, id: "4f0c...", image_id: "sha256:34862e417059...", image: "demoapp:1.0.0", version: 1.0.0,
           status: running, health: healthy, repo_digests: [], networks: {demo_default: 172.18.0.5}}
commands:
  description: The commands run (C(docker compose) lines, engine calls as the C(docker) command doing the same).
  returned: always
  type: list
  elements: str
  sample: ["docker compose --project-directory /srv/demo --file /srv/demo/compose.yaml config --format json"]
duration:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 14.2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.artisan.upgrade.plugins.module_utils import _compose_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def main():
    module = AnsibleModule(argument_spec=dict(
        project_src=dict(type='path', required=True),
        files=dict(type='list', elements='str'),
        project_name=dict(type='str'),
        env_file=dict(type='str', default='.env'),
        services=dict(type='list', elements='str', default=[]),
    ), supports_check_mode=True)
    run = Run()
    try:
        result = actions.info(module.params, run)
    except ModuleFailure as exc:
        module.fail_json(**run.failure(exc))
    msg = 'compose project %s: %d service(s)' % (result['project_name'], len(result['services']))
    module.exit_json(**run.envelope(False, msg, **result))


if __name__ == '__main__':
    main()
