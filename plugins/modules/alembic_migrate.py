#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: alembic_migrate
short_description: Declarative, locked, safety-checked Alembic migrations with a real plan in check mode
version_added: 0.1.0
description:
  - Brings a PostgreSQL database to an Alembic O(revision) (V(head) by default). It reads the revisions the
    database is at, computes the ordered revisions to apply or revert, and runs them. At the target nothing runs
    (C(changed=false)).
  - Alembic runs with the application's own interpreter (O(virtualenv) or O(python)), configuration (O(config),
    O(ini_section)) and working directory (O(chdir)), so the application's C(env.py) and models load as they do
    in production. A small helper program is sent to that interpreter on its standard input; nothing is installed.
    One helper process reads the revisions, renders the pending SQL and applies it, so the application loads once
    per run (with O(job), each step is a Job of its own - one reads the revisions and renders the SQL of every
    pending upgrade, one applies - and O(previous_read) spares a later task the read).
  - Each revision runs in a transaction of its own, under a PostgreSQL advisory lock held for the whole run, with
    C(lock_timeout) and C(statement_timeout) set on every session of the run. A revision that fails is rolled
    back and leaves the database at the last revision fully applied; one that hits O(lock_timeout) is retried.
  - Before upgrading, the offline SQL of each pending revision is checked for operations that break the release
    still running during a rolling or canary deploy (O(safety)), with the squawk linter when it is installed and
    built-in rules otherwise; each revision is classified as V(expand), V(contract) or, when its SQL was not
    checked, V(unchecked).
  - Alembic runs where O(exec_via) says (locally, in a container, or in a Kubernetes pod), or, with O(job), in
    a Kubernetes Job created from the application's image, as runbooks run migration Jobs.
author:
  - artisan.upgrade maintainers (@artisan-upgrade)
requirements:
  - Where the commands run, a Python with alembic, SQLAlchemy and psycopg (3) or psycopg2 importable, usually the
    application's own.
  - Optionally C(squawk) (PyPI C(squawk-cli)) on the host the module runs on, for O(safety_linter=squawk).
  - For O(job) and O(exec_via.type=pod), the C(kubernetes) Python library on the host the module runs on.
  - For O(exec_via.type=docker), the C(docker) Python SDK (7.0 or later) on the host the module runs on.
