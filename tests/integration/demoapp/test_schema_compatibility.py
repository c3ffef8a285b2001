"""Readiness follows the database schema, and release 1 keeps working on release 2's expanded schema."""

from __future__ import annotations

import concurrent.futures

from .support import RELEASES, free_port


def readiness(server):
    response = server.get('/api/system/health')
    return response.status_code, response.json()


def test_readiness_of_each_release_as_the_schema_moves(demoapp, demoapp_releases, postgres, database):
    dsn = postgres.dsn(database, 'artisan')
    demoapp_releases['1.0.0'].migrate(dsn, 'upgrade', 'head')
    servers = dict(zip(RELEASES, demoapp.start_together(RELEASES, [dsn] * len(RELEASES))))
    tool = demoapp_releases['3.0.0']
    expected_states = [
        # (database revision, {release: (status code, schema state)})
        ('0001', {'1.0.0': (200, 'current'), '2.0.0': (503, 'behind'), '3.0.0': (503, 'behind')}),
        ('0002', {'1.0.0': (200, 'ahead'), '2.0.0': (200, 'current'), '3.0.0': (503, 'behind')}),
        ('0003', {'1.0.0': (200, 'ahead'), '2.0.0': (200, 'ahead'), '3.0.0': (200, 'current')}),
        ('0001', {'1.0.0': (200, 'current'), '2.0.0': (503, 'behind'), '3.0.0': (503, 'behind')}),
    ]
    for target, expected in expected_states:
        tool.migrate(dsn, 'upgrade' if target != '0001' else 'downgrade', target)
        seen = {}
        for version, server in servers.items():
            status, body = readiness(server)
            seen[version] = (status, body['schema'])
            assert body['revision'] == target and body['expected_revision'] == server.release.head
            if status == 503:
                assert body['status'] == 'error'
                assert body['reason'] == ('database schema is behind: at %s, this release needs %s: run migrations'
                                          % (target, server.release.head))
            else:
                assert body['status'] == 'ok'
        assert seen == expected, 'at %s' % target


def test_readiness_of_a_database_never_migrated(demoapp, postgres, database):
    server = demoapp.start('2.0.0', dsn=postgres.dsn(database, 'artisan'))
    status, body = readiness(server)
    assert status == 503
    assert body['schema'] == 'unmigrated' and body['revision'] is None
    assert 'not migrated' in body['reason'] and 'demoapp migrate upgrade head' in body['reason']
    assert server.get('/health').status_code == 200
    assert server.get('/api/system/info').json()['revision'] is None


def test_readiness_and_api_when_the_database_is_unreachable(demoapp):
    server = demoapp.start('2.0.0', dsn='postgresql://artisan:pw@127.0.0.1:%d/nowhere' % free_port())
    assert server.get('/health').json() == {'status': 'ok'}
    # Each of these waits for the pool's timeout: ask them at once.
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        health = pool.submit(server.get, '/api/system/health')
        info = pool.submit(server.get, '/api/system/info')
        login = pool.submit(server.post, '/api/auth/login', json={'username': 'test@example.com', 'password': 'password'})
    body = health.result().json()
    assert health.result().status_code == 503
    assert body['database'] == 'error' and 'database unreachable' in body['reason']
    assert info.result().json()['database'] == 'error'
    assert (login.result().status_code, login.result().json()) == (503, {'error': 'database unavailable'})


def test_release_1_keeps_working_on_the_expanded_schema(demoapp, demoapp_releases, postgres, database):
    """A rolling upgrade from 1 to 2: the expand migration runs first, then old and new instances serve together."""
    dsn = postgres.dsn(database, 'artisan')
    demoapp_releases['1.0.0'].migrate(dsn, 'upgrade', 'head')
    demoapp_releases['2.0.0'].migrate(dsn, 'upgrade', 'head')
    old, new = demoapp.start_together(['1.0.0', '2.0.0'], [dsn, dsn])
    assert readiness(old)[0] == readiness(new)[0] == 200

    # Release 1 writes only full_name; release 2 reads the user through its fallback.
    assert old.post('/api/users', json={'email': 'alice@example.com', 'password': 'alice-password',
                                        'full_name': 'Alice Old'}).status_code == 201
    assert postgres.query("SELECT full_name, display_name FROM users WHERE email = 'alice@example.com'",
                          dbname=database) == [('Alice Old', None)]
    alice = new.me(new.login('alice@example.com', 'alice-password')).json()
    assert (alice['display_name'], alice['full_name']) == ('Alice Old', 'Alice Old')

    # Release 2 writes both columns, so release 1 reads its users.
    assert new.post('/api/users', json={'email': 'bob@example.com', 'password': 'bob-password',
                                        'display_name': 'Bob New'}).status_code == 201
    assert postgres.query("SELECT full_name, display_name FROM users WHERE email = 'bob@example.com'",
                          dbname=database) == [('Bob New', 'Bob New')]
    assert old.me(old.login('bob@example.com', 'bob-password')).json()['full_name'] == 'Bob New'

    # Tokens and posts cross versions: a client can land on either instance.
    token = old.login()
    auth = {'Authorization': 'Bearer ' + token}
    assert new.me(token).status_code == 200
    created = old.post('/api/posts', json={'title': 'written by 1.0.0'}, headers=auth)
    assert created.status_code == 201
    assert new.get('/api/posts', headers=auth).json()['posts'][0]['title'] == 'written by 1.0.0'

    # The contract migration backfills what release 1 wrote meanwhile; release 3 serves it.
    demoapp_releases['3.0.0'].migrate(dsn, 'upgrade', 'head')
    assert postgres.query("SELECT display_name FROM users WHERE email = 'alice@example.com'", dbname=database) == [('Alice Old',)]
    latest = demoapp.start('3.0.0', dsn=dsn)
    assert latest.me(latest.login('alice@example.com', 'alice-password')).json()['display_name'] == 'Alice Old'
