"""Pattern detector benchmarks: ``python -m benchmarks.patterns [--events-per-day N]`` prints
JSON.

On a generated smart home (:func:`vigil.synth.home.scale_config`: 500 noise entities and the
default routines, about 100,000 Home Assistant state changes a day) stored for 30 local days
in a new DuckDB file (building it is timed apart, under ``build``), in this process:

1. **The daily pass** (``pattern_daily_pass``): every registered detector's ``summarize`` of
   the last day (``seconds``, best of rounds; per detector under ``per_detector_s``). Reading
   the day from the store (``events_of_local_day``) is timed apart (``read_day_seconds``).
2. **Detection over 30 days of summaries** (``pattern_detect_30d``): the summaries of the 30
   days are written to the SQL aggregate store, as the daily rollup job writes them; then
   they are read back and every detector detects (``seconds``, best of rounds;
   ``detect_only_seconds`` without the read; per detector).
3. **The old way against the new** (``pattern_batch_vs_incremental``): a direct batch reads
   the 30 days of raw events and runs every detector's ``detect_raw`` (``batch_seconds``,
   once); the incremental pass reads one day, summarizes it, stores the records and detects
   over the stored summaries (``incremental_seconds``); ``ratio`` = batch / incremental.
   ``correct``: both ways find the same patterns (same ids, confidences within 0.05).

The machine may be shared: the load averages before and after are recorded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vigil.patterns.base import DetectOptions, Pattern, summary_detector_name
from vigil.patterns.registry import detectors, summaries_from_records, summary_records
from vigil.rollup import AggregateRecord, SqlAggregateStore
from vigil.store import Store, open_store
from vigil.synth.home import HomeConfig, generate_home, insert_home, scale_config

EVENTS_PER_DAY = 100_000
ENTITIES = 500
DAYS = 30
START = dt.date(2026, 3, 2)
SLICE_DAYS = 10
"""The 30 days are generated and stored in slices of this many days (memory)."""
ROUNDS = 3
CONFIDENCE_TOLERANCE = 0.05
WRITTEN_AT = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
OPTIONS = DetectOptions()

RESULT_KEYS = ("pattern_daily_pass", "pattern_detect_30d", "pattern_batch_vs_incremental")
"""Top-level keys of :func:`run_pattern_benchmarks` (``covers`` for ``run.guarded``)."""

TARGETS: tuple[tuple[str, str, str, str, float, str], ...] = (
    ("patterns: daily pass of every detector over one day of 100,000 events",
     "pattern_daily_pass", "seconds", "<", 1.0, "s"),
    ("patterns: detection over 30 days of summaries, every detector", "pattern_detect_30d",
     "seconds", "<", 2.0, "s"),
    ("patterns: direct 30-day batch over 3M raw events vs the incremental pass",
     "pattern_batch_vs_incremental", "ratio", ">=", 10.0, "x"),
)
"""Bars in the field order of ``benchmarks.targets.Target`` (name, benchmark, metric, op,
value, unit)."""

CORRECTNESS: tuple[tuple[str, str], ...] = (
    ("patterns: the incremental pass and the direct batch find the same patterns at scale",
     "pattern_batch_vs_incremental"),
)
"""Correctness checks in the shape of ``benchmarks.targets.CORRECTNESS``."""


def log(message: str) -> None:
    print(f"[patterns] {message}", file=sys.stderr, flush=True)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    clock = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - clock


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# -- data ----------------------------------------------------------------------------------
def build_store(db: Path, events_per_day: int, entities: int = ENTITIES, days: int = DAYS
                ) -> dict[str, Any]:
    """A DuckDB store holding ``days`` days of the scale home; the time to generate and to
    store them."""
    base = scale_config(events_per_day, entities, days=min(SLICE_DAYS, days), start=START)
    store = open_store(str(db), default_timezone=base.timezone)
    generate_s = ingest_s = 0.0
    stored = 0
    try:
        for first in range(0, days, SLICE_DAYS):
            config = HomeConfig(start=START + dt.timedelta(days=first),
                                days=min(SLICE_DAYS, days - first), seed=first + 1,
                                noise_entities=base.noise_entities,
                                noise_per_day=base.noise_per_day)
            home, seconds = _timed(lambda config=config: generate_home(config))
            generate_s += seconds
            count, seconds = _timed(lambda home=home, first=first: insert_home(
                store, home, register_sources=first == 0))
            ingest_s += seconds
            stored += count
            log(f"stored {stored:,} events (days {first + 1}..{first + config.days})")
    finally:
        store.close()
    return {"events": stored, "days": days, "entities": entities + len(base.areas),
            "events_per_day": events_per_day, "generate_seconds": round(generate_s, 3),
            "ingest_seconds": round(ingest_s, 3)}


# -- the measurements ----------------------------------------------------------------------
def _summaries_records(day: dt.date, events: Any) -> tuple[list[AggregateRecord],
                                                            dict[str, float]]:
    records: list[AggregateRecord] = []
    per_detector: dict[str, float] = {}
    for detector in detectors():
        summary, seconds = _timed(lambda d=detector: d.summarize(day, events))
        per_detector[detector.name] = seconds
        records += summary_records(detector, day, summary)
    return records, per_detector


def daily_pass(store: Store, day: dt.date, rounds: int) -> dict[str, Any]:
    """Read one day and summarize it with every detector, best of ``rounds``."""
    runs = []
    for _ in range(rounds):
        events, read_s = _timed(lambda: store.events_of_local_day(day))
        (_, per_detector), pass_s = _timed(lambda events=events: _summaries_records(day,
                                                                                    events))
        runs.append((pass_s, read_s, per_detector, events.num_rows))
    best = min(runs, key=lambda run: run[0])
    return {"day": day.isoformat(), "day_events": best[3], "rounds": rounds,
            "seconds": round(best[0], 4), "first_round_seconds": round(runs[0][0], 4),
            "read_day_seconds": round(min(r[1] for r in runs), 4),
            "with_read_seconds": round(min(r[0] + r[1] for r in runs), 4),
            "per_detector_s": {k: round(v, 4) for k, v in best[2].items()},
            "detectors": [d.name for d in detectors()],
            "path": "store.events_of_local_day(day) (read_day_seconds), then every "
                    "registered detector's summarize(day, events) in this process; seconds = "
                    "the summaries alone, best of rounds"}


def store_summaries(store: Store, days: list[dt.date]) -> dict[str, Any]:
    """Every detector's summaries of ``days`` written to the SQL aggregate store."""
    aggregates = SqlAggregateStore(store, clock=lambda: WRITTEN_AT)
    summarize_s = write_s = 0.0
    written = 0
    for day in days:
        events = store.events_of_local_day(day)
        (records, _), seconds = _timed(lambda d=day, e=events: _summaries_records(d, e))
        summarize_s += seconds
        result, seconds = _timed(lambda r=records: aggregates.write_batch(r))
        write_s += seconds
        written += result.written
    return {"records": written, "summarize_seconds": round(summarize_s, 3),
            "write_seconds": round(write_s, 3)}


