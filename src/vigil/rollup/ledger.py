"""The runs ledger of the rollup jobs: which periods are done, which are pending.

A period (a bucket start, see :mod:`vigil.rollup.periods`) is *clean* for a job when the
ledger holds a row for it whose ``events_seen`` is at least the period's event count in the
hourly counts now. It is *pending* when it has events but no ledger row (never processed)
or a row that saw fewer events than there are now (late events arrived: it is dirty).
Events are insert-only, so a period's count only grows; a count that shrank (hourly counts
purged by retention) does not make a period pending, so a purge never triggers a rollup of
partial data.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from vigil.rollup.periods import bucket_start, check_job, periods_overlapping
from vigil.store.base import Store

__all__ = ["bucket_totals", "pending_periods", "pending_totals"]


def pending_periods(store: Store, job: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """Bucket starts of ``job`` overlapping the local dates ``start``-``end`` that have
    events in the hourly counts but no clean ledger row (never processed, or dirty), sorted.
    """
    if start > end:
        return []
    first, last = periods_overlapping(job, start, end)
    return sorted(pending_totals(store, job, first, last))


def pending_totals(store: Store, job: str, first: dt.date | None, last: dt.date | None
                   ) -> dict[dt.date, int]:
    """``{period: events now}`` of the pending periods of ``job`` whose buckets lie within
    the local days ``first``-``last`` (open ends when ``None``; pass whole buckets)."""
    totals = bucket_totals(store, job, first, last)
    seen = dict(store.rollup_runs(job, first, last))
    return {period: events for period, events in sorted(totals.items())
            if events > 0 and (period not in seen or events > seen[period])}


def bucket_totals(store: Store, job: str, first: dt.date | None, last: dt.date | None
                  ) -> dict[dt.date, int]:
    """``{period: events}`` of the buckets of ``job`` with events in ``first``-``last``."""
    check_job(job)
    totals: dict[dt.date, int] = defaultdict(int)
    for day, events in store.daily_event_totals(first, last):
        totals[bucket_start(job, day)] += events
    return dict(totals)
