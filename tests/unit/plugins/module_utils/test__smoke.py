# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import re

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _smoke


@pytest.mark.parametrize('spec, expected', [
    (200, [(200, 200)]),
    ('2xx', [(200, 299)]),
    ('200-204', [(200, 204)]),
    (['200', '3xx', '404'], [(200, 200), (300, 399), (404, 404)]),
])
def test_parse_status_spec(spec, expected):
    assert _smoke.parse_status_spec(spec) == expected


@pytest.mark.parametrize('spec', ['ok', '20', '299-200', '600', '6xx', '200-'])
def test_parse_status_spec_rejects_malformed(spec):
    with pytest.raises(ValueError, match=str(spec)):
        _smoke.parse_status_spec(spec)


@pytest.mark.parametrize('base, path, expected', [
    ('http://127.0.0.1:8000', '/health', 'http://127.0.0.1:8000/health'),
    ('http://127.0.0.1:8000/', 'health', 'http://127.0.0.1:8000/health'),
    ('http://127.0.0.1:8000/app/', '/api', 'http://127.0.0.1:8000/app/api'),
    ('http://127.0.0.1:8000', 'https://127.0.0.2/x', 'https://127.0.0.2/x'),
])
def test_join_url(base, path, expected):
    assert _smoke.join_url(base, path) == expected


def http_check(**fields):
    return dict(dict(type='http', path='/health'), **fields)


def test_normalize_check_fills_name_url_and_default_status():
    check = _smoke.normalize_check(0, http_check(), 'http://127.0.0.1:1')
    assert check['name'] == 'http /health'
    assert check['url'] == 'http://127.0.0.1:1/health'
    assert check['status_ranges'] == [(200, 299)]


@pytest.mark.parametrize('check, base, message', [
    (dict(type='http'), 'http://127.0.0.1:1', 'check 1 (http 0): an http check needs path or url'),
    (http_check(), None, "check 1 (http /health): '/health' is not an http(s) URL"),
    (http_check(status=['abc']), 'http://h', "status 'abc' is not a code"),
    (http_check(body_regex='('), 'http://h', 'body_regex does not compile'),
    (dict(type='tcp'), None, 'a tcp check needs port'),
    (dict(type='tcp', port=70000), None, 'port 70000 is outside 1-65535'),
])
def test_normalize_check_rejects_bad_definitions(check, base, message):
    with pytest.raises(_smoke.CheckSpecError, match=message.replace('(', r'\(').replace(')', r'\)')):
        _smoke.normalize_check(0, check, base)


@pytest.mark.parametrize('fields, status, body, latency, reason', [
    ({}, 200, '', 1, None),
    ({}, 503, '', 1, 'status 503, expected 200-299'),
    ({'status': ['404']}, 404, '', 1, None),
    ({'body_regex': '"status":\\s*"ok"'}, 200, '{"status": "ok"}', 1, None),
    ({'body_regex': 'pong'}, 200, 'ping', 1, "body does not match 'pong'"),
    ({'max_ms': 100}, 200, '', 250.4, 'took 250.4 ms, budget 100 ms'),
])
def test_evaluate_http(fields, status, body, latency, reason):
    check = _smoke.normalize_check(0, http_check(**fields), 'http://h')
    assert _smoke.evaluate_http(check, status, body, latency) == (reason, {})


class FakeTime:
    """A clock that advances only when the suite sleeps or a probe takes time, so deadlines are exact."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def scripted_probe(outcomes):
    """Return each check's next scripted outcome (True = ok), repeating the last one."""
    calls = {}

    def probe(check, budget=None):
        sequence = outcomes[check['name']]
        index = calls.get(check['name'], 0)
        calls[check['name']] = index + 1
        ok = sequence[min(index, len(sequence) - 1)]
        return dict(ok=ok, status=200 if ok else 503, latency_ms=1.0, message='ok' if ok else 'status 503')

    return probe


def run(outcomes, checks=None, timeout=60.0, consecutive=1):
    fake = FakeTime()
    checks = checks or [dict(name=name, type='http') for name in outcomes]
    results, rounds, elapsed, _captures = _smoke.run_suite(checks, scripted_probe(outcomes), timeout, 1.0, 4.0, consecutive,
                                                           fake.clock, fake.sleep)
    return results, rounds, elapsed, fake.sleeps


