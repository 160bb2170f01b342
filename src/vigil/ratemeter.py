"""A rolling event-rate meter: per-second counts over a bounded window.

Pure and thread-safe: the caller passes the clock value (``time.monotonic()`` at the edge),
so the meter is deterministic under test. Counts live in one ring of per-second buckets;
a bucket is reused once its second has left the window.
"""

from __future__ import annotations

import math
import threading

__all__ = ["WINDOW_S", "RateMeter"]

WINDOW_S = 300
"""Seconds the meter remembers (and the span of :meth:`RateMeter.rate_per_minute`)."""


class RateMeter:
    """Counts added per second; sums and rates over the last ``window_s`` seconds.

    ``started`` is the clock value from which the meter counts: while less than the window
    has passed since then, the rate is over that shorter span.
    """

    def __init__(self, started: float, window_s: int = WINDOW_S) -> None:
        if window_s < 1:
            raise ValueError("window_s must be at least 1")
        self.started = started
        self.window_s = window_s
        self._counts = [0] * window_s
        self._seconds = [-1] * window_s  # the second each bucket holds (-1: none yet)
        self._lock = threading.Lock()

    def add(self, count: int, now: float) -> None:
        """Count ``count`` events at clock value ``now`` (seconds).

        An add for a second already older than the window (possible only with a clock
        value read long before) is ignored: its bucket holds a newer second.
        """
        if count <= 0:
            return
        second = math.floor(now)
        slot = second % self.window_s
        with self._lock:
            held = self._seconds[slot]
            if held == second:
                self._counts[slot] += count
            elif held < second:
                self._seconds[slot] = second
                self._counts[slot] = count

    def last(self, seconds: int, now: float) -> int:
        """Events counted in the last ``seconds`` whole seconds, the current one included
        (``seconds`` is clamped to the window)."""
        return self._sum_since(math.floor(now) - min(max(seconds, 0), self.window_s) + 1, now)

    def rate_per_minute(self, now: float) -> float:
        """Events per minute over the window, or over the time since ``started`` when that
        is shorter (the span is at least one second, so a first burst reads sanely)."""
        second = math.floor(now)
        first = max(second - self.window_s + 1, math.floor(self.started))
        span = max(now - max(first, self.started), 1.0)
        return self._sum_since(first, now) * 60.0 / span

    def _sum_since(self, first: int, now: float) -> int:
        """The counts of the seconds ``first`` .. ``floor(now)``."""
        second = math.floor(now)
        with self._lock:
            return sum(count for held, count in zip(self._seconds, self._counts, strict=True)
                       if first <= held <= second)
