"""The measured work of the dwell benchmarks, one variant per process.

``python -m benchmarks.dwell_work VARIANT PATH [--zones JSON] [--passes N]`` runs one
variant over a CSV file or a DuckDB store and prints one JSON document on stdout: the time
of each step, the answers (the figures compared between the variants) and, with
``--passes``, the times of further passes in the same process. The parent
(:mod:`benchmarks.dwell`) runs each variant in a fresh process so that its peak memory is
its own and no variant warms caches for another.

Variants:

- ``pandas``: a straightforward pandas script: ``read_csv`` (the C parser; only the five
  columns needed), ``to_datetime``, drop repeated events, sort, pair each entry with the
  next event of the same person and camera following :mod:`vigil.dwell.pairing`'s rules,
  aggregate the KPIs, dwell per camera and hourly occupancy.
- ``vigil_csv``: :func:`vigil.dwell.filedata.load_file` (the ``vigil analytics --file``
  path) and :class:`~vigil.dwell.analytics.DwellAnalytics` over it.
- ``vigil_stored``: :func:`vigil.store.open_store` on the DuckDB file and
  :func:`vigil.dwell.service.store_analytics` over it.
- ``build`` (not compared): ingest the CSV into a new DuckDB file (``--db``) with
  :func:`vigil.ingest.files.ingest_file` and ``store.insert_events``, as ``vigil ingest``.

Every variant answers the same questions: KPIs, dwell overall and per camera (complete
sessions only), hourly occupancy (maximum and time-weighted mean per hour bucket) over the
whole range.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_SESSION_MS = 4 * 3_600_000
"""``vigil.dwell.pairing.DEFAULT_MAX_SESSION`` in milliseconds."""
HOUR_MS = 3_600_000
VARIANTS = ("pandas", "vigil_csv", "vigil_stored", "build")
Answers = dict[str, Any]


class Clock:
    """Seconds per named step, in order."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = round(self.steps.get(name, 0.0) + now - self._last, 4)
        self._last = now

    @property
    def total(self) -> float:
        return round(sum(self.steps.values()), 4)


# -- pandas --------------------------------------------------------------------------------