def ready_at(fake, when, cost=0.0, seen=None):
    """A probe of a service that answers 503 until ``when`` (fake seconds); each request takes ``cost``."""
    def probe(check, budget=None):
        if seen is not None:
            seen.append((fake.now, budget))
        fake.now += cost if budget is None else min(cost, budget)
        ok = fake.now >= when and (budget is None or cost <= budget)
        return dict(ok=ok, status=200 if ok else 503, latency_ms=cost * 1000, message='ok' if ok else 'status 503')
    return probe


def run_against(probe_for, timeout, interval=1.0, max_interval=10.0, consecutive=1, checks=None):
    fake = FakeTime()
    results, rounds, elapsed, _captures = _smoke.run_suite(
        checks or [dict(name='ready', type='http')], probe_for(fake), timeout, interval, max_interval, consecutive,
        fake.clock, fake.sleep)
    return results, rounds, elapsed, fake


def test_run_suite_passes_in_one_round_when_all_pass():
    results, rounds, _elapsed, sleeps = run({'a': [True], 'b': [True]})
    assert rounds == 1 and sleeps == []
    assert [r['ok'] for r in results] == [True, True]


def test_run_suite_backs_off_until_ready_and_counts_attempts():
    results, rounds, elapsed, sleeps = run({'a': [False, False, False, True]})
    assert rounds == 4
    assert sleeps == [1.0, 2.0, 4.0]
    assert elapsed == 7.0
    assert results[0]['attempts'] == 4 and results[0]['ok']


def test_run_suite_needs_consecutive_successes_so_flapping_does_not_pass():
    _results, rounds, _elapsed, sleeps = run({'a': [True, False, True, True, True]}, consecutive=3)
    assert rounds == 5
    assert sleeps == [1.0, 1.0, 1.0, 1.0]  # a success resets the back-off


def test_run_suite_stops_at_the_deadline_with_the_last_failures():
    results, rounds, elapsed, sleeps = run({'a': [False]}, timeout=10.0)
    assert not results[0]['ok']
    assert elapsed == 10.0
    assert rounds == 5  # rounds at t=0, 1, 3, 7 and the last one at the deadline
    assert sleeps == [1.0, 2.0, 4.0, 3.0]


def test_a_service_ready_before_the_deadline_passes_in_a_last_round_at_the_deadline():
    # timeout 6, ready at 4 s: the back-off would wait until 7 s; the last round runs at 6 s instead.
    results, rounds, elapsed, _fake = run_against(lambda fake: ready_at(fake, 4.0), timeout=6.0)
    assert results[0]['ok'], results
    assert (rounds, elapsed) == (4, 6.0)


@pytest.mark.parametrize('ready', [0.5 * step for step in range(1, 56)])
def test_readiness_is_noticed_within_max_interval(ready):
    results, _rounds, elapsed, _fake = run_against(lambda fake: ready_at(fake, ready, cost=0.05), timeout=30.0,
                                                   interval=0.5, max_interval=2.0)
    assert results[0]['ok']
    assert ready <= elapsed <= ready + 2.0 + 0.05


def test_consecutive_successes_also_end_at_the_deadline():
    _results, rounds, elapsed, fake = run_against(lambda fake: ready_at(fake, 5.5), timeout=6.0, interval=0.25,
                                                  max_interval=0.25, consecutive=3)
    assert (rounds, elapsed) == (25, 6.0)
    assert max(fake.sleeps) == 0.25


def test_requests_get_only_the_time_left_before_the_deadline():
    # A response that takes 4 s must not pass a suite whose timeout is 2 s.
    seen = []
    results, rounds, elapsed, _fake = run_against(lambda fake: ready_at(fake, 0.0, cost=4.0, seen=seen), timeout=2.0)
    assert not results[0]['ok']
    assert seen == [(0.0, 2.0)]
    assert (rounds, elapsed) == (1, 2.0)


def test_the_round_at_the_deadline_gets_a_short_allowance():
    seen = []
    results, _rounds, elapsed, _fake = run_against(lambda fake: ready_at(fake, 5.0, cost=0.1, seen=seen), timeout=3.0,
                                                   interval=1.0)
    assert not results[0]['ok']
    assert [at for at, _budget in seen] == pytest.approx([0.0, 1.1, 3.0])
    assert seen[-1][1] == pytest.approx(_smoke.ROUND_ALLOWANCE)
    assert elapsed == pytest.approx(3.1)


