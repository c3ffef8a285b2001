# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""alembic_migrate's helper run as a Kubernetes Job from the application's image, as runbooks run
migrations: create the Job, wait for it to end, read its log, delete it.

The environment (the database URL among it) and the program go into a Secret the Job's container reads
with ``envFrom``, so neither appears in the Job spec; the Secret is owned by the Job (the garbage
collector removes it with the Job should this process die) and deleted with it.
"""

from __future__ import annotations

import secrets
import shlex
import time
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecError, ExecResult, _kubernetes

PROGRAM_VARIABLE = 'ARTISAN_PROGRAM'
# `python -c` this: runs the program the Secret carries as if it were a script.
BOOTSTRAP = ("import os; exec(compile(os.environ.pop('%s'), 'artisan-program', 'exec'), {'__name__': '__main__'})"
             % PROGRAM_VARIABLE)
STUCK_REASONS = ('ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError',
                 'CreateContainerError', 'RunContainerError')
POLL_SECONDS = 0.5
LABELS = {'app.kubernetes.io/managed-by': 'artisan.upgrade', 'app.kubernetes.io/component': 'alembic-migrate'}


def job_argument_spec() -> dict[str, t.Any]:
    return dict(job=dict(type='dict', options=dict(
        image=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        service_account=dict(type='str'),
        labels=dict(type='dict', default={}),
        timeout=dict(type='int', default=600),
    )))


def job_manifest(name: str, job: dict[str, t.Any], command: list[str], secret: str) -> dict[str, t.Any]:
    labels = dict(LABELS, **{key: str(value) for key, value in (job.get('labels') or {}).items()})
    pod_spec: dict[str, t.Any] = {
        'restartPolicy': 'Never',
        'containers': [{'name': 'migrate', 'image': job['image'], 'command': command,
                        'envFrom': [{'secretRef': {'name': secret}}]}],
    }
    if job.get('service_account'):
        pod_spec['serviceAccountName'] = job['service_account']
    return {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': name, 'labels': labels},
            'spec': {'backoffLimit': 0, 'ttlSecondsAfterFinished': 600,
                     'template': {'metadata': {'labels': labels}, 'spec': pod_spec}}}


def job_outcome(status: t.Any) -> str | None:
    """``Complete``, ``Failed``, or None while the Job runs."""
    for condition in (getattr(status, 'conditions', None) or []):
        if condition.type in ('Complete', 'Failed') and condition.status == 'True':
            return condition.type
    return None


def stuck_reason(pods: list[t.Any]) -> str | None:
    """Why the Job's container cannot start (a missing image, a missing Secret...), or None."""
    for pod in pods:
        for state in (getattr(pod.status, 'container_statuses', None) or []):
            waiting = state.state.waiting if state.state else None
            if waiting and waiting.reason in STUCK_REASONS:
                return '%s: %s' % (waiting.reason, waiting.message or '')
    return None


def exit_code(pods: list[t.Any]) -> int:
    for pod in pods:
        for state in (getattr(pod.status, 'container_statuses', None) or []):
            terminated = state.state.terminated if state.state else None
            if terminated is not None:
                return terminated.exit_code
    return 1


