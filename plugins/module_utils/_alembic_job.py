# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""alembic_migrate's helper run as a Kubernetes Job from the application's image, as runbooks run
migrations: create the Job, wait for it to end (watching it and its pod), read its log, delete it. Every
request goes through the Kubernetes boundary (_k8s.Kube); a pod stuck for one of the shared failure reasons
(_k8s_state) ends the wait at once.

The environment (the database URL among it) and the program go into a Secret the Job's container reads
with ``envFrom``, so neither appears in the Job spec; the Secret is owned by the Job (the garbage
collector removes it with the Job should this process die) and deleted with it.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import shlex
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _k8s_state as state
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecError, ExecResult, _kubernetes
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run

PROGRAM_VARIABLE = 'ARTISAN_PROGRAM'
# `python -c` this: runs the program the Secret carries as if it were a script.
BOOTSTRAP = ("import os; exec(compile(os.environ.pop('%s'), 'artisan-program', 'exec'), {'__name__': '__main__'})"
             % PROGRAM_VARIABLE)
LABELS = {'app.kubernetes.io/managed-by': 'artisan.upgrade', 'app.kubernetes.io/component': 'alembic-migrate'}
# The helper's action that changes the database (see _alembic_actions.Migration.helper).
APPLY_ACTION = 'apply'
# What a failed Job's stderr keeps of its log.
LOG_TAIL = 4000


def job_argument_spec() -> dict[str, t.Any]:
    return dict(job=dict(type='dict', options=dict(
        image=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        service_account=dict(type='str'),
        labels=dict(type='dict', default={}),
        timeout=dict(type='int', default=600),
        name=dict(type='str'),
        env_from=dict(type='list', elements='dict', default=[]),
        backoff_limit=dict(type='int', default=0),
    )))


# A Job's name is a DNS-1123 label: at most 63 characters.
NAME_LIMIT = 63
NAME_PATTERN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')


def job_option_errors(job: dict[str, t.Any]) -> str | None:
    """What is wrong with the job option's name, env_from and backoff_limit, else None."""
    if (job.get('backoff_limit') or 0) < 0:
        return ('job.backoff_limit must be 0 or more (how many times a failed migration pod is retried before the '
                'Job fails), got %s' % job['backoff_limit'])
    name = job.get('name')
    if name is not None and (len(name) > NAME_LIMIT or not NAME_PATTERN.match(name)):
        return ('job.name must be a DNS-1123 label (lower-case letters, digits and "-", at most %d characters, '
                'starting and ending with a letter or digit), got "%s"' % (NAME_LIMIT, name))
    for source in job.get('env_from') or []:
        if not isinstance(source, dict) or len(set(source) & {'configMapRef', 'secretRef'}) != 1:
            return ('job.env_from items are envFrom sources, each with one of configMapRef or secretRef '
                    '(for example {secretRef: {name: app-secret}}), got %s' % (source,))
    return None


def job_manifest(name: str, job: dict[str, t.Any], command: list[str], secret: str) -> dict[str, t.Any]:
    labels = dict(LABELS, **{key: str(value) for key, value in (job.get('labels') or {}).items()})
    pod_spec: dict[str, t.Any] = {
        'restartPolicy': 'Never',
        # The application's own sources first: the run's Secret (the database URL) wins over them.
        'containers': [{'name': 'migrate', 'image': job['image'], 'command': command,
                        'envFrom': list(job.get('env_from') or []) + [{'secretRef': {'name': secret}}]}],
    }
    if job.get('service_account'):
        pod_spec['serviceAccountName'] = job['service_account']
    return {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': name, 'labels': labels},
            'spec': {'backoffLimit': job.get('backoff_limit') or 0, 'ttlSecondsAfterFinished': 600,
                     'template': {'metadata': {'labels': labels}, 'spec': pod_spec}}}


@dataclasses.dataclass(frozen=True)
class JobVerdict:
    """How a wait for the Job ended: ``Complete``, ``Failed``, or ``Stuck`` with the pod problem that says why."""
    outcome: str
    problem: state.PodProblem | None = None


