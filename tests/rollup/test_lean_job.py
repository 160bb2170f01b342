"""A process that runs a rollup job on the SQL aggregate store loads only what it uses: no
HTTP client (InfluxDB), no settings machinery, no Arrow query engine."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

import vigil.rollup
from vigil.store import Store, open_store

from .test_jobs import at, ingest

NOT_LOADED = ("httpx", "vigil.rollup.influx_aggregates", "vigil.config", "pydantic_settings",
              "pyarrow._acero")
JOB = """
import datetime as dt, json, sys
from vigil.rollup import SqlAggregateStore, run_rollup
from vigil.store import Store, open_store
store = open_store(sys.argv[1])
day = dt.date(2026, 3, 10)
try:
    aggregates = SqlAggregateStore(store)
    report = run_rollup("daily", store, aggregates, now=dt.datetime(2026, 3, 12, tzinfo=dt.UTC),
                        period=day)
    loaded = [m for m in sys.argv[2:] if m in sys.modules]
    stored = [r.detector for r in aggregates.query(day, day)]
finally:
    store.close()
print(json.dumps({"rows": report.rows_written, "stored": len(stored),
                  "activity": stored.count("activity"), "loaded": loaded}))
"""


def test_a_daily_job_process_loads_no_http_client_settings_or_arrow_engine(
        tmp_path: Path) -> None:
    db = tmp_path / "lean.duckdb"
    store = open_store(str(db))
    try:
        store.set_source_timezone("garden", "Europe/Berlin")
        ingest(store, [(f"e{i}", "garden", at("2026-03-10", 8 + i), "detection", ["person"],
                        0.5) for i in range(3)])
    finally:
        store.close()
    done = subprocess.run([sys.executable, "-c", JOB, str(db), *NOT_LOADED],
                          capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["loaded"] == [] and result["activity"] == 1
    assert result["rows"] == result["stored"]  # the activity and the pattern summaries


def test_the_influxdb_store_is_a_lazy_public_name() -> None:
    from vigil.rollup import InfluxAggregateStore
    from vigil.rollup.influx_aggregates import InfluxAggregateStore as defined

    assert InfluxAggregateStore is defined
    assert vigil.rollup.InfluxAggregateStore is defined
    assert "InfluxAggregateStore" in vigil.rollup.__all__
    assert "InfluxAggregateStore" in dir(vigil.rollup)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = vigil.rollup.no_such_name


def test_check_timezone_is_the_same_from_config_and_zones() -> None:
    from vigil.config import check_timezone
    from vigil.zones import check_timezone as light

    assert check_timezone is light
    assert light("Europe/Berlin") == "Europe/Berlin"
    with pytest.raises(ValueError, match="unknown IANA time zone 'Mars/Olympus'"):
        light("Mars/Olympus")


def test_the_activity_record_of_a_day_sums_its_hours_types_and_labels(store: Store) -> None:
    from vigil.rollup import SqlAggregateStore, run_rollup

    store.set_source_timezone("gate", "UTC")
    ingest(store, [("a", "gate", at("2026-03-10", 8), "detection", ["person", "car"], 0.5),
                   ("b", "gate", at("2026-03-10", 8, 30), "alert", ["person"], None),
                   ("c", "gate", at("2026-03-10", 23), "detection", [], 0.25)])
    aggregates = SqlAggregateStore(store)
    run_rollup("daily", store, aggregates, now=at("2026-03-12", 0),
               period=dt.date(2026, 3, 10))
    [record] = aggregates.query(dt.date(2026, 3, 10), dt.date(2026, 3, 10),
                                detector="activity")
    hours = [0] * 24
    hours[8], hours[23] = 2, 1
    assert record.entity == "gate"
    assert record.fields == {
        "events": 3, "active_days": 1, "hours": hours, "weekdays": [0, 3, 0, 0, 0, 0, 0],
        "event_types": {"alert": 1, "detection": 2}, "labels": {"car": 1, "person": 2},
        "confidence_micros": 750_000, "confidence_count": 2}
