"""The local images (examples/images/build.sh) start and serve on 127.0.0.1."""

from __future__ import annotations

import psycopg
import pytest
import requests

from .helpers.postgres import free_port

PG_USER, PG_PASSWORD = 'artisan', 'image-test-pw'
DEMOAPP_VERSIONS = ['1.0.0', '2.0.0', '3.0.0']


@pytest.fixture(scope='module')
def network(docker_session):
    return docker_session.network()


@pytest.fixture(scope='module')
def pg(docker_session, network):
    """The postgres image on a test network (alias ``postgres``), its port published on loopback."""
    port = free_port()
    container = docker_session.run(
        'artisan-upgrade/postgres:15', network=network.name,
        environment={'POSTGRES_USER': PG_USER, 'POSTGRES_PASSWORD': PG_PASSWORD, 'POSTGRES_DB': 'artisan'},
        ports={'5432/tcp': ('127.0.0.1', port)})
    network.disconnect(container)
    network.connect(container, aliases=['postgres'])
    docker_session.wait_healthy(container)
    return {'container': container, 'port': port}


def pg_connect(pg, dbname='artisan', password=PG_PASSWORD):
    return psycopg.connect(host='127.0.0.1', port=pg['port'], user=PG_USER, password=password, dbname=dbname,
                           autocommit=True, connect_timeout=5)


def test_postgres_image_initialises_from_env_and_requires_the_password(pg):
    with pg_connect(pg) as conn:
        assert conn.execute('SELECT current_user, current_database(), current_setting(%s)',
                            ['server_version_num']).fetchone()[:2] == (PG_USER, 'artisan')
        assert int(conn.execute('SHOW server_version_num').fetchone()[0]) // 10000 == 15
    with pytest.raises(psycopg.OperationalError, match='password authentication failed'):
        pg_connect(pg, password='wrong')


def test_nginx_image_serves_its_health_page(docker_session):
    port = free_port()
    container = docker_session.run('artisan-upgrade/nginx:bookworm', ports={'80/tcp': ('127.0.0.1', port)})
    docker_session.wait_healthy(container)
    response = requests.get('http://127.0.0.1:%d/nginx-health' % port, timeout=5)
    assert (response.status_code, response.text) == (200, 'ok\n')


def test_systemd_host_image_boots_and_can_make_a_venv(docker_session):
    container = docker_session.run_systemd('artisan-upgrade/systemd-host:bookworm')
    assert container.exec_run(['systemctl', 'is-system-running']).output.decode().strip() == 'running'
    assert container.exec_run(['python3', '-m', 'venv', '/tmp/venv']).exit_code == 0
    assert container.exec_run(['/tmp/venv/bin/python', '-c', 'import sys; print(sys.prefix)']).output.decode().strip() == '/tmp/venv'


@pytest.mark.parametrize('version', DEMOAPP_VERSIONS)
def test_demoapp_image_migrates_and_serves_its_version(docker_session, network, pg, version):
    dbname = 'image_' + version.replace('.', '_')
    with pg_connect(pg) as conn:
        conn.execute('CREATE DATABASE %s' % dbname)
    url = 'postgresql://%s:%s@postgres:5432/%s' % (PG_USER, PG_PASSWORD, dbname)
    env = {'DATABASE_URL': url, 'DATABASE_URI': url, 'SECRET_KEY': 'image-test'}
    migrate = docker_session.run('demoapp:%s' % version, command=['demoapp', 'migrate', 'upgrade', 'head'],
                                 network=network.name, environment=env)
    assert migrate.wait(timeout=120)['StatusCode'] == 0, migrate.logs().decode()
    port = free_port()
    app = docker_session.run('demoapp:%s' % version, network=network.name, environment=env,
                             ports={'8000/tcp': ('127.0.0.1', port)})
    docker_session.wait_healthy(app)
    base = 'http://127.0.0.1:%d' % port
    assert requests.get(base + '/version', timeout=5).json()['version'] == version
    readiness = requests.get(base + '/api/system/health', timeout=5)
    assert readiness.status_code == 200, readiness.text
    assert app.attrs['Config']['User'] == 'demoapp'