def test_a_round_with_metrics_checks_is_allowed_their_windows():
    checks = [dict(name='ratio', type='metrics', window=5.0), dict(name='ready', type='http')]
    assert _smoke.round_allowance(checks) == _smoke.ROUND_ALLOWANCE + 5.0
    seen = []
    _results, _rounds, _elapsed, _fake = run_against(lambda fake: ready_at(fake, 99.0, seen=seen), timeout=2.0, checks=checks)
    assert seen[-2:] == [(2.0, _smoke.ROUND_ALLOWANCE + 5.0), (2.0, _smoke.ROUND_ALLOWANCE + 5.0)]


def test_a_check_with_no_time_left_in_its_round_is_not_sent():
    checks = [dict(name='slow', type='http'), dict(name='next', type='http')]
    sent = []

    def probe(check, budget):
        sent.append(check['name'])
        return dict(ok=False, status=None, latency_ms=1.0, message='no response')

    left = iter([1.0, 0.0])
    results, _captures = _smoke.run_round(checks, probe, {'slow': 0, 'next': 0}, lambda: next(left))
    assert sent == ['slow']
    assert results[1]['message'] == 'not run: no time left before the deadline'
    assert results[1]['attempts'] == 1


def test_advisory_check_failure_does_not_fail_the_suite():
    checks = [dict(name='api', type='http'), dict(name='ws', type='http', required=False)]
    results, rounds, _elapsed, _sleeps = run({'api': [True], 'ws': [False]}, checks=checks)
    assert rounds == 1
    assert _smoke.required_failures(results) == []
    assert _smoke.summarize(results) == dict(total=2, passed=1, failed=1, failed_required=0)


def test_failure_message_lists_each_failed_required_check_on_its_own_line():
    results = [
        dict(name='health', ok=False, required=True, message='status 503, expected 200-299'),
        dict(name='ws', ok=False, required=False, message='timeout'),
        dict(name='api', ok=False, required=True, message='body does not match'),
    ]
    message = _smoke.failure_message(results, 3, 12.34)
    assert message.splitlines() == [
        'smoke test failed after 3 round(s) in 12.3 s; 2 required check(s) failing:',
        'health: status 503, expected 200-299',
        'api: body does not match',
    ]


@pytest.mark.parametrize('path, steps', [
    ('$.status', ['status']),
    ('$.items[0].name', ['items', 0, 'name']),
    ('items.0.name', ['items', 0, 'name']),
    ("$['odd.key'][2]", ['odd.key', 2]),
    ('$', []),
])
def test_parse_json_path(path, steps):
    assert _smoke.parse_json_path(path) == steps


def test_lookup_tells_a_missing_value_from_a_null_one():
    document = {'a': {'b': [None, {'c': 0}]}}
    assert _smoke.lookup(document, '$.a.b[1].c') == 0
    assert _smoke.lookup(document, '$.a.b[0]') is None
    assert _smoke.lookup(document, '$.a.b[5]') is _smoke.MISSING
    assert _smoke.lookup(document, '$.a.x') is _smoke.MISSING


BODY = '{"status": "ok", "version": "2.0.0", "links": ["health", "users"], "count": 3, "user": {"id": 7}}'


@pytest.mark.parametrize('assertion, reason', [
    ({'path': '$.status', 'equals': 'ok'}, None),
    ({'path': '$.count', 'equals': '3'}, None),
    ({'path': '$.status', 'equals': 'degraded'}, '$.status is "ok", expected "degraded"'),
    ({'path': '$.links', 'contains': 'users'}, None),
    ({'path': '$.links', 'contains': 'admin'}, '$.links (["health", "users"]) does not contain "admin"'),
    ({'path': '$.user', 'contains': 'id'}, None),
    ({'path': '$.version', 'matches': r'^2\.'}, None),
    ({'path': '$.version', 'matches': r'^3\.'}, "$.version (\"2.0.0\") does not match '^3\\\\.'"),
    ({'path': '$.user.id', 'exists': True}, None),
    ({'path': '$.token', 'exists': True}, '$.token is missing'),
    ({'path': '$.token', 'exists': False}, None),
    ({'path': '$.status', 'exists': False}, '$.status exists but should not'),
    ({'path': '$.nope', 'equals': 1}, '$.nope is missing'),
])
def test_json_assertions(assertion, reason):
    check = _smoke.normalize_check(0, http_check(assert_json=[assertion]), 'http://h')
    assert _smoke.evaluate_http(check, 200, BODY, 1)[0] == reason


