# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The attributes every artisan.upgrade module declares, so users see at a glance what is safe."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing anything.
  diff_mode:
    description: Returns the state before and after (or what would be, in check mode) in diff mode.
  idempotent:
    description: A second run with the same arguments reports no change and changes nothing.
"""

    ACTIONGROUP_HTTP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/artisan.upgrade.http) in C(module_defaults) to set shared HTTP options once.
    support: full
    membership:
      - artisan.upgrade.http
"""

    ACTIONGROUP_POSTGRES = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/artisan.upgrade.postgres) in C(module_defaults) to set the PostgreSQL connection once.
    support: full
    membership:
      - artisan.upgrade.postgres
"""

    ACTIONGROUP_K8S = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/artisan.upgrade.k8s) in C(module_defaults) to set the Kubernetes connection once.
    support: full
    membership:
      - artisan.upgrade.k8s
"""

    ACTIONGROUP_POSTGRES_K8S = r"""
options: {}
attributes:
  action_group:
    description:
      - Use C(group/artisan.upgrade.postgres) in C(module_defaults) to set the PostgreSQL connection once, and
        C(group/artisan.upgrade.k8s) to set the Kubernetes connection once; their option names never overlap.
    support: full
    membership:
      - artisan.upgrade.postgres
      - artisan.upgrade.k8s
"""
