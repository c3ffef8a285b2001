"""Simulated time: wall time scaled by a speed factor, plus manual advances for unit tests.

Controllers measure durations in simulated time, and objects store it. Clients see the same moments on
the wall clock (``wall_time``), so a timestamp is never in their future and kubectl's AGE stays sane."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone


class Clock:
    """``now()`` runs ``speed`` times faster than the wall clock (0 freezes it); ``advance()`` jumps ahead."""

    def __init__(self, speed: float = 1.0, start: float | None = None):
        self._lock = threading.Lock()
        self._speed = speed
        self._anchor_real = time.monotonic()
        self._wall_at_anchor = time.time() - self._anchor_real
        self._anchor_sim = time.time() if start is None else start
        # (simulated, wall, speed) from each start, speed change or jump on: maps simulated times to wall ones.
        self._segments: list[tuple[float, float, float]] = [(self._anchor_sim, self._wall(self._anchor_real), speed)]

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        with self._lock:
            return self._anchor_sim + (time.monotonic() - self._anchor_real) * self._speed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._anchor_sim += seconds
            real = time.monotonic()
            self._segments.append((self._anchor_sim + (real - self._anchor_real) * self._speed, self._wall(real), self._speed))

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on without a jump in simulated time."""
        with self._lock:
            real = time.monotonic()
            self._anchor_sim += (real - self._anchor_real) * self._speed
            self._anchor_real = real
            self._speed = speed
            self._segments.append((self._anchor_sim, self._wall(real), speed))

    def _wall(self, real: float) -> float:
        return self._wall_at_anchor + real

    def wall_time(self, simulated: float) -> float:
        """The wall-clock moment a simulated time is shown as in API objects: never later than the wall clock
        for a past moment (a jump by ``advance`` takes no wall time); a future one is extrapolated at the speed."""
        with self._lock:
            segments = list(self._segments)
        index = next((i for i in range(len(segments) - 1, -1, -1) if segments[i][0] <= simulated), 0)
        sim_start, wall_start, speed = segments[index]
        wall = wall_start + ((simulated - sim_start) / speed if speed > 0 else 0.0)
        if index + 1 < len(segments):
            wall = min(wall, segments[index + 1][1])
        return wall

    def simulated_time(self, wall: float) -> float:
        """The inverse of ``wall_time`` for times clients write (the latest simulated moment shown as ``wall``)."""
        with self._lock:
            segments = list(self._segments)
        index = next((i for i in range(len(segments) - 1, -1, -1) if segments[i][1] <= wall), 0)
        sim_start, wall_start, speed = segments[index]
        simulated = sim_start + (wall - wall_start) * speed
        if index + 1 < len(segments):
            simulated = min(simulated, segments[index + 1][0])
        return simulated

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


# metav1.Time fields of the served kinds; their values are converted between simulated and wall time at the API.
TIME_FIELDS = frozenset(('creationTimestamp', 'deletionTimestamp', 'lastTransitionTime', 'lastUpdateTime', 'lastProbeTime',
                         'lastHeartbeatTime', 'startTime', 'completionTime', 'startedAt', 'finishedAt', 'firstTimestamp',
                         'lastTimestamp', 'lastScaleTime'))
# Maps of user strings (and a ControllerRevision's data, whose bytes are hashed) are never rewritten.
_OPAQUE_FIELDS = frozenset(('annotations', 'labels', 'data', 'binaryData', 'stringData', 'matchLabels', 'nodeSelector', 'selector'))
_SECOND_PRECISION = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')


def convert_times(value, convert):
    """A copy of ``value`` with every metav1.Time string replaced by ``convert(epoch seconds)`` as RFC3339."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key in TIME_FIELDS and isinstance(item, str) and _SECOND_PRECISION.match(item):
                result[key] = rfc3339(convert(parse_rfc3339(item)))
            elif key in _OPAQUE_FIELDS:
                result[key] = item
            else:
                result[key] = convert_times(item, convert)
        return result
    if isinstance(value, list):
        return [convert_times(item, convert) for item in value]
    return value