def test_header_assertions_are_case_insensitive_regexes():
    check = _smoke.normalize_check(0, http_check(assert_headers={'content-type': '^application/json'}), 'http://h')
    assert _smoke.evaluate_http(check, 200, '{}', 1, {'Content-Type': 'application/json; charset=utf-8'}) == (None, {})
    failure, _captured = _smoke.evaluate_http(check, 200, 'x', 1, {'Content-Type': 'text/plain'})
    assert failure == "header content-type is 'text/plain', expected to match '^application/json'"
    assert _smoke.evaluate_http(check, 200, 'x', 1, {})[0] == 'header content-type is missing'


def test_capture_returns_values_and_fails_when_the_path_is_missing():
    check = _smoke.normalize_check(0, http_check(capture={'token': '$.access_token'}), 'http://h')
    assert _smoke.evaluate_http(check, 200, '{"access_token": "abc"}', 1) == (None, {'token': 'abc'})
    assert _smoke.evaluate_http(check, 200, '{"error": "x"}', 1)[0] == 'cannot capture token: $.access_token is missing from the response'
    assert _smoke.evaluate_http(check, 200, 'not json', 1)[0] == "body is not JSON: 'not json'"


def test_substitute_fills_known_placeholders_only():
    value = {'headers': {'Authorization': 'Bearer {token}'}, 'path': '/users/{user_id}', 'body': ['{other}', 3]}
    assert _smoke.substitute(value, {'token': 't0k', 'user_id': 7}) == {
        'headers': {'Authorization': 'Bearer t0k'}, 'path': '/users/7', 'body': ['{other}', 3]}


def test_a_check_needing_a_value_that_was_not_captured_is_not_sent():
    checks = [dict(name='login', type='http', capture={'token': '$.access_token'}),
              dict(name='me', type='http', headers={'Authorization': 'Bearer {token}'})]
    sent = []

    def probe(check, budget=None):
        sent.append(check['name'])
        return dict(ok=False, status=401, latency_ms=1.0, message='status 401')

    results, _captures = _smoke.run_round(checks, probe, {'login': 0, 'me': 0})
    assert sent == ['login']
    assert results[1]['message'] == 'not run: token not captured by an earlier check'


def test_captured_values_reach_later_checks_in_the_same_round():
    checks = [dict(name='login', type='http', capture={'token': '$.access_token'}),
              dict(name='me', type='http', headers={'Authorization': 'Bearer {token}'})]
    seen = []

    def probe(check, budget=None):
        seen.append(check.get('headers'))
        return dict(ok=True, status=200, latency_ms=1.0, message='ok', captured={'token': 's3cret'} if check['name'] == 'login' else {})

    results, captures = _smoke.run_round(checks, probe, {'login': 0, 'me': 0})
    assert seen == [None, {'Authorization': 'Bearer s3cret'}]
    assert captures == {'token': 's3cret'}
    assert 'captured' not in results[0]


@pytest.mark.parametrize('expected, message, ok', [
    ({'json': {'type': 'pong'}}, '{"type": "pong", "ts": 1}', True),
    ({'json': {'type': 'pong'}}, '{"type": "error"}', False),
    ({'json': {'type': 'pong'}}, 'pong', False),
    ({'regex': 'po+ng'}, 'pooong', True),
])
def test_websocket_message_matching(expected, message, ok):
    assert _smoke.message_matches(expected, message) is ok


@pytest.mark.parametrize('check, message', [
    (dict(type='websocket', path='/ws', expect=[{'json': {}, 'regex': 'x'}]), 'exactly one of json'),
    (dict(type='metrics', path='/metrics', denominator={'name': 'x'}, max_ratio=0.1), 'needs numerator'),
    (dict(type='metrics', path='/metrics', numerator={'name': 'x'}, denominator={'name': 'x'}), 'needs max_ratio'),
    (dict(type='metrics', path='/metrics', numerator={'name': 'x'}, denominator={'name': 'x'}, max_ratio=2), 'outside 0-1'),
    (http_check(assert_json=[{'path': '$.a', 'equals': 1, 'exists': True}]), 'exactly one of equals, contains'),
    (http_check(assert_json=[{'path': '$.a[', 'exists': True}]), 'is not of the form'),
    (http_check(capture={'token': 'a..b'}), 'capture'),
])
def test_new_check_types_reject_bad_definitions(check, message):
    with pytest.raises(_smoke.CheckSpecError, match=message):
        _smoke.normalize_check(0, check, 'http://h')


