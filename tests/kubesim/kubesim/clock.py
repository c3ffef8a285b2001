"""Simulated time: wall time scaled by a speed factor, plus manual advances for unit tests."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class Clock:
    """``now()`` runs ``speed`` times faster than the wall clock (0 freezes it); ``advance()`` jumps ahead."""

    def __init__(self, speed: float = 1.0, start: float | None = None):
        self._lock = threading.Lock()
        self._speed = speed
        self._anchor_real = time.monotonic()
        self._anchor_sim = time.time() if start is None else start

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        with self._lock:
            return self._anchor_sim + (time.monotonic() - self._anchor_real) * self._speed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._anchor_sim += seconds

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on without a jump in simulated time."""
        with self._lock:
            real = time.monotonic()
            self._anchor_sim += (real - self._anchor_real) * self._speed
            self._anchor_real = real
            self._speed = speed

    def real_seconds(self, simulated: float) -> float:
        """How long to wait on the wall clock for ``simulated`` seconds to pass (a tick if frozen)."""
        return simulated / self._speed if self._speed > 0 else 0.05

    def timestamp(self, at: float | None = None) -> str:
        return rfc3339(self.now() if at is None else at)


def rfc3339(epoch: float) -> str:
    """Second precision with Z, as metav1.Time serialises."""
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_rfc3339(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.strptime(text[:19], '%Y-%m-%dT%H:%M:%S').replace(tzinfo=timezone.utc).timestamp()
