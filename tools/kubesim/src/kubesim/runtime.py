"""The fast pod runtime: a scheduler and a kubelet stand-in driven by timers, not containers.

The image name (or the pod annotation ``kubesim.io/behaviour``) selects what a container does:
``pullfail``/``does-not-exist`` never pull, ``crashloop`` (and ``fail`` in the image or command) exits 1
after a second and backs off,
``neverready`` runs but fails its readiness probe, ``slowstart[-N]`` becomes ready after N (20)
seconds; anything else pulls in a second and is ready as soon as it runs (or after the readiness
probe's initialDelaySeconds). Pod status and Events follow what the kubelet reports.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from . import events
from .clock import parse_rfc3339, rfc3339
from .pods import pod_finished
from .registry import Registry, node_ip, resource_for

PODS = resource_for('v1', 'Pod')
NODES = resource_for('v1', 'Node')
NODE_NAME = 'kubesim-node'
NODE_IP = '10.0.0.10'
BEHAVIOUR_ANNOTATION = 'kubesim.io/behaviour'
PULL_SECONDS = 1.0
CRASH_AFTER_SECONDS = 1.0
TERMINATION_SECONDS = 1.0
MAX_BACKOFF = 300.0


def behaviour_of(image: str, annotation: str | None, command: str = '') -> tuple[str, float]:
    """(behaviour, parameter) from the pod annotation, else from the image reference and the command line."""
    text = (annotation or image or '').lower()
    if 'pullfail' in text or 'does-not-exist' in text:
        return 'pullfail', 0.0
    if 'crashloop' in text:
        return 'crashloop', 0.0
    if 'fail' in text or (not annotation and 'fail' in command.lower()):
        return 'fail', 0.0
    if 'neverready' in text:
        return 'neverready', 0.0
    match = re.search(r'slowstart(?:-(\d+))?', text)
    if match:
        return 'slowstart', float(match.group(1) or 20)
    return 'ok', 0.0


def normalise_image(image: str) -> str:
    """What containerd reports as the image: registry and library/ prefixes, :latest when untagged."""
    name = image
    first = name.split('/')[0]
    if '/' not in name:
        name = 'docker.io/library/' + name
    elif '.' not in first and ':' not in first and first != 'localhost':
        name = 'docker.io/' + name
    if '@' not in name and ':' not in name.rsplit('/', 1)[-1]:
        name += ':latest'
    return name


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _backoffs():
    """Kubelet back-off: 10 s doubling to 5 minutes."""
    delay = 10.0
    while True:
        yield delay
        delay = min(delay * 2, MAX_BACKOFF)


@dataclass
class Timeline:
    """One container's history up to ``elapsed`` seconds after the kubelet first saw the pod."""

    state: dict
    last_state: dict = field(default_factory=dict)
    ready: bool = False
    started: bool = False
    ran: bool = False
    restarts: int = 0
    events: list = field(default_factory=list)  # (offset seconds, type, reason, message)
    container_id: str = ''
    image_id: str = ''  # the docker runtime's real image id; synthetic when empty


