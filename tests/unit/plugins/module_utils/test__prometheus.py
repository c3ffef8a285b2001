# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.artisan.upgrade.plugins.module_utils import _prometheus

# Recorded from demoapp 3.0.0's /metrics (prometheus_client 0.26), trimmed.
DEMOAPP_METRICS = r'''# HELP http_requests_total HTTP requests by method, route and status
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/api",status="200"} 7.0
http_requests_total{method="GET",route="/api",status="500"} 3.0
http_requests_total{method="GET",route="/health",status="200"} 12.0
# HELP http_requests_created HTTP requests by method, route and status
# TYPE http_requests_created gauge
http_requests_created{method="GET",route="/api",status="200"} 1.7637785e+09
# HELP http_request_duration_seconds HTTP request latency
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api"} 10.0
http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api"} 10.0
# HELP demoapp_build_info Build information
# TYPE demoapp_build_info gauge
demoapp_build_info{version="3.0.0"} 1.0
process_open_fds 12 1763778500000
escaped{path="a\"b\\c"} 1
'''


def test_parse_reads_names_labels_values_and_timestamps():
    samples = _prometheus.parse(DEMOAPP_METRICS)
    assert ('http_requests_total', {'method': 'GET', 'route': '/api', 'status': '500'}, 3.0) in samples
    assert ('http_request_duration_seconds_bucket', {'le': '+Inf', 'method': 'GET', 'route': '/api'}, 10.0) in samples
    assert ('process_open_fds', {}, 12.0) in samples
    assert ('escaped', {'path': 'a"b\\c'}, 1.0) in samples


def test_parse_rejects_text_that_is_not_an_exposition():
    with pytest.raises(_prometheus.ExpositionError, match="line 1 is not a Prometheus sample: '<html>'"):
        _prometheus.parse('<html>\n</html>')


def test_select_sum_matches_label_regexes_fully():
    samples = _prometheus.parse(DEMOAPP_METRICS)
    assert _prometheus.select_sum(samples, 'http_requests_total', {'status': '5..'}) == (3.0, 1)
    assert _prometheus.select_sum(samples, 'http_requests_total', {'route': '/api'}) == (10.0, 2)
    assert _prometheus.select_sum(samples, 'http_requests_total', {'status': '20'}) == (0.0, 0)
    assert _prometheus.select_sum(samples, 'http_requests_total') == (22.0, 3)


def scrape(ok, errors):
    return [('http_requests_total', {'status': '200'}, float(ok)), ('http_requests_total', {'status': '500'}, float(errors))]


ERRORS = {'name': 'http_requests_total', 'labels': {'status': '5..'}}
ALL = {'name': 'http_requests_total'}


def test_counter_ratio_uses_the_increase_over_the_window():
    assert _prometheus.counter_ratio(scrape(100, 50), scrape(190, 60), ERRORS, ALL) == (0.1, 10.0, 100.0)


def test_counter_ratio_without_traffic_is_none():
    assert _prometheus.counter_ratio(scrape(100, 5), scrape(100, 5), ERRORS, ALL) == (None, 0.0, 0.0)


def test_counter_reset_counts_the_later_value_as_the_increase():
    # The process restarted between the scrapes: counters started again from zero.
    assert _prometheus.counter_ratio(scrape(1000, 10), scrape(8, 2), ERRORS, ALL) == (0.2, 2.0, 10.0)