def test_websocket_urls_take_the_scheme_of_base_url():
    assert _smoke.normalize_check(0, dict(type='websocket', path='/ws'), 'https://h:8443')['url'] == 'wss://h:8443/ws'
    assert _smoke.normalize_check(0, dict(type='websocket', path='/ws'), 'http://h')['url'] == 'ws://h/ws'


def test_duplicate_names_are_refused():
    with pytest.raises(_smoke.CheckSpecError, match='repeated: health'):
        _smoke.normalize_suite([http_check(name='health'), http_check(name='health', path='/x')], 'http://h')


def test_expect_version_is_an_ordinary_json_check():
    check = _smoke.normalize_check(0, _smoke.version_check('2.0.0', '/version', '$.version'), 'http://h')
    assert _smoke.evaluate_http(check, 200, '{"version": "2.0.0"}', 1) == (None, {})
    assert _smoke.evaluate_http(check, 200, '{"version": "1.0.0"}', 1)[0] == '$.version is "1.0.0", expected "2.0.0"'


def test_ratio_evaluation_treats_no_samples_as_a_failure_of_its_own():
    check = dict(denominator={'name': 'http_requests_total'}, max_ratio=0.01, window=5)
    assert _smoke.evaluate_ratio(check, None, 0, 0).startswith('no samples: http_requests_total did not increase over 5s')
    assert _smoke.evaluate_ratio(check, 0.005, 1, 200) is None
    assert _smoke.evaluate_ratio(check, 0.3, 3, 10) == 'ratio 0.3000 (3 of 10) is above max_ratio 0.01'


def test_junit_report_marks_required_failures_and_skips_advisory_ones():
    results = [dict(name='a', type='http', ok=True, required=True, latency_ms=5, message='ok'),
               dict(name='b', type='http', ok=False, required=True, latency_ms=5, message='status 500'),
               dict(name='c', type='websocket', ok=False, required=False, latency_ms=5, message='timeout')]
    xml = _smoke.junit_report(results, 1.5)
    assert xml.startswith('<testsuite name="smoke_test" tests="3" failures="1" errors="0" skipped="1" time="1.500">')
    assert '<failure message="status 500" />' in xml
    assert '<skipped message="timeout" />' in xml


def login_suite(capture, me_headers=None):
    return _smoke.normalize_suite([
        http_check(name='login', path='/login', capture=capture),
        http_check(name='me', path='/me', headers=me_headers or {}),
    ], 'http://h')


@pytest.mark.parametrize('capture, headers, secret', [
    ({'token': '$.access_token'}, None, {'token': True}),
    ({'t': '$.data.jwt'}, None, {'t': True}),
    ({'uid': '$.id'}, {'X-User': '{uid}'}, {'uid': True}),
    ({'code': '$.code', 'state': '$.status', 'one': '$.one'}, None, {'code': False, 'state': False, 'one': False}),
    ({'token': {'path': '$.token', 'secret': False}}, {'Authorization': 'Bearer {token}'}, {'token': False}),
    ({'uid': {'path': '$.id', 'secret': 'yes'}}, None, {'uid': True}),
])
def test_what_an_auth_flow_yields_is_secret_by_default_and_the_flag_wins(capture, headers, secret):
    login = login_suite(capture, headers)[0]
    assert {var: spec['secret'] for var, spec in login['capture'].items()} == secret


def test_a_value_sent_in_a_secret_header_is_secret_by_default():
    login = _smoke.normalize_suite([
        http_check(name='login', path='/login', capture={'sid': '$.id'}),
        http_check(name='me', path='/me', secret_headers={'Cookie': 'sid={sid}'}),
    ], 'http://h')[0]
    assert login['capture']['sid']['secret'] is True