def job_verdict(job: dict[str, t.Any] | None, pods: t.Iterable[dict[str, t.Any]]) -> JobVerdict | None:
    """The Job's end, or a pod that will never run its command (the shared failure reasons), else None."""
    outcome = state.job_outcome(job) if job else None
    if outcome:
        return JobVerdict(outcome)
    for pod in pods:
        problem = state.pod_problem(pod)
        if problem is not None:
            return JobVerdict('Stuck', problem)
    return None


def deciding_pods(outcome: str, pods: t.Iterable[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The pod whose log and exit code tell how the Job ended: with retries (backoff_limit) a Job has a pod per
    attempt; a Complete one is told by the attempt that succeeded, a Failed one by its last attempt."""
    ordered = sorted(pods, key=lambda pod: (pod['metadata'].get('creationTimestamp') or '', pod['metadata']['name']))
    if outcome == 'Complete':
        succeeded = [pod for pod in ordered if state.exit_code([pod]) == 0]
        return succeeded[-1:] or ordered[-1:]
    return ordered[-1:]


def job_exit_code(outcome: str, pods: list[dict[str, t.Any]]) -> int:
    """0 for a Complete Job; for a Failed one its container's exit code (1 when no container ended)."""
    if outcome == 'Complete':
        return 0
    code = state.exit_code(pods)
    return 1 if not code else code


class JobTransport:
    """Runs ``python - ARGS`` (the program on stdin) as a Job's container; its log is the command's output.

    Every request goes through the Kubernetes boundary (``kube`` in tests) and is noted as ``METHOD path``
    in ``requests`` (``record_into`` makes that the module's run); the Job is waited for by watch.
    """

    kind = 'job'

    def __init__(self, params: dict[str, t.Any], job: dict[str, t.Any], kube: t.Any = None) -> None:
        self.params = params
        self.job = job
        self.namespace = job['namespace']
        self.requests = Run()
        self._kube = kube
        self._client: t.Any = None

    def record_into(self, run: Run) -> None:
        """Note the API calls in the module's ``run`` (masked like its other commands, in the order they happen)."""
        self.requests = run

    def kube(self, seconds: float) -> t.Any:
        """The boundary, its requests and waits bounded by ``seconds``."""
        if self._kube is not None:
            return self._kube
        _k8s = _kubernetes()
        if self._client is None:
            try:
                self._client = _k8s.api_client(self.params)
            except _k8s.K8sError as exc:
                raise ExecError('job: %s' % exc.msg) from exc
        return _k8s.Kube(self._client, _k8s.Deadline(seconds), self.requests)

    def path(self, api_version: str, plural: str, name: str | None = None) -> str:
        return _kubernetes().api_path(api_version, plural, self.namespace, name)

    def command_line(self, name: str, argv: list[str]) -> list[str]:
        """The equivalent kubectl call, for the ``commands`` a module returns (no values, no program text)."""
        return ['kubectl', 'create', 'job', name, '--namespace', self.namespace, '--image', self.job['image'],
                '--', argv[0], '-c', '<program from Secret %s>' % name] + argv[2:]

    def check(self) -> None:
        _k8s = _kubernetes()
        try:
            self.kube(_k8s.REQUEST_TIMEOUT).get(_k8s.api_path('v1', 'namespaces', name=self.namespace))
        except _k8s.Unreachable as exc:
            raise ExecError('job: %s' % exc.msg) from exc
        except ModuleFailure as exc:
            raise ExecError('job: namespace "%s": %s' % (self.namespace, exc.msg)) from exc

    def job_name(self, argv: list[str]) -> tuple[str, bool]:
        """(name, kept): the applying step's Job has job.name and is kept; the others a random one, deleted."""
        if self.job.get('name') and argv[2:3] == [APPLY_ACTION]:
            return self.job['name'], True
        return 'alembic-migrate-%s' % secrets.token_hex(4), False

    def run(self, argv: list[str], env: dict[str, str] | None = None, stdin: t.Any = None, stdout: t.Any = None) -> ExecResult:
        kube = self.kube(self.job['timeout'])
        name, kept = self.job_name(argv)
        command = shlex.join(self.command_line(name, argv))
        data = dict(env or {})
        data[PROGRAM_VARIABLE] = stdin.read().decode('utf-8')
        if kept:
            problem = self._clear_earlier(kube, name)
            if problem:
                return ExecResult(rc=126, stderr=problem, command=command)
        try:
            kube.create(self.path('v1', 'secrets'), {
                'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque',
                'metadata': {'name': name, 'labels': LABELS}, 'stringData': data})
        except ModuleFailure as exc:
            return ExecResult(rc=126, stderr='cannot create the Secret %s: %s' % (name, exc.msg), command=command)
        try:
            return self._run_job(kube, name, [argv[0], '-c', BOOTSTRAP] + argv[2:], command)
        finally:
            if not kept:
                self._delete(kube, self.path('batch/v1', 'jobs', name), name)
            self._delete(kube, self.path('v1', 'secrets', name), name)

    def _clear_earlier(self, kube: t.Any, name: str) -> str | None:
        """Delete a finished Job of ``name`` (an earlier attempt) and wait until it is gone; a message when one
        still runs or will not go."""
        path = self.path('batch/v1', 'jobs', name)
        try:
            earlier = kube.get_or_none(path)
            if earlier is None:
                return None
            if state.job_outcome(earlier) is None:
                return ('the Job %s is still running (another run applying these migrations?): wait for it to end, '
                        'or delete it, then run again' % name)
            kube.delete(path, propagation='Background')
            self._delete(kube, self.path('v1', 'secrets', name), name)
            gone = kube.wait_until({'job': (self.path('batch/v1', 'jobs'), _kubernetes().name_selector(name))},
                                   lambda objects: name not in objects['job'] or None)
        except (ModuleFailure, ExecError) as exc:
            return 'cannot replace the earlier Job %s: %s' % (name, getattr(exc, 'msg', str(exc)))
        return None if gone else 'the earlier Job %s was not deleted within %ds (job.timeout)' % (name, self.job['timeout'])

    def _run_job(self, kube: t.Any, name: str, container_command: list[str], command: str) -> ExecResult:
        _k8s = _kubernetes()
        try:
            job = kube.create(self.path('batch/v1', 'jobs'), job_manifest(name, self.job, container_command, name))
            # Owned by the Job: the garbage collector removes the Secret with it should this process die.
            kube.patch(self.path('v1', 'secrets', name), {'metadata': {'ownerReferences': [{
                'apiVersion': 'batch/v1', 'kind': 'Job', 'name': name, 'uid': job['metadata']['uid']}]}},
                content_type=_k8s.MERGE_PATCH)
        except ModuleFailure as exc:
            return ExecResult(rc=126, stderr='cannot create the Job %s: %s' % (name, exc.msg), command=command)
        pods_query = {'labelSelector': 'job-name=%s' % name}
        try:
            verdict = kube.wait_until(
                {'job': (self.path('batch/v1', 'jobs'), _k8s.name_selector(name)), 'pods': (self.path('v1', 'pods'), pods_query)},
                lambda objects: job_verdict(objects['job'].get(name), objects['pods'].values()))
            if verdict is None:
                return ExecResult(rc=124, stderr='the Job %s did not end within %ds (job.timeout)' % (
                    name, self.job['timeout']), command=command)
            if verdict.problem is not None:
                return ExecResult(rc=126, stderr='the Job %s cannot start its container: %s: %s' % (
                    name, verdict.problem.reason, verdict.problem.message), command=command)
            # Listed once more: the watch of the pods may not have seen the container's end yet.
            pods = deciding_pods(verdict.outcome, kube.list(self.path('v1', 'pods'), pods_query))
            log = ''.join(kube.pod_log(self.namespace, pod['metadata']['name']) for pod in pods)
        except ModuleFailure as exc:
            return ExecResult(rc=125, stderr='the Job %s: %s' % (name, exc.msg), command=command)
        rc = job_exit_code(verdict.outcome, pods)
        return ExecResult(rc=rc, stderr='' if rc == 0 else log[-LOG_TAIL:], stdout=log.encode('utf-8'), command=command)

    @staticmethod
    def _delete(kube: t.Any, path: str, name: str) -> None:
        try:
            kube.delete(path, propagation='Background')
        except ModuleFailure as exc:
            raise ExecError('cannot delete %s: %s' % (name, exc.msg)) from exc
