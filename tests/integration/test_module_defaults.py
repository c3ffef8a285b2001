"""One play, one module_defaults block per action group: the modules share their connection options.

pg_backup, alembic_migrate (locally and as a Kubernetes Job), k8s_rollout and canary_shift run in one play
whose tasks name no connection option; the PostgreSQL connection comes from group/artisan.upgrade.postgres,
the cluster from group/artisan.upgrade.k8s (kubesim with real containers). The outcomes are read back
independently: the backup on disk, the database's revision and columns, the Deployments.

The database is a pod. The host reaches it through its Service's proxy on 127.0.0.1, a Job's pod by the pod's
name: two inventory hosts say where each task runs, and their variables fill the one module_defaults block.
"""

from __future__ import annotations

import json
import os
import sys
import time

import kubernetes
import psycopg

from .helpers.ansible import assert_ok
from .test_alembic_migrate import IMAGE_CONFIG, IMAGE_VENV

PASSWORD = 'defaults-pw'
LABELS = {'app': 'postgresql'}
DATABASE = [
    {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'postgresql-0', 'labels': LABELS},
     'spec': {'containers': [{
         'name': 'postgres', 'image': 'artisan-upgrade/postgres:15', 'ports': [{'containerPort': 5432}],
         'env': [{'name': 'POSTGRES_USER', 'value': 'owner'}, {'name': 'POSTGRES_PASSWORD', 'value': PASSWORD},
                 {'name': 'POSTGRES_DB', 'value': 'shop'}],
         'readinessProbe': {'exec': {'command': ['pg_isready', '-h', '127.0.0.1', '-U', 'owner', '-d', 'shop']},
                            'periodSeconds': 1}}]}},
    {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'postgresql'},
     'spec': {'selector': LABELS, 'ports': [{'port': 5432, 'targetPort': 5432}]}},
]


def deployment(name, image, replicas):
    labels = {'app': name}
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name, 'labels': labels},
            'spec': {'replicas': replicas, 'selector': {'matchLabels': labels},
                     'template': {'metadata': {'labels': labels},
                                  'spec': {'containers': [{'name': 'web', 'image': image,
                                                           'command': ['sleep', 'infinity']}]}}}}


