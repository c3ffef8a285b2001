"""Pure arithmetic of the systemd benchmarks and the demo: load counts, outage windows, ratios (stdlib only)."""

from __future__ import annotations

import collections
import json
import re
import typing as t

Sample = tuple[float, t.Optional[str]]  # (monotonic time, version answered or None)


def failure_kind(failure: str) -> str:
    """'HTTP 502' stays; a requests exception's repr becomes its class name (ConnectionError, ReadTimeout)."""
    if failure.startswith('HTTP '):
        return failure
    match = re.match(r'([A-Za-z_][A-Za-z0-9_]*)\(', failure)
    return match.group(1) if match else failure[:40]


def versions_answered(answers: t.Mapping[str, int]) -> dict[str, int]:
    """{version: count} from a load's {body: count} of /version answers (a body that is not JSON counts as itself)."""
    counts: collections.Counter = collections.Counter()
    for body, count in answers.items():
        try:
            counts[json.loads(body)['version']] += count
        except (ValueError, KeyError, TypeError):
            counts[body[:40]] += count
    return dict(sorted(counts.items()))


def load_line(total: int, failures: t.Sequence[str], answers: t.Mapping[str, int]) -> str:
    """One line: how many requests, how many failed and how, which versions answered."""
    kinds = collections.Counter(failure_kind(failure) for failure in failures)
    how = ' (%s)' % ', '.join('%s x%d' % (kind, count) for kind, count in kinds.most_common()) if kinds else ''
    versions = ', '.join('%s: %d' % item for item in versions_answered(answers).items())
    return '%d requests, %d failed%s; answered by %s' % (total, len(failures), how, versions or 'nobody')


def outages(samples: t.Sequence[Sample], serving: str) -> list[tuple[float, float | None]]:
    """Windows in which a host did not answer ``serving``: (last good sample before, first good sample after);
    the end is None when it never answered ``serving`` again. Samples before the first good one do not count."""
    windows: list[tuple[float, float | None]] = []
    last_good: float | None = None
    out_since: float | None = None
    for when, version in samples:
        if version == serving:
            if out_since is not None:
                windows.append((out_since, when))
                out_since = None
            last_good = when
        elif last_good is not None and out_since is None:
            out_since = last_good
    if out_since is not None:
        windows.append((out_since, None))
    return windows


def back_serving(samples_by_host: t.Mapping[str, t.Sequence[Sample]], serving: str, since: float) -> float | None:
    """When every host answered ``serving`` again after ``since``: the latest end of an outage that ends after it
    (``since`` itself when none was out); None when a host never answered ``serving`` again."""
    latest = since
    for samples in samples_by_host.values():
        windows = outages(samples, serving)
        if windows and windows[-1][1] is None:
            return None
        latest = max([latest] + [end for _start, end in windows if end is not None and end > since])
    return latest


def all_serving_at(samples_by_host: t.Mapping[str, t.Sequence[Sample]], serving: str, since: float) -> float | None:
    """The first moment from ``since`` on at which every host's latest answer is ``serving``; None when there is
    none. Unlike back_serving, a later gap in one host's answers (a poll that timed out on a loaded machine, or
    a drained restart) does not move it."""
    latest: dict[str, str | None] = {}
    timeline = sorted((when, host, version) for host, samples in samples_by_host.items() for when, version in samples)
    for when, host, version in timeline:
        latest[host] = version
        if when >= since and len(latest) == len(samples_by_host) and set(latest.values()) == {serving}:
            return when
    return None


def ratio(part: float, whole: float) -> float:
    return part / whole if whole else float('inf')


def per_host_rows(runs: t.Sequence[tuple[int, float, int, int]]) -> list[str]:
    """Markdown rows of a fleet scaling: (hosts, wall seconds, requests, failed) -> hosts, wall, wall per host, and
    the seconds each host added since the smaller fleet before it (what a rolling deploy costs per host, without
    the run's fixed part)."""
    rows, before = [], None
    for hosts, wall, requests, failed in runs:
        added = '%.1f s' % ((wall - before[1]) / (hosts - before[0])) if before and hosts > before[0] else '-'
        rows.append('| %d | %.1f s | %.1f s | %s | %d / %d |' % (hosts, wall, wall / hosts, added, failed, requests))
        before = (hosts, wall)
    return rows
