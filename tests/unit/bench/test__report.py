"""The arithmetic of the systemd benchmark and the demo: what the numbers in docs/benchmarks.md are made of."""

from __future__ import annotations

from ansible_collections.artisan.upgrade.bench import _report


def test_failure_kinds_name_the_exception_class_or_keep_the_status():
    assert _report.failure_kind('HTTP 502') == 'HTTP 502'
    assert _report.failure_kind("ConnectionError(MaxRetryError('x'))") == 'ConnectionError'
    assert _report.failure_kind("ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool\"))") == 'ReadTimeout'


def test_load_line_counts_failures_by_kind_and_answers_by_version():
    answers = {'{"version": "1.0.0"}': 40, '{"version": "2.0.0"}': 55, '{"version":"2.0.0"}': 5, 'oops': 1}
    failures = ['HTTP 502', 'HTTP 502', "ConnectionError(MaxRetryError('x'))"]
    line = _report.load_line(104, failures, answers)
    assert line == ('104 requests, 3 failed (HTTP 502 x2, ConnectionError x1); '
                    'answered by 1.0.0: 40, 2.0.0: 60, oops: 1')
    assert _report.load_line(0, [], {}) == '0 requests, 0 failed; answered by nobody'


def test_outages_are_measured_from_the_last_good_answer_to_the_next():
    samples = [(0.0, None), (1.0, '2.0.0'), (2.0, '2.0.0'), (3.0, None), (4.0, '3.0.0'), (6.5, '2.0.0'), (7.0, None)]
    # Not serving before the first good answer does not count (the host was still starting).
    assert _report.outages(samples, '2.0.0') == [(2.0, 6.5), (6.5, None)]
    assert _report.outages([(1.0, '2.0.0'), (2.0, '2.0.0')], '2.0.0') == []
    assert _report.outages([(1.0, None)], '2.0.0') == []


def test_back_serving_is_when_the_last_host_answers_the_previous_release_again():
    hosts = {
        'app1': [(0.0, '2.0.0'), (1.0, None), (9.0, None), (12.0, '2.0.0'), (13.0, '2.0.0')],
        'app2': [(0.0, '2.0.0'), (13.0, '2.0.0')],
    }
    assert _report.back_serving(hosts, '2.0.0', since=10.0) == 12.0
    assert _report.back_serving(hosts, '2.0.0', since=12.5) == 12.5
    hosts['app2'].append((14.0, '3.0.0'))
    assert _report.back_serving(hosts, '2.0.0', since=10.0) is None


def test_all_serving_is_the_first_moment_every_host_answers_the_release_again():
    hosts = {
        'app1': [(0.0, '2.0.0'), (1.0, None), (9.0, None), (12.0, '2.0.0'), (20.0, None), (21.0, '2.0.0')],
        'app2': [(0.0, '2.0.0'), (11.0, '2.0.0'), (13.0, '2.0.0')],
    }
    # The gap at 20 s does not move it; back_serving, which takes the end of the last gap, says 21.
    assert _report.all_serving_at(hosts, '2.0.0', since=10.0) == 12.0
    assert _report.back_serving(hosts, '2.0.0', since=10.0) == 21.0
    assert _report.all_serving_at(hosts, '2.0.0', since=0.0) == 0.0
    assert _report.all_serving_at({'app1': [(1.0, '3.0.0')], 'app2': [(2.0, '2.0.0')]}, '2.0.0', 0.0) is None


def test_ratio_and_scaling_rows():
    assert _report.ratio(3.0, 2.0) == 1.5
    assert _report.ratio(1.0, 0.0) == float('inf')
    assert _report.per_host_rows([(3, 60.0, 2000, 0), (12, 252.0, 9000, 1)]) == [
        '| 3 | 60.0 s | 20.0 s | - | 0 / 2000 |', '| 12 | 252.0 s | 21.0 s | 21.3 s | 1 / 9000 |']