def container_timeline(container: dict, behaviour: tuple[str, float], elapsed: float, pod_ref: str,
                       image_present: bool, at, restart_policy: str = 'Always') -> Timeline:
    """Pure: the container's state, readiness and kubelet events after ``elapsed`` seconds.

    With restartPolicy Never/OnFailure (Jobs) a container runs to its end: ``fail``/``crashloop`` exit 1
    after a second (restarted with back-off under OnFailure), ``slowstart-N`` exits 0 after N seconds,
    anything else exits 0 after a second.

    ``at(offset)`` turns an offset into an RFC3339 time; ``pod_ref`` is `<name>_<namespace>(<uid>)`.
    """
    name, image = container['name'], container.get('image', '')
    kind, parameter = behaviour
    pulled_quietly = image_present and container.get('imagePullPolicy') != 'Always'
    timeline = Timeline(state={'waiting': {'reason': 'ContainerCreating'}})
    log = timeline.events
    if kind == 'pullfail':
        reference = normalise_image(image).split('@')[0]
        error = ('rpc error: code = NotFound desc = failed to pull and unpack image "%s": failed to resolve reference '
                 '"%s": %s: not found' % (reference, reference, reference))
        attempt, backoff = 0.0, _backoffs()
        while attempt <= elapsed:
            log.append((attempt, 'Normal', 'Pulling', 'Pulling image "%s"' % image))
            failed = attempt + PULL_SECONDS
            if failed > elapsed:
                break
            log.append((failed, 'Warning', 'Failed', 'Failed to pull image "%s": %s' % (image, error)))
            log.append((failed, 'Warning', 'Failed', 'Error: ErrImagePull'))
            timeline.state = {'waiting': {'reason': 'ErrImagePull', 'message': error}}
            backing_off = failed + PULL_SECONDS
            if backing_off > elapsed:
                break
            log.append((backing_off, 'Normal', 'BackOff', 'Back-off pulling image "%s"' % image))
            log.append((backing_off, 'Warning', 'Failed', 'Error: ImagePullBackOff'))
            timeline.state = {'waiting': {'reason': 'ImagePullBackOff', 'message': 'Back-off pulling image "%s"' % image}}
            attempt = backing_off + next(backoff)
        return timeline
    if pulled_quietly:
        log.append((0.0, 'Normal', 'Pulled', 'Container image "%s" already present on machine' % image))
        start = 0.0
    else:
        log.append((0.0, 'Normal', 'Pulling', 'Pulling image "%s"' % image))
        if elapsed < PULL_SECONDS:
            return timeline
        log.append((PULL_SECONDS, 'Normal', 'Pulled', 'Successfully pulled image "%s" in 1s (1s including waiting). '
                    'Image size: 1048576 bytes.' % image))
        start = PULL_SECONDS
    backoff = _backoffs()
    while start <= elapsed:
        log.append((start, 'Normal', 'Created', 'Created container: %s' % name))
        log.append((start, 'Normal', 'Started', 'Started container %s' % name))
        container_id = 'containerd://' + _digest('%s/%s/%d' % (pod_ref, name, timeline.restarts))
        timeline.ran = timeline.started = True
        timeline.state = {'running': {'startedAt': at(start)}}
        timeline.container_id = container_id
        fails = kind in ('crashloop', 'fail')
        if not fails and restart_policy == 'Always':
            _readiness(container, kind, parameter, start, elapsed, timeline)
            return timeline
        exited = start + (parameter if kind == 'slowstart' else CRASH_AFTER_SECONDS)
        if exited > elapsed:
            if not fails:
                _readiness(container, kind, parameter, start, elapsed, timeline)
            return timeline
        terminated = {'exitCode': 1 if fails else 0, 'reason': 'Error' if fails else 'Completed', 'startedAt': at(start),
                      'finishedAt': at(exited), 'containerID': container_id}
        if restart_policy == 'Never' or not fails:
            timeline.state = {'terminated': terminated}
            timeline.ready = timeline.started = False
            return timeline
        timeline.last_state = {'terminated': terminated}
        timeline.restarts += 1
        timeline.started = False
        delay = next(backoff)
        timeline.state = {'waiting': {'reason': 'CrashLoopBackOff', 'message': 'back-off %ds restarting failed container=%s pod=%s'
                                      % (delay, name, pod_ref)}}
        log.append((exited, 'Warning', 'BackOff', 'Back-off restarting failed container %s in pod %s' % (name, pod_ref)))
        start = exited + delay
    return timeline


def _readiness(container: dict, kind: str, parameter: float, start: float, elapsed: float, timeline: Timeline) -> None:
    probe = container.get('readinessProbe')
    delay = (probe or {}).get('initialDelaySeconds', 0)
    period = (probe or {}).get('periodSeconds', 10)
    if kind == 'neverready':
        check = start + delay
        while check <= elapsed:
            timeline.events.append((check, 'Warning', 'Unhealthy', 'Readiness probe failed: HTTP probe failed with statuscode: 503'))
            check += period
        return
    ready_at = start + (parameter if kind == 'slowstart' else delay)
    timeline.ready = elapsed >= ready_at


def _condition(kind: str, state: bool, previous: dict, now: str, reason: str | None = None, message: str | None = None) -> dict:
    """A pod condition whose lastTransitionTime only moves when its status does."""
    status = 'True' if state else 'False'
    old = next((item for item in previous.get('conditions') or [] if item['type'] == kind), None)
    item = {'type': kind, 'status': status, 'lastProbeTime': None,
            'lastTransitionTime': old['lastTransitionTime'] if old and old['status'] == status else now}
    if reason and not state:
        item['reason'] = reason
    if message and not state:
        item['message'] = message
    return item


