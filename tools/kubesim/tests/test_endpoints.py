"""The endpoints controllers' pure decisions: named ports resolved per pod, subsets regrouped, slice conditions."""

from __future__ import annotations

from kubesim.endpoints import endpoints_subsets, find_port, slice_endpoints


def _pod(name: str, ip: str, ports: list[dict], ready: bool = True, deleting: bool = False) -> dict:
    metadata = {'name': name, 'namespace': 'default', 'uid': 'u-' + name}
    if deleting:
        metadata['deletionTimestamp'] = '2024-01-01T00:00:00Z'
    return {'metadata': metadata, 'spec': {'nodeName': 'kubesim-node', 'containers': [{'name': 'c', 'ports': ports}]},
            'status': {'podIP': ip, 'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}}


HTTP_8080 = [{'name': 'http', 'containerPort': 8080, 'protocol': 'TCP'}]
HTTP_9090 = [{'name': 'http', 'containerPort': 9090, 'protocol': 'TCP'}]
SERVICE = {'metadata': {'name': 'web', 'namespace': 'default'},
           'spec': {'selector': {'app': 'web'}, 'ports': [{'name': 'http', 'port': 80, 'targetPort': 'http', 'protocol': 'TCP'}]}}


def test_find_port_by_number_name_and_protocol():
    pod = _pod('a', '10.0.0.1', HTTP_8080)
    assert find_port(pod, {'port': 80, 'targetPort': 81}) == 81
    assert find_port(pod, {'port': 80, 'targetPort': 'http', 'protocol': 'TCP'}) == 8080
    assert find_port(pod, {'port': 80, 'targetPort': 'http', 'protocol': 'UDP'}) is None
    assert find_port(pod, {'port': 80, 'targetPort': 'metrics'}) is None


def test_subsets_group_addresses_by_their_resolved_ports():
    pods = [_pod('a', '10.0.0.1', HTTP_8080), _pod('b', '10.0.0.2', HTTP_9090), _pod('c', '10.0.0.3', HTTP_8080, ready=False),
            _pod('d', '10.0.0.4', []), _pod('e', '10.0.0.5', HTTP_8080, deleting=True)]
    subsets = endpoints_subsets(SERVICE, pods)
    assert [([a['ip'] for a in s.get('addresses', [])], [a['ip'] for a in s.get('notReadyAddresses', [])], s['ports'])
            for s in subsets] == [(['10.0.0.1'], ['10.0.0.3'], [{'name': 'http', 'port': 8080, 'protocol': 'TCP'}]),
                                  (['10.0.0.2'], [], [{'name': 'http', 'port': 9090, 'protocol': 'TCP'}])]


def test_headless_service_without_ports_lists_addresses_only():
    service = {'metadata': SERVICE['metadata'], 'spec': {'selector': {'app': 'web'}, 'clusterIP': 'None'}}
    (subset,) = endpoints_subsets(service, [_pod('a', '10.0.0.1', [])])
    assert 'ports' not in subset and subset['addresses'][0]['ip'] == '10.0.0.1'


def test_slices_keep_terminating_pods_with_their_conditions():
    pods = [_pod('a', '10.0.0.1', HTTP_8080), _pod('e', '10.0.0.5', HTTP_8080, deleting=True),
            _pod('c', '10.0.0.3', HTTP_8080, ready=False)]
    groups = slice_endpoints(SERVICE, pods)
    assert list(groups) == ['[{"name": "http", "port": 8080, "protocol": "TCP"}]']
    endpoints = groups[list(groups)[0]]
    assert [(e['addresses'], e['conditions']) for e in endpoints] == [
        (['10.0.0.1'], {'ready': True, 'serving': True, 'terminating': False}),
        (['10.0.0.5'], {'ready': False, 'serving': True, 'terminating': True}),
        (['10.0.0.3'], {'ready': False, 'serving': False, 'terminating': False})]
