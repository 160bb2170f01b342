"""What one run of a scheduled job (rollup, patterns or retention) did, as every job
reports it.

The scheduler, ``GET /api/v1/jobs``, ``/metrics`` and ``vigil rollup run`` all read this
one shape, so a job only has to return it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["JOB_NAMES", "JobFunction", "JobReport"]

JOB_NAMES: tuple[str, ...] = ("daily", "weekly", "monthly", "patterns", "retention")
"""The scheduled jobs, in the order they run when due at the same time."""


@dataclass(frozen=True)
class JobReport:
    """One run of one job: which periods it processed, what it wrote or deleted, how long."""

    job: str
    started_at: dt.datetime
    duration_s: float
    periods: tuple[dt.date, ...] = ()
    """Bucket starts processed (local days, ISO-week Mondays, first days of months)."""
    rows_written: int = 0
    rows_deleted: int = 0
    done: bool = True
    """False when bounded work stopped early (catch-up or purge); the next run goes on."""
    notes: tuple[str, ...] = field(default=())
    """Human-readable remarks: skipped periods, points outside retention, and the like."""

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "job": self.job,
            "started_at": self.started_at.isoformat(),
            "duration_s": round(self.duration_s, 6),
            "periods": [day.isoformat() for day in self.periods],
            "rows_written": self.rows_written,
            "rows_deleted": self.rows_deleted,
            "done": self.done,
            "notes": list(self.notes),
        }


JobFunction = Callable[[dt.datetime], JobReport]
"""A job ready to run: given the current instant (the only clock read is the caller's), it
does its work and reports. It raises on failure and leaves the ledger unchanged."""
