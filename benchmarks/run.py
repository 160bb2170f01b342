"""The Vigil benchmark suite: ``python -m benchmarks.run [--out PATH] [--rows N] [--quick]``.

Runs file ingest (clean, 1 % bad rows, all duplicates), HTTP batch ingest, single-event POST
latency and, where PostgreSQL is installed, a bare ``COPY`` reference and Vigil on
PostgreSQL (file ingest, HTTP batch ingest with 1, 2 and 4 workers), then the baseline,
anomaly, MQTT, dwell-analytics (``benchmarks/dwell.py``) and dashboard page-load
(``benchmarks/dashboard.py``) groups; writes one JSON file
with the machine, the figures, the targets and a verdict per target; prints a short table
to stderr. Everything runs in a temporary directory and on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.aggregates import RESULT_KEYS as AGGREGATE_KEYS
from benchmarks.aggregates import run_aggregate_benchmarks
from benchmarks.anomaly_quality import run_anomaly_benchmarks
from benchmarks.baselines import RESULT_KEYS as BASELINE_KEYS
from benchmarks.baselines import run_baseline_benchmarks
from benchmarks.dashboard import FULL as DASHBOARD_FULL
from benchmarks.dashboard import QUICK as DASHBOARD_QUICK
from benchmarks.dashboard import RESULT_KEYS as DASHBOARD_KEYS
from benchmarks.dashboard import run_dashboard_benchmarks
from benchmarks.dwell import RESULT_KEYS as DWELL_KEYS
from benchmarks.dwell import run_dwell_benchmarks
from benchmarks.file_ingest import make_csv, run_file_benchmarks
from benchmarks.http_ingest import run_http_benchmarks
from benchmarks.machine import load_average, machine_info
from benchmarks.mqtt_ingest import RUNS as MQTT_RUNS
from benchmarks.mqtt_ingest import run_mqtt_benchmarks
from benchmarks.patterns import RESULT_KEYS as PATTERN_KEYS
from benchmarks.patterns import run_pattern_benchmarks
from benchmarks.pg_copy import run_pg_copy
from benchmarks.pg_ingest import run_pg_file_benchmarks, run_pg_http_benchmarks
from benchmarks.rollup import RESULT_KEYS as ROLLUP_KEYS
from benchmarks.rollup import run_rollup_benchmarks
from benchmarks.targets import evaluate, targets_json
from vigil.synth import SynthConfig

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "latest.json"
BUSY_LOAD_PER_CORE = 0.5


@dataclass(frozen=True)
class Params:
    """Sizes of one run."""

    mode: str
    rows: int
    batches: int
    posts: int
    warmup_posts: int
    pg_rounds: int = 2
    """Rounds of the PostgreSQL 1/2/4-worker comparison (alternating order; best counts)."""
    only: tuple[str, ...] = ()
    """``--only``: run just the groups with a result key starting with one of these."""
    dwell_rows: int = 10_000_000
    """Events of the dwell benchmarks' data set (``--dwell-rows``)."""
    dwell_api_rows: int = 1_000_000
    """Events stored for the analytics API latencies (the dwell data when not more)."""
    dwell_rounds: int = 2
    """Interleaved rounds of pandas / Vigil from the CSV / Vigil over the store."""
    dwell_requests: int = 30
    """Timed GETs per analytics endpoint, uncached and cached."""


FULL = Params(mode="full", rows=1_000_000, batches=200, posts=2_000, warmup_posts=200)
QUICK = Params(mode="quick", rows=100_000, batches=30, posts=300, warmup_posts=50,
               pg_rounds=1, dwell_rows=200_000, dwell_api_rows=200_000, dwell_requests=10)


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _prefixes(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"result JSON (default {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--rows", type=int, default=None,
                        help="rows of the synthetic CSV (default 1,000,000; quick 100,000)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 100k rows, 30 batches, 300 single POSTs")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a performance target is missed, too")
    parser.add_argument("--only", type=_prefixes, default=(), metavar="PREFIX[,PREFIX]",
                        help="run only the benchmark groups with a result key starting with "
                        "one of these, e.g. 'postgres' or 'postgres_file,postgres_http'; "
                        "the others are recorded as skipped")
    parser.add_argument("--merge", action="store_true",
                        help="with --only: keep the other groups' results from the existing "
                        "--out file (checks and summary are re-evaluated over the merge)")
    parser.add_argument("--dwell-rows", type=int, default=None,
                        help="events of the dwell benchmarks (default 10,000,000; quick "
                        "200,000)")
    args = parser.parse_args(argv)
    if args.rows is not None and args.rows < 1000:
        parser.error("--rows must be at least 1000")
    if args.dwell_rows is not None and args.dwell_rows < 1000:
        parser.error("--dwell-rows must be at least 1000")
    if args.merge and not args.only:
        parser.error("--merge needs --only (without it every group runs)")
    return args


