"""``vigil cameras``: import, set, list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigil.store import DuckDBStore, EventFilter

from .conftest import Invoke
from .helpers import error_lines


@pytest.fixture
def ingested(vigil: Invoke, db: Path, workdir: Path) -> Path:
    path = workdir / "events.csv"
    path.write_text("camera_id,event_type,timestamp\n"
                    "front,motion,2026-03-22T10:00:00Z\n"
                    "front,motion,2026-03-22T23:30:00Z\n"
                    "back,motion,2026-03-22T12:00:00Z\n")
    assert vigil("ingest", path, "--db", db).exit_code == 0
    return db


def cameras(vigil: Invoke, db: Path) -> dict[str, dict[str, object]]:
    result = vigil("cameras", "list", "--json", "--db", db)
    assert result.exit_code == 0
    return {row["source_id"]: row for row in json.loads(result.stdout)}


def local_hours(db: Path, source: str) -> list[tuple[str, int]]:
    store = DuckDBStore(db)
    try:
        page = store.list_events(EventFilter(source_id=source), None, 100)
        counts = store.hourly_counts(source)
        assert counts.equals(store.hourly_counts_from_events(source))
    finally:
        store.close()
    return [(str(e["local_date"]), e["local_hour"]) for e in page.events]


def test_list_json(vigil: Invoke, ingested: Path) -> None:
    found = cameras(vigil, ingested)
    assert set(found) == {"front", "back"}
    assert found["front"]["event_count"] == 2
    assert found["front"]["timezone"] == "UTC"
    assert str(found["front"]["first_seen"]).startswith("2026-03-22")
    human = vigil("cameras", "list", "--db", ingested)
    assert human.exit_code == 0 and "front" in human.stdout


def test_import_sets_zones_and_rederives(vigil: Invoke, ingested: Path, workdir: Path) -> None:
    mapping = workdir / "cameras.json"
    mapping.write_text(json.dumps({"front": "America/New_York", "back": "Asia/Tokyo",
                                   "new_cam": "Europe/Berlin"}))
    result = vigil("cameras", "import", mapping, "--db", ingested)
    assert result.exit_code == 0, result.stderr
    found = cameras(vigil, ingested)
    assert {k: v["timezone"] for k, v in found.items()} == {
        "front": "America/New_York", "back": "Asia/Tokyo", "new_cam": "Europe/Berlin"}
    assert found["new_cam"]["event_count"] == 0
    assert local_hours(ingested, "front") == [("2026-03-22", 6), ("2026-03-22", 19)]  # EDT
    assert local_hours(ingested, "back") == [("2026-03-22", 21)]


def test_set_timezone(vigil: Invoke, ingested: Path) -> None:
    result = vigil("cameras", "set", "front", "--timezone", "Australia/Sydney", "--db", ingested)
    assert result.exit_code == 0
    assert "Australia/Sydney" in result.stdout
    assert cameras(vigil, ingested)["front"]["timezone"] == "Australia/Sydney"
    assert local_hours(ingested, "front") == [("2026-03-22", 21), ("2026-03-23", 10)]  # AEDT
    bad = vigil("cameras", "set", "front", "--timezone", "Mars/X", "--db", ingested)
    assert bad.exit_code == 2
    assert "Mars/X" in bad.stderr
    assert cameras(vigil, ingested)["front"]["timezone"] == "Australia/Sydney"


@pytest.mark.parametrize(
    "content",
    [json.dumps({"front": "Europe/Berlin", "back": "Mars/X"}), json.dumps(["front"]), "{oops"],
    ids=["unknown-zone", "not-an-object", "not-json"],
)
def test_bad_import_file_exits_2_and_changes_nothing(vigil: Invoke, ingested: Path,
                                                     workdir: Path, content: str) -> None:
    mapping = workdir / "cameras.json"
    mapping.write_text(content)
    result = vigil("cameras", "import", mapping, "--db", ingested)
    assert result.exit_code == 2
    assert error_lines(result.stderr)[0].startswith("error:")
    assert {k: v["timezone"] for k, v in cameras(vigil, ingested).items()} == {
        "front": "UTC", "back": "UTC"}
    assert local_hours(ingested, "front") == [("2026-03-22", 10), ("2026-03-22", 23)]


def test_import_missing_file_exits_2(vigil: Invoke, db: Path, workdir: Path) -> None:
    result = vigil("cameras", "import", workdir / "nope.json", "--db", db)
    assert result.exit_code == 2
    assert "nope.json" in result.stderr
