#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compose_service
short_description: Set the image of Docker Compose services and replace their containers one at a time behind nginx
version_added: 0.2.0
description:
  - Gives the services of a Docker Compose v2 project (O(project_src), O(files)) an image, where the user wrote it - in
    the C(image:) line of the compose file (comments, anchors and formatting kept), or in the project's C(.env) when
    that line reads a variable (an image written C(myapp:${APP_VERSION:-1.0.0}) is set by C(APP_VERSION=2.0.0)). Services sharing the
    line or the variable change together; one that would change without being listed while it runs is refused.
    Afterwards C(docker compose config) must read the new image, else the files are put back (a variable set in the
    task's environment wins over C(.env)).
  - Images are checked before anything changes, following O(pull). O(image_ids) pins exact image IDs (what the release
    record noted), as rollback does - the tag is moved back onto the ID when it has moved since, and nothing is pulled.
  - With O(rollout=rolling), every running container of the services that does not run the target image ID is replaced
    one at a time - Compose starts a new container of the service beside it (C(up --no-deps --no-recreate --scale)),
    the module waits for its healthcheck, then (with O(nginx)) rewrites the upstream with canary_shift's nginx provider
    so the new container is in and the old one out, reloads nginx gracefully, stops the old container with its own stop
    signal and C(stop_grace_period), and removes it. Compose's replica count is unchanged at the end.
  - A new container that exits (or restarts), or is not healthy within O(health_timeout), is removed and the task fails
    with its health log and last log lines; the old container was never touched, the edited files are put back, and the
    message names the containers already replaced by earlier steps (roll them back by running the task with the
    previous O(image_ids)).
  - Migrations, backups and the compose stack's one-shot services are not run here.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - Docker Compose v2 (C(docker compose)) and the Python C(docker) SDK (7.0 or later) on the host the module runs on,
    and PyYAML (which ansible-core brings).
options:
  project_src:
    description:
      - Folder of the compose project (C(--project-directory)); relative files and C(.env) are read from it.
    type: path
    required: true
  files:
    description:
      - Compose files, relative to O(project_src), in override order. Defaults to the one Compose picks (C(compose.yaml),
        ...) and its C(.override) file.
    type: list
    elements: str
  project_name:
    description:
      - Compose project name. Defaults to the C(name:) of the files, else Compose's default (the folder's name).
    type: str
  env_file:
    description:
      - File of O(project_src) holding the variables images are written with.
    type: str
    default: .env
  services:
    description:
      - Services to give their image and, with O(rollout=rolling), to replace, in this order.
    type: list
    elements: str
    required: true
  image:
    description:
      - Image reference (C(repository:tag)) for every service of O(services). Without it (and without O(images)) each
        service keeps the image its files give, and only containers that do not run it are replaced.
    type: str
  images:
    description:
      - Image reference per service, overriding O(image).
    type: dict
  image_ids:
    description:
      - Exact image ID (C(sha256:...)) per service, for a rollback that must restore what ran even if a tag was moved.
        The image reference's tag is pointed at it when it points elsewhere.
    type: dict
  pull:
    description:
      - V(missing) pulls an image that is not on the host; V(always) pulls every time; V(never) fails when it is missing.
    type: str
    choices: [always, missing, never]
    default: missing
  rollout:
    description:
      - V(rolling) replaces the containers one at a time; V(none) only edits the files (and tags or pulls).
    type: str
    choices: [rolling, none]
    default: rolling
  health_timeout:
    description:
      - Seconds a new container has to become healthy (a container without healthcheck is ready once running).
    type: float
    default: 120
  stop_timeout:
    description:
      - Seconds the old container gets to stop before it is killed. Defaults to its own (C(stop_grace_period)).
    type: int
  log_lines:
    description:
      - Log lines of a failed new container quoted in the message.
    type: int
    default: 30
  nginx:
    description:
      - The nginx container that balances the services, whose upstream the module rewrites with canary_shift's nginx
        provider at each step. Without it containers are replaced without traffic management.
    type: dict
    suboptions:
      service:
        description:
          - Service of the same project running nginx. One of O(nginx.service) and O(nginx.container) is needed.
        type: str
      container:
        description:
          - Name or ID of the nginx container.
        type: str
      include_path:
        description:
          - The include file inside the container holding the upstream (see O(artisan.upgrade.canary_shift#module:nginx.include_path));
            its folder must be writable in the container (not a single-file bind mount, which cannot be renamed over).
        type: str
        required: true
      upstream:
        description:
          - Name of the upstream C(proxy_pass) uses.
        type: str
        required: true
      port:
        description:
          - Port the services listen on inside their containers.
        type: int
        required: true
      pool:
        description:
          - Services whose containers form the upstream, all together. Defaults to O(services).
        type: list
        elements: str
      config:
        description:
          - Main nginx configuration file inside the container.
        type: str
        default: /etc/nginx/nginx.conf
      reload_timeout:
        description:
          - Seconds to wait for nginx workers of the new configuration.
        type: float
        default: 10
extends_documentation_fragment:
  - artisan.upgrade.attributes
attributes:
  check_mode:
    support: full
    details: Reads the project, the images and the containers; reports the file diffs, tags, pulls and the containers it
      would replace; changes nothing.
  diff_mode:
    support: full
    details: The compose file or C(.env) before and after.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Roll demoapp 2.0.0 through app1 and app2, one container at a time behind the stack's nginx
  artisan.upgrade.compose_service:
    project_src: /srv/demo
    services: [app1, app2]
    image: demoapp:2.0.0
    pull: never
    nginx:
      service: nginx
      include_path: /etc/nginx/conf.d/demoapp-upstream.conf
      upstream: demoapp
      port: 8000
  register: deployed

- name: Put back exactly the images that ran before (from the release record)
  artisan.upgrade.compose_service:
    project_src: /srv/demo
    services: [app1, app2]
    images: {app1: "demoapp:1.0.0", app2: "demoapp:1.0.0"}
    image_ids: "{{ record.deploy.details.image_ids }}"
    nginx: {service: nginx, include_path: /etc/nginx/conf.d/demoapp-upstream.conf, upstream: demoapp, port: 8000}
"""

RETURN = r"""
project_name:
  description: The compose project.
  returned: success
  type: str
  sample: demo
before:
  description: Per service, the image its files gave, the IDs of the images its running containers ran, and their version.
  returned: success
  type: dict
  sample: {app1: {image: "demoapp:1.0.0", image_ids: ["sha256:3486..."], version: 1.0.0}}
images:
  description: The image reference each service was given.
  returned: success
  type: dict
  sample: {app1: "demoapp:2.0.0"}
image_ids:
  description: The image ID each service runs after the task (null in check mode for an image still to pull).
  returned: success
  type: dict
  sample: {app1: "sha256:8ebd..."}
via:
  description: Where each service's image is written.
  returned: success
  type: dict
  sample: {app1: "variable DEMOAPP_VERSION in /srv/demo/.env"}
also_changed:
  description: Services not listed whose image changed too (one-shot services sharing the line or variable).
  returned: success
  type: list
  elements: str
  sample: [migrate]
replaced:
  description: Per service, the old containers replaced (stopped and removed), in order.
  returned: success
  type: dict
  sample: {app1: [demo-app1-1], app2: [demo-app2-1]}
changes:
  description: What the task changed (or would, in check mode).
  returned: success
  type: list
  elements: str
  sample: ["/srv/demo/.env: rewritten", "app1: replace demo-app1-1"]
nginx:
  description: The nginx steps, one per replaced container.
  returned: success
  type: list
  elements: dict
  sample: [{service: app1, out: demo-app1-1, into: demo-app1-2, backends: ["172.18.0.6:8000", "172.18.0.7:8000"]}]
health_log:
  description: The last healthcheck results of a new container that did not become healthy.
  returned: failure
  type: list
  elements: str
logs:
  description: Its last log lines.
  returned: failure
  type: list
  elements: str
commands:
  description: The commands run (C(docker compose) lines, engine calls as the C(docker) command doing the same).
  returned: always
  type: list
  elements: str
  sample: ["docker compose --project-directory /srv/demo --file /srv/demo/compose.yaml --project-name demo up --detach
            --no-deps --no-recreate --no-build --pull never --scale app1=2 app1", "docker stop 4f0c..."]
duration:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 14.2
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.artisan.upgrade.plugins.module_utils import _compose as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _compose_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def argument_spec():
    return dict(
        project_src=dict(type='path', required=True),
        files=dict(type='list', elements='str'),
        project_name=dict(type='str'),
        env_file=dict(type='str', default='.env'),
        services=dict(type='list', elements='str', required=True),
        image=dict(type='str'),
        images=dict(type='dict'),
        image_ids=dict(type='dict'),
        pull=dict(type='str', choices=['always', 'missing', 'never'], default='missing'),
        rollout=dict(type='str', choices=['rolling', 'none'], default='rolling'),
        health_timeout=dict(type='float', default=120),
        stop_timeout=dict(type='int'),
        log_lines=dict(type='int', default=30),
        nginx=dict(type='dict', options=dict(
            service=dict(type='str'),
            container=dict(type='str'),
            include_path=dict(type='str', required=True),
            upstream=dict(type='str', required=True),
            port=dict(type='int', required=True),
            pool=dict(type='list', elements='str'),
            config=dict(type='str', default='/etc/nginx/nginx.conf'),
            reload_timeout=dict(type='float', default=10),
        ), required_one_of=[('service', 'container')], mutually_exclusive=[('service', 'container')]),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run = Run()
    if not decide.HAS_YAML:
        module.fail_json(**run.failure(ModuleFailure(missing_required_lib('PyYAML'))))
    if not module.params['services']:
        module.fail_json(**run.failure(ModuleFailure('services is empty: name at least one service')))
    try:
        result = actions.Deploy(module.params, module.check_mode, module.warn, run).perform()
    except ModuleFailure as exc:
        module.fail_json(**run.failure(exc))
    diff = result.pop('diff')
    if module._diff:
        result['diff'] = diff
    changed, msg = result.pop('changed'), result.pop('msg')
    module.exit_json(**run.envelope(changed, msg, **result))


if __name__ == '__main__':
    main()
