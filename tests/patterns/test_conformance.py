"""The conformance suite every registered pattern detector passes.

On a generated home (:mod:`vigil.synth.home`, stored in a real DuckDB file; 30 days, the
seasonal detector 90) each detector must: give the same output for the same input; leave
its input untouched; give the same patterns from summaries saved to and loaded from a
DuckDB aggregate store (after closing and reopening the file); cope with sources that
appear or vanish mid-window and with empty days; and produce summaries that are JSON and
valid aggregate records, and well-formed patterns.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from vigil.patterns.base import (
    DaySummary,
    DetectOptions,
    Pattern,
    PatternDetector,
    summary_detector_name,
)
from vigil.patterns.registry import detectors, summaries_from_records, summary_records
from vigil.rollup import AggregateRecord, SqlAggregateStore
from vigil.store import Store, open_store
from vigil.synth.home import Home, HomeConfig, generate_home, insert_home

OPTIONS = DetectOptions()
WRITTEN_AT = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
CONFIDENCE_TOLERANCE = 0.05
LONG_WINDOW = "seasonal"
DETECTORS = {d.name: d for d in detectors()}


@dataclass(frozen=True)
class Data:
    """A stored generated home, its events by local day and over the whole period."""

    home: Home
    days: dict[dt.date, pa.Table]
    window: pa.Table
    empty: pa.Table
    """An empty day of the store (the real column set and types)."""

    @property
    def end(self) -> dt.date:
        return self.home.config.end


def _data(path: Path, config: HomeConfig) -> tuple[Data, Store]:
    home = generate_home(config)
    store = open_store(str(path), default_timezone=config.timezone)
    insert_home(store, home)
    days = [config.start + dt.timedelta(days=n) for n in range(config.days)]
    empty = store.events_of_local_day(config.start - dt.timedelta(days=400))
    return Data(home, {d: store.events_of_local_day(d) for d in days},
                store.events_of_local_days(config.start, config.end), empty), store


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Data]]:
    """A 30-day and a 90-day planted home (different seeds from the trust tests)."""
    folder = tmp_path_factory.mktemp("conformance")
    made = {name: _data(folder / f"{name}.duckdb", config) for name, config in
            (("short", HomeConfig(days=30, seed=11)), ("long", HomeConfig(days=90, seed=12)))}
    yield {name: data for name, (data, _) in made.items()}
    for _, store in made.values():
        store.close()


def _for(homes: dict[str, Data], name: str) -> Data:
    return homes["long" if name == LONG_WINDOW else "short"]


def _summaries(detector: PatternDetector, days: dict[dt.date, pa.Table]) -> list[DaySummary]:
    """Every day's summaries as the rollup job makes records of them (checked there)."""
    records = [r for day, events in days.items()
               for r in summary_records(detector, day, detector.summarize(day, events))]
    return summaries_from_records(records)


def _ids(patterns: list[Pattern]) -> dict[str, float]:
    return {p.pattern_id: p.confidence for p in patterns}


def _assert_agree(incremental: list[Pattern], direct: list[Pattern]) -> None:
    a, b = _ids(incremental), _ids(direct)
    assert sorted(a) == sorted(b)
    assert {k: (a[k], b[k]) for k in a if abs(a[k] - b[k]) > CONFIDENCE_TOLERANCE} == {}


names = pytest.mark.parametrize("name", sorted(DETECTORS))


@names
def test_same_input_gives_the_same_output(homes: dict[str, Data], name: str) -> None:
    detector, data = DETECTORS[name], _for(homes, name)
    day = data.end - dt.timedelta(days=3)
    twin = pa.Table.from_pylist(data.days[day].to_pylist(), schema=data.days[day].schema)
    assert detector.summarize(day, data.days[day]) == detector.summarize(day, twin)
    summaries = _summaries(detector, data.days)
    first = detector.detect(summaries, data.end, OPTIONS)
    assert first, f"{name} finds nothing here: the checks below would be empty"
    assert detector.detect(summaries, data.end, OPTIONS) == first
    assert detector.detect(list(reversed(summaries)), data.end, OPTIONS) == first
    assert detector.detect_raw(data.window, data.end, OPTIONS) == detector.detect_raw(
        data.window, data.end, OPTIONS)
    regenerated = generate_home(data.home.config)
    assert regenerated.events.equals(data.home.events)


@names
def test_input_is_not_mutated(homes: dict[str, Data], name: str) -> None:
    detector, data = DETECTORS[name], _for(homes, name)
    day = data.end - dt.timedelta(days=1)
    before_day = data.days[day].to_pylist()
    before_window_rows = data.window.num_rows
    detector.summarize(day, data.days[day])
    detector.detect_raw(data.window, data.end, OPTIONS)
    summaries = _summaries(detector, data.days)
    kept = copy.deepcopy(summaries)
    detector.detect(summaries, data.end, OPTIONS)
    assert data.days[day].to_pylist() == before_day
    assert data.window.num_rows == before_window_rows
    assert summaries == kept


