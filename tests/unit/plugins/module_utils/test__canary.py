# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""canary_shift's pure decisions: weight maths, option checks, the rendered nginx include file."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _canary as decide

S1, S2, C1 = '10.0.0.1:8000', '10.0.0.2:8000', '10.0.0.9:8000'


@pytest.mark.parametrize('weight', range(0, 101))
@pytest.mark.parametrize('stable_count,canary_count', [(1, 1), (2, 1), (3, 2), (1, 4)])
def test_split_weights_give_the_canary_exactly_its_share(weight, stable_count, canary_count):
    stable_each, canary_each = decide.split_weights(weight, stable_count, canary_count)
    stable_total = (stable_each or 0) * stable_count
    canary_total = (canary_each or 0) * canary_count
    assert Fraction(canary_total, stable_total + canary_total) == Fraction(weight, 100)
    assert all(w is None or w >= 1 for w in (stable_each, canary_each))


def test_split_weights_are_the_smallest_integers():
    assert decide.split_weights(10, 1, 1) == (9, 1)
    assert decide.split_weights(50, 2, 1) == (1, 2)
    assert decide.split_weights(0, 2, 1) == (1, None)
    assert decide.split_weights(100, 2, 1) == (None, 1)


@pytest.mark.parametrize('address', ['127.0.0.1:80', 'app-v2.internal:8000', '[::1]:8080', 'unix:/run/app.sock'])
def test_backends_accepted(address):
    decide.check_backend(address)


@pytest.mark.parametrize('address,message', [
    ('127.0.0.1', 'give host:port'),
    ('127.0.0.1:0', 'port from 1 to 65535'),
    ('127.0.0.1:99999', 'port from 1 to 65535'),
    ('[::g]:80', 'not an IPv6 address'),
    ('bad host:80', 'neither an IP address nor a host name'),
    ('unix:run/app.sock', 'absolute path'),
    ('a;b:80', 'neither an IP address'),
])
def test_backends_refused_with_a_clear_message(address, message):
    with pytest.raises(decide.CanarySpecError, match=message):
        decide.check_backend(address)


@pytest.mark.parametrize('kwargs,message', [
    (dict(weight=-1), 'from 0 to 100, got -1'),
    (dict(weight=101), 'from 0 to 100, got 101'),
    (dict(upstream='1app'), 'upstream "1app"'),
    (dict(canary=[]), 'at least one stable and one canary'),
    (dict(canary=[S1]), 'listed as both stable and canary'),
    (dict(drain=['10.0.0.5:1']), 'neither stable nor canary'),
    (dict(drain=[C1]), 'every canary backend is drained, so 30 %'),
    (dict(mode='sticky', sticky_by='cookie'), 'needs sticky_name'),
    (dict(mode='sticky', sticky_by='cookie', sticky_name='a-b'), 'cookie name "a-b"'),
    (dict(mode='sticky', sticky_by='header', sticky_name='X Y'), 'header name "X Y"'),
    (dict(directives=['keepalive 2; server x']), 'one simple directive'),
    (dict(directives=['include /etc/passwd { }']), 'one simple directive'),
    (dict(variable='backend'), 'split_variable names the variable split_clients sets, so it needs mode=sticky'),
    (dict(mode='sticky', variable='back-end'), 'split_variable "back-end": letters, digits and _ only'),
])
def test_nginx_split_refuses_bad_options_up_front(kwargs, message):
    args = dict(weight=30, upstream='app', stable=[S1, S2], canary=[C1])
    args.update(kwargs)
    with pytest.raises(decide.CanarySpecError, match=message):
        decide.nginx_split(**args)


def test_render_weights_with_a_drained_server():
    split = decide.nginx_split(25, 'shop', [S1, S2], [C1], drain=[S2], directives=['keepalive 16;'])
    text = decide.render_nginx(split)
    assert text.splitlines()[2:] == [
        'upstream shop {',
        '    server %s weight=3;' % S1,
        '    server %s down;' % S2,
        '    server %s;' % C1,
        '    keepalive 16;',
        '}',
    ]
    assert decide.recorded_state(text) == split.state()


