"""Pattern summaries stored in bundles: the codec round-trips exactly as JSON would, bundles
stay under the size limit, the last write of a day wins, and detection from bundles read
back from real stores (DuckDB, InfluxDB) equals detection from the summaries in memory."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.patterns.base import DaySummary, DetectOptions, summary_detector_name
from vigil.patterns.bundles import BUNDLE_BYTES, decode_bundle, encode_bundle
from vigil.patterns.registry import (
    BUNDLE_MIN_ENTITIES,
    PatternSummarizer,
    detector_named,
    detectors,
    summaries_from_records,
    summary_records,
)
from vigil.rollup import AggregateRecord, InfluxAggregateStore, InfluxSettings, SqlAggregateStore
from vigil.store import Store, open_store
from vigil.synth.home import HomeConfig, generate_home, insert_home

from .builders import START, days

SEQUENCE = detector_named("sequence")
NAME = summary_detector_name("sequence")
HOME = HomeConfig(days=10, seed=21, noise_entities=BUNDLE_MIN_ENTITIES + 16, noise_per_day=6.0)
"""A home with more entities than a day stored one record per entity may have."""
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(TEXT, inner, max_size=3), max_leaves=12)
INT_LISTS = (st.lists(st.integers(-300, 300), max_size=12)
             | st.lists(st.integers(-2**70, 2**70), max_size=6)
             | st.lists(st.integers(0, 2**40) | st.booleans(), max_size=6))
ROWS = st.integers(1, 3).flatmap(lambda width: st.lists(
    st.lists(st.integers(-2**40, 2**40), min_size=width, max_size=width), max_size=5))
FIELDS = st.dictionaries(st.sampled_from(["starts", "bins", "longest", "n", "x"]) | TEXT,
                         INT_LISTS | ROWS | JSON_VALUES, min_size=1, max_size=5)


def as_json(value: Any) -> str:
    return json.dumps(value, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(summaries=st.dictionaries(TEXT, FIELDS, max_size=6))
def test_a_bundle_gives_back_what_json_would(summaries: dict[str, dict[str, Any]]) -> None:
    decoded = decode_bundle(encode_bundle(summaries))
    assert as_json(decoded) == as_json(json.loads(as_json(summaries)))  # types, order


def test_integer_lists_are_stored_narrow_and_off_the_json() -> None:
    text = encode_bundle({"a": {"starts": [0, 86_399_999], "minutes": [1, 1439], "n": 3,
                                "longest": [[1772435343988, 2189918]], "flags": [True]}})
    columns = json.loads(text)["ints"]
    assert {name: (c["type"], c["width"]) for name, c in columns.items()} == {
        "starts": ("<i4", 0), "minutes": ("<i2", 0), "longest": ("<i8", 2)}
    assert json.loads(text)["summaries"] == {"a": {"starts": None, "minutes": None, "n": 3,
                                                   "longest": None, "flags": [True]}}


def _day(entities: int, seed: int, starts: int = 90) -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return {f"light.item_{i:03d}": {"starts": sorted(rng.integers(0, 86_400_000, starts)
                                                      .tolist()),
                                    "day_ms": 86_400_000, "activations": starts + i}
            for i in range(entities)}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "vigil.duckdb"))
    try:
        yield opened
    finally:
        opened.close()


def _read(aggregates: SqlAggregateStore | InfluxAggregateStore, first: dt.date,
          last: dt.date) -> list[DaySummary]:
    return summaries_from_records(aggregates.query(first, last, detector=NAME))


def _summaries(by_day: dict[dt.date, dict[str, dict[str, Any]]]) -> list[DaySummary]:
    return [DaySummary(day, entity, fields) for day, found in sorted(by_day.items())
            for entity, fields in sorted(found.items())]


def test_a_busy_day_is_stored_in_bundles_under_the_limit(store: Store) -> None:
    day = _day(300, seed=1)
    records = summary_records(SEQUENCE, START, day)
    assert 3 <= len(records) <= 6  # about 150 KB of summaries
    assert [r.entity for r in records] == [f"_bundle_{i:04d}" for i in range(len(records))]
    assert {r.fields["bundles"] for r in records} == {len(records)}
    assert sum(r.fields["entities"] for r in records) == 300
    for record in records:
        text = record.fields["bundle"]
        assert len(text.encode()) + text.count('"') + text.count("\\") <= BUNDLE_BYTES
    assert all(len(r.fields["bundle"]) > BUNDLE_BYTES * 0.8 for r in records[:-1])  # full
    aggregates = SqlAggregateStore(store)
    aggregates.write_batch(records)
    assert _read(aggregates, START, START) == _summaries({START: day})


def test_a_quiet_day_is_stored_one_record_per_entity(store: Store) -> None:
    day = _day(BUNDLE_MIN_ENTITIES, seed=2)
    records = summary_records(SEQUENCE, START, day)
    assert sorted(r.entity for r in records) == sorted(day)
    aggregates = SqlAggregateStore(store)
    aggregates.write_batch(records)
    [light] = aggregates.query(START, START, detector=NAME, entity="light.item_007")
    assert light.fields == day["light.item_007"]
    assert _read(aggregates, START, START) == _summaries({START: day})


def test_the_last_write_of_a_day_wins(store: Store) -> None:
    aggregates = SqlAggregateStore(store)
    first, second, third = days(3)
    aggregates.write_batch(summary_records(SEQUENCE, first, _day(300, seed=3)))
    fewer = _day(BUNDLE_MIN_ENTITIES + 1, seed=4)
    aggregates.write_batch(summary_records(SEQUENCE, first, fewer))  # fewer bundles
    aggregates.write_batch(summary_records(SEQUENCE, second, _day(10, seed=5)))  # entities
    busy = _day(200, seed=6)
    aggregates.write_batch(summary_records(SEQUENCE, second, busy))  # then bundles
    quiet = _day(3, seed=7)
    aggregates.write_batch(summary_records(SEQUENCE, third, quiet))
    stored = aggregates.query(first, third, detector=NAME)
    assert len([r for r in stored if r.bucket == first]) > len(
        summary_records(SEQUENCE, first, fewer))  # the stale bundles are still there
    assert _read(aggregates, first, third) == _summaries({first: fewer, second: busy,
                                                           third: quiet})


def test_an_entity_larger_than_a_bundle_gets_one_of_its_own(store: Store) -> None:
    day = _day(100, seed=8)
    huge = np.random.default_rng(9).integers(0, 2**62, 8_000).tolist()
    day["light.item_050"] = {"starts": huge, "day_ms": 86_400_000, "activations": 1}
    records = summary_records(SEQUENCE, START, day)
    alone = [r for r in records if r.fields["entities"] == 1]
    assert len(alone) == 1 and len(alone[0].fields["bundle"]) > BUNDLE_BYTES
    assert all(len(r.fields["bundle"]) <= BUNDLE_BYTES for r in records if r not in alone)
    aggregates = SqlAggregateStore(store)
    aggregates.write_batch(records)
    assert _read(aggregates, START, START) == _summaries({START: day})


def test_a_malformed_bundle_is_named() -> None:
    record = AggregateRecord("daily", NAME, "_bundle_0000", START,
                             {"bundle": '{"summaries": {}, "ints": {"x": {}}}', "bundles": 1})
    with pytest.raises(ValueError, match="patterns_sequence/_bundle_0000/2024-03-01"):
        summaries_from_records([record])


def test_bundles_survive_influxdb(influx_server: Any) -> None:
    database = f"t_{uuid.uuid4().hex[:16]}"
    aggregates = InfluxAggregateStore(InfluxSettings(influx_server.url, database))
    today = dt.datetime.now(dt.UTC).date()  # InfluxDB applies retention by its own clock
    day = _day(250, seed=10, starts=200)
    try:
        records = summary_records(SEQUENCE, today, day)
        assert max(len(r.fields["bundle"]) for r in records) > 40_000
        assert aggregates.write_batch(records).written == len(records)
        assert _read(aggregates, today, today) == _summaries({today: day})
    finally:
        aggregates.close()
        httpx.post(f"{influx_server.url}/query", data={"q": f'DROP DATABASE "{database}"'})


@pytest.fixture(scope="module")
def busy_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The generated :data:`HOME` in a DuckDB store."""
    opened = open_store(str(tmp_path_factory.mktemp("bundles") / "home.duckdb"),
                        default_timezone=HOME.timezone)
    insert_home(opened, generate_home(HOME))
    try:
        yield opened
    finally:
        opened.close()


