"""Endpoints and EndpointSlices of selector Services, as the endpoints and EndpointSlice controllers keep them
(pkg/controller/endpoint, pkg/controller/endpointslice, staging endpointslice reconciler, podutil.FindPort)."""

from __future__ import annotations

import json

from .history import controller_ref
from .pods import pod_finished, pod_ready
from .registry import Registry, resource_for
from .selectors import labels_match, parse_label_selector

SERVICES = resource_for('v1', 'Service')
ENDPOINTS = resource_for('v1', 'Endpoints')
ENDPOINT_SLICES = resource_for('discovery.k8s.io/v1', 'EndpointSlice')
PODS = resource_for('v1', 'Pod')
SERVICE_NAME_LABEL = 'kubernetes.io/service-name'
MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by'
SLICE_CONTROLLER = 'endpointslice-controller.k8s.io'
HEADLESS_LABEL = 'service.kubernetes.io/headless'


def find_port(pod: dict, service_port: dict) -> int | None:
    """podutil.FindPort: a numeric targetPort as is; a name looked up (with the protocol) in the pod's containers
    and its sidecars (init containers with restartPolicy Always); None when the pod has no such port."""
    target = service_port.get('targetPort', service_port.get('port'))
    if isinstance(target, int):
        return target
    protocol = service_port.get('protocol', 'TCP')
    containers = list(pod['spec'].get('containers') or [])
    containers += [item for item in pod['spec'].get('initContainers') or [] if item.get('restartPolicy') == 'Always']
    for container in containers:
        for port in container.get('ports') or []:
            if port.get('name') == target and port.get('protocol', 'TCP') == protocol:
                return port.get('containerPort')
    return None


def selected_pods(registry: Registry, service: dict) -> list[dict]:
    """Pods of the Service's namespace matching its selector that have an IP and have not ended (ShouldPodBeInEndpoints,
    terminating pods included; each controller decides about those)."""
    selector = service['spec']['selector']
    requirements = parse_label_selector(','.join('%s=%s' % item for item in sorted(selector.items())))
    return [pod for pod in registry.list(PODS, service['metadata']['namespace'])
            if labels_match(requirements, pod['metadata'].get('labels')) and (pod.get('status') or {}).get('podIP')
            and not pod_finished(pod)]


def endpoint_ports(service: dict, pod: dict) -> list[dict]:
    """The Service's ports resolved for one pod; ports the pod does not have are left out."""
    ports = []
    for service_port in service['spec'].get('ports') or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port = {'name': service_port.get('name', ''), 'port': number, 'protocol': service_port.get('protocol', 'TCP')}
        if service_port.get('appProtocol'):
            port['appProtocol'] = service_port['appProtocol']
        ports.append(port)
    return ports


def _target_ref(pod: dict) -> dict:
    metadata = pod['metadata']
    return {'kind': 'Pod', 'namespace': metadata['namespace'], 'name': metadata['name'], 'uid': metadata['uid']}


def _managed_labels(service: dict, extra: dict) -> dict:
    labels = {key: value for key, value in (service['metadata'].get('labels') or {}).items()
              if key not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)}
    if service['spec'].get('clusterIP') == 'None':
        labels[HEADLESS_LABEL] = ''
    labels.update(extra)
    return labels


def endpoints_subsets(service: dict, pods: list[dict]) -> list[dict]:
    """The endpoints controller's subsets after RepackSubsets: ports offered by the same addresses share a subset.
    Ready pods (or all, with publishNotReadyAddresses) are addresses, the others notReadyAddresses; terminating
    pods are left out unless publishNotReadyAddresses."""
    publish = bool(service['spec'].get('publishNotReadyAddresses'))
    by_port: dict[str, dict[str, tuple[dict, bool]]] = {}
    for pod in pods:
        if pod['metadata'].get('deletionTimestamp') and not publish:
            continue
        address = {'ip': pod['status']['podIP'], 'nodeName': pod['spec'].get('nodeName'), 'targetRef': _target_ref(pod)}
        # core/v1 omits an empty port name; a headless Service without ports lists its addresses without ports.
        port_keys = [json.dumps({key: value for key, value in port.items() if value != ''}, sort_keys=True)
                     for port in endpoint_ports(service, pod)]
        if not service['spec'].get('ports') and service['spec'].get('clusterIP') == 'None':
            port_keys = ['']
        for port_key in port_keys:
            by_port.setdefault(port_key, {})[address['ip']] = (address, publish or pod_ready(pod))
    groups: dict[str, tuple[list[dict], dict]] = {}
    for port_key, addresses in by_port.items():
        address_key = json.dumps(sorted((ip, ready) for ip, (_address, ready) in addresses.items()))
        ports = groups.setdefault(address_key, ([], addresses))[0]
        if port_key:
            ports.append(json.loads(port_key))
    subsets = []
    for ports, addresses in groups.values():
        subset: dict = {}
        ready = sorted((address for address, is_ready in addresses.values() if is_ready), key=lambda item: item['ip'])
        not_ready = sorted((address for address, is_ready in addresses.values() if not is_ready), key=lambda item: item['ip'])
        if ready:
            subset['addresses'] = ready
        if not_ready:
            subset['notReadyAddresses'] = not_ready
        if ports:
            subset['ports'] = sorted(ports, key=lambda item: (item.get('name', ''), item['port']))
        subsets.append(subset)
    return sorted(subsets, key=lambda item: (item.get('addresses') or item.get('notReadyAddresses'))[0]['ip'])


