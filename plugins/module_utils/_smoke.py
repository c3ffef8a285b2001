# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decision logic of smoke_test: what a check expects, whether a result meets it, when to stop."""

from __future__ import annotations

import re
import typing as t

DEFAULT_STATUS = '200-299'


class CheckSpecError(ValueError):
    """A check definition that cannot be run; the message names the check and the bad field."""


def parse_status_spec(spec: t.Any) -> list[tuple[int, int]]:
    """Turn ``200``, ``'2xx'``, ``'200-299'`` or a list of those into inclusive ranges."""
    items = spec if isinstance(spec, list) else [spec]
    ranges = []
    for item in items:
        text = str(item).strip().lower()
        match = re.fullmatch(r'([1-5])xx', text)
        if match:
            base = int(match.group(1)) * 100
            ranges.append((base, base + 99))
            continue
        match = re.fullmatch(r'(\d{3})(?:\s*-\s*(\d{3}))?', text)
        if not match:
            raise ValueError("status %r is not a code (200), a class (2xx) or a range (200-299)" % (item,))
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if not 100 <= low <= high <= 599:
            raise ValueError('status range %r is outside 100-599 or reversed' % (item,))
        ranges.append((low, high))
    return ranges


def status_matches(status: int, ranges: list[tuple[int, int]]) -> bool:
    return any(low <= status <= high for low, high in ranges)


def join_url(base_url: str, path: str) -> str:
    """A check's ``url`` wins; otherwise its ``path`` is appended to ``base_url`` with exactly one slash."""
    if re.match(r'^[a-z][a-z0-9+.-]*://', path, re.IGNORECASE):
        return path
    if not base_url:
        return path
    return base_url.rstrip('/') + '/' + path.lstrip('/')


def normalize_check(index: int, check: dict[str, t.Any], base_url: str | None) -> dict[str, t.Any]:
    """Validate one check up front and fill in its defaults, so no request is sent for a broken suite."""
    name = check.get('name') or '%s %s' % (check['type'], check.get('path') or check.get('url') or check.get('port') or index)
    where = 'check %d (%s)' % (index + 1, name)
    result = dict(check, name=name)
    if check['type'] == 'http':
        target = check.get('url') or check.get('path')
        if not target:
            raise CheckSpecError('%s: an http check needs path or url' % where)
        result['url'] = join_url(base_url or '', target)
        if not re.match(r'^https?://', result['url'], re.IGNORECASE):
            raise CheckSpecError('%s: %r is not an http(s) URL; set base_url or give a full url' % (where, result['url']))
        status = check.get('status') or DEFAULT_STATUS
        result['status_text'] = ', '.join(str(s) for s in status) if isinstance(status, list) else str(status)
        try:
            result['status_ranges'] = parse_status_spec(status)
        except ValueError as exc:
            raise CheckSpecError('%s: %s' % (where, exc)) from None
        if check.get('body_regex'):
            try:
                re.compile(check['body_regex'])
            except re.error as exc:
                raise CheckSpecError('%s: body_regex does not compile: %s' % (where, exc)) from None
    elif check['type'] == 'tcp':
        if not check.get('port'):
            raise CheckSpecError('%s: a tcp check needs port' % where)
        if not 0 < check['port'] < 65536:
            raise CheckSpecError('%s: port %s is outside 1-65535' % (where, check['port']))
    return result


def evaluate_http(check: dict[str, t.Any], status: int, body: str, latency_ms: float) -> str | None:
    """Return why an HTTP response fails the check, or None when it passes."""
    if not status_matches(status, check['status_ranges']):
        return 'status %d, expected %s' % (status, check['status_text'])
    if check.get('body_regex') and not re.search(check['body_regex'], body):
        return 'body does not match %r' % check['body_regex']
    if check.get('max_ms') is not None and latency_ms > check['max_ms']:
        return 'took %d ms, budget %d ms' % (latency_ms, check['max_ms'])
    return None


def required_failures(results: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return [r for r in results if not r['ok'] and r['required']]


def next_delay(delay: float, max_delay: float) -> float:
    """Back off between rounds (doubling) so a slow start is not hammered, capped at ``max_delay``."""
    return min(delay * 2, max_delay)


def summarize(results: list[dict[str, t.Any]]) -> dict[str, int]:
    return {
        'total': len(results),
        'passed': sum(1 for r in results if r['ok']),
        'failed': sum(1 for r in results if not r['ok']),
        'failed_required': len(required_failures(results)),
    }


def failure_message(results: list[dict[str, t.Any]], rounds: int, elapsed: float) -> str:
    """One line per failed required check, so the reason is readable in an Ansible failure."""
    lines = ['%s: %s' % (r['name'], r['message']) for r in required_failures(results)]
    return 'smoke test failed after %d round(s) in %.1f s; %d required check(s) failing:\n%s' % (
        rounds, elapsed, len(lines), '\n'.join(lines))


def run_suite(
    checks: list[dict[str, t.Any]],
    probe: t.Callable[[dict[str, t.Any]], dict[str, t.Any]],
    timeout: float,
    interval: float,
    max_interval: float,
    consecutive_successes: int,
    clock: t.Callable[[], float],
    sleep: t.Callable[[float], None],
) -> tuple[list[dict[str, t.Any]], int, float]:
    """Run every check in rounds until the required ones pass ``consecutive_successes`` rounds in a row
    or ``timeout`` seconds pass. ``probe(check)`` returns ``{ok, status, latency_ms, message}``.

    Returns the results of the last round (with per-check attempt counts), the number of rounds and
    the elapsed seconds.
    """
    start = clock()
    attempts = {c['name']: 0 for c in checks}
    streak = 0
    rounds = 0
    delay = interval
    while True:
        rounds += 1
        results = []
        for check in checks:
            attempts[check['name']] += 1
            outcome = probe(check)
            results.append(dict(outcome, name=check['name'], type=check['type'],
                                required=check.get('required', True), attempts=attempts[check['name']]))
        streak = 0 if required_failures(results) else streak + 1
        elapsed = clock() - start
        if streak >= consecutive_successes or elapsed + delay > timeout:
            return results, rounds, elapsed
        sleep(delay if streak == 0 else interval)
        delay = next_delay(delay, max_interval) if streak == 0 else interval
