"""The five jobs of ``vigil serve`` (daily, weekly and monthly rollups, pattern detection,
retention), built to write through the service's single writer in bounded steps (see
:mod:`vigil.rollup.scheduler` on why)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from vigil.rollup.jobreport import JOB_NAMES, JobFunction, JobReport
from vigil.rollup.periods import ROLLUP_JOBS
from vigil.rollup.scheduler import JobCancelledError, ScheduledJob

if TYPE_CHECKING:
    from vigil.config import Settings
    from vigil.rollup.aggregates import AggregateStore
    from vigil.rollup.retention import WriteRunner
    from vigil.store.base import Store

__all__ = ["PATTERNS_JOB", "ROLLUP_STEP", "combine_reports", "patterns_job", "retention_job",
           "rollup_job", "run_patterns", "service_jobs"]

ROLLUP_STEP = {"daily": 7, "weekly": 4, "monthly": 2}
"""Periods a rollup processes per write function (one writer transaction)."""
PATTERNS_JOB = "patterns"


def rollup_job(job: str, store: Store, aggregates: AggregateStore, run_write: WriteRunner,
               *, max_periods: int = 400, stop: threading.Event | None = None
               ) -> JobFunction:
    """Rollup ``job`` catching up through ``run_write``, :data:`ROLLUP_STEP` periods per
    write function, at most ``max_periods`` per run. When nothing is due it only reads."""
    from vigil.rollup.jobs import run_rollup

    def run(now: dt.datetime) -> JobReport:
        started = time.perf_counter()
        if not _rollup_due(job, store, now):
            return JobReport(job=job, started_at=now, duration_s=time.perf_counter() - started,
                             notes=("nothing pending",))
        reports: list[JobReport] = []
        left = max_periods
        while left > 0:
            if stop is not None and stop.is_set():
                raise JobCancelledError(f"{job}: the scheduler is stopping")
            reports.append(run_write(partial(run_rollup, job, aggregates=aggregates, now=now,
                                             max_periods=min(ROLLUP_STEP[job], left))))
            left -= len(reports[-1].periods)
            if reports[-1].done or not reports[-1].periods:
                break
        return combine_reports(job, now, reports, time.perf_counter() - started)

    return run


def _rollup_due(job: str, store: Store, now: dt.datetime) -> bool:
    """Whether catch-up has a complete pending period to process (a read only)."""
    from vigil.rollup.jobs import due_cutoff, due_periods

    return bool(due_periods(store, job, due_cutoff(store, now)))


def combine_reports(job: str, now: dt.datetime, reports: Sequence[JobReport],
                    duration_s: float) -> JobReport:
    """The reports of a run's steps as one: periods, rows and notes added up; done as the
    last step says. A step's "more pending" note is dropped when a later step went on."""
    notes: list[str] = []
    for position, report in enumerate(reports):
        later = position < len(reports) - 1
        notes.extend(note for note in report.notes
                     if not (later and f"more {job} period(s) pending" in note))
    return JobReport(job=job, started_at=now, duration_s=duration_s,
                     periods=tuple(p for r in reports for p in r.periods),
                     rows_written=sum(r.rows_written for r in reports),
                     rows_deleted=sum(r.rows_deleted for r in reports),
                     done=reports[-1].done if reports else True,
                     notes=tuple(dict.fromkeys(notes)))


def retention_job(store: Store, aggregates: AggregateStore, settings: Settings,
                  run_write: WriteRunner, *, stop: threading.Event | None = None
                  ) -> JobFunction:
    """The retention purge of the settings' policy, one batch per write function."""
    from vigil.rollup.retention import RetentionPolicy, run_retention

    policy = RetentionPolicy.from_settings(settings)

    def write(fn: Callable[[Store], Any], /) -> Any:
        if stop is not None and stop.is_set():
            raise JobCancelledError("retention: the scheduler is stopping")
        return run_write(fn)

    def run(now: dt.datetime) -> JobReport:
        return run_retention(store, aggregates, policy, now=now,
                             batch_size=settings.retention_batch_size, run_write=write)

    return run


def patterns_job(store: Store, aggregates: AggregateStore, run_write: WriteRunner
                 ) -> JobFunction:
    """Pattern detection from the daily summaries of the window ending with the last local
    day complete in every source's zone; reads outside the writer, one write through it
    (the patterns replacing the stored ones)."""

    def run(now: dt.datetime) -> JobReport:
        return run_patterns(store, aggregates, patterns_window_end(store, now), now, run_write)

    return run


def patterns_window_end(store: Store, now: dt.datetime) -> dt.date:
    """The last day of the detection window: the last local day complete in every source's
    zone, or the newest day the daily rollup has done when that is earlier (history
    imported, or no events lately), so the window holds the newest summaries."""
    from vigil.rollup.jobs import due_cutoff

    last = due_cutoff(store, now) - dt.timedelta(days=1)
    done = store.rollup_runs("daily", None, last)
    return done[-1][0] if done else last


def run_patterns(store: Store, aggregates: AggregateStore, end: dt.date, now: dt.datetime,
                 run_write: WriteRunner | None = None) -> JobReport:
    """Detect patterns over the window ending ``end`` and store them; a job report whose
    period is ``end`` and whose notes say what was found per type."""
    from vigil.patterns.service import detect_patterns

    found = detect_patterns(store, aggregates, end, now, run_write=run_write)
    counts = ", ".join(f"{name} {n}" for name, n in found.counts.items())
    notes = [f"window {found.start} to {found.end}: {len(found.patterns)} pattern(s) "
             f"from {found.read} daily summaries ({counts})"]
    if not found.read:
        notes.append("no daily summaries in the window yet: the daily rollup writes them")
    return JobReport(job=PATTERNS_JOB, started_at=now, duration_s=found.duration_s,
                     periods=(end,), rows_written=found.stored or 0, notes=tuple(notes))


def service_jobs(settings: Settings, store: Store, aggregates: AggregateStore,
                 run_write: WriteRunner, stop: threading.Event | None = None
                 ) -> list[ScheduledJob]:
    """The jobs of the service (:data:`JOB_NAMES`) with the settings' cron strings."""
    crons: Mapping[str, str] = {"daily": settings.cron_daily, "weekly": settings.cron_weekly,
                                "monthly": settings.cron_monthly,
                                PATTERNS_JOB: settings.cron_patterns,
                                "retention": settings.cron_retention}
    functions: dict[str, JobFunction] = {
        job: rollup_job(job, store, aggregates, run_write, stop=stop)
        for job in ROLLUP_JOBS}
    functions[PATTERNS_JOB] = patterns_job(store, aggregates, run_write)
    functions["retention"] = retention_job(store, aggregates, settings, run_write, stop=stop)
    return [ScheduledJob(name, crons[name], functions[name]) for name in JOB_NAMES]
