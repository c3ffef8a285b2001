"""The deliberate failures of release 3 (DEMOAPP_FAULT), as small decisions the app asks."""

from __future__ import annotations

import fractions
import math

from .config import Fault

# The probes stay truthful under errors:FRACTION: that fault is for canary analysis to catch, not the probes.
PROBE_PREFIX = '/api/system/'


class ErrorInjector:
    """Fails a fixed share of requests, spread evenly: request n fails when floor(n * f) > floor((n - 1) * f).

    Deterministic, so that 10 requests under errors:0.3 fail exactly 3 times.
    """

    def __init__(self, fraction: float) -> None:
        self.fraction = fractions.Fraction(str(fraction))
        self.count = 0

    def next_fails(self) -> bool:
        self.count += 1
        return math.floor(self.count * self.fraction) > math.floor((self.count - 1) * self.fraction)


def injects_errors(path: str) -> bool:
    """errors:FRACTION applies to the API (/api and /api/...), the probes under /api/system/ excepted."""
    return (path == '/api' or path.startswith('/api/')) and not path.startswith(PROBE_PREFIX)


def unhealthy(fault: Fault | None) -> bool:
    return fault is not None and fault.mode == 'unhealthy'


def seconds_until_ready(fault: Fault | None, uptime: float) -> float:
    """Under slow-start:SECONDS, readiness fails (and liveness passes) until SECONDS after the start."""
    if fault is None or fault.mode != 'slow-start':
        return 0.0
    return max(0.0, fault.value - uptime)
