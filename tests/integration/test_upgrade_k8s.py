"""playbooks/upgrade.yml for the k8s target through real ansible-playbook, with the example inventory
(examples/inventories/k8s) on kubesim's docker runtime: examples/k8s applied with kubectl, demoapp and PostgreSQL
real containers, the Service behind the simulator's proxy. The docker runtime, not the fast one: the migration
Job must run Alembic and the backup must run pg_dump in the database pod. Outcomes are read with kubectl (an
independent client), in the database, and in the files: a failing expand migration that stops the run before any
rollout, 1.0.0 -> 2.0.0 rolling, the re-run, then 3.0.0 that crashes at start and is rolled back automatically."""

from __future__ import annotations

import base64
import json
import pathlib
import time

import yaml

from .helpers.ansible import PlaybookRun
from .test_deploy_k8s import MANIFESTS, deploy, failure, kubectl_for, migrate, pod_images

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = str(ROOT / 'playbooks' / 'upgrade.yml')
INVENTORY = ROOT / 'examples' / 'inventories' / 'k8s'
# kubesim has no cluster DNS: pods reach the database by its pod name.
DB_URL = 'postgresql://demoapp:demoapp-demo-pw@postgresql-0:5432/demoapp'
MANAGED = 'app.kubernetes.io/managed-by=artisan.upgrade'
SECRET_VALUES = ('demoapp-demo-pw', 'demo-only-secret-change-me')
ROLLBACK = str(ROOT / 'playbooks' / 'rollback.yml')


def start(kubesim_docker):
    """examples/k8s as a user applies it, demoapp 1.0.0 serving with its schema; the Service's address."""
    kubectl = kubectl_for(kubesim_docker.kubeconfig)
    database = ['demoapp-configmap.yaml', 'demoapp-secret.yaml', 'postgresql-secret.yaml', 'postgresql-service.yaml',
                'postgresql-statefulset.yaml']
    kubectl('apply', *[arg for name in database for arg in ('-f', str(MANIFESTS / name))])
    kubectl('patch', 'secret', 'demoapp-secret', '--type=merge', '-p',
            json.dumps({'stringData': {'DATABASE_URL': DB_URL, 'DATABASE_URI': DB_URL}}))
    kubectl('rollout', 'status', 'statefulset/postgresql', '--timeout=240s')
    migrate(kubectl, '1.0.0')
    kubectl('delete', 'job', '--all')
    # Two pods are enough to see a rolling upgrade; simulated time runs 5x faster than containers start (see
    # test_deploy_k8s), so the progress deadline is made long, and the readiness probe patient: on a loaded
    # machine /api/system/health can take seconds to answer. Changed before the apply: one rollout, not two.
    deployment = yaml.safe_load((MANIFESTS / 'demoapp-deployment.yaml').read_text(encoding='utf-8'))
    deployment['spec'].update(replicas=2, progressDeadlineSeconds=3600)
    deployment['spec']['template']['spec']['containers'][0]['readinessProbe'].update(timeoutSeconds=10, failureThreshold=3)
    kubectl('apply', '-f', '-', stdin=json.dumps(deployment))
    kubectl('apply', '-f', str(MANIFESTS / 'demoapp-canary-deployment.yaml'), '-f', str(MANIFESTS / 'demoapp-service.yaml'))
    kubectl('rollout', 'status', 'deployment/demoapp', '--timeout=480s')
    deadline = time.monotonic() + 60
    while kubesim_docker.service_address('demoapp') is None:
        assert time.monotonic() < deadline, 'the Service has no proxy'
        time.sleep(0.2)
    return kubectl, 'http://%s:%d' % kubesim_docker.service_address('demoapp')


def inventory(place, url, version) -> dict:
    """The example inventory's group_vars with this cluster's few differences."""
    values = yaml.safe_load((INVENTORY / 'group_vars' / 'all.yml').read_text(encoding='utf-8'))
    values.update(app_version=version, app_db_host='postgresql-0', app_url=url, preflight_environment='test',
                  preflight_records_dir=str(place / 'records'), preflight_lock_dir=str(place / 'locks'),
                  backup_dest=str(place / 'backups'), deploy_k8s_failure_grace=5, smoke_timeout=300,
                  # Generous: on a loaded machine a demoapp container takes minutes to become Ready.
                  deploy_k8s_timeout=1500)
    hosts = yaml.safe_load((INVENTORY / 'hosts.yml').read_text(encoding='utf-8'))
    hosts['all']['vars'] = values
    return hosts


def upgrade(run_playbook, place, url, version) -> PlaybookRun:
    return run_playbook(PLAYBOOK, inventory=inventory(place, url, version), extravars={'upgrade_target': 'k8s'},
                        own_interpreter=False)


def record(place, version) -> dict:
    """The newest record of an upgrade to ``version`` (release ids end with the start time)."""
    [path] = [p for p in sorted((place / 'records').glob('*.json')) if json.loads(p.read_text())['version_to'] == version][-1:]
    return json.loads(path.read_text())


