"""app_release and env_file on the systemd-host image (Debian 12, its python3.11), reached the way Molecule
reaches it (the community.docker.docker connection): the release runs as an unprivileged user from the
``current`` link, and systemd's own EnvironmentFile= parser reads back what env_file wrote."""

from __future__ import annotations

import json

import pytest

from .helpers.ansible import assert_ok
from .helpers.docker import BASE_IMAGE, SYSTEMD_RUN_OPTIONS, put_file, sh

# Lines whose values systemd must read exactly as env_file's parser does (quoting, escapes, whitespace).
ENV_FILE = r"""# demoapp settings
DATABASE_URI="postgresql://app:pw@db:5432/app"
  SPACED =  value with spaces<trailing blanks>
SINGLE='literal $HOME \n'
DOUBLE="esc \" \\ \$ \` kept \n"
UNQUOTED=un\ quoted\$
JOINED="x"  'y'
INNER=x "y"
HASH=a#b
; legacy
LEGACY_POOL=5
""".replace('<trailing blanks>', '   ')
EXPECTED = {
    'DATABASE_URL': 'postgresql://app:pw@db:5432/app',
    'SPACED': 'value with spaces',
    'SINGLE': 'literal $HOME \\n',
    'DOUBLE': 'esc " \\ $ ` kept \\n',
    'UNQUOTED': 'un quoted$',
    'JOINED': 'xy',
    'INNER': 'x "y"',
    'HASH': 'a#b',
    'NEW_VALUE': 'a b$c "d" `e` \\f',
}
DUMP_ENV = """import importlib.metadata, json, os, sys
keys = %r
print(json.dumps({'user': os.getuid(), 'python': sys.version.split()[0], 'demoapp': importlib.metadata.version('demoapp'),
                  'env': {k: v for k, v in os.environ.items() if k in keys}}))
""" % sorted(set(EXPECTED) | {'DATABASE_URI', 'LEGACY_POOL'})
UNIT = """[Unit]
Description=dump what demoapp's release sees
[Service]
Type=oneshot
User=demoapp
EnvironmentFile=/etc/demoapp/demoapp.env
ExecStart=/srv/demoapp/current/venv/bin/python /usr/local/lib/dump_env.py
StandardOutput=file:/var/lib/dump-env.json
"""


@pytest.fixture()
def host(docker_session, demoapp_wheelhouse):
    volumes = dict(SYSTEMD_RUN_OPTIONS['volumes'], **{str(demoapp_wheelhouse): {'bind': '/wheelhouse', 'mode': 'ro'}})
    container = docker_session.run_systemd(BASE_IMAGE, volumes=volumes)
    sh(container, 'useradd --system --no-create-home --shell /usr/sbin/nologin demoapp')
    put_file(container, '/etc/demoapp/demoapp.env', ENV_FILE, 0o640)
    put_file(container, '/usr/local/lib/dump_env.py', DUMP_ENV)
    put_file(container, '/etc/systemd/system/dump-env.service', UNIT)
    sh(container, 'chgrp demoapp /etc/demoapp/demoapp.env && systemctl daemon-reload')
    return container


def test_release_and_env_file_on_debian_12_read_back_by_systemd(run_playbook, host):
    tasks = [
        {'name': 'release', 'artisan.upgrade.app_release': {
            'app_root': '/srv/demoapp', 'version': '2.0.0', 'state': 'current', 'requirements': ['demoapp==2.0.0'],
            'wheelhouse': '/wheelhouse', 'python': 'python3.11', 'owner': 'demoapp', 'group': 'demoapp',
            'keep_releases': 3}},
        {'name': 'config', 'artisan.upgrade.env_file': {
            'path': '/etc/demoapp/demoapp.env', 'renames': {'DATABASE_URI': 'DATABASE_URL'}, 'remove': ['LEGACY_POOL'],
            'set': {'NEW_VALUE': EXPECTED['NEW_VALUE']}, 'secret_keys': ['DATABASE_URI', 'DATABASE_URL']}},
    ]
    inventory = {'all': {'hosts': {host.name: {'ansible_connection': 'community.docker.docker'}}}}
    # An extra var, since run_playbook sets the controller's interpreter as one (extra vars win over inventory).
    debian = {'ansible_python_interpreter': '/usr/bin/python3'}
    first = run_playbook([{'hosts': 'all', 'gather_facts': False, 'tasks': tasks}], inventory=inventory, diff=True,
                         extravars=debian)
    release, config = first.result('release'), first.result('config')
    assert_ok(release)
    assert_ok(config)
    assert (release['changed'], release['current'], config['changed']) == (True, '2.0.0', True)
    assert 'pw@' not in json.dumps(config)

    sh(host, 'systemctl start dump-env.service')
    seen = json.loads(sh(host, 'cat /var/lib/dump-env.json'))
    assert seen['demoapp'] == '2.0.0' and seen['python'].startswith('3.11.')
    assert seen['user'] == int(sh(host, 'id -u demoapp'))
    # systemd's parser is the oracle: it reads what env_file meant, and env_file reads what systemd reads.
    assert seen['env'] == EXPECTED
    assert {k: v for k, v in config['env'].items() if k != 'DATABASE_URL'} == {
        k: v for k, v in EXPECTED.items() if k != 'DATABASE_URL'}
    assert sh(host, 'stat -c %U:%G:%a /etc/demoapp/demoapp.env').strip() == 'root:demoapp:640'

    again = run_playbook([{'hosts': 'all', 'gather_facts': False, 'tasks': tasks}], inventory=inventory, extravars=debian)
    assert (again.result('release')['changed'], again.result('config')['changed']) == (False, False)
    assert again.result('release')['commands'] == []
