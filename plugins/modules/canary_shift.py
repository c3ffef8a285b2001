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
    the live file (by an atomic rename, the old one kept as O(nginx.previous_path)), then nginx is reloaded
    gracefully and the module waits until the master runs workers of the new configuration. By default the task
    fails when nginx is not running (see O(nginx.require_running)).
  - With O(provider=k8s_replicas), a constant number of pods (O(k8s_replicas.total)) is split between a stable and a
    canary Deployment behind one Service, the canary getting round(total x weight) of them (rounding to whole pods,
    as Argo Rollouts does; RV(achieved_weight) says the share that gives). The side that grows is scaled first and
    the module waits until its pods are available before it shrinks the other, so capacity never dips.
  - With O(provider=k8s_ingress_nginx), a canary Ingress (a copy of the main Ingress's hosts and paths pointing at the
    canary Service) is created or patched with the ingress-nginx canary annotations (weight, by header, by cookie).
  - With O(provider=k8s_service), a Service's selector is switched between two versions (blue-green, so O(weight) is
    V(0) or V(100)) once the target version has Ready pods, and the module waits until the Service's endpoints
    are the target's pods.
  - Idempotent. When the live state already gives the requested share nothing is written, scaled nor reloaded.
  - A shift towards a side with no healthy backend is refused unless O(force=true), that is no backend accepting a TCP
    connection (nginx), no Ready endpoint (ingress-nginx), no Ready pod (Service); for O(provider=k8s_replicas) the
    growing side must become available or the task fails and scales it back (within O(k8s_replicas.failure_grace)
    seconds when its pods crash or cannot pull their image).
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - nginx, C(sh), C(cat), C(cp), C(mv) where the commands run (O(exec_via)); Linux C(/proc) to watch the workers
  - the C(kubernetes) Python library for the Kubernetes providers and O(exec_via.type=pod)
  - the C(docker) Python SDK (7.0 or later) for O(exec_via.type=docker)