def test_render_zero_marks_the_canary_down():
    text = decide.render_nginx(decide.nginx_split(0, 'shop', [S1], [C1]))
    assert '    server %s;\n    server %s down;\n' % (S1, C1) in text


@pytest.mark.parametrize('weight,lines', [
    (30, ['    30% shop_canary;', '    * shop_stable;']),
    (0, ['    * shop_stable;']),
    (100, ['    * shop_canary;']),
])
def test_render_sticky(weight, lines):
    text = decide.render_nginx(decide.nginx_split(weight, 'shop', [S1], [C1], mode='sticky', sticky_by='header',
                                                  sticky_name='X-User-Id'))
    body = text.splitlines()
    start = body.index('split_clients "${http_x_user_id}" $shop_upstream {')
    assert body[start + 1:-1] == lines and body[-1] == '}'
    assert 'upstream shop_stable {\n    server %s;\n}' % S1 in text
    assert 'upstream shop_canary {\n    server %s;\n}' % C1 in text


def test_render_sticky_with_the_variable_a_hand_written_split_used():
    split = decide.nginx_split(10, 'covet', [S1], [C1], mode='sticky', variable='$backend', directives=['keepalive 32'])
    text = decide.render_nginx(split)
    assert 'split_clients "${remote_addr}" $backend {\n    10% covet_canary;\n    * covet_stable;\n}\n' in text
    assert 'upstream covet_stable {\n    server %s;\n    keepalive 32;\n}' % S1 in text
    assert decide.recorded_state(text) == dict(split.state(), split_variable='backend', directives=['keepalive 32'])
    default = decide.nginx_split(10, 'covet', [S1], [C1], mode='sticky', variable='covet_upstream')
    assert default.variable == '' and 'split_variable' not in default.state()


# The runbook's canary section, as an operator would put it in sites-enabled, keepalive added.
RUNBOOK_SPLIT = """# Nginx traffic split
upstream covet_v1 {
    server v1.internal:8000;
    keepalive 32;
}

upstream covet_v2 {
    server v2.internal:8000 max_fails=3;
    keepalive 32;
}

split_clients $remote_addr $backend {
    10% covet_v2;  # 10% to new version
    * covet_v1;    # 90% to old version
}
"""


def test_read_include_of_a_hand_written_split():
    live = decide.read_include(RUNBOOK_SPLIT)
    assert live.upstreams == {'covet_v1': ['server v1.internal:8000'], 'covet_v2': ['server v2.internal:8000 max_fails=3']}
    assert live.directives == {'covet_v1': ['keepalive 32'], 'covet_v2': ['keepalive 32']}
    assert live.variables == ['backend'] and live.others == []
    assert decide.kept_directives(live) == ['keepalive 32']
    decide.check_rewritable(live, '/etc/nginx/sites-enabled/covet', decide.nginx_split(10, 'covet', [S1], [C1]))
    assert decide.takeover_warning(live, '/etc/nginx/sites-enabled/covet', ['keepalive 32']) == (
        'taking over /etc/nginx/sites-enabled/covet, which canary_shift did not write: replaced upstream covet_v1 '
        '(server v1.internal:8000), upstream covet_v2 (server v2.internal:8000 max_fails=3), split_clients setting '
        '$backend; kept in every upstream: keepalive 32 (see the diff)')
    assert decide.read_include(None) == decide.LiveInclude()


def test_read_include_of_a_file_this_module_wrote_keeps_its_directives():
    split = decide.nginx_split(30, 'shop', [S1], [C1], mode='sticky', directives=['keepalive 16', 'zone shop 64k'])
    assert decide.kept_directives(decide.read_include(decide.render_nginx(split))) == ['keepalive 16', 'zone shop 64k']