class JobTransport:
    """Runs ``python - ARGS`` (the program on stdin) as a Job's container; its log is the command's output."""

    kind = 'job'

    def __init__(self, params: dict[str, t.Any], job: dict[str, t.Any]) -> None:
        self.params = params
        self.job = job
        self.namespace = job['namespace']
        self._client: t.Any = None

    def api(self) -> t.Any:
        _k8s = _kubernetes()
        if self._client is None:
            try:
                self._client = _k8s.api_client(self.params)
            except _k8s.K8sError as exc:
                raise ExecError('job: %s' % exc) from exc
        return self._client

    def command_line(self, name: str, argv: list[str]) -> list[str]:
        """The equivalent kubectl call, for the ``commands`` a module returns (no values, no program text)."""
        return ['kubectl', 'create', 'job', name, '--namespace', self.namespace, '--image', self.job['image'],
                '--', argv[0], '-c', '<program from Secret %s>' % name] + argv[2:]

    def check(self) -> None:
        _k8s = _kubernetes()
        import kubernetes  # pylint: disable=import-outside-toplevel
        try:
            kubernetes.client.CoreV1Api(self.api()).read_namespace(self.namespace)
        except _k8s.ApiException as exc:
            raise ExecError('job: namespace "%s": %s' % (self.namespace, _k8s.api_error_message(exc))) from exc
        except Exception as exc:  # pylint: disable=broad-exception-caught
            if not _k8s.is_unreachable(exc):
                raise
            raise ExecError('job: cannot reach the Kubernetes API at %s: %s' % (_k8s.server_url(self.api()), exc)) from exc

    def run(self, argv: list[str], env: dict[str, str] | None = None, stdin: t.Any = None, stdout: t.Any = None) -> ExecResult:
        _k8s = _kubernetes()
        import kubernetes  # pylint: disable=import-outside-toplevel
        core = kubernetes.client.CoreV1Api(self.api())
        batch = kubernetes.client.BatchV1Api(self.api())
        name = 'alembic-migrate-%s' % secrets.token_hex(4)
        command = shlex.join(self.command_line(name, argv))
        data = dict(env or {})
        data[PROGRAM_VARIABLE] = stdin.read().decode('utf-8')
        try:
            core.create_namespaced_secret(self.namespace, {
                'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque',
                'metadata': {'name': name, 'labels': LABELS}, 'stringData': data})
        except _k8s.ApiException as exc:
            return ExecResult(rc=126, stderr='cannot create the Secret %s: %s' % (name, _k8s.api_error_message(exc)),
                              command=command)
        try:
            return self._run_job(core, batch, name, [argv[0], '-c', BOOTSTRAP] + argv[2:], command)
        finally:
            self._delete(batch.delete_namespaced_job, name)
            self._delete(core.delete_namespaced_secret, name)

    def _run_job(self, core: t.Any, batch: t.Any, name: str, container_command: list[str], command: str) -> ExecResult:
        _k8s = _kubernetes()
        try:
            job = batch.create_namespaced_job(self.namespace, job_manifest(name, self.job, container_command, name))
            core.patch_namespaced_secret(name, self.namespace, {'metadata': {'ownerReferences': [{
                'apiVersion': 'batch/v1', 'kind': 'Job', 'name': name, 'uid': job.metadata.uid}]}})
        except _k8s.ApiException as exc:
            return ExecResult(rc=126, stderr='cannot create the Job %s: %s' % (name, _k8s.api_error_message(exc)),
                              command=command)
        deadline = time.monotonic() + self.job['timeout']
        selector = 'job-name=%s' % name
        while True:
            outcome = job_outcome(batch.read_namespaced_job_status(name, self.namespace).status)
            pods = core.list_namespaced_pod(self.namespace, label_selector=selector).items
            if outcome:
                break
            reason = stuck_reason(pods)
            if reason:
                return ExecResult(rc=126, stderr='the Job %s cannot start its container: %s' % (name, reason),
                                  command=command)
            if time.monotonic() > deadline:
                return ExecResult(rc=124, stderr='the Job %s did not end within %ds (job.timeout)' % (
                    name, self.job['timeout']), command=command)
            time.sleep(POLL_SECONDS)
        log = ''.join(core.read_namespaced_pod_log(pod.metadata.name, self.namespace) for pod in pods)
        rc = 0 if outcome == 'Complete' else exit_code(pods)
        return ExecResult(rc=rc, stderr='' if rc == 0 else log[-4000:], stdout=log.encode('utf-8'), command=command)

    def _delete(self, delete: t.Callable[..., t.Any], name: str) -> None:
        _k8s = _kubernetes()
        try:
            delete(name, self.namespace, propagation_policy='Background')
        except _k8s.ApiException as exc:
            if exc.status != 404:
                raise ExecError('cannot delete %s: %s' % (name, _k8s.api_error_message(exc))) from exc
