# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The result envelope: the same four keys on success and failure, secrets masked."""

from __future__ import annotations

from ansible_collections.artisan.upgrade.plugins.module_utils._run import MASK, ModuleFailure, Run, mask


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_envelope_has_the_four_keys_and_the_modules_own():
    clock = Clock()
    run = Run(clock=clock)
    run.record('pg_dump --format=custom app')
    clock.now += 1.23456
    result = run.envelope(True, 'backed up', path='/b/app.dump')
    assert result == {'changed': True, 'msg': 'backed up', 'commands': ['pg_dump --format=custom app'],
                      'duration': 1.235, 'path': '/b/app.dump'}


def test_fields_cannot_override_the_envelope():
    run = Run(clock=Clock())
    result = run.envelope(False, 'ok', commands=['forged'], duration=-1)
    assert result['commands'] == [] and result['duration'] == 0.0


def test_secrets_are_masked_in_recorded_commands_longest_first():
    run = Run(secrets=['s3cret', None, ''])
    run.add_secret('postgresql://app:s3cret@db/app')
    run.record('alembic -x url=postgresql://app:s3cret@db/app upgrade head')
    run.record('psql -c "ALTER ROLE app PASSWORD \'s3cret\'"')
    assert run.commands == ['alembic -x url=%s upgrade head' % MASK, 'psql -c "ALTER ROLE app PASSWORD \'%s\'"' % MASK]


def test_failure_carries_context_and_the_envelope():
    run = Run(clock=Clock())
    run.record('GET /apis/apps/v1/namespaces/default/deployments/web')
    result = run.failure(ModuleFailure('deployment web not found', namespace='default'), name='web')
    assert result == {'changed': False, 'msg': 'deployment web not found', 'namespace': 'default', 'name': 'web',
                      'commands': ['GET /apis/apps/v1/namespaces/default/deployments/web'], 'duration': 0.0}


def test_failure_after_a_change_says_so():
    result = Run(clock=Clock()).failure(ModuleFailure('rolled back', changed=True))
    assert result['changed'] is True and 'changed' not in result['msg']


def test_mask_ignores_empty_secrets():
    assert mask('abc', ['', None]) == 'abc'
