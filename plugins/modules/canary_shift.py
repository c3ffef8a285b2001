#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: canary_shift
short_description: Send a given share of traffic to the new version of an application
version_added: 0.1.0
description:
  - Sets the percentage of traffic (O(weight), 0 to 100) that goes to the new version (the canary), the rest
    going to the current one (stable). One task is one step of a progressive rollout such as 10, 30, 50, 100;
    the pauses and analysis between steps belong to the playbook or the C(canary) role.
  - With O(provider=nginx), the module owns one include file (O(nginx.include_path)) holding the upstream of the
    two versions, either weighted per request or split by a sticky key with C(split_clients). The new file is
    checked with C(nginx -t) on the whole live configuration with the candidate in its place before it replaces
    the live file (by an atomic rename, the old one kept as C(<include_path>.previous)), then nginx is reloaded
    gracefully and the module waits until the master runs workers of the new configuration.
  - Idempotent. When the live file already holds the requested split nothing is written nor reloaded.
  - A shift towards a side none of whose backends accepts a TCP connection is refused unless O(force=true).
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - nginx, C(sh), C(cat), C(cp), C(mv) where the commands run (O(exec_via)); Linux C(/proc) to watch the workers
options:
  provider:
    description:
      - What routes the traffic. V(nginx) rewrites an nginx include file and reloads nginx.
    type: str
    choices: [nginx]
    required: true
  weight:
    description:
      - Percentage of the traffic for the canary, from V(0) (all stable) to V(100) (all canary).
    type: int
    required: true
  force:
    description:
      - Shift even when no backend of a side that would receive traffic accepts a connection.
    type: bool
    default: false
  nginx:
    description:
      - The nginx split. Required with O(provider=nginx).
    type: dict
    suboptions:
      include_path:
        description:
          - The include file this module owns, loaded in the C(http) context of the configuration (for example
            by C(include /etc/nginx/conf.d/*.conf;)). It is rewritten as a whole.
        type: path
        required: true
      upstream:
        description:
          - Name of the upstream. With O(nginx.mode=weights) the file defines C(upstream <name>) to
            C(proxy_pass http://<name>;) to.
          - With O(nginx.mode=sticky) it defines C(upstream <name>_stable), C(upstream <name>_canary) and the
            variable C($<name>_upstream) that C(split_clients) sets, to C(proxy_pass http://$<name>_upstream;) to.
        type: str
        required: true
      stable:
        description:
          - Backends of the current version, as C(host:port), C([ipv6]:port) or C(unix:/path).
        type: list
        elements: str
        required: true
      canary:
        description:
          - Backends of the new version, in the same forms as O(nginx.stable).
        type: list
        elements: str
        required: true
      drain:
        description:
          - Backends (from O(nginx.stable) or O(nginx.canary)) marked C(down) so that they receive no new
            requests, for example while their host restarts. A side that should receive traffic keeps at least
            one backend that is not drained.
        type: list
        elements: str
        default: []
      mode:
        description:
          - V(weights) spreads requests by server weights (each request may land on either side).
          - V(sticky) keeps a client on one side by hashing O(nginx.sticky_by) with C(split_clients).
        type: str
        choices: [weights, sticky]
        default: weights
      sticky_by:
        description:
          - What identifies a client with O(nginx.mode=sticky). Clients without the cookie or header all hash the
            same empty key, so they all land on the same side.
        type: str
        choices: [client_address, cookie, header]
        default: client_address
      sticky_name:
        description:
          - Name of the cookie or request header with O(nginx.sticky_by=cookie) or O(nginx.sticky_by=header).
        type: str
      upstream_directives:
        description:
          - Extra directives for each upstream block, one per item without the final C(;), for example
            V(keepalive 32).
        type: list
        elements: str
        default: []
      config:
        description:
          - The main configuration file nginx runs with, checked with the candidate in place.
        type: path
        default: /etc/nginx/nginx.conf
      binary:
        description:
          - The nginx program where the commands run.
        type: str
        default: nginx
      reload:
        description:
          - How nginx is told to re-read its configuration. V(signal) runs C(nginx -s reload).
          - V(systemd) runs C(systemctl reload <service>).
          - V(docker_kill) runs C(docker kill --signal HUP <container>) on the host the module runs on, for nginx
            as the main process of the container named by O(exec_via.container) (O(exec_via.type=docker)).
          - In every case the module then waits until the master started new workers, and puts the previous file
            back if it did not within O(nginx.reload_timeout).
        type: str
        choices: [signal, systemd, docker_kill]
        default: signal
      service:
        description:
          - The systemd unit with O(nginx.reload=systemd).
        type: str
        default: nginx
      reload_timeout:
        description:
          - Seconds to wait for workers of the new configuration after the reload.
        type: float
        default: 10
      probe_backends:
        description:
          - Before a shift, try a TCP connection from the host the module runs on to each backend of a side that
            will receive traffic, and refuse the shift when none of a side's backends answers (unless O(force=true)).
          - Turn it off when the backends are reachable from nginx only (for example on a container network).
        type: bool
        default: true
extends_documentation_fragment:
  - artisan.upgrade.attributes
  - artisan.upgrade.exec_via
attributes:
  check_mode:
    support: full
    details: Reads the live file and probes the backends; writes, validates and reloads nothing.
  diff_mode:
    support: full
    details: The include file before and after.
  idempotent:
    support: full
notes:
  - The configuration is checked with C(nginx -T) (which prints every file it loads) and C(nginx -t) on one file
    that inlines them all with the candidate in place, written for an instant next to O(nginx.config) so that
    relative paths resolve as they do for the live configuration. The live configuration must pass C(nginx -t).
  - A reload is graceful; old workers finish their requests. C(worker_shutdown_timeout) bounds how long
    long-lived connections (WebSockets) keep an old worker, and with it the old split, alive.
  - To revert instantly, rename C(<include_path>.previous) over the include file and reload, or run the task
    again with the previous O(weight).
seealso:
  - name: nginx split_clients
    description: The sticky split used with O(nginx.mode=sticky).
    link: https://nginx.org/en/docs/http/ngx_http_split_clients_module.html
"""

EXAMPLES = r"""
- name: Send 10 % of the requests to the new version
  artisan.upgrade.canary_shift:
    provider: nginx
    weight: 10
    nginx:
      include_path: /etc/nginx/conf.d/shop-upstream.conf
      upstream: shop
      stable: [10.0.0.11:8000, 10.0.0.12:8000]
      canary: [10.0.0.21:8000]
  register: shift

- name: Keep each user on one side (split by their session cookie), nginx in a container
  artisan.upgrade.canary_shift:
    provider: nginx
    weight: 30
    exec_via:
      type: docker
      container: edge-nginx
    nginx:
      include_path: /etc/nginx/conf.d/shop-upstream.conf
      upstream: shop
      stable: [shop-v1:8000]
      canary: [shop-v2:8000]
      mode: sticky
      sticky_by: cookie
      sticky_name: session_id
      reload: docker_kill
      probe_backends: false

- name: Take one stable host out of rotation while it restarts
  artisan.upgrade.canary_shift:
    provider: nginx
    weight: 0
    nginx:
      include_path: /etc/nginx/conf.d/shop-upstream.conf
      upstream: shop
      stable: [10.0.0.11:8000, 10.0.0.12:8000]
      canary: [10.0.0.21:8000]
      drain: [10.0.0.11:8000]
      reload: systemd
"""

RETURN = r"""
weight:
  description: The requested share of the canary, in percent.
  returned: always
  type: int
  sample: 30
achieved_weight:
  description: The share the new state gives the canary, in percent (equal to O(weight) for nginx).
  returned: success
  type: int
  sample: 30
before_weight:
  description: The canary's share before the task, null when the live file was missing or not written by this module.
  returned: success
  type: int
  sample: 10
before:
  description: The split the live file recorded before the task (null when unknown).
  returned: success
  type: dict
  sample: {weight: 10, mode: weights, upstream: shop, stable: [10.0.0.11:8000], canary: [10.0.0.21:8000], drain: []}
after:
  description: The split after the task (or that would be, in check mode).
  returned: success
  type: dict
  sample: {weight: 30, mode: weights, upstream: shop, stable: [10.0.0.11:8000], canary: [10.0.0.21:8000], drain: []}
changes:
  description: What the task changed (or would change), one line each.
  returned: success
  type: list
  elements: str
  sample: ["canary weight 10 % -> 30 %"]
provider:
  description: The provider used.
  returned: success
  type: str
  sample: nginx
include_path:
  description: The include file managed.
  returned: provider is nginx
  type: str
  sample: /etc/nginx/conf.d/shop-upstream.conf
previous_path:
  description: Where the include file as it was before the last change is kept.
  returned: provider is nginx
  type: str
  sample: /etc/nginx/conf.d/shop-upstream.conf.previous
reloaded:
  description: Whether nginx was reloaded and runs the new configuration.
  returned: provider is nginx
  type: bool
  sample: true
new_workers:
  description: Pids of the nginx workers started by the reload (proof the new configuration loaded).
  returned: provider is nginx
  type: list
  elements: int
  sample: [48121]
commands:
  description: The commands run, as shell-quoted lines.
  returned: always
  type: list
  elements: str
  sample: ["cat /etc/nginx/conf.d/shop-upstream.conf", "nginx -t -q -c /etc/nginx/.nginx.conf.canary-1a2b3c4d.tmp"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.artisan.upgrade.plugins.module_utils import _canary as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _canary_nginx as nginx
from ansible_collections.artisan.upgrade.plugins.module_utils import _nginx_config as conf
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecError, exec_via_argument_spec, transport_from_params

NGINX_OPTIONS = dict(
    include_path=dict(type='path', required=True),
    upstream=dict(type='str', required=True),
    stable=dict(type='list', elements='str', required=True),
    canary=dict(type='list', elements='str', required=True),
    drain=dict(type='list', elements='str', default=[]),
    mode=dict(type='str', choices=['weights', 'sticky'], default='weights'),
    sticky_by=dict(type='str', choices=['client_address', 'cookie', 'header'], default='client_address'),
    sticky_name=dict(type='str'),
    upstream_directives=dict(type='list', elements='str', default=[]),
    config=dict(type='path', default='/etc/nginx/nginx.conf'),
    binary=dict(type='str', default='nginx'),
    reload=dict(type='str', choices=['signal', 'systemd', 'docker_kill'], default='signal'),
    service=dict(type='str', default='nginx'),
    reload_timeout=dict(type='float', default=10),
    probe_backends=dict(type='bool', default=True),
)


def argument_spec():
    spec = exec_via_argument_spec()
    spec.update(
        provider=dict(type='str', choices=['nginx'], required=True),
        weight=dict(type='int', required=True),
        force=dict(type='bool', default=False),
        nginx=dict(type='dict', options=NGINX_OPTIONS),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[('provider', 'nginx', ['nginx'])],
                           supports_check_mode=True)
    transport = transport_from_params(module.params['exec_via'], module.get_bin_path)
    host = nginx.NginxHost(transport, module.params['nginx']['binary'], module.params['nginx']['config'])
    shift = nginx.NginxShift(module.params, host, module.check_mode, warn=module.warn)
    try:
        transport.check()
        result = shift.perform()
    except nginx.CanaryError as exc:
        module.fail_json(msg=exc.msg, **dict(exc.context, commands=host.commands))
    except (decide.CanarySpecError, conf.NginxConfigError, ExecError) as exc:
        module.fail_json(msg=str(exc), commands=host.commands)
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(commands=host.commands, **result)


if __name__ == '__main__':
    main()
