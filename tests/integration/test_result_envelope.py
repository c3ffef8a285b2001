"""Every module answers with the same envelope, on success, in check mode and on failure: ``changed``, ``msg``,
``commands`` (a list of what ran, secrets masked) and ``duration`` (seconds, a float), beside its own keys.

Each module runs for real through ansible-playbook against the real service it drives (PostgreSQL, an
Alembic project, nginx, an HTTP service, kubesim), and a secret the task used appears nowhere in its result.
"""

from __future__ import annotations

import json
import pathlib

import kubernetes
import pytest

from .helpers.ansible import run_module_tasks
from .helpers.backends import NamedBackend
from .helpers.postgres import APP_PASSWORD, SUPERUSER, SUPERUSER_PASSWORD, free_port

SCRIPTS = pathlib.Path(__file__).resolve().parent / 'alembic_scripts'


def assert_envelope(result, *secrets, failed=False):
    """The four keys with their types, the outcome expected, and no secret anywhere in the result."""
    problems = []
    if not isinstance(result.get('changed'), bool):
        problems.append('changed is %r' % (result.get('changed'),))
    if not isinstance(result.get('msg'), str) or not result['msg']:
        problems.append('msg is %r' % (result.get('msg'),))
    commands = result.get('commands')
    if not isinstance(commands, list) or not all(isinstance(command, str) for command in commands):
        problems.append('commands is %r' % (commands,))
    duration = result.get('duration')
    if not isinstance(duration, float) or duration < 0:
        problems.append('duration is %r' % (duration,))
    assert not problems, '%s in %s' % ('; '.join(problems), result)
    assert bool(result.get('failed')) is failed, result['msg']
    text = json.dumps(result)
    for secret in secrets:
        assert secret not in text, 'the secret %r is in the result: %s' % (secret, result)


def test_pg_backup(postgres, database, tmp_path, run_playbook):
    postgres.load_sql(database, 'CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2);')
    args = dict(login_host='127.0.0.1', port=postgres.port, login_user=SUPERUSER, login_password=SUPERUSER_PASSWORD,
                db=database, dest=str(tmp_path / 'backups'), label='envelope')
    planned, taken, restored, missing, refused = run_module_tasks(run_playbook, 'artisan.upgrade.pg_backup', [
        (args, {'check_mode': True}),
        args,
        dict(args, state='restored', target_db=database),
        dict(args, state='restored', label='never-taken'),
        dict(args, jobs=0),
    ])
    for result in (planned, taken, restored):
        assert_envelope(result, SUPERUSER_PASSWORD)
    for result in (missing, refused):
        assert_envelope(result, SUPERUSER_PASSWORD, failed=True)
    assert planned['changed'] is True and planned['msg'].startswith('would write backup envelope')
    assert taken['changed'] is True and any(command.startswith('pg_dump --format=custom') for command in taken['commands'])
    assert pathlib.Path(taken['path']).is_file()
    assert restored['changed'] is True and restored['steps'] == ['clean', 'restore'], restored['msg']
    assert any(command.startswith('COMMENT ON DATABASE') for command in restored['commands'])
    assert 'no verified backup labelled never-taken' in missing['msg']
    assert refused['msg'] == 'jobs must be 1 or more, got 0' and refused['commands'] == []


def test_alembic_migrate(postgres, database, run_playbook):
    url = postgres.dsn(database, 'artisan')
    assert APP_PASSWORD in url
    args = dict(url=url, config=str(SCRIPTS / 'alembic.ini'), revision='t0001')
    planned, migrated, unknown, refused = run_module_tasks(run_playbook, 'artisan.upgrade.alembic_migrate', [
        (args, {'check_mode': True}),
        args,
        dict(args, revision='nope'),
        dict(args, lock_timeout='5 s'),
    ])
    for result in (planned, migrated):
        assert_envelope(result, APP_PASSWORD, url)
    for result in (unknown, refused):
        assert_envelope(result, APP_PASSWORD, url, failed=True)
    assert planned['changed'] is True and migrated['changed'] is True
    assert postgres.query('SELECT version_num FROM alembic_version', dbname=database) == [('t0001',)]
    assert migrated['commands'] and all('import sys' in command for command in migrated['commands'] if 'python' in command)
    assert 'unknown revision "nope"' in unknown['msg'] and unknown['commands']
    assert 'lock_timeout must be a PostgreSQL duration' in refused['msg'] and refused['commands'] == []


