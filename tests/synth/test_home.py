"""Tests of the smart-home generator with planted routines (:mod:`vigil.synth.home`)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from statistics import median
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from vigil.store import open_store
from vigil.store.base import EVENT_INPUT_SCHEMA
from vigil.synth.home import (
    DEFAULT_AREAS,
    Home,
    HomeConfig,
    generate_home,
    insert_home,
    noise_config,
    scale_config,
)
from vigil.synth.home_truth import Expected
from vigil.synth.routines import AtTime, Chain, LongOn, clock_minutes

ZONE = ZoneInfo("Europe/Berlin")
DETECTOR_TYPES = {"time_of_day", "cooccurrence", "sequence", "duration", "session", "area",
                  "day_type", "seasonal"}


def _changes(table: pa.Table) -> dict[str, list[tuple[dt.datetime, str, str]]]:
    """Per entity: (local time, state, old state) in table order."""
    found: dict[str, list[tuple[dt.datetime, str, str]]] = defaultdict(list)
    for row in table.to_pylist():
        old = json.loads(row["attributes"])["old_state"]
        found[row["source_id"]].append((row["ts"].astimezone(ZONE), row["state"], old))
    return found


def _starts(table: pa.Table, entity: str) -> list[dt.datetime]:
    return [t for t, state, _ in _changes(table)[entity] if state == "on"]


@pytest.fixture(scope="module")
def home90() -> Home:
    return generate_home(HomeConfig(days=90, seed=3))


def test_the_same_config_gives_the_same_home_and_another_seed_another() -> None:
    config = HomeConfig(days=10, seed=5)
    first, again = generate_home(config), generate_home(config)
    assert first.events.equals(again.events)
    assert first.truth == again.truth
    other = generate_home(HomeConfig(days=10, seed=6))
    assert not other.events.equals(first.events)
    assert set(other.events.column("event_id").to_pylist()).isdisjoint(
        first.events.column("event_id").to_pylist())


def test_events_are_home_assistant_state_changes_in_the_input_schema() -> None:
    home = generate_home(HomeConfig(days=7, seed=2))
    events = home.events
    assert events.schema == EVENT_INPUT_SCHEMA
    assert pc.all(pc.equal(events.column("event_type"), "state_changed")).as_py()
    assert pc.count_distinct(events.column("event_id")).as_py() == events.num_rows
    ts = events.column("ts").to_pylist()
    assert ts == sorted(ts)
    for row in events.slice(0, 50).to_pylist():
        domain = row["source_id"].split(".")[0]
        assert row["labels"] == [domain]
        assert json.loads(row["attributes"]) == {
            "old_state": "off" if row["state"] == "on" else "on", "domain": domain}
    for changes in _changes(events).values():  # every entity: on, off, on, off, ...
        states = [state for _, state, _ in changes]
        assert states == ["on", "off"] * (len(states) // 2)
        assert all(a[0] < b[0] for a, b in zip(changes, changes[1:], strict=False))


def test_a_habit_keeps_its_local_time_across_the_change_to_summer_time() -> None:
    home = generate_home(HomeConfig(days=30, seed=4))  # 2 to 31 March 2026, DST on the 29th
    routine = next(r for r in home.config.routines
                   if isinstance(r, AtTime) and r.entity == "switch.coffee_maker")
    starts = _starts(home.events, routine.entity)
    assert len(starts) >= 0.75 * 30
    offsets = [t.hour * 60 + t.minute + t.second / 60 - clock_minutes(routine.at)
               for t in starts]
    assert max(abs(o) for o in offsets) <= 2.5 * routine.jitter_min + 0.1
    assert {t.utcoffset() for t in starts} == {dt.timedelta(hours=1), dt.timedelta(hours=2)}


def test_a_weekday_habit_never_happens_at_weekends() -> None:
    home = generate_home(HomeConfig(days=28, seed=4))
    routine = next(r for r in home.config.routines if isinstance(r, AtTime) and r.weekdays
                   != (0, 1, 2, 3, 4, 5, 6))
    starts = _starts(home.events, routine.entity)
    assert len(starts) >= 0.8 * 20
    assert {t.weekday() for t in starts} <= set(routine.weekdays)


def test_a_drifting_habit_moves_later_month_by_month(home90: Home) -> None:
    home = home90
    routine = next(r for r in home.config.routines
                   if isinstance(r, AtTime) and r.drift_min_per_month)
    by_month: dict[int, list[float]] = defaultdict(list)
    for t in _starts(home.events, routine.entity):
        by_month[t.month].append(t.hour * 60 + t.minute)
    means = [sum(v) / len(v) for _, v in sorted(by_month.items())]
    assert len(means) == 3
    steps = [b - a for a, b in zip(means, means[1:], strict=False)]
    assert all(abs(step - routine.drift_min_per_month) < 6 for step in steps)


def test_durations_and_sequence_gaps_are_as_planted() -> None:
    home = generate_home(HomeConfig(days=20, seed=8))
    long_on = next(r for r in home.config.routines if isinstance(r, LongOn))
    changes = _changes(home.events)[long_on.entity]
    lengths = [(b[0] - a[0]).total_seconds() / 60 for a, b in zip(changes[::2], changes[1::2],
                                                                  strict=True)]
    assert abs(median(lengths) - long_on.minutes) < long_on.jitter_min
    chain = next(r for r in home.config.routines if isinstance(r, Chain))
    first, second = (_starts(home.events, e) for e in chain.steps[:2])
    gaps = [min((b - a).total_seconds() for b in second if b > a) for a in first]
    assert abs(median(gaps) - chain.gap_s) < chain.gap_jitter_s
    assert max(gaps) <= chain.gap_s + 2.5 * chain.gap_jitter_s + 1


def test_ground_truth_covers_every_detector_and_names_real_entities(home90: Home) -> None:
    home = home90
    truth: tuple[Expected, ...] = home.truth
    assert {e.type for e in truth} == DETECTOR_TYPES
    names = set(home.entities) | set(home.areas.values()) | {"_home"}
    assert all(set(e.entities) <= names for e in truth)
    assert any(e.implied for e in truth) and any(not e.implied for e in truth)
    short = home.expected(window_days=30)
    assert short == truth
    early = home.expected(end=home.config.start + dt.timedelta(days=29))
    assert "seasonal" not in {e.type for e in early}


def test_pure_noise_has_no_routine_and_no_truth() -> None:
    config = noise_config(days=10, seed=3, entities=12, per_day=6.0)
    home = generate_home(config)
    assert home.truth == ()
    assert all(".noise_" in e for e in home.entities)
    expected = 2 * 12 * 6.0 * 10
    assert abs(home.events.num_rows - expected) < 0.15 * expected


def test_scale_mode_makes_about_the_asked_events_per_day() -> None:
    home = generate_home(scale_config(events_per_day=100_000, entities=500))
    assert 97_000 <= home.events.num_rows <= 104_000
    assert len(home.entities) > 500


def test_inserted_home_reads_back_by_local_day_with_areas(tmp_path: Path) -> None:
    config = HomeConfig(days=5, seed=9)
    home = generate_home(config)
    store = open_store(str(tmp_path / "home.duckdb"))  # UTC by default: zones are set
    try:
        assert insert_home(store, home) == home.events.num_rows
        day = store.events_of_local_day(config.start + dt.timedelta(days=2))
        assert day.num_rows > 0
        assert set(day.column("timezone").to_pylist()) == {config.timezone}
        pairs = set(zip(day.column("source_id").to_pylist(), day.column("area").to_pylist(),
                        strict=True))
        assert all(home.areas[source] == area for source, area in pairs)
        assert {s for s, _ in pairs} & set(DEFAULT_AREAS)
    finally:
        store.close()
