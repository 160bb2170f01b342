"""Aggregate-store benchmarks: ``python -m benchmarks.aggregates`` prints JSON.

For the SQL store on a DuckDB file and for InfluxDB 1.x (a throwaway ``influxd`` on
loopback, when installed), over a history of 90 days x 50 entities x 2 detectors:

- a batch of 1,000 aggregate records written (one day of a detector for 1,000 entities, a
  new day each round), and the same batch written again (every record replaced);
- a 30-day aggregate query (``sum`` of a field over one detector, all entities) and a
  30-day record query (one detector and entity).

Each figure is the best of several rounds; the answers are checked against the data written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.procs import LOOPBACK, free_port
from vigil.rollup import AggregateRecord, InfluxAggregateStore, InfluxSettings
from vigil.rollup.aggregates import AggregateStore
from vigil.rollup.sql_aggregates import SqlAggregateStore
from vigil.store import open_store

HISTORY_DAYS = 90
HISTORY_ENTITIES = 50
HISTORY_DETECTORS = ("hourly_counts", "sequences")
BATCH = 1_000
WRITE_ROUNDS = 7
QUERY_ROUNDS = 25
QUERY_DAYS = 30
READY_TIMEOUT_S = 20.0

RESULT_KEYS = ("aggregates_sql_duckdb", "aggregates_influxdb")
"""Top-level keys of :func:`run_aggregate_benchmarks` (``covers`` for ``run.guarded``)."""

TARGETS: tuple[tuple[str, str, str, str, float, str], ...] = (
    ("aggregate store: 1,000-record batch write, SQL on DuckDB", "aggregates_sql_duckdb",
     "write_1000_ms", "<", 50.0, "ms"),
    ("aggregate store: 1,000-record batch write, InfluxDB", "aggregates_influxdb",
     "write_1000_ms", "<", 100.0, "ms"),
    ("aggregate store: 30-day aggregate query, SQL on DuckDB", "aggregates_sql_duckdb",
     "aggregate_30d_ms", "<", 10.0, "ms"),
    ("aggregate store: 30-day aggregate query, InfluxDB", "aggregates_influxdb",
     "aggregate_30d_ms", "<", 50.0, "ms"),
)
"""Bars in the field order of ``benchmarks.targets.Target`` (name, benchmark, metric, op,
value, unit)."""

CORRECTNESS: tuple[tuple[str, str], ...] = (
    ("aggregate store, SQL on DuckDB: writes counted and query answers exact",
     "aggregates_sql_duckdb"),
    ("aggregate store, InfluxDB: writes counted and query answers exact",
     "aggregates_influxdb"),
)


def fields(entity: int, day: int) -> dict[str, Any]:
    """A detector summary's fields: counts, a mean, an hourly histogram and a label."""
    return {"n": entity + day, "mean_s": (entity % 7) / 4, "label": "person",
            "hist": [(entity + day + hour) % 5 for hour in range(24)]}


def history(today: dt.date) -> list[AggregateRecord]:
    return [AggregateRecord("daily", detector, f"cam{e:03d}", today - dt.timedelta(days=d),
                            fields(e, d))
            for detector in HISTORY_DETECTORS for d in range(1, HISTORY_DAYS + 1)
            for e in range(HISTORY_ENTITIES)]


def batch(today: dt.date, days_ago: int) -> list[AggregateRecord]:
    """One day of a detector for BATCH entities."""
    return [AggregateRecord("daily", "summaries", f"ent{e:04d}",
                            today - dt.timedelta(days=days_ago), fields(e, days_ago))
            for e in range(BATCH)]


