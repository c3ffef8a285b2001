"""canary_shift with provider nginx against a real nginx (Debian's, and the nginx image) on 127.0.0.1.

The split is measured, never taken from the module's answer: the backends are HTTP servers that
answer with their own name, and every test counts who answered requests sent through nginx.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from .helpers.ansible import assert_ok, run_module_tasks
from .helpers.backends import NamedBackend, SteadyLoad, count_answers
from .helpers.postgres import free_port

MODULE = 'artisan.upgrade.canary_shift'
REQUESTS = 1000
# One nginx worker serves the requests one after the other, and smooth weighted round-robin is
# deterministic: the split over 1000 requests is exact to within one round of the weights.
WEIGHTS_TOLERANCE = 0.01
# split_clients hashes each key (MurmurHash2): over 1000 distinct keys the canary's share is binomial,
# standard deviation sqrt(0.3 * 0.7 / 1000) = 1.45 points; 4 deviations.
STICKY_TOLERANCE = 0.058
UNMANAGED = 'upstream app {{ server {stable}; }}\n'
STICKY_UNMANAGED = ('upstream app_stable {{ server {stable}; }}\nupstream app_canary {{ server {canary}; }}\n'
                    'map $uri $app_upstream {{ default app_stable; }}\n')


@pytest.fixture()
def backends():
    started = {}

    def start(name):
        started[name] = NamedBackend(name)
        return started[name]

    yield start
    for backend in started.values():
        backend.stop()


def start_site(tmp_path, backends, nginx_factory, proxy_to, unmanaged):
    """nginx proxying to ``proxy_to`` from an include file that starts hand-written (``unmanaged``)."""
    stable, canary = backends('stable'), backends('canary')
    include_dir = tmp_path / 'upstreams'
    include_dir.mkdir()
    include = include_dir / 'app.conf'
    include.write_text(unmanaged.format(stable=stable.address, canary=canary.address))
    server = nginx_factory('location / { proxy_pass %s; }' % proxy_to, 'include %s/*.conf;' % include_dir)
    return dict(server=server, include=include, stable=stable, canary=canary,
                options=dict(include_path=str(include), upstream='app', stable=[stable.address], canary=[canary.address],
                             config=server.config))


@pytest.fixture()
def site(tmp_path, backends, nginx_factory):
    """nginx proxying to upstream ``app``, whose hand-written file sends everything to stable."""
    return start_site(tmp_path, backends, nginx_factory, 'http://app', UNMANAGED)


@pytest.fixture()
def sticky_site(tmp_path, backends, nginx_factory):
    """nginx proxying to ``$app_upstream`` (sticky mode's variable), hand-written to send everything to stable."""
    return start_site(tmp_path, backends, nginx_factory, 'http://$app_upstream', STICKY_UNMANAGED)


def shift(weight, options, **extra):
    return dict(provider='nginx', weight=weight, nginx=dict(options), **extra)


def run_tasks(run_playbook, tasks):
    return run_module_tasks(run_playbook, MODULE, tasks)


def canary_share(answers):
    assert set(answers) <= {'stable', 'canary'}, answers
    return answers['canary'] / sum(answers.values())


def workers(server):
    with open(os.path.join(server.root, 'nginx.pid'), encoding='utf-8') as handle:
        master = int(handle.read())
    with open('/proc/%d/task/%d/children' % (master, master), encoding='utf-8') as handle:
        return set(handle.read().split())


def test_weights_check_real_check_real_and_measured_split(site, run_playbook):
    server, include = site['server'], site['include']
    unmanaged = include.read_text()
    args = shift(30, site['options'])
    check = (args, {'check_mode': True})

    [planned] = run_tasks(run_playbook, [check])
    assert_ok(planned)
    assert planned['changed'] is True and planned['before_weight'] is None
    assert planned['diff']['before'] == unmanaged and 'weight=3;' in planned['diff']['after']
    assert include.read_text() == unmanaged and os.listdir(include.parent) == ['app.conf'], 'check mode wrote'
    assert count_answers(server.url, 100) == {'stable': 100}

    real, check_again, real_again = run_tasks(run_playbook, [args, check, args])
    assert_ok(real)
    assert real['changed'] is True and real['reloaded'] is True and real['new_workers']
    assert real['achieved_weight'] == 30 and real['after']['weight'] == 30
    text = include.read_text()
    assert 'server %s weight=7;' % site['stable'].address in text
    assert 'server %s weight=3;' % site['canary'].address in text
    assert real['previous_path'] == str(include.parent / '.app.conf.previous')
    assert (include.parent / '.app.conf.previous').read_text() == unmanaged
    assert sorted(os.listdir(include.parent)) == ['.app.conf.previous', 'app.conf']
    assert any(c.startswith('nginx -t -q -c ') for c in real['commands'])

    live_workers = workers(server)
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False, again['changes']
        assert again['before_weight'] == 30 and again['reloaded'] is False
    assert workers(server) == live_workers, 'an unchanged split reloaded nginx'
    assert include.read_text() == text

    answers = count_answers(server.url, REQUESTS)
    assert abs(canary_share(answers) - 0.30) <= WEIGHTS_TOLERANCE, answers


def test_weights_all_or_nothing_and_draining(site, backends, run_playbook):
    server, first = site['server'], site['stable'].address
    second = backends('stable-2')
    options = dict(site['options'], stable=[first, second.address])

    [everything] = run_tasks(run_playbook, [shift(100, options)])
    assert_ok(everything)
    assert count_answers(server.url, 200) == {'canary': 200}

    [drained] = run_tasks(run_playbook, [shift(0, dict(options, drain=[first]))])
    assert_ok(drained)
    assert drained['changes'] == ['canary weight 100 % -> 0 %', "drain [] -> ['%s']" % first]
    assert 'server %s down;' % first in site['include'].read_text()
    assert count_answers(server.url, 200) == {'stable-2': 200}


def test_sticky_cookie_split_keeps_each_client_on_one_side(sticky_site, run_playbook):
    server, include = sticky_site['server'], sticky_site['include']
    args = shift(30, dict(sticky_site['options'], mode='sticky', sticky_by='cookie', sticky_name='user'))
    real, real_again = run_tasks(run_playbook, [args, args])
    assert_ok(real)
    assert real['changed'] is True and real['reloaded'] is True
    assert 'split_clients "${cookie_user}" $app_upstream' in include.read_text()
    assert_ok(real_again)
    assert real_again['changed'] is False

    answers = count_answers(server.url, REQUESTS, cookies=lambda i: {'user': 'user-%d' % i})
    assert abs(canary_share(answers) - 0.30) <= STICKY_TOLERANCE, answers
    for client in range(50):
        seen = count_answers(server.url, 10, cookies=lambda _i, c=client: {'user': 'user-%d' % c})
        assert len(seen) == 1, (client, seen)


def test_a_config_nginx_rejects_never_reaches_the_live_file(site, run_playbook):
    server, include = site['server'], site['include']
    [first] = run_tasks(run_playbook, [shift(20, site['options'])])
    assert_ok(first)
    live, previous = include.read_text(), open(first['previous_path'], encoding='utf-8').read()
    live_workers = workers(server)

    broken, bad_address, out_of_range = run_tasks(run_playbook, [
        shift(50, dict(site['options'], upstream_directives=['keepalive many'])),
        shift(50, dict(site['options'], canary=['127.0.0.1:99999'])),
        shift(101, site['options']),
    ])
    assert broken['failed'] and broken['changed'] is False
    assert broken['msg'] == ('nginx rejects the new split, the live file was left as it was: nginx -t of %s with the '
                             'candidate in place says: [emerg] invalid value "many" in "keepalive" directive at '
                             '"keepalive many;"' % server.config)
    assert bad_address['failed']
    assert 'backend "127.0.0.1:99999": give host:port with a port from 1 to 65535' in bad_address['msg']
    assert bad_address['commands'] == []
    assert out_of_range['failed'] and 'from 0 to 100, got 101' in out_of_range['msg']

    assert include.read_text() == live and open(first['previous_path'], encoding='utf-8').read() == previous
    assert sorted(os.listdir(include.parent)) == ['.app.conf.previous', 'app.conf']
    assert not [n for n in os.listdir(server.root) if n.startswith('.')], 'a check file was left behind'
    assert workers(server) == live_workers
    answers = count_answers(server.url, REQUESTS)
    assert abs(canary_share(answers) - 0.20) <= WEIGHTS_TOLERANCE, answers


def test_reloads_under_a_steady_request_stream_lose_no_request(site, run_playbook):
    steps = [10, 50, 90, 0, 30]
    with SteadyLoad(site['server'].url, max_requests=20000, max_seconds=90) as load:
        results = run_tasks(run_playbook, [shift(weight, site['options']) for weight in steps])
    for result in results:
        assert_ok(result)
        assert result['reloaded'] is True
    assert load.failures == [], load.failures[:5]
    assert load.total >= 200 and set(load.answers) == {'stable', 'canary'}, load.answers


def test_refuses_a_side_with_no_backend_listening_unless_forced(site, run_playbook):
    include = site['include']
    dead = '127.0.0.1:%d' % free_port()
    options = dict(site['options'], canary=[dead])
    before = include.read_text()
    refused, forced = run_tasks(run_playbook, [shift(10, options), shift(10, options, force=True)])
    assert refused['failed'] and refused['changed'] is False
    assert 'no canary backend accepts connections (%s:' % dead in refused['msg']
    assert 'force=true overrides' in refused['msg']
    assert not any(c.startswith('nginx') for c in refused['commands'])
    assert_ok(forced)
    assert forced['changed'] is True and 'server %s;' % dead in include.read_text()
    assert before != include.read_text()


def test_a_reload_that_does_not_take_puts_the_previous_file_back(site, run_playbook):
    server, include = site['server'], site['include']
    [first] = run_tasks(run_playbook, [shift(20, site['options'])])
    assert_ok(first)
    live = include.read_text()
    # A stopped master keeps its HUP pending: no new workers appear, as when a reload hangs.
    server.process.send_signal(signal.SIGSTOP)
    try:
        [stuck] = run_tasks(run_playbook, [shift(60, dict(site['options'], reload_timeout=1))])
    finally:
        server.process.send_signal(signal.SIGCONT)
    assert stuck['failed'] and stuck['changed'] is False
    assert 'did not start workers with the new configuration within 1.0s' in stuck['msg']
    assert 'the previous file was put back and nginx asked to load it' in stuck['msg']
    assert include.read_text() == live
    time.sleep(1)  # the master handles the pending reload, with the file put back
    answers = count_answers(server.url, REQUESTS)
    assert abs(canary_share(answers) - 0.20) <= WEIGHTS_TOLERANCE, answers


def test_nginx_not_running_fails_unless_the_file_is_wanted_for_its_next_start(site, run_playbook):
    server, include = site['server'], site['include']
    unmanaged = include.read_text()
    server.process.send_signal(signal.SIGQUIT)
    server.process.wait(10)
    args = shift(40, site['options'])
    refused, refused_check = run_tasks(run_playbook, [args, (args, {'check_mode': True})])
    for result in (refused, refused_check):
        assert result['failed'] and result['changed'] is False and result['reloaded'] is False
        assert result['msg'] == ('nginx is not running (no live master per the pid file of %s): nothing was shifted and '
                                 '%s was left as it was; start nginx, or set nginx.require_running=false to write the '
                                 'file for its next start' % (server.config, include))
    assert include.read_text() == unmanaged and os.listdir(include.parent) == ['app.conf']

    later = shift(40, dict(site['options'], require_running=False))
    written, again = run_tasks(run_playbook, [later, later])
    assert_ok(written)
    assert written['changed'] is True and written['reloaded'] is False
    assert written['msg'] == 'written for the next start of nginx, which is not running: canary weight set to 40 % (no earlier split recorded)'
    assert any('nginx is not running' in w for w in written['warnings'])
    assert 'weight=2;' in include.read_text()
    assert_ok(again)
    assert again['changed'] is False


def test_taking_over_a_hand_written_upstream_keeps_its_other_directives(tmp_path, backends, nginx_factory, run_playbook):
    site = start_site(tmp_path, backends, nginx_factory, 'http://app', 'upstream app {{ server {stable}; keepalive 8; }}\n')
    [result] = run_tasks(run_playbook, [shift(50, site['options'])])
    assert_ok(result)
    assert 'upstream app {\n    server %s;\n    server %s;\n    keepalive 8;\n}' % (
        site['stable'].address, site['canary'].address) in site['include'].read_text()
    assert any(w.startswith('taking over %s' % site['include']) and w.endswith('kept in every upstream: keepalive 8 (see the diff)')
               for w in result['warnings'])


def test_include_not_loaded_by_the_configuration_is_refused(site, tmp_path, run_playbook):
    elsewhere = tmp_path / 'elsewhere.conf'
    [result] = run_tasks(run_playbook, [shift(10, dict(site['options'], include_path=str(elsewhere)))])
    assert result['failed']
    assert 'does not include %s' % elsewhere in result['msg']
    assert not elsewhere.exists()


def debian_site(tmp_path, backends, nginx_factory, proxy_to, name, text):
    """nginx laid out as Debian does: its http block includes conf.d/*.conf and every file of sites-enabled/."""
    stable, canary = backends('stable'), backends('canary')
    (tmp_path / 'conf.d').mkdir()
    (tmp_path / 'conf.d' / 'gzip.conf').write_text('gzip off;\n')
    enabled = tmp_path / 'sites-enabled'
    enabled.mkdir()
    include = enabled / name
    include.write_text(text.format(stable=stable.address, canary=canary.address))
    server = nginx_factory('location / { proxy_pass %s; }' % proxy_to,
                           'include %s/conf.d/*.conf; include %s/*;' % (tmp_path, enabled))
    return dict(server=server, include=include, stable=stable, canary=canary,
                options=dict(include_path=str(include), upstream='app', stable=[stable.address], canary=[canary.address],
                             config=server.config))


def test_debian_sites_enabled_layout_loads_no_copy_of_the_split(tmp_path, backends, nginx_factory, run_playbook):
    site = debian_site(tmp_path, backends, nginx_factory, 'http://app', 'app', UNMANAGED)
    server, include = site['server'], site['include']
    files = server.loaded_files()
    assert files == [server.config, str(tmp_path / 'conf.d' / 'gzip.conf'), str(include)]

    first, second, again = run_tasks(run_playbook, [shift(30, site['options']), shift(60, site['options']),
                                                    shift(60, site['options'])])
    for result in (first, second):
        assert_ok(result)
        assert result['changed'] is True and result['reloaded'] is True
    assert_ok(again)
    assert again['changed'] is False
    checked = server.test_config()
    assert checked.returncode == 0, checked.stderr
    assert server.loaded_files() == files, 'a copy of the split would be loaded by a reload or restart'
    assert sorted(os.listdir(include.parent)) == ['.app.previous', 'app']
    assert 'weight=3;' in (include.parent / '.app.previous').read_text()
    answers = count_answers(server.url, REQUESTS)
    assert abs(canary_share(answers) - 0.60) <= WEIGHTS_TOLERANCE, answers

    live = include.read_text()
    loaded_copy = include.parent / 'app.bak'
    [refused] = run_tasks(run_playbook, [shift(90, dict(site['options'], previous_path=str(loaded_copy)))])
    assert refused['failed'] and refused['changed'] is False
    assert refused['msg'].startswith('the copy of the live file %s would be loaded by nginx ("include %s/*; in %s")'
                                     % (loaded_copy, include.parent, server.config))
    assert include.read_text() == live and not loaded_copy.exists()
    assert server.loaded_files() == files


# The runbook's canary split as an operator put it in sites-enabled (its server block moved elsewhere), with
# the connection reuse the runbook's upstreams lacked.
RUNBOOK_SPLIT = """upstream covet_v1 {{
    server {stable};
    keepalive 32;
}}

upstream covet_v2 {{
    server {canary};
    keepalive 32;
}}

split_clients $remote_addr $backend {{
    10% covet_v2;  # 10% to new version
    * covet_v1;    # 90% to old version
}}
"""


def test_taking_over_the_runbooks_hand_written_split(tmp_path, backends, nginx_factory, run_playbook):
    site = debian_site(tmp_path, backends, nginx_factory, 'http://$backend', 'covet-split', RUNBOOK_SPLIT)
    server, include = site['server'], site['include']
    hand_written = include.read_text()
    options = dict(site['options'], upstream='covet', mode='sticky', sticky_by='client_address', split_variable='backend')

    [planned] = run_tasks(run_playbook, [(shift(100, options), {'check_mode': True})])
    assert_ok(planned)
    assert planned['diff']['before'] == hand_written
    assert include.read_text() == hand_written, 'check mode wrote'
    everything, again = run_tasks(run_playbook, [shift(100, options), shift(100, options)])
    for result in (planned, everything):
        [warning] = [w for w in result['warnings'] if 'taking over' in w]
        assert warning == ('taking over %s, which canary_shift did not write: replaced upstream covet_v1 (server %s), '
                           'upstream covet_v2 (server %s), split_clients setting $backend; kept in every upstream: '
                           'keepalive 32 (see the diff)' % (include, site['stable'].address, site['canary'].address))
    assert_ok(everything)
    assert everything['changed'] is True and everything['reloaded'] is True
    text = include.read_text()
    assert 'split_clients "${remote_addr}" $backend {\n    * covet_canary;\n}' in text
    assert text.count('    keepalive 32;\n') == 2
    assert count_answers(server.url, 200) == {'canary': 200}
    assert_ok(again)
    assert again['changed'] is False and not again.get('warnings')
    [back] = run_tasks(run_playbook, [shift(0, options)])
    assert_ok(back)
    assert back['changed'] is True and not back.get('warnings')
    assert include.read_text().count('    keepalive 32;\n') == 2, 'the kept directives were dropped by a later shift'
    assert count_answers(server.url, 200) == {'stable': 200}
    assert server.loaded_files() == [server.config, str(tmp_path / 'conf.d' / 'gzip.conf'), str(include)]


def wait_until_answering(url, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_nginx_in_a_container_reloaded_with_docker_kill(docker_session, backends, tmp_path, run_playbook):
    stable, canary = backends('stable'), backends('canary')
    port = free_port()
    conf_d = tmp_path / 'conf.d'
    conf_d.mkdir()
    (conf_d / 'default.conf').write_text('server { listen 127.0.0.1:%d; location / { proxy_pass http://app; } }\n' % port)
    (conf_d / 'app-upstream.conf').write_text(UNMANAGED.format(stable=stable.address))
    # Host networking so that nginx reaches the backends on the host's 127.0.0.1 and listens on it only.
    container = docker_session.run('artisan-upgrade/nginx:bookworm', network_mode='host',
                                   volumes={str(conf_d): {'bind': '/etc/nginx/conf.d', 'mode': 'rw'}})
    url = 'http://127.0.0.1:%d' % port
    wait_until_answering(url)
    options = dict(include_path='/etc/nginx/conf.d/app-upstream.conf', upstream='app', stable=[stable.address],
                   canary=[canary.address], reload='docker_kill')
    args = shift(40, options, exec_via=dict(type='docker', container=container.name))

    check = (args, {'check_mode': True})
    planned, real, check_again, real_again = run_tasks(run_playbook, [check, args, check, args])
    assert_ok(planned)
    assert planned['changed'] is True
    assert_ok(real)
    assert real['changed'] is True and real['reloaded'] is True
    assert any(c.endswith('docker kill --signal HUP %s' % container.name) for c in real['commands'])
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False
    assert 'weight=2;' in (conf_d / 'app-upstream.conf').read_text()  # 40 % over 1+1 servers: 3 and 2
    answers = count_answers(url, REQUESTS)
    assert abs(canary_share(answers) - 0.40) <= WEIGHTS_TOLERANCE, answers


# A backend inside a container: answers every GET with its name (argv 1) on 127.0.0.1:<argv 2>.
CONTAINER_BACKEND = """
import http.server, sys
class Named(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = sys.argv[1].encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[2])), Named).serve_forever()
"""


def test_debian_nginx_under_systemd_reloaded_with_systemctl(docker_session, run_playbook):
    port = free_port()
    host = docker_session.run_systemd(ports={'80/tcp': ('127.0.0.1', port)})

    def sh(script):
        result = host.exec_run(['sh', '-c', script])
        assert result.exit_code == 0, result.output.decode()

    for name, backend_port in (('stable', 8001), ('canary', 8002)):
        host.exec_run(['python3', '-c', CONTAINER_BACKEND, name, str(backend_port)], detach=True)
    sh("echo 'upstream app { server 127.0.0.1:8001; }' > /etc/nginx/conf.d/app-upstream.conf")
    sh("echo 'server { listen 80 default_server; location / { proxy_pass http://app; } }' > /etc/nginx/sites-enabled/default")
    sh('systemctl restart nginx')
    url = 'http://127.0.0.1:%d' % port
    wait_until_answering(url)
    # The backends listen on the container's loopback, which the module's host cannot probe.
    args = shift(25, dict(include_path='/etc/nginx/conf.d/app-upstream.conf', upstream='app', stable=['127.0.0.1:8001'],
                          canary=['127.0.0.1:8002'], reload='systemd', probe_backends=False),
                 exec_via=dict(type='docker', container=host.name))
    check = (args, {'check_mode': True})
    planned, real, check_again, real_again = run_tasks(run_playbook, [check, args, check, args])
    assert_ok(planned)
    assert planned['changed'] is True
    assert_ok(real)
    assert real['changed'] is True and real['reloaded'] is True
    assert any(c.endswith('systemctl reload nginx') for c in real['commands'])
    for again in (check_again, real_again):
        assert_ok(again)
        assert again['changed'] is False
    answers = count_answers(url, REQUESTS)
    assert abs(canary_share(answers) - 0.25) <= WEIGHTS_TOLERANCE, answers
    assert host.exec_run(['systemctl', 'is-active', 'nginx']).output.decode().strip() == 'active'
