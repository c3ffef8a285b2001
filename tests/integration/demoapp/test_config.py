"""Configuration: the DATABASE_URI to DATABASE_URL rename of release 2, env files, and refusing a bad setup."""

from __future__ import annotations

import pytest

from .support import SECRET_KEY, free_port

DEPRECATION = 'DATABASE_URI is deprecated, use DATABASE_URL'


@pytest.fixture(scope='module')
def dsn(migrated_dsn):
    return migrated_dsn('2.0.0')


def test_release_2_reads_database_uri_with_a_deprecation_warning(demoapp, dsn):
    server = demoapp.start('2.0.0', env={'DATABASE_URI': dsn})
    assert server.get('/api/system/health').status_code == 200
    assert DEPRECATION in server.log()


def test_release_2_prefers_database_url_without_warning(demoapp, dsn):
    server = demoapp.start('2.0.0', env={'DATABASE_URL': dsn, 'DATABASE_URI': 'postgresql://nobody@127.0.0.1:1/none'})
    assert server.get('/api/system/health').status_code == 200
    assert DEPRECATION not in server.log()


def test_release_1_reads_database_uri_only(demoapp, dsn):
    server = demoapp.start('1.0.0', env={'DATABASE_URI': dsn})
    assert server.get('/api/system/health').json()['schema'] == 'ahead'
    assert DEPRECATION not in server.log()
    refused = demoapp.start('1.0.0', env={'DATABASE_URL': dsn}, wait=False)
    assert refused.wait_exit() == 2
    assert 'configuration error: DATABASE_URI is not set' in refused.log()


def test_env_file_configures_the_service_under_the_environment(demoapp, dsn, tmp_path):
    port = free_port()
    env_file = tmp_path / 'demoapp.env'
    env_file.write_text('# as a systemd EnvironmentFile\n\n'
                        'HOST=127.0.0.1\n'
                        'PORT="%d"\n'
                        "DATABASE_URL='postgresql://nobody@127.0.0.1:1/overridden-by-the-environment'\n"
                        '; another comment\n'
                        'SECRET_KEY=%s\n' % (port, SECRET_KEY), encoding='utf-8')
    from_file = {'HOST': None, 'PORT': None, 'SECRET_KEY': None, 'DATABASE_URL': dsn}
    by_option = demoapp.start('2.0.0', env=from_file, port=port, args=['--env-file', str(env_file)])
    response = by_option.get('/api/system/health')
    assert response.status_code == 200, response.text
    assert 'listening on http://127.0.0.1:%d' % port in by_option.log()
    assert 'SECRET_KEY is not set' not in by_option.log()
    assert by_option.stop() == 0
    by_variable = demoapp.start('2.0.0', env={**from_file, 'DEMOAPP_ENV_FILE': str(env_file)}, port=port)
    assert by_variable.get('/api/system/health').status_code == 200


@pytest.mark.parametrize('env, message', [
    ({'PORT': 'eighty'}, "PORT='eighty' is not a number"),
    ({'DEMOAPP_ENV_FILE': '/nonexistent/demoapp.env'}, 'cannot read env file /nonexistent/demoapp.env'),
    ({'DATABASE_URL': ''}, 'DATABASE_URL is not set'),
    ({'SHUTDOWN_TIMEOUT': '0'}, 'SHUTDOWN_TIMEOUT=0 must be a positive number of seconds'),
], ids=['port', 'env-file', 'no-database', 'shutdown-timeout'])
def test_bad_configuration_exits_2_with_the_reason(demoapp, dsn, env, message):
    server = demoapp.start('2.0.0', env={'DATABASE_URL': dsn, **env}, wait=False)
    assert server.wait_exit() == 2
    assert 'configuration error: ' + message in server.log()
