# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx provider's decisions that need no nginx: health of the sides, reload commands, nginx -t messages."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _canary as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _canary_nginx as provider
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import DockerTransport, LocalTransport


def split(weight, drain=None):
    return decide.nginx_split(weight, 'app', ['10.0.0.1:80', '10.0.0.2:80'], ['10.0.0.9:80'], drain=drain)


def test_unhealthy_sides_only_count_sides_that_get_traffic():
    down = {'10.0.0.9:80'}

    def probe(address):
        return '%s: refused' % address if address in down else None

    assert provider.unhealthy_sides(split(30), probe) == {'canary': ['10.0.0.9:80: refused']}
    assert provider.unhealthy_sides(split(0), probe) == {}
    down.update({'10.0.0.1:80'})
    assert provider.unhealthy_sides(split(100), probe) == {'canary': ['10.0.0.9:80: refused']}
    assert provider.unhealthy_sides(split(0, drain=['10.0.0.2:80']), probe) == {'stable': ['10.0.0.1:80: refused']}


def test_probe_tcp_against_a_real_listening_socket_and_a_closed_port():
    with socket.socket() as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        assert provider.probe_tcp('127.0.0.1:%d' % listener.getsockname()[1]) is None
    with socket.socket() as unused:
        unused.bind(('127.0.0.1', 0))
        port = unused.getsockname()[1]
    assert 'refused' in provider.probe_tcp('127.0.0.1:%d' % port).lower()


def test_reload_commands():
    host = provider.NginxHost(LocalTransport(), '/usr/sbin/nginx', '/etc/nginx/nginx.conf')
    assert provider.reload_argv('signal', host, 'nginx')[1] == ['/usr/sbin/nginx', '-s', 'reload', '-c', '/etc/nginx/nginx.conf']
    assert provider.reload_argv('systemd', host, 'edge-nginx')[1] == ['systemctl', 'reload', 'edge-nginx']
    with pytest.raises(decide.CanaryError, match='set exec_via.type=docker'):
        provider.reload_argv('docker_kill', host, 'nginx')
    docker = provider.NginxHost(DockerTransport('edge', docker_bin='/usr/bin/docker'), 'nginx', '/etc/nginx/nginx.conf')
    transport, argv = provider.reload_argv('docker_kill', docker, 'nginx')
    assert argv == ['/usr/bin/docker', 'kill', '--signal', 'HUP', 'edge'] and transport.kind == 'local'


def test_annotated_test_error_names_the_line_instead_of_the_scratch_file():
    # nginx 1.22.1 `nginx -t -q` standard error for a bad keepalive value
    stderr = ('nginx: [emerg] invalid value "many" in /etc/nginx/.nginx.conf.canary-1a2b.tmp:7\n'
              'nginx: configuration file /etc/nginx/.nginx.conf.canary-1a2b.tmp test failed\n')
    flat = 'events {}\nhttp {\nupstream app {\n    server a:1;\n    server b:1;\n\n    keepalive many;\n}\n}\n'
    message = provider.annotated_test_error(stderr, '/etc/nginx/.nginx.conf.canary-1a2b.tmp', flat)
    assert message.startswith('nginx: [emerg] invalid value "many" at "keepalive many;"')
    assert 'the configuration with the candidate file test failed' in message
