"""Every endpoint of every release, against a real server process and PostgreSQL database at the release's head."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from websockets.sync.client import connect as ws_connect

from .support import DEMO_USER, HEADS, RELEASES, SECRET_KEY, columns, jwt_claims, jwt_token, tables, wait_for


@pytest.fixture(scope='module')
def every_release_served(demoapp_releases, module_demoapp, module_databases, postgres):
    """{version: (server, database)}, each database migrated by that release's own tool."""
    databases = [module_databases.create() for version in RELEASES]
    dsns = [postgres.dsn(database, 'artisan') for database in databases]
    for version, dsn in zip(RELEASES, dsns):
        demoapp_releases[version].migrate(dsn, 'upgrade', 'head')
    return dict(zip(RELEASES, zip(module_demoapp.start_together(RELEASES, dsns), databases)))


@pytest.fixture(scope='module', params=RELEASES)
def served(request, every_release_served):
    return every_release_served[request.param]


@pytest.fixture()
def server(served):
    return served[0]


@pytest.fixture()
def token(server):
    return server.login()


def test_liveness_answers_without_looking_at_the_database(server):
    response = server.get('/health')
    assert (response.status_code, response.json()) == (200, {'status': 'ok'})


def test_readiness_when_the_schema_is_at_this_release(server):
    response = server.get('/api/system/health')
    assert response.status_code == 200, response.text
    head = HEADS[server.release.version]
    assert response.json() == {'status': 'ok', 'database': 'ok', 'revision': head, 'expected_revision': head,
                               'schema': 'current'}


def test_system_info(server):
    body = server.get('/api/system/info').json()
    assert body['version'] == server.release.version
    assert body['revision'] == body['expected_revision'] == HEADS[server.release.version]
    assert body['started_at'].endswith('Z')
    started = datetime.datetime.fromisoformat(body['started_at'])
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now - datetime.timedelta(minutes=10) < started <= now


def test_version_and_api_root(server):
    assert server.get('/version').json() == {'version': server.release.version}
    root = server.get('/api').json()
    assert (root['name'], root['version']) == ('demoapp', server.release.version)
    assert {'/api/system/health', '/api/auth/login', '/api/users/me', '/ws', '/metrics'} <= set(root['links'].values())


def test_unknown_paths_and_methods_answer_json_errors(server):
    response = server.get('/no/such/page')
    assert (response.status_code, response.json()) == (404, {'error': 'Not Found'})
    response = server.post('/health')
    assert response.status_code == 405 and response.json() == {'error': 'Method Not Allowed'}
    assert response.headers['Allow'] == 'GET,HEAD'


