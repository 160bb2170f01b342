"""The patterns table on DuckDB and PostgreSQL: one detection replaces the previous one,
earlier first sightings are kept, filters, and export/import."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.patterns.base import Pattern
from vigil.store import Store, open_store
from vigil.store.transfer import export_store, import_store

D = dt.date(2026, 3, 1)
NOW = dt.datetime(2026, 3, 31, 3, 15, tzinfo=dt.UTC)


def pattern(kind: str, key: str, confidence: float, *entities: str,
            first: int = 0, last: int = 29, **evidence: object) -> Pattern:
    return Pattern(type=kind, key=key, entities=entities or (key,), confidence=confidence,
                   description=f"{key} does its thing", evidence={"days_observed": 20,
                                                                  **evidence},
                   first_seen=D + dt.timedelta(days=first), last_seen=D + dt.timedelta(days=last))


FIRST = [
    pattern("time_of_day", "light.kitchen|on", 0.9, "light.kitchen", first=3),
    pattern("time_of_day", "light.hall|on", 0.6, "light.hall", first=1),
    pattern("cooccurrence", "light.hall|light.kitchen", 0.75, "light.hall", "light.kitchen",
            first=2, counts={"both": 18, "either": 24}),
]


def test_replace_then_list_gives_every_field_back(store: Store) -> None:
    assert store.list_patterns() == []
    assert store.replace_patterns(FIRST, D + dt.timedelta(days=29), NOW) == 3
    listed = store.list_patterns()
    assert [p["pattern_id"] for p in listed] == [
        "time_of_day:light.kitchen|on", "cooccurrence:light.hall|light.kitchen",
        "time_of_day:light.hall|on"]
    both = listed[1]
    assert both == {
        "pattern_id": "cooccurrence:light.hall|light.kitchen", "type": "cooccurrence",
        "entities": ["light.hall", "light.kitchen"], "confidence": 0.75,
        "description": "light.hall|light.kitchen does its thing",
        "evidence": {"days_observed": 20, "counts": {"both": 18, "either": 24}},
        "first_seen": dt.date(2026, 3, 3), "last_seen": dt.date(2026, 3, 30),
        "window_end": dt.date(2026, 3, 30), "detected_at": NOW}


def test_a_new_detection_keeps_first_seen_and_drops_what_is_gone(store: Store) -> None:
    store.replace_patterns(FIRST, D + dt.timedelta(days=29), NOW)
    later = NOW + dt.timedelta(days=1)
    second = [
        # seen again, its window no longer reaching back to day 3: keeps day 3
        pattern("time_of_day", "light.kitchen|on", 0.95, "light.kitchen", first=10, last=30),
        # seen again with an earlier first day than stored: takes the earlier one
        pattern("time_of_day", "light.hall|on", 0.55, "light.hall", first=0, last=30),
        pattern("sequence", "door>light.hall", 0.8, "binary_sensor.door", "light.hall",
                first=20, last=30),
    ]
    assert store.replace_patterns(second, D + dt.timedelta(days=30), later) == 3
    listed = {p["pattern_id"]: p for p in store.list_patterns()}
    assert set(listed) == {"time_of_day:light.kitchen|on", "time_of_day:light.hall|on",
                           "sequence:door>light.hall"}  # the co-occurrence is gone
    kitchen = listed["time_of_day:light.kitchen|on"]
    assert kitchen["first_seen"] == D + dt.timedelta(days=3)
    assert kitchen["last_seen"] == D + dt.timedelta(days=30)
    assert kitchen["confidence"] == 0.95 and kitchen["detected_at"] == later
    assert kitchen["window_end"] == D + dt.timedelta(days=30)
    assert listed["time_of_day:light.hall|on"]["first_seen"] == D
    assert listed["sequence:door>light.hall"]["first_seen"] == D + dt.timedelta(days=20)


def test_an_empty_detection_removes_every_pattern(store: Store) -> None:
    store.replace_patterns(FIRST, D, NOW)
    assert store.replace_patterns([], D, NOW) == 0
    assert store.list_patterns() == []


def test_filters_by_type_entity_and_confidence(store: Store) -> None:
    store.replace_patterns(FIRST, D + dt.timedelta(days=29), NOW)

    def ids(**filters: object) -> list[str]:
        return [p["pattern_id"] for p in store.list_patterns(**filters)]  # type: ignore[arg-type]

    assert ids(type="time_of_day") == ["time_of_day:light.kitchen|on",
                                       "time_of_day:light.hall|on"]
    assert ids(entity="light.hall") == ["cooccurrence:light.hall|light.kitchen",
                                        "time_of_day:light.hall|on"]
    assert ids(entity="light") == []  # whole entity ids only
    assert ids(min_confidence=0.75) == ["time_of_day:light.kitchen|on",
                                        "cooccurrence:light.hall|light.kitchen"]
    assert ids(type="time_of_day", entity="light.hall", min_confidence=0.5) == [
        "time_of_day:light.hall|on"]
    assert ids(type="seasonal") == []


def test_a_failed_replace_leaves_the_stored_patterns(store: Store) -> None:
    store.replace_patterns(FIRST, D, NOW)
    twice = [FIRST[0], FIRST[0]]
    with pytest.raises(ValueError, match="given twice"):
        store.replace_patterns(twice, D, NOW)
    backwards = [pattern("time_of_day", "x|on", 0.7, first=5, last=4)]
    with pytest.raises(ValueError, match="after last_seen"):
        store.replace_patterns(backwards, D, NOW)
    assert len(store.list_patterns()) == 3


def test_dates_default_to_the_window_end(store: Store) -> None:
    undated = Pattern(type="day_type", key="_home|weekend", entities=("_home",),
                      confidence=0.7, description="weekends are quieter")
    store.replace_patterns([undated], D, NOW)
    [stored] = store.list_patterns()
    assert (stored["first_seen"], stored["last_seen"], stored["evidence"]) == (D, D, {})


def test_patterns_travel_with_an_export(store: Store, tmp_path: Path) -> None:
    store.replace_patterns(FIRST, D + dt.timedelta(days=29), NOW)
    summary = export_store(store, tmp_path / "out")
    assert summary.rows["patterns"] == 3
    target = open_store(str(tmp_path / "copy.duckdb"))
    try:
        assert import_store(target, tmp_path / "out").rows["patterns"] == 3
        assert target.list_patterns() == store.list_patterns()
    finally:
        target.close()


KEYS = ("a", "b", "c", "d")
Detection = dict[str, tuple[int, int]]  # key -> (first day, last day) offsets


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.dictionaries(st.sampled_from(KEYS),
                                st.tuples(st.integers(0, 40), st.integers(0, 10)),
                                max_size=4), min_size=1, max_size=5))
def test_the_stored_patterns_follow_a_model_of_detections(store: Store,
                                                          detections: list[Detection]) -> None:
    """After any run of detections: the last one's patterns, each with the earliest first
    day of its unbroken run of sightings and the last detection's other fields."""
    store.replace_patterns([], D, NOW)  # a fresh start for each example
    model: dict[str, dt.date] = {}
    for n, detection in enumerate(detections):
        found = [pattern("time_of_day", key, round(0.5 + first / 100, 3), f"light.{key}",
                         first=first, last=first + length, n=n)
                 for key, (first, length) in sorted(detection.items())]
        store.replace_patterns(found, D + dt.timedelta(days=60), NOW + dt.timedelta(days=n))
        model = {p.pattern_id: min(p.first_seen or D, model.get(p.pattern_id, dt.date.max))
                 for p in found}
        stored = store.list_patterns()
        assert {p["pattern_id"]: p["first_seen"] for p in stored} == model
        assert all(p["evidence"]["n"] == n and p["detected_at"] == NOW + dt.timedelta(days=n)
                   for p in stored)
        ranks = [(-p["confidence"], p["pattern_id"]) for p in stored]
        assert ranks == sorted(ranks)
