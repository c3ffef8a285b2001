# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes connection options turned into a client configuration (no server needed)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s

kubernetes = pytest.importorskip('kubernetes')

KUBECONFIG = {
    'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'sim',
    'clusters': [{'name': 'sim', 'cluster': {'server': 'http://127.0.0.1:6443'}},
                 {'name': 'prod', 'cluster': {'server': 'https://127.0.0.1:7443', 'insecure-skip-tls-verify': True}}],
    'users': [{'name': 'u', 'user': {'token': 'tok-1'}}],
    'contexts': [{'name': 'sim', 'context': {'cluster': 'sim', 'user': 'u'}},
                 {'name': 'prod', 'context': {'cluster': 'prod', 'user': 'u'}}],
}


def params(**overrides):
    base = {name: None for name in _k8s.k8s_auth_argument_spec()}
    base.update(overrides)
    return base


def test_spec_hides_secrets_and_falls_back_to_k8s_auth_variables():
    spec = _k8s.k8s_auth_argument_spec()
    assert spec['api_key']['no_log'] and spec['password']['no_log']
    assert spec['kubeconfig']['fallback'][1] == ['K8S_AUTH_KUBECONFIG']
    assert spec['validate_certs']['aliases'] == ['verify_ssl']


def test_inline_kubeconfig_uses_its_current_context():
    config = _k8s.configuration(params(kubeconfig=KUBECONFIG))
    assert config.host == 'http://127.0.0.1:6443'
    assert config.api_key == {'BearerToken': 'Bearer tok-1'}


def test_context_selects_another_cluster():
    config = _k8s.configuration(params(kubeconfig=KUBECONFIG, context='prod'))
    assert config.host == 'https://127.0.0.1:7443'
    assert config.verify_ssl is False


def test_kubeconfig_file_and_explicit_overrides(tmp_path):
    path = tmp_path / 'config'
    path.write_text(json.dumps(KUBECONFIG))
    config = _k8s.configuration(params(kubeconfig=str(path), api_key='other', validate_certs=True))
    assert config.host == 'http://127.0.0.1:6443'
    assert config.api_key == {'BearerToken': 'Bearer other'}
    assert config.verify_ssl is True


def test_host_alone_needs_no_kubeconfig():
    config = _k8s.configuration(params(host='https://127.0.0.1:1', api_key='t', ca_cert='/ca.pem'))
    assert (config.host, config.ssl_ca_cert) == ('https://127.0.0.1:1', '/ca.pem')


def test_basic_auth_becomes_an_authorization_header():
    config = _k8s.configuration(params(host='https://127.0.0.1:1', username='admin', password='secret'))
    assert config.api_key['BearerToken'].startswith('Basic ')


@pytest.mark.parametrize('overrides, expected', [
    ({'kubeconfig': '/nonexistent/kubeconfig'}, 'cannot load kubeconfig /nonexistent/kubeconfig'),
    ({'kubeconfig': KUBECONFIG, 'context': 'nope'}, 'context "nope"'),
])
def test_unusable_kubeconfig_says_which(overrides, expected):
    with pytest.raises(_k8s.K8sError, match=expected):
        _k8s.configuration(params(**overrides))


def test_api_error_message_prefers_the_status_message():
    exc = kubernetes.client.ApiException(status=404, reason='Not Found')
    exc.body = json.dumps({'kind': 'Status', 'message': 'deployments.apps "web" not found'})
    assert _k8s.api_error_message(exc) == 'deployments.apps "web" not found (HTTP 404)'
    bare = kubernetes.client.ApiException(status=500, reason='Internal Server Error')
    assert _k8s.api_error_message(bare) == 'Internal Server Error (HTTP 500)'


def test_unreachable_is_a_transport_error_not_an_api_answer():
    import urllib3  # pylint: disable=import-outside-toplevel
    assert _k8s.is_unreachable(urllib3.exceptions.MaxRetryError(None, '/api', 'refused'))
    assert _k8s.is_unreachable(ConnectionRefusedError())
    assert not _k8s.is_unreachable(kubernetes.client.ApiException(status=404))


def test_a_missing_kubeconfig_is_named_wherever_its_path_came_from(tmp_path, monkeypatch):
    missing = str(tmp_path / 'missing')
    with pytest.raises(_k8s.K8sError, match='cannot load kubeconfig %s: no such file \\(kubeconfig\\)' % missing):
        _k8s.configuration(params(kubeconfig=missing))
    monkeypatch.setenv('KUBECONFIG', '%s:%s' % (missing, missing + '2'))
    with pytest.raises(_k8s.K8sError, match='none of these files exists \\(KUBECONFIG\\)'):
        _k8s.configuration(params())
    monkeypatch.delenv('KUBECONFIG')
    monkeypatch.setenv('HOME', str(tmp_path))
    with pytest.raises(_k8s.K8sError) as default:
        _k8s.configuration(params())
    assert str(default.value).startswith('cannot load kubeconfig ~/.kube/config (%s/.kube/config): no such file '
                                         '(the default)' % tmp_path)


def test_one_existing_file_of_kubeconfig_is_enough(tmp_path, monkeypatch):
    path = tmp_path / 'config'
    path.write_text(json.dumps(KUBECONFIG))
    monkeypatch.setenv('KUBECONFIG', '%s:%s' % (tmp_path / 'missing', path))
    assert _k8s.configuration(params()).host == 'http://127.0.0.1:6443'


def test_a_timed_out_read_is_not_sent_again():
    config = _k8s.configuration(params(host='http://127.0.0.1:1'))
    assert config.retries.read is False and config.retries.total == 3


def test_deadline_bounds_requests_and_leaves_time_to_report():
    now = [50.0]
    deadline = _k8s.Deadline(10, clock=lambda: now[0])
    assert deadline.request_timeout() == 10 and deadline.request_timeout(cap=3) == 3
    now[0] = 58.0
    assert deadline.request_timeout() == _k8s.MIN_REQUEST_TIMEOUT and deadline.left() == 2
    now[0] = 70.0
    assert deadline.request_timeout() == _k8s.MIN_REQUEST_TIMEOUT and deadline.left() == -10