def detect_stored(store: Store, start: dt.date, end: dt.date
                  ) -> tuple[dict[str, list[Pattern]], float, dict[str, float]]:
    """Read each detector's summaries of ``start``..``end`` and detect; the patterns, the
    read time and each detector's detection time."""
    aggregates = SqlAggregateStore(store, clock=lambda: WRITTEN_AT)
    found: dict[str, list[Pattern]] = {}
    read_s = 0.0
    per_detector: dict[str, float] = {}
    for detector in detectors():
        window = getattr(detector, "window_days", OPTIONS.window_days)
        first = max(start, end - dt.timedelta(days=window - 1))
        summaries, seconds = _timed(lambda d=detector, f=first: summaries_from_records(
            aggregates.query(f, end, detector=summary_detector_name(d.name))))
        read_s += seconds  # reading the records and unpacking them into summaries
        found[detector.name], per_detector[detector.name] = _timed(
            lambda d=detector, s=summaries: d.detect(s, end, OPTIONS))
    return found, read_s, per_detector


def detect_30d(store: Store, start: dt.date, end: dt.date, rounds: int) -> dict[str, Any]:
    runs = [detect_stored(store, start, end) for _ in range(rounds)]
    best = min(runs, key=lambda run: run[1] + sum(run[2].values()))
    detect_only = min(sum(run[2].values()) for run in runs)
    return {"days": (end - start).days + 1, "rounds": rounds,
            "seconds": round(best[1] + sum(best[2].values()), 4),
            "detect_only_seconds": round(detect_only, 4),
            "read_summaries_seconds": round(best[1], 4),
            "per_detector_s": {k: round(v, 4) for k, v in best[2].items()},
            "patterns": {k: len(v) for k, v in best[0].items()},
            "path": "SqlAggregateStore.query of each detector's daily records over its window "
                    "(the seasonal detector asks for 90 days, 30 exist), unpacked into "
                    "summaries (read_summaries_seconds covers both) + detect(summaries, end) "
                    "for every registered detector; best of rounds"}


def direct_batch(store: Store, start: dt.date, end: dt.date
                 ) -> tuple[dict[str, list[Pattern]], float, float, dict[str, float]]:
    """The old way: the window's raw events and every detector's ``detect_raw``."""
    events, read_s = _timed(lambda: store.events_of_local_days(start, end))
    found: dict[str, list[Pattern]] = {}
    per_detector: dict[str, float] = {}
    for detector in detectors():
        found[detector.name], per_detector[detector.name] = _timed(
            lambda d=detector: d.detect_raw(events, end, OPTIONS))
        log(f"direct batch: {detector.name} {per_detector[detector.name]:.2f} s")
    return found, read_s, events.num_rows, per_detector