def test_a_file_holding_more_than_the_split_is_refused():
    live = decide.read_include(RUNBOOK_SPLIT + 'server {\n    location / { proxy_pass http://$backend; }\n}\n'
                               'map $uri $x { default 1; }\n')
    assert live.others == ['server'] and live.maps == ['x']
    with pytest.raises(decide.CanarySpecError) as raised:
        decide.check_rewritable(live, '/etc/nginx/sites-enabled/covet', decide.nginx_split(10, 'covet', [S1], [C1]))
    assert str(raised.value) == (
        '/etc/nginx/sites-enabled/covet holds more than upstreams and split_clients (server; map setting $x); this '
        'module rewrites the file as a whole and would delete them: move them to another file first')


def test_a_map_setting_the_split_variable_is_replaced_by_the_split():
    live = decide.read_include('upstream app_stable { server a:1; }\nmap $uri $app_upstream { default app_stable; }\n')
    decide.check_rewritable(live, '/x', decide.nginx_split(10, 'app', [S1], [C1], mode='sticky'))
    with pytest.raises(decide.CanarySpecError, match=r'\(map setting \$app_upstream\)'):
        decide.check_rewritable(live, '/x', decide.nginx_split(10, 'app', [S1], [C1]))
    assert 'replaced upstream app_stable (server a:1), map setting $app_upstream;' in decide.takeover_warning(live, '/x', [])


def test_upstreams_that_disagree_on_a_directive_are_refused():
    live = decide.read_include(RUNBOOK_SPLIT.replace('keepalive 32;\n}\n\nsplit', 'keepalive 16;\n}\n\nsplit'))
    message = r'set keepalive differently \(keepalive 32; keepalive 16\); .* give it as nginx.upstream_directives'
    with pytest.raises(decide.CanarySpecError, match=message):
        decide.kept_directives(live)


def test_sticky_keys():
    assert decide.sticky_key('client_address', None) == '${remote_addr}'
    assert decide.sticky_key('cookie', 'session_id') == '${cookie_session_id}'


def test_recorded_state_of_foreign_or_broken_files():
    assert decide.recorded_state(None) is None
    assert decide.recorded_state('upstream app { server a:1; }') is None
    assert decide.recorded_state(decide.STATE_MARKER + '{not json') is None
    assert decide.recorded_state(decide.STATE_MARKER + '[1]') is None


def test_shift_summary():
    before = decide.nginx_split(10, 'shop', [S1, S2], [C1]).state()
    after = decide.nginx_split(30, 'shop', [S1, S2], [C1], drain=[S1]).state()
    assert decide.shift_summary(before, after) == ['canary weight 10 % -> 30 %', "drain [] -> ['%s']" % S1]
    assert decide.shift_summary(None, after) == ['canary weight set to 30 % (no earlier split recorded)']
    assert decide.shift_summary(after, after) == ['include file rewritten (its content differed from the rendered split)']
    kept = decide.nginx_split(30, 'shop', [S1, S2], [C1], drain=[S1], directives=['keepalive 8']).state()
    assert decide.shift_summary(after, kept) == ["directives None -> ['keepalive 8']"]


# --- Kubernetes -----------------------------------------------------------------------------------

@pytest.mark.parametrize('weight,total,stable,canary,achieved', [
    (0, 10, 10, 0, 0.0), (10, 10, 9, 1, 10.0), (30, 10, 7, 3, 30.0), (100, 10, 0, 10, 100.0),
    (50, 3, 1, 2, 66.67),  # 1.5 pods: halves round up, as Argo Rollouts does
    (10, 3, 3, 0, 0.0), (20, 3, 2, 1, 33.33), (1, 1, 1, 0, 0.0), (50, 1, 0, 1, 100.0),
])
def test_replica_split_and_achieved_weight(weight, total, stable, canary, achieved):
    split = decide.replica_split(weight, total)
    assert split == {'stable': stable, 'canary': canary}
    assert decide.replica_weight(split) == achieved


