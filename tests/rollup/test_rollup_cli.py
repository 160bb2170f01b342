"""``vigil rollup run`` and ``vigil rollup backfill`` on a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from vigil.cli.main import app
from vigil.rollup import SqlAggregateStore
from vigil.store import open_store

from .test_jobs import ingest

UTC = dt.UTC
TODAY = dt.datetime.now(UTC).date()  # the command reads the clock: data sits before today
FIRST = TODAY - dt.timedelta(days=40)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DuckDB file with one event a day for 30 days, from 40 days ago."""
    for name in ("VIGIL_DB", "VIGIL_AGGREGATES", "VIGIL_DEFAULT_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "r.duckdb"
    store = open_store(str(path))
    try:
        ingest(store, [(f"e{d}", "cam", dt.datetime.combine(FIRST + dt.timedelta(days=d),
                                                            dt.time(12), UTC),
                        "detection", ["person"], 0.5) for d in range(30)])
    finally:
        store.close()
    return path


def daily_records(db: Path, start: dt.date, end: dt.date) -> tuple[int, int]:
    """The daily records stored for ``start``-``end``: all of them (activity and the
    pattern detectors' summaries) and the activity records."""
    store = open_store(str(db))
    try:
        found = SqlAggregateStore(store).query(start, end)
    finally:
        store.close()
    return len(found), sum(r.detector == "activity" for r in found)


def vigil(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_run_catches_up_then_redoes_one_period(db: Path) -> None:
    result = vigil("rollup", "run", "daily", "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["job"] == "daily" and report["done"] is True
    assert report["periods"][0] == FIRST.isoformat() and len(report["periods"]) == 30
    everything, activity = daily_records(db, FIRST, TODAY)
    assert activity == 30 and report["rows_written"] == everything
    assert json.loads(vigil("rollup", "run", "daily", "--db", db, "--json").stdout)[
        "periods"] == []
    day = (FIRST + dt.timedelta(days=3)).isoformat()
    one = json.loads(vigil("rollup", "run", "daily", "--date", day, "--db", db,
                           "--json").stdout)
    one_day = dt.date.fromisoformat(day)
    assert one["periods"] == [day]
    assert one["rows_written"] == daily_records(db, one_day, one_day)[0]
    assert daily_records(db, one_day, one_day)[1] == 1
    table = vigil("rollup", "run", "weekly", "--db", db, "--max-periods", "1")
    assert table.exit_code == 0
    assert "note (weekly)" in table.stdout
    assert "more weekly period(s) pending" in " ".join(table.stdout.split())


def test_backfill_builds_every_layer_with_progress_on_stderr(db: Path) -> None:
    result = vigil("rollup", "backfill", "--from", FIRST.isoformat(), "--to",
                   TODAY.isoformat(), "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    reports = json.loads(result.stdout)
    assert [r["job"] for r in reports] == ["daily", "weekly", "monthly"]
    everything, activity = daily_records(db, FIRST, TODAY)
    assert activity == 30 and reports[0]["rows_written"] == everything
    assert "daily: 30/30 period(s)" in result.stderr
    store = open_store(str(db))
    try:
        assert len(store.rollup_runs("daily")) == 30
        assert len(store.rollup_runs("weekly")) == len(reports[1]["periods"]) > 0
    finally:
        store.close()


@pytest.mark.parametrize(("args", "message"), [
    (("run", "daily", "--date", "2026-13-01"), "--date: '2026-13-01' is not a date"),
    (("run", "hourly"), "JOB: unknown job 'hourly'"),
    (("backfill", "--from", "yesterday", "--to", "2026-01-01"), "--from: 'yesterday'"),
    (("backfill", "--from", "2026-01-02", "--to", "2026-01"), "--to: '2026-01'"),
    (("backfill", "--from", "2026-01-02", "--to", "2026-01-01"), "is after --to"),
    (("run", "retention", "--date", "2026-01-01"), "--date: retention has no periods"),
])
def test_bad_arguments_exit_2_naming_the_option(db: Path, args: tuple[str, ...],
                                                message: str) -> None:
    result = vigil("rollup", *args, "--db", db)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_run_retention_purges_through_the_same_command(db: Path) -> None:
    assert vigil("rollup", "run", "daily", "--db", db).exit_code == 0
    result = vigil("rollup", "run", "retention", "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["job"] == "retention"
    assert report["rows_deleted"] > 0  # raw events older than 30 days, all rolled up