def _differences(a: dict[str, list[Pattern]], b: dict[str, list[Pattern]]) -> dict[str, Any]:
    """Per detector, pattern ids found only one way and confidences too far apart."""
    out: dict[str, Any] = {}
    for name in a:
        mine = {p.pattern_id: p.confidence for p in a[name]}
        theirs = {p.pattern_id: p.confidence for p in b.get(name, [])}
        far = {k: [mine[k], theirs[k]] for k in set(mine) & set(theirs)
               if abs(mine[k] - theirs[k]) > CONFIDENCE_TOLERANCE}
        only = sorted(set(mine) ^ set(theirs))
        if far or only:
            out[name] = {"only_one_way": only, "confidence_apart": far}
    return out


def batch_vs_incremental(store: Store, start: dt.date, end: dt.date, daily: dict[str, Any],
                         detect: dict[str, Any]) -> dict[str, Any]:
    aggregates = SqlAggregateStore(store, clock=lambda: WRITTEN_AT)
    events = store.events_of_local_day(end)
    (records, _), summarize_s = _timed(lambda: _summaries_records(end, events))
    _, write_s = _timed(lambda: aggregates.write_batch(records))
    incremental, read_s, per_detector = detect_stored(store, start, end)
    incremental_s = (daily["read_day_seconds"] + daily["seconds"] + write_s
                     + detect["seconds"])
    batch, raw_read_s, raw_rows, raw_per_detector = direct_batch(store, start, end)
    batch_s = raw_read_s + sum(raw_per_detector.values())
    differences = _differences(incremental, batch)
    return {
        "raw_events": raw_rows, "days": (end - start).days + 1,
        "batch_seconds": round(batch_s, 3), "batch_read_seconds": round(raw_read_s, 3),
        "batch_per_detector_s": {k: round(v, 3) for k, v in raw_per_detector.items()},
        "incremental_seconds": round(incremental_s, 4),
        "incremental_parts_s": {"read_day": daily["read_day_seconds"],
                                "summarize_day": daily["seconds"],
                                "write_records": round(write_s, 4),
                                "read_summaries_and_detect": detect["seconds"]},
        "incremental_this_run_s": round(summarize_s + write_s + read_s
                                        + sum(per_detector.values()), 4),
        "ratio": round(batch_s / incremental_s, 2) if incremental_s else None,
        "patterns": {k: len(v) for k, v in incremental.items()},
        "differences": differences, "correct": not differences,
        "path": "batch = events_of_local_days(30 days) + every detector's detect_raw, once; "
                "incremental = the daily pass's best read and summaries of one day + writing "
                "its records + the best read-and-detect over the stored summaries; "
                "incremental_this_run_s is one more incremental run done here",
    }


def run_pattern_benchmarks(workdir: Path, events_per_day: int = EVENTS_PER_DAY,
                           rounds: int = ROUNDS, entities: int = ENTITIES
                           ) -> dict[str, dict[str, Any]]:
    """Every pattern benchmark in ``workdir``; JSON-ready figures under :data:`RESULT_KEYS`
    (``entities`` noise entities share the ``events_per_day``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "patterns.duckdb"
    load_before = _load()
    log(f"building {DAYS} days of {events_per_day:,} events")
    built = build_store(db, events_per_day, entities)
    start, end = START, START + dt.timedelta(days=DAYS - 1)
    store = open_store(str(db))
    try:
        daily = daily_pass(store, end, rounds)
        log(f"daily pass: {daily['seconds']} s (read {daily['read_day_seconds']} s)")
        stored = store_summaries(store, [start + dt.timedelta(days=n) for n in range(DAYS)])
        detect = detect_30d(store, start, end, rounds)
        log(f"detection over 30 days of summaries: {detect['seconds']} s")
        compared = batch_vs_incremental(store, start, end, daily, detect)
        log(f"direct batch {compared['batch_seconds']} s vs incremental "
            f"{compared['incremental_seconds']} s: {compared['ratio']}x")
    finally:
        store.close()
    machine = {"load_average_before": load_before, "load_average_after": _load(),
               "note": "in-process timings on a machine that may be shared"}
    return {"pattern_daily_pass": {**daily, "build": built, "machine": machine},
            "pattern_detect_30d": {**detect, "summaries_build": stored, "machine": machine},
            "pattern_batch_vs_incremental": {**compared, "machine": machine}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-day", type=int, default=EVENTS_PER_DAY,
                        help="state changes a day (default 100,000)")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-patterns-") as tmp:
        results = run_pattern_benchmarks(Path(tmp), options.events_per_day, options.rounds)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
