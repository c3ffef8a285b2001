# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: upgrade_report
type: aggregate
short_description: Writes the report of an upgrade run, JSON and one self-contained HTML page
version_added: 0.1.0
description:
  - "At the end of a run of C(artisan.upgrade.upgrade) (or of any playbook that writes a release record on the
    controller with M(artisan.upgrade.release_record)) writes C(<release_id>.report.json) and
    C(<release_id>.report.html), prints a short summary table, and as its last line C(Upgrade report: <path of the
    .html>)."
  - The report joins the release record (versions, phases and their results, backup path and sha256, revisions,
    rollback) with what this callback saw of the run, each task's start and end on each host, the canary steps
    (M(artisan.upgrade.canary_shift)) and the smoke tests and analyses (M(artisan.upgrade.smoke_test)).
  - The HTML page shows a timeline of the phases per host, the canary weights and error rates over time and the
    smoke results. It loads nothing from the network (inline CSS, SVG and JavaScript).
  - Nothing of a C(no_log) task is kept but its name and timing; check messages are masked by the modules, and keys
    that look secret are dropped as in the release record.
  - The folder is O(dir) when set, else the ansible-runner artifacts folder of the job (ansible-runner, and so AWX,
    sets C(AWX_ISOLATED_DATA_DIR)), else the folder of the release record (C(upgrade_records_dir)).
  - A run that writes no release record on the controller gets no report.
  - Enable it with C(callbacks_enabled = artisan.upgrade.upgrade_report) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=artisan.upgrade.upgrade_report). See C(docs/report.md).
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - Enabled in C(callbacks_enabled).
options:
  dir:
    description:
      - Where to write the report, instead of the ansible-runner artifacts folder or the release record's folder.
    type: path
    env:
      - name: ARTISAN_UPGRADE_REPORT_DIR
    ini:
      - section: callback_upgrade_report
        key: dir
"""

import json
import os
import tempfile
import threading
import time

from ansible.plugins.callback import CallbackBase

from ansible_collections.artisan.upgrade.plugins.module_utils import _upgrade_report as report_lib
from ansible_collections.artisan.upgrade.plugins.module_utils._upgrade_report_html import render_html


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'artisan.upgrade.upgrade_report'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Task starts arrive on the results thread, results on the main one.
        self._lock = threading.Lock()
        self._play = -1
        self._started = {}
        self._tasks = []

    def v2_playbook_on_play_start(self, play):
        self._play += 1

    def v2_runner_on_start(self, host, task):
        with self._lock:
            self._started[(host.name, task._uuid)] = time.time()

    def _seen(self, result, status):
        task, host, res = result.task, result.host, result.result
        now = time.time()
        action = getattr(task, 'resolved_action', None) or task.action or ''
        delegated = (res.get('_ansible_delegated_vars') or {}).get('ansible_delegated_host')
        observed = report_lib.observe(action, res, no_log=bool(task.no_log), failed=status == 'failed')
        with self._lock:
            run_dir = next((o['records_dir'] for t in reversed(self._tasks) for o in t['observed'] if o['kind'] == 'run'), None)
            for obs in observed:
                if obs['kind'] == 'record':
                    obs['controller'] = report_lib.controller_record(obs, run_dir, host.name, delegated)
            self._tasks.append({
                'host': host.name, 'play': self._play, 'task': result.task_name or task.get_name(), 'action': action,
                'uuid': task._uuid, 'start': self._started.pop((host.name, task._uuid), now), 'end': now,
                'status': 'changed' if status == 'ok' and res.get('changed') else status, 'observed': observed,
            })

    def v2_runner_on_ok(self, result):
        self._seen(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._seen(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._seen(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._seen(result, 'unreachable')

    def _record(self):
        """(record, path) of the run on the controller: the file as the run left it, else the last copy seen."""
        observations = [o for t in self._tasks for o in t['observed']]
        runs = [o for o in observations if o['kind'] == 'run']
        records = [o for o in observations if o['kind'] == 'record' and o.get('controller')]
        path = None
        if runs:
            path = os.path.join(os.path.expanduser(runs[-1]['records_dir']), runs[-1]['release_id'] + '.json')
        elif records:
            path = next((o['path'] for o in reversed(records) if o.get('path')), None)
        if path and os.path.isfile(path):
            with open(path, encoding='utf-8') as handle:
                return report_lib.scrub(json.load(handle)), path
        kept = next((o['record'] for o in reversed(records) if o.get('record')), None)
        return kept, path

    def v2_playbook_on_stats(self, stats):
        try:
            self._write()
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # A report that cannot be written must not fail (or hide the end of) the upgrade it reports on.
            self._display.warning('artisan.upgrade.upgrade_report: no report written: %s' % exc)

    def _write(self):
        record, record_path = self._record()
        if not record or not record.get('release_id'):
            self._display.vvv('artisan.upgrade.upgrade_report: no release record on the controller, no report')
            return
        folder = report_lib.output_dir(self.get_option('dir'), os.environ, record_path)
        if not folder:
            raise ValueError('no folder for the report: set ARTISAN_UPGRADE_REPORT_DIR')
        built = report_lib.build_report(record, self._tasks, record_path=record_path, generated_at=time.time())
        os.makedirs(folder, mode=0o700, exist_ok=True)
        base = os.path.join(folder, record['release_id'] + '.report')
        _write_file(base + '.json', json.dumps(built, indent=1, sort_keys=True) + '\n')
        _write_file(base + '.html', render_html(built))
        for line in report_lib.summary_lines(built):
            self._display.display(line)
        self._display.display('Upgrade report: %s' % (base + '.html'))


def _write_file(path, text):
    """Replace ``path`` atomically (mode 0600, as the release record): a reader never sees half a report."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.report-')
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
