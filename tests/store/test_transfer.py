"""``vigil export`` / ``vigil import`` move a whole store between DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.ingest.payload import ingest_payload
from vigil.store import DeadLetter, EventFilter, Store, UploadState, open_store
from vigil.store.transfer import TransferError, export_store, import_store

EVENTS = [
    {"event_id": "a", "camera_id": "porch", "event_type": "detection",
     "timestamp": "2026-03-29T00:30:00Z", "labels": ["person", 'odd "label", {x}'],
     "confidence": 0.91, "detections": [{"label": "person", "box": [1, 2, 3, 4]}],
     "note": "kept in attributes"},
    {"event_id": "b", "camera_id": "porch", "event_type": "entry", "person_id": "p1",
     "timestamp": "2026-03-29T01:30:00Z", "zone": "door"},
    {"event_id": "c", "camera_id": "yard", "event_type": "motion",
     "timestamp": 1774746000, "labels": []},
]


def fill(store: Store) -> None:
    store.set_source_timezone("porch", "Europe/Berlin")
    assert ingest_payload(json.dumps(EVENTS).encode(), store.insert_events).accepted == 3
    store.add_api_key("k1", "hash1", "ingest", "camera box")
    store.save_upload(UploadState(upload_id="u1", filename="x.csv", status="done",
                                  bytes_total=10, bytes_done=10, rows_read=2,
                                  report={"accepted": 2}, options={"timezone": "UTC"}))
    store.add_dead_letter(DeadLetter(None, dt.datetime(2026, 3, 29, tzinfo=dt.UTC), "mqtt",
                                     "frigate/events", "invalid_json", "not JSON", "{", 1))


def snapshot(store: Store) -> dict[str, Any]:
    """Everything a user can read back, minus what a new store assigns itself."""
    events = store.list_events(EventFilter(), None, 100).events
    upload = store.get_upload("u1")
    assert upload is not None
    return {
        "events": events,
        "hourly": store.hourly_counts().to_pylist(),
        "sources": store.list_sources(),
        "keys": store.list_api_keys(),
        "upload": (upload.status, upload.report, upload.options, upload.rows_read),
        "dead_letters": [(d.dead_letter_id, d.reason, d.payload)
                         for d in store.list_dead_letters(10)],
        "sessions": [{**s, "attributes": json.loads(s["attributes"] or "null")}
                     for grouping in ("camera", "zone")
                     for s in store.read_sessions(grouping).to_pylist()],
    }


def other_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "duckdb":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "target.duckdb")


def test_round_trip_to_the_other_backend(store: Store, backend: str, tmp_path: Path,
                                         request: pytest.FixtureRequest) -> None:
    fill(store)
    before = snapshot(store)
    summary = export_store(store, tmp_path / "export")
    assert summary.rows["events"] == 3 and summary.rows["dead_letters"] == 1
    assert summary.rows["sessions"] == 2  # the entry, per camera and per zone

    target = open_store(other_url(backend, tmp_path, request))
    try:
        moved = import_store(target, tmp_path / "export")
        assert moved.rows == summary.rows
        assert snapshot(target) == before
        # the imported store keeps working: new ids and batches do not collide
        later = {**EVENTS[2], "event_id": "d", "timestamp": 1774749600}
        assert ingest_payload(json.dumps([later, EVENTS[0]]).encode(),
                              target.insert_events).accepted == 1
        assert target.hourly_counts().to_pylist() == target.hourly_counts_from_events().to_pylist()
        new_id = target.add_dead_letter(DeadLetter(None, dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
                                                   "mqtt", None, "x", "y", "z", 1))
        assert new_id > 1
        assert target.find_api_key("hash1") == ("k1", "ingest")
    finally:
        target.close()


def test_import_refuses_a_store_with_data(store: Store, tmp_path: Path) -> None:
    fill(store)
    export_store(store, tmp_path / "export")
    with pytest.raises(TransferError, match="not empty"):
        import_store(store, tmp_path / "export")
    with pytest.raises(TransferError, match="not empty"):
        export_store(store, tmp_path / "export")


def test_an_export_made_before_the_patterns_table_imports(store: Store,
                                                          tmp_path: Path) -> None:
    fill(store)
    export_store(store, tmp_path / "export")
    (tmp_path / "export" / "patterns.parquet").unlink()
    target = open_store(str(tmp_path / "t.duckdb"))
    try:
        import_store(target, tmp_path / "export")
        assert target.count_events() == store.count_events()
        assert target.list_patterns() == []
    finally:
        target.close()


def test_import_checks_the_export(store: Store, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="not a Vigil export"):
        import_store(store, tmp_path)
    fill(store)
    export_store(store, tmp_path / "export")
    (tmp_path / "export" / "events.parquet").unlink()
    target = open_store(str(tmp_path / "t.duckdb"))
    try:
        with pytest.raises(TransferError, match="events.parquet is missing"):
            import_store(target, tmp_path / "export")
        assert target.count_events() == 0 and target.list_sources() == []  # all or nothing
    finally:
        target.close()


def test_cli_export_then_import(tmp_path: Path) -> None:
    source, target = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    store = open_store(str(source))
    try:
        fill(store)
    finally:
        store.close()
    runner = CliRunner()
    exported = runner.invoke(app, ["export", str(tmp_path / "dump"), "--db", str(source)])
    assert exported.exit_code == 0, exported.output
    assert "exported" in exported.output and "events" in exported.output
    imported = runner.invoke(app, ["import", str(tmp_path / "dump"), "--db", str(target)])
    assert imported.exit_code == 0, imported.output
    again = runner.invoke(app, ["import", str(tmp_path / "dump"), "--db", str(target)])
    assert again.exit_code != 0
    assert "not empty" in again.output
    reopened = open_store(str(target))
    try:
        assert reopened.count_events() == 3
    finally:
        reopened.close()
