# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Where a module's commands run; the code twin is plugins/module_utils/_exec.py:exec_via_argument_spec()."""

    DOCUMENTATION = r"""
options:
  exec_via:
    description:
      - Where the client commands (for example C(pg_dump)) run. Their output is streamed to the host
        the module runs on, never held in memory.
      - V(local) runs them on the host the module runs on.
      - V(docker) runs them in a running container through the Docker Engine API's exec (as C(docker exec)), with
        the Python C(docker) SDK (7.0 or later) on the host the module runs on; no C(docker) CLI is needed. The
        engine is the one the task's environment names, as for community.docker - E(DOCKER_HOST) (default
        V(unix:///var/run/docker.sock)), and E(DOCKER_TLS_VERIFY) and E(DOCKER_CERT_PATH) for TLS (set them with
        the task's C(environment) keyword). Secrets such as E(PGPASSWORD) go in the exec's environment, never in its
        command line; stdout and stderr are kept apart and streamed.
      - V(pod) runs them in a running pod's container through the Kubernetes API's exec endpoint (as C(kubectl exec)),
        with the Python C(kubernetes) library on the host the module runs on. The cluster is the one the module's
        Kubernetes connection options say (O(kubeconfig), O(context), O(host), ...). The exec API has no environment
        field, so the commands are wrapped in C(sh -c) (the container needs a POSIX shell) that reads secrets such
        as E(PGPASSWORD) from the first lines of the exec stream's stdin, so they never appear in the exec request,
        whose URL API servers write to audit logs. Feeding stdin to a command (restores) needs the v5 exec
        protocol (Kubernetes 1.30 and later).
    type: dict
    default: {type: local}
    suboptions:
      type:
        description:
          - The transport.
        type: str
        choices: [local, docker, pod]
        default: local
      container:
        description:
          - Name or ID of the container to run the commands in. Required with O(exec_via.type=docker).
          - With O(exec_via.type=pod), the container of the pod; defaults to the pod's only container or its
            C(kubectl.kubernetes.io/default-container).
        type: str
      user:
        description:
          - User to run the commands as inside the container (C(docker exec --user)). O(exec_via.type=docker) only.
        type: str
      pod:
        description:
          - Name of the pod. Required with O(exec_via.type=pod).
        type: str
      namespace:
        description:
          - Namespace of the pod.
        type: str
        default: default
"""
