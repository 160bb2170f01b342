"""Vigil on PostgreSQL: file ingest through the CLI and HTTP batch ingest with 1, 2, 4 workers.

Both run against a throwaway cluster (:mod:`benchmarks.pg_server`, durable settings) and a
fresh database per measurement:

* ``postgres_file_ingest``: ``vigil ingest CSV --json --quiet --db postgresql://…`` of the
  clean CSV of the file benchmarks, timed spawn to exit like :mod:`benchmarks.file_ingest`;
  ``postgres_file_reingest_duplicates``: the same file again into the same database.
* ``postgres_http_batch_ingest``: ``vigil serve --workers N --db postgresql://…`` for N in
  :data:`WORKER_COUNTS`, the same pre-serialised batches posted from
  :data:`CLIENT_THREADS` threads; the workers are measured in alternating order over
  ``rounds`` rounds (1, 2, 4 then 4, 2, 1, ...) and each figure is the best round, so a slow
  spell on a noisy machine does not decide the comparison alone.

Every run is checked against the database afterwards (psycopg): the events table holds
exactly the distinct events sent, and the hourly counts equal a rebuild from the events
(no event counted twice by concurrent workers). The CPU seconds the client, the workers and
PostgreSQL spent in the timed part are recorded, to tell a saturated machine from a
bottleneck in Vigil.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import psycopg

from benchmarks.file_ingest import INGEST_TIMEOUT_S, MIB, cli_startup_s
from benchmarks.http_ingest import (
    BATCH_SIZE,
    percentile,
    post_concurrently,
    synth_events,
)
from benchmarks.pg_server import PgCluster, skip_reason, throwaway_postgres
from benchmarks.procs import VigilServer, clean_env, run_measured
from vigil.store.sql import POSTGRES, hourly_rollup

WORKER_COUNTS = (1, 2, 4)
CLIENT_THREADS = 4
WARMUP_BATCHES_PER_THREAD = 2
WORKERS_READY_TIMEOUT_S = 60.0
Log = Callable[[str], None]

HOURLY_MISMATCHES = f"""
    WITH kept AS (SELECT source_id, event_type, label, local_date, local_hour, event_count,
                         confidence_micros, confidence_count FROM hourly_counts),
         rebuilt AS (SELECT * FROM ({hourly_rollup(POSTGRES, "TRUE")}) AS r)
    SELECT count(*) FROM ((TABLE kept EXCEPT TABLE rebuilt)
                          UNION ALL (TABLE rebuilt EXCEPT TABLE kept)) AS diff
"""


def tree_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (0 when gone)."""
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)] \
            if pid else []
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def stored_counts(url: str) -> dict[str, int]:
    """Events in the database and hourly-count rows that differ from a rebuild (want 0)."""
    with psycopg.connect(url, autocommit=True) as con:
        events = con.execute("SELECT count(*) FROM events").fetchone()
        mismatches = con.execute(HOURLY_MISMATCHES).fetchone()
    assert events is not None and mismatches is not None
    return {"stored_events": int(events[0]), "hourly_rows_differing_from_rebuild":
            int(mismatches[0])}


# --- file ingest -----------------------------------------------------------------------------

