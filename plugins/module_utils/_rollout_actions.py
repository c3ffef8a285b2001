# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_rollout's three states as plain functions: roll out images (rolled_out), undo, restart.

Each returns the module result (the _run envelope) or raises ModuleFailure whose context is the
partial result. Decisions come from _rollout; every request goes through a _rollout_api.RolloutApi.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.artisan.upgrade.plugins.module_utils import _rollout as decide
from ansible_collections.artisan.upgrade.plugins.module_utils._k8s import STRATEGIC_MERGE, Deadline, api_error_message
from ansible_collections.artisan.upgrade.plugins.module_utils._rollout_api import RolloutApi
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


def utc_rfc3339() -> str:
    # Microseconds (RFC 3339 allows them): two restarts within one second must still change the template.
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def describe(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    """The parts of a workload a rollout changes, for the diff."""
    template = obj['spec']['template']
    return {'images': decide.template_images(template),
            'annotations': dict(obj['metadata'].get('annotations') or {}),
            'template_annotations': dict((template.get('metadata') or {}).get('annotations') or {})}


class Rollout:
    """One task: the parameters, the API, the workload as first read, and the run (requests, time) so far."""

    def __init__(self, params: dict[str, t.Any], api: RolloutApi, check_mode: bool, run: Run | None = None,
                 now: t.Callable[[], str] = utc_rfc3339) -> None:
        self.params = params
        self.api = api
        self.check_mode = check_mode
        self.run = run or Run()
        self.now = now
        # Every request of the task, the first read included, waits at most until the timeout.
        api.deadline = Deadline(params['timeout'])
        self.obj = api.read(params['kind'], params['namespace'], params['name'])
        self.what = '%s %s' % (params['kind'].lower(), params['name'])
        self.revision_before = self.revision(self.obj)

    def revision(self, obj: dict[str, t.Any]) -> int | None:
        # A Deployment names its revision in an annotation; the others are found among their ControllerRevisions.
        owned = [] if obj['kind'] == 'Deployment' else self.api.owned_history(obj)
        return decide.current_revision(obj, decide.history(obj, owned))

    def report(self, after: dict[str, t.Any], **fields: t.Any) -> dict[str, t.Any]:
        """k8s_rollout's own result keys (the envelope's come from the run)."""
        before = describe(self.obj)
        current = fields.pop('current', after)
        return dict(
            kind=self.obj['kind'], name=self.params['name'], namespace=self.params['namespace'],
            revision={'before': self.revision_before, 'after': fields.pop('revision_after', self.revision_before)},
            images={'before': before['images'], 'after': describe(after)['images']},
            replicas=decide.replica_counts(current),
            conditions=(current.get('status') or {}).get('conditions') or [],
            diff={'before': before, 'after': describe(after)},
            **fields)

    def result(self, changed: bool, msg: str, after: dict[str, t.Any], **fields: t.Any) -> dict[str, t.Any]:
        return self.run.envelope(changed, msg, **self.report(after, **fields))

    # -- writing and waiting -------------------------------------------------------------------

    def write(self, patch: t.Any, content_type: str) -> dict[str, t.Any]:
        """Apply the patch, or in check mode let the server validate it without storing it."""
        return self.api.patch(self.obj, patch, content_type, dry_run=self.check_mode)

    def wait(self, obj: dict[str, t.Any], stale_deadline: str | None) -> t.Any:
        tracker = decide.RolloutTracker(self.params['failure_grace'], stale_deadline)
        return self.api.wait(obj, tracker, self.params['timeout'])

    def finish(self, changed: bool, patched: dict[str, t.Any], action: str, stale_deadline: str | None,
               undo_on_failure: bool = False) -> dict[str, t.Any]:
        """Wait for the rollout the write started (or one already running) and build the result.

        ``action`` says what was done with a %s for the workload, e.g. ``rolled out %s``.
        """
        if self.check_mode or not self.params['wait']:
            status = decide.rollout_status(patched)
            msg = action % self.what if changed else '%s: %s' % (self.what, status.message)
            return self.result(changed, msg, patched, current=self.obj,
                               rollout={'complete': status.done and not changed, 'message': status.message})
        waited = self.wait(patched, stale_deadline)
        verdict, final = waited.verdict, waited.obj
        rollout = {'complete': verdict.done, 'message': verdict.message, 'progress': waited.progress,
                   'watch': {'events': waited.events, 'relists': waited.relists}, 'waited': waited.duration}
        if verdict.done:
            return self.result(changed, '%s: %s' % (action % self.what if changed else self.what, verdict.message),
                               patched, current=final, revision_after=self.revision(final), rollout=rollout)
        # A deadline or a timeout names no pod: report why the new pods are not ready all the same.
        problems = verdict.problems or tuple(waited.not_ready)
        diagnostics = self.api.diagnostics(self.params['namespace'], problems, self.params['log_lines'])
        msg = verdict.message
        if not verdict.problems and diagnostics:
            msg = '%s; new pods not ready: %s' % (msg, decide.failure_summary(diagnostics))
        fields = dict(current=final, revision_after=self.revision(final), rollout=rollout, diagnostics=diagnostics,
                      reason=verdict.reason)
        if undo_on_failure:
            undo, fields['current'] = self.undo_after_failure(final, waited.unready_new_pods)
            fields['undo'] = undo
            fields['revision_after'] = undo.get('revision', fields['revision_after'])
            msg = '%s; %s' % (msg, undo_summary(undo))
        raise ModuleFailure(msg, changed=changed, **self.report(patched, **fields))

    def apply_undo(self, obj: dict[str, t.Any], plan: decide.UndoPlan) -> dict[str, t.Any]:
        """Write the rollback (a dry run in check mode)."""
        return self.api.patch(obj, plan.patch, plan.patch_type, dry_run=self.check_mode)

    def undo_after_failure(self, failed: dict[str, t.Any],
                           unready_new_pods: t.Sequence[str]) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
        """Roll back to the revision we started from and wait for it, like Helm's --atomic.

        Returns the report of the rollback and the workload after it. The rollback gets a ``timeout`` of its own.
        """
        self.api.deadline = Deadline(self.params['timeout'])
        try:
            entries = decide.history(failed, self.api.owned_history(failed))
            plan = decide.plan_undo(failed, entries, self.revision_before or 0)
            if plan.patch is None:
                return {'changed': False, 'revision': plan.target.revision, 'rolled_back_to': plan.target.revision,
                        'complete': True, 'message': 'already at revision %d' % plan.target.revision}, failed
            patched = self.apply_undo(failed, plan)
            if failed['kind'] == 'StatefulSet':
                # The StatefulSet controller waits for a broken pod to become ready before it replaces it, so
                # a reverted template alone stays stuck: delete the new revision's unready pods (the documented
                # forced rollback); the controller recreates them from the reverted template.
                for pod in unready_new_pods:
                    self.api.delete_pod(failed['metadata']['namespace'], pod)
            waited = self.wait(patched, decide.progress_deadline_time(failed))
            # The rollback gave the old template the next revision number: report it as kubectl now lists it.
            after = self.api.read(failed['kind'], failed['metadata']['namespace'], failed['metadata']['name'])
            revision = self.revision(after)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # The report of the original failure must survive whatever the undo meets.
            return {'changed': False, 'complete': False, 'message': 'undo failed: %s' % api_error_message(exc)}, failed
        return {'changed': True, 'revision': revision, 'rolled_back_to': plan.target.revision,
                'complete': waited.verdict.done, 'message': waited.verdict.message,
                'images': decide.template_images(patched['spec']['template']), 'progress': waited.progress}, after


def undo_summary(undo: dict[str, t.Any]) -> str:
    """The rollback in the failure message, with the revision numbers kubectl shows after it."""
    if 'rolled_back_to' not in undo:
        return undo['message']
    if undo['revision'] != undo['rolled_back_to']:
        return 'undone to revision %s (revision %s before the rollback re-numbered it): %s' % (
            undo['revision'], undo['rolled_back_to'], undo['message'])
    return 'undone to revision %s: %s' % (undo['rolled_back_to'], undo['message'])


# --- the three states ------------------------------------------------------------------------------

def roll_out(run: Rollout) -> dict[str, t.Any]:
    params, obj = run.params, run.obj
    template = obj['spec']['template']
    images = decide.requested_images(template, params['images'], params['image'], run.what)
    env = decide.check_env(template, params['env'], run.what)
    plan = decide.plan_rollout(obj, images, env, params['change_cause'])
    if plan.patch is None:
        return run.finish(False, obj, 'rolled out %s', None)
    if decide.is_paused(obj):
        raise decide.RolloutError('%s is paused: resume it (kubectl rollout resume) before rolling out' % run.what)
    patched = run.write(plan.patch, STRATEGIC_MERGE)
    return run.finish(True, patched, 'would roll out %s' if run.check_mode else 'rolled out %s',
                      decide.progress_deadline_time(obj), undo_on_failure=params['on_failure'] == 'undo')


def undo(run: Rollout) -> dict[str, t.Any]:
    obj = run.obj
    plan = decide.plan_undo(obj, decide.history(obj, run.api.owned_history(obj)), run.params['to_revision'] or 0)
    if plan.patch is None:
        return run.finish(False, obj, 'undone %s', None)
    patched = run.apply_undo(obj, plan)
    action = '%s %%s to revision %d' % ('would undo' if run.check_mode else 'undone', plan.target.revision)
    return run.finish(True, patched, action, decide.progress_deadline_time(obj))


def restart(run: Rollout) -> dict[str, t.Any]:
    patch = decide.restart_patch(run.obj, run.params['restart_token'], run.now())
    if patch is None:
        return run.finish(False, run.obj, 'restarted %s', None)
    patched = run.write(patch, STRATEGIC_MERGE)
    return run.finish(True, patched, 'would restart %s' if run.check_mode else 'restarted %s',
                      decide.progress_deadline_time(run.obj))


STATES = {'rolled_out': roll_out, 'undone': undo, 'restarted': restart}
