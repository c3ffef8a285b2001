#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: run_lock
short_description: A run-level lock per application, so that two upgrades of it never overlap
version_added: 0.1.0
description:
  - Takes or releases the lock of an application O(app), a small JSON file in O(dir) naming its holder - the
    release id, the host and user, the process of the run (C(ansible-playbook)) and since when.
  - While another run holds the lock, O(state=acquired) waits up to O(timeout) seconds for it, then fails naming
    the holder and since when, and saying how to go on.
  - A lock whose holder is gone is taken over with a warning - when its process no longer runs on this host (the
    process is found among the module's ancestors, so this works on the controller, C(delegate_to=localhost)),
    or when it is older than O(stale_after).
  - The lock outlives the task; release it at the end of the run, also when the run fails (an C(always) section).
  - Changes to the lock file happen under an exclusive C(fcntl) lock, so of two runs starting at once exactly one
    acquires.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
options:
  state:
    description:
      - V(acquired) takes the lock for O(release_id) (nothing changes when that release holds it already).
      - V(released) gives it back; a lock of another release is released only with O(force=true).
    type: str
    choices: [acquired, released]
    default: acquired
  app:
    description:
      - The application whose upgrades the lock serializes; it names the lock file (letters, digits and C(. _ + -)).
    type: str
    required: true
  release_id:
    description:
      - The run taking or releasing the lock, usually the release record's id. Required unless O(state=released)
        with O(force=true).
    type: str
  dir:
    description:
      - Folder of the lock files on the host the module runs on; created (mode 0700) when needed.
    type: path
    default: ~/.ansible/artisan.upgrade/locks
  timeout:
    description:
      - Seconds to wait for a lock held by another run; V(0) fails at once.
    type: float
    default: 0
  stale_after:
    description:
      - Age after which a lock counts as abandoned whatever its process, as V(90s), V(30m), V(12h), V(2d).
      - By default only a lock whose process is gone from this host is taken over; locks of other hosts are then
        never taken over.
    type: str
  pid:
    description:
      - The process that holds the lock while the run lasts. Defaults to the outermost C(ansible-playbook) (or
        C(ansible-runner), C(ansible-navigator)) process above the module, none when there is none.
    type: int
  force:
    description:
      - With O(state=released), release a lock held by another release.
    type: bool
    default: false
  member:
    description:
      - The slice of a run split over several jobs (AWX job slices, or several C(ansible-runner) or
        C(ansible-playbook) processes with disjoint C(--limit)s) that share one O(release_id).
      - With O(state=acquired), a slice joins the lock its run holds already instead of waiting for it (a lock of
        another release is waited for as without O(member)); the lock file lists the slices in C(members).
      - With O(state=released), the slice leaves; the lock is released when its last slice leaves. While a slice
        of the run still runs, the lock is not stale.
      - Without O(member), a run holds the lock alone, as one process.
    type: str
extends_documentation_fragment:
  - artisan.upgrade.attributes
attributes:
  check_mode:
    support: full
    details: Says whether the lock would be acquired, and fails at once (without waiting) when another live run
      holds it; never acquires nor releases.
  diff_mode:
    support: full
    details: The holder before and after.
  idempotent:
    support: full
notes:
  - The lock is a file on one host; run the module on the controller so that every run of the application sees
    the same file, or on a shared host of your choosing with the same O(dir).
  - A holder's process is checked through C(/proc), on Linux only; elsewhere use O(stale_after).
seealso:
  - module: artisan.upgrade.release_record
    description: The record of the run that holds the lock.
"""

EXAMPLES = r"""
- name: Take the lock of shop, waiting up to 10 minutes for a running upgrade
  artisan.upgrade.run_lock:
    app: shop
    release_id: "{{ release_id }}"
    timeout: 600
    stale_after: 6h
  delegate_to: localhost
  run_once: true

- name: Upgrade, and give the lock back whatever happens
  block:
    - name: The upgrade's tasks
      ansible.builtin.include_tasks: upgrade-tasks.yml
  always:
    - name: Release the lock
      artisan.upgrade.run_lock:
        app: shop
        release_id: "{{ release_id }}"
        state: released
      delegate_to: localhost
      run_once: true

- name: Join the lock of a run split in slices (each slice passes its own member)
  artisan.upgrade.run_lock:
    app: shop
    release_id: shop-run-{{ upgrade_run_id }}
    member: "{{ awx_job_id | default('slice-1') }}"
  delegate_to: localhost
  run_once: true

- name: Release a lock left by a run that was killed on another controller
  artisan.upgrade.run_lock:
    app: shop
    state: released
    force: true
  delegate_to: localhost
"""

RETURN = r"""
acquired:
  description: Whether the lock is held by O(release_id) after the task (false in check mode).
  returned: state is acquired
  type: bool
  sample: true
waited:
  description: Seconds waited for the lock.
  returned: state is acquired
  type: float
  sample: 12.5
holder:
  description:
    - The lock's holder after the task (with O(state=acquired), the one that kept it, on failure).
    - With slices (O(member)), C(members) maps each slice to its process.
  returned: always
  type: dict
  sample: {schema: artisan.upgrade/run_lock/v1, release_id: shop-1.4.2-2.0.0-20261126T160102Z, host: ctl1,
           user: deploy, pid: 4242, pid_started: "81342", since: "2026-11-26T16:01:02Z"}
previous_holder:
  description: The holder replaced (a stale lock taken over) or released (or left by a slice, O(member)).
  returned: when there was one
  type: dict
  sample: {release_id: shop-1.4.1-1.4.2-20261120T090000Z, host: ctl1, user: deploy, pid: 977, since: "2026-11-20T09:00:00Z"}
path:
  description: The lock file.
  returned: always
  type: str
  sample: /home/deploy/.ansible/artisan.upgrade/locks/shop.json
commands:
  description: Always empty; the module runs no command.
  returned: always
  type: list
  elements: str
  sample: []
duration:
  description: Seconds the task took, the wait included.
  returned: always
  type: float
  sample: 0.01
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.artisan.upgrade.plugins.module_utils._record_store import exit_module
from ansible_collections.artisan.upgrade.plugins.module_utils._run import Run
from ansible_collections.artisan.upgrade.plugins.module_utils._run_lock_actions import Lock


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['acquired', 'released'], default='acquired'),
            app=dict(type='str', required=True),
            release_id=dict(type='str'),
            dir=dict(type='path', default='~/.ansible/artisan.upgrade/locks'),
            timeout=dict(type='float', default=0),
            stale_after=dict(type='str'),
            pid=dict(type='int'),
            force=dict(type='bool', default=False),
            member=dict(type='str'),
        ),
        required_if=[('state', 'acquired', ['release_id']), ('force', False, ['release_id'])],
        supports_check_mode=True,
    )
    run = Run()

    def act():
        lock = Lock(module.params, module.check_mode, run, module.warn)
        return lock.acquire() if module.params['state'] == 'acquired' else lock.release()

    exit_module(module, run, act)


if __name__ == '__main__':
    main()
