"""``vigil serve``: exposure check, and a real server started, used and stopped."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer

from vigil.cli.serve import check_exposure, is_loopback
from vigil.config import load_settings
from vigil.keys import hash_key
from vigil.store import DuckDBStore

from .conftest import Invoke
from .helpers import VIGIL, clean_env, event_count


def test_refuses_public_host_without_keys(vigil: Invoke, db: Path) -> None:
    result = vigil("serve", "--host", "0.0.0.0", "--port", "1", "--db", db)
    assert result.exit_code != 0
    assert "--insecure" in result.stderr
    assert "0.0.0.0" in result.stderr


def test_check_exposure(db: Path) -> None:
    settings = load_settings(db=str(db))
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
        check_exposure(settings, host, insecure=False)  # no exit
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    with pytest.raises(typer.Exit) as refused:
        check_exposure(settings, "0.0.0.0", insecure=False)
    assert refused.value.exit_code != 0
    check_exposure(settings, "0.0.0.0", insecure=True)
    store = DuckDBStore(db)
    try:
        store.add_api_key("k1", hash_key("secret"), "admin", None)
    finally:
        store.close()
    check_exposure(settings, "0.0.0.0", insecure=False)  # keys exist: allowed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited before answering"
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"/healthz did not answer within {timeout}s")


class Server:
    """``vigil serve`` in a subprocess on a free loopback port."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "served.duckdb"
        self.log_path = tmp_path / "server.log"
        self.base = f"http://127.0.0.1:{free_port()}"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(VIGIL), "serve", "--port", self.base.rsplit(":", 1)[1], "--db", str(self.db)],
            cwd=tmp_path, stdout=self._log, stderr=subprocess.STDOUT, env=clean_env())
        wait_healthy(self.base, self.process)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_real_server_smoke(server: Server) -> None:
    base = server.base
    assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
    event = {"camera_id": "porch", "event_type": "detection", "label": "person",
             "timestamp": "2026-03-22T10:00:00Z", "event_id": "smoke-1"}
    posted = httpx.post(f"{base}/api/v1/events", json=event, timeout=10)
    assert posted.status_code == 200
    assert posted.json()["accepted"] == 1
    listed = httpx.get(f"{base}/api/v1/events", params={"source": "porch"}, timeout=10)
    assert [e["event_id"] for e in listed.json()["events"]] == ["smoke-1"]
    server.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = server.process.wait(timeout=10)
    assert time.monotonic() - started < 10
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert code in (0, -signal.SIGTERM)
    server.stop()
    assert "Application shutdown complete" in server.log_path.read_text()
    assert event_count(server.db) == 1  # committed, and the file is free again


def test_cli_on_a_served_database_says_it_is_busy(server: Server, tmp_path: Path) -> None:
    done = subprocess.run([str(VIGIL), "cameras", "list", "--db", str(server.db)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env=clean_env())
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "in use by another process" in " ".join(done.stderr.split())


def test_ingest_through_a_running_server(server: Server, tmp_path: Path) -> None:
    csv = tmp_path / "through.csv"
    csv.write_text("timestamp,cam,event_type,label\n"
                   "2026-03-22T10:00:00Z,porch,detection,person\n"
                   "not-a-time,porch,detection,person\n"
                   "22/03/2026 11:00,porch,detection,car\n", encoding="utf-8")
    done = subprocess.run(
        [str(VIGIL), "ingest", str(csv), "--server", server.base, "--json", "--map",
         "cam=camera_id", "--timestamp-format", "%d/%m/%Y %H:%M", "--timezone",
         "Europe/Berlin"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=clean_env())
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["accepted"] == 2
    assert report["rejected_by_reason"]["timestamp_invalid"]["lines"] == [3]
    listed = httpx.get(f"{server.base}/api/v1/events", params={"source": "porch"}).json()
    # 11:00 in Berlin on 22 March (CET, +01:00) is 10:00 UTC
    assert sorted((e["ts"], e["labels"]) for e in listed["events"]) == [
        ("2026-03-22T10:00:00Z", ["car"]), ("2026-03-22T10:00:00Z", ["person"])]


def test_ingest_through_a_server_that_is_not_there(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("timestamp,camera_id,event_type\n2026-03-22T10:00:00Z,a,detection\n",
                   encoding="utf-8")
    done = subprocess.run(
        [str(VIGIL), "ingest", str(csv), "--server", f"http://127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=clean_env())
    assert done.returncode == 1
    assert "cannot reach" in done.stderr
    assert "Traceback" not in done.stderr
