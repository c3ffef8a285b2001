# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx provider's decisions that need no nginx: health of the sides, reload commands, nginx -t messages."""

from __future__ import annotations

import os
import socket

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _canary as decide
from ansible_collections.artisan.upgrade.plugins.module_utils import _canary_nginx as provider
from ansible_collections.artisan.upgrade.plugins.module_utils._exec import ExecResult, LocalTransport
from ansible_collections.artisan.upgrade.plugins.module_utils._run import ModuleFailure, Run


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


class RecordingTransport:
    """Stands in for a transport: records what would run and succeeds."""

    def __init__(self):
        self.ran = []

    def run(self, argv, env, stdin=None, stdout=None):
        self.ran.append(argv)
        return ExecResult(rc=0, stderr='', command=' '.join(argv))


class KillableTransport(RecordingTransport):
    def kill(self, signal_name):
        self.ran.append(['kill', signal_name])
        return ExecResult(rc=0, stderr='', command='docker kill --signal %s edge' % signal_name)


def test_reload_commands():
    transport = RecordingTransport()
    host = provider.NginxHost(transport, '/usr/sbin/nginx', '/etc/nginx/nginx.conf')
    provider.send_reload('signal', host, 'nginx')
    provider.send_reload('systemd', host, 'edge-nginx')
    assert transport.ran == [['/usr/sbin/nginx', '-s', 'reload', '-c', '/etc/nginx/nginx.conf'], ['systemctl', 'reload', 'edge-nginx']]
    with pytest.raises(ModuleFailure, match='set exec_via.type=docker'):
        provider.send_reload('docker_kill', host, 'nginx')
    docker = KillableTransport()
    result = provider.send_reload('docker_kill', provider.NginxHost(docker, 'nginx', '/etc/nginx/nginx.conf'), 'nginx')
    assert docker.ran == [['kill', 'HUP']] and result.command == 'docker kill --signal HUP edge'


# `nginx -t -q -c <file>` standard error of Debian 12's nginx 1.22.1, recorded as root: an error found while
# parsing comes with the error log's date and pid, then a closing line naming the checked file.
FLAT = '/etc/nginx/.nginx.conf.canary-1a2b.tmp'
FLAT_TEXT = 'events {}\nhttp {\nupstream app {\n    server a:1;\n    server b:1;\n\n    keepalive many;\n}\n}\n'
TEST_FAILED_1_22 = ('2026/11/26 13:19:06 [emerg] 26264#26264: invalid value "many" in "keepalive" directive in %s:7\n'
                    'nginx: configuration file %s test failed\n' % (FLAT, FLAT))
# The same error as nginx prints it before its error log is set up.
TEST_FAILED_EARLY = ('nginx: [emerg] invalid value "many" in %s:7\n'
                     'nginx: configuration file %s test failed\n' % (FLAT, FLAT))


@pytest.mark.parametrize('stderr,message', [
    (TEST_FAILED_1_22, '[emerg] invalid value "many" in "keepalive" directive at "keepalive many;"'),
    (TEST_FAILED_EARLY, '[emerg] invalid value "many" at "keepalive many;"'),
    ('nginx: [emerg] unexpected end of file in %s:99\nnginx: configuration file %s test failed\n' % (FLAT, FLAT),
     '[emerg] unexpected end of file at line 99'),
    ('', '(no output)'),
])
def test_annotated_test_error_names_the_line_and_drops_the_scratch_file(stderr, message):
    assert provider.annotated_test_error(stderr, FLAT, FLAT_TEXT) == message


DEBIAN_FILES = {'/etc/nginx/nginx.conf': 'http { include /etc/nginx/conf.d/*.conf; include /etc/nginx/sites-enabled/*; }',
                '/etc/nginx/sites-enabled/default': 'server { listen 80; }'}


