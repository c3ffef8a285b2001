"""The shared fixtures give real services, and clean up after themselves."""

from __future__ import annotations

import psycopg
import pytest
import requests

from .helpers.postgres import APP_USER


def test_postgres_is_a_real_server_with_password_auth(postgres, database):
    assert postgres.version >= 150000
    postgres.load_sql(database, 'CREATE TABLE users (id serial PRIMARY KEY, email text);'
                                "INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com');")
    assert postgres.query('SELECT count(*) FROM users', dbname=database) == [(2,)]
    owner = postgres.query('SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s', [database])
    assert owner == [(APP_USER,)]
    with pytest.raises(psycopg.OperationalError, match='password authentication failed'):
        psycopg.connect(postgres.dsn(database, APP_USER, password='wrong'))


def test_docker_session_labels_and_removes_what_it_made(docker_session):
    # Earlier tests may have left session-labelled objects for the session's end: count only ours.
    before = docker_session.leftovers()
    container = docker_session.run_systemd()
    network = docker_session.network()
    docker_session.volume()
    container.reload()
    assert container.status == 'running'
    exit_code, output = container.exec_run(['systemctl', 'is-system-running'])
    assert (exit_code, output.decode().strip()) == (0, 'running'), output
    assert container.exec_run(['readlink', '/proc/1/exe']).output.decode().strip() == '/usr/lib/systemd/systemd'
    made = {kind: sorted(set(names) - set(before[kind])) for kind, names in docker_session.leftovers().items()}
    assert made['containers'] == [container.name]
    assert made['networks'] == [network.name]
    assert len(made['volumes']) == 1
    docker_session.cleanup()
    assert docker_session.leftovers() == {'containers': [], 'networks': [], 'volumes': []}


def test_nginx_serves_what_the_test_writes(nginx_factory):
    server = nginx_factory('location / { try_files $uri =503; }')
    assert requests.get(server.url + '/ready', timeout=5).status_code == 503
    server.write('ready', 'yes')
    response = requests.get(server.url + '/ready', timeout=5)
    assert (response.status_code, response.text) == (200, 'yes')


def test_run_module_returns_the_real_module_result(run_module):
    result = run_module('ansible.builtin.command', {'argv': ['echo', 'hello']})
    assert result['stdout'] == 'hello'
    assert not result.get('failed')
    failed = run_module('ansible.builtin.command', {'argv': ['false']})
    assert failed['failed'] is True and failed['rc'] == 1
