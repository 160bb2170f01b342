"""Rollup job benchmarks: ``python -m benchmarks.rollup [--backfill-rows N]`` prints JSON.

On synthetic camera events (:mod:`vigil.synth`, the default cameras in four zones) stored
in a new DuckDB file with the SQL aggregate store:

1. **The daily job** (``rollup_daily``): 100,000 events generated for one day (about 95% of
   them on that local day, the rest spill over midnight in the cameras' zones); a fresh
   process opens the store and runs ``run_rollup("daily", period=day)`` (timed:
   ``seconds``, the first run in the process; ``warm_seconds``, a second one), then the
   same with a daily summarizer registered that reads the day's raw events
   (``with_raw_events_seconds``, what detector summaries will cost). The process's peak
   RSS (``peak_rss_mb``) is measured from outside (:func:`benchmarks.procs.run_measured`).
2. **A 90-day backfill** (``rollup_backfill``): 10M events over 90 days; a fresh process runs
   ``backfill`` over the range (``seconds``: daily, weekly and monthly layers, ledger rows
   included). Ingest into the store (``ingest_seconds``) is reported apart.

Both check their answers: the records of each layer add up to the events stored (``correct``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.abc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.procs import clean_env, run_measured
from vigil.rollup.aggregates import AggregateRecord
from vigil.store import Store, open_store
from vigil.store.base import EVENT_INPUT_SCHEMA
from vigil.synth import DEFAULT_CAMERAS, SynthConfig, generate_events

MIB = 1024 * 1024
DAILY_ROWS = 100_000
DAILY_DAY = dt.date(2026, 3, 10)
BACKFILL_ROWS = 10_000_000
BACKFILL_DAYS = 90
BACKFILL_START = dt.date(2026, 1, 1)
BACKFILL_PARTS = 10
"""The backfill data is generated and ingested in this many slices of days (memory)."""
CHILD_TIMEOUT_S = 1800.0
LAYERS = ("daily", "weekly", "monthly")

RESULT_KEYS = ("rollup_daily", "rollup_backfill")
"""Top-level keys of :func:`run_rollup_benchmarks` (``covers`` for ``run.guarded``)."""

TARGETS: tuple[tuple[str, str, str, str, float, str], ...] = (
    ("rollup: daily job for one day of 100,000 events", "rollup_daily", "seconds", "<", 1.0,
     "s"),
    ("rollup: daily job peak RSS (a process opening the store and running it)",
     "rollup_daily", "peak_rss_mb", "<", 150.0, "MB"),
    ("rollup: 90-day backfill of 10M events, daily + weekly + monthly (ingest excluded)",
     "rollup_backfill", "seconds", "<", 30.0, "s"),
)
"""Bars in the field order of ``benchmarks.targets.Target`` (name, benchmark, metric, op,
value, unit)."""

CORRECTNESS: tuple[tuple[str, str], ...] = (
    ("rollup: the daily job's records add up to the day's events", "rollup_daily"),
    ("rollup: backfilled daily, weekly and monthly records add up to the events stored",
     "rollup_backfill"),
)
"""Correctness checks in the shape of ``benchmarks.targets.CORRECTNESS``."""


def log(message: str) -> None:
    print(f"[rollup] {message}", file=sys.stderr, flush=True)


# -- data ----------------------------------------------------------------------------------
def store_batch(synth: pa.Table) -> pa.Table:
    """Synthetic rows as a batch for ``Store.insert_events``."""
    n = synth.num_rows
    stamp = pc.utf8_slice_codeunits(synth.column("timestamp"), 0, 23)
    ts = pc.strptime(pc.utf8_slice_codeunits(stamp, 0, 19), format="%Y-%m-%dT%H:%M:%S",
                     unit="us")
    millis = pc.cast(pc.utf8_slice_codeunits(stamp, 20, 23), pa.int64())
    micros = pc.add(pc.cast(ts, pa.int64()), pc.multiply(millis, 1000))
    labels = pa.ListArray.from_arrays(pa.array(range(n + 1), pa.int32()),
                                      synth.column("label").combine_chunks())
    nulls = pa.nulls(n, pa.string())
    return pa.table({
        "event_id": synth.column("event_id"), "source_id": synth.column("camera_id"),
        "event_type": synth.column("event_type"),
        "ts": pc.cast(micros, pa.timestamp("us", tz="UTC")), "labels": labels,
        "confidence": synth.column("confidence"), "model_id": synth.column("model_id"),
        "frame_id": synth.column("frame_id"), "subject_id": synth.column("person_id"),
        "zone": synth.column("zone"), "state": nulls, "detections": nulls,
        "attributes": nulls,
    }, schema=EVENT_INPUT_SCHEMA)


def build_store(db: Path, start: dt.date, days: int, rows: int, parts: int) -> dict[str, Any]:
    """A DuckDB store holding ``rows`` synthetic events over ``days`` local days; the time
    to generate and to ingest them."""
    store = open_store(str(db))
    generate_s = ingest_s = 0.0
    stored = 0
    try:
        for camera in DEFAULT_CAMERAS:
            store.set_source_timezone(camera.camera_id, camera.timezone)
        parts = max(1, min(parts, days))
        for part in range(parts):
            first, last = days * part // parts, days * (part + 1) // parts
            clock = time.perf_counter()
            synth = generate_events(SynthConfig(
                seed=part + 1, start=start + dt.timedelta(days=first), days=last - first,
                rows=rows * (last - first) // days, incomplete_fraction=0.0))
            batch = store_batch(synth)
            del synth
            generate_s += time.perf_counter() - clock
            clock = time.perf_counter()
            stored += store.insert_events(batch)
            ingest_s += time.perf_counter() - clock
            log(f"stored {stored:,} events ({part + 1}/{parts})")
    finally:
        store.close()
    return {"events": stored, "generate_seconds": round(generate_s, 3),
            "ingest_seconds": round(ingest_s, 3)}


# -- what the measured child processes run --------------------------------------------------
class RawEventCount:
    """A summarizer that reads the day's raw events and counts them per source."""

    name = "bench_raw_events"

    def summarize(self, day: dt.date, events: pa.Table) -> list[AggregateRecord]:
        counts = events.group_by("source_id").aggregate([("event_id", "count")])
        return [AggregateRecord("daily", self.name, source, day, {"n": n})
                for source, n in zip(counts.column("source_id").to_pylist(),
                                     counts.column("event_id_count").to_pylist(), strict=True)]