@pytest.fixture()
def backends():
    started = []

    def start(name):
        started.append(NamedBackend(name))
        return started[-1]

    yield start
    for backend in started:
        backend.stop()


def test_canary_shift_nginx(tmp_path, backends, nginx_factory, run_playbook):
    stable, canary = backends('stable'), backends('canary')
    include = tmp_path / 'upstreams' / 'app.conf'
    include.parent.mkdir()
    include.write_text('upstream app { server %s; }\n' % stable.address)
    server = nginx_factory('location / { proxy_pass http://app; }', 'include %s/*.conf;' % include.parent)
    nginx = dict(include_path=str(include), upstream='app', stable=[stable.address], canary=[canary.address],
                 config=server.config)
    args = dict(provider='nginx', weight=30, nginx=nginx)
    planned, shifted, unreachable, bad = run_module_tasks(run_playbook, 'artisan.upgrade.canary_shift', [
        (args, {'check_mode': True}),
        args,
        dict(args, weight=50, nginx=dict(nginx, canary=['127.0.0.1:%d' % free_port()])),
        dict(args, weight=150),
    ])
    for result in (planned, shifted):
        assert_envelope(result)
    for result in (unreachable, bad):
        assert_envelope(result, failed=True)
    assert planned['changed'] is True and shifted['changed'] is True and shifted['reloaded'] is True
    assert 'weight=3;' in include.read_text()
    assert any(command.startswith('nginx -t -q -c ') for command in shifted['commands'])
    assert 'no canary backend accepts connections' in unreachable['msg']
    assert unreachable['commands'] and 'weight=3;' in include.read_text()
    assert 'weight must be a percentage from 0 to 100' in bad['msg']


SERVICE = r"""
location = /login { default_type application/json; return 200 '{"token": "tok-0123456789-captured"}'; }
location = /profile { default_type text/plain; return 200 'hello'; }
"""
TOKEN = 'tok-0123456789-captured'
HEADER_SECRET = 'hdr-0123456789-secret'


def test_smoke_test(nginx_factory, tmp_path, run_playbook):
    service = nginx_factory(SERVICE)
    checks = [
        {'name': 'login', 'path': '/login', 'capture': {'token': '$.token'}},
        {'name': 'profile', 'path': '/profile?session={token}',
         'secret_headers': {'Authorization': 'Bearer %s' % HEADER_SECRET}},
    ]
    args = dict(base_url=service.url, checks=checks, timeout=10, interval=0.2, report_path=str(tmp_path / 'report.json'))
    probed, passed, failing, refused = run_module_tasks(run_playbook, 'artisan.upgrade.smoke_test', [
        (args, {'check_mode': True}),
        args,
        dict(args, checks=[{'name': 'missing', 'path': '/missing'}], timeout=1, report_path=None),
        dict(args, checks=[]),
    ])
    for result in (probed, passed):
        assert_envelope(result, TOKEN, HEADER_SECRET)
        assert result['changed'] is False
        assert result['commands'] == ['GET %s/login' % service.url, 'GET %s/profile?session=********' % service.url]
    for result in (failing, refused):
        assert_envelope(result, TOKEN, HEADER_SECRET, failed=True)
    assert failing['commands'] and all(command.startswith('GET %s/missing' % service.url) for command in failing['commands'])
    assert 'checks is empty' in refused['msg'] and refused['commands'] == []
    report = json.loads((tmp_path / 'report.json').read_text())
    assert isinstance(report['duration'], float) and 'duration_ms' not in report


def test_k8s_rollout(kubesim, run_playbook):
    apps = kubernetes.client.AppsV1Api(kubesim.api_client())
    apps.create_namespaced_deployment('default', {
        'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'web', 'labels': {'app': 'web'}},
        'spec': {'replicas': 2, 'selector': {'matchLabels': {'app': 'web'}},
                 'template': {'metadata': {'labels': {'app': 'web'}},
                              'spec': {'containers': [{'name': 'web', 'image': 'demoapp:1.0.0'}]}}}})
    args = dict(kubeconfig=kubesim.kubeconfig, name='web', image='demoapp:2.0.0', timeout=120)
    planned, rolled, missing = run_module_tasks(run_playbook, 'artisan.upgrade.k8s_rollout', [
        (args, {'check_mode': True}),
        args,
        dict(args, name='absent'),
    ])
    for result in (planned, rolled):
        assert_envelope(result)
    assert_envelope(missing, failed=True)
    assert planned['changed'] is True and rolled['changed'] is True
    assert apps.read_namespaced_deployment('web', 'default').spec.template.spec.containers[0].image == 'demoapp:2.0.0'
    assert any('deployments/web' in command for command in rolled['commands']), rolled['commands']


