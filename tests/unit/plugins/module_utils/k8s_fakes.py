# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fakes of the Kubernetes boundary (_k8s.Kube for the migration Job, _k8s.PodExecClient for the pod transport),
and objects as the API server sends them."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading


def job_object(outcome=None):
    conditions = [{'type': 'Suspended', 'status': 'False'}]
    if outcome == 'Failed':
        conditions.append({'type': 'FailureTarget', 'status': 'True'})
    if outcome:
        conditions.append({'type': outcome, 'status': 'True'})
    return {'metadata': {'name': 'x', 'uid': 'uid-1'}, 'status': {'conditions': conditions}}


def pod(name='x-abcde', waiting=None, exit_code=None):
    container = {'name': 'migrate', 'restartCount': 0, 'state': {'running': {}}}
    if waiting:
        container['state'] = {'waiting': {'reason': waiting, 'message': 'image "app:9" not found'}}
    if exit_code is not None:
        container['state'] = {'terminated': {'exitCode': exit_code}}
    return {'metadata': {'name': name}, 'status': {'containerStatuses': [container]}}


class FakeKube:
    """The part of _k8s.Kube the Job uses; ``snapshots`` are what the watch shows, one judge call each."""

    def __init__(self, snapshots=(), final_pods=None, logs=None, fail=None):
        self.snapshots = list(snapshots)
        self.final_pods = final_pods if final_pods is not None else (self.snapshots[-1]['pods'] if self.snapshots else [])
        self.logs = logs or {}
        self.fail = fail or {}  # 'METHOD path' -> the ModuleFailure that request raises
        self.calls = []
        self.bodies = {}
        self.watched = None

    def _call(self, method, path, body=None):
        self.calls.append('%s %s' % (method, path))
        self.bodies[self.calls[-1]] = body
        if self.calls[-1] in self.fail:
            raise self.fail[self.calls[-1]]

    def get(self, path, query=None):
        self._call('GET', path)
        return {'metadata': {'name': path.rsplit('/', 1)[-1]}}

    def create(self, path, body, dry_run=False):
        self._call('POST', path, body)
        return dict(body, metadata=dict(body['metadata'], uid='uid-%d' % len(self.calls)))

    def patch(self, path, body, content_type=None, dry_run=False):
        self._call('PATCH', path, (body, content_type))
        return body

    def list(self, path, query=None):
        self._call('GET', path, query)
        return self.final_pods

    def pod_log(self, namespace, name, container=None, tail_lines=None, previous=False):
        self._call('GET', '/api/v1/namespaces/%s/pods/%s/log' % (namespace, name))
        return self.logs.get(name, '')

    def delete(self, path, propagation=None, missing_ok=True):
        self._call('DELETE', path, propagation)

    def wait_until(self, streams, judge, clock=None):
        self.watched = streams
        for snapshot in self.snapshots:
            objects = {'job': {snapshot['job']['metadata']['name']: snapshot['job']} if snapshot['job'] else {},
                       'pods': {p['metadata']['name']: p for p in snapshot['pods']}}
            answer = judge(objects)
            if answer:
                return answer
        return None  # the deadline passed


class JobKube(FakeKube):
    """Snapshots given as (job outcome, pods): the Job object gets the transport's name when the watch starts."""

    def __init__(self, steps, **kwargs):
        super().__init__(**kwargs)
        self.steps = steps
        self.final_pods = kwargs.get('final_pods', steps[-1][1] if steps else [])

    def wait_until(self, streams, judge, clock=None):
        name = self.bodies[next(call for call in self.calls if call.startswith('POST /apis/batch'))]['metadata']['name']
        self.snapshots = [{'job': dict(job_object(outcome), metadata={'name': name}), 'pods': pods}
                          for outcome, pods in self.steps]
        return super().wait_until(streams, judge, clock)


def exit_status(rc):
    if rc == 0:
        return json.dumps({'status': 'Success'}).encode()
    return json.dumps({'status': 'Failure', 'reason': 'NonZeroExitCode',
                       'details': {'causes': [{'reason': 'ExitCode', 'message': str(rc)}]}}).encode()


class ScriptedExec:
    """A PodExec whose frames are given; records stdin as sent."""

    def __init__(self, frames, can_close_stdin=True):
        self._frames = list(frames)
        self.can_close_stdin = can_close_stdin
        self.stdin = b''
        self.stdin_closed = threading.Event()
        self.closed = False

    def frames(self):
        for frame in self._frames:
            if isinstance(frame, Exception):
                raise frame
            yield frame

    def send_stdin(self, data):
        self.stdin += data

    def close_stdin(self):
        self.stdin_closed.set()

    def close(self):
        self.closed = True


class LocalExec(ScriptedExec):
    """A PodExec that runs the command in a child process here: its output comes back as the API server frames it."""

    def __init__(self, argv, stdin):
        super().__init__([])
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def frames(self):
        chunks = queue.Queue()

        def read(pipe, channel):
            for chunk in iter(lambda: os.read(pipe.fileno(), 7), b''):  # small chunks: many frames
                chunks.put((channel, chunk))
            chunks.put(None)
        readers = [threading.Thread(target=read, args=(pipe, channel), daemon=True)
                   for pipe, channel in ((self.proc.stdout, 1), (self.proc.stderr, 2))]
        for reader in readers:
            reader.start()
        ended = 0
        while ended < 2:
            item = chunks.get()
            if item is None:
                ended += 1
            else:
                yield item
        status = exit_status(self.proc.wait())
        yield 3, status[:10]  # a Status may span frames
        yield 3, status[10:]

    def send_stdin(self, data):
        super().send_stdin(data)
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()


class FakePods:
    """The boundary's PodExecClient: a pod to read, and an exec that runs here (or the scripted one)."""

    def __init__(self, pod=None, scripted=None, refuse=None):
        self.pod = pod or {'metadata': {'name': 'db-0'}, 'status': {'phase': 'Running'},
                           'spec': {'containers': [{'name': 'postgres'}]}}
        self.scripted = scripted
        self.refuse = refuse
        self.execs = []

    def read_pod(self, namespace, name):
        if self.refuse:
            raise self.refuse
        return self.pod

    def exec(self, namespace, pod, argv, container=None, stdin=False):
        self.execs.append(dict(namespace=namespace, pod=pod, argv=argv, container=container, stdin=stdin))
        if self.refuse:
            raise self.refuse
        return self.scripted or LocalExec(argv, stdin)