def pod_status(pod: dict, timelines: list[Timeline], started_at: str, pod_ip: str, now: str) -> dict:
    """Pure: the pod status the kubelet would report for these container timelines."""
    previous = pod.get('status') or {}
    containers = pod['spec']['containers']
    statuses = []
    for container, timeline in zip(containers, timelines):
        entry = {'name': container['name'], 'state': timeline.state, 'lastState': timeline.last_state,
                 'ready': timeline.ready, 'restartCount': timeline.restarts,
                 'image': normalise_image(container.get('image', '')), 'imageID': '', 'started': timeline.started}
        if timeline.ran:
            repository = normalise_image(container.get('image', '')).rsplit(':', 1)[0]
            entry['imageID'] = timeline.image_id or '%s@sha256:%s' % (repository, _digest(container.get('image', '')))
            entry['containerID'] = timeline.container_id
        statuses.append(entry)
    unready = [container['name'] for container, timeline in zip(containers, timelines) if not timeline.ready]
    all_ready = not unready
    message = 'containers with unready status: [%s]' % ' '.join(unready)
    sandbox = any(timeline.ran for timeline in timelines) or all(
        'ContainerCreating' != timeline.state.get('waiting', {}).get('reason') for timeline in timelines)
    conditions = [
        _condition('PodReadyToStartContainers', sandbox, previous, now),
        _condition('Initialized', True, previous, now),
        _condition('Ready', all_ready, previous, now, 'ContainersNotReady', message),
        _condition('ContainersReady', all_ready, previous, now, 'ContainersNotReady', message),
        _condition('PodScheduled', True, previous, now),
    ]
    host_ip = node_ip(pod['spec'].get('nodeName') or NODE_NAME)
    status = {'phase': pod_phase(pod['spec'].get('restartPolicy', 'Always'), timelines),
              'conditions': conditions, 'hostIP': host_ip, 'hostIPs': [{'ip': host_ip}], 'podIP': pod_ip,
              'podIPs': [{'ip': pod_ip}], 'startTime': started_at, 'containerStatuses': statuses, 'qosClass': 'BestEffort'}
    if not pod_ip:
        del status['podIP'], status['podIPs']
    return status


def pod_phase(restart_policy: str, timelines: list[Timeline]) -> str:
    """Pending until a container ran; Succeeded/Failed once every container terminated for good."""
    if not any(timeline.ran for timeline in timelines):
        return 'Pending'
    ended = [timeline.state.get('terminated') for timeline in timelines]
    if restart_policy == 'Always' or not all(ended):
        return 'Running'
    return 'Succeeded' if all(item.get('exitCode') == 0 for item in ended) else 'Failed'


def pinned_node(pod: dict) -> str | None:
    """The node a pod's required node affinity names with a single `metadata.name In [node]` term, if any."""
    required = (((pod['spec'].get('affinity') or {}).get('nodeAffinity') or {})
                .get('requiredDuringSchedulingIgnoredDuringExecution') or {})
    for term in required.get('nodeSelectorTerms') or []:
        for field in term.get('matchFields') or []:
            if field.get('key') == 'metadata.name' and field.get('operator') == 'In' and len(field.get('values') or []) == 1:
                return field['values'][0]
    return None


def pick_node(pod: dict, nodes: list[str], load: dict[str, int]) -> str | None:
    """The node for a pod: the one its `metadata.name In [node]` node affinity names (daemon pods), else
    the node running the fewest pods (ties by name); None when the named node does not exist."""
    pinned = pinned_node(pod)
    if pinned is not None:
        return pinned if pinned in nodes else None
    return min(nodes, key=lambda node: (load.get(node, 0), node)) if nodes else None


class Scheduler:
    """Binds every unscheduled pod to a simulated node."""

    def __init__(self, registry: Registry):
        self.registry = registry

    def reconcile(self) -> None:
        pods = self.registry.list(PODS)
        if all(pod['spec'].get('nodeName') for pod in pods):
            return
        nodes = sorted(node['metadata']['name'] for node in self.registry.list(NODES))
        load: dict[str, int] = {}
        for pod in pods:
            if pod['spec'].get('nodeName') and not pod_finished(pod):
                load[pod['spec']['nodeName']] = load.get(pod['spec']['nodeName'], 0) + 1
        for pod in pods:
            if pod['spec'].get('nodeName') or pod['metadata'].get('deletionTimestamp'):
                continue
            node = pick_node(pod, nodes, load)
            if node is None:
                continue
            load[node] = load.get(node, 0) + 1
            namespace, name = pod['metadata']['namespace'], pod['metadata']['name']
            pod['spec']['nodeName'] = node
            pod = self.registry.update(PODS, namespace, name, pod)
            pod['status']['conditions'] = [{'type': 'PodScheduled', 'status': 'True', 'lastProbeTime': None,
                                            'lastTransitionTime': self.registry.clock.timestamp()}]
            pod = self.registry.update(PODS, namespace, name, pod, subresource='status')
            events.record(self.registry, pod, 'Normal', 'Scheduled', 'Successfully assigned %s/%s to %s'
                          % (namespace, name, node), 'default-scheduler')


