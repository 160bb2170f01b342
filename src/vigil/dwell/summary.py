"""Summaries of a sessions table: counts per status and complete-session duration statistics.

Every session is counted under its status, so incomplete ones (``open``, ``timed_out``,
``orphan_exit``) are reported, never dropped. Duration statistics use ``complete`` sessions
only, so incomplete ones never bias the averages. Percentiles (median = 50th, p90) use
**linear interpolation** between closest ranks (numpy's default, SQL ``percentile_cont``):
for sorted values ``v[0..n-1]`` the q-quantile is at fractional index ``q * (n - 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.dwell.pairing import STATUSES

__all__ = ["DurationStats", "SessionSummary", "summarize_sessions"]


@dataclass(frozen=True)
class DurationStats:
    """Statistics of complete-session durations in ms (``None`` when there are none)."""

    count: int
    total_ms: int
    mean_ms: float | None
    median_ms: float | None
    p90_ms: float | None
    max_ms: int | None

    @classmethod
    def of(cls, durations_ms: npt.ArrayLike) -> DurationStats:
        """Statistics of a 1-D array of durations in milliseconds."""
        values = np.asarray(durations_ms, dtype=np.int64)
        if len(values) == 0:
            return cls(0, 0, None, None, None, None)
        return cls(
            count=len(values),
            total_ms=int(values.sum()),
            mean_ms=float(values.mean()),
            median_ms=float(np.quantile(values, 0.5)),
            p90_ms=float(np.quantile(values, 0.9)),
            max_ms=int(values.max()),
        )


@dataclass(frozen=True)
class SessionSummary:
    """Counts per status (all statuses present, zero when absent) and duration statistics."""

    counts: dict[str, int]
    durations: DurationStats

    @property
    def total(self) -> int:
        """All sessions, whatever their status."""
        return sum(self.counts.values())

    @property
    def incomplete(self) -> int:
        """Sessions that are not ``complete`` (open, timed out, orphan exits)."""
        return self.total - self.counts["complete"]


def summarize_sessions(sessions: pa.Table) -> SessionSummary:
    """Summarise a table shaped like ``pair_sessions`` output (``status``, ``duration_ms``)."""
    status = sessions.column("status")
    counts = {name: int(pc.sum(pc.equal(status, name)).as_py() or 0) for name in STATUSES}
    complete = sessions.filter(pc.equal(status, "complete")).column("duration_ms")
    durations = complete.drop_null().to_numpy()
    return SessionSummary(counts=counts, durations=DurationStats.of(durations))