options:
  url:
    description:
      - SQLAlchemy URL of the PostgreSQL database, for example V(postgresql+psycopg://app:secret@db:5432/app), as
        the alternative to the PostgreSQL connection options (O(login_host), O(port), O(login_user),
        O(login_password), O(db), ...), which it excludes. Without a driver (V(postgresql://)), the module's own
        connections use psycopg, or psycopg2 when only that is installed.
      - The options' E(PG*) environment fallbacks (E(PGHOST), E(PGPASSWORD), ...) apply only without a url; with
        one, the environment is ignored and never clashes with it.
      - It reaches C(env.py) as the C(sqlalchemy.url) main option of the configuration; an C(env.py) that reads
        the URL from elsewhere gets it through O(environment). The connection options reach it the same way, as
        the URL they make (C(postgresql://login_user:login_password@login_host:port/db)).
      - Passed to the helper in its environment (with O(job), a Secret), never on a command line, and never returned.
    type: str
  revision:
    description:
      - The revision the database should be at. V(head) is the single head of the scripts (refused when there
        are several, which are named); V(heads) is every head; V(base) is no revision (everything reverted).
      - A revision id, or a unique prefix of one.
      - A relative step from the database's revision, V(+1), V(-2).
    type: str
    default: head
  config:
    description:
      - Path of the Alembic configuration file where the commands run, relative to O(chdir).
    type: str
    default: alembic.ini
  ini_section:
    description:
      - Section of O(config) to use (Alembic's C(--name)).
    type: str
    default: alembic
  script_location:
    description:
      - Overrides the configuration's C(script_location) (the folder of C(env.py) and the versions).
    type: str
  chdir:
    description:
      - Working directory of the helper where the commands run (C(env.py) often imports the application from it).
    type: str
  virtualenv:
    description:
      - The application's virtualenv where the commands run; its C(bin/python) runs alembic.
    type: str
  python:
    description:
      - The interpreter that runs alembic where the commands run.
      - Defaults to the module's interpreter with O(exec_via.type=local), and to C(python3) in a container.
    type: str
  environment:
    description:
      - Extra environment variables of the helper and C(env.py), for example the variables the application's
        settings need. Values are not hidden from logs, so put secrets in O(login_password) or O(url).
    type: dict
  lock_name:
    description:
      - Name of the PostgreSQL advisory lock taken for the run (a 64-bit key derived from it). Runs with the same
        name on the same database never migrate at once; the second waits, then finds nothing left to do.
    type: str
    default: artisan.upgrade.alembic_migrate
  lock_wait_timeout:
    description:
      - Seconds to wait for the advisory lock before failing with the holder's process id.
    type: int
    default: 300
  lock_timeout:
    description:
      - PostgreSQL C(lock_timeout) of the migration sessions, so that DDL blocked by a long transaction fails fast
        instead of queueing every query behind it. A PostgreSQL duration, V(5s), V(500ms), V(0) for none.
    type: str
    default: 5s
  statement_timeout:
    description:
      - PostgreSQL C(statement_timeout) of the migration sessions. V(0) for none.
    type: str
    default: 15min
  lock_retries:
    description:
      - How many more times a revision that failed on O(lock_timeout) is tried (each try is a new transaction).
    type: int
    default: 3
  lock_retry_delay:
    description:
      - Seconds between those tries.
    type: float
    default: 5
  safety:
    description:
      - V(warn) checks the SQL of pending upgrades and warns about unsafe operations; V(enforce) refuses to apply
        anything when one is found, naming the operation and the revision (in check mode too, as the real run
        would fail); V(off) does not check, and the revisions it would have checked are classified V(unchecked).
      - Contract findings are operations that break code still running (drop or rename of a column or table, NOT
        NULL column without default, SET NOT NULL, column type change); blocking findings lock a busy table (index
        without CONCURRENTLY, constraint without NOT VALID, UNIQUE constraint).
      - Downgrades are not checked.
    type: str
    choices: ['off', warn, enforce]
    default: warn
  safety_linter:
    description:
      - V(auto) uses C(squawk) when it is on the E(PATH) of the host the module runs on, else the built-in rules.
    type: str
    choices: [auto, squawk, builtin]
    default: auto
  safety_ignore:
    description:
      - Rules to accept, by name, for example V(ban-drop-column) when running contract migrations after a deploy.
    type: list
    elements: str
    default: []
  job:
    description:
      - Run alembic in a Kubernetes Job from the application's image instead of where O(exec_via) says (which must
        then stay V(local)); the Kubernetes connection options (O(kubeconfig), O(context), ...) say which cluster.
      - Each step of the run (read, apply) is one Job, which is waited for (by watching the Job and its pod),
        read (its log) and deleted. A pod whose container cannot start (an image that cannot be pulled, a missing
        Secret...) fails the step at once, with the reason the Kubernetes API gives.
      - The environment, the database URL among it, reaches the Job's container from a Secret (C(envFrom)),
        never from the Job spec; the Secret is owned by the Job and deleted with it.
      - O(config) and O(python) are paths inside the image.
    type: dict
    suboptions:
      image:
        description:
          - The application's image, with alembic, its migrations and a Python (see O(python)).
        type: str
        required: true
      namespace:
        description:
          - Namespace of the Job.
        type: str
        default: default
      service_account:
        description:
          - Service account of the Job's pod.
        type: str
      labels:
        description:
          - Extra labels of the Job and its pod.
        type: dict
        default: {}
      timeout:
        description:
          - Seconds to wait for each Job to end.
        type: int
        default: 600
      name:
        description:
          - Name of the Job that applies the migrations (a DNS-1123 label), for example derived from the release id.
            That Job is kept after it ends (C(kubectl logs job/<name>) shows what ran; its C(ttlSecondsAfterFinished)
            removes it later), its Secret is deleted. The read (revisions and the pending SQL) still runs in a Job of
            its own, named C(alembic-migrate-<random>), deleted at once.
          - A run with nothing to apply starts no Job of that name, so a re-run after a success leaves the one Job.
            A finished Job of that name (a failed attempt) is deleted before the new one starts; one still running
            (another run migrating) fails the step, naming it.
          - Without it, every Job is named C(alembic-migrate-<random>) and deleted once read.
        type: str
      env_from:
        description:
          - C(envFrom) sources of the Job's container before the run's own Secret, for example the application's
            ConfigMap and Secret, each item with C(configMapRef) or C(secretRef) and its C(name), so that C(env.py)
            sees the settings the application runs with. The database URL of the run still wins.
        type: list
        elements: dict
        default: []
      backoff_limit:
        description:
          - The Job's C(backoffLimit) - how many times a pod that failed is replaced by a new attempt before the Job,
            and the step, fail (a runbook's Job often says 3). It must be 0 or more.
          - A migration that fails (a bad revision, data that breaks a constraint, the database refusing the login)
            does not make the pod fail - alembic's answer says so and the step fails with it, whatever the limit; lock
            timeouts are retried inside the pod (O(lock_retries)). A retry is for a pod that died without answering -
            evicted, its node lost, killed for memory. It is safe - the revisions are applied in transactions and
            PostgreSQL's DDL is transactional, so an attempt that died left no revision half done, and the next one
            continues from the revision the database is at.
          - V(0) by default - a pod that dies of its migration (memory) dies again, and each retry first waits for the
            Job controller's back-off (10 s, then 20 s, 40 s...), so the upgrade would stop minutes later with the
            same failure. Set it where pods are evicted or preempted.
          - A pod that cannot start its container (an image that cannot be pulled, a missing Secret) still fails the
            step at once, whatever the limit. With retries, the log returned is that of the attempt that succeeded,
            or of the last one that failed.
        type: int
        default: 0
  previous_read:
    description:
      - RV(read) of an earlier task of the same run on the same scripts and database (the same O(job) image or
        O(exec_via), O(config), O(ini_section), O(chdir), O(script_location) and connection) - its revision graph,
        the database's revisions after that task and, with O(job), the pending SQL are used instead of reading
        them again (with O(job), a Job less per task, for example the apply after a check-mode plan, or the
        contract phase after the expand phase).
      - Ignored when it is of another source. A database moved since that read is still caught before anything
        is applied (the revisions are checked again under the advisory lock) and the plan from there made
        again; a revision it adds that was not checked stops the task.
    type: dict
extends_documentation_fragment:
  - artisan.upgrade.attributes
  - artisan.upgrade.attributes.actiongroup_postgres_k8s
  - artisan.upgrade.postgres
  - artisan.upgrade.exec_via
  - artisan.upgrade.k8s_auth
attributes:
  check_mode:
    support: full
    details: Reads the database's revisions and renders the pending revisions' SQL offline; returns the plan and
      the safety findings; applies nothing and takes no lock.
  diff_mode:
    support: full
    details: The revisions before and after, and the offline SQL of every planned revision (also in RV(plan)).
  idempotent:
    support: full
    details: Relative targets (V(+1), V(-1)) move again on every run, as asked.
notes:
  - The Kubernetes connection options (O(kubeconfig), O(context), O(host), ...) say which cluster O(job) and
    O(exec_via.type=pod) use.
  - The PostgreSQL connection options (or O(url)) are those of the database as seen from where alembic runs
    (O(exec_via), O(job)); O(login_unix_socket) and O(ssl_rootcert) are paths there.
  - Safety findings, the lock and the timeouts concern PostgreSQL only; other databases are refused.
  - The timeouts reach C(env.py)'s connections through libpq's E(PGOPTIONS), so they hold with the psycopg and
    psycopg2 drivers whatever engine C(env.py) builds.
  - The module reads the revisions from Alembic's default version table, C(alembic_version).
  - The transaction of each revision is Alembic's C(transaction_per_migration), set for the run whatever C(env.py)
    passes to C(context.configure()); an C(env.py) that begins its own transaction around the migrations gets one
    C(env.py) run per revision instead, so that each still commits on its own.
seealso:
  - module: artisan.upgrade.pg_backup
    description: Take a labelled backup before migrating.
"""

EXAMPLES = r"""
- name: Upgrade to the release's head with its own virtualenv, refusing contract migrations before the deploy
  artisan.upgrade.alembic_migrate:
    login_host: db.internal
    login_user: app
    login_password: "{{ vault_db_password }}"
    db: app
    virtualenv: /opt/app/releases/2.0.0/venv
    chdir: /opt/app/releases/2.0.0
    safety: enforce
  register: migration

- name: Show the plan and its SQL without touching the database
  artisan.upgrade.alembic_migrate:
    url: "{{ app_database_url }}"
    virtualenv: /opt/app/venv
    config: /opt/app/alembic.ini
  check_mode: true
  diff: true

- name: Contract migrations once every old instance is gone
  artisan.upgrade.alembic_migrate:
    url: "{{ app_database_url }}"
    virtualenv: /opt/app/venv
    safety_ignore: [ban-drop-column]

- name: Migrate as a Kubernetes Job from the release's image (the password travels in a Secret, deleted afterwards)
  artisan.upgrade.alembic_migrate:
    login_host: postgresql.shop.svc
    login_user: app
    login_password: "{{ vault_db_password }}"
    db: app
    python: /opt/demoapp/venv/bin/python
    config: /opt/demoapp/venv/lib/python3.11/site-packages/demoapp/alembic.ini
    job:
      image: registry.example.com/demoapp:2.0.0
      namespace: shop
    context: prod

- name: Roll the schema back one revision, inside the running application container
  artisan.upgrade.alembic_migrate:
    url: "{{ app_database_url }}"
    revision: "-1"
    python: /opt/demoapp/venv/bin/python
    config: /opt/demoapp/venv/lib/python3.11/site-packages/demoapp/alembic.ini
    exec_via:
      type: docker
      container: shop-app-1
      user: demoapp

- name: Back up, then migrate, with each connection set once for both modules
  module_defaults:
    group/artisan.upgrade.postgres:
      login_host: 127.0.0.1
      login_user: app
      login_password: "{{ vault_db_password }}"
      db: app
    group/artisan.upgrade.k8s:
      kubeconfig: ~/.kube/prod
  block:
    - name: Back up
      artisan.upgrade.pg_backup:
        dest: /var/backups/postgres
        label: pre-upgrade-2.0.0
    - name: Migrate in a Job
      artisan.upgrade.alembic_migrate:
        python: /opt/demoapp/venv/bin/python
        config: /opt/demoapp/venv/lib/python3.11/site-packages/demoapp/alembic.ini
        job:
          image: registry.example.com/demoapp:2.0.0
"""

RETURN = r"""
from_revisions:
  description: The revisions the database was at (empty at base).
  returned: always
  type: list
  elements: str
  sample: ["0001"]
to_revisions:
  description: The revisions the database is at after the run (in check mode, the target).
  returned: success
  type: list
  elements: str
  sample: ["0003"]
heads:
  description: The heads of the migration scripts.
  returned: when the scripts were read
  type: list
  elements: str
  sample: ["0003"]
direction:
  description: V(upgrade), V(downgrade) or V(none).
  returned: success
  type: str
  sample: upgrade
plan:
  description:
    - The revisions to apply or revert, in order, with their message; upgrades carry their C(classification);
      in diff mode, their offline C(sql).
    - C(classification) is V(expand) (checked, nothing breaks the running release), V(contract) (checked, something
      does) or V(unchecked) (not checked, with O(safety=off) or when C(env.py) could not render the SQL offline).
      Only V(expand) is safe to run before a deploy; treat V(unchecked) as unsafe.
  returned: success
  type: list
  elements: dict
  sample:
    - {revision: "0002", direction: upgrade, message: "expand: users.display_name", down_revisions: ["0001"],
       classification: expand}
    - {revision: "0003", direction: upgrade, message: "contract: drop users.full_name", down_revisions: ["0002"],
       classification: contract}
applied:
  description: The revisions applied or reverted by this run, with the seconds each took and its attempts.
  returned: always
  type: list
  elements: dict
  sample: [{revision: "0002", direction: upgrade, message: "expand: users.display_name", duration: 0.084, attempts: 1}]
findings:
  description: Safety findings of the pending upgrades.
  returned: success
  type: list
  elements: dict
  sample:
    - revision: "0003"
      rule: ban-drop-column
      kind: contract
      statement: ALTER TABLE users DROP COLUMN full_name
      problem: drops a column that the running release may still read or write
      instead: drop it in a contract migration run after every old instance is gone
      source: builtin
failed_revision:
  description: The revision that failed, its error (from alembic and the database), its attempts and whether it
    hit lock_timeout.
  returned: when a revision failed
  type: dict
  sample: {revision: u0002, attempts: 1, lock_timeout: false, error: 'column "email_verified" contains null values'}
lock:
  description: The advisory lock of the run and the seconds waited for it.
  returned: when migrations were applied
  type: dict
  sample: {name: artisan.upgrade.alembic_migrate, key: -1234567890123, waited: 0.0}
read:
  description:
    - What the task read, for O(previous_read) of a later task - the revision graph, the revisions the database
      is at after the task (in check mode, before it), an opaque C(source) and, with O(job), the offline SQL of
      the upgrades that were pending (C(sql), by revision) or why C(env.py) could not render it (C(sql_error)).
  returned: success
  type: dict
  sample: {source: 4be1c0ffee, revisions: [{id: "0002", down: ["0001"], message: add display_name, depends_on: []}],
           current: ["0002"], alembic_version: 1.13.2}
alembic_version:
  description: The version of alembic that ran.
  returned: success
  type: str
  sample: 1.20.1
commands:
  description:
    - What the task ran, in order (command lines shell-quoted, SQL statements, Kubernetes API calls as C(METHOD path),
      HTTP requests as C(METHOD URL)), with secrets (passwords, tokens, URLs that hold them) replaced by C(********).
      Returned on failure and in check mode too.
    - alembic_migrate lists the helper that runs alembic in the application's Python (one line per run, or one
      per request with O(job)) and the squawk runs; the database URL travels in the environment, never on a
      command line.
  returned: always
  type: list
  elements: str
  sample: ["/opt/app/venv/bin/python -c 'import sys; exec(sys.stdin.readline())' session"]
duration:
  description: Seconds the task took, as a float. Returned on failure and in check mode too.
  returned: always
  type: float
  sample: 0.92
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _alembic_actions as actions
from ansible_collections.artisan.upgrade.plugins.module_utils._alembic_job import JobTransport, job_argument_spec, job_option_errors
from ansible_collections.artisan.upgrade.plugins.module_utils import _migration_safety as safety
from ansible_collections.artisan.upgrade.plugins.module_utils._postgres_options import environment_defaults, postgres_common_argument_spec
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import _kubernetes, exec_via_argument_spec, transport_from_params
from ansible_collections.artisan.upgrade.plugins.module_utils._k8s_auth import k8s_auth_argument_spec
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


# url is the whole connection: it excludes every option that would say part of it.
URL_EXCLUDES = ('login_host', 'login_unix_socket', 'port', 'login_user', 'login_password', 'db', 'ssl_mode', 'ssl_rootcert')
MUTUALLY_EXCLUSIVE = [('virtualenv', 'python')] + [('url', name) for name in URL_EXCLUDES]


def argument_spec():
    spec = postgres_common_argument_spec()
    # The PG* fallbacks are applied in main(), after the argspec's checks: here a PGPASSWORD in the environment
    # would count as a given login_password and make every task that passes url fail as "mutually exclusive".
    for option in spec.values():
        option.pop('fallback', None)
    spec.update(exec_via_argument_spec())
    spec.update(k8s_auth_argument_spec())
    spec.update(job_argument_spec())
    spec.update(
        url=dict(type='str', no_log=True),
        revision=dict(type='str', default='head'),
        config=dict(type='str', default='alembic.ini'),
        ini_section=dict(type='str', default='alembic'),
        script_location=dict(type='str'),
        chdir=dict(type='str'),
        virtualenv=dict(type='str'),
        python=dict(type='str'),
        environment=dict(type='dict'),
        lock_name=dict(type='str', default='artisan.upgrade.alembic_migrate'),
        lock_wait_timeout=dict(type='int', default=300),
        lock_timeout=dict(type='str', default='5s'),
        statement_timeout=dict(type='str', default='15min'),
        lock_retries=dict(type='int', default=3),
        lock_retry_delay=dict(type='float', default=5),
        safety=dict(type='str', choices=['off', 'warn', 'enforce'], default='warn'),
        safety_linter=dict(type='str', choices=['auto', 'squawk', 'builtin'], default='auto'),
        safety_ignore=dict(type='list', elements='str', default=[]),
        previous_read=dict(type='dict'),
    )
    return spec


def option_errors(params):
    """Constraints the argument spec cannot express; the first broken one, or None."""
    for name in ('connect_timeout', 'lock_wait_timeout', 'lock_retries', 'lock_retry_delay'):
        if params[name] < 0:
            return '%s must be 0 or more, got %s' % (name, params[name])
    if params['job'] and params['exec_via']['type'] != 'local':
        return 'job and exec_via type %s exclude each other: the Job runs alembic itself' % params['exec_via']['type']
    if params['job'] and job_option_errors(params['job']):
        return job_option_errors(params['job'])
    unknown = safety.unknown_rules(params['safety_ignore'])
    if unknown:
        return 'unknown rules in safety_ignore: %s; known: %s' % (', '.join(unknown), ', '.join(sorted(safety.RULES)))
    try:
        decide.session_options(params['lock_timeout'], params['statement_timeout'])
    except ModuleFailure as exc:
        return exc.msg
    return decide.url_problem(params['url']) if params['url'] else None


def main():
    module = AnsibleModule(argument_spec=argument_spec(), mutually_exclusive=MUTUALLY_EXCLUSIVE,
                           supports_check_mode=True)
    # Until the migration run starts, failures still answer with the envelope.
    checks = Run(secrets=[module.params['url'], module.params['login_password']])

    def refuse(msg):
        module.fail_json(**checks.failure(ModuleFailure(msg), applied=[]))

    if not module.params['url']:
        try:
            module.params.update(environment_defaults(module.params, os.environ))
        except ValueError as exc:
            refuse(str(exc))
        if not module.params['db']:
            refuse('one of the following is required: url, db (or PGDATABASE in the environment)')
    error = option_errors(module.params)
    if error:
        refuse(error)
    squawk = None
    if module.params['safety'] != 'off' and module.params['safety_linter'] != 'builtin':
        squawk = module.get_bin_path('squawk', required=module.params['safety_linter'] == 'squawk')
    module.params['environment'] = {key: str(value) for key, value in (module.params['environment'] or {}).items()}
    if module.params['job']:
        if not _kubernetes().HAS_KUBERNETES:
            refuse(missing_required_lib('kubernetes'))
        transport = JobTransport(module.params, module.params['job'])
    else:
        transport = transport_from_params(module.params)
    run = actions.Migration(module.params, transport, module.check_mode, module._diff, module.warn, squawk)
    if module.params['job']:
        transport.record_into(run)
    try:
        result = actions.migrate(run)
    except ModuleFailure as exc:
        result = run.failure(exc, applied=[])
        if not module._diff:
            result.pop('diff', None)
        module.fail_json(**result)
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