class FastKubelet:
    """Runs the pods bound to the node on timers; remembers per pod when it saw it and what it reported."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.seen: dict[str, float] = {}
        self.emitted: dict[str, int] = {}
        self.ips: dict[str, str] = {}
        self.images: set[str] = set()
        self._next_ip = 0

    def reconcile(self) -> None:
        now = self.registry.clock.now()
        for pod in self.registry.list(PODS):
            if not pod['spec'].get('nodeName'):
                continue
            if pod['metadata'].get('deletionTimestamp'):
                self._terminate(pod, now)
            elif not pod_finished(pod):
                self._sync(pod, now)

    def _ip(self, uid: str) -> str:
        if uid not in self.ips:
            self._next_ip += 1
            self.ips[uid] = '10.244.%d.%d' % (self._next_ip // 250, self._next_ip % 250 + 1)
        return self.ips[uid]

    def _sync(self, pod: dict, now: float) -> None:
        uid = pod['metadata']['uid']
        first = self.seen.setdefault(uid, now)
        elapsed = now - first
        pod_ref = '%s_%s(%s)' % (pod['metadata']['name'], pod['metadata']['namespace'], uid)
        annotation = (pod['metadata'].get('annotations') or {}).get(BEHAVIOUR_ANNOTATION)
        timelines = []
        logs = []
        for index, container in enumerate(pod['spec']['containers']):
            present = container.get('image') in self.images
            command = ' '.join(container.get('command', []) + container.get('args', []))
            timeline = container_timeline(container, behaviour_of(container.get('image', ''), annotation, command), elapsed, pod_ref,
                                          present, lambda offset: rfc3339(first + offset), pod['spec'].get('restartPolicy', 'Always'))
            if timeline.ran:
                self.images.add(container.get('image'))
            timelines.append(timeline)
            logs.extend((offset, index, kind, reason, message) for offset, kind, reason, message in timeline.events)
        self._emit(pod, uid, sorted(logs, key=lambda entry: (entry[0], entry[1])))
        status = pod_status(pod, timelines, rfc3339(first), self._ip(uid), self.registry.clock.timestamp())
        if status != pod.get('status'):
            pod['status'] = status
            self.registry.update(PODS, pod['metadata']['namespace'], pod['metadata']['name'], pod, subresource='status')

    def _emit(self, pod: dict, uid: str, logs: list) -> None:
        done = self.emitted.get(uid, 0)
        for _offset, index, kind, reason, message in logs[done:]:
            container = pod['spec']['containers'][index]['name']
            events.record(self.registry, pod, kind, reason, message, 'kubelet',
                          field_path='spec.containers{%s}' % container, host=pod['spec']['nodeName'])
        self.emitted[uid] = max(done, len(logs))

    def _terminate(self, pod: dict, now: float) -> None:
        """Stop the containers, then remove the pod once the (capped) grace period is over."""
        uid = pod['metadata']['uid']
        if self.emitted.get(uid + '/killed') is None:
            self.emitted[uid + '/killed'] = 1
            for container in pod['spec']['containers']:
                events.record(self.registry, pod, 'Normal', 'Killing', 'Stopping container %s' % container['name'], 'kubelet',
                              field_path='spec.containers{%s}' % container['name'], host=pod['spec']['nodeName'])
        deadline = parse_rfc3339(pod['metadata']['deletionTimestamp'])
        grace = pod['metadata'].get('deletionGracePeriodSeconds', 0)
        if now >= min(deadline, deadline - grace + TERMINATION_SECONDS):
            self.registry.remove(PODS, pod['metadata']['namespace'], pod['metadata']['name'])
            for key in (uid, uid + '/killed'):
                self.emitted.pop(key, None)
            self.seen.pop(uid, None)
