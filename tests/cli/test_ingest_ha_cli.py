"""``vigil ingest --format ha-history|ha-events --areas`` and ``vigil cameras`` areas."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.store import DuckDBStore, EventFilter

from .conftest import Invoke
from .helpers import VIGIL, clean_env, event_count

HISTORY = ("entity_id,state,last_changed,friendly_name\n"
           "light.kitchen,off,2024-03-01T10:00:00.000Z,Kitchen light\n"
           "light.kitchen,on,2024-03-01T12:00:00.000Z,Kitchen light\n"
           "binary_sensor.door,on,yesterday,Door\n"
           "binary_sensor.door,off,2024-03-01T11:05:00.000Z,Door\n")
AREAS_CSV = "entity_id,area\nlight.kitchen,Kitchen\nbinary_sensor.door,Hall\n"


@pytest.fixture
def files(workdir: Path) -> dict[str, Path]:
    paths = {"history": workdir / "history.csv", "areas": workdir / "areas.csv",
             "events": workdir / "events.ndjson", "areas_json": workdir / "areas.json"}
    paths["history"].write_text(HISTORY, encoding="utf-8")
    paths["areas"].write_text(AREAS_CSV, encoding="utf-8")
    paths["areas_json"].write_text(json.dumps({"switch.fan": "Attic"}), encoding="utf-8")
    event = {"event_type": "state_changed", "time_fired": "2024-03-01T10:00:00Z",
             "data": {"entity_id": "switch.fan", "old_state": None,
                      "new_state": {"state": "on", "last_changed": "2024-03-01T10:00:00Z"}}}
    paths["events"].write_text(json.dumps(event) + "\n[1]\n", encoding="utf-8")
    return paths


def stored(db: Path) -> list[dict[str, Any]]:
    store = DuckDBStore(db)
    try:
        return store.list_events(EventFilter(), None, 100).events
    finally:
        store.close()


def areas_of(vigil: Invoke, db: Path) -> dict[str, Any]:
    listed = vigil("cameras", "list", "--json", "--db", db)
    assert listed.exit_code == 0, listed.stderr
    return {s["source_id"]: s["area"] for s in json.loads(listed.stdout)}


def test_history_with_areas(vigil: Invoke, db: Path, files: dict[str, Path]) -> None:
    result = vigil("ingest", files["history"], "--format", "ha-history", "--areas",
                   files["areas"], "--json", "--no-detect", "--db", db)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["accepted"], report["rejected"]) == (3, 1)
    assert report["rejected_by_reason"]["timestamp_invalid"]["lines"] == [4]
    assert "set the area of 2 source(s)" in result.stderr
    events = stored(db)
    assert [(e["source_id"], e["state"], e["zone"], e["attributes"]["old_state"])
            for e in events] == [("light.kitchen", "off", "Kitchen", None),
                                 ("binary_sensor.door", "off", "Hall", None),
                                 ("light.kitchen", "on", "Kitchen", "off")]
    assert areas_of(vigil, db) == {"light.kitchen": "Kitchen", "binary_sensor.door": "Hall"}
    again = json.loads(vigil("ingest", files["history"], "--format", "ha-history", "--json",
                             "--no-detect", "--db", db).stdout)
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    human = vigil("cameras", "list", "--db", db)
    assert "Kitchen" in human.stdout and "Hall" in human.stdout


def test_ha_events_file_with_json_areas(vigil: Invoke, db: Path,
                                        files: dict[str, Path]) -> None:
    result = vigil("ingest", files["events"], "--format", "ha-events", "--areas",
                   files["areas_json"], "--json", "--no-detect", "--db", db)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["accepted"] == 1
    assert report["rejected_by_reason"]["ha_not_state_changed"]["lines"] == [2]
    [event] = stored(db)
    assert (event["source_id"], event["zone"], event["labels"]) == ("switch.fan", "Attic",
                                                                    ["switch"])


def test_bad_mapping_file_names_the_line_and_stores_nothing(vigil: Invoke, db: Path,
                                                            files: dict[str, Path],
                                                            workdir: Path) -> None:
    bad = workdir / "bad.csv"
    bad.write_text("entity_id,area\nlight.kitchen,Kitchen\nlight.door\n", encoding="utf-8")
    result = vigil("ingest", files["history"], "--format", "ha-history", "--areas", bad,
                   "--db", db)
    assert result.exit_code == 2
    assert "line 3" in result.stderr and "bad.csv" in result.stderr
    assert event_count(db) == 0
    missing = vigil("ingest", files["history"], "--format", "ha-history", "--areas",
                    workdir / "nope.csv", "--db", db)
    assert missing.exit_code == 2 and "nope.csv" in missing.stderr


def test_cameras_set_and_clear_area(vigil: Invoke, db: Path, files: dict[str, Path]) -> None:
    done = vigil("cameras", "set", "light.kitchen", "--area", "Kitchen", "--db", db)
    assert done.exit_code == 0, done.stderr
    assert "Kitchen" in done.stdout
    both = vigil("cameras", "set", "light.kitchen", "--timezone", "Europe/Berlin", "--db", db)
    assert both.exit_code == 0
    assert areas_of(vigil, db) == {"light.kitchen": "Kitchen"}  # the zone alone keeps it
    assert vigil("cameras", "set", "light.kitchen", "--clear-area", "--db", db).exit_code == 0
    assert areas_of(vigil, db) == {"light.kitchen": None}
    nothing = vigil("cameras", "set", "light.kitchen", "--db", db)
    assert nothing.exit_code == 2 and "--area" in nothing.stderr
    clash = vigil("cameras", "set", "light.kitchen", "--area", "X", "--clear-area", "--db", db)
    assert clash.exit_code == 2
    imported = vigil("cameras", "areas", files["areas"], "--db", db)
    assert imported.exit_code == 0, imported.stderr
    assert areas_of(vigil, db) == {"light.kitchen": "Kitchen", "binary_sensor.door": "Hall"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``vigil serve`` on a free loopback port; its base URL."""
    base = f"http://127.0.0.1:{free_port()}"
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [str(VIGIL), "serve", "--port", base.rsplit(":", 1)[1], "--db",
             str(tmp_path / "served.duckdb")],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None and time.monotonic() < deadline
                try:
                    if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield base
        finally:
            process.kill()
            process.wait(5)


def test_history_through_a_running_server(served: str, files: dict[str, Path],
                                          workdir: Path) -> None:
    done = subprocess.run(
        [str(VIGIL), "ingest", str(files["history"]), "--format", "ha-history", "--areas",
         str(files["areas"]), "--server", served, "--json"],
        capture_output=True, text=True, timeout=60, cwd=workdir, env=clean_env())
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["accepted"], report["rejected"]) == (3, 1)
    sources = httpx.get(f"{served}/api/v1/cameras").json()["sources"]
    assert {s["source_id"]: s["area"] for s in sources} == {
        "light.kitchen": "Kitchen", "binary_sensor.door": "Hall"}