def layer_totals(store: Store, start: dt.date, end: dt.date) -> dict[str, float | None]:
    from vigil.rollup import SqlAggregateStore

    aggregates = SqlAggregateStore(store)
    return {layer: aggregates.aggregate(start, end, "events", "sum", detector="activity",
                                        layer=layer) for layer in LAYERS}


def child_daily(db: Path, day: dt.date, now: dt.datetime, raw: bool) -> dict[str, Any]:
    """The daily job on ``day``, first run in this process then warm (with a summarizer
    reading the day's raw events when ``raw``); the process's RSS before the job."""
    import psutil

    from vigil.rollup import SqlAggregateStore
    from vigil.rollup.jobs import run_rollup
    from vigil.rollup.summaries import temporarily_registered

    store = open_store(str(db))
    try:
        rss_before = psutil.Process().memory_info().rss
        aggregates = SqlAggregateStore(store)
        with temporarily_registered(*([RawEventCount()] if raw else [])):
            clock = time.perf_counter()
            report = run_rollup("daily", store, aggregates, now=now, period=day)
            seconds = time.perf_counter() - clock
            clock = time.perf_counter()
            run_rollup("daily", store, aggregates, now=now, period=day)
            warm_seconds = time.perf_counter() - clock
        summary = aggregates.aggregate(day, day, "n", "sum", detector=RawEventCount.name)
        hourly = dict(store.daily_event_totals(day, day)).get(day, 0)
        return {"seconds": seconds, "warm_seconds": warm_seconds,
                "rss_before_job_mb": rss_before / MIB, "rows_written": report.rows_written,
                "day_events": hourly, "activity_events": layer_totals(store, day, day)["daily"],
                "summary_events": summary}
    finally:
        store.close()


def child_backfill(db: Path, start: dt.date, end: dt.date, now: dt.datetime
                   ) -> dict[str, Any]:
    from vigil.rollup import SqlAggregateStore
    from vigil.rollup.jobs import backfill

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


def measured_child(workdir: Path, *args: str) -> tuple[dict[str, Any], float]:
    """Run ``python -m benchmarks.rollup --child ARGS`` measured; its JSON and peak MiB."""
    workdir.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parent.parent
    run = run_measured([sys.executable, "-m", "benchmarks.rollup", "--child", *args],
                       root, CHILD_TIMEOUT_S, env=clean_env())
    if run.returncode != 0:
        raise RuntimeError(f"benchmark child {args[0]} failed ({run.returncode}): "
                           f"{run.stderr[-2000:]}")
    return json.loads(run.stdout), run.peak_rss_bytes / MIB


