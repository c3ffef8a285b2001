# -*- coding: utf-8 -*-
# Copyright: artisan.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the Prometheus text exposition format and compare counters between two scrapes (pure)."""

from __future__ import annotations

import re
import typing as t

_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+-?\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_UNESCAPE = {'\\\\': '\\', '\\"': '"', '\\n': '\n'}

Sample = t.Tuple[str, t.Dict[str, str], float]


class ExpositionError(ValueError):
    """Text that is not the Prometheus exposition format; the message quotes the line."""


def _unescape(value: str) -> str:
    return re.sub(r'\\[\\"n]', lambda m: _UNESCAPE[m.group(0)], value)


def parse(text: str) -> list[Sample]:
    """Every sample as (name, labels, value); comments and blank lines are skipped."""
    samples = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise ExpositionError('line %d is not a Prometheus sample: %r' % (number, line[:120]))
        labels = {key: _unescape(value) for key, value in _LABEL.findall(match.group('labels') or '')}
        try:
            value = float(match.group('value'))
        except ValueError:
            raise ExpositionError('line %d has no numeric value: %r' % (number, line[:120])) from None
        samples.append((match.group('name'), labels, value))
    return samples


def select_sum(samples: list[Sample], name: str, label_patterns: dict[str, str] | None = None) -> tuple[float, int]:
    """Sum of the samples named ``name`` whose labels fully match the regexes; also how many matched."""
    patterns = {key: re.compile(pattern) for key, pattern in (label_patterns or {}).items()}
    total, matched = 0.0, 0
    for sample_name, labels, value in samples:
        if sample_name != name:
            continue
        if all(pattern.fullmatch(labels.get(key, '')) for key, pattern in patterns.items()):
            total += value
            matched += 1
    return total, matched


def counter_ratio(before: list[Sample], after: list[Sample], numerator: dict[str, t.Any],
                  denominator: dict[str, t.Any]) -> tuple[float | None, float, float]:
    """(ratio or None when the denominator did not grow, numerator increase, denominator increase).

    Counters only grow; a decrease means the process restarted between scrapes, so the later value
    is taken as the increase (what Prometheus' rate() does on a counter reset).
    """
    def increase(selector: dict[str, t.Any]) -> float:
        first, _count = select_sum(before, selector['name'], selector.get('labels'))
        second, _count = select_sum(after, selector['name'], selector.get('labels'))
        return second - first if second >= first else second

    grown_numerator, grown_denominator = increase(numerator), increase(denominator)
    if grown_denominator <= 0:
        return None, grown_numerator, grown_denominator
    return grown_numerator / grown_denominator, grown_numerator, grown_denominator
