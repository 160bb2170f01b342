"""The retention job: purge each storage layer past its retention, in bounded batches.

Like Home Assistant's recorder purge: every batch deletes at most ``batch_size`` rows in a
transaction of its own, and the report says how many rows each layer lost and whether the
purge finished (``done`` is False when ``max_batches`` stopped it; the next run goes on).

What is kept, whatever its age:

- **Raw events** of a local day whose daily rollup (activity and detector summaries) is not
  done, or is dirty (:func:`vigil.rollup.ledger.pending_periods`); and the entry/exit events
  session maintenance still needs (see :mod:`vigil.store.retention_tables`).
- **Hourly counts** of a day, week or month whose daily, weekly or monthly rollup is not
  done. Hourly counts go by whole weeks and months only (the cut-off is moved back to the
  start of its week and of its month), so a rollup re-run never sees part of a period; and
  never within the baseline window (:meth:`RetentionPolicy.from_settings`).
- **Derived state** (sessions, baselines, anomalies, alerts) and dead letters: not purged.

A period is purged once all of it is older than the layer's retention: with 30 days of raw
events, the local days before ``today - 30`` go. ``0`` days keeps a layer forever. Aggregate
records in InfluxDB expire by its retention policies, not by this job.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol, TypeVar

from vigil.rollup.jobreport import JobReport
from vigil.rollup.jobs import due_cutoff
from vigil.rollup.ledger import pending_periods
from vigil.rollup.periods import bucket_end, bucket_start
from vigil.rollup.sql_aggregates import SqlAggregateStore
from vigil.store.base import Store

if TYPE_CHECKING:
    from vigil.config import Settings
    from vigil.rollup.aggregates import AggregateStore

__all__ = ["RetentionPolicy", "WriteRunner", "in_transaction", "run_retention"]

log = logging.getLogger(__name__)

T = TypeVar("T")
JOB = "retention"
AGGREGATE_LAYERS = ("daily", "weekly", "monthly")


class WriteRunner(Protocol):
    """Runs a write function on the store and returns its result once committed (the
    service's :meth:`vigil.writer.Writer.run`, or :func:`in_transaction`)."""

    def __call__(self, fn: Callable[[Store], T], /) -> T: ...


def in_transaction(store: Store) -> WriteRunner:
    """A :class:`WriteRunner` that runs each write function in a transaction of ``store``
    (for a process that owns the store alone, like the CLI)."""

    def run(fn: Callable[[Store], T], /) -> T:
        with store.transaction():
            return fn(store)

    return run


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each layer is kept (0 = forever)."""

    raw_days: int = 30
    hourly_days: int = 400
    daily_days: int = 90
    """Daily aggregates: the per-detector daily summaries and daily activity."""
    weekly_days: int = 1096
    monthly_days: int = 0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{item.name} must be a whole number of days >= 0 "
                                 f"(0 = keep forever), got {value!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        """The ``VIGIL_RETENTION_*`` settings. Hourly counts are kept at least as long as
        the baseline window (baselines are views over them); a shorter setting is raised
        to it, with a warning."""
        hourly = settings.retention_hourly_days
        window = 7 * settings.baseline_window_weeks
        if 0 < hourly < window:
            log.warning("VIGIL_RETENTION_HOURLY_DAYS=%d is shorter than the baseline window "
                        "(%d weeks): hourly counts are kept %d days", hourly,
                        settings.baseline_window_weeks, window)
            hourly = window
        return cls(raw_days=settings.retention_raw_days, hourly_days=hourly,
                   daily_days=settings.retention_daily_days,
                   weekly_days=settings.retention_weekly_days,
                   monthly_days=settings.retention_monthly_days)

    def aggregate_days(self, layer: str) -> int:
        """Days the aggregate records of ``layer`` are kept."""
        return {"daily": self.daily_days, "weekly": self.weekly_days,
                "monthly": self.monthly_days}[layer]


@dataclass
class _Budget:
    """Batches left to run (``None``: no limit) and whether the limit stopped the purge."""

    left: int | None
    stopped: bool = False

    def take(self) -> bool:
        if self.left is None:
            return True
        if self.left <= 0:
            self.stopped = True
            return False
        self.left -= 1
        return True


def run_retention(store: Store, aggregates: AggregateStore, policy: RetentionPolicy, *,
                  now: dt.datetime, batch_size: int = 50_000, max_batches: int | None = None,
                  run_write: WriteRunner | None = None) -> JobReport:
    """Purge every layer past its retention (see the module docstring).

    Each batch runs through ``run_write`` (default: a transaction of ``store``); the notes
    give the rows deleted per layer. Raises on failure; batches committed before stay so.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches must be at least 1, got {max_batches}")
    started = time.perf_counter()
    write = run_write or in_transaction(store)
    budget = _Budget(max_batches)
    notes: list[str] = []
    deleted = 0
    for layer in _layers(store, aggregates, policy, due_cutoff(store, now), batch_size):
        if isinstance(layer, str):
            notes.append(layer)
            continue
        if budget.stopped:
            notes.append(f"{layer.name}: not purged yet")
            continue
        count = _purge_layer(write, layer, batch_size, budget)
        deleted += count
        notes.append(layer.describe(count))
    if budget.stopped:
        notes.append(f"stopped after {max_batches} batch(es); the next run goes on")
    return JobReport(job=JOB, started_at=now, duration_s=time.perf_counter() - started,
                     rows_deleted=deleted, done=not budget.stopped, notes=tuple(notes))


class _LayerPurge:
    """The batches of one layer: each deletes up to the batch size of what is past
    ``before`` (local dates, or bucket starts) in the store's current transaction."""

    def __init__(self, name: str, before: dt.date, batch: Callable[[Store], int]) -> None:
        self.name = name
        self.before = before
        self.kept_days = 0
        self._batch = batch

    def __call__(self, store: Store) -> int:
        return self._batch(store)

    def describe(self, deleted: int) -> str:
        kept = (f"; {self.kept_days} older day(s) kept: their rollup is not done"
                if self.kept_days else "")
        return f"{self.name}: {deleted} row(s) deleted (before {self.before}){kept}"


def _purge_layer(write: WriteRunner, layer: _LayerPurge, batch_size: int,
                 budget: _Budget) -> int:
    """Run batches of a layer until one deletes less than a full batch or the budget ends."""
    total = 0
    while budget.take():
        count = write(layer)
        total += count
        if count < batch_size:
            break
    return total


def _layers(store: Store, aggregates: AggregateStore, policy: RetentionPolicy,
            today: dt.date, batch_size: int) -> Iterable[_LayerPurge | str]:
    """The purge of each layer in order, or a note saying why a layer is not purged."""
    yield (_raw_layer(today - dt.timedelta(days=policy.raw_days), batch_size)
           if policy.raw_days else "raw events: kept forever")
    yield (_hourly_layer(hourly_cutoff(today, policy.hourly_days), batch_size)
           if policy.hourly_days else "hourly counts: kept forever")
    if not isinstance(aggregates, SqlAggregateStore):
        yield (f"aggregates: {type(aggregates).__name__} expires records by its own "
               "retention policies (InfluxDB: vigil_daily, vigil_weekly, vigil_monthly), "
               "not by this job")
        return
    for layer in AGGREGATE_LAYERS:
        days = policy.aggregate_days(layer)
        if not days:
            yield f"{layer} aggregates: kept forever"
            continue
        yield _aggregate_layer(aggregates.store, layer,
                               bucket_start(layer, today - dt.timedelta(days=days)), batch_size)


def hourly_cutoff(today: dt.date, days: int) -> dt.date:
    """The first local date whose hourly counts stay: ``today - days`` moved back to the
    start of its week and of its month, so only whole weeks and months go."""
    day = today - dt.timedelta(days=days)
    return min(bucket_start("weekly", day), bucket_start("monthly", day))


def _raw_layer(before: dt.date, batch_size: int) -> _LayerPurge:
    def batch(store: Store) -> int:
        oldest = store.oldest_event_day()
        if oldest is None or oldest >= before:
            return 0
        keep = _pending_days(store, ("daily",), oldest, before)
        layer.kept_days = len(keep)
        return store.purge_events(before, keep, batch_size)

    layer = _LayerPurge("raw events", before, batch)
    return layer


def _hourly_layer(before: dt.date, batch_size: int) -> _LayerPurge:
    def batch(store: Store) -> int:
        oldest = store.oldest_hourly_day()
        if oldest is None or oldest >= before:
            return 0
        keep = _pending_days(store, ("daily", "weekly", "monthly"), oldest, before)
        layer.kept_days = len(keep)
        return store.purge_hourly_counts(before, keep, batch_size)

    layer = _LayerPurge("hourly counts", before, batch)
    return layer


def _aggregate_layer(store: Store, layer: str, before: dt.date, batch_size: int
                     ) -> _LayerPurge:
    """Batches on the aggregate store's own main store (the write runner's store may be
    another one; when it is the same, the purge joins the runner's transaction)."""
    return _LayerPurge(f"{layer} aggregates", before,
                       lambda _: store.purge_aggregate_rows(layer, before, batch_size))


def _pending_days(store: Store, jobs: Iterable[str], start: dt.date, before: dt.date
                  ) -> list[dt.date]:
    """The local dates from ``start`` to the day before ``before`` lying in a period of one
    of ``jobs`` that is not rolled up (or is dirty)."""
    end = before - dt.timedelta(days=1)
    days: set[dt.date] = set()
    for job in jobs:
        for period in pending_periods(store, job, start, end):
            day = max(period, start)
            while day < min(bucket_end(job, period), before):
                days.add(day)
                day += dt.timedelta(days=1)
    return sorted(days)