def psql(kubectl, sql: str) -> str:
    return kubectl('exec', 'postgresql-0', '--', 'psql', '-v', 'ON_ERROR_STOP=1', '-U', 'demoapp', '-d', 'demoapp', '-tAc', sql)


def db_revision(kubectl) -> list[str]:
    return psql(kubectl, 'SELECT version_num FROM alembic_version').split()


def jobs(kubectl) -> list[tuple[str, str]]:
    return [(j['metadata']['name'], j['metadata']['uid'])
            for j in json.loads(kubectl('get', 'jobs', '-l', MANAGED, '-o', 'json'))['items']]


def jobs_started(kubectl) -> int:
    """How many Jobs the cluster ever started (their SuccessfulCreate Events outlive the Jobs deleted)."""
    events = json.loads(kubectl('get', 'events', '-o', 'json'))['items']
    return len({e['involvedObject']['uid'] for e in events
                if e['involvedObject']['kind'] == 'Job' and e['reason'] == 'SuccessfulCreate'})


def changed_tasks(run: PlaybookRun) -> list[str]:
    return [e['task'] for e in run.tasks if e['res'].get('changed')]


def test_upgrade_rolling_then_a_crashing_release_is_rolled_back(kubesim_docker, run_playbook, tmp_path, monkeypatch):
    monkeypatch.setenv('K8S_AUTH_KUBECONFIG', kubesim_docker.kubeconfig)
    kubectl, url = start(kubesim_docker)

    # (0) 2.0.0's expand migration fails (the column it adds is already there): the run stops before any rollout,
    # with the Job's log in its message.
    generation = kubectl('get', 'deployment', 'demoapp', '-o', 'jsonpath={.metadata.generation}')
    psql(kubectl, 'ALTER TABLE users ADD COLUMN display_name varchar(200)')
    started, jobs_before = time.monotonic(), jobs_started(kubectl)
    stopped = upgrade(run_playbook, tmp_path, url, '2.0.0')
    print('upgrade.yml stopped by the failing migration Job: %.1f s' % (time.monotonic() - started))
    assert stopped.rc != 0
    assert 'failed in phase migrate_expand' in stopped.stdout, stopped.stdout[-6000:]
    assert 'column "display_name" of relation "users" already exists' in stopped.stdout, stopped.stdout[-6000:]
    assert kubectl('get', 'deployment', 'demoapp', '-o', 'jsonpath={.metadata.generation}') == generation
    assert pod_images(kubectl, 'app.kubernetes.io/component=stable') == ['demoapp:1.0.0'] * 2
    assert db_revision(kubectl) == ['0001']
    # One Job read the migration plan (revisions, the database's revision, the SQL), one applied it and failed, and
    # the automatic rollback read the database again (a failed apply may have moved it): nothing to undo.
    assert jobs_started(kubectl) - jobs_before == 3
    halted = record(tmp_path, '2.0.0')
    assert halted['status'] in ('failed', 'rolled_back'), halted
    assert 'deploy' not in [p['name'] for p in halted['phases']], halted
    [(failed_job, _uid)] = jobs(kubectl)
    assert 'already exists' in kubectl('logs', 'job/' + failed_job)
    kubectl('delete', 'job', failed_job)
    psql(kubectl, 'ALTER TABLE users DROP COLUMN display_name')

    # (a) 1.0.0 -> 2.0.0, rolling.
    started, jobs_before = time.monotonic(), jobs_started(kubectl)
    run = upgrade(run_playbook, tmp_path, url, '2.0.0')
    print('upgrade.yml 1.0.0 -> 2.0.0 on kubesim (docker runtime): %.1f s' % (time.monotonic() - started))
    assert run.rc == 0, run.stdout[-6000:]
    assert pod_images(kubectl, 'app.kubernetes.io/component=stable') == ['demoapp:2.0.0'] * 2
    assert db_revision(kubectl) == ['0002']
    [(job, uid)] = jobs(kubectl)
    # The plan read once for every decision of the run (expand target, safety, nothing to contract), then applied.
    assert jobs_started(kubectl) - jobs_before == 2
    assert job.startswith('migrate-demoapp-1-0-0-2-0-0-') and job.endswith('-expand'), job
    # The Job is kept with its log, as the runbook reads it.
    assert 'Running upgrade 0001 -> 0002' in kubectl('logs', 'job/' + job)
    first = record(tmp_path, '2.0.0')
    assert first['status'] == 'succeeded' and first['version_from'] == '1.0.0'
    backup = [p['details'] for p in first['phases'] if p['name'] == 'backup'][0]
    assert pathlib.Path(backup['path']).is_file() and backup['alembic_revision'] == '0001'
    # The app's objects beside the dump: the Secret's file private, its values in no line Ansible printed.
    kept = pathlib.Path(backup['k8s_objects'])
    assert (kept / 'secrets.json').stat().st_mode & 0o777 == 0o600
    names = {kind: [item['metadata']['name'] for item in json.loads((kept / name).read_text())['items']]
             for kind, name in (('cm', 'configmaps.json'), ('secret', 'secrets.json'), ('pvc', 'persistentvolumeclaims.json'))}
    assert names == {'cm': ['demoapp-config'], 'secret': ['demoapp-secret', 'postgresql-secret'],
                     'pvc': ['data-postgresql-0']}, names
    for value in SECRET_VALUES:
        assert value not in run.stdout and base64.b64encode(value.encode()).decode() not in run.stdout

    jobs_before = jobs_started(kubectl)
    again = upgrade(run_playbook, tmp_path, url, '2.0.0')
    assert again.rc == 0, again.stdout[-6000:]
    assert changed_tasks(again) == []
    assert jobs(kubectl) == [(job, uid)]
    # Only the read that finds nothing pending.
    assert jobs_started(kubectl) - jobs_before <= 1

    # (b) 3.0.0 crashes at start (DEMOAPP_FAULT, which earlier releases ignore): undone, rolled back.
    kubectl('patch', 'configmap', 'demoapp-config', '--type=merge', '-p', json.dumps({'data': {'DEMOAPP_FAULT': 'crash'}}))
    before = json.loads(kubectl('get', 'deployment', 'demoapp', '-o', 'json'))['spec']['template']['spec']['containers'][0]['image']
    failed = upgrade(run_playbook, tmp_path, url, '3.0.0')
    assert failed.rc != 0
    assert 'failed in phase deploy' in failed.stdout and 'Rolled back' in failed.stdout, failed.stdout[-6000:]
    kubectl('rollout', 'status', 'deployment/demoapp', '--timeout=120s')
    assert pod_images(kubectl, 'app.kubernetes.io/component=stable') == [before] * 2
    assert db_revision(kubectl) == ['0002']
    third = record(tmp_path, '3.0.0')
    assert third['status'] == 'rolled_back', third
    # rollback.yml by hand, after the Secret was lost: put back from the backup, nothing else to do.
    kubectl('delete', 'secret', 'demoapp-secret')
    restored = run_playbook(ROLLBACK, inventory=inventory(tmp_path, url, '3.0.0'), own_interpreter=False,
                            extravars={'rollback_target': 'k8s', 'rollback_restore_config': True, 'rollback_db': False})
    assert restored.rc == 0, restored.stdout[-6000:]
    actions = {(o['kind'], o['name']): o['action']
               for o in restored.result('Put back the ConfigMaps and Secrets the backup kept')['objects']}
    assert actions[('Secret', 'demoapp-secret')] == 'create' and actions[('ConfigMap', 'demoapp-config')] == 'none', actions
    secret = json.loads(kubectl('get', 'secret', 'demoapp-secret', '-o', 'json'))
    assert base64.b64decode(secret['data']['DATABASE_URL']).decode() == DB_URL
    assert not any(value in restored.stdout for value in SECRET_VALUES)
    rollout = [e for e in failed.tasks if e['task'] == 'Roll out demoapp 3.0.0'][-1]
    rollback = [p for p in third['phases'] if p['name'] == 'rollback'][0]
    print('3.0.0 crash: rollout failed and undone in %.1f s (failure grace 5 s included); rollback role %.1f s'
          % (rollout['duration'] or 0, float(rollback['details']['duration'])))


