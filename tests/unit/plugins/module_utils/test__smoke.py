# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

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
    ({'max_ms': 100}, 200, '', 250.4, 'took 250 ms, budget 100 ms'),
])
def test_evaluate_http(fields, status, body, latency, reason):
    check = _smoke.normalize_check(0, http_check(**fields), 'http://h')
    assert _smoke.evaluate_http(check, status, body, latency) == reason


class FakeTime:
    """A clock that advances only when the suite sleeps, so deadlines are exact."""

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

    def probe(check):
        sequence = outcomes[check['name']]
        index = calls.get(check['name'], 0)
        calls[check['name']] = index + 1
        ok = sequence[min(index, len(sequence) - 1)]
        return dict(ok=ok, status=200 if ok else 503, latency_ms=1.0, message='ok' if ok else 'status 503')

    return probe


def run(outcomes, checks=None, timeout=60.0, consecutive=1):
    fake = FakeTime()
    checks = checks or [dict(name=name, type='http') for name in outcomes]
    results, rounds, elapsed = _smoke.run_suite(checks, scripted_probe(outcomes), timeout, 1.0, 4.0, consecutive,
                                                fake.clock, fake.sleep)
    return results, rounds, elapsed, fake.sleeps


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
    results, rounds, elapsed, _sleeps = run({'a': [False]}, timeout=10.0)
    assert not results[0]['ok']
    assert elapsed <= 10.0
    assert rounds == 4  # rounds at t=0, 1, 3, 7; the next would start after the deadline


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