def slice_endpoints(service: dict, pods: list[dict]) -> dict[str, list[dict]]:
    """Endpoints per set of resolved ports (one slice each), with the ready/serving/terminating conditions."""
    publish = bool(service['spec'].get('publishNotReadyAddresses'))
    groups: dict[str, list[dict]] = {}
    for pod in pods:
        ports = endpoint_ports(service, pod)
        if not ports and service['spec'].get('ports'):
            continue
        serving = pod_ready(pod)
        terminating = bool(pod['metadata'].get('deletionTimestamp'))
        endpoint = {'addresses': [pod['status']['podIP']],
                    'conditions': {'ready': publish or (serving and not terminating), 'serving': serving,
                                   'terminating': terminating},
                    'targetRef': _target_ref(pod)}
        if pod['spec'].get('nodeName'):
            endpoint['nodeName'] = pod['spec']['nodeName']
        groups.setdefault(json.dumps(ports), []).append(endpoint)
    return groups


class EndpointsController:
    """Keeps an Endpoints object per selector Service, and deletes the ones it made when their Service goes."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.managed: set[tuple[str, str]] = set()

    def reconcile(self) -> None:
        services = set()
        for service in self.registry.list(SERVICES):
            if not service['spec'].get('selector'):
                continue
            namespace, name = service['metadata']['namespace'], service['metadata']['name']
            services.add((namespace, name))
            self.managed.add((namespace, name))
            wanted = {'metadata': {'name': name}}
            labels = _managed_labels(service, {})
            if labels:
                wanted['metadata']['labels'] = labels
            subsets = endpoints_subsets(service, selected_pods(self.registry, service))
            if subsets:
                wanted['subsets'] = subsets
            current = self.registry.find(ENDPOINTS, namespace, name)
            if current is None:
                self.registry.create(ENDPOINTS, namespace, wanted)
            elif current.get('subsets') != wanted.get('subsets') or current['metadata'].get('labels') != wanted['metadata'].get('labels'):
                current.pop('subsets', None)
                current.update({key: value for key, value in wanted.items() if key == 'subsets'})
                current['metadata']['labels'] = wanted['metadata'].get('labels')
                self.registry.update(ENDPOINTS, namespace, name, current)
        for namespace, name in sorted(self.managed - services):
            self.managed.discard((namespace, name))
            self.registry.remove(ENDPOINTS, namespace, name)


class EndpointSliceController:
    """One EndpointSlice per set of resolved ports of a selector Service (a placeholder without endpoints when
    it has none), named <service>-<random>, owned by the Service; changed slices are updated in place."""

    def __init__(self, registry: Registry):
        self.registry = registry

    def reconcile(self) -> None:
        for service in self.registry.list(SERVICES):
            if service['spec'].get('selector') and not service['metadata'].get('deletionTimestamp'):
                self.sync(service)

    def sync(self, service: dict) -> None:
        namespace, name = service['metadata']['namespace'], service['metadata']['name']
        labels = _managed_labels(service, {SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: SLICE_CONTROLLER})
        existing = [item for item in self.registry.owned_by(ENDPOINT_SLICES, service)
                    if (item['metadata'].get('labels') or {}).get(MANAGED_BY_LABEL) == SLICE_CONTROLLER]
        wanted = [{'ports': json.loads(ports), 'endpoints': endpoints}
                  for ports, endpoints in slice_endpoints(service, selected_pods(self.registry, service)).items()]
        if not wanted:
            wanted = [{'ports': None, 'endpoints': None}]  # the placeholder slice; empty lists come back as null
        unmatched = []
        for body in wanted:
            match = next((item for item in existing if item.get('ports') == body['ports']), None)
            if match is None:
                unmatched.append(body)
                continue
            existing.remove(match)
            self._write(match, body, labels)
        for body in unmatched:
            if existing:
                self._write(existing.pop(0), body, labels)
            else:
                self.registry.create(ENDPOINT_SLICES, namespace, {
                    'metadata': {'generateName': name + '-', 'labels': labels, 'ownerReferences': [controller_ref(service)]},
                    'addressType': 'IPv4', 'endpoints': body['endpoints'], 'ports': body['ports']})
        for item in existing:
            self.registry.remove(ENDPOINT_SLICES, namespace, item['metadata']['name'])

    def _write(self, current: dict, body: dict, labels: dict) -> None:
        if (current.get('endpoints'), current.get('ports'), current['metadata'].get('labels')) == (body['endpoints'], body['ports'], labels):
            return
        current.update(body)
        current['metadata']['labels'] = labels
        self.registry.update(ENDPOINT_SLICES, current['metadata']['namespace'], current['metadata']['name'], current)
