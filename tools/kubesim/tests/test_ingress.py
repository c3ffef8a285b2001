"""Ingress (networking.k8s.io/v1) is stored and served like any kind: typed client, patches, kubectl."""

from __future__ import annotations

import json
import subprocess

from kubernetes import client


def ingress(name: str, annotations: dict | None = None) -> dict:
    return {'apiVersion': 'networking.k8s.io/v1', 'kind': 'Ingress',
            'metadata': {'name': name, 'annotations': annotations or {}},
            'spec': {'ingressClassName': 'nginx', 'rules': [{'host': 'shop.example', 'http': {'paths': [
                {'path': '/', 'pathType': 'Prefix',
                 'backend': {'service': {'name': name, 'port': {'number': 80}}}}]}}]}}


def test_ingress_create_patch_list_and_kubectl(kubesim):
    api_client = kubesim.api_client()
    networking = client.NetworkingV1Api(api_client)
    created = networking.create_namespaced_ingress('default', ingress('web-canary', {
        'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '10'}))
    assert created.metadata.generation == 1 and created.spec.rules[0].http.paths[0].backend.service.name == 'web-canary'
    patched = networking.patch_namespaced_ingress('web-canary', 'default', {'metadata': {'annotations': {
        'nginx.ingress.kubernetes.io/canary-weight': '30'}}})
    assert patched.metadata.annotations['nginx.ingress.kubernetes.io/canary-weight'] == '30'
    assert patched.metadata.annotations['nginx.ingress.kubernetes.io/canary'] == 'true'
    assert [i.metadata.name for i in networking.list_namespaced_ingress('default').items] == ['web-canary']
    out = subprocess.run(['kubectl', '--kubeconfig', kubesim.kubeconfig, 'get', 'ingress', 'web-canary', '-o', 'json'],
                         capture_output=True, text=True, check=True, timeout=30)
    assert json.loads(out.stdout)['metadata']['annotations']['nginx.ingress.kubernetes.io/canary-weight'] == '30'
    networking.delete_namespaced_ingress('web-canary', 'default')
    assert networking.list_namespaced_ingress('default').items == []
    api_client.close()