def pandas_answers(csv: Path, clock: Clock) -> Answers:
    """The pandas script: the same answers as Vigil's from the CSV alone."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(csv, usecols=["event_id", "timestamp", "camera_id", "event_type",
                                   "person_id"], dtype=str, keep_default_na=False)
    clock.lap("read_csv")
    df["ts"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
    df = df.drop(columns="timestamp").drop_duplicates(["event_id", "ts"])
    clock.lap("parse_timestamps")
    events = len(df)
    data_end_us = int(df["ts"].max().value // 1_000)
    ev = df[df["event_type"].isin(["entry", "exit"])].copy()
    del df
    ev["is_entry"] = ev["event_type"] == "entry"  # False (exit) sorts first at equal ts
    ev = ev.sort_values(["person_id", "camera_id", "ts", "is_entry", "event_id"],
                        ignore_index=True)
    ev = ev.drop_duplicates(["person_id", "camera_id", "event_type", "ts", "event_id"],
                            ignore_index=True)
    clock.lap("sort")
    ts = ev["ts"].dt.as_unit("us").astype("int64").to_numpy()  # microseconds
    ev["ts_ms"] = ts // 1_000
    same_next = ((ev["person_id"] == ev["person_id"].shift(-1))
                 & (ev["camera_id"] == ev["camera_id"].shift(-1))).to_numpy()
    next_exit = ~ev["is_entry"].shift(-1, fill_value=True).to_numpy()
    gap_us = np.append(ts[1:] - ts[:-1], 0)
    is_entry = ev["is_entry"].to_numpy()
    paired = is_entry & same_next & next_exit & (gap_us <= MAX_SESSION_MS * 1_000)
    closes = np.append(False, paired[:-1])
    orphan = ~is_entry & ~closes
    trailing_open = is_entry & ~same_next & (data_end_us - ts <= MAX_SESSION_MS * 1_000)
    ev["duration_ms"] = np.where(paired, gap_us // 1_000, 0)
    clock.lap("pair")
    complete = ev[paired]
    statuses = {"complete": int(paired.sum()), "open": int(trailing_open.sum()),
                "timed_out": int((is_entry & ~paired & ~trailing_open).sum()),
                "orphan_exit": int(orphan.sum())}
    sessions = statuses["complete"] + statuses["open"] + statuses["timed_out"] + statuses[
        "orphan_exit"]
    durations = complete["duration_ms"]
    per_camera = complete.groupby("camera_id")["duration_ms"].agg(["count", "mean", "median",
                                                                  "max"])
    answers: Answers = {
        "events": events,
        "unique_visitors": int(ev["person_id"].nunique()),
        "sessions": statuses,
        "complete_sessions": statuses["complete"],
        "incomplete_sessions": sessions - statuses["complete"],
        "mean_dwell_ms": float(durations.mean()),
        "median_dwell_ms": float(durations.median()),
        "max_dwell_ms": int(durations.max()),
        "total_dwell_ms": int(durations.sum()),
        "per_camera": {camera: {"complete": int(row["count"]), "mean_ms": float(row["mean"]),
                                "median_ms": float(row["median"]), "max_ms": int(row["max"])}
                       for camera, row in per_camera.iterrows()},
    }
    clock.lap("aggregate")
    opened = ev[trailing_open]
    starts = pd.concat([complete["ts_ms"], opened["ts_ms"]], ignore_index=True)
    ends = pd.concat([complete["ts_ms"] + complete["duration_ms"],
                      pd.Series(data_end_us // 1_000, index=range(len(opened)))], ignore_index=True)
    answers["occupancy"] = pandas_hourly_occupancy(starts, ends)
    clock.lap("occupancy")
    return answers


def pandas_hourly_occupancy(starts: Any, ends: Any) -> dict[str, Any]:
    """Presence during ``[start, end)`` per hour bucket: the largest number present at any
    instant and the time-weighted mean (a step function over the change points)."""
    import numpy as np
    import pandas as pd

    keep = starts < ends
    starts, ends = starts[keep], ends[keep]
    first, last = int(starts.min()), int(ends.max())
    origin = first - first % HOUR_MS
    buckets = -(-(max(last, first + 1) - origin) // HOUR_MS)
    edges = origin + HOUR_MS * np.arange(buckets + 1, dtype=np.int64)
    change = pd.concat([pd.Series(1, index=starts.to_numpy()),
                        pd.Series(-1, index=ends.to_numpy()),
                        pd.Series(0, index=edges)])
    change = change.groupby(level=0).sum().sort_index()
    level = change.cumsum()  # presence from each point until the next
    times = level.index.to_numpy()
    length = np.append(np.diff(times), 0)
    step = pd.DataFrame({"bucket": (times - origin) // HOUR_MS, "level": level.to_numpy(),
                         "area": level.to_numpy() * length})
    step = step[step["bucket"] < buckets]
    per_bucket = step.groupby("bucket").agg(max=("level", "max"), area=("area", "sum"))
    return {"first_bucket_ms": origin, "buckets": buckets,
            "max": [int(v) for v in per_bucket["max"]],
            "mean": [round(v, 6) for v in (per_bucket["area"] / HOUR_MS).tolist()]}


# -- Vigil ---------------------------------------------------------------------------------


def vigil_answers(analytics: Any, clock: Clock) -> Answers:
    """KPIs, dwell overall and per camera, hourly occupancy, from ``DwellAnalytics``."""
    from vigil.dwell.filters import AnalyticsFilter

    everything = AnalyticsFilter()
    kpis = analytics.kpis(everything)["kpis"]
    clock.lap("kpis")
    overall = analytics.dwell(everything)
    per_camera = analytics.dwell(everything, ("camera",))
    clock.lap("dwell")
    occupancy = analytics.occupancy(everything, "hour")
    clock.lap("occupancy")
    return shape_answers(kpis, per_camera["rows"], occupancy, overall["rows"])


def shape_answers(kpis: dict[str, Any], camera_rows: list[dict[str, Any]],
                  occupancy: dict[str, Any], overall_rows: list[dict[str, Any]] | None = None
                  ) -> Answers:
    """The compared figures out of Vigil's KPI, dwell-per-camera and occupancy answers (as
    the library returns them or as ``vigil analytics --json`` prints them)."""
    series = occupancy["series"][0]
    first_label = dt.datetime.fromisoformat(series["x"][0])
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

    def stats(row: dict[str, Any]) -> dict[str, Any]:
        return {"complete": row["complete"], "mean_ms": row["mean_ms"],
                "median_ms": row["median_ms"], "max_ms": row["max_ms"]}

    answers: Answers = {
        "events": kpis["events_processed"],
        "unique_visitors": kpis["unique_visitors"],
        "sessions": kpis["sessions"],
        "complete_sessions": kpis["complete_sessions"],
        "incomplete_sessions": kpis["incomplete_sessions"],
        "mean_dwell_ms": kpis["mean_dwell_ms"],
        "median_dwell_ms": kpis["median_dwell_ms"],
        "max_dwell_ms": kpis["max_dwell_ms"],
        "total_dwell_ms": kpis["total_dwell_ms"],
        "per_camera": {row["camera"]: stats(row) for row in camera_rows},
        "occupancy": {"first_bucket_ms": (first_label - epoch) // dt.timedelta(milliseconds=1),
                      "buckets": len(series["x"]), "max": series["max"],
                      "mean": series["mean"]},
    }
    if overall_rows is not None:
        [row] = overall_rows
        answers["dwell_overall"] = stats(row)
    return answers


def vigil_csv_answers(csv: Path, zones: dict[str, str], clock: Clock) -> Answers:
    """``load_file`` then the analytics over the in-memory tables."""
    from vigil.dwell.analytics import DwellAnalytics
    from vigil.dwell.filedata import load_file
    from vigil.ingest.files import FileOptions

    data = load_file(csv, FileOptions(), zones)
    clock.lap("load_file")
    reader = data.reader()
    try:
        answers = vigil_answers(DwellAnalytics(reader, data.timezones), clock)
    finally:
        reader.close()
    answers["quality"] = {"rows_read": data.report.rows_read, "accepted": data.report.accepted,
                          "rejected": data.report.rejected}
    return answers


def vigil_stored_answers(db: Path, clock: Clock, passes: int, memory_limit: str | None
                         ) -> tuple[Answers, list[float]]:
    """Open the store (DuckDB ``memory_limit`` as given, else the default), answer; then
    ``passes - 1`` more passes on the open store."""
    from vigil.dwell.service import store_analytics
    from vigil.store import open_store

    store = open_store(str(db), **({"memory_limit": memory_limit} if memory_limit else {}))
    try:
        clock.lap("open_store")
        answers = vigil_answers(store_analytics(store), clock)
        warm = []
        for _ in range(passes - 1):
            again = Clock()
            vigil_answers(store_analytics(store), again)
            warm.append(again.total)
    finally:
        store.close()
    return answers, warm


BUILD_MEMORY_LIMIT = "2GB"
"""DuckDB ``memory_limit`` while building the store: a fixed size, so builds on machines with
more or less RAM compare (Vigil's default is half of RAM)."""
PROGRESS_EVERY_ROWS = 1_000_000


def build_store(csv: Path, db: Path, zones: dict[str, str], clock: Clock) -> Answers:
    """Store the CSV in a new DuckDB file the way ``vigil ingest`` does (sessions are
    maintained by ``insert_events``); what was stored, and the ingest's progress over time
    (rows read, seconds) so a rate that falls as the store grows shows."""
    from vigil.ingest.files import FileOptions, ingest_file
    from vigil.store import open_store

    started = time.perf_counter()
    timeline: list[tuple[int, float]] = []

    def progress(_bytes: int, rows: int) -> None:
        if rows >= (len(timeline) + 1) * PROGRESS_EVERY_ROWS:
            timeline.append((rows, round(time.perf_counter() - started, 1)))
            print(f"build: {rows:,} rows read in {timeline[-1][1]:.1f} s", file=sys.stderr,
                  flush=True)

    store = open_store(str(db), memory_limit=BUILD_MEMORY_LIMIT)
    try:
        for camera, zone in zones.items():
            store.set_source_timezone(camera, zone)
        report = ingest_file(csv, store.insert_events, FileOptions(), progress)
        clock.lap("ingest_file")
        counts = store.read_analytics(
            "SELECT (SELECT count(*) FROM events) AS events, "
            "(SELECT count(*) FROM sessions) AS sessions", []).to_pylist()[0]
    finally:
        store.close()
    clock.lap("close")
    return {"rows_read": report.rows_read, "accepted": report.accepted,
            "rejected": report.rejected, "stored_events": int(counts["events"]),
            "stored_sessions": int(counts["sessions"]), "memory_limit": BUILD_MEMORY_LIMIT,
            "progress_rows_s": timeline}


def run_variant(variant: str, path: Path, zones: dict[str, str], passes: int,
                db: Path | None = None, memory_limit: str | None = None) -> dict[str, Any]:
    """One variant's timed answers (and its further passes' totals)."""
    clock = Clock()
    warm: list[float] = []
    if variant == "pandas":
        answers = pandas_answers(path, clock)
    elif variant == "vigil_csv":
        answers = vigil_csv_answers(path, zones, clock)
    elif variant == "vigil_stored":
        answers, warm = vigil_stored_answers(path, clock, passes, memory_limit)
    elif variant == "build" and db is not None:
        answers = build_store(path, db, zones, clock)
    else:
        raise ValueError(f"unknown variant {variant!r}; use one of {', '.join(VARIANTS)}")
    return {"variant": variant, "seconds": clock.total, "steps": clock.steps,
            "warm_passes_s": warm, "answers": answers}


def _preload(variant: str) -> Callable[[], None]:
    """Import what the variant needs before the clock starts (imports are not the work)."""
    def load() -> None:
        if variant == "pandas":
            import pandas  # noqa: F401
        else:
            import vigil.dwell.analytics  # noqa: F401
            import vigil.dwell.filedata  # noqa: F401
            import vigil.dwell.service  # noqa: F401
            import vigil.store  # noqa: F401
    return load


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dwell_work")
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("path", type=Path)
    parser.add_argument("--zones", default="{}", help="JSON {camera: IANA zone}")
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--db", type=Path, default=None, help="build: the new DuckDB file")
    parser.add_argument("--memory-limit", default=None,
                        help="vigil_stored: DuckDB memory_limit (default: Vigil's default)")
    args = parser.parse_args(argv)
    _preload(args.variant)()
    result = run_variant(args.variant, args.path, json.loads(args.zones), args.passes,
                         args.db, args.memory_limit)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