def best_ms(fn: Callable[[], object], rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    return round(min(timings), 3)


def measure(store: AggregateStore, today: dt.date) -> dict[str, Any]:
    """The figures of one store, with ``correct`` over every answer checked."""
    seeded = history(today)
    for start in range(0, len(seeded), 5_000):
        store.write_batch(seeded[start:start + 5_000])
    writes, rewrites, written = [], [], []
    for round_no in range(WRITE_ROUNDS):
        records = batch(today, round_no + 1)
        started = time.perf_counter()
        written.append(store.write_batch(records).written)
        writes.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        written.append(store.write_batch(records).written)
        rewrites.append((time.perf_counter() - started) * 1000)
    start, end = today - dt.timedelta(days=QUERY_DAYS), today - dt.timedelta(days=1)
    expected = sum(fields(e, d)["n"] for e in range(HISTORY_ENTITIES)
                   for d in range(1, QUERY_DAYS + 1))
    total = store.aggregate(start, end, "n", "sum", detector="hourly_counts")
    one = store.query(start, end, "hourly_counts", "cam007")
    return {
        "records_per_batch": BATCH,
        "write_1000_ms": round(min(writes), 3),
        "rewrite_1000_ms": round(min(rewrites), 3),
        "aggregate_30d_ms": best_ms(lambda: store.aggregate(
            start, end, "n", "sum", detector="hourly_counts"), QUERY_ROUNDS),
        "query_30d_records_ms": best_ms(lambda: store.query(
            start, end, "hourly_counts", "cam007"), QUERY_ROUNDS),
        "records_in_30d_aggregate": HISTORY_ENTITIES * QUERY_DAYS,
        "rounds": {"write": WRITE_ROUNDS, "query": QUERY_ROUNDS},
        "correct": (written == [BATCH] * (2 * WRITE_ROUNDS) and total == float(expected)
                    and [r.fields for r in one] == [fields(7, d)
                                                    for d in range(QUERY_DAYS, 0, -1)]),
    }


@contextmanager
def influx_server(workdir: Path) -> Iterator[str]:
    """A throwaway ``influxd`` on loopback; its URL. Stopped and removed afterwards."""
    binary = shutil.which("influxd", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if binary is None:
        raise FileNotFoundError("influxd not found (apt-get install influxdb)")
    workdir.mkdir(parents=True, exist_ok=True)
    port, rpc = free_port(), free_port()
    config = workdir / "influxdb.conf"
    config.write_text(
        f'reporting-disabled = true\nbind-address = "{LOOPBACK}:{rpc}"\n'
        f'[meta]\n  dir = "{workdir}/meta"\n  logging-enabled = false\n'
        f'[data]\n  dir = "{workdir}/data"\n  wal-dir = "{workdir}/wal"\n'
        "  query-log-enabled = false\n[monitor]\n  store-enabled = false\n"
        f'[http]\n  bind-address = "{LOOPBACK}:{port}"\n  log-enabled = false\n')
    url = f"http://{LOOPBACK}:{port}"
    with (workdir / "influxd.log").open("ab") as log:
        proc = subprocess.Popen([binary, "run", "-config", str(config)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _answers(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"influxd did not start on port {port}")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ping", timeout=0.5).status_code == 204
    except httpx.HTTPError:
        return False


def run_aggregate_benchmarks(workdir: Path) -> dict[str, dict[str, Any]]:
    """Both stores' figures (InfluxDB ``skipped`` with the reason when it cannot run)."""
    workdir.mkdir(parents=True, exist_ok=True)
    today = dt.datetime.now(dt.UTC).date()  # InfluxDB applies retention by the real clock
    results: dict[str, dict[str, Any]] = {}
    main = open_store(str(workdir / "aggregates.duckdb"))
    try:
        results["aggregates_sql_duckdb"] = measure(SqlAggregateStore(main), today)
    finally:
        main.close()
    try:
        with influx_server(workdir / "influxdb") as url:
            store = InfluxAggregateStore(InfluxSettings(url, "bench"))
            try:
                results["aggregates_influxdb"] = measure(store, today)
            finally:
                store.close()
    except (FileNotFoundError, RuntimeError) as exc:
        results["aggregates_influxdb"] = {"skipped": str(exc)}
    return results


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="vigil-bench-aggregates-") as tmp:
        print(json.dumps(run_aggregate_benchmarks(Path(tmp)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