def test_replica_split_guard_rails():
    with pytest.raises(decide.CanarySpecError, match='total replicas must be 1 or more, got 0'):
        decide.replica_split(10, 0)
    with pytest.raises(decide.CanarySpecError, match='from 0 to 100'):
        decide.replica_split(120, 10)


def test_scale_steps_grow_before_shrink_both_ways():
    assert decide.scale_steps({'stable': 10, 'canary': 0}, {'stable': 7, 'canary': 3}) == [('canary', 3, True), ('stable', 7, False)]
    assert decide.scale_steps({'stable': 7, 'canary': 3}, {'stable': 10, 'canary': 0}) == [('stable', 10, True), ('canary', 0, False)]
    assert decide.scale_steps({'stable': 7, 'canary': 3}, {'stable': 7, 'canary': 3}) == []
    assert decide.scale_steps({'stable': 5, 'canary': 0}, {'stable': 7, 'canary': 3}) == [('stable', 7, True), ('canary', 3, True)]


def canary_deployment(available, conditions=()):
    return {'metadata': {'name': 'web-v2', 'generation': 2},
            'status': {'observedGeneration': 2, 'availableReplicas': available, 'conditions': list(conditions)}}


def image_pull_backoff(name='web-v2-a'):
    return {'metadata': {'name': name}, 'status': {'containerStatuses': [{
        'name': 'app', 'ready': False, 'restartCount': 0,
        'state': {'waiting': {'reason': 'ImagePullBackOff', 'message': 'Back-off pulling image "web:9"'}}}]}}


def running(name='web-v2-a', ready=False):
    return {'metadata': {'name': name}, 'status': {
        'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}],
        'containerStatuses': [{'name': 'app', 'ready': ready, 'restartCount': 0, 'state': {'running': {}}}]}}


def test_availability_gives_up_once_a_pod_problem_has_lasted_the_grace():
    watch = decide.AvailabilityWatch('web-v2', 3, grace=30)
    watch.observe_pod_listing([image_pull_backoff(), running('web-v2-b')], now=100.0)
    assert watch.verdict(canary_deployment(0), now=100.0) is False
    assert watch.wake_at() == 130.0
    watch.observe_pod_listing([image_pull_backoff(), running('web-v2-b')], now=129.9)
    assert watch.verdict(canary_deployment(0), now=129.9) is False
    assert watch.verdict(canary_deployment(0), now=130.0) == (
        'pods of web-v2 are failing (failure_grace 30s): pod web-v2-a container app: ImagePullBackOff '
        '(Back-off pulling image "web:9"), for 30s')


def test_availability_forgives_a_problem_that_clears_and_keeps_waiting():
    watch = decide.AvailabilityWatch('web-v2', 3, grace=30)
    watch.observe_pod_listing([image_pull_backoff()], now=0.0)
    watch.observe_pod_listing([running()], now=10.0)  # the image was pulled on retry
    assert watch.verdict(canary_deployment(1), now=45.0) is False
    assert watch.wake_at() is None
    # Seen again later, the problem's grace starts again from then.
    watch.observe_pod_listing([image_pull_backoff()], now=50.0)
    assert watch.verdict(canary_deployment(1), now=79.0) is False and watch.wake_at() == 80.0


def test_availability_done_wins_over_a_failing_pod_and_a_deadline_or_deletion_still_fail():
    watch = decide.AvailabilityWatch('web-v2', 3, grace=0)
    watch.observe_pod_listing([image_pull_backoff('web-v2-old')], now=0.0)
    assert watch.verdict(canary_deployment(3), now=99.0) is True
    deadline = {'type': 'Progressing', 'status': 'False', 'reason': 'ProgressDeadlineExceeded',
                'message': 'ReplicaSet "web-v2-5d9" has timed out progressing.'}
    fresh = decide.AvailabilityWatch('web-v2', 3, grace=30)
    assert fresh.verdict(canary_deployment(1, [deadline]), now=0.0) == 'ReplicaSet "web-v2-5d9" has timed out progressing.'
    assert fresh.verdict(None, now=0.0) == 'the Deployment was deleted'
    # A scale not yet observed is not available, whatever the status says.
    unobserved = dict(canary_deployment(3), metadata={'name': 'web-v2', 'generation': 3})
    assert fresh.verdict(unobserved, now=0.0) is False


