"""``vigil serve --workers N`` on PostgreSQL: concurrent ingest loses and double-counts nothing.

Several client processes post overlapping batches at the same time to a server with three
worker processes. Afterwards every distinct event is stored once and the hourly counts equal
a ``GROUP BY`` over the stored events.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.store import open_store

from .conftest import Invoke
from .helpers import VIGIL, clean_env
from .test_serve_cli import free_port, wait_healthy

CLIENTS = 4
BATCHES_PER_CLIENT = 12
EVENTS_PER_BATCH = 150
DISTINCT_EVENTS = 900  # every client draws its batches from the same pool of ids

# One client process: posts overlapping batches drawn from the shared pool.
CLIENT = r"""
import json, random, sys
import httpx
base, seed, batches, size, pool = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:6])
rng = random.Random(seed)
cameras = ["porch", "garage", "yard"]
with httpx.Client(base_url=base, timeout=60) as client:
    for _ in range(batches):
        ids = rng.sample(range(pool), size)
        body = [{"event_id": f"e{i}", "camera_id": cameras[i % 3], "event_type": "detection",
                 "timestamp": 1767225600 + i * 97, "labels": ["person", "car"][: 1 + i % 2],
                 "confidence": (i % 100) / 100} for i in ids]
        response = client.post("/api/v1/events", content=json.dumps(body),
                               headers={"content-type": "application/json"})
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["accepted"] + result["duplicates"] == size, result
        print(result["accepted"])
"""


def test_workers_need_postgres(vigil: Invoke, tmp_path: Path) -> None:
    result = vigil("serve", "--workers", "2", "--db", tmp_path / "v.duckdb")
    assert result.exit_code != 0
    assert "PostgreSQL" in result.stderr


@pytest.mark.timeout(240)
def test_concurrent_workers_store_each_event_once(pg_url: str, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(VIGIL), "serve", "--workers", "3", "--port", base.rsplit(":", 1)[1],
             "--db", pg_url],
            stdout=log, stderr=subprocess.STDOUT, env=clean_env()
            | {"VIGIL_UPLOAD_DIR": str(tmp_path / "uploads")},
        )
    try:
        wait_healthy(base, server, timeout=60)
        clients = [
            subprocess.Popen([sys.executable, "-c", CLIENT, base, str(seed),
                              str(BATCHES_PER_CLIENT), str(EVENTS_PER_BATCH),
                              str(DISTINCT_EVENTS)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for seed in range(CLIENTS)
        ]
        accepted = 0
        for client in clients:
            out, err = client.communicate(timeout=180)
            assert client.returncode == 0, err
            accepted += sum(int(line) for line in out.split())
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    log_text = log_path.read_text(errors="replace")
    assert log_text.count("Application startup complete") == 3, log_text[-3000:]

    store = open_store(pg_url)
    try:
        ids = list(store.iter_event_ids())
        assert len(ids) == len(set(ids))  # no event stored twice
        assert accepted == len(ids)  # each stored event was reported accepted exactly once
        assert len(ids) <= DISTINCT_EVENTS
        assert store.hourly_counts().to_pylist() == store.hourly_counts_from_events().to_pylist()
        sources = {s.source_id: s.event_count for s in store.list_sources()}
        assert sum(sources.values()) == len(ids)
    finally:
        store.close()