options:
  provider:
    description:
      - What routes the traffic. V(nginx) rewrites an nginx include file and reloads nginx.
      - V(k8s_replicas) scales two Deployments; V(k8s_ingress_nginx) writes a canary Ingress; V(k8s_service) switches a
        Service's selector.
    type: str
    choices: [nginx, k8s_replicas, k8s_ingress_nginx, k8s_service]
    required: true
  weight:
    description:
      - Percentage of the traffic for the canary, from V(0) (all stable) to V(100) (all canary).
    type: int
    required: true
  force:
    description:
      - Shift even when a side that would receive traffic has no healthy backend.
      - With O(provider=k8s_replicas), scale both Deployments without waiting for the growing one to be available.
    type: bool
    default: false
  namespace:
    description:
      - Namespace of the Kubernetes objects.
    type: str
    default: default
  wait_timeout:
    description:
      - Seconds the Kubernetes providers wait for pods to become available or for a Service's endpoints to follow.
      - It bounds the whole task - every request to the API server waits at most the time left, so an API server that
        does not answer fails the task after about this long. Putting things back after a failed wait gets a few
        seconds more.
    type: float
    default: 300
  exec_via:
    description:
      - Where the nginx commands run, with O(provider=nginx) only - C(nginx -T) and C(nginx -t) to check the
        configuration, the reload, and the C(sh), C(cat), C(cp) and C(mv) that read, back up and replace the include
        file (the new file is sent on the command's stdin).
      - V(local) runs them on the host the module runs on.
      - V(docker) runs them in the running nginx container through the Docker Engine API's exec (as C(docker exec)),
        with the Python C(docker) SDK on the host the module runs on; the engine is the one E(DOCKER_HOST) (and
        E(DOCKER_TLS_VERIFY), E(DOCKER_CERT_PATH)) in the task's environment names.
      - V(pod) runs them in the nginx container of a running pod through the Kubernetes API's exec endpoint (as
        C(kubectl exec)), with the Python C(kubernetes) library on the host the module runs on, on the cluster the
        Kubernetes connection options say (O(kubeconfig), O(context), ...); the container needs a POSIX shell, and
        sending the new file on stdin needs the v5 exec protocol (Kubernetes 1.30 and later).
  k8s_replicas:
    description:
      - The two Deployments. Required with O(provider=k8s_replicas).
    type: dict
    suboptions:
      stable:
        description:
          - Name of the Deployment of the current version.
        type: str
        required: true
      canary:
        description:
          - Name of the Deployment of the new version.
        type: str
        required: true
      total:
        description:
          - Number of pods of both Deployments together, kept constant (at least 1).
        type: int
        required: true
      failure_grace:
        description:
          - Seconds a pod of the Deployment that grows may show a failure reason (C(CrashLoopBackOff),
            C(ImagePullBackOff), C(ErrImagePull), C(CreateContainerConfigError), ...) before the wait for its pods
            gives up, scales it back and fails naming the pod, its problem and how long it lasted; the same rule as
            M(artisan.upgrade.k8s_rollout)'s O(artisan.upgrade.k8s_rollout#module:failure_grace). A pod that recovers
            meanwhile is forgiven. Without a failing pod the wait ends at O(wait_timeout) or the Deployment's
            progress deadline.
        type: int
        default: 30
  k8s_ingress_nginx:
    description:
      - The canary Ingress. Required with O(provider=k8s_ingress_nginx).
    type: dict
    suboptions:
      ingress:
        description:
          - Name of the main Ingress (routing to the stable Service). Its hosts, paths, TLS and class are copied.
        type: str
        required: true
      canary_ingress:
        description:
          - Name of the canary Ingress. Defaults to C(<ingress>-canary).
        type: str
      service:
        description:
          - Name of the canary Service every path of the canary Ingress routes to.
        type: str
        required: true
      port:
        description:
          - Port of the canary Service, a number or a port name. Defaults to the port of each path of the main Ingress.
        type: raw
      header:
        description:
          - Request header that sends a request to the canary when its value is C(always) (or O(k8s_ingress_nginx.header_value)),
            and to stable when it is C(never), whatever the weight.
        type: str
      header_value:
        description:
          - Value of O(k8s_ingress_nginx.header) that selects the canary.
        type: str
      cookie:
        description:
          - Cookie that sends a request to the canary when its value is C(always) and to stable when it is C(never).
        type: str
      state:
        description:
          - V(present) creates or patches the canary Ingress.
          - V(absent) deletes it, at the end of a canary or when it is aborted; it needs O(weight=0).
        type: str
        choices: [present, absent]
        default: present
  k8s_service:
    description:
      - The blue-green Service. Required with O(provider=k8s_service).
    type: dict
    suboptions:
      name:
        description:
          - Name of the Service.
        type: str
        required: true
      stable_selector:
        description:
          - Pod labels of the current version, the Service's selector at O(weight=0).
        type: dict
        required: true
      canary_selector:
        description:
          - Pod labels of the new version, the Service's selector at O(weight=100).
        type: dict
        required: true
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
            variable C($<name>_upstream) (or O(nginx.split_variable)) that C(split_clients) sets, to
            C(proxy_pass http://$<name>_upstream;) to.
        type: str
        required: true
      split_variable:
        description:
          - With O(nginx.mode=sticky), the name of the variable C(split_clients) sets (without the C($)), for a
            C(proxy_pass) that already uses another name, such as C($backend) in a hand-written split.
          - Defaults to C(<upstream>_upstream).
        type: str
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
            V(keepalive 32). V([]) removes them all.
          - When omitted, the directives other than C(server) that the upstreams of the live file carry are kept,
            including those of a hand-written file taken over. The task fails when its upstreams carry different
            values of one directive; give the list then.
        type: list
        elements: str
      previous_path:
        description:
          - Where the live file is copied before it is replaced, to put it back when the reload does not take.
          - Defaults to C(.<name>.previous) beside O(nginx.include_path), a hidden name that no C(*) include pattern
            loads (Debian's C(include /etc/nginx/sites-enabled/*;) loads every other file of that folder). A path any
            C(include) of the configuration would load is refused. Its folder is created when missing.
        type: path
      require_running:
        description:
          - Fail, writing nothing, when nginx is not running, since no traffic would move.
          - V(false) writes the file anyway (checked with C(nginx -t)) for nginx to read when it starts, with a warning.
        type: bool
        default: true
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
          - V(docker_kill) sends SIGHUP to the container named by O(exec_via.container) through the Docker Engine
            API (as C(docker kill --signal HUP <container>)), for nginx as the main process of that container
            (O(exec_via.type=docker)).
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
  - artisan.upgrade.attributes.actiongroup_k8s
  - artisan.upgrade.exec_via
  - artisan.upgrade.k8s_auth
attributes:
  check_mode:
    support: full
    details: Reads the live state (for nginx also C(nginx -T) and whether it runs) and probes the backends; writes,
      validates, scales and reloads nothing.
  diff_mode:
    support: full
    details: The nginx include file, the replicas, the canary Ingress's annotations and spec, or the selector, before and after.
  idempotent:
    support: full
notes:
  - The configuration is checked with C(nginx -T) (which prints every file it loads) and C(nginx -t) on one file
    that inlines them all with the candidate in place, written for an instant next to O(nginx.config) so that
    relative paths resolve as they do for the live configuration. The live configuration must pass C(nginx -t).
  - A reload is graceful; old workers finish their requests. C(worker_shutdown_timeout) bounds how long
    long-lived connections (WebSockets) keep an old worker, and with it the old split, alive.
  - To revert instantly, copy RV(previous_path) over the include file and reload, or run the task again with the
    previous O(weight).
  - After the new file is in place and before the reload, C(nginx -T) must list exactly the files it listed before
    (plus the include file when it is new); otherwise the previous file is put back and the task fails.
  - Taking over a hand-written split (such as C(split_clients $remote_addr $backend { 10% app_v2; * app_v1; })) -
    move anything that is not an C(upstream) or C(split_clients) (a C(server) block, a C(map) other than one setting
    the split's variable) to another file first, since the module rewrites the file as a whole and refuses a file
    holding more. Then run it with O(nginx.mode=sticky), O(nginx.sticky_by=client_address) and O(nginx.split_variable=backend) so that
    C(proxy_pass http://$backend;) keeps working. The first run warns that it takes the file over and names
    what it replaces; directives such as C(keepalive) in the old upstreams are kept (see O(nginx.upstream_directives));
    the upstreams are renamed C(<upstream>_stable) and C(<upstream>_canary). Run it in check mode with C(--diff) first.
  - The Kubernetes connection options (O(kubeconfig), O(context), O(host), ...) are used by the Kubernetes providers,
    and by the nginx provider with O(exec_via.type=pod); O(exec_via) is used by the nginx provider only.
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

- name: Take over the runbook's hand-written split (its server block moved to sites-enabled/covet first)
  artisan.upgrade.canary_shift:
    provider: nginx
    weight: 10
    nginx:
      include_path: /etc/nginx/sites-enabled/covet-split
      upstream: covet
      stable: [v1.internal:8000]
      canary: [v2.internal:8000]
      mode: sticky
      sticky_by: client_address
      split_variable: backend  # proxy_pass http://$backend; stays as it is

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

- name: Three of ten pods on the new version (stable 7, canary 3)
  artisan.upgrade.canary_shift:
    provider: k8s_replicas
    weight: 30
    namespace: shop
    k8s_replicas:
      stable: shop-v1
      canary: shop-v2
      total: 10

- name: ingress-nginx sends 20 % to the canary, and testers get it with a header
  artisan.upgrade.canary_shift:
    provider: k8s_ingress_nginx
    weight: 20
    namespace: shop
    k8s_ingress_nginx:
      ingress: shop
      service: shop-v2
      header: X-Canary

- name: The canary is over (or aborted) - its Ingress is removed
  artisan.upgrade.canary_shift:
    provider: k8s_ingress_nginx
    weight: 0
    namespace: shop
    k8s_ingress_nginx:
      ingress: shop
      service: shop-v2
      state: absent

- name: Blue-green switch of the Service to version 2
  artisan.upgrade.canary_shift:
    provider: k8s_service
    weight: 100
    namespace: shop
    k8s_service:
      name: shop
      stable_selector: {app: shop, version: "1"}
      canary_selector: {app: shop, version: "2"}
"""

RETURN = r"""
weight:
  description: The requested share of the canary, in percent.
  returned: always
  type: int
  sample: 30
achieved_weight:
  description:
    - The share the new state gives the canary, in percent. With O(provider=k8s_replicas) the share of the pods
      (whole pods, so 33.33 for 1 of 3); else equal to O(weight).
    - When a Kubernetes shift is refused or put back after a failed wait, the task fails with the share the live
      state still gives (RV(before_weight)), and RV(after) equal to RV(before).
  returned: success
  type: float
  sample: 30
before_weight:
  description:
    - The canary's share before the task, null when unknown (no file or Ingress yet, a file not written by this module,
      a selector that is neither side).
  returned: success
  type: float
  sample: 10
before:
  description:
    - The state before the task (null when unknown). nginx - the split the live file recorded; k8s_replicas - the
      replicas per side; k8s_ingress_nginx - the canary annotations and spec; k8s_service - the selector.
  returned: success
  type: dict
  sample: {weight: 10, mode: weights, upstream: shop, stable: [10.0.0.11:8000], canary: [10.0.0.21:8000], drain: []}
after:
  description: The state after the task (or that would be, in check mode), in the same form as RV(before).
  returned: success
  type: dict
  sample: {stable: 7, canary: 3}
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
  description: Where the include file as it was before the last change is kept (O(nginx.previous_path)).
  returned: provider is nginx
  type: str
  sample: /etc/nginx/conf.d/.shop-upstream.conf.previous
reloaded:
  description: Whether nginx was reloaded and runs the new configuration (false when nothing changed, or nginx was not
    running and O(nginx.require_running=false)).
  returned: provider is nginx
  type: bool
  sample: true
new_workers:
  description: Pids of the nginx workers started by the reload (proof the new configuration loaded).
  returned: provider is nginx
  type: list
  elements: int
  sample: [48121]
ingress:
  description: The canary Ingress.
  returned: provider is k8s_ingress_nginx
  type: str
  sample: shop-canary
service:
  description: The Service switched.
  returned: provider is k8s_service
  type: str
  sample: shop
ready_endpoints:
  description: Ready pods of the side the Service is switched to.
  returned: provider is k8s_service and the selector changes
  type: int
  sample: 3
commands:
  description:
    - What the task ran, in order (command lines shell-quoted, SQL statements, Kubernetes API calls as C(METHOD path),
      HTTP requests as C(METHOD URL)), with secrets (passwords, tokens, URLs that hold them) replaced by C(********).
      Returned on failure and in check mode too.
    - canary_shift lists, for nginx, the commands run where nginx runs (the read repeated while it waits for new
      workers appears once, with its count); for Kubernetes, the requests sent to the API server (reads and
      watches included).
  returned: always
  type: list
  elements: str
  sample: ["cat /etc/nginx/conf.d/shop-upstream.conf", "nginx -t -q -c /etc/nginx/.nginx.conf.canary-1a2b3c4d.tmp"]
duration:
  description: Seconds the task took, as a float. Returned on failure and in check mode too.
  returned: always
  type: float
  sample: 0.41
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.artisan.upgrade.plugins.module_utils import _canary as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _canary_k8s as k8s
from ansible_collections.artisan.upgrade.plugins.module_utils import _canary_nginx as nginx
from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s
from ansible_collections.artisan.upgrade.plugins.module_utils import _nginx_config as conf
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecError, exec_via_argument_spec, transport_from_params
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

NGINX_OPTIONS = dict(
    include_path=dict(type='path', required=True),
    upstream=dict(type='str', required=True),
    stable=dict(type='list', elements='str', required=True),
    canary=dict(type='list', elements='str', required=True),
    drain=dict(type='list', elements='str', default=[]),
    mode=dict(type='str', choices=['weights', 'sticky'], default='weights'),
    sticky_by=dict(type='str', choices=['client_address', 'cookie', 'header'], default='client_address'),
    sticky_name=dict(type='str'),
    upstream_directives=dict(type='list', elements='str'),
    split_variable=dict(type='str'),
    previous_path=dict(type='path'),
    require_running=dict(type='bool', default=True),
    config=dict(type='path', default='/etc/nginx/nginx.conf'),
    binary=dict(type='str', default='nginx'),
    reload=dict(type='str', choices=['signal', 'systemd', 'docker_kill'], default='signal'),
    service=dict(type='str', default='nginx'),
    reload_timeout=dict(type='float', default=10),
    probe_backends=dict(type='bool', default=True),
)


K8S_REPLICAS_OPTIONS = dict(
    stable=dict(type='str', required=True),
    canary=dict(type='str', required=True),
    total=dict(type='int', required=True),
    failure_grace=dict(type='int', default=30),
)

K8S_INGRESS_NGINX_OPTIONS = dict(
    ingress=dict(type='str', required=True),
    canary_ingress=dict(type='str'),
    service=dict(type='str', required=True),
    port=dict(type='raw'),
    header=dict(type='str'),
    header_value=dict(type='str'),
    cookie=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)

K8S_SERVICE_OPTIONS = dict(
    name=dict(type='str', required=True),
    stable_selector=dict(type='dict', required=True),
    canary_selector=dict(type='dict', required=True),
)


def argument_spec():
    spec = exec_via_argument_spec()
    spec.update(_k8s.k8s_auth_argument_spec())
    spec.update(
        provider=dict(type='str', choices=['nginx', 'k8s_replicas', 'k8s_ingress_nginx', 'k8s_service'], required=True),
        weight=dict(type='int', required=True),
        force=dict(type='bool', default=False),
        namespace=dict(type='str', default='default'),
        wait_timeout=dict(type='float', default=300),
        nginx=dict(type='dict', options=NGINX_OPTIONS),
        k8s_replicas=dict(type='dict', options=K8S_REPLICAS_OPTIONS),
        k8s_ingress_nginx=dict(type='dict', options=K8S_INGRESS_NGINX_OPTIONS, required_by={'header_value': 'header'}),
        k8s_service=dict(type='dict', options=K8S_SERVICE_OPTIONS),
    )
    return spec


def shift_nginx(module, run):
    transport = transport_from_params(module.params)
    host = nginx.NginxHost(transport, module.params['nginx']['binary'], module.params['nginx']['config'], run)
    try:
        transport.check()
        return nginx.NginxShift(module.params, host, module.check_mode, warn=module.warn).perform()
    except (decide.CanarySpecError, conf.NginxConfigError, ExecError) as exc:
        raise ModuleFailure(str(exc)) from None


def shift_k8s(module, run):
    params = module.params
    if not _k8s.HAS_KUBERNETES:
        raise ModuleFailure(missing_required_lib('kubernetes'), exception=str(_k8s.KUBERNETES_IMPORT_ERROR))
    kube = None
    try:
        # Every API call of the task waits at most until wait_timeout has passed; each is recorded in the run.
        kube = _k8s.Kube.from_params(params, _k8s.Deadline(params['wait_timeout']), run)
        shift = k8s.PROVIDERS[params['provider']](params, k8s.Cluster(kube, params['namespace']), module.check_mode,
                                                  warn=module.warn)
        return shift.perform()
    except decide.CanarySpecError as exc:
        raise ModuleFailure(str(exc)) from None
    finally:
        if kube is not None:
            kube.client.close()


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[('provider', name, [name]) for name in ('nginx', 'k8s_replicas', 'k8s_ingress_nginx', 'k8s_service')],
        supports_check_mode=True,
    )
    run = Run(secrets=[module.params.get('api_key'), module.params.get('password')])
    shift = shift_nginx if module.params['provider'] == 'nginx' else shift_k8s
    failed = False
    try:
        result = shift(module, run)
        result = run.envelope(result.pop('changed'), result.pop('msg'), **result)
    except ModuleFailure as exc:
        result, failed = run.failure(exc), True
    if not module._diff:
        result.pop('diff', None)
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
