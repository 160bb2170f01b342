"""Reference rate: bare PostgreSQL ``COPY`` of the clean CSV into an all-text table.

Runs only where the PostgreSQL 15 server binaries are installed, on a throwaway cluster
(:mod:`benchmarks.pg_server`) with the same settings as the Vigil-on-PostgreSQL benchmarks.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.pg_server import run_checked, skip_reason, throwaway_postgres

COPY_TIMEOUT_S = 900.0
TABLE = "bench_events"
Log = Callable[[str], None]


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run_pg_copy(csv_path: Path, rows: int, log: Log) -> dict[str, Any]:
    """Time ``psql -c "\\copy ..."`` of ``csv_path``; ``{"skipped": ...}`` when it cannot run."""
    reason = skip_reason()
    if reason:
        log(f"PostgreSQL COPY reference skipped: {reason}")
        return {"skipped": reason}
    with throwaway_postgres() as cluster:
        psql = cluster.psql()
        columns = ", ".join(f"{_ident(c)} text" for c in _header(csv_path))
        run_checked([*psql, "-c", f"CREATE TABLE {TABLE} ({columns})"])
        literal = str(csv_path).replace("'", "''")
        copy = f"\\copy {TABLE} FROM '{literal}' WITH (FORMAT csv, HEADER true)"
        t0 = time.perf_counter()
        out = run_checked([*psql, "-c", copy], timeout=COPY_TIMEOUT_S)
        wall = time.perf_counter() - t0
        match = re.search(r"COPY (\d+)", out)
        copied = int(match.group(1)) if match else int(
            cluster.query(f"SELECT count(*) FROM {TABLE}"))
        log(f"PostgreSQL {cluster.version} COPY: {round(copied / wall):,} rows/s")
        return {
            **cluster.describe(),
            "table": "all-text columns, logged, no indexes",
            "rows": copied,
            "wall_s": round(wall, 3),
            "rows_per_s": round(copied / wall),
            "correct": copied == rows,
        }
