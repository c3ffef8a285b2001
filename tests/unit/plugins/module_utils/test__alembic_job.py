# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration Job's manifest and how its status is read; the helper's answer in mixed output."""

from __future__ import annotations

import types

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_job as job


def ns(**fields):
    return types.SimpleNamespace(**fields)


def test_the_job_spec_carries_no_environment_value_only_the_secret_reference():
    manifest = job.job_manifest('alembic-migrate-1a2b', {'image': 'app:2.0.0', 'service_account': 'migrator',
                                                         'labels': {'release': 2}}, ['python', '-c', 'x'], 'alembic-migrate-1a2b')
    pod = manifest['spec']['template']['spec']
    assert manifest['spec']['backoffLimit'] == 0 and pod['restartPolicy'] == 'Never'
    assert pod['serviceAccountName'] == 'migrator'
    assert pod['containers'] == [{'name': 'migrate', 'image': 'app:2.0.0', 'command': ['python', '-c', 'x'],
                                  'envFrom': [{'secretRef': {'name': 'alembic-migrate-1a2b'}}]}]
    assert manifest['metadata']['labels']['release'] == '2'
    assert manifest['spec']['template']['metadata']['labels'] == manifest['metadata']['labels']


def test_job_status_reading():
    condition = ns(type='Complete', status='True')
    assert job.job_outcome(ns(conditions=[ns(type='Failed', status='False'), condition])) == 'Complete'
    assert job.job_outcome(ns(conditions=None)) is None
    waiting = ns(state=ns(waiting=ns(reason='ErrImagePull', message='kubesim never pulls'), terminated=None))
    ended = ns(state=ns(waiting=None, terminated=ns(exit_code=3)))
    assert job.stuck_reason([ns(status=ns(container_statuses=[waiting]))]) == 'ErrImagePull: kubesim never pulls'
    assert job.stuck_reason([ns(status=ns(container_statuses=[ended]))]) is None
    assert job.exit_code([ns(status=ns(container_statuses=[ended]))]) == 3
    assert job.exit_code([]) == 1


def test_the_answer_is_the_last_marked_line_whatever_surrounds_it():
    output = 'INFO  [alembic] Running upgrade\n\nartisan-alembic-answer: {"ok": true, "current": ["0002"]}\nWARNING bye\n'
    assert actions.parse_answer(output) == {'ok': True, 'current': ['0002']}
    with pytest.raises(ValueError):
        actions.parse_answer('Traceback (most recent call last):\n')
