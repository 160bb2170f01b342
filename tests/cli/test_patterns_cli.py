"""``vigil patterns`` (listing) and ``vigil patterns detect`` on a real DuckDB file, and
``vigil rollup run patterns``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patterns.planted import LAST_DAY, LIGHT, plant
from vigil.store import open_store

from .conftest import Invoke

END = LAST_DAY.isoformat()


@pytest.fixture
def planted(db: Path) -> Path:
    """The planted routine's events in ``db`` (not rolled up yet)."""
    store = open_store(str(db))
    try:
        plant(store)
    finally:
        store.close()
    return db


def as_json(vigil: Invoke, *args: str | Path) -> Any:
    result = vigil(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_nothing_stored_and_no_summaries_say_what_to_do(vigil: Invoke, db: Path) -> None:
    listed = vigil("patterns", "--db", db)
    assert listed.exit_code == 0 and "no patterns stored" in listed.stdout
    assert as_json(vigil, "patterns", "--db", db) == {"patterns": [], "count": 0}
    detect = vigil("patterns", "detect", "--date", END, "--db", db)
    assert detect.exit_code == 1
    said = " ".join(detect.stderr.split())
    assert "no daily summaries in the window" in said and "vigil rollup run daily" in said
    raw = vigil("patterns", "detect", "--raw", "--date", END, "--db", db)
    assert raw.exit_code == 1 and "no raw events" in raw.stderr


def test_detect_from_the_daily_summaries_then_list(vigil: Invoke, planted: Path) -> None:
    daily = as_json(vigil, "rollup", "run", "daily", "--db", planted)
    assert len(daily["periods"]) == 30
    run = as_json(vigil, "patterns", "detect", "--date", END, "--db", planted)
    assert run["source"] == "summaries" and run["end"] == END
    assert run["counts"]["time_of_day"] >= 1 and run["stored"] == run["patterns"] > 0

    body = as_json(vigil, "patterns", "--type", "time_of_day", "--entity", LIGHT,
                   "--db", planted)
    assert body["count"] >= 1
    best = body["patterns"][0]
    assert best["type"] == "time_of_day" and LIGHT in best["entities"]
    assert best["evidence"]["days_observed"] == 25 and best["window_end"] == END
    everything = as_json(vigil, "patterns", "--db", planted)
    assert everything["count"] == run["patterns"]
    confidences = [p["confidence"] for p in everything["patterns"]]
    assert confidences == sorted(confidences, reverse=True)
    assert as_json(vigil, "patterns", "--min-confidence", "1", "--db", planted)["count"] == (
        sum(c == 1.0 for c in confidences))

    table = vigil("patterns", "--type", "time_of_day", "--db", planted)
    assert table.exit_code == 0
    assert "time_of_day" in table.stdout and LIGHT in table.stdout
    shown = vigil("patterns", "detect", "--date", END, "--db", planted)
    assert shown.exit_code == 0 and "pattern(s) stored from the summaries" in shown.stdout


def test_raw_detection_stores_the_same_patterns(vigil: Invoke, planted: Path) -> None:
    as_json(vigil, "rollup", "run", "daily", "--db", planted)
    as_json(vigil, "patterns", "detect", "--date", END, "--db", planted)
    from_summaries = as_json(vigil, "patterns", "--db", planted)["patterns"]
    raw = as_json(vigil, "patterns", "detect", "--raw", "--date", END, "--db", planted)
    assert raw["source"] == "raw" and raw["stored"] == len(from_summaries)
    from_raw = as_json(vigil, "patterns", "--db", planted)["patterns"]
    assert sorted(p["pattern_id"] for p in from_raw) == sorted(
        p["pattern_id"] for p in from_summaries)


def test_rollup_run_patterns_is_the_scheduled_job(vigil: Invoke, planted: Path) -> None:
    as_json(vigil, "rollup", "run", "daily", "--db", planted)
    report = as_json(vigil, "rollup", "run", "patterns", "--date", END, "--db", planted)
    assert report["job"] == "patterns" and report["periods"] == [END]
    stored = as_json(vigil, "patterns", "--db", planted)
    assert report["rows_written"] == stored["count"] > 0
    table = vigil("rollup", "run", "patterns", "--date", END, "--db", planted)
    assert table.exit_code == 0 and "note (patterns): window" in table.stdout


@pytest.mark.parametrize(("args", "says"), [
    (("patterns", "--type", "routine"), "--type must be one of time_of_day"),
    (("patterns", "--min-confidence", "1.5"), "--min-confidence"),
    (("patterns", "detect", "--date", "yesterday"), "--date: 'yesterday' is not a date"),
    (("patterns", "detect", "--window-days", "0"), "--window-days"),
    (("rollup", "run", "hourly"), "patterns"),
])
def test_bad_options_exit_2_naming_them(vigil: Invoke, db: Path, args: tuple[str, ...],
                                        says: str) -> None:
    result = vigil(*args, "--db", db)
    assert result.exit_code == 2
    assert says in " ".join(result.stderr.split())
