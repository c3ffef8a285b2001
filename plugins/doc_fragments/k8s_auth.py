# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Kubernetes API connection options; the code twin is plugins/module_utils/_k8s.py:k8s_auth_argument_spec().

    The names and K8S_AUTH_* variables are those of kubernetes.core, so existing inventories and
    module_defaults carry over.
    """

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig itself as a dictionary.
      - When neither this nor O(host) is set, the default kubeconfig (E(KUBECONFIG), then C(~/.kube/config)) is read.
      - Falls back to E(K8S_AUTH_KUBECONFIG).
    type: raw
  context:
    description:
      - The kubeconfig context to use instead of its current context. Falls back to E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the API server. Overrides the kubeconfig's server; without a kubeconfig, the options alone
        describe the connection. Falls back to E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token to authenticate with. Falls back to E(K8S_AUTH_API_KEY).
    type: str
  username:
    description:
      - User name for basic authentication. Falls back to E(K8S_AUTH_USERNAME).
    type: str
  password:
    description:
      - Password for basic authentication. Falls back to E(K8S_AUTH_PASSWORD).
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Falls back to E(K8S_AUTH_VERIFY_SSL).
      - When unset, the kubeconfig decides (verification on unless it says C(insecure-skip-tls-verify)).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - CA certificate file to verify the API server with. Falls back to E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Client certificate file for TLS client authentication. Falls back to E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Key file of O(client_cert). Falls back to E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
requirements:
  - kubernetes (the official Python client) on the host the module runs on
"""