def service_address(kubesim, name, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        address = kubesim.service_address(name)
        if address is not None:
            return address
        time.sleep(0.2)
    raise AssertionError('Service %s has no proxy after %d s' % (name, timeout))


# The connection options (artisan.upgrade.postgres and artisan.upgrade.k8s_auth doc fragments) and url: no task names one.
CONNECTION_OPTIONS = {'login_host', 'port', 'login_port', 'login_user', 'login', 'login_password', 'db', 'dbname',
                      'login_db', 'login_unix_socket', 'unix_socket', 'ssl_mode', 'ssl_rootcert', 'connect_timeout', 'url',
                      'kubeconfig', 'context', 'host', 'api_key', 'username', 'password', 'validate_certs', 'verify_ssl',
                      'ca_cert', 'ssl_ca_cert', 'client_cert', 'cert_file', 'client_key', 'key_file'}


def test_one_play_one_defaults_block_per_group(kubesim_docker, kubectl_docker, demoapp_releases, run_playbook, tmp_path):
    kubectl = kubectl_docker
    for manifest in DATABASE + [deployment('web', 'demoapp:2.0.0', 1), deployment('web-v1', 'demoapp:2.0.0', 4),
                                deployment('web-v2', 'demoapp:3.0.0', 0)]:
        kubectl('apply', '-f', '-', stdin=json.dumps(manifest))
    kubectl('wait', '--for=condition=Ready', 'pod/postgresql-0', '--timeout=120s')
    kubectl('rollout', 'status', 'deployment/web', 'deployment/web-v1', '--timeout=120s')
    host, port = service_address(kubesim_docker, 'postgresql')
    release = demoapp_releases['3.0.0']
    dest = str(tmp_path / 'backups')

    def on(where, name, module, args):
        return {'name': name, module: args, 'when': "inventory_hostname == '%s'" % where, 'ignore_errors': True}

    tasks = [
        on('controller', 'backup', 'artisan.upgrade.pg_backup', {'dest': dest, 'label': 'pre-3.0.0'}),
        on('controller', 'migrate here', 'artisan.upgrade.alembic_migrate', {
            'virtualenv': str(release.venv), 'revision': '0001',
            'config': str(next(release.venv.glob('lib/python3*/site-packages/demoapp/alembic.ini')))}),
        on('cluster', 'migrate in a Job', 'artisan.upgrade.alembic_migrate', {
            'python': IMAGE_VENV + '/bin/python', 'config': IMAGE_CONFIG, 'revision': '0002',
            'job': {'image': 'demoapp:3.0.0'}}),
        on('controller', 'roll out', 'artisan.upgrade.k8s_rollout', {'name': 'web', 'image': 'demoapp:3.0.0', 'timeout': 180}),
        on('controller', 'shift', 'artisan.upgrade.canary_shift', {
            'provider': 'k8s_replicas', 'weight': 50, 'wait_timeout': 180,
            'k8s_replicas': {'stable': 'web-v1', 'canary': 'web-v2', 'total': 4}}),
    ]
    module_args = [args for task in tasks for key, args in task.items() if key.startswith('artisan.upgrade.')]
    assert not CONNECTION_OPTIONS & {name for args in module_args for name in args}
    play = {
        'hosts': 'all', 'gather_facts': False, 'tasks': tasks,
        'module_defaults': {
            'group/artisan.upgrade.postgres': {
                'login_host': '{{ db_host }}', 'port': '{{ db_port }}', 'login_user': 'owner',
                'login_password': PASSWORD, 'db': 'shop'},
            'group/artisan.upgrade.k8s': {'kubeconfig': kubesim_docker.kubeconfig},
        },
    }
    # Where each task runs, and the database as seen from there.
    inventory = {'all': {'hosts': {
        'controller': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                       'db_host': host, 'db_port': port},
        'cluster': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                    'db_host': 'postgresql-0', 'db_port': 5432},
    }}}
    run = run_playbook([play], inventory=inventory)
    backup, local, job, rollout, shift = [run.result(task['name']) for task in tasks]

    assert_ok(backup)
    assert backup['changed'] is True and os.path.isfile(backup['path']) and os.path.isfile(backup['manifest_path'])
    with open(backup['manifest_path'], encoding='utf-8') as handle:
        manifest = json.load(handle)
    assert manifest['database'] == 'shop' and manifest['label'] == 'pre-3.0.0' and manifest['verified'] is True

    assert_ok(local)
    assert local['to_revisions'] == ['0001'] and [a['revision'] for a in local['applied']] == ['0001']
    assert_ok(job)
    assert job['from_revisions'] == ['0001'] and job['to_revisions'] == ['0002']
    # Each step is a Job: its kubectl equivalent, and the API calls it took as METHOD path.
    steps = [c for c in job['commands'] if 'squawk' not in c]
    assert all(c.startswith(('kubectl create job', 'GET /api', 'POST /api', 'PATCH /api', 'DELETE /api')) for c in steps)
    assert sum(c.startswith('kubectl create job') for c in steps) == sum(c.startswith('POST /apis/batch/v1/') for c in steps) >= 1
    assert PASSWORD not in json.dumps([local, job])
    with psycopg.connect(host=host, port=port, user='owner', password=PASSWORD, dbname='shop') as conn:
        assert conn.execute('SELECT version_num FROM alembic_version').fetchall() == [('0002',)]
    # The Job and its Secret (which carried the URL made from the options) are gone.
    selector = 'app.kubernetes.io/managed-by=artisan.upgrade'
    assert kubectl('get', 'jobs,secrets', '-l', selector, '-o', 'name').split() == []

    apps = kubernetes.client.AppsV1Api(kubesim_docker.api_client())
    assert_ok(rollout)
    assert rollout['changed'] is True
    assert apps.read_namespaced_deployment('web', 'default').spec.template.spec.containers[0].image == 'demoapp:3.0.0'

    assert_ok(shift)
    assert shift['achieved_weight'] == 50
    replicas = {name: apps.read_namespaced_deployment(name, 'default') for name in ('web-v1', 'web-v2')}
    assert {name: dep.spec.replicas for name, dep in replicas.items()} == {'web-v1': 2, 'web-v2': 2}
    assert {name: dep.status.available_replicas for name, dep in replicas.items()} == {'web-v1': 2, 'web-v2': 2}