def vigil_executable() -> Path:
    """The ``vigil`` script of the interpreter running the suite (the project venv)."""
    path = Path(sys.executable).absolute().parent / "vigil"
    if not path.exists():
        raise SystemExit(f"error: {path} not found; run with the project's .venv/bin/python "
                         "after `make install`")
    return path


_only: list[str] = []
"""The ``--only`` prefixes of the running suite (empty: every group runs)."""


def guarded(name: str, results: dict[str, Any], fn: Callable[[], dict[str, Any]],
            covers: tuple[str, ...]) -> None:
    """Run one benchmark group; on failure record the error under each benchmark it covers.

    A group none of whose keys ``--only`` selects is recorded as skipped instead.
    """
    if _only and not any(key.startswith(prefix) for key in covers for prefix in _only):
        for key in covers:
            results.setdefault(key, {"skipped": "not selected (--only)"})
        return
    try:
        results.update(fn())
    except Exception as exc:
        log(f"{name} FAILED: {exc}")
        detail = {"error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(limit=5)}
        for key in covers:
            results.setdefault(key, detail)


def run_suite(params: Params) -> dict[str, Any]:
    """All benchmarks; the result document (without verdicts)."""
    vigil = vigil_executable()
    _only[:] = params.only
    results: dict[str, Any] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp_name:
        tmp = Path(tmp_name)
        csv_holder: list[Path] = []

        def files() -> dict[str, Any]:
            figures, csv_path = run_file_benchmarks(vigil, params.rows, tmp, log)
            csv_holder.append(csv_path)
            return figures

        guarded("file ingest", results, files,
                ("file_ingest_clean", "file_ingest_bad_rows", "file_reingest_duplicates",
                 "file_ingest_scoring_overhead"))
        guarded("HTTP ingest", results,
                lambda: run_http_benchmarks(vigil, params.batches, params.posts,
                                            params.warmup_posts, tmp, log),
                ("http_batch_ingest", "http_single_latency"))

        def clean_csv() -> Path:
            """The file benchmarks' clean CSV; generated the same way when they did not run."""
            if not csv_holder:
                csv_holder.append(make_csv(SynthConfig(rows=params.rows), tmp / "data",
                                           "clean")[0])
            return csv_holder[0]

        guarded("PostgreSQL COPY", results,
                lambda: {"postgres_copy": run_pg_copy(clean_csv(), params.rows, log)},
                ("postgres_copy",))
        guarded("PostgreSQL file ingest", results,
                lambda: run_pg_file_benchmarks(vigil, clean_csv(), params.rows, tmp, log),
                ("postgres_file_ingest", "postgres_file_reingest_duplicates"))
        guarded("PostgreSQL HTTP ingest", results,
                lambda: run_pg_http_benchmarks(vigil, params.batches, params.pg_rounds, tmp,
                                               log),
                ("postgres_http_batch_ingest",))
        guarded("baselines", results,
                lambda: run_baseline_benchmarks(
                    tmp / "baselines", rows=params.rows, log=log,
                    events_for_rmw=20_000 if params.mode == "full" else 2_000),
                BASELINE_KEYS)
        guarded("anomaly quality", results, lambda: {"anomaly_quality": anomaly_figures(
            params)}, ("anomaly_quality",))
        guarded("dwell analytics", results,
                lambda: run_dwell_benchmarks(
                    tmp / "dwell", rows=params.dwell_rows, api_rows=params.dwell_api_rows,
                    rounds=params.dwell_rounds, stored_runs=2 if params.mode == "full" else 1,
                    api_requests=params.dwell_requests, log=log),
                DWELL_KEYS)
        guarded("aggregate store", results,
                lambda: run_aggregate_benchmarks(tmp / "aggregates"), AGGREGATE_KEYS)
        guarded("rollup jobs", results,
                lambda: run_rollup_benchmarks(
                    tmp / "rollup",
                    backfill_rows=10_000_000 if params.mode == "full" else params.rows),
                ROLLUP_KEYS)
        guarded("pattern detectors", results,
                lambda: run_pattern_benchmarks(
                    tmp / "patterns",
                    events_per_day=100_000 if params.mode == "full" else 20_000),
                PATTERN_KEYS)
        guarded("dashboard", results,
                lambda: run_dashboard_benchmarks(
                    tmp / "dashboard",
                    DASHBOARD_FULL if params.mode == "full" else DASHBOARD_QUICK,
                    vigil=vigil, log=log),
                DASHBOARD_KEYS)
        guarded("MQTT ingest", results,
                lambda: run_mqtt_benchmarks(max(10_000, params.rows // 10), tmp, log),
                tuple(key for key, _ in MQTT_RUNS))
    return {"results": results, "duration_s": round(time.perf_counter() - started, 1)}


def anomaly_figures(params: Params) -> dict[str, Any]:
    """Detection quality on generated data and detector throughput, with the headline
    figures (per-type F1 pooled over the seeds, false alarms) at the top level."""
    figures = run_anomaly_benchmarks(
        throughput_rows=params.rows, seeds=(1, 2, 3, 4, 5) if params.mode == "full" else (1,))
    quality = figures["quality"]
    for kind, scores in quality["pooled"].items():
        figures[f"f1_{kind}"] = scores["f1"]
    figures["clean_false_alarms_per_camera_week"] = quality["clean_false_alarms_per_camera_week"]
    return figures


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Vigil's file ingest rates (DuckDB, PostgreSQL) relative to a bare PostgreSQL COPY,
    when both were measured."""
    copy = (results.get("postgres_copy") or {}).get("rows_per_s")
    out: dict[str, Any] = {}
    for name, key in (("ingest", "file_ingest_clean"), ("postgres_ingest", "postgres_file_ingest")):
        ingest = (results.get(key) or {}).get("rows_per_s")
        out[f"{name}_rows_per_s_over_copy_rows_per_s"] = (
            round(ingest / copy, 3) if ingest and copy else None)
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


TABLE_ROWS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("file ingest, clean", "file_ingest_clean", ("rows_per_s", "wall_s", "peak_rss_mib")),
    ("file ingest, 1 % bad", "file_ingest_bad_rows",
     ("rows_per_s", "rejected", "expected_rejected", "peak_rss_mib")),
    ("re-ingest (duplicates)", "file_reingest_duplicates",
     ("rows_per_s", "duplicates", "peak_rss_mib")),
    ("scoring on vs off", "file_ingest_scoring_overhead",
     ("rows_per_s_with_scoring", "rows_per_s_without_scoring", "slowdown")),
    ("HTTP batch ingest", "http_batch_ingest", ("events_per_s", "wall_s")),
    ("single-event POST", "http_single_latency", ("p50_ms", "p99_ms", "max_ms")),
    ("PostgreSQL COPY", "postgres_copy", ("rows_per_s", "wall_s")),
    ("PG file ingest", "postgres_file_ingest", ("rows_per_s", "wall_s", "peak_rss_mib")),
    ("PG re-ingest (dups)", "postgres_file_reingest_duplicates",
     ("rows_per_s", "duplicates", "peak_rss_mib")),
    ("PG HTTP batch events/s", "postgres_http_batch_ingest",
     ("workers_1.events_per_s", "workers_2.events_per_s", "workers_4.events_per_s")),
    ("PG HTTP workers ratio", "postgres_http_batch_ingest",
     ("ratio_2_over_1", "ratio_4_over_1")),
    ("MQTT ingest (live)", "mqtt_ingest", ("messages_per_s", "lost")),
    ("MQTT ingest (backlog)", "mqtt_ingest_backlog", ("messages_per_s", "lost")),
    ("MQTT broker restart", "mqtt_ingest_restart", ("messages_per_s", "lost", "redelivered")),
    ("SQLite JSON RMW (original)", "baseline_sqlite_rmw", ("events_per_s",)),
    ("Vigil ingest + baseline", "baseline_vigil_ingest", ("events_per_s",)),
    ("Vigil / original", "baseline_ratio", ("ratio",)),
    ("patterns GET, 1M events", "patterns_latency_ms",
     ("uncached_p50_ms", "uncached.p99_ms", "cached_p50_ms")),
    ("event scorer (pure Python)", "anomaly_scoring", ("events_per_s",)),
    ("detector (service)", "anomaly_quality", ("detector_events_per_s",)),
    ("anomaly F1", "anomaly_quality",
     ("f1_rare_time", "f1_novel_object", "f1_spike", "f1_silence")),
    ("clean false alarms", "anomaly_quality", ("clean_false_alarms_per_camera_week",)),
    ("pattern daily pass", "pattern_daily_pass", ("seconds", "read_day_seconds")),
    ("pattern detect, 30 days", "pattern_detect_30d",
     ("seconds", "detect_only_seconds", "read_summaries_seconds")),
    ("pattern batch vs incr.", "pattern_batch_vs_incremental",
     ("batch_seconds", "incremental_seconds", "ratio")),
    ("dwell pandas (CSV)", "dwell_pandas", ("rows", "seconds", "peak_rss_mib")),
    ("dwell Vigil (CSV)", "dwell_csv",
     ("seconds", "kpis_seconds", "ratio_vs_pandas", "peak_rss_mib")),
    ("dwell CLI --file", "dwell_cli", ("wall_s", "peak_rss_mib")),
    ("dwell Vigil (store)", "dwell_stored",
     ("seconds", "warm_seconds", "ratio_vs_pandas", "peak_rss_mib")),
    ("dwell store build", "dwell_stored", ("build.seconds", "build.rows_per_s")),
    ("analytics API p50", "dwell_api",
     ("kpis_p50_ms", "dwell_p50_ms", "occupancy_p50_ms", "visitors_p50_ms",
      "sessions_p50_ms")),
    ("analytics API cached p50", "dwell_api",
     ("kpis_cached_p50_ms", "occupancy_cached_p50_ms", "sessions_cached_p50_ms")),
    ("dashboard warm p50 (ms)", "dashboard_pages",
     ("overview_warm_p50_ms", "camera_warm_p50_ms", "anomalies_warm_p50_ms")),
    ("dashboard warm p50 (ms)", "dashboard_pages",
     ("analytics_warm_p50_ms", "patterns_warm_p50_ms", "uploads_warm_p50_ms")),
    ("dashboard cold (ms)", "dashboard_pages",
     ("overview_cold_ms", "camera_cold_ms", "anomalies_cold_ms")),
    ("dashboard cold (ms)", "dashboard_pages",
     ("analytics_cold_ms", "patterns_cold_ms", "uploads_cold_ms")),
    ("dashboard API requests", "dashboard_pages",
     ("overview_api_requests", "camera_api_requests", "anomalies_api_requests")),
    ("dashboard API requests", "dashboard_pages",
     ("analytics_api_requests", "patterns_api_requests", "uploads_api_requests")),
    ("dashboard API bytes", "dashboard_pages",
     ("overview_api_bytes", "camera_api_bytes", "anomalies_api_bytes")),
    ("dashboard API bytes", "dashboard_pages",
     ("analytics_api_bytes", "patterns_api_bytes", "uploads_api_bytes")),
    ("overview requests/sources", "dashboard_overview_sources",
     ("sources_few", "requests_few", "sources_many", "requests_many")),
)
"""Label, result key, metrics (``a.b`` reads ``figures["a"]["b"]``)."""


def _metric(figures: dict[str, Any], path: str) -> Any:
    value: Any = figures
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def print_table(doc: dict[str, Any]) -> None:
    """A short human summary on stderr."""
    results = doc["results"]
    out = sys.stderr
    print(f"\nVigil benchmarks ({doc['parameters']['mode']}, {doc['parameters']['rows']:,} rows)",
          file=out)
    for label, key, metrics in TABLE_ROWS:
        figures = results.get(key) or {}
        if "skipped" in figures:
            text = f"skipped: {figures['skipped']}"
        elif "error" in figures:
            text = f"ERROR: {figures['error']}"
        else:
            text = "  ".join(f"{m}={_fmt(_metric(figures, m))}" for m in metrics)
        print(f"  {label:<24} {text}", file=out)
    for label, name in (("ingest / COPY rate", "ingest"), ("PG ingest / COPY rate",
                                                           "postgres_ingest")):
        ratio = doc["ratios"].get(f"{name}_rows_per_s_over_copy_rows_per_s")
        if ratio is not None:
            print(f"  {label:<24} {ratio:.2f}", file=out)
    print("checks:", file=out)
    for check in doc["checks"]:
        status = check["status"].upper()
        extra = check.get("missed_by") or check.get("why") or ""
        actual = "" if check["actual"] is None else f" (actual {_fmt(check['actual'])})"
        print(f"  [{status:^12}] {check['name']}: {check['target']}{actual}"
              f"{' - ' + extra if extra else ''}", file=out)
    load = doc["machine"].get("load_average_at_start")
    cores = doc["machine"].get("usable_cores") or doc["machine"].get("logical_cores") or 1
    if load and load[0] > BUSY_LOAD_PER_CORE * cores:
        print(f"note: the machine was busy at the start (1-minute load {load[0]} on {cores} "
              "cores); figures are lower than on an idle machine", file=out)
    s = doc["summary"]
    print(f"{s['pass']} passed, {s['fail']} failed, {s['not measured']} not measured; "
          f"took {doc['duration_s']} s", file=out)


def write_json(doc: dict[str, Any], path: Path) -> None:
    """Write ``doc`` to ``path`` (via a temporary file beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    partial.replace(path)


def merge_previous(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """``doc`` (a run with ``--only``) merged into the result file at ``path``: the groups
    this run measured replace theirs, every other group's results stay; the checks and the
    summary are re-evaluated over the merge and the run is listed under ``merged_runs``."""
    if not path.exists():
        return doc
    previous: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    measured = {key: value for key, value in doc["results"].items()
                if not (isinstance(value, dict) and "skipped" in value
                        and value["skipped"] == "not selected (--only)")}
    results = {**previous.get("results", {}), **measured}
    checks = evaluate(results)
    merged = {**previous, "results": results, "ratios": ratios(results),
              "targets": targets_json(), "checks": checks,
              "summary": {status: sum(c["status"] == status for c in checks)
                          for status in ("pass", "fail", "not measured")}}
    run = {"timestamp_utc": doc["machine"].get("timestamp_utc"),
           "parameters": doc["parameters"], "duration_s": doc["duration_s"],
           "groups": sorted(measured),
           "load_average_at_start": doc["machine"].get("load_average_at_start"),
           "load_average_at_end": doc["machine"].get("load_average_at_end"),
           "git_commit": doc["machine"].get("git_commit")}
    merged["merged_runs"] = [*previous.get("merged_runs", []), run]
    merged["notes"] = [*previous.get("notes", []),
                       f"{str(run['timestamp_utc'])[:10]}: {', '.join(run['groups'])} measured "
                       f"by `python -m benchmarks.run --only {','.join(doc['parameters']['only'])}"
                       " --merge` and merged (see merged_runs); the other groups are "
                       "unchanged"]
    return merged


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = QUICK if args.quick else FULL
    dwell_rows = args.dwell_rows or base.dwell_rows
    params = replace(base, rows=args.rows or base.rows, only=args.only, dwell_rows=dwell_rows,
                     dwell_api_rows=min(base.dwell_api_rows, dwell_rows) if args.quick
                     else base.dwell_api_rows)
    log(f"mode {params.mode}: {params.rows:,} rows, {params.batches} batches, "
        f"{params.posts} single POSTs"
        + (f"; only {', '.join(params.only)}" if params.only else ""))
    machine = machine_info(ROOT)
    run = run_suite(params)
    machine["load_average_at_end"] = load_average()
    results = run["results"]
    checks = evaluate(results)
    summary = {status: sum(c["status"] == status for c in checks)
               for status in ("pass", "fail", "not measured")}
    doc = {
        "suite": "vigil benchmarks",
        "parameters": asdict(params),
        "machine": machine,
        "duration_s": run["duration_s"],
        "results": results,
        "ratios": ratios(results),
        "targets": targets_json(),
        "checks": checks,
        "summary": summary,
    }
    if args.merge:
        doc = merge_previous(doc, args.out)
        checks = doc["checks"]
    write_json(doc, args.out)
    print_table(doc)
    if args.merge:
        log(f"this run took {run['duration_s']} s (the table shows the merged file)")
    log(f"results written to {args.out}")
    broken = any(c["status"] == "fail" and c["kind"] == "correctness" for c in checks) or any(
        isinstance(v, dict) and "error" in v for v in results.values())
    missed = any(c["status"] == "fail" for c in checks)
    return 1 if broken or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