def pg_ingest(vigil: Path, csv: Path, url: str, workdir: Path, startup_s: float
              ) -> dict[str, Any]:
    """``vigil ingest CSV --json --quiet --db URL`` once, measured like the DuckDB runs."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [str(vigil), "ingest", str(csv), "--json", "--quiet", "--db", url]
    run = run_measured(argv, workdir, INGEST_TIMEOUT_S, clean_env())
    if run.returncode != 0:
        raise RuntimeError(f"vigil ingest --db postgresql failed ({run.returncode}):\n"
                           f"{run.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(run.stdout)
    rows = int(report["rows_read"])
    return {
        "rows": rows,
        "wall_s": round(run.wall_s, 3),
        "rows_per_s": round(rows / run.wall_s),
        "rows_per_s_excluding_cli_startup": round(rows / max(run.wall_s - startup_s, 1e-9)),
        "peak_rss_mib": round(run.peak_rss_bytes / MIB, 1),
        "accepted": int(report["accepted"]),
        "duplicates": int(report["duplicates"]),
        "rejected": int(report["rejected"]),
    }


def run_pg_file_benchmarks(vigil: Path, csv: Path, rows: int, tmp: Path, log: Log
                           ) -> dict[str, Any]:
    """``postgres_file_ingest`` and ``postgres_file_reingest_duplicates``."""
    keys = ("postgres_file_ingest", "postgres_file_reingest_duplicates")
    reason = skip_reason()
    if reason:
        log(f"PostgreSQL file ingest skipped: {reason}")
        return {key: {"skipped": reason} for key in keys}
    startup = cli_startup_s(vigil, tmp)
    with throwaway_postgres() as cluster:
        url = cluster.create_database("vigil_file")
        first = pg_ingest(vigil, csv, url, tmp / "pg-file", startup)
        first.update(stored_counts(url))
        first["correct"] = (first["accepted"] == rows and first["rejected"] == 0
                            and first["stored_events"] == rows
                            and first["hourly_rows_differing_from_rebuild"] == 0)
        log(f"PostgreSQL file ingest: {first['rows_per_s']:,} rows/s, "
            f"peak RSS {first['peak_rss_mib']} MiB")
        again = pg_ingest(vigil, csv, url, tmp / "pg-file-again", startup)
        again.update(stored_counts(url))
        again["correct"] = (again["accepted"] == 0 and again["duplicates"] == rows
                            and again["stored_events"] == rows
                            and again["hourly_rows_differing_from_rebuild"] == 0)
        log(f"PostgreSQL re-ingest: {again['rows_per_s']:,} rows/s, "
            f"duplicates {again['duplicates']:,}")
        server = cluster.describe()
    first["file_mib"] = round(csv.stat().st_size / MIB, 1)
    common = {"cli_startup_s": round(startup, 3), "postgres": server}
    return {keys[0]: {**first, **common}, keys[1]: {**again, **common}}


# --- HTTP batch ingest -----------------------------------------------------------------------

class WorkersServer(VigilServer):
    """``vigil serve --workers N --db postgresql://…``, ready once every worker has started."""

    def __init__(self, vigil: Path, url: str, workers: int, workdir: Path) -> None:
        super().__init__(vigil, workdir / "unused.duckdb", workdir)
        self._argv = [*self._argv[:-2], "--db", url, "--workers", str(workers)]
        self.workers = workers

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + WORKERS_READY_TIMEOUT_S
        log = self._log
        while log.read_text(errors="replace").count("Application startup complete") < \
                self.workers:
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"not all {self.workers} workers started:\n{self.log_tail()}")
            time.sleep(0.05)


def bodies_of(events: list[dict[str, Any]]) -> list[bytes]:
    """JSON arrays of :data:`BATCH_SIZE` events."""
    return [json.dumps(events[i:i + BATCH_SIZE]).encode()
            for i in range(0, len(events), BATCH_SIZE)]


