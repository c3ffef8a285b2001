# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading nginx -T output, inlining includes, finding the pid file."""

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _nginx_config as conf

# `nginx -T -c /etc/nginx/nginx.conf` standard output, nginx 1.22.1 (Debian 12), recorded verbatim from a
# configuration in a scratch folder then moved to /etc/nginx. A file that does not end with a newline
# (a.conf) gets one, and no blank line, before the next header.
DUMP_1_22 = (
    '# configuration file /etc/nginx/nginx.conf:\n# main file\npid /run/test-nginx.pid;\n'
    'events { worker_connections 64; }\nhttp {\n    include mime.types;\n    include conf.d/*.conf;\n'
    '    log_format main \'$remote_addr "$request" # not a comment; include x;\';\n    server {\n'
    '        listen 127.0.0.1:18099;\n        location / { proxy_pass http://app; }\n    }\n}\n\n'
    '# configuration file /etc/nginx/mime.types:\ntypes { text/plain txt; }\n\n'
    '# configuration file /etc/nginx/conf.d/00-map.conf:\nmap $uri $x { default 1; }\n\n'
    '# configuration file /etc/nginx/conf.d/a.conf:\nupstream a { server 127.0.0.1:1; }\n'
    '# configuration file /etc/nginx/conf.d/app.conf:\nupstream app { server 127.0.0.1:8001; }\n'
)
# `nginx -V` standard error of Debian 12's nginx 1.22.1 (configure arguments shortened).
VERSION_1_22 = ('nginx version: nginx/1.22.1\nbuilt with OpenSSL 3.0.9 30 May 2023\nTLS SNI support enabled\n'
                'configure arguments: --with-cc-opt=\'-g -O2\' --prefix=/usr/share/nginx '
                '--conf-path=/etc/nginx/nginx.conf --pid-path=/run/nginx.pid --modules-path=/usr/lib/nginx/modules\n')


def test_parse_dump_gives_every_file_in_reading_order():
    files = conf.parse_dump(DUMP_1_22)
    assert list(files) == ['/etc/nginx/nginx.conf', '/etc/nginx/mime.types', '/etc/nginx/conf.d/00-map.conf',
                           '/etc/nginx/conf.d/a.conf', '/etc/nginx/conf.d/app.conf']
    assert files['/etc/nginx/mime.types'] == 'types { text/plain txt; }\n\n'
    assert files['/etc/nginx/conf.d/app.conf'] == 'upstream app { server 127.0.0.1:8001; }\n'


def test_statements_skip_comments_and_quoted_text():
    found = [(s.name, s.args, s.depth) for s in conf.statements(conf.parse_dump(DUMP_1_22)['/etc/nginx/nginx.conf'])]
    assert ('include', ['conf.d/*.conf'], 1) in found
    assert ('log_format', ['main', '$remote_addr "$request" # not a comment; include x;'], 1) in found
    assert ('include', ['x'], 1) not in found
    assert ('pid', ['/run/test-nginx.pid'], 0) in found
    assert ('location', ['/'], 2) in found


def test_flatten_inlines_includes_in_glob_order_and_swaps_the_candidate():
    files = conf.parse_dump(DUMP_1_22)
    flat, loads = conf.flatten('/etc/nginx/nginx.conf', files, '/etc/nginx/conf.d/app.conf', 'upstream app { server c:1; }\n')
    assert loads == 1
    assert 'include' not in flat.replace('include x;', '')
    assert flat.index('types { text/plain') < flat.index('map $uri') < flat.index('upstream a ') < flat.index('upstream app {')
    assert 'server c:1;' in flat and '127.0.0.1:8001' not in flat


def test_flatten_adds_a_new_file_a_glob_would_load_and_counts_none_for_an_unloaded_one():
    files = conf.parse_dump(DUMP_1_22)
    flat, loads = conf.flatten('/etc/nginx/nginx.conf', files, '/etc/nginx/conf.d/b.conf', 'upstream b { server c:1; }\n')
    assert loads == 1 and flat.index('upstream a ') < flat.index('upstream app ') < flat.index('upstream b ')
    _flat, loads = conf.flatten('/etc/nginx/nginx.conf', files, '/etc/nginx/sites/app.conf', 'x;')
    assert loads == 0
    _flat, loads = conf.flatten('/etc/nginx/nginx.conf', files, '/etc/nginx/conf.d/.app.conf.canary-1.tmp', 'x;')
    assert loads == 0  # glob(3): * does not match a leading dot, so staged files are never loaded


def test_loaded_by_names_the_include_that_loads_a_path():
    files = conf.parse_dump(DUMP_1_22)
    files['/etc/nginx/nginx.conf'] += 'include sites-enabled/*;\n'
    assert conf.loaded_by('/etc/nginx/nginx.conf', files, '/etc/nginx/sites-enabled/app.previous') == \
        'include sites-enabled/*; in /etc/nginx/nginx.conf'
    assert conf.loaded_by('/etc/nginx/nginx.conf', files, '/etc/nginx/conf.d/app.conf.previous') is None
    assert conf.loaded_by('/etc/nginx/nginx.conf', files, '/etc/nginx/sites-enabled/.app.previous') is None
    assert conf.loaded_by('/etc/nginx/nginx.conf', files, '/var/lib/canary/app.previous') is None


def test_flatten_refuses_include_loops():
    files = {'/etc/nginx/nginx.conf': 'include loop.conf;', '/etc/nginx/loop.conf': 'include loop.conf;'}
    with pytest.raises(conf.NginxConfigError, match='nested deeper'):
        conf.flatten('/etc/nginx/nginx.conf', files, '/etc/nginx/x.conf', '')


def test_pid_path_from_the_directive_or_the_compiled_default():
    assert conf.pid_path('pid /run/test-nginx.pid; events {}', VERSION_1_22) == '/run/test-nginx.pid'
    assert conf.pid_path('pid run/n.pid;', VERSION_1_22) == '/usr/share/nginx/run/n.pid'  # relative to the prefix
    assert conf.pid_path('events {} http { server { } }', VERSION_1_22) == '/run/nginx.pid'
    assert conf.pid_path('http { pid /x; }', '') == '/logs/nginx.pid'


def test_parse_pids():
    assert conf.parse_pids('1234 1240 \n') == {1234, 1240}
    assert conf.parse_pids('') == set()