# -- the benchmarks ------------------------------------------------------------------------
def daily_benchmark(workdir: Path, rounds: int = 3) -> dict[str, Any]:
    db = workdir / "daily.duckdb"
    built = build_store(db, DAILY_DAY, 1, DAILY_ROWS, 1)
    now = dt.datetime.combine(DAILY_DAY + dt.timedelta(days=2), dt.time(), dt.UTC)
    args = (str(db), DAILY_DAY.isoformat(), now.isoformat())
    runs = [measured_child(workdir / f"daily-{n}", "daily", *args) for n in range(rounds)]
    raw_runs = [measured_child(workdir / f"raw-{n}", "daily-raw", *args)
                for n in range(rounds)]
    best = min(runs, key=lambda run: run[0]["seconds"])[0]
    raw_best = min(raw_runs, key=lambda run: run[0]["seconds"])[0]
    day_events = best["day_events"]
    return {
        "events": built["events"], "day_events": day_events, "day": DAILY_DAY.isoformat(),
        "rounds": rounds, "seconds": round(best["seconds"], 4),
        "warm_seconds": round(min(r[0]["warm_seconds"] for r in runs), 4),
        "peak_rss_mb": round(max(rss for _, rss in runs), 1),
        "rss_before_job_mb": round(max(r[0]["rss_before_job_mb"] for r in runs), 1),
        "with_raw_events": {
            "seconds": round(raw_best["seconds"], 4),
            "warm_seconds": round(min(r[0]["warm_seconds"] for r in raw_runs), 4),
            "peak_rss_mb": round(max(rss for _, rss in raw_runs), 1)},
        "rows_written": best["rows_written"], "build": built,
        "correct": (day_events > 0.9 * DAILY_ROWS and best["activity_events"] == day_events
                    and raw_best["summary_events"] == day_events
                    and best["summary_events"] is None
                    and best["rows_written"] == len(DEFAULT_CAMERAS)
                    and raw_best["rows_written"] == 2 * len(DEFAULT_CAMERAS)),
        "path": "fresh process: open_store + run_rollup('daily', period=day) on the SQL "
                "aggregate store; seconds = the job's first run in the process (one-off lazy "
                "imports included), warm_seconds = a second run; peak RSS = the whole "
                "process, rss_before_job_mb = after imports and open_store (pandas is "
                "hidden from the child, as in a default install); with_raw_events: "
                "the same in another process with a summarizer reading the day's raw events",
    }


def backfill_benchmark(workdir: Path, rows: int = BACKFILL_ROWS) -> dict[str, Any]:
    db = workdir / "backfill.duckdb"
    built = build_store(db, BACKFILL_START, BACKFILL_DAYS, rows, BACKFILL_PARTS)
    # a day of margin each side: generated events spill over the cameras' local midnight
    start = BACKFILL_START - dt.timedelta(days=1)
    end = BACKFILL_START + dt.timedelta(days=BACKFILL_DAYS)
    now = dt.datetime.combine(end + dt.timedelta(days=40), dt.time(), dt.UTC)  # all over
    result, rss = measured_child(workdir / "backfill", "backfill", str(db),
                                 start.isoformat(), end.isoformat(), now.isoformat())
    events = built["events"]
    totals = result["layer_events"]
    return {
        "events": events, "days": BACKFILL_DAYS, "layer_events": totals,
        "seconds": round(result["seconds"], 3),
        "ingest_seconds": built["ingest_seconds"], "build": built, "jobs": result["jobs"],
        "peak_rss_mb": round(rss, 1),
        "events_per_second": round(events / result["seconds"]) if result["seconds"] else None,
        "correct": all(totals[layer] == events for layer in LAYERS),
        "path": "fresh process: open_store + backfill(start, end) on the SQL aggregate store "
                "(daily, weekly and monthly records and ledger rows); ingest excluded",
    }


def run_rollup_benchmarks(workdir: Path, backfill_rows: int = BACKFILL_ROWS
                          ) -> dict[str, dict[str, Any]]:
    """Every rollup benchmark in ``workdir``; JSON-ready figures under :data:`RESULT_KEYS`."""
    workdir.mkdir(parents=True, exist_ok=True)
    log("daily job: building one day of 100,000 events")
    daily = daily_benchmark(workdir)
    log(f"daily job: {daily['seconds']} s, {daily['peak_rss_mb']} MiB")
    log(f"backfill: building {backfill_rows:,} events over {BACKFILL_DAYS} days")
    filled = backfill_benchmark(workdir, backfill_rows)
    log(f"backfill: {filled['seconds']} s (ingest {filled['ingest_seconds']} s)")
    return {"rollup_daily": daily, "rollup_backfill": filled}


class _HidePandas(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` fail, as in a default install of Vigil (pandas is only a
    dependency of this suite's reference scripts); with pandas importable, pyarrow loads it
    on its first array conversion, about 35 MB more."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def child_main(args: list[str]) -> None:
    kind, db, *rest = args
    sys.meta_path.insert(0, _HidePandas())
    if kind in ("daily", "daily-raw"):
        result = child_daily(Path(db), dt.date.fromisoformat(rest[0]),
                             dt.datetime.fromisoformat(rest[1]), kind == "daily-raw")
    else:
        result = child_backfill(Path(db), dt.date.fromisoformat(rest[0]),
                                dt.date.fromisoformat(rest[1]),
                                dt.datetime.fromisoformat(rest[2]))
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        child_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backfill-rows", type=int, default=BACKFILL_ROWS,
                        help="events of the 90-day backfill (default 10M)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-rollup-") as tmp:
        results = run_rollup_benchmarks(Path(tmp), options.backfill_rows)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