def test_stage_checks_the_workloads_and_the_image_references_changing_nothing(kubesim, run_playbook):
    """deploy_k8s `stage` on the fast runtime: what upgrade.yml runs before the expand migration."""
    kubectl = kubectl_for(kubesim.kubeconfig)
    kubectl('apply', '-f', str(MANIFESTS / 'demoapp-deployment.yaml'))
    before = kubectl('get', 'deployment', 'demoapp', '-o', 'jsonpath={.metadata.generation}')
    staged = deploy(run_playbook, kubesim.kubeconfig, entry='stage', deploy_k8s_version='2.0.0')
    assert staged.rc == 0 and not any(e['res'].get('changed') for e in staged.tasks), staged.stdout
    bad = deploy(run_playbook, kubesim.kubeconfig, entry='stage', deploy_k8s_version='2.0.0',
                 deploy_k8s_workloads=[{'name': 'demoapp', 'images': {'app': 'Registry/Shop App', 'sidecar': 'proxy'}}])
    msg = failure(bad)
    assert 'malformed image references Registry/Shop App:2.0.0' in msg, msg
    assert 'Deployment/demoapp has no container sidecar' in msg, msg
    assert 'not found' in failure(deploy(run_playbook, kubesim.kubeconfig, entry='stage', deploy_k8s_version='2.0.0',
                                         deploy_k8s_workloads=[{'name': 'backend', 'images': {'app': 'backend'}}]))
    assert kubectl('get', 'deployment', 'demoapp', '-o', 'jsonpath={.metadata.generation}') == before
