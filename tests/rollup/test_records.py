"""Aggregate records are checked when made; the field codec; the ``aggregates`` setting."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import vigil.rollup
from vigil.config import load_settings
from vigil.rollup import (
    AggregateRecord,
    InfluxAggregateStore,
    SqlAggregateStore,
    open_aggregate_store,
    parse_influx_url,
)
from vigil.rollup.aggregates import aggregate_result, decode_fields, encode_fields
from vigil.rollup.influx_aggregates import outside_retention, parse_duration
from vigil.store import open_store

DAY = dt.date(2026, 3, 2)  # a Monday


def test_public_names_resolve() -> None:
    assert vigil.rollup.__all__
    assert [name for name in vigil.rollup.__all__ if not hasattr(vigil.rollup, name)] == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"layer": "hourly"}, "layer must be one of"),
    ({"bucket": dt.datetime(2026, 3, 2)}, "must be a date"),
    ({"layer": "weekly", "bucket": DAY + dt.timedelta(days=1)}, "Monday"),
    ({"layer": "monthly", "bucket": DAY}, "1st"),
    ({"detector": ""}, "must not be empty"),
    ({"detector": "#x"}, "'#'"),
    ({"entity": "cam\\"}, "backslash"),
    ({"fields": {}}, "at least one field"),
    ({"fields": {"time": 1}}, "reserved"),
    ({"fields": {"entity": 1}}, "reserved"),
    ({"fields": {"x__json": "[]"}}, "reserved"),
    ({"fields": {"n": None}}, "cannot be stored"),
    ({"fields": {"n": float("nan")}}, "finite"),
    ({"fields": {"n": 2**60}}, "2\\*\\*53"),
    ({"fields": {"n": {1, 2}}}, "cannot be stored"),
    ({"fields": {"n": [float("inf")]}}, "not JSON"),
    ({"fields": {"s": "a\x00b"}}, "NUL"),
    ({"fields": {"j": [{"k\x00": 1}]}}, "NUL"),
    ({"fields": {"s": "\ud800"}}, "Unicode"),
    ({"entity": "\udfff"}, "Unicode"),
])
def test_bad_records_are_refused(changes: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"layer": "daily", "detector": "hourly_counts", "entity": "cam",
                              "bucket": DAY, "fields": {"n": 1}, **changes}
    with pytest.raises(ValueError, match=message):
        AggregateRecord(**values)


def test_good_buckets_per_layer() -> None:
    assert AggregateRecord("weekly", "d", "e", DAY, {"n": 1}).key == ("weekly", "d", "e", DAY)
    assert AggregateRecord("monthly", "d", "e", dt.date(2026, 3, 1), {"n": 1}).bucket.day == 1


def test_codec_round_trip_and_malformed_json(caplog: pytest.LogCaptureFixture) -> None:
    fields = {"n": 3, "hist": [0, 1, 2], "mix": {"a": [1, {"b": "ü"}]}, "s": "[not json]",
              "ok": False}
    encoded = encode_fields(fields)
    assert encoded["hist__json"] == "[0,1,2]" and encoded["s"] == "[not json]"
    assert decode_fields(encoded) == fields
    with caplog.at_level(logging.WARNING, logger="vigil.rollup.aggregates"):
        assert decode_fields({"hist__json": "[1, 2", "n": 1}, "r1") == {"hist": "[1, 2",
                                                                        "n": 1}
    assert "malformed JSON" in caplog.text and "r1" in caplog.text


def test_aggregate_results() -> None:
    assert aggregate_result("count", None, 0, 0) == 0
    assert aggregate_result("sum", None, 0, 0) is None
    assert aggregate_result("mean", 9.0, 3, 3) == 3.0
    assert aggregate_result("sum", 9.0, 3, 3) == 9.0


def test_retention_split_and_durations() -> None:
    now = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    durations = {"daily": dt.timedelta(days=90), "weekly": None, "monthly": None}
    inside = AggregateRecord("daily", "d", "e", dt.date(2026, 3, 5), {"n": 1})
    edge = AggregateRecord("daily", "d", "e", dt.date(2026, 3, 3), {"n": 1})
    old = AggregateRecord("weekly", "d", "e", dt.date(2020, 1, 6), {"n": 1})
    assert outside_retention([inside, edge, old], durations, now) == ([inside, old], [edge])
    assert parse_duration("2160h0m0s") == dt.timedelta(days=90)
    assert parse_duration("0s") is None


def test_influx_urls() -> None:
    parsed = parse_influx_url("influxdb://db.local:9999/vigil?token=s3cret")
    assert (parsed.base_url, parsed.database, parsed.token) == ("http://db.local:9999",
                                                                "vigil", "s3cret")
    assert "s3cret" not in repr(parsed)
    assert parse_influx_url("influxdbs://h/x").base_url == "https://h:8086"
    for bad in ("influxdb://h:1/", "http://h:1/db", "influxdb://:1/db", "influxdb://h:x/db",
                "influxdb://h/db?tokn=1"):
        with pytest.raises(ValueError):
            parse_influx_url(bad)


def test_setting_picks_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().aggregates == "sql"
    monkeypatch.setenv("VIGIL_AGGREGATES", "influxdb://localhost:8086/vigil")
    assert load_settings().aggregates == "influxdb://localhost:8086/vigil"
    monkeypatch.setenv("VIGIL_AGGREGATES", "influx://localhost/vigil")
    with pytest.raises(ValidationError, match="VIGIL_AGGREGATES"):
        load_settings()
    store = open_store(str(tmp_path / "v.duckdb"))
    try:
        for setting in (None, "", "sql", "SQL"):
            assert isinstance(open_aggregate_store(setting, store), SqlAggregateStore)
        influx = open_aggregate_store("influxdb://127.0.0.1:1/x", store)
        assert isinstance(influx, InfluxAggregateStore) and influx.database == "x"
        influx.close()
    finally:
        store.close()
