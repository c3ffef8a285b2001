"""The kinds the simulator serves: discovery facts, defaulting and validation as the API server applies them."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field

from . import errors
from .selectors import labels_match, selector_from_label_selector

ALL_VERBS = ('create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch')


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # Whether metadata.generation is kept (workload kinds) and whether annotations bump it (Deployment only).
    generation: bool = False
    annotations_bump_generation: bool = False
    verbs: tuple[str, ...] = ALL_VERBS
    field_selectors: tuple[str, ...] = field(default=('metadata.name', 'metadata.namespace'))

    @property
    def api_version(self) -> str:
        return '%s/%s' % (self.group, self.version) if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def singular(self) -> str:
        return self.kind.lower()


_EVENT_FIELDS = ('metadata.name', 'metadata.namespace', 'involvedObject.kind', 'involvedObject.namespace',
                 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion',
                 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source',
                 'type')
_POD_FIELDS = ('metadata.name', 'metadata.namespace', 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName',
               'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName')

RESOURCES = (
    Resource('', 'v1', 'namespaces', 'Namespace', namespaced=False, short_names=('ns',), subresources=('status',)),
    Resource('', 'v1', 'nodes', 'Node', namespaced=False, short_names=('no',), subresources=('status',)),
    Resource('', 'v1', 'pods', 'Pod', short_names=('po',), categories=('all',), subresources=('status', 'log', 'exec'),
             field_selectors=_POD_FIELDS),
    Resource('', 'v1', 'services', 'Service', short_names=('svc',), categories=('all',), subresources=('status',)),
    Resource('', 'v1', 'endpoints', 'Endpoints', short_names=('ep',)),
    Resource('', 'v1', 'configmaps', 'ConfigMap', short_names=('cm',)),
    Resource('', 'v1', 'secrets', 'Secret'),
    # Stored as written, reported Bound: no volumes are provisioned.
    Resource('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', short_names=('pvc',), subresources=('status',)),
    Resource('', 'v1', 'serviceaccounts', 'ServiceAccount', short_names=('sa',)),
    Resource('', 'v1', 'events', 'Event', short_names=('ev',), field_selectors=_EVENT_FIELDS),
    Resource('apps', 'v1', 'deployments', 'Deployment', short_names=('deploy',), categories=('all',),
             subresources=('status', 'scale'), generation=True, annotations_bump_generation=True),
    Resource('apps', 'v1', 'replicasets', 'ReplicaSet', short_names=('rs',), categories=('all',),
             subresources=('status', 'scale'), generation=True),
    Resource('apps', 'v1', 'statefulsets', 'StatefulSet', short_names=('sts',), categories=('all',),
             subresources=('status', 'scale'), generation=True),
    Resource('apps', 'v1', 'daemonsets', 'DaemonSet', short_names=('ds',), categories=('all',),
             subresources=('status',), generation=True),
    Resource('apps', 'v1', 'controllerrevisions', 'ControllerRevision'),
    Resource('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
    Resource('batch', 'v1', 'jobs', 'Job', categories=('all',), subresources=('status',), generation=True),
    # Stored as written (no controller): an ingress controller is out of the simulator's scope.
    Resource('networking.k8s.io', 'v1', 'ingresses', 'Ingress', short_names=('ing',), subresources=('status',),
             generation=True),
)
BY_PATH = {(resource.group, resource.version, resource.plural): resource for resource in RESOURCES}
BY_KIND = {(resource.api_version, resource.kind): resource for resource in RESOURCES}
GROUP_VERSIONS = {'': ['v1'], 'apps': ['v1'], 'batch': ['v1'], 'discovery.k8s.io': ['v1'], 'networking.k8s.io': ['v1']}

_DNS1123_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
_DNS1123_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')


def _image_pull_policy(image: str) -> str:
    """Always for `:latest` or untagged images, else IfNotPresent (core/v1 defaults)."""
    reference = image.split('@')[0]
    tag = reference.rsplit(':', 1)[1] if ':' in reference.rsplit('/', 1)[-1] else ''
    return 'Always' if '@' not in image and tag in ('', 'latest') else 'IfNotPresent'


def _default_probe(probe: dict | None) -> None:
    if not probe:
        return
    for key, value in (('timeoutSeconds', 1), ('periodSeconds', 10), ('successThreshold', 1), ('failureThreshold', 3)):
        probe.setdefault(key, value)
    if 'httpGet' in probe:
        probe['httpGet'].setdefault('path', '/')
        probe['httpGet'].setdefault('scheme', 'HTTP')


def default_pod_spec(spec: dict, template: bool) -> None:
    """SetDefaults_PodSpec and container defaults; admission-time pod fields only for real pods."""
    spec.setdefault('restartPolicy', 'Always')
    spec.setdefault('terminationGracePeriodSeconds', 30)
    spec.setdefault('dnsPolicy', 'ClusterFirst')
    spec.setdefault('securityContext', {})
    spec.setdefault('schedulerName', 'default-scheduler')
    for key in ('containers', 'initContainers'):
        for container in spec.get(key) or []:
            container.setdefault('terminationMessagePath', '/dev/termination-log')
            container.setdefault('terminationMessagePolicy', 'File')
            container.setdefault('imagePullPolicy', _image_pull_policy(container.get('image') or ''))
            container.setdefault('resources', {})
            for port in container.get('ports') or []:
                port.setdefault('protocol', 'TCP')
            for probe in ('livenessProbe', 'readinessProbe', 'startupProbe'):
                _default_probe(container.get(probe))
            for env in container.get('env') or []:
                if isinstance(env.get('valueFrom'), dict) and 'fieldRef' in env['valueFrom']:
                    env['valueFrom']['fieldRef'].setdefault('apiVersion', 'v1')
    if not template:
        spec.setdefault('serviceAccountName', 'default')
        spec.setdefault('serviceAccount', spec['serviceAccountName'])
        spec.setdefault('enableServiceLinks', True)
        spec.setdefault('priority', 0)
        spec.setdefault('preemptionPolicy', 'PreemptLowerPriority')
        spec.setdefault('tolerations', [
            {'key': 'node.kubernetes.io/not-ready', 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': 300},
            {'key': 'node.kubernetes.io/unreachable', 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': 300},
        ])


def strip_nulls(value) -> None:
    """Decoding into Go structs drops JSON nulls: an absent field and a null one are the same object (in place)."""
    if isinstance(value, dict):
        for key in [key for key, item in value.items() if item is None]:
            del value[key]
        for item in value.values():
            strip_nulls(item)
    elif isinstance(value, list):
        for item in value:
            strip_nulls(item)


# Fields of the Go types whose JSON tag has omitempty on a non-pointer type: the API server never shows them
# at their zero value (pointers such as replicas, revisionHistoryLimit or partition keep an explicit 0).
_OMITTED_WHEN_FALSE = frozenset(('paused', 'hostNetwork', 'hostPID', 'hostIPC', 'stdin', 'stdinOnce', 'tty',
                                 'publishNotReadyAddresses', 'volumeMounts.readOnly'))
_OMITTED_WHEN_ZERO = frozenset(('minReadySeconds', 'hostPort', 'nodePort', 'initialDelaySeconds', 'timeoutSeconds',
                                'periodSeconds', 'successThreshold', 'failureThreshold'))
_OMITTED_WHEN_EMPTY = frozenset(('labels', 'annotations', 'ownerReferences', 'finalizers', 'generateName', 'volumes',
                                 'initContainers', 'imagePullSecrets', 'nodeSelector', 'command', 'args', 'ports', 'env',
                                 'envFrom', 'volumeMounts', 'matchLabels', 'matchExpressions', 'externalIPs', 'workingDir',
                                 'nodeName', 'serviceAccountName', 'hostname', 'subdomain', 'priorityClassName', 'hostIP'))
# Maps of user strings: their keys are not field names.
_USER_MAPS = frozenset(('labels', 'annotations', 'matchLabels', 'nodeSelector', 'selector', 'data', 'binaryData'))


def _omitted(path: str, key: str, value) -> bool:
    if value is False:
        return key in _OMITTED_WHEN_FALSE or path in _OMITTED_WHEN_FALSE
    if value == 0 and isinstance(value, int) and not isinstance(value, bool):
        return key in _OMITTED_WHEN_ZERO
    return value in ('', [], {}) and key in _OMITTED_WHEN_EMPTY


def drop_omitted_zeros(value, parent: str = '') -> None:
    """Remove zero values of omitempty fields (in place), as a decode/encode round trip through the Go types does."""
    if isinstance(value, list):
        for item in value:
            drop_omitted_zeros(item, parent)
        return
    if not isinstance(value, dict):
        return
    for key in list(value):
        if _omitted('%s.%s' % (parent, key), key, value[key]):
            del value[key]
        elif key not in _USER_MAPS:
            drop_omitted_zeros(value[key], key)


def _default_template(obj: dict) -> None:
    template = obj.setdefault('spec', {}).setdefault('template', {})
    # A zero metav1.Time serialises as null, so every pod template carries `creationTimestamp: null` (as in 1.32).
    template.setdefault('metadata', {})['creationTimestamp'] = None
    default_pod_spec(template.setdefault('spec', {}), template=True)


def apply_defaults(resource: Resource, obj: dict) -> None:
    """Defaulting the API server does on every create and update (idempotent)."""
    kind = resource.kind
    strip_nulls(obj.get('metadata'))
    strip_nulls(obj.get('spec'))
    # Before defaulting: a zero that is omitted is also "unset" for the defaults (a probe's periodSeconds: 0 becomes 10).
    drop_omitted_zeros(obj.get('metadata'))
    drop_omitted_zeros(obj.get('spec'))
    if kind == 'Service' and not (obj.get('spec') or {}).get('selector'):
        obj.get('spec', {}).pop('selector', None)
    if kind in ('ConfigMap', 'Secret'):
        for key in ('data', 'binaryData'):
            if obj.get(key) == {}:
                del obj[key]
    if kind == 'Deployment':
        spec = obj.setdefault('spec', {})
        spec.setdefault('replicas', 1)
        strategy = spec.setdefault('strategy', {})
        strategy.setdefault('type', 'RollingUpdate')
        if strategy['type'] == 'RollingUpdate':
            rolling = strategy.setdefault('rollingUpdate', {})
            rolling.setdefault('maxUnavailable', '25%')
            rolling.setdefault('maxSurge', '25%')
        spec.setdefault('revisionHistoryLimit', 10)
        spec.setdefault('progressDeadlineSeconds', 600)
        _default_template(obj)
    elif kind == 'ReplicaSet':
        obj.setdefault('spec', {}).setdefault('replicas', 1)
        _default_template(obj)
    elif kind == 'StatefulSet':
        spec = obj.setdefault('spec', {})
        spec.setdefault('replicas', 1)
        spec.setdefault('podManagementPolicy', 'OrderedReady')
        strategy = spec.setdefault('updateStrategy', {})
        strategy.setdefault('type', 'RollingUpdate')
        if strategy['type'] == 'RollingUpdate':
            strategy.setdefault('rollingUpdate', {}).setdefault('partition', 0)
        spec.setdefault('revisionHistoryLimit', 10)
        spec.setdefault('persistentVolumeClaimRetentionPolicy', {'whenDeleted': 'Retain', 'whenScaled': 'Retain'})
        _default_template(obj)
    elif kind == 'DaemonSet':
        spec = obj.setdefault('spec', {})
        strategy = spec.setdefault('updateStrategy', {})
        strategy.setdefault('type', 'RollingUpdate')
        if strategy['type'] == 'RollingUpdate':
            rolling = strategy.setdefault('rollingUpdate', {})
            rolling.setdefault('maxUnavailable', 1)
            rolling.setdefault('maxSurge', 0)
        spec.setdefault('revisionHistoryLimit', 10)
        _default_template(obj)
    elif kind == 'Job':
        spec = obj.setdefault('spec', {})
        spec.setdefault('completions', 1)
        spec.setdefault('parallelism', 1)
        spec.setdefault('backoffLimit', 6)
        spec.setdefault('completionMode', 'NonIndexed')
        spec.setdefault('suspend', False)
        spec.setdefault('podReplacementPolicy', 'TerminatingOrFailed')
        _default_template(obj)
    elif kind == 'Pod':
        default_pod_spec(obj.setdefault('spec', {}), template=False)
    elif kind == 'Service':
        spec = obj.setdefault('spec', {})
        spec.setdefault('type', 'ClusterIP')
        spec.setdefault('sessionAffinity', 'None')
        spec.setdefault('ipFamilyPolicy', 'SingleStack')
        spec.setdefault('ipFamilies', ['IPv4'])
        spec.setdefault('internalTrafficPolicy', 'Cluster')
        for port in spec.get('ports') or []:
            port.setdefault('protocol', 'TCP')
            port.setdefault('targetPort', port.get('port'))
    elif kind == 'Secret':
        obj.setdefault('type', 'Opaque')
        string_data = obj.pop('stringData', None) or {}
        if string_data:
            data = obj.setdefault('data', {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
    elif kind == 'Namespace':
        obj.setdefault('spec', {}).setdefault('finalizers', ['kubernetes'])
        obj.setdefault('status', {}).setdefault('phase', 'Active')
        obj['metadata'].setdefault('labels', {})['kubernetes.io/metadata.name'] = obj['metadata'].get('name', '')


JOB_LABELS = ('batch.kubernetes.io/controller-uid', 'batch.kubernetes.io/job-name', 'controller-uid', 'job-name')


def default_job_selector(job: dict) -> None:
    """What the API server does on create (unless manualSelector): a selector on the uid, labels on the template."""
    spec = job['spec']
    if spec.get('manualSelector'):
        return
    uid, name = job['metadata']['uid'], job['metadata']['name']
    labels = spec['template'].setdefault('metadata', {}).setdefault('labels', {})
    labels.update({JOB_LABELS[0]: uid, JOB_LABELS[1]: name, JOB_LABELS[2]: uid, JOB_LABELS[3]: name})
    spec['selector'] = {'matchLabels': {JOB_LABELS[0]: uid}}


def _go_map(labels: dict) -> str:
    """How Go prints a map[string]string in validation messages."""
    return 'map[string]string{%s}' % ', '.join('"%s":"%s"' % (key, value) for key, value in sorted(labels.items()))


def _go_selector(selector: dict) -> str:
    expressions = selector.get('matchExpressions')
    return 'v1.LabelSelector{MatchLabels:%s, MatchExpressions:%s}' % (
        _go_map(selector.get('matchLabels') or {}),
        '[]v1.LabelSelectorRequirement(nil)' if not expressions else json.dumps(expressions))


def _validate_metadata(resource: Resource, obj: dict, causes: list) -> None:
    metadata = obj.get('metadata') or {}
    name = metadata.get('name') or ''
    pattern = _DNS1123_LABEL if resource.kind in ('Namespace', 'Service') else _DNS1123_SUBDOMAIN
    if not name:
        causes.append(('metadata.name', 'FieldValueRequired', 'Required value: name or generateName is required'))
    elif not pattern.match(name) or len(name) > 253:
        causes.append(('metadata.name', 'FieldValueInvalid',
                       'Invalid value: "%s": a lowercase RFC 1123 %s must consist of lower case alphanumeric characters, '
                       "'-' or '.', and must start and end with an alphanumeric character"
                       % (name, 'label' if pattern is _DNS1123_LABEL else 'subdomain')))
    for key in ('labels', 'annotations'):
        for label, value in (metadata.get(key) or {}).items():
            if not isinstance(value, str):
                causes.append(('metadata.%s' % key, 'FieldValueInvalid', 'Invalid value: %r: must be a string' % (value,)))
            elif key == 'labels' and label:
                if len(value) > 63 or not re.match(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$', value):
                    causes.append(('metadata.labels', 'FieldValueInvalid', 'Invalid value: "%s": a valid label must be '
                                   "an empty string or consist of alphanumeric characters, '-', '_' or '.'" % value))


def _validate_pod_spec(spec: dict, path: str, causes: list, template_of: str | None) -> None:
    containers = spec.get('containers') or []
    if not containers:
        causes.append(('%s.containers' % path, 'FieldValueRequired', 'Required value'))
    seen = set()
    for index, container in enumerate(containers):
        where = '%s.containers[%d]' % (path, index)
        name = container.get('name')
        if not name:
            causes.append(('%s.name' % where, 'FieldValueRequired', 'Required value'))
        elif name in seen:
            causes.append(('%s.name' % where, 'FieldValueDuplicate', 'Duplicate value: "%s"' % name))
        seen.add(name)
        if not container.get('image') and template_of != 'Pod':
            causes.append(('%s.image' % where, 'FieldValueRequired', 'Required value'))
    if template_of in ('Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet') and spec.get('restartPolicy', 'Always') != 'Always':
        causes.append(('%s.restartPolicy' % path, 'FieldValueNotSupported',
                       'Unsupported value: "%s": supported values: "Always"' % spec['restartPolicy']))
    if template_of == 'Job' and spec.get('restartPolicy') not in ('Never', 'OnFailure'):
        causes.append(('%s.restartPolicy' % path, 'FieldValueNotSupported',
                       'Unsupported value: "%s": supported values: "OnFailure", "Never"' % spec.get('restartPolicy')))


def _validate_workload(resource: Resource, obj: dict, old: dict | None, causes: list) -> None:
    spec = obj.get('spec') or {}
    selector = spec.get('selector')
    template = spec.get('template') or {}
    template_labels = (template.get('metadata') or {}).get('labels') or {}
    if resource.kind != 'Job' or selector:
        if not selector or not (selector.get('matchLabels') or selector.get('matchExpressions')):
            causes.append(('spec.selector', 'FieldValueRequired', 'Required value'))
            if selector is not None:
                causes.append(('spec.selector', 'FieldValueInvalid',
                               'Invalid value: %s: empty selector is invalid for deployment' % _go_selector(selector)))
        elif not labels_match(selector_from_label_selector(selector), template_labels):
            causes.append(('spec.template.metadata.labels', 'FieldValueInvalid',
                           'Invalid value: %s: `selector` does not match template `labels`' % _go_map(template_labels)))
    if old is not None and resource.kind in ('Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'):
        if (old.get('spec') or {}).get('selector') != selector:
            causes.append(('spec.selector', 'FieldValueInvalid', 'Invalid value: %s: field is immutable'
                           % _go_selector(selector or {})))
    for key in ('replicas', 'revisionHistoryLimit', 'minReadySeconds', 'progressDeadlineSeconds'):
        value = spec.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            causes.append(('spec.%s' % key, 'FieldValueInvalid',
                           'Invalid value: %s: must be greater than or equal to 0' % json.dumps(value)))
    if resource.kind == 'Deployment':
        _validate_strategy(spec, causes)
    elif resource.kind in ('StatefulSet', 'DaemonSet'):
        _validate_update_strategy(resource.kind, spec, causes)
    _validate_pod_spec(template.get('spec') or {}, 'spec.template.spec', causes, resource.kind)


def _validate_strategy(spec: dict, causes: list) -> None:
    strategy = spec.get('strategy') or {}
    if strategy.get('type') not in ('RollingUpdate', 'Recreate'):
        causes.append(('spec.strategy.type', 'FieldValueNotSupported', 'Unsupported value: "%s": supported values: '
                       '"Recreate", "RollingUpdate"' % strategy.get('type')))
        return
    rolling = strategy.get('rollingUpdate')
    if strategy['type'] == 'Recreate':
        if rolling is not None:
            causes.append(('spec.strategy.rollingUpdate', 'FieldValueForbidden',
                           'Forbidden: may not be specified when strategy `type` is \'Recreate\''))
        return
    values = {}
    for key in ('maxUnavailable', 'maxSurge'):
        value = (rolling or {}).get(key)
        if isinstance(value, str) and not re.match(r'^\d+%$', value):
            causes.append(('spec.strategy.rollingUpdate.%s' % key, 'FieldValueInvalid',
                           'Invalid value: "%s": a valid percent string must be a numeric string followed by an ending '
                           "'%%' (e.g. '1%%',  or '93%%', regex used for validation is '[0-9]+%%')" % value))
            return
        values[key] = value
    zero = [key for key, value in values.items() if value in (0, '0%')]
    if len(zero) == 2:
        causes.append(('spec.strategy.rollingUpdate.maxUnavailable', 'FieldValueInvalid',
                       'Invalid value: %s: may not be 0 when `maxSurge` is 0' % json.dumps(values['maxUnavailable'])))


def _validate_update_strategy(kind: str, spec: dict, causes: list) -> None:
    """updateStrategy of StatefulSets (RollingUpdate with a partition >= 0, or OnDelete) and DaemonSets."""
    strategy = spec.get('updateStrategy') or {}
    if strategy.get('type') not in ('RollingUpdate', 'OnDelete'):
        causes.append(('spec.updateStrategy.type', 'FieldValueNotSupported', 'Unsupported value: "%s": supported values: '
                       '"OnDelete", "RollingUpdate"' % strategy.get('type')))
        return
    rolling = strategy.get('rollingUpdate')
    if strategy['type'] == 'OnDelete':
        if rolling is not None:
            causes.append(('spec.updateStrategy.rollingUpdate', 'FieldValueForbidden',
                           "Forbidden: only allowed for updateStrategy 'RollingUpdate'"))
        return
    if kind == 'StatefulSet':
        partition = (rolling or {}).get('partition', 0)
        if not isinstance(partition, int) or partition < 0:
            causes.append(('spec.updateStrategy.rollingUpdate.partition', 'FieldValueInvalid',
                           'Invalid value: %s: must be greater than or equal to 0' % json.dumps(partition)))
        return
    values = [(rolling or {}).get(key) for key in ('maxUnavailable', 'maxSurge')]
    if all(value in (0, '0%', None) for value in values):
        causes.append(('spec.updateStrategy.rollingUpdate.maxUnavailable', 'FieldValueInvalid',
                       'Invalid value: %s: may not be 0 when `maxSurge` is 0' % json.dumps(values[0])))


DAEMONSET_TEMPLATE_GENERATION = 'deprecated.daemonset.template.generation'


def prepare_daemonset(obj: dict, old: dict | None) -> None:
    """The DaemonSet strategy's templateGeneration, kept in v1 as an annotation: 1 on create, +1 per template change."""
    annotations = obj['metadata'].setdefault('annotations', {})
    if old is None:
        annotations[DAEMONSET_TEMPLATE_GENERATION] = '1'
        return
    current = int((old['metadata'].get('annotations') or {}).get(DAEMONSET_TEMPLATE_GENERATION, '1'))
    changed = obj['spec'].get('template') != old['spec'].get('template')
    annotations[DAEMONSET_TEMPLATE_GENERATION] = str(current + 1 if changed else current)


def validate(resource: Resource, obj: dict, old: dict | None) -> None:
    """Raise a 422 Invalid listing every problem, as the API server's validation does."""
    causes: list = []
    _validate_metadata(resource, obj, causes)
    if resource.kind in ('Deployment', 'ReplicaSet', 'Job', 'StatefulSet', 'DaemonSet'):
        _validate_workload(resource, obj, old, causes)
    elif resource.kind == 'Pod':
        _validate_pod_spec(obj.get('spec') or {}, 'spec', causes, 'Pod')
    elif resource.kind == 'ConfigMap':
        for key, value in (obj.get('data') or {}).items():
            if not isinstance(value, str):
                causes.append(('data[%s]' % key, 'FieldValueInvalid', 'Invalid value: must be a string'))
    if causes:
        raise errors.invalid(resource.kind, resource.group, (obj.get('metadata') or {}).get('name') or '', causes)