def test_pg_info(postgres, database, run_playbook):
    args = dict(login_host='127.0.0.1', port=postgres.port, login_user=SUPERUSER, login_password=SUPERUSER_PASSWORD,
                db=database)
    read, checked, wrong = run_module_tasks(run_playbook, 'artisan.upgrade.pg_info', [
        args,
        (args, {'check_mode': True}),
        dict(args, login_password='not-the-password'),
    ])
    for result in (read, checked):
        assert_envelope(result, SUPERUSER_PASSWORD)
        assert result['changed'] is False
    assert_envelope(wrong, SUPERUSER_PASSWORD, 'not-the-password', failed=True)
    assert read['server_version_num'] == int(postgres.query('SHOW server_version_num')[0][0])


def test_release_record_and_run_lock(tmp_path, run_playbook):
    records, locks = str(tmp_path / 'records'), str(tmp_path / 'locks')
    started, = run_module_tasks(run_playbook, 'artisan.upgrade.release_record', [
        dict(state='started', dir=records, app='shop', environment='staging', version='2.0.0', version_from='1.0.0'),
    ])
    assert_envelope(started)
    release_id = started['release_id']
    phase, finished, unknown = run_module_tasks(run_playbook, 'artisan.upgrade.release_record', [
        dict(state='phase', dir=records, release_id=release_id, phase='backup', host='db1', result='ok',
             details={'url': 'postgresql://app:%s@db/shop' % APP_PASSWORD}),
        dict(state='finished', dir=records, release_id=release_id, status='succeeded'),
        dict(state='phase', dir=records, release_id='no-such-run', phase='backup', host='db1', result='ok'),
    ])
    for result in (phase, finished):
        assert_envelope(result, APP_PASSWORD)
    assert_envelope(unknown, failed=True)
    stored = json.loads((tmp_path / 'records' / ('%s.json' % release_id)).read_text())
    assert stored['status'] == 'succeeded' and APP_PASSWORD not in json.dumps(stored)

    taken, refused, released = run_module_tasks(run_playbook, 'artisan.upgrade.run_lock', [
        dict(app='shop', dir=locks, release_id='run-a'),
        dict(app='shop', dir=locks, release_id='run-b'),
        dict(app='shop', dir=locks, release_id='run-a', state='released'),
    ])
    for result in (taken, released):
        assert_envelope(result)
        assert result['changed'] is True
    assert_envelope(refused, failed=True)
    assert 'run-a' in refused['msg']
    assert not (tmp_path / 'locks' / 'shop.json').exists(), 'the released lock is gone'


def test_env_file_and_app_release(tmp_path, run_playbook):
    env = tmp_path / 'app.env'
    env.write_text('DATABASE_URI=postgresql://app:%s@db/shop\nLOG_LEVEL=debug\n' % APP_PASSWORD)
    edited, again, conflicting = run_module_tasks(run_playbook, 'artisan.upgrade.env_file', [
        dict(path=str(env), renames={'DATABASE_URI': 'DATABASE_URL'}, secret_keys=['DATABASE_URL']),
        dict(path=str(env), renames={'DATABASE_URI': 'DATABASE_URL'}, secret_keys=['DATABASE_URL']),
        dict(path=str(tmp_path / 'missing.env'), set={'A': '1'}, create=False),
    ])
    for result in (edited, again):
        assert_envelope(result, APP_PASSWORD)
    assert edited['changed'] is True and again['changed'] is False
    assert_envelope(conflicting, failed=True)
    assert env.read_text().startswith('DATABASE_URL=postgresql://app:%s@db/shop' % APP_PASSWORD)

    root = tmp_path / 'app'
    planned, refused = run_module_tasks(run_playbook, 'artisan.upgrade.app_release', [
        (dict(app_root=str(root), version='2.0.0', requirements=['demoapp==2.0.0'], state='current'), {'check_mode': True}),
        dict(app_root=str(root), version='not a version', requirements=['demoapp']),
    ])
    assert_envelope(planned)
    assert planned['changed'] is True and not root.exists()
    assert_envelope(refused, failed=True)
