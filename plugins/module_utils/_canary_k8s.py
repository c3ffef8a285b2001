# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""canary_shift's Kubernetes providers: the one place that talks to the API server for them.

``k8s_replicas`` splits a constant number of pods between two Deployments (grow one side and wait
until it is available before shrinking the other, so capacity never dips), ``k8s_ingress_nginx``
writes the canary Ingress that ingress-nginx weighs against the main one, and ``k8s_service``
switches a Service's selector between two versions once the target has Ready pods.
"""

from __future__ import annotations

import contextlib
import json
import time
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _canary as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s
from ansible_collections.artisan.upgrade.plugins.module_utils._canary import CanaryError

POLL_INTERVAL = 0.25
MANAGED_BY = {'app.kubernetes.io/managed-by': 'artisan.upgrade.canary_shift'}

if _k8s.HAS_KUBERNETES:
    from kubernetes import client as k8s_client


def _is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, _k8s.ApiException) and exc.status == 404


class Cluster:
    """The API calls the providers make, each recorded as the kubectl line that does the same.

    Every call waits at most the time ``deadline`` leaves (the task's ``wait_timeout``).
    """

    def __init__(self, api_client: t.Any, namespace: str, deadline: _k8s.Deadline) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.deadline = deadline
        self.apps = k8s_client.AppsV1Api(api_client)
        self.core = k8s_client.CoreV1Api(api_client)
        self.networking = k8s_client.NetworkingV1Api(api_client)
        self.commands: list[str] = []

    def call(self, what: str, function: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> dict[str, t.Any] | None:
        """Run one API call; a plain dict of the answer, None for 404 on a read, CanaryError otherwise."""
        try:
            answer = function(*args, _request_timeout=self.deadline.request_timeout(), **kwargs)
        except _k8s.ApiException as exc:
            if _is_not_found(exc) and what.startswith('get '):
                return None
            raise CanaryError('%s: %s' % (what, _k8s.api_error_message(exc))) from exc
        except Exception as exc:  # pylint: disable=broad-exception-caught
            if _k8s.is_unreachable(exc):
                raise CanaryError('cannot reach the Kubernetes API at %s: %s' % (
                    _k8s.server_url(self.api_client), _k8s.unreachable_message(exc))) from exc
            raise
        return self.api_client.sanitize_for_serialization(answer)

    def change(self, kubectl: str, what: str, function: t.Callable[..., t.Any], *args: t.Any) -> dict[str, t.Any] | None:
        self.commands.append('kubectl -n %s %s' % (self.namespace, kubectl))
        return self.call(what, function, *args)

    def deployment(self, name: str) -> dict[str, t.Any]:
        found = self.call('get deployment %s' % name, self.apps.read_namespaced_deployment, name, self.namespace)
        if found is None:
            raise CanaryError('Deployment %s/%s not found' % (self.namespace, name))
        return found

    def scale(self, name: str, replicas: int) -> None:
        self.change('scale deployment/%s --replicas=%d' % (name, replicas), 'scale deployment %s' % name,
                    self.apps.patch_namespaced_deployment_scale, name, self.namespace, {'spec': {'replicas': replicas}})

    def ready_pod_ips(self, labels: dict[str, str]) -> set[str]:
        pods = self.call('list pods', self.core.list_namespaced_pod, self.namespace,
                         label_selector=decide.label_selector(labels)) or {}
        return {pod['status']['podIP'] for pod in pods.get('items', []) if _pod_ready(pod)}

    def endpoint_ips(self, service: str) -> set[str]:
        endpoints = self.call('get endpoints %s' % service, self.core.read_namespaced_endpoints, service, self.namespace) or {}
        return {address['ip'] for subset in endpoints.get('subsets') or [] for address in subset.get('addresses') or []}


def _pod_ready(pod: dict[str, t.Any]) -> bool:
    if pod['metadata'].get('deletionTimestamp') or not pod.get('status', {}).get('podIP'):
        return False
    return any(c['type'] == 'Ready' and c['status'] == 'True' for c in pod['status'].get('conditions') or [])


def deployment_available(deployment: dict[str, t.Any], replicas: int) -> bool:
    """The scale took effect (observed) and that many pods are available."""
    status = deployment.get('status') or {}
    return (status.get('observedGeneration') or 0) >= deployment['metadata'].get('generation', 0) \
        and (status.get('availableReplicas') or 0) >= replicas


def deadline_exceeded(deployment: dict[str, t.Any]) -> str | None:
    for condition in (deployment.get('status') or {}).get('conditions') or []:
        if condition.get('type') == 'Progressing' and condition.get('reason') == 'ProgressDeadlineExceeded':
            return condition.get('message') or 'progress deadline exceeded'
    return None


class K8sShift:
    """What every Kubernetes provider shares: the cluster, the clock and the shape of the result."""

    provider = ''

    def __init__(self, params: dict[str, t.Any], cluster: Cluster, check_mode: bool,
                 sleep: t.Callable[[float], None] = time.sleep, warn: t.Callable[[str], None] = lambda msg: None) -> None:
        self.params = params
        self.options = params[self.provider]
        self.cluster = cluster
        self.check_mode = check_mode
        self.sleep = sleep
        self.warn = warn

    def wait(self, what: str, done: t.Callable[[], bool | str]) -> None:
        """Poll ``done`` until it is True or the task's deadline; a string it returns is a failure reason."""
        while True:
            outcome = done()
            if outcome is True:
                return
            if isinstance(outcome, str):
                raise CanaryError('%s: %s' % (what, outcome))
            left = self.cluster.deadline.left()
            if left <= 0:
                raise CanaryError('%s: not done within %ss' % (what, self.params['wait_timeout']))
            self.sleep(min(POLL_INTERVAL, left))

    @staticmethod
    def unchanged(result: dict[str, t.Any], state: t.Any, weight: float | None, changed: bool) -> dict[str, t.Any]:
        """A result for a shift that was refused (``changed`` False) or put back: the live state, nothing achieved."""
        context = dict(result)
        context.update(changed=changed, after=state, achieved_weight=weight, changes=[])
        context['diff'] = {'before': result['diff']['before'], 'after': result['diff']['before']}
        return context

    def result(self, before: t.Any, after: t.Any, before_weight: float | None, achieved: float | None,
               changes: list[str]) -> dict[str, t.Any]:
        changed = before != after
        return dict(changed=changed, provider=self.provider, weight=self.params['weight'], achieved_weight=achieved,
                    before_weight=before_weight, before=before, after=after, changes=changes if changed else [],
                    diff=dict(before=json.dumps(before, indent=2, sort_keys=True) + '\n',
                              after=json.dumps(after, indent=2, sort_keys=True) + '\n'))


class ReplicaShift(K8sShift):
    """``k8s_replicas``: canary = round(total x weight) pods, stable the rest."""

    provider = 'k8s_replicas'

    def perform(self) -> dict[str, t.Any]:
        names = dict(stable=self.options['stable'], canary=self.options['canary'])
        desired = decide.replica_split(self.params['weight'], self.options['total'])
        current = {side: self.cluster.deployment(name)['spec'].get('replicas', 1) for side, name in names.items()}
        steps = decide.scale_steps(current, desired)
        result = self.result(dict(current), desired, decide.replica_weight(current), decide.replica_weight(desired),
                             ['%s %s: %d -> %d replicas' % (side, names[side], current[side], n) for side, n, _w in steps])
        if not result['changed']:
            result['msg'] = '%s already runs %d of %d pods (%s %%)' % (
                names['canary'], desired['canary'], self.options['total'], result['achieved_weight'])
            return result
        if self.check_mode:
            result['msg'] = 'would scale: %s' % '; '.join(result['changes'])
            return result
        for side, replicas, grows in steps:
            self.cluster.scale(names[side], replicas)
            if grows and not self.params['force']:
                with undo_on_failure(lambda side=side: self.cluster.scale(names[side], current[side])) as outcome:
                    self.wait_available(names[side], replicas)
                if outcome.undone:
                    other = names['stable' if side == 'canary' else 'canary']
                    raise CanaryError('%s; scaled %s back to %d, %s untouched' % (
                        outcome.error, names[side], current[side], other),
                        **self.unchanged(result, dict(current), decide.replica_weight(current), True)) from outcome.error
        result['msg'] = 'scaled: %s' % '; '.join(result['changes'])
        return result

    def wait_available(self, name: str, replicas: int) -> None:
        def done() -> bool | str:
            deployment = self.cluster.deployment(name)
            if deployment_available(deployment, replicas):
                return True
            return deadline_exceeded(deployment) or False

        self.wait('waiting for %d available pods of %s' % (replicas, name), done)


class IngressShift(K8sShift):
    """``k8s_ingress_nginx``: the canary Ingress beside the main one, weighted by annotations."""

    provider = 'k8s_ingress_nginx'

    def perform(self) -> dict[str, t.Any]:
        o, cluster = self.options, self.cluster
        weight = self.params['weight']
        wanted_annotations = decide.canary_annotations(weight, o['header'], o['header_value'], o['cookie'])
        name = o['canary_ingress'] or '%s-canary' % o['ingress']
        main = cluster.call('get ingress %s' % o['ingress'], cluster.networking.read_namespaced_ingress, o['ingress'],
                            cluster.namespace)
        if main is None:
            raise CanaryError('Ingress %s/%s not found: the canary Ingress copies its hosts and paths'
                              % (cluster.namespace, o['ingress']))
        spec = decide.canary_ingress_spec(main['spec'], o['service'], o['port'])
        live = cluster.call('get ingress %s' % name, cluster.networking.read_namespaced_ingress, name, cluster.namespace)
        live_annotations = (live or {}).get('metadata', {}).get('annotations') or {}
        annotation_changes = decide.annotations_to_change(live_annotations, wanted_annotations)
        before = None if live is None else dict(annotations=_canary_only(live_annotations), spec=live.get('spec'))
        after = dict(annotations={k: v for k, v in wanted_annotations.items() if v is not None}, spec=spec)
        changes = ['create Ingress %s' % name] if live is None else (
            ['%s: %s -> %s' % (k, live_annotations.get(k), v) for k, v in sorted(annotation_changes.items())]
            + (['spec follows Ingress %s' % o['ingress']] if live.get('spec') != spec else []))
        result = self.result(before, after, decide.ingress_weight(live_annotations) if live else None, weight, changes)
        result['ingress'] = name
        if not result['changed']:
            result['msg'] = 'Ingress %s already gives the canary %d %%' % (name, weight)
            return result
        self.refuse_without_endpoints(o['service'], weight, bool(o['header'] or o['cookie']))
        if self.check_mode:
            result['msg'] = 'would change: %s' % '; '.join(changes)
            return result
        if live is None:
            body = {'apiVersion': 'networking.k8s.io/v1', 'kind': 'Ingress', 'spec': spec,
                    'metadata': {'name': name, 'namespace': cluster.namespace, 'labels': dict(MANAGED_BY),
                                 'annotations': after['annotations']}}
            cluster.change('create -f - (Ingress %s)' % name, 'create ingress %s' % name,
                           cluster.networking.create_namespaced_ingress, cluster.namespace, body)
        else:
            patch = {'metadata': {'annotations': annotation_changes}, 'spec': spec}
            cluster.change("patch ingress/%s --type=merge -p '%s'" % (name, json.dumps(patch, sort_keys=True)),
                           'patch ingress %s' % name, cluster.networking.patch_namespaced_ingress, name,
                           cluster.namespace, patch)
        result['msg'] = 'changed: %s' % '; '.join(changes)
        return result

    def refuse_without_endpoints(self, service: str, weight: int, routed_by_request: bool) -> None:
        if (weight or routed_by_request) and not self.cluster.endpoint_ips(service):
            if not self.params['force']:
                raise CanaryError('Service %s/%s has no Ready endpoints; refusing to send it traffic (%d %%%s; '
                                  'force=true overrides)' % (self.cluster.namespace, service, weight,
                                                             ' and requests chosen by header or cookie' if routed_by_request else ''))
            self.warn('forced: Service %s has no Ready endpoints' % service)


def _canary_only(annotations: dict[str, str]) -> dict[str, str]:
    names = {decide.INGRESS_ANNOTATION + n for n in decide.CANARY_ANNOTATIONS}
    return {k: v for k, v in annotations.items() if k in names}


class ServiceShift(K8sShift):
    """``k8s_service``: blue-green, the Service's selector names one version or the other."""

    provider = 'k8s_service'

    def perform(self) -> dict[str, t.Any]:
        o, cluster = self.options, self.cluster
        stable, canary = decide.labels(o['stable_selector']), decide.labels(o['canary_selector'])
        target = decide.service_selector(self.params['weight'], stable, canary)
        service = cluster.call('get service %s' % o['name'], cluster.core.read_namespaced_service, o['name'], cluster.namespace)
        if service is None:
            raise CanaryError('Service %s/%s not found' % (cluster.namespace, o['name']))
        live = service['spec'].get('selector') or {}
        side = 'canary' if self.params['weight'] == 100 else 'stable'
        result = self.result(dict(selector=live), dict(selector=target),
                             decide.selector_weight(live, stable, canary), self.params['weight'],
                             ['selector %s -> %s (%s)' % (decide.label_selector(live), decide.label_selector(target), side)])
        result['service'] = o['name']
        if not result['changed']:
            result['msg'] = 'Service %s already selects %s' % (o['name'], decide.label_selector(target))
            return result
        ready = cluster.ready_pod_ips(target)
        result['ready_endpoints'] = len(ready)
        # Refused or put back, the Service keeps the selector it had: report that, not the target.
        if not ready:
            if not self.params['force']:
                raise CanaryError('no Ready pod matches %s; refusing to switch Service %s to it (force=true overrides)'
                                  % (decide.label_selector(target), o['name']),
                                  **self.unchanged(result, dict(selector=live), result['before_weight'], False))
            self.warn('forced: no Ready pod matches %s' % decide.label_selector(target))
        if self.check_mode:
            result['msg'] = 'would switch: %s' % result['changes'][0]
            return result
        self.set_selector(o['name'], target)
        if ready:
            def switched() -> bool:
                endpoints = cluster.endpoint_ips(o['name'])
                return bool(endpoints) and endpoints <= cluster.ready_pod_ips(target)

            with undo_on_failure(lambda: self.set_selector(o['name'], live)) as outcome:
                self.wait('waiting for the endpoints of %s to be the %s pods' % (o['name'], side), switched)
            if outcome.undone:
                raise CanaryError('%s; the selector was put back' % outcome.error,
                                  **self.unchanged(result, dict(selector=live), result['before_weight'], True)) from outcome.error
        result['msg'] = 'switched: %s' % result['changes'][0]
        return result

    def set_selector(self, name: str, selector: dict[str, str]) -> None:
        patch = [{'op': 'replace', 'path': '/spec/selector', 'value': selector}]
        self.cluster.change("patch service/%s --type=json -p '%s'" % (name, json.dumps(patch)), 'patch service %s' % name,
                            self.cluster.core.patch_namespaced_service, name, self.cluster.namespace, patch)


class _Outcome:
    undone = False
    error: BaseException | None = None


@contextlib.contextmanager
def undo_on_failure(undo: t.Callable[[], None]) -> t.Iterator[_Outcome]:
    """Run ``undo`` when the block raises anything after a write (an interrupt included).

    A CanaryError (a wait that failed) is kept in the outcome for the caller to report; any other
    exception goes on once the write is undone. A failing undo is added to the error's message.
    """
    outcome = _Outcome()
    try:
        yield outcome
    except BaseException as exc:
        try:
            undo()
        except Exception as undo_error:  # pylint: disable=broad-exception-caught
            raise CanaryError('%s; putting the previous state back failed too: %s' % (exc, undo_error)) from exc
        if not isinstance(exc, CanaryError):
            raise
        outcome.undone, outcome.error = True, exc


PROVIDERS = {cls.provider: cls for cls in (ReplicaShift, IngressShift, ServiceShift)}