def one_run(vigil: Path, cluster: PgCluster, workers: int, name: str, warm: list[bytes],
            bodies: list[bytes], expected: tuple[int, int], workdir: Path) -> dict[str, Any]:
    """One measured run on a fresh database; ``expected`` = distinct (warm-up, measured)."""
    url = cluster.create_database(name)
    workdir.mkdir(parents=True, exist_ok=True)
    with WorkersServer(vigil, url, workers, workdir) as server:
        endpoint = f"{server.url}/api/v1/events"
        try:
            _, warm_results = post_concurrently(endpoint, warm, CLIENT_THREADS)
            before = (time.process_time(), tree_cpu_s(server.pid),
                      tree_cpu_s(cluster.postmaster_pid()))
            wall, results = post_concurrently(endpoint, bodies, CLIENT_THREADS)
            cpu = {"client": time.process_time() - before[0],
                   "vigil_serve": tree_cpu_s(server.pid) - before[1],
                   "postgres": tree_cpu_s(cluster.postmaster_pid()) - before[2]}
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{server.log_tail()}") from exc
    warm_accepted = sum(int(r["accepted"]) for r in warm_results)
    accepted = sum(int(r["accepted"]) for r in results)
    lat = sorted(x for r in results for x in r["latencies"])
    events = len(bodies) * BATCH_SIZE
    figures: dict[str, Any] = {
        "wall_s": round(wall, 3),
        "events_per_s": round(events / wall),
        "batch_latency_p50_ms": round(percentile(lat, 50) * 1000, 2),
        "batch_latency_p99_ms": round(percentile(lat, 99) * 1000, 2),
        "cpu_s": {name: round(value, 2) for name, value in cpu.items()},
        "cpu_cores_busy": round(sum(cpu.values()) / wall, 2),
        "accepted": accepted,
        "warmup_accepted": warm_accepted,
        **stored_counts(url),
    }
    figures["correct"] = (warm_accepted == expected[0] and accepted == expected[1]
                          and figures["stored_events"] == sum(expected)
                          and figures["hourly_rows_differing_from_rebuild"] == 0)
    return figures


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One worker count over its rounds: the best round's figures, every round's rate."""
    best = max(runs, key=lambda r: int(r["events_per_s"]))
    return {**best, "events_per_s_rounds": [r["events_per_s"] for r in runs],
            "correct": all(r["correct"] for r in runs),
            "accepted_rounds": [r["accepted"] for r in runs]}


def run_pg_http_benchmarks(vigil: Path, batches: int, rounds: int, tmp: Path, log: Log
                           ) -> dict[str, Any]:
    """``postgres_http_batch_ingest``: workers 1, 2, 4 side by side and their ratios."""
    reason = skip_reason()
    if reason:
        log(f"PostgreSQL HTTP ingest skipped: {reason}")
        return {"postgres_http_batch_ingest": {"skipped": reason}}
    warm_n = WARMUP_BATCHES_PER_THREAD * CLIENT_THREADS * BATCH_SIZE
    events = synth_events(warm_n + batches * BATCH_SIZE, seed=23)
    warm, measured = events[:warm_n], events[warm_n:]
    expected = (len({e["event_id"] for e in warm}), len({e["event_id"] for e in measured}))
    warm_bodies, bodies = bodies_of(warm), bodies_of(measured)
    del events, warm, measured
    runs: dict[int, list[dict[str, Any]]] = {w: [] for w in WORKER_COUNTS}
    with throwaway_postgres() as cluster:
        for r in range(rounds):
            order = WORKER_COUNTS if r % 2 == 0 else WORKER_COUNTS[::-1]
            for workers in order:
                run = one_run(vigil, cluster, workers, f"vigil_http_w{workers}_r{r}",
                              warm_bodies, bodies, expected, tmp / f"pg-serve-w{workers}-r{r}")
                runs[workers].append(run)
                log(f"PostgreSQL HTTP, {workers} worker(s), round {r + 1}/{rounds}: "
                    f"{run['events_per_s']:,} events/s")
        server = cluster.describe()
    out: dict[str, Any] = {f"workers_{w}": summarise(runs[w]) for w in WORKER_COUNTS}
    one = out["workers_1"]["events_per_s"]
    for w in WORKER_COUNTS[1:]:
        out[f"ratio_{w}_over_1"] = round(out[f"workers_{w}"]["events_per_s"] / one, 3)
    out.update({
        "batches": batches, "batch_size": BATCH_SIZE, "client_threads": CLIENT_THREADS,
        "events": batches * BATCH_SIZE, "distinct_events": expected[1],
        "warmup_events": expected[0], "rounds": rounds,
        "round_orders": [list(WORKER_COUNTS if r % 2 == 0 else WORKER_COUNTS[::-1])
                         for r in range(rounds)],
        "figure": "best of the rounds per worker count",
        "postgres": server,
        "correct": all(out[f"workers_{w}"]["correct"] for w in WORKER_COUNTS),
    })
    return {"postgres_http_batch_ingest": out}

