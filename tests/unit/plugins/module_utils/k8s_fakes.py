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

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s
from ansible_collections.artisan.upgrade.tests.unit.plugins.module_utils import kube_fake


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


class JobCluster(kube_fake.FakeKube):
    """kube_fake.FakeKube playing the Job controller: ``steps`` are what the watch shows, one (Job outcome, pods) per
    judge call; ``final_pods`` what a list of the pods answers after it; ``logs`` each pod's log."""

    def __init__(self, steps=(), final_pods=None, logs=None):
        super().__init__([{'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'shop'}}])
        self.steps = list(steps)
        self.final_pods = final_pods if final_pods is not None else (self.steps[-1][1] if self.steps else [])
        self.logs = logs or {}
        self.bodies = {}
        self.watched = None

    def create(self, path, body, dry_run=False):
        self.bodies['POST ' + path] = body
        created = super().create(path, body, dry_run)
        return dict(created, metadata=dict(created['metadata'], uid='uid-%d' % len(self.requests)))

    def patch(self, path, body, content_type=None, dry_run=False):
        self.bodies['PATCH ' + path] = (body, content_type)
        return super().patch(path, body, content_type, dry_run)

    def list(self, path, query=None):
        if not path.endswith('/pods'):
            return super().list(path, query)
        self._send('GET', path)
        return self.final_pods

    def pod_log(self, namespace, name, container=None, tail_lines=None, previous=False):
        self._send('GET', _k8s.api_path('v1', 'pods', namespace, name, 'log'))
        return self.logs.get(name, '')

    def delete(self, path, propagation=None, missing_ok=True):
        self.bodies['DELETE ' + path] = propagation
        return super().delete(path, propagation, missing_ok)

    def job_name(self):
        return self.bodies['POST /apis/batch/v1/namespaces/shop/jobs']['metadata']['name']

    def wait_until(self, streams, judge, clock=None):
        self.watched = streams
        for outcome, pods in self.steps:
            name = self.job_name()
            answer = judge({'job': {name: dict(job_object(outcome), metadata={'name': name})},
                            'pods': {p['metadata']['name']: p for p in pods}})
            if answer:
                return answer
        return None  # the deadline passed


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
