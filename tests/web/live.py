"""A live ``vigil serve`` in a subprocess, on a free loopback port, with generated data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import free_port, log_tail

VIGIL = Path(sys.executable).with_name("vigil")
START_TIMEOUT_S = 60.0
ANOMALY_KINDS = "rare_time,novel_object,spike,silence"
LAST_STARTUP_JOB = "patterns"  # the start-up catch-up runs daily … monthly, then patterns


def vigil_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``vigil`` subprocess: no VIGIL_* settings but ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(extra or {})
    return env


def run_vigil(*args: str | Path, env: dict[str, str] | None = None) -> str:
    """Run one ``vigil`` command; its stdout, or an error carrying its stderr."""
    done = subprocess.run([str(VIGIL), *map(str, args)], capture_output=True, text=True,
                          env=env or vigil_env(), timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"vigil {' '.join(map(str, args))} exited {done.returncode}:\n"
                           f"{done.stderr[-3000:]}")
    return done.stdout


def create_key(db: Path, scope: str) -> str:
    """Create an API key of ``scope`` in the store ``db`` with ``vigil keys create``; the
    key as printed (once)."""
    printed = run_vigil("keys", "create", "--scope", scope, "--db", db)
    found = re.findall(r"vgl_\S+", printed)
    if not found:
        raise RuntimeError(f"vigil keys create printed no key:\n{printed}")
    return str(found[-1])


def build_dataset(folder: Path, days: int = 28) -> Path:
    """Generate camera events with injected anomalies, set the zones, ingest (which scores
    them): the DuckDB file the live server opens."""
    data, db = folder / "data", folder / "vigil.duckdb"
    run_vigil("generate", data, "--days", str(days), "--anomalies", ANOMALY_KINDS,
              "--anomaly-warmup-days", str(days - 7))
    run_vigil("cameras", "import", data / "cameras.json", "--db", db)
    run_vigil("ingest", data / "events.csv", "--db", db)
    return db


@dataclass
class LiveServer:
    """A running ``vigil serve``: its base URL, database, upload dir and log."""

    url: str
    db: Path
    log: Path
    process: subprocess.Popen[bytes]

    def get(self, path: str, key: str | None = None) -> Any:
        """GET a JSON path of the API."""
        request = urllib.request.Request(self.url + path)
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_server(db: Path, workdir: Path, extra_env: dict[str, str] | None = None,
                 scheduler: bool = True) -> LiveServer:
    """Start ``vigil serve`` on a free port; return once ``/healthz`` answers and the
    start-up jobs are done (``scheduler=False``: no jobs run, e.g. none replaces the stored
    patterns)."""
    port = free_port()
    log = workdir / f"serve-{port}.log"
    env = vigil_env({"VIGIL_UPLOAD_DIR": str(workdir / f"uploads-{port}"), **(extra_env or {})})
    if not scheduler:
        env["VIGIL_SCHEDULER"] = "off"
    with log.open("wb") as out:
        process = subprocess.Popen([str(VIGIL), "serve", "--port", str(port), "--db", str(db)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
    server = LiveServer(f"http://127.0.0.1:{port}", db, log, process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vigil serve exited {process.returncode}:\n{log_tail(log)}")
        try:
            server.get("/healthz")
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
            continue
        if not scheduler or _startup_jobs_done(server):
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"vigil serve did not get ready in {START_TIMEOUT_S:.0f} s:\n"
                       f"{log_tail(log)}")


def _startup_jobs_done(server: LiveServer) -> bool:
    """Whether the start-up catch-up of the scheduled jobs has finished (or keys block us)."""
    try:
        jobs = server.get("/api/v1/jobs")["jobs"]
    except urllib.error.HTTPError as error:
        return error.code in (401, 403)
    by_name = {job["name"]: job for job in jobs}
    caught_up = by_name.get(LAST_STARTUP_JOB, {}).get("last_run") is not None
    return caught_up and not any(job["running"] for job in jobs)
