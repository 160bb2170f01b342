"""Reference rate: bare PostgreSQL ``COPY`` of the clean CSV into an all-text table.

Runs only where the PostgreSQL 15 server binaries are installed: a throwaway cluster on a
free loopback port, owned by the ``postgres`` user, removed afterwards.
"""

from __future__ import annotations

import csv
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.procs import LOOPBACK, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
COMMAND_TIMEOUT_S = 120.0
COPY_TIMEOUT_S = 900.0
TABLE = "bench_events"
Log = Callable[[str], None]


def _as_postgres(argv: list[str]) -> list[str]:
    """Run as the ``postgres`` user (via ``runuser`` when we are root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--", *argv]
    return argv


def _run(argv: list[str], timeout: float = COMMAND_TIMEOUT_S) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    return done.stdout


def skip_reason() -> str | None:
    """Why the reference cannot run here, or ``None`` when it can."""
    if not (PG_BIN / "initdb").exists():
        return "PostgreSQL server binaries not installed"
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        return f"no {PG_USER!r} user to run the PostgreSQL server as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != PG_USER:
        return f"needs root (to runuser -u {PG_USER}) or to run as {PG_USER}"
    if shutil.which("runuser") is None and os.geteuid() == 0:
        return "runuser not found"
    return None


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
    entry = pwd.getpwnam(PG_USER)
    root = Path(tempfile.mkdtemp(prefix="vigil-bench-pg-"))
    os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    port = free_port()
    pg_ctl = str(PG_BIN / "pg_ctl")
    started = False
    try:
        _run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust",
                           "-E", "UTF8", "--no-sync"]))
        options = (f"-p {port} -c listen_addresses={LOOPBACK} "
                   f"-c unix_socket_directories={root}")
        _run(_as_postgres([pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "pg.log"),
                           "-w", "-t", "60", "start"]))
        started = True
        psql = [str(PG_BIN / "psql"), "-X", "-q", "-h", LOOPBACK, "-p", str(port), "-U", PG_USER,
                "-d", "postgres", "-v", "ON_ERROR_STOP=1"]
        version = _run([*psql, "-At", "-c", "SHOW server_version"]).strip()
        columns = ", ".join(f"{_ident(c)} text" for c in _header(csv_path))
        _run([*psql, "-c", f"CREATE TABLE {TABLE} ({columns})"])
        literal = str(csv_path).replace("'", "''")
        copy = f"\\copy {TABLE} FROM '{literal}' WITH (FORMAT csv, HEADER true)"
        t0 = time.perf_counter()
        out = _run([*psql, "-c", copy], timeout=COPY_TIMEOUT_S)
        wall = time.perf_counter() - t0
        match = re.search(r"COPY (\d+)", out)
        copied = int(match.group(1)) if match else int(
            _run([*psql, "-At", "-c", f"SELECT count(*) FROM {TABLE}"]).strip())
        log(f"PostgreSQL {version} COPY: {round(copied / wall):,} rows/s")
        return {
            "server_version": version,
            "table": "all-text columns, logged, no indexes; default fsync/synchronous_commit",
            "rows": copied,
            "wall_s": round(wall, 3),
            "rows_per_s": round(copied / wall),
            "correct": copied == rows,
        }
    finally:
        if started:
            subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "-t", "60",
                                         "stop"]), capture_output=True, timeout=COMMAND_TIMEOUT_S,
                           check=False)
        shutil.rmtree(root, ignore_errors=True)
