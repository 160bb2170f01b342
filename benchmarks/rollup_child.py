"""The measured processes of :mod:`benchmarks.rollup`: ``python -m benchmarks.rollup_child
daily|daily-raw DB DAY NOW`` or ``backfill DB START END NOW`` prints JSON.

Such a process imports what a user's job process would (the store and the rollup jobs),
not the benchmark's generator: this module imports only the standard library at its top,
and hides pandas before Vigil is imported, as in a default install (pandas is only a
dependency of this suite's reference scripts; with it importable, pyarrow loads it on its
first array conversion, about 35 MB more).
"""

from __future__ import annotations

import datetime as dt
import importlib.abc
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from vigil.rollup.aggregates import AggregateRecord
    from vigil.store import Store

MIB = 1024 * 1024
ARROW_POOL_SETTING, ARROW_POOL = "ARROW_DEFAULT_MEMORY_POOL", "jemalloc"
"""Arrow's allocator in the processes that run jobs (``vigil serve``, ``vigil rollup``): see
:data:`vigil.cli.main.ARROW_POOL` (not imported: this module imports only the standard
library at its top; a test checks the two agree)."""
LAYERS = ("daily", "weekly", "monthly")
SUMMARIZER = "bench_raw_events"
"""The detector name of :class:`RawEventCount`'s records."""


class HidePandas(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` fail."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def current_rss() -> int:
    """This process's resident set size in bytes (``VmRSS``; 0 where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


class RawEventCount:
    """A summarizer that reads the day's raw events and counts them per source."""

    name = SUMMARIZER

    def summarize(self, day: dt.date, events: pa.Table) -> list[AggregateRecord]:
        from vigil.rollup.aggregates import AggregateRecord

        counts = events.group_by("source_id").aggregate([("event_id", "count")])
        return [AggregateRecord("daily", self.name, source, day, {"n": n})
                for source, n in zip(counts.column("source_id").to_pylist(),
                                     counts.column("event_id_count").to_pylist(), strict=True)]


def layer_totals(store: Store, start: dt.date, end: dt.date) -> dict[str, float | None]:
    """The ``events`` of the activity records of each layer over ``start``-``end``."""
    from vigil.rollup import SqlAggregateStore

    aggregates = SqlAggregateStore(store)
    return {layer: aggregates.aggregate(start, end, "events", "sum", detector="activity",
                                        layer=layer) for layer in LAYERS}


def child_daily(db: Path, day: dt.date, now: dt.datetime, raw: bool) -> dict[str, Any]:
    """The daily job on ``day``, first run in this process then warm (with a summarizer
    reading the day's raw events when ``raw``); the process's RSS before the job. What the
    job wrote is checked by the parent afterwards (:func:`benchmarks.rollup.daily_answers`),
    so that this process does only what a job process does."""
    from vigil.rollup import SqlAggregateStore
    from vigil.rollup.jobs import run_rollup
    from vigil.rollup.summaries import temporarily_registered
    from vigil.store import open_store

    store = open_store(str(db))
    try:
        rss_before = current_rss()
        aggregates = SqlAggregateStore(store)
        with temporarily_registered(*([RawEventCount()] if raw else [])):
            clock = time.perf_counter()
            report = run_rollup("daily", store, aggregates, now=now, period=day)
            seconds = time.perf_counter() - clock
            clock = time.perf_counter()
            run_rollup("daily", store, aggregates, now=now, period=day)
            warm_seconds = time.perf_counter() - clock
        return {"seconds": seconds, "warm_seconds": warm_seconds,
                "rss_before_job_mb": rss_before / MIB, "rows_written": report.rows_written}
    finally:
        store.close()


def child_backfill(db: Path, start: dt.date, end: dt.date, now: dt.datetime
                   ) -> dict[str, Any]:
    """A backfill of ``start``-``end``: its time, its reports and the layers' totals."""
    from vigil.rollup import SqlAggregateStore
    from vigil.rollup.jobs import backfill
    from vigil.store import open_store

    store = open_store(str(db))
    try:
        clock = time.perf_counter()
        reports = backfill(store, SqlAggregateStore(store), start, end, now=now)
        seconds = time.perf_counter() - clock
        return {"seconds": seconds,
                "jobs": {r.job: {"periods": len(r.periods), "rows_written": r.rows_written,
                                 "seconds": round(r.duration_s, 3), "notes": list(r.notes)}
                         for r in reports},
                "layer_events": layer_totals(store, start - dt.timedelta(days=31), end)}
    finally:
        store.close()


def child_main(args: list[str]) -> None:
    """Run the child ``args`` names (pandas hidden) and print its JSON."""
    kind, db, *rest = args
    sys.meta_path.insert(0, HidePandas())
    os.environ.setdefault(ARROW_POOL_SETTING, ARROW_POOL)  # as the `vigil` script sets it
    if kind in ("daily", "daily-raw"):
        result = child_daily(Path(db), dt.date.fromisoformat(rest[0]),
                             dt.datetime.fromisoformat(rest[1]), kind == "daily-raw")
    elif kind == "backfill":
        result = child_backfill(Path(db), dt.date.fromisoformat(rest[0]),
                                dt.date.fromisoformat(rest[1]),
                                dt.datetime.fromisoformat(rest[2]))
    else:
        raise SystemExit(f"unknown benchmark child {kind!r}: daily, daily-raw or backfill")
    print(json.dumps(result))


if __name__ == "__main__":
    child_main(sys.argv[1:])