def test_detection_from_bundles_equals_detection_in_memory(busy_home: Store) -> None:
    first, end = HOME.start, HOME.end
    options = DetectOptions(window_days=HOME.days, min_days=3)
    aggregates = SqlAggregateStore(busy_home)
    in_memory: dict[str, list[DaySummary]] = {d.name: [] for d in detectors()}
    bundled = set()
    for n in range((end - first).days + 1):
        day = first + dt.timedelta(days=n)
        events = busy_home.events_of_local_day(day)
        for detector in detectors():
            summary = detector.summarize(day, events)
            in_memory[detector.name] += [DaySummary(day, e, f) for e, f in sorted(
                summary.items())]
            records = PatternSummarizer(detector).summarize(day, events)
            bundled |= {detector.name for r in records if r.entity.startswith("_bundle_")}
            aggregates.write_batch(records)
    assert {"time_of_day", "cooccurrence", "sequence", "duration"} <= bundled
    found = 0
    for detector in detectors():
        loaded = summaries_from_records(aggregates.query(
            first, end, detector=summary_detector_name(detector.name)))
        assert loaded == in_memory[detector.name]
        expected = detector.detect(in_memory[detector.name], end, options)
        assert detector.detect(loaded, end, options) == expected
        found += len(expected)
    assert found  # the comparison above is not of empty lists only

