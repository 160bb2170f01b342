"""``vigil sessions rebuild``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigil.store import DuckDBStore

from .conftest import Invoke


def write_visits(path: Path) -> None:
    path.write_text(
        "event_id,camera_id,event_type,timestamp,person_id,zone\n"
        "a,porch,entry,2026-11-01T08:00:00Z,p1,door\n"
        "b,porch,exit,2026-11-01T08:12:30Z,p1,door\n"
        "c,porch,entry,2026-11-01T09:00:00Z,p2,\n"
        "d,porch,exit,2026-11-01T07:00:00Z,p3,\n"
        "e,garage,entry,2026-11-01T01:00:00Z,p1,\n", encoding="utf-8")


def test_rebuild_prints_counts_per_status(vigil: Invoke, db: Path, tmp_path: Path) -> None:
    write_visits(tmp_path / "v.csv")
    assert vigil("ingest", tmp_path / "v.csv", "--db", db, "--quiet").exit_code == 0
    result = vigil("sessions", "rebuild", "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["sessions"] == {"complete": 1, "open": 1, "timed_out": 1,
                                    "orphan_exit": 1}
    assert document["total"] == 4 and document["elapsed_seconds"] >= 0

    one = vigil("sessions", "rebuild", "--source", "garage", "--db", db, "--json")
    assert json.loads(one.stdout)["sessions"]["timed_out"] == 1
    assert json.loads(one.stdout)["total"] == 1

    table = vigil("sessions", "rebuild", "--db", db)
    assert table.exit_code == 0
    assert "orphan_exit" in table.stdout and "rebuilt 4 sessions" in table.stdout
    store = DuckDBStore(db)
    try:
        assert store.count_sessions() == document["sessions"]  # kept by the ingest already
    finally:
        store.close()


def test_the_longest_visit_is_a_setting(vigil: Invoke, db: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write_visits(tmp_path / "v.csv")
    assert vigil("ingest", tmp_path / "v.csv", "--db", db, "--quiet").exit_code == 0
    monkeypatch.setenv("VIGIL_SESSION_MAX_HOURS", "0.1")  # 6 minutes: p1's visit is too long
    document = json.loads(vigil("sessions", "rebuild", "--db", db, "--json").stdout)
    assert document["sessions"] == {"complete": 0, "open": 1, "timed_out": 2,
                                    "orphan_exit": 2}


def test_unknown_source_is_an_error(vigil: Invoke, db: Path) -> None:
    result = vigil("sessions", "rebuild", "--source", "nope", "--db", db)
    assert result.exit_code != 0 and "nope" in result.stderr
