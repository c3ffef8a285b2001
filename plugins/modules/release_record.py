#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: release_record
short_description: One JSON record per upgrade run, with its phases, their module results and how it ended
version_added: 0.1.0
description:
  - Keeps the release record of an upgrade run, one JSON file per run named by its release id in O(dir). It says what
    was upgraded (application, environment, versions before and after), by whom and when, every phase on every
    host with the result envelope (C(changed), C(msg), C(commands), C(duration)) and chosen facts of the modules
    that ran in it (backup path and sha256, revisions before and after, smoke totals, ...), and how the run ended
    (succeeded, failed, rolled back, with the rollback's details). The schema is in C(docs/release-record.md).
  - Run it on the controller (C(delegate_to=localhost), the default O(dir) is there) for the run's record, and on
    each host with another O(dir) for the host's own copy; it is the same module.
  - Every write replaces the file atomically (temporary file, fsync, rename) under an exclusive C(fcntl) lock,
    so many hosts or forks can add their phases to the same record at once without losing any.
  - Secrets are not stored. Keys whose name looks like a secret (password, secret, token, api key, private key,
    credential, authorization, cookie, captured values) are dropped, passwords inside URLs are masked, and so is
    every value of O(secrets).
  - O(state=query) reads records, for example the last green release of a version in staging, which the
    C(preflight) role's promotion policy asks for.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
options:
  state:
    description:
      - V(started) creates the record of a run (nothing changes when the record O(release_id) exists).
      - V(phase) adds one phase of one host to the record; recording the same O(phase) of the same O(host) again
        replaces it.
      - V(finished) sets the run's final O(status), and its O(rollback) details.
      - V(query) reads the record O(release_id), or the newest record matching O(app), O(environment), O(version),
        O(query_status) and O(last_green).
    type: str
    choices: [started, phase, finished, query]
    required: true
  dir:
    description:
      - Folder of the records on the host the module runs on; created (mode 0700) when a record is written.
    type: path
    default: ~/.ansible/artisan.upgrade/releases
  release_id:
    description:
      - Id of the run's record, which names its file (letters, digits and C(. _ + -)).
      - With O(state=started) it defaults to V(<app>-<version_from>-<version>-<UTC timestamp>), returned as
        RV(release_id) for the later tasks of the run; required by O(state=phase) and O(state=finished).
    type: str
  app:
    description:
      - The application upgraded. Required by O(state=started); a filter of O(state=query).
    type: str
  environment:
    description:
      - The environment, such as V(staging) or V(production). Required by O(state=started); a filter of O(state=query).
    type: str
  version:
    description:
      - The target version of the run. Required by O(state=started); a filter of O(state=query).
    type: str
  version_from:
    description:
      - The version running before the upgrade (none for a first install).
    type: str
  dry_run:
    description:
      - Whether the run is a dry run (the playbook's check mode), stored as C(check_mode) in the record. A dry run's
        record never counts as green.
      - Defaults to the task's check mode. A playbook that records its dry runs too runs this module with
        C(check_mode=false) and V({{ ansible_check_mode }}) here.
    type: bool
  metadata:
    description:
      - Free-form data stored in the record by O(state=started), such as the inventory or the strategy.
    type: dict
  phase:
    description:
      - Name of the phase recorded by O(state=phase), such as V(backup), V(migrate), V(deploy), V(smoke).
    type: str
  host:
    description:
      - The host the phase ran on (usually V({{ inventory_hostname }})). Required by O(state=phase).
    type: str
  result:
    description:
      - The phase's result. Defaults to what O(results) add up to - V(failed) if one failed, else V(changed) if one
        changed, else V(skipped) if all were skipped, else V(ok).
    type: str
    choices: [ok, changed, skipped, failed]
  results:
    description:
      - The registered results of the modules that ran in the phase. Each is stored as its envelope (C(changed),
        C(msg), C(commands), C(duration)) and its O(keep) keys.
    type: list
    elements: raw
    default: []
  keep:
    description:
      - Keys of each of O(results) to store beside the envelope; dotted paths reach into dicts (V(manifest.sha256)).
      - The default keeps C(failed), C(skipped), C(path), C(manifest.sha256), C(manifest.size), C(manifest.label),
        C(manifest.alembic_revision), C(from_revisions), C(to_revisions), C(direction), C(applied),
        C(failed_revision), C(totals), C(rounds), C(revision), C(images), C(reason), C(undo), C(weight),
        C(achieved_weight) and C(before_weight).
      - Secret-looking keys are never stored, even when named here.
    type: list
    elements: str
  details:
    description:
      - Free-form facts of the phase that are not module results, such as the release directory switched to.
    type: dict
  status:
    description:
      - The final status of the run, set by O(state=finished).
    type: str
    choices: [succeeded, failed, rolled_back]
  rollback:
    description:
      - What the rollback did, stored by O(state=finished), such as the release restored and the database action.
    type: dict
  phases:
    description:
      - With O(state=finished), phases recorded elsewhere to store with the run's end, as a record lists them (each a
        dict with at least C(name) and C(host)); a phase of the same name and host is replaced. C(upgrade.yml) writes
        a host's copy of the record twice, when the run starts and when it ends with that host's phases taken from
        the controller's record, instead of once per phase.
    type: list
    elements: dict
    default: []
  query_status:
    description:
      - With O(state=query), only records in one of these statuses (V(running) is a run not finished yet).
    type: list
    elements: str
    choices: [running, succeeded, failed, rolled_back]
    default: []
  last_green:
    description:
      - With O(state=query), only green records - runs that succeeded and were not dry runs.
    type: bool
    default: false
  secrets:
    description:
      - Values to mask wherever they appear in what is stored (for example a password that a module printed).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - artisan.upgrade.attributes
attributes:
  check_mode:
    support: full
    details: Reads the record and returns it as it would be written; writes nothing.
  diff_mode:
    support: full
    details: The record (or the phase) before and after.
  idempotent:
    support: full
    details: O(state=started) without O(release_id) names a new record at every run, by design; give the id to
      re-run a run's tasks.
notes:
  - Record files are JSON, mode 0600, in a folder of mode 0700; a C(.lock) file beside each serializes writers.
  - The lock is an C(fcntl) lock, which holds between processes of one host; do not share O(dir) between hosts
    over NFS.
seealso:
  - module: artisan.upgrade.run_lock
    description: Keep two runs of the same application from overlapping.
"""

EXAMPLES = r"""
- name: Start the run's record on the controller
  artisan.upgrade.release_record:
    state: started
    app: shop
    environment: production
    version: 2.0.0
    version_from: 1.4.2
    dry_run: "{{ ansible_check_mode }}"
  check_mode: false
  delegate_to: localhost
  run_once: true
  register: record

- name: Back up
  artisan.upgrade.pg_backup:
    db: shop
    dest: /var/backups/postgres
    label: pre-upgrade-2.0.0
  register: backup

- name: Add the backup phase, keeping the backup's path and checksum
  artisan.upgrade.release_record:
    state: phase
    release_id: "{{ record.release_id }}"
    phase: backup
    host: "{{ inventory_hostname }}"
    results: ["{{ backup }}"]
  delegate_to: localhost

- name: Close the record
  artisan.upgrade.release_record:
    state: finished
    release_id: "{{ record.release_id }}"
    status: rolled_back
    rollback: {release: 1.4.2, database: downgrade to a1b2c3}
  delegate_to: localhost
  run_once: true

- name: The last green 2.0.0 in staging
  artisan.upgrade.release_record:
    state: query
    app: shop
    environment: staging
    version: 2.0.0
    last_green: true
  delegate_to: localhost
  register: staging
"""

RETURN = r"""
release_id:
  description: The id of the record written or read.
  returned: when there is one
  type: str
  sample: shop-1.4.2-2.0.0-20261126T160102Z
path:
  description: The record's file.
  returned: when there is one
  type: str
  sample: /home/deploy/.ansible/artisan.upgrade/releases/shop-1.4.2-2.0.0-20261126T160102Z.json
record:
  description:
    - The record after the task (in check mode, as it would be); null when a query found none. See
      C(docs/release-record.md) for its keys.
  returned: always
  type: dict
  sample:
    schema: artisan.upgrade/release_record/v1
    release_id: shop-1.4.2-2.0.0-20261126T160102Z
    app: shop
    environment: production
    version_from: 1.4.2
    version_to: 2.0.0
    status: succeeded
    started_at: "2026-11-26T16:01:02Z"
    finished_at: "2026-11-26T16:04:40Z"
    controller: {user: deploy, host: ctl1}
    check_mode: false
    metadata: {}
    phases:
      - name: backup
        host: db1
        result: changed
        duration: 2.31
        recorded_at: "2026-11-26T16:01:09Z"
        modules:
          - changed: true
            msg: wrote backup pre-upgrade-2.0.0 of shop to /var/backups/postgres/shop--pre-upgrade-2.0.0.dump
            commands: ["pg_dump --format=custom ..."]
            duration: 2.31
            path: /var/backups/postgres/shop--pre-upgrade-2.0.0.dump
            manifest: {sha256: 3b1f0c5e2f0d4a6c9e8b7a6d5c4b3a29, size: 104857}
        details: {}
    rollback: null
found:
  description: Whether O(state=query) found a record.
  returned: state is query
  type: bool
  sample: true
phase:
  description: The phase as stored.
  returned: state is phase
  type: dict
  sample: {name: smoke, host: app1, result: ok, duration: 1.2, modules: []}
commands:
  description: Always empty; the module runs no command.
  returned: always
  type: list
  elements: str
  sample: []
duration:
  description: Seconds the task took, the lock wait included.
  returned: always
  type: float
  sample: 0.004
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.artisan.upgrade.plugins.module_utils._record_store import exit_module
from ansible_collections.artisan.upgrade.plugins.module_utils._release_record_actions import perform
from ansible_collections.artisan.upgrade.plugins.module_utils._run import Run


def argument_spec():
    return dict(
        state=dict(type='str', required=True, choices=['started', 'phase', 'finished', 'query']),
        dir=dict(type='path', default='~/.ansible/artisan.upgrade/releases'),
        release_id=dict(type='str'),
        app=dict(type='str'),
        environment=dict(type='str'),
        version=dict(type='str'),
        version_from=dict(type='str'),
        dry_run=dict(type='bool'),
        metadata=dict(type='dict'),
        phase=dict(type='str'),
        host=dict(type='str'),
        result=dict(type='str', choices=['ok', 'changed', 'skipped', 'failed']),
        results=dict(type='list', elements='raw', default=[]),
        keep=dict(type='list', elements='str', no_log=False),
        details=dict(type='dict'),
        status=dict(type='str', choices=['succeeded', 'failed', 'rolled_back']),
        rollback=dict(type='dict'),
        phases=dict(type='list', elements='dict', default=[]),
        query_status=dict(type='list', elements='str', default=[], choices=['running', 'succeeded', 'failed', 'rolled_back']),
        last_green=dict(type='bool', default=False),
        secrets=dict(type='list', elements='str', default=[], no_log=True),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[
            ('state', 'started', ['app', 'environment', 'version']),
            ('state', 'phase', ['release_id', 'phase', 'host']),
            ('state', 'finished', ['release_id', 'status']),
            ('state', 'query', ['release_id', 'app'], True),
        ],
        supports_check_mode=True,
    )
    run = Run(secrets=module.params['secrets'])
    exit_module(module, run, lambda: perform(module.params, module.check_mode, run))


if __name__ == '__main__':
    main()
