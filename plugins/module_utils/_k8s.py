# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes connection options, shared by every module that talks to an API server.

The options (``_k8s_auth.k8s_auth_argument_spec()``, re-exported here) turned into one client of the
official ``kubernetes`` library, with readable messages for the usual connection failures.
"""

from __future__ import annotations

import json
import os
import time
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils._k8s_auth import k8s_auth_argument_spec  # noqa: F401  pylint: disable=unused-import

try:
    import kubernetes
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from urllib3.util.retry import Retry
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

    class ApiException(Exception):  # type: ignore[no-redef]
        """Stand-in so that ``except ApiException`` compiles without the library."""

    class ConfigException(Exception):  # type: ignore[no-redef]
        """Stand-in so that ``except ConfigException`` compiles without the library."""


# Cap of one request's timeout; a task's deadline shortens it (Deadline.request_timeout).
REQUEST_TIMEOUT = 30.0
# What a request gets once the deadline has passed: enough to report or put something back.
MIN_REQUEST_TIMEOUT = 5.0


class K8sError(Exception):
    """A failure to reach or use the API server, with a message that says what to do."""


class Deadline:
    """When a task must be done; every request it makes waits at most the time left."""

    def __init__(self, seconds: float, clock: t.Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.at = clock() + seconds

    def left(self) -> float:
        return self.at - self.clock()

    def request_timeout(self, cap: float = REQUEST_TIMEOUT) -> float:
        """The time left, at least MIN_REQUEST_TIMEOUT (to report or undo after it) and at most ``cap``."""
        return min(cap, max(self.left(), MIN_REQUEST_TIMEOUT))


def _explicit_settings(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """Options that override (or, without a kubeconfig, replace) what a kubeconfig says."""
    settings: dict[str, t.Any] = {}
    if params.get('host'):
        settings['host'] = params['host']
    if params.get('api_key'):
        settings['api_key'] = {'BearerToken': 'Bearer %s' % params['api_key']}
    if params.get('username'):
        settings['username'] = params['username']
    if params.get('password'):
        settings['password'] = params['password']
    if params.get('validate_certs') is not None:
        settings['verify_ssl'] = params['validate_certs']
    for option, attribute in (('ca_cert', 'ssl_ca_cert'), ('client_cert', 'cert_file'), ('client_key', 'key_file')):
        if params.get(option):
            settings[attribute] = params[option]
    return settings


def uses_kubeconfig(params: dict[str, t.Any]) -> bool:
    """A kubeconfig is read unless the options alone say where the server is (host without kubeconfig)."""
    return bool(params.get('kubeconfig')) or not params.get('host')


def kubeconfig_files(kubeconfig: str | None, environ: t.Mapping[str, str] | None = None) -> tuple[str, str]:
    """(paths as kubectl reads them, where they came from): the option, else $KUBECONFIG, else ~/.kube/config."""
    environ = os.environ if environ is None else environ
    if kubeconfig:
        return kubeconfig, 'kubeconfig'
    if environ.get('KUBECONFIG'):
        return environ['KUBECONFIG'], 'KUBECONFIG'
    return '~/.kube/config', 'the default'


def missing_kubeconfig(paths: str, source: str) -> str | None:
    """Why no kubeconfig can be read from ``paths`` (a KUBECONFIG-style list), or None when one exists."""
    files = [path for path in paths.split(os.pathsep) if path]
    if any(os.path.exists(os.path.expanduser(path)) for path in files):
        return None
    shown = ', '.join(path if os.path.expanduser(path) == path else '%s (%s)' % (path, os.path.expanduser(path))
                      for path in files) or repr(paths)
    return 'cannot load kubeconfig %s: %s (%s); set kubeconfig (or K8S_AUTH_KUBECONFIG) to a kubeconfig file, or host' % (
        shown, 'no such file' if len(files) == 1 else 'none of these files exists', source)


def configuration(params: dict[str, t.Any]) -> t.Any:
    """A ``kubernetes.client.Configuration`` from a kubeconfig (file, dict, or ~/.kube/config) and the options."""
    config = kubernetes.client.Configuration()
    # A read that timed out is not sent again: each caller bounds its requests by its own deadline.
    config.retries = Retry(total=3, read=False)
    if uses_kubeconfig(params):
        kubeconfig = params.get('kubeconfig')
        try:
            if isinstance(kubeconfig, dict):
                loader = kubernetes.config.kube_config.KubeConfigLoader(
                    config_dict=kubeconfig, active_context=params.get('context'))
                loader.load_and_set(config)
            else:
                paths, source = kubeconfig_files(kubeconfig)
                missing = missing_kubeconfig(paths, source)
                if missing:
                    raise K8sError(missing)
                kubernetes.config.load_kube_config(config_file=paths, context=params.get('context'),
                                                   client_configuration=config, persist_config=False)
        except (ConfigException, OSError, ValueError, TypeError) as exc:
            raise K8sError('cannot load kubeconfig %s%s: %s' % (
                kubeconfig if isinstance(kubeconfig, str) else '(default)' if not kubeconfig else '(inline)',
                ' context "%s"' % params['context'] if params.get('context') else '', exc)) from exc
    # The client sends api_key['BearerToken'] as the Authorization header, whatever set it (a kubeconfig token,
    # api_key, or basic credentials): replacing the whole dict is what makes an option override the kubeconfig.
    for attribute, value in _explicit_settings(params).items():
        setattr(config, attribute, value)
    if params.get('username') and params.get('password'):
        config.api_key = {'BearerToken': config.get_basic_auth_token()}
    return config


def api_client(params: dict[str, t.Any]) -> t.Any:
    """An ApiClient for the connection options; raises K8sError when they cannot work."""
    if not HAS_KUBERNETES:
        raise K8sError('the kubernetes Python library is required: %s' % KUBERNETES_IMPORT_ERROR)
    return kubernetes.client.ApiClient(configuration(params))


def api_error_message(exc: BaseException) -> str:
    """The API server's own message (``deployments.apps "web" not found``) or the transport error."""
    if isinstance(exc, ApiException):
        body = getattr(exc, 'body', None)
        if body:
            try:
                status = json.loads(body)
            except (TypeError, ValueError):
                status = None
            if isinstance(status, dict) and status.get('message'):
                return '%s (HTTP %s)' % (status['message'], exc.status)
        return '%s (HTTP %s)' % (exc.reason or 'API error', exc.status)
    return str(exc)


def is_unreachable(exc: BaseException) -> bool:
    """The API server could not be reached at all (refused, DNS, TLS, timeout), as opposed to an API answer."""
    if isinstance(exc, ApiException):
        return False
    name = type(exc).__module__ + '.' + type(exc).__name__
    return name.startswith('urllib3.') or isinstance(exc, (ConnectionError, TimeoutError))


def unreachable_message(exc: BaseException) -> str:
    """The transport error, saying plainly when the server took the connection but did not answer in time."""
    if 'timed out' in str(exc).lower() or isinstance(exc, TimeoutError):
        return 'no answer in time (%s)' % exc
    return str(exc)


def server_url(client: t.Any) -> str:
    """Where the client talks to, for messages."""
    return getattr(getattr(client, 'configuration', None), 'host', '') or '(unknown server)'