def test_refuse_loaded_scratch_files_names_the_include_that_would_load_one():
    provider.refuse_loaded_scratch_files('/etc/nginx/nginx.conf', DEBIAN_FILES, {
        'the copy': ('/etc/nginx/sites-enabled/.app.previous', ''), 'the state': ('/var/lib/canary/app.previous', '')})
    with pytest.raises(ModuleFailure) as raised:
        provider.refuse_loaded_scratch_files('/etc/nginx/nginx.conf', DEBIAN_FILES, {
            'the copy of the live file': ('/etc/nginx/sites-enabled/app.previous', 'choose another path')})
    assert raised.value.msg == (
        'the copy of the live file /etc/nginx/sites-enabled/app.previous would be loaded by nginx '
        '("include /etc/nginx/sites-enabled/*; in /etc/nginx/nginx.conf"), which would then define everything twice: '
        'choose another path')


def test_unexpected_files_after_the_swap():
    before = ['/etc/nginx/nginx.conf', '/etc/nginx/sites-enabled/app']
    assert provider.unexpected_files(before, before, '/etc/nginx/sites-enabled/app') is None
    assert provider.unexpected_files(before[:1], before, '/etc/nginx/sites-enabled/app') is None
    assert provider.unexpected_files(before, before + ['/etc/nginx/sites-enabled/app.previous'], before[1]) == \
        'it would also load /etc/nginx/sites-enabled/app.previous'
    assert provider.unexpected_files(before, before[:1], before[1]) == 'it would no longer load /etc/nginx/sites-enabled/app'


class FakeHost:
    """An NginxHost whose files are a dict and whose nginx -T lists what ``loaded`` says."""

    def __init__(self, files, loaded):
        self.files, self.loaded, self.config, self.commands = files, loaded, '/etc/nginx/nginx.conf', []

    def dump(self):
        return dict.fromkeys(self.loaded, '')

    def copy(self, source, dest):
        self.files[dest] = self.files[source]

    def rename(self, source, dest):
        self.files[dest] = self.files.pop(source)

    def remove(self, path):
        self.files.pop(path, None)


def test_a_swap_that_changes_the_files_nginx_loads_is_undone():
    params = dict(weight=10, force=False, nginx=dict(include_path='/etc/nginx/sites-enabled/app', previous_path=None))
    before = {'/etc/nginx/nginx.conf': '', '/etc/nginx/sites-enabled/app': 'old'}
    host = FakeHost({'/etc/nginx/sites-enabled/app': 'new', '/etc/nginx/sites-enabled/.app.previous': 'old'},
                    list(before) + ['/etc/nginx/sites-enabled/app~'])
    shift = provider.NginxShift(params, host, check_mode=False)
    with pytest.raises(ModuleFailure) as raised:
        shift.check_loaded_files(before, existed=True)
    assert raised.value.msg == ('after the new file was put in place, nginx -T of /etc/nginx/nginx.conf no longer matched: '
                                'it would also load /etc/nginx/sites-enabled/app~; the previous file was put back and '
                                'nginx was not reloaded')
    assert host.files['/etc/nginx/sites-enabled/app'] == 'old'
    host.loaded = list(before)
    shift.check_loaded_files(before, existed=True)


def test_the_host_records_what_it_runs_in_the_module_run(tmp_path):
    run = Run()
    host = provider.NginxHost(LocalTransport(), 'nginx', str(tmp_path / 'nginx.conf'), run)
    (tmp_path / 'nginx.pid').write_text('%d\n' % os.getpid())
    assert host.read(str(tmp_path / 'absent.conf')) is None
    assert host.master_pid(str(tmp_path / 'nginx.pid')) == os.getpid()
    host.workers(os.getpid())  # polled while waiting for a reload: not one line per poll
    assert run.commands == ['cat %s' % (tmp_path / 'absent.conf'), 'cat %s' % (tmp_path / 'nginx.pid'),
                            'cat /proc/%d/task/%d/children' % (os.getpid(), os.getpid())]