@pytest.mark.parametrize('headers', [
    {'X-Env': 'ok', 'Accept': 'application/json', 'X-Request-Id': 'smoke-1'},
    {'Authorization': 'Bearer {token}'},
    {'authorization': '{token}', 'Cookie': 'session={token}', 'X-Api-Key': ' {token} '},
])
def test_plain_headers_may_build_credentials_only_from_captured_values(headers):
    checks = _smoke.normalize_suite([http_check(name='login', path='/login', capture={'token': '$.t'}),
                                     http_check(name='me', path='/me', headers=headers)], 'http://h')
    assert checks[1]['headers'] == headers


@pytest.mark.parametrize('headers, secret_headers, message', [
    ({'Authorization': 'Bearer s3cr3t'}, None, 'check 2 (me): header Authorization carries a credential'),
    ({'Proxy-Authorization': 'Basic dXNlcjpwYXNz'}, None, 'header Proxy-Authorization carries a credential'),
    ({'Cookie': 'session=abc123'}, None, 'header Cookie carries a credential'),
    ({'X-Api-Key': 'k-1'}, None, 'header X-Api-Key carries a credential'),
    ({'X-Auth-Token': 'abc'}, None, 'header X-Auth-Token carries a credential'),
    # Captured values do not excuse a literal credential beside them, nor a placeholder nothing captures.
    ({'Authorization': 'Bearer s3cr3t{token}'}, None, 'header Authorization carries a credential'),
    ({'Authorization': 'Bearer {unknown}'}, None, 'header Authorization carries a credential'),
    ({'authorization': 'Bearer {token}'}, {'Authorization': 'Bearer x'},
     'header authorization is given in both headers and secret_headers'),
])
def test_credentials_in_plain_headers_are_refused(headers, secret_headers, message):
    suite = [http_check(name='login', path='/login', capture={'token': '$.t'}),
             http_check(name='me', path='/me', headers=headers, secret_headers=secret_headers)]
    with pytest.raises(_smoke.CheckSpecError, match=re.escape(message)) as error:
        _smoke.normalize_suite(suite, 'http://h')
    assert 'secret_headers' in str(error.value)
    assert 's3cr3t' not in str(error.value) and 'dXNlcjpwYXNz' not in str(error.value)


def test_credential_header_values_are_those_of_plain_headers_named_like_credentials():
    checks = [http_check(headers={'Authorization': 'Bearer x', 'X-Env': 'ok', 'Cookie': ''}),
              http_check(headers=None, secret_headers={'X-Api-Key': 'k'})]
    assert _smoke.credential_header_values(checks) == {'Bearer x'}


@pytest.mark.parametrize('secret_headers, forms', [
    ({'Authorization': 'Bearer tok-123456'}, {'tok-123456'}),
    ({'Authorization': 'Basic dXNlcjpwYXNz'}, {'dXNlcjpwYXNz'}),
    ({'X-Api-Key': 'a"key'}, {'a"key', 'a\\"key'}),
    ({'Authorization': 'Bearer {token}'}, set()),
    ({'Cookie': 'sid={token}; csrf=c5rf'}, {'sid=', '; csrf=c5rf'}),
    ({'X-Api-Key': 'k-{nothing}'}, {'k-{nothing}'}),
])
def test_secret_header_forms_are_the_credentials_without_scheme_and_captured_values(secret_headers, forms):
    checks = [http_check(name='login', path='/login', capture={'token': '$.t'}),
              http_check(name='me', path='/me', secret_headers=secret_headers)]
    assert _smoke.secret_header_forms(checks) == forms


def test_a_secret_header_is_masked_and_its_scheme_kept():
    forms = _smoke.secret_header_forms([http_check(secret_headers={'Authorization': 'Bearer tok-123456'})])
    assert _smoke.mask('$.auth is "Bearer tok-123456", expected "x"', forms) == '$.auth is "Bearer ********", expected "x"'


@pytest.mark.parametrize('capture, message', [
    ({'t': {'secret': True}}, 'capture t needs a JSON path'),
    ({'t': {'path': '$.t', 'secret': True, 'mask': 1}}, 'capture t needs a JSON path'),
    ({'t': {'path': '$.t', 'secret': 'perhaps'}}, "capture t: secret must be true or false, got 'perhaps'"),
    ({'t': 3}, 'capture t needs a JSON path'),
])
def test_bad_captures_are_refused(capture, message):
    with pytest.raises(_smoke.CheckSpecError, match=re.escape(message)):
        _smoke.normalize_check(0, http_check(capture=capture), 'http://h')


