"""The rollup jobs: daily, weekly and monthly aggregates from the hourly counts.

- A job processes *periods* (bucket starts, :mod:`vigil.rollup.periods`). For each it writes
  one ``activity`` record per source (:mod:`vigil.rollup.activity`), rolled up from the
  hourly counts only, never from raw events; the daily job also writes the daily summaries
  of every pattern detector (:mod:`vigil.patterns.registry`) and of every registered daily
  summarizer (:mod:`vigil.rollup.summaries`) from that day's raw events.
- With the records it writes the period's ledger row (:mod:`vigil.rollup.ledger`): in the
  same transaction when the aggregates live in the main store, else after the records have
  been written (InfluxDB: keys are deterministic, so writing again replaces). A failure
  raises, after logging why, and leaves the ledger of the failed periods unchanged: the
  next run does them again, and can never count twice.
- A period is *complete* once it has ended in the zone of every source (and the store's
  default zone, which new sources get): the earliest local date of ``now`` over those zones
  is past its end. Catch-up processes only complete periods; ``period=`` processes the one
  asked for regardless (a period processed early is dirty again as soon as more events
  arrive).
- Periods are processed in chunks (a month of days, two months of weeks, a few months): one
  read of the hourly counts and one write per chunk. A chunk that commits stays committed
  even when a later one fails.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from vigil.rollup.activity import activity_records
from vigil.rollup.aggregates import AggregateRecord, AggregateStore
from vigil.rollup.jobreport import JobReport
from vigil.rollup.ledger import bucket_totals, pending_totals
from vigil.rollup.periods import (
    ROLLUP_JOBS,
    bucket_end,
    bucket_start,
    check_job,
    complete_before,
    is_complete,
    periods_overlapping,
)
from vigil.rollup.summaries import DailySummarizer, registered_summarizers, summarize_day
from vigil.store.base import Store

__all__ = ["CHUNK_DAYS", "Progress", "backfill", "daily_summarizers", "due_cutoff",
           "due_periods", "run_rollup"]

log = logging.getLogger(__name__)

CHUNK_DAYS = {"daily": 31, "weekly": 63, "monthly": 92}
"""Local days of hourly counts a chunk of periods read and written together may span."""
Progress = Callable[[str, int, int], None]
"""``progress(job, periods done, periods to do)``, called after each chunk."""


@dataclass
class _Outcome:
    """What processing some periods did."""

    rows_written: int = 0
    notes: list[str] = field(default_factory=list)


def run_rollup(job: str, store: Store, aggregates: AggregateStore, *, now: dt.datetime,
               period: dt.date | None = None, max_periods: int = 400) -> JobReport:
    """Run rollup ``job`` (``daily``, ``weekly`` or ``monthly``).

    With ``period``: (re)process exactly the bucket holding that local date. Without: catch
    up, processing every complete period that is pending (never done, or dirty), oldest
    first, at most ``max_periods`` (``done`` is False when more remain). Raises on failure,
    leaving the ledger of the periods not written unchanged.
    """
    check_job(job)
    if max_periods < 1:
        raise ValueError(f"max_periods must be at least 1, got {max_periods}")
    started = time.perf_counter()
    cutoff = due_cutoff(store, now)
    notes: list[str] = []
    if period is not None:
        periods = [bucket_start(job, period)]
        if not is_complete(job, periods[0], cutoff):
            notes.append(f"{job} {periods[0]} has not ended in every source's zone yet; it "
                         "is processed again once more events arrive")
        more = False
    else:
        due = due_periods(store, job, cutoff)
        periods, more = due[:max_periods], len(due) > max_periods
        if more:
            notes.append(f"{len(due) - max_periods} more {job} period(s) pending; the next "
                         "run goes on")
    outcome = _process_logged(job, store, aggregates, periods, now, started)
    return JobReport(job=job, started_at=now, duration_s=time.perf_counter() - started,
                     periods=tuple(periods), rows_written=outcome.rows_written,
                     done=not more, notes=tuple(notes + outcome.notes))


def backfill(store: Store, aggregates: AggregateStore, start: dt.date, end: dt.date, *,
             now: dt.datetime, progress: Progress | None = None) -> list[JobReport]:
    """Build the daily, weekly and monthly history of the local dates ``start``-``end``.

    Every complete period overlapping the range that has events is processed again, done
    before or not (idempotent; this also repairs periods after a source's zone changed).
    Periods not complete yet are left to the scheduled jobs (a note says so). Records
    outside an InfluxDB retention policy are reported in the notes, not written.
    """
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    cutoff = due_cutoff(store, now)
    reports = []
    for job in ROLLUP_JOBS:
        started = time.perf_counter()
        first, last = periods_overlapping(job, start, end)
        periods = sorted(bucket_totals(store, job, first, last))
        notes = [f"{job} {p} has not ended in every source's zone yet: left to the "
                 "scheduled job" for p in periods if not is_complete(job, p, cutoff)]
        periods = [p for p in periods if is_complete(job, p, cutoff)]
        outcome = _process_logged(job, store, aggregates, periods, now, started, progress)
        reports.append(JobReport(job=job, started_at=now,
                                 duration_s=time.perf_counter() - started,
                                 periods=tuple(periods), rows_written=outcome.rows_written,
                                 notes=tuple(notes + outcome.notes)))
    return reports


def due_periods(store: Store, job: str, cutoff: dt.date) -> list[dt.date]:
    """The pending periods of ``job`` (never done, or dirty) that are complete before the
    local date ``cutoff`` (:func:`due_cutoff`), oldest first."""
    pending = pending_totals(store, job, None, cutoff - dt.timedelta(days=1))
    return [period for period in pending if is_complete(job, period, cutoff)]


def due_cutoff(store: Store, now: dt.datetime) -> dt.date:
    """The local date before which every day has ended in every source's zone."""
    return complete_before(now, {*store.source_timezones().values(), store.default_timezone})


def _process_logged(job: str, store: Store, aggregates: AggregateStore,
                    periods: Sequence[dt.date], now: dt.datetime, started: float,
                    progress: Progress | None = None) -> _Outcome:
    """:func:`_process`, logging a failure (which then propagates)."""
    try:
        return _process(job, store, aggregates, periods, now, started, progress)
    except Exception:
        log.exception("rollup job %s failed; its ledger is unchanged for the periods not "
                      "written, which the next run retries", job)
        raise


def _process(job: str, store: Store, aggregates: AggregateStore, periods: Sequence[dt.date],
             now: dt.datetime, started: float, progress: Progress | None) -> _Outcome:
    outcome = _Outcome()
    done = 0
    for chunk in _chunks(job, periods):
        records, seen = _chunk_records(job, store, chunk, outcome.notes)
        outcome.rows_written += _write(job, store, aggregates, chunk, records, seen, now,
                                       started, outcome.notes)
        done += len(chunk)
        if progress is not None:
            progress(job, done, len(periods))
    return outcome


def _chunks(job: str, periods: Sequence[dt.date]) -> list[list[dt.date]]:
    """Sorted periods in runs whose buckets span at most ``CHUNK_DAYS[job]`` local days."""
    chunks: list[list[dt.date]] = []
    for period in sorted(periods):
        if chunks and (bucket_end(job, period) - chunks[-1][0]).days <= CHUNK_DAYS[job]:
            chunks[-1].append(period)
        else:
            chunks.append([period])
    return chunks


def _chunk_records(job: str, store: Store, chunk: Sequence[dt.date], notes: list[str]
                   ) -> tuple[list[AggregateRecord], dict[dt.date, int]]:
    """The records of the periods in ``chunk`` and the events each held."""
    hourly = store.hourly_count_rows(chunk[0], bucket_end(job, chunk[-1]) - dt.timedelta(days=1))
    rollup = activity_records(job, partial(bucket_start, job), hourly)
    notes.extend(rollup.notes)
    records = [r for p in chunk for r in rollup.records.get(p, [])]
    seen = {p: rollup.events.get(p, 0) for p in chunk}
    if job == "daily":
        records += _daily_summaries(store, chunk, seen, notes)
    return records, seen


def daily_summarizers() -> tuple[DailySummarizer, ...]:
    """What the daily job runs on each day: every pattern detector's summarizer, then the
    registered summarizers."""
    from vigil.patterns.registry import PatternSummarizer, detectors  # imports vigil.rollup

    return (*(PatternSummarizer(detector) for detector in detectors()),
            *registered_summarizers())


def _daily_summaries(store: Store, days: Sequence[dt.date], seen: dict[dt.date, int],
                     notes: list[str]) -> list[AggregateRecord]:
    """The summarizers' records of each day whose raw events are all there."""
    summarizers = daily_summarizers()
    records: list[AggregateRecord] = []
    for day in days:
        if not seen[day]:
            continue
        events = store.events_of_local_day(day)
        if events.num_rows < seen[day]:
            notes.append(f"daily {day}: only {events.num_rows} of {seen[day]} raw events "
                         "remain; detector summaries kept as they were")
            continue
        records += summarize_day(day, events, summarizers)
    return records


def _write(job: str, store: Store, aggregates: AggregateStore, chunk: Sequence[dt.date],
           records: list[AggregateRecord], seen: dict[dt.date, int], now: dt.datetime,
           started: float, notes: list[str]) -> int:
    """Write the records and then the ledger rows; in one transaction when the aggregates
    are in the main store. Returns the records written."""
    def write_both() -> int:
        result = aggregates.write_batch(records)
        outside = Counter(r.bucket for r in result.outside_retention)
        for period, count in sorted(outside.items()):
            notes.append(f"{job} {period}: {count} record(s) older than the InfluxDB "
                         "retention policy, not written")
        written = Counter(r.bucket for r in records)
        finished = now + dt.timedelta(seconds=time.perf_counter() - started)
        store.record_rollup_runs(job, [(p, seen[p], written[p] - outside[p], now, finished)
                                       for p in chunk])
        return result.written

    if getattr(aggregates, "store", None) is store:
        with store.transaction():
            return write_both()
    return write_both()
