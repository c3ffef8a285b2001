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
from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s_state as state
from ansible_collections.artisan.upgrade.plugins.module_utils._k8s import (
    JSON_PATCH, MERGE_PATCH, ApiError, Kube, api_path, name_selector)
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure

MANAGED_BY = {'app.kubernetes.io/managed-by': 'artisan.upgrade.canary_shift'}


class Cluster:
    """The providers' requests in one namespace, on the Kubernetes boundary (each recorded as ``METHOD path``).

    Every request waits at most the time the Kube's deadline leaves (the task's ``wait_timeout``); an answer
    of the server that is an error becomes a ModuleFailure naming what was asked.
    """

    def __init__(self, kube: Kube, namespace: str, clock: t.Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.namespace = namespace
        self.clock = clock

    def path(self, api_version: str, plural: str, name: str | None = None, subresource: str | None = None) -> str:
        return api_path(api_version, plural, self.namespace, name, subresource)

    @contextlib.contextmanager
    def asking(self, what: str) -> t.Iterator[None]:
        try:
            yield
        except ApiError as exc:
            raise ModuleFailure('%s: %s' % (what, exc.msg)) from exc

    def read(self, what: str, api_version: str, plural: str, name: str) -> dict[str, t.Any] | None:
        with self.asking('get %s %s' % (what, name)):
            return self.kube.get_or_none(self.path(api_version, plural, name))

    def deployment(self, name: str) -> dict[str, t.Any]:
        found = self.read('deployment', 'apps/v1', 'deployments', name)
        if found is None:
            raise ModuleFailure('Deployment %s/%s not found' % (self.namespace, name))
        return found

    def scale(self, name: str, replicas: int) -> None:
        with self.asking('scale deployment %s' % name):
            self.kube.patch(self.path('apps/v1', 'deployments', name, 'scale'), {'spec': {'replicas': replicas}}, MERGE_PATCH)

    def ingress(self, name: str) -> dict[str, t.Any] | None:
        return self.read('ingress', 'networking.k8s.io/v1', 'ingresses', name)

    def create_ingress(self, body: dict[str, t.Any]) -> None:
        with self.asking('create ingress %s' % body['metadata']['name']):
            self.kube.create(self.path('networking.k8s.io/v1', 'ingresses'), body)

    def patch_ingress(self, name: str, patch: dict[str, t.Any]) -> None:
        with self.asking('patch ingress %s' % name):
            self.kube.patch(self.path('networking.k8s.io/v1', 'ingresses', name), patch, MERGE_PATCH)

    def delete_ingress(self, name: str) -> None:
        with self.asking('delete ingress %s' % name):
            self.kube.delete(self.path('networking.k8s.io/v1', 'ingresses', name))

    def service(self, name: str) -> dict[str, t.Any] | None:
        return self.read('service', 'v1', 'services', name)

    def set_selector(self, name: str, selector: dict[str, str]) -> None:
        with self.asking('patch service %s' % name):
            self.kube.patch(self.path('v1', 'services', name),
                            [{'op': 'replace', 'path': '/spec/selector', 'value': selector}], JSON_PATCH)

    def slices_query(self, service: str) -> dict[str, str]:
        return {'labelSelector': '%s=%s' % (state.SERVICE_NAME_LABEL, service)}

    def endpoint_ips(self, service: str) -> set[str]:
        """The ready addresses of the Service's EndpointSlices (where kube-proxy sends its traffic)."""
        with self.asking('list endpointslices of %s' % service):
            return state.ready_slice_addresses(
                self.kube.list(api_path('discovery.k8s.io/v1', 'endpointslices', self.namespace), self.slices_query(service)))

    def ready_pod_ips(self, labels: dict[str, str]) -> set[str]:
        with self.asking('list pods %s' % state.labels_selector(labels)):
            return state.ready_pod_ips(self.kube.list(self.path('v1', 'pods'), {'labelSelector': state.labels_selector(labels)}))

    def wait_until(self, what: str, streams: dict[str, tuple[str, dict[str, t.Any]]],
                   judge: t.Callable[[dict[str, dict[str, dict[str, t.Any]]]], bool | str], timeout: float,
                   wake_at: t.Callable[[], float | None] = lambda: None) -> None:
        """Watch ``streams`` until ``judge`` says True; a string it returns, or the deadline, fails the wait."""
        with self.asking(what):
            outcome = self.kube.wait_until(streams, judge, clock=self.clock, wake_at=wake_at)
        if outcome is True:
            return
        raise ModuleFailure('%s: %s' % (what, outcome if isinstance(outcome, str) else 'not done within %ss' % timeout))

    def wait_available(self, name: str, replicas: int, timeout: float, selector: dict[str, t.Any], grace: float) -> None:
        """Until the Deployment has ``replicas`` available pods (its scale observed), watching its pods as well: its
        progress deadline, or one of its pods failing for ``grace`` seconds (see decide.AvailabilityWatch), fails it."""
        watch = decide.AvailabilityWatch(name, replicas, grace)

        def judge(objects: dict[str, dict[str, dict[str, t.Any]]]) -> bool | str:
            now = self.clock()
            watch.observe_pod_listing(objects['pods'].values(), now)
            return watch.verdict(objects['deployment'].get(name), now)

        self.wait_until('waiting for %d available pods of %s' % (replicas, name), {
            'deployment': (self.path('apps/v1', 'deployments'), name_selector(name)),
            'pods': (self.path('v1', 'pods'), {'labelSelector': state.label_selector(selector)})},
            judge, timeout, watch.wake_at)

    def wait_endpoints(self, service: str, labels: dict[str, str], side: str, timeout: float) -> None:
        """Until the Service's ready endpoints are all Ready pods matching ``labels`` (and there is one)."""
        def judge(objects: dict[str, dict[str, dict[str, t.Any]]]) -> bool:
            endpoints = state.ready_slice_addresses(objects['slices'].values())
            return bool(endpoints) and endpoints <= state.ready_pod_ips(objects['pods'].values())

        self.wait_until('waiting for the endpoints of %s to be the %s pods' % (service, side), {
            'slices': (api_path('discovery.k8s.io/v1', 'endpointslices', self.namespace), self.slices_query(service)),
            'pods': (self.path('v1', 'pods'), {'labelSelector': state.labels_selector(labels)})}, judge, timeout)


class K8sShift:
    """What every Kubernetes provider shares: the cluster, the clock and the shape of the result."""

    provider = ''

    def __init__(self, params: dict[str, t.Any], cluster: Cluster, check_mode: bool,
                 warn: t.Callable[[str], None] = lambda msg: None) -> None:
        self.params = params
        self.options = params[self.provider]
        self.cluster = cluster
        self.check_mode = check_mode
        self.warn = warn

    @staticmethod
    def unchanged(result: dict[str, t.Any], live: t.Any, weight: float | None, changed: bool) -> dict[str, t.Any]:
        """A result for a shift that was refused (``changed`` False) or put back: the live state, nothing achieved."""
        context = {key: value for key, value in result.items() if key != 'msg'}
        context.update(changed=changed, after=live, achieved_weight=weight, changes=[])
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
        decide.check_failure_grace(self.options['failure_grace'])
        live = {side: self.cluster.deployment(name) for side, name in names.items()}
        current = {side: obj['spec'].get('replicas', 1) for side, obj in live.items()}
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
                    self.cluster.wait_available(names[side], replicas, self.params['wait_timeout'],
                                                live[side]['spec']['selector'], self.options['failure_grace'])
                if outcome.undone:
                    other = names['stable' if side == 'canary' else 'canary']
                    raise ModuleFailure('%s; scaled %s back to %d, %s untouched' % (
                        outcome.error, names[side], current[side], other),
                        **self.unchanged(result, dict(current), decide.replica_weight(current), True)) from outcome.error
        result['msg'] = 'scaled: %s' % '; '.join(result['changes'])
        return result


class IngressShift(K8sShift):
    """``k8s_ingress_nginx``: the canary Ingress beside the main one, weighted by annotations."""

    provider = 'k8s_ingress_nginx'

    def perform(self) -> dict[str, t.Any]:
        o, cluster = self.options, self.cluster
        weight = self.params['weight']
        if o.get('state') == 'absent':
            return self.remove()
        wanted_annotations = decide.canary_annotations(weight, o['header'], o['header_value'], o['cookie'])
        name = o['canary_ingress'] or '%s-canary' % o['ingress']
        main = cluster.ingress(o['ingress'])
        if main is None:
            raise ModuleFailure('Ingress %s/%s not found: the canary Ingress copies its hosts and paths'
                                % (cluster.namespace, o['ingress']))
        spec = decide.canary_ingress_spec(main['spec'], o['service'], o['port'])
        live = cluster.ingress(name)
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
            cluster.create_ingress(body)
        else:
            cluster.patch_ingress(name, {'metadata': {'annotations': annotation_changes}, 'spec': spec})
        result['msg'] = 'changed: %s' % '; '.join(changes)
        return result

    def remove(self) -> dict[str, t.Any]:
        """``state=absent``: the canary Ingress deleted (the end of a canary, or its abort)."""
        o, cluster = self.options, self.cluster
        decide.check_ingress_removal(self.params['weight'])
        name = o['canary_ingress'] or '%s-canary' % o['ingress']
        live = cluster.ingress(name)
        live_annotations = (live or {}).get('metadata', {}).get('annotations') or {}
        before = None if live is None else dict(annotations=_canary_only(live_annotations), spec=live.get('spec'))
        result = self.result(before, None, decide.ingress_weight(live_annotations) if live else None, 0,
                             [] if live is None else ['delete Ingress %s' % name])
        result['ingress'] = name
        if live is None:
            result['msg'] = 'Ingress %s is absent' % name
        elif self.check_mode:
            result['msg'] = 'would delete Ingress %s' % name
        else:
            cluster.delete_ingress(name)
            result['msg'] = 'deleted Ingress %s' % name
        return result

    def refuse_without_endpoints(self, service: str, weight: int, routed_by_request: bool) -> None:
        if (weight or routed_by_request) and not self.cluster.endpoint_ips(service):
            if not self.params['force']:
                raise ModuleFailure('Service %s/%s has no Ready endpoints; refusing to send it traffic (%d %%%s; '
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
        service = cluster.service(o['name'])
        if service is None:
            raise ModuleFailure('Service %s/%s not found' % (cluster.namespace, o['name']))
        live = service['spec'].get('selector') or {}
        side = 'canary' if self.params['weight'] == 100 else 'stable'
        result = self.result(dict(selector=live), dict(selector=target),
                             decide.selector_weight(live, stable, canary), self.params['weight'],
                             ['selector %s -> %s (%s)' % (state.labels_selector(live), state.labels_selector(target), side)])
        result['service'] = o['name']
        if not result['changed']:
            result['msg'] = 'Service %s already selects %s' % (o['name'], state.labels_selector(target))
            return result
        ready = cluster.ready_pod_ips(target)
        result['ready_endpoints'] = len(ready)
        # Refused or put back, the Service keeps the selector it had: report that, not the target.
        if not ready:
            if not self.params['force']:
                raise ModuleFailure('no Ready pod matches %s; refusing to switch Service %s to it (force=true overrides)'
                                    % (state.labels_selector(target), o['name']),
                                    **self.unchanged(result, dict(selector=live), result['before_weight'], False))
            self.warn('forced: no Ready pod matches %s' % state.labels_selector(target))
        if self.check_mode:
            result['msg'] = 'would switch: %s' % result['changes'][0]
            return result
        cluster.set_selector(o['name'], target)
        if ready:
            with undo_on_failure(lambda: cluster.set_selector(o['name'], live)) as outcome:
                cluster.wait_endpoints(o['name'], target, side, self.params['wait_timeout'])
            if outcome.undone:
                raise ModuleFailure('%s; the selector was put back' % outcome.error,
                                    **self.unchanged(result, dict(selector=live), result['before_weight'], True)) from outcome.error
        result['msg'] = 'switched: %s' % result['changes'][0]
        return result


class _Outcome:
    undone = False
    error: BaseException | None = None


@contextlib.contextmanager
def undo_on_failure(undo: t.Callable[[], None]) -> t.Iterator[_Outcome]:
    """Run ``undo`` when the block raises anything after a write (an interrupt included).

    A ModuleFailure (a wait that failed, the server unreachable) is kept in the outcome for the caller to
    report; any other exception goes on once the write is undone. A failing undo is added to the error's message.
    """
    outcome = _Outcome()
    try:
        yield outcome
    except BaseException as exc:
        try:
            undo()
        except Exception as undo_error:  # pylint: disable=broad-exception-caught
            raise ModuleFailure('%s; putting the previous state back failed too: %s' % (
                getattr(exc, 'msg', exc), getattr(undo_error, 'msg', undo_error))) from exc
        if not isinstance(exc, ModuleFailure):
            raise
        outcome.undone, outcome.error = True, exc


PROVIDERS = {cls.provider: cls for cls in (ReplicaShift, IngressShift, ServiceShift)}
