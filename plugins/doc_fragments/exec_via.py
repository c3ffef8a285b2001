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
      - V(docker) runs them in a running container through C(docker exec) (the C(docker) CLI must be on
        that host). Secrets are passed into the container's environment by name, never on a command line.
    type: dict
    default: {type: local}
    suboptions:
      type:
        description:
          - The transport.
        type: str
        choices: [local, docker]
        default: local
      container:
        description:
          - Name or ID of the container to run the commands in. Required with O(exec_via.type=docker).
        type: str
      user:
        description:
          - User to run the commands as inside the container (C(docker exec --user)).
        type: str
"""