@names
def test_summaries_survive_a_save_and_load(homes: dict[str, Data], name: str,
                                           tmp_path: Path) -> None:
    detector, data = DETECTORS[name], _for(homes, name)
    in_memory = _summaries(detector, data.days)
    path = str(tmp_path / "aggregates.duckdb")
    store = open_store(path)
    try:
        records = [AggregateRecord("daily", summary_detector_name(name), s.entity, s.day,
                                   dict(s.fields)) for s in in_memory]
        SqlAggregateStore(store, clock=lambda: WRITTEN_AT).write_batch(records)
    finally:
        store.close()
    store = open_store(path)
    try:
        loaded = summaries_from_records(SqlAggregateStore(store).query(
            data.home.config.start, data.end, detector=summary_detector_name(name)))
    finally:
        store.close()
    assert [(s.day, s.entity) for s in loaded] == [(s.day, s.entity) for s in in_memory]
    expected = detector.detect(in_memory, data.end, OPTIONS)
    assert expected
    assert detector.detect(loaded, data.end, OPTIONS) == expected


def _without(table: pa.Table, sources: set[str]) -> pa.Table:
    if not table.num_rows or not sources:
        return table
    keep = pc.invert(pc.is_in(table.column("source_id"), value_set=pa.array(sorted(sources))))
    return table.filter(keep)


@names
def test_sources_appearing_and_vanishing_mid_window(homes: dict[str, Data], name: str) -> None:
    detector, data = DETECTORS[name], _for(homes, name)
    entities = sorted(data.home.entities)
    vanishing, appearing = set(entities[::2]), set(entities[1::2])
    span = sorted(data.days)
    gone_after, new_from = span[len(span) * 5 // 6], span[len(span) // 6]
    days = {day: _without(events, (vanishing if day > gone_after else set())
                          | (appearing if day < new_from else set()))
            for day, events in data.days.items()}
    window = pa.concat_tables(days.values())
    summaries = _summaries(detector, days)
    mentioned = {s.entity for s in summaries if s.day > gone_after}
    assert not mentioned & vanishing
    incremental = detector.detect(summaries, data.end, OPTIONS)
    assert incremental, f"{name} finds nothing here: the bounds below would not be checked"
    _assert_agree(incremental, detector.detect_raw(window, data.end, OPTIONS))
    for pattern in incremental:
        if set(pattern.entities) <= vanishing:
            assert pattern.last_seen is not None and pattern.last_seen <= gone_after
        if set(pattern.entities) <= appearing:
            assert pattern.first_seen is not None and pattern.first_seen >= new_from


@names
def test_an_empty_day(homes: dict[str, Data], name: str) -> None:
    detector, data = DETECTORS[name], _for(homes, name)
    assert data.empty.num_rows == 0
    assert detector.summarize(data.end, data.empty) == {}
    assert detector.detect([], data.end, OPTIONS) == []
    assert detector.detect_raw(data.empty, data.end, OPTIONS) == []


@names
def test_a_window_with_empty_days(homes: dict[str, Data], name: str) -> None:
    detector, data = DETECTORS[name], _for(homes, name)
    span = sorted(data.days)
    away = set(span[len(span) // 2: len(span) // 2 + 5]) | set(span[:3])
    days = {day: (data.empty if day in away else events) for day, events in data.days.items()}
    summaries = _summaries(detector, days)
    assert not {s.day for s in summaries} & away
    incremental = detector.detect(summaries, data.end, OPTIONS)
    _assert_agree(incremental, detector.detect_raw(pa.concat_tables(days.values()), data.end,
                                                   OPTIONS))
    only_last = {day: (events if day >= span[-2] else data.empty)
                 for day, events in data.days.items()}
    _assert_agree(detector.detect(_summaries(detector, only_last), data.end, OPTIONS),
                  detector.detect_raw(pa.concat_tables(only_last.values()), data.end,
                                      OPTIONS))


@names
def test_summaries_are_json_and_valid_aggregate_records(homes: dict[str, Data],
                                                        name: str) -> None:
    detector = DETECTORS[name]
    data = _for(homes, name)
    for day in sorted(data.days)[-7:]:
        summary = detector.summarize(day, data.days[day])
        assert summary, f"{name} says nothing about {day}"
        for entity, fields in summary.items():
            assert isinstance(entity, str) and entity
            assert fields and json.loads(json.dumps(fields, allow_nan=False)) == fields
        records = summary_records(detector, day, summary)
        assert all(isinstance(r, AggregateRecord) and r.layer == "daily"
                   and r.detector == summary_detector_name(name) for r in records)
        assert len({r.key for r in records}) == len(records) == len(summary)


@names
def test_patterns_are_well_formed(homes: dict[str, Data], name: str) -> None:
    detector, data = DETECTORS[name], _for(homes, name)
    patterns = detector.detect(_summaries(detector, data.days), data.end, OPTIONS)
    assert patterns
    assert [p.key for p in patterns] == sorted(p.key for p in patterns)
    assert len({p.pattern_id for p in patterns}) == len(patterns)
    first_day = data.end - dt.timedelta(days=max(OPTIONS.window_days, 90))
    for p in patterns:
        assert p.type == name and p.entities and p.description
        assert OPTIONS.min_confidence <= p.confidence <= 1 and not math.isnan(p.confidence)
        assert json.loads(json.dumps(p.evidence, allow_nan=False)) == p.evidence
        assert p.evidence["days_observed"] >= OPTIONS.min_days
        assert p.first_seen is not None and p.last_seen is not None
        assert first_day <= p.first_seen <= p.last_seen <= data.end