def test_failure_grace_guard_rail():
    decide.check_failure_grace(0)
    with pytest.raises(decide.CanarySpecError, match='failure_grace must be 0 or more seconds, got -5'):
        decide.check_failure_grace(-5)


def test_canary_annotations_and_what_changes():
    wanted = decide.canary_annotations(20, header='X-Canary')
    assert wanted == {'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '20',
                      'nginx.ingress.kubernetes.io/canary-by-header': 'X-Canary',
                      'nginx.ingress.kubernetes.io/canary-by-header-value': None,
                      'nginx.ingress.kubernetes.io/canary-by-cookie': None}
    live = {'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '10',
            'nginx.ingress.kubernetes.io/canary-by-cookie': 'beta', 'team': 'shop'}
    assert decide.annotations_to_change(live, wanted) == {
        'nginx.ingress.kubernetes.io/canary-weight': '20', 'nginx.ingress.kubernetes.io/canary-by-header': 'X-Canary',
        'nginx.ingress.kubernetes.io/canary-by-cookie': None}
    assert decide.ingress_weight(live) == 10
    assert decide.ingress_weight({'team': 'shop'}) is None
    with pytest.raises(decide.CanarySpecError, match='header_value needs header'):
        decide.canary_annotations(20, header_value='yes')


def test_canary_ingress_spec_points_every_backend_at_the_canary_service():
    main = {'ingressClassName': 'nginx', 'tls': [{'hosts': ['shop.example'], 'secretName': 'shop-tls'}],
            'defaultBackend': {'service': {'name': 'shop', 'port': {'number': 80}}},
            'rules': [{'host': 'shop.example', 'http': {'paths': [
                {'path': '/', 'pathType': 'Prefix', 'backend': {'service': {'name': 'shop', 'port': {'name': 'http'}}}},
                {'path': '/static', 'pathType': 'Prefix', 'backend': {'resource': {'kind': 'Bucket', 'name': 'assets'}}}]}}]}
    spec = decide.canary_ingress_spec(main, 'shop-v2', None)
    assert spec['tls'] == main['tls'] and spec['ingressClassName'] == 'nginx'
    assert spec['defaultBackend'] == {'service': {'name': 'shop-v2', 'port': {'number': 80}}}
    paths = spec['rules'][0]['http']['paths']
    assert paths[0]['backend'] == {'service': {'name': 'shop-v2', 'port': {'name': 'http'}}}
    assert paths[1]['backend'] == {'resource': {'kind': 'Bucket', 'name': 'assets'}}
    assert main['rules'][0]['http']['paths'][0]['backend']['service']['name'] == 'shop', 'the main spec was modified'
    assert decide.canary_ingress_spec(main, 'v2', '8080')['defaultBackend']['service']['port'] == {'number': 8080}
    assert decide.canary_ingress_spec(main, 'v2', 'web')['defaultBackend']['service']['port'] == {'name': 'web'}


def test_service_selector_is_all_or_nothing():
    stable, canary = {'app': 'shop', 'version': '1'}, {'app': 'shop', 'version': '2'}
    assert decide.service_selector(100, stable, canary) == canary
    assert decide.service_selector(0, stable, canary) == stable
    with pytest.raises(decide.CanarySpecError, match='weight must be 0 .stable. or 100 .canary., got 50'):
        decide.service_selector(50, stable, canary)
    with pytest.raises(decide.CanarySpecError, match='two different'):
        decide.service_selector(100, stable, stable)
    assert decide.selector_weight(canary, stable, canary) == 100
    assert decide.selector_weight({'app': 'shop'}, stable, canary) is None
    assert decide.labels({'app': 'shop', 'version': 2}) == canary
