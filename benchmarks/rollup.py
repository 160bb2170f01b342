"""Rollup job benchmarks: ``python -m benchmarks.rollup [--backfill-rows N]`` prints JSON.

On synthetic camera events (:mod:`vigil.synth`, the default cameras in four zones) stored
in a new DuckDB file with the SQL aggregate store:

1. **The daily job** (``rollup_daily``): 100,000 events generated for one day (about 95% of
   them on that local day, the rest spill over midnight in the cameras' zones); a fresh
   process opens the store and runs ``run_rollup("daily", period=day)`` (timed:
   ``seconds``, the first run in the process; ``warm_seconds``, a second one), then the
   same with a daily summarizer registered that reads the day's raw events
   (``with_raw_events_seconds``, what detector summaries will cost). The process's peak
   RSS (``peak_rss_mb``) is measured from outside (:func:`benchmarks.procs.run_measured`);
   the process (:mod:`benchmarks.rollup_child`) imports only what a user's job process
   would, not the generator of this suite.
2. **A 90-day backfill** (``rollup_backfill``): 10M events over 90 days; a fresh process runs
   ``backfill`` over the range (``seconds``: daily, weekly and monthly layers, ledger rows
   included). Ingest into the store (``ingest_seconds``) is reported apart.

Both check their answers: the records of each layer add up to the events stored (``correct``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.procs import clean_env, run_measured
from vigil.store import open_store
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


# -- the measured child processes (benchmarks.rollup_child) ---------------------------------
def daily_answers(db: Path, day: dt.date) -> dict[str, Any]:
    """What the daily runs left in the store: the day's events in the hourly counts, in
    the activity records, and in the records of the raw-events summarizer."""
    from benchmarks.rollup_child import SUMMARIZER
    from vigil.rollup import SqlAggregateStore

    store = open_store(str(db))
    try:
        aggregates = SqlAggregateStore(store)
        return {"day_events": dict(store.daily_event_totals(day, day)).get(day, 0),
                "activity_events": aggregates.aggregate(day, day, "events", "sum",
                                                        detector="activity"),
                "activity_records": aggregates.aggregate(day, day, "events", "count",
                                                         detector="activity"),
                "summary_events": aggregates.aggregate(day, day, "n", "sum",
                                                       detector=SUMMARIZER)}
    finally:
        store.close()


def measured_child(workdir: Path, *args: str) -> tuple[dict[str, Any], float]:
    """Run ``python -m benchmarks.rollup_child ARGS`` measured; its JSON and peak MiB."""
    workdir.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parent.parent
    run = run_measured([sys.executable, "-m", "benchmarks.rollup_child", *args],
                       workdir, CHILD_TIMEOUT_S, env={**clean_env(), "PYTHONPATH": str(root)})
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
    answers = daily_answers(db, DAILY_DAY)
    raw_runs = [measured_child(workdir / f"raw-{n}", "daily-raw", *args)
                for n in range(rounds)]
    raw_answers = daily_answers(db, DAILY_DAY)
    best = min(runs, key=lambda run: run[0]["seconds"])[0]
    raw_best = min(raw_runs, key=lambda run: run[0]["seconds"])[0]
    day_events = answers["day_events"]
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
        "rows_written": best["rows_written"],
        "pattern_summary_records": best["rows_written"] - len(DEFAULT_CAMERAS),
        "build": built,
        "correct": (day_events > 0.9 * DAILY_ROWS and answers["activity_events"] == day_events
                    and raw_answers["activity_events"] == day_events
                    and raw_answers["summary_events"] == day_events
                    and answers["summary_events"] is None
                    and answers["activity_records"] == len(DEFAULT_CAMERAS)
                    and raw_best["rows_written"] == best["rows_written"] + len(DEFAULT_CAMERAS)),
        "path": "fresh process: open_store + run_rollup('daily', period=day) on the SQL "
                "aggregate store (activity records and the eight pattern detectors' daily "
                "summaries); seconds = the job's first run in the process (one-off lazy "
                "imports included), warm_seconds = a second run; peak RSS = the whole "
                "process (benchmarks.rollup_child: the store and the rollup jobs imported, not "
                "the generator), rss_before_job_mb = after imports and open_store (pandas is "
                "hidden from the child, as in a default install; the records written are "
                "checked afterwards by the parent); with_raw_events: "
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        from benchmarks.rollup_child import child_main

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