def test_login_returns_a_signed_bearer_token(server):
    response = server.post('/api/auth/login', json=DEMO_USER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body['token_type'] == 'bearer'
    claims = jwt_claims(body['access_token'], SECRET_KEY)
    assert claims['email'] == DEMO_USER['username'] and claims['exp'] > claims['iat']


@pytest.mark.parametrize('credentials', [
    {'username': 'test@example.com', 'password': 'wrong-password'},
    {'username': 'nobody@example.com', 'password': 'password'},
], ids=['bad-password', 'unknown-user'])
def test_login_rejects_bad_credentials(server, credentials):
    response = server.post('/api/auth/login', json=credentials)
    assert response.status_code == 401
    assert response.json() == {'error': 'invalid username or password'}
    assert 'access_token' not in response.text


@pytest.mark.parametrize('body, status', [
    ('not json', 400),
    ('[1, 2]', 400),
    ('{"username": "test@example.com"}', 422),
    ('{"username": 1, "password": "password"}', 422),
], ids=['not-json', 'not-an-object', 'no-password', 'wrong-type'])
def test_login_rejects_malformed_bodies(server, body, status):
    response = server.post('/api/auth/login', data=body, headers={'Content-Type': 'application/json'})
    assert response.status_code == status
    assert response.json()['error']


def test_me_shows_the_user_with_this_release_s_name_fields(server, token):
    response = server.me(token)
    assert response.status_code == 200, response.text
    user = response.json()
    assert user['email'] == 'test@example.com' and isinstance(user['id'], int)
    expected_names = {1: {'full_name': 'Test User'}, 2: {'full_name': 'Test User', 'display_name': 'Test User'},
                      3: {'display_name': 'Test User'}}[server.release.major]
    assert {key: user[key] for key in ('full_name', 'display_name') if key in user} == expected_names


@pytest.mark.parametrize('authorization, error', [
    (None, 'missing bearer token'),
    ('Basic dGVzdDpwYXNzd29yZA==', 'missing bearer token'),
    ('Bearer not-a-jwt', 'invalid token'),
    ('Bearer ' + jwt_token({'sub': '1', 'iss': 'demoapp', 'iat': 1, 'exp': 4102444800}, 'another-key-of-enough-length-1234567'),
     'invalid token'),
    ('Bearer ' + jwt_token({'sub': '1', 'iss': 'demoapp', 'iat': 1, 'exp': 2}, SECRET_KEY), 'token expired'),
], ids=['none', 'basic', 'garbage', 'foreign-key', 'expired'])
def test_me_rejects_missing_and_invalid_tokens(server, authorization, error):
    headers = {'Authorization': authorization} if authorization else {}
    response = server.get('/api/users/me', headers=headers)
    assert (response.status_code, response.json()) == (401, {'error': error})
    assert response.headers['WWW-Authenticate'] == 'Bearer'


def test_a_hand_made_token_with_the_right_key_is_accepted(server):
    """The counterpart of the rejections above: the signature, not the issuing process, makes a token valid."""
    now = int(time.time())
    token = jwt_token({'sub': '1', 'iss': 'demoapp', 'iat': now, 'exp': now + 60}, SECRET_KEY)
    assert server.me(token).json()['email'] == 'test@example.com'


def test_register_then_log_in_as_the_new_user(server, served, postgres):
    email = 'reg-%s@example.com' % server.release.version
    created = server.post('/api/users', json={'email': email, 'password': 'long-enough', 'display_name': 'Reg User'})
    assert created.status_code == 201, created.text
    user = server.me(server.login(email, 'long-enough')).json()
    assert user['id'] == created.json()['id'] and user['email'] == email
    assert user.get('display_name', user.get('full_name')) == 'Reg User'
    assert server.post('/api/users', json={'email': email, 'password': 'long-enough'}).status_code == 409
    invalid = server.post('/api/users', json={'email': 'not-an-email', 'password': 'short'})
    assert invalid.status_code == 422 and 'email' in invalid.json()['error'] and 'password' in invalid.json()['error']
    database = served[1]
    stored = postgres.query('SELECT password_hash FROM users WHERE email = %s', [email], dbname=database)[0][0]
    assert stored.startswith('scrypt$') and 'long-enough' not in stored
    if server.release.major == 1:
        assert 'audit_log' not in tables(postgres, database)
    else:
        actions = postgres.query('SELECT action FROM audit_log WHERE user_id = %s ORDER BY id', [user['id']], dbname=database)
        assert [row[0] for row in actions] == ['register', 'login']


def test_each_release_writes_its_own_name_columns(server, served, postgres):
    email = 'columns-%s@example.com' % server.release.version
    assert server.post('/api/users', json={'email': email, 'password': 'long-enough', 'full_name': 'Col Umn'}).status_code == 201
    database = served[1]
    names = [name for name in ('full_name', 'display_name') if name in columns(postgres, database, 'users')]
    row = postgres.query('SELECT %s FROM users WHERE email = %%s' % ', '.join(names), [email], dbname=database)[0]
    assert dict(zip(names, row)) == {1: {'full_name': 'Col Umn'}, 2: {'full_name': 'Col Umn', 'display_name': 'Col Umn'},
                                     3: {'display_name': 'Col Umn'}}[server.release.major]


def test_posts_need_a_token_and_round_trip(server, token):
    auth = {'Authorization': 'Bearer ' + token}
    assert server.get('/api/posts').status_code == 401
    created = server.post('/api/posts', json={'title': 'Hello from %s' % server.release.version, 'body': 'b'}, headers=auth)
    assert created.status_code == 201, created.text
    posts = server.get('/api/posts', headers=auth).json()['posts']
    assert posts[0] == created.json()
    assert posts[0]['author'] == 'Test User'
    assert any(post['title'] == 'Welcome' for post in posts), 'the post seeded by migration 0001 is missing'
    assert server.post('/api/posts', json={'title': ''}, headers=auth).status_code == 422


def test_slow_endpoint_waits_and_validates(server):
    response = server.get('/api/slow', params={'seconds': '0.2'})
    assert (response.status_code, response.json()['slept']) == (200, 0.2)
    assert response.elapsed.total_seconds() >= 0.2
    for bad in ('abc', '-1', '1000', 'nan'):
        assert server.get('/api/slow', params={'seconds': bad}).status_code == 422


def test_websocket_ping_pong_and_errors_keep_the_connection(server):
    with ws_connect('ws://127.0.0.1:%d/ws' % server.port, open_timeout=5) as socket:
        socket.send(json.dumps({'type': 'ping'}))
        assert json.loads(socket.recv(timeout=5)) == {'type': 'pong'}
        socket.send(json.dumps({'type': 'ping', 'id': 7}))
        assert json.loads(socket.recv(timeout=5)) == {'type': 'pong', 'id': 7}
        socket.send(json.dumps({'type': 'version'}))
        assert json.loads(socket.recv(timeout=5)) == {'type': 'version', 'version': server.release.version}
        for message in (json.dumps({'type': 'dance'}), 'not json', json.dumps([1]), b'\x00binary'):
            socket.send(message)
            reply = json.loads(socket.recv(timeout=5))
            assert reply['type'] == 'error' and reply['error'], reply
        socket.send(json.dumps({'type': 'ping'}))
        assert json.loads(socket.recv(timeout=5)) == {'type': 'pong'}


def test_metrics_count_requests_by_route_template(server, token):
    before = server.metrics()
    for attempt in range(3):
        server.get('/version')
    for attempt in range(2):
        server.me(token)
    server.get('/api/users/me')
    server.get('/no/such/page/12345')
    after = server.metrics()

    def delta(name, **labels):
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta('http_requests_total', method='GET', route='/version', status='200') == 3
    assert delta('http_requests_total', method='GET', route='/api/users/me', status='200') == 2
    assert delta('http_requests_total', method='GET', route='/api/users/me', status='401') == 1
    assert delta('http_requests_total', method='GET', route='unmatched', status='404') == 1
    assert delta('http_request_duration_seconds_count', method='GET', route='/version') == 3
    assert after.value('http_request_duration_seconds_bucket', method='GET', route='/version', le='+Inf') >= 3
    routes = after.label_values('http_requests_total', 'route')
    assert not any('12345' in route for route in routes), routes
    assert after.value('demoapp_build_info', version=server.release.version) == 1
    assert after.label_values('demoapp_build_info', 'version') == {server.release.version}
    assert server.get('/metrics').headers['Content-Type'].startswith('text/plain')


def test_active_connections_count_open_websockets(server):
    # The scrape itself is one request in flight.
    assert wait_for(lambda: server.metrics().value('http_active_connections') == 1)
    with ws_connect('ws://127.0.0.1:%d/ws' % server.port, open_timeout=5) as first, \
            ws_connect('ws://127.0.0.1:%d/ws' % server.port, open_timeout=5):
        first.send(json.dumps({'type': 'ping'}))
        first.recv(timeout=5)
        assert server.metrics().value('http_active_connections') == 3
    assert wait_for(lambda: server.metrics().value('http_active_connections') == 1)


def test_websocket_endpoint_refuses_plain_http(server):
    response = server.get('/ws')
    assert response.status_code == 400 and response.json()['error']