def test_secret_forms_cover_only_secret_captures_as_messages_quote_them():
    login = login_suite({'token': '$.token', 'code': '$.code', 'key': '$.key'})[0]
    forms = _smoke.secret_forms(login, {'token': 'a"b', 'code': 200, 'key': 1234})
    assert forms == {'a"b', 'a\\"b', '1234'}


def test_masking_leaves_numbers_and_other_strings_alone():
    results = [dict(name='login', ok=True, status=200, attempts=1, latency_ms=1.0, message='ok', required=True),
               dict(name='ok check', ok=False, status=200, attempts=1, latency_ms=1.0, required=False,
                    message='$.auth is "Bearer tok-123456", expected "x"')]
    masked = _smoke.mask(results, {'tok-123456'})
    assert masked[0] == results[0]
    assert masked[1]['message'] == '$.auth is "Bearer ********", expected "x"'
    assert _smoke.mask(results, set()) == results


def test_masking_catches_a_secret_cut_off_at_the_end_of_a_message():
    message = 'body is not JSON: %r' % ('<p>your token is tok-1234567890abcdef</p>' * 2)[:75]
    assert message.endswith("tok-1234567890abc'")
    masked = _smoke.mask(message, {'tok-1234567890abcdef'})
    assert masked == "body is not JSON: '<p>your token is ********</p><p>your token is ********'"
    assert _smoke.mask('status 503, expected 2xx', {'xyz', '2xx-secret'}) == 'status 503, expected 2xx'
    assert _smoke.mask('tok-1 and tok-12', {'tok-1234567890abcdef'}) == 'tok-1 and ********'


def test_reports_built_from_masked_results_hold_no_secret():
    results = _smoke.mask([dict(name='me', type='http', ok=False, required=True, latency_ms=5, status=200, attempts=2,
                                message='$.token is "tok-abcdef", expected "x"')], {'tok-abcdef'})
    for report in (_smoke.junit_report(results, 1.0), _smoke.json_report(results, 2, 1.0)):
        assert 'tok-abcdef' not in report and '********' in report
    assert json.loads(_smoke.json_report(results, 2, 1.0))['checks'][0]['status'] == 200


@pytest.mark.parametrize('check, line', [
    (dict(type='http', method='post', url='http://127.0.0.1:8080/login'), 'POST http://127.0.0.1:8080/login'),
    (dict(type='http', method='GET', url='https://user:pass@app.example/me?x=1', query={'page': 2, 'tag': ['a', 'b']}),
     'GET https://app.example/me?x=1&page=2&tag=a&tag=b'),
    (dict(type='metrics', method='POST', url='http://127.0.0.1:9090/metrics'), 'GET http://127.0.0.1:9090/metrics'),
    (dict(type='websocket', method='GET', url='ws://127.0.0.1:8080/ws'), 'GET ws://127.0.0.1:8080/ws'),
    (dict(type='tcp', port=5432), 'TCP 127.0.0.1:5432'),
    (dict(type='tcp', host='db.internal', port=5432), 'TCP db.internal:5432'),
])
def test_request_lines_say_what_was_sent_without_credentials(check, line):
    assert _smoke.request_line(check, '127.0.0.1') == line


def test_repeated_requests_are_listed_once_with_their_count():
    sent = ['GET http://a/health', 'TCP a:5432', 'GET http://a/health', 'GET http://a/health']
    assert _smoke.count_repeats(sent) == ['GET http://a/health  # sent 3 times', 'TCP a:5432']


def test_the_json_report_gives_the_duration_in_seconds():
    report = json.loads(_smoke.json_report([], 1, 1.23456))
    assert report['duration'] == 1.235 and 'duration_ms' not in report


def test_credential_body_values_are_the_login_password_not_the_user_name():
    checks = [
        {'name': 'login', 'method': 'POST', 'path': '/api/auth/login',
         'body': {'username': 'test@example.com', 'password': 'hunter2-long', 'api_key': 12345}},
        {'name': 'form', 'body': {'passwd': ''}, 'body_format': 'form'},
        {'name': 'raw', 'body': 'password=not-parsed', 'body_format': 'raw'},
        {'name': 'health', 'path': '/health'},
    ]
    assert _smoke.credential_body_values(checks) == {'hunter2-long', '12345'}
