# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes connection options of the ``artisan.upgrade.k8s_auth`` doc fragment.

Apart from _k8s.py because pg_backup and alembic_migrate take them at the top level (for ``exec_via``
type pod and Jobs) and often never talk to a cluster: importing the ``kubernetes`` library for their
argument spec would add half a second to every run.
"""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import env_fallback


def k8s_auth_argument_spec() -> dict[str, dict[str, t.Any]]:
    """The options of the ``artisan.upgrade.k8s_auth`` doc fragment, with K8S_AUTH_* fallbacks."""
    def env(name: str) -> tuple[t.Any, list[str]]:
        return (env_fallback, ['K8S_AUTH_%s' % name])

    return dict(
        kubeconfig=dict(type='raw', fallback=env('KUBECONFIG')),
        context=dict(type='str', fallback=env('CONTEXT')),
        host=dict(type='str', fallback=env('HOST')),
        api_key=dict(type='str', no_log=True, fallback=env('API_KEY')),
        username=dict(type='str', fallback=env('USERNAME')),
        password=dict(type='str', no_log=True, fallback=env('PASSWORD')),
        validate_certs=dict(type='bool', aliases=['verify_ssl'], fallback=env('VERIFY_SSL')),
        ca_cert=dict(type='path', aliases=['ssl_ca_cert'], fallback=env('SSL_CA_CERT')),
        client_cert=dict(type='path', aliases=['cert_file'], fallback=env('CERT_FILE')),
        client_key=dict(type='path', aliases=['key_file'], no_log=False, fallback=env('KEY_FILE')),
    )
