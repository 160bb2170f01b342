"""The session detector: recurring daily sessions per area and for the whole home."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.patterns.base import HOME_ENTITY, DaySummary, DetectOptions, PatternDetector
from vigil.patterns.dayevents import activities
from vigil.patterns.session import DETECTOR, SessionDetector, entity_columns, split_sessions

from .home_tables import (
    Home,
    assert_same_patterns,
    build,
    check_pattern_shape,
    concat,
    day_tables,
    days_from,
    local_ms,
    noise,
    stored_summaries,
    summaries_through_store,
)

OPTIONS = DetectOptions()
HOME = Home(areas={"light.kitchen": "kitchen", "light.stove": "kitchen", "light.sofa": "living",
                   "light.tv": "living", "cam1": "garden", "light.bed": "bedroom"})
SOURCES = sorted(HOME.areas) + ["light.hall"]
DAYS = days_from(dt.date(2026, 4, 6), 30)


def routine(rng: np.random.Generator, days: list[dt.date], source: str, start: float,
            minutes: int, every: float = 8.0, jitter: float = 6.0, share: float = 1.0
            ) -> pa.Table:
    """A session of ``source`` starting near ``start`` lasting ``minutes`` on most days."""
    sources, stamps = [], []
    for day in days:
        if rng.random() >= share:
            continue
        begin = start + rng.normal(0, jitter)
        for offset in np.arange(0, minutes + 0.01, every):
            sources.append(source)
            stamps.append(local_ms(day, begin + float(offset), HOME.zone))
    return build(sources, stamps, HOME)


def test_is_a_pattern_detector() -> None:
    assert isinstance(DETECTOR, PatternDetector)
    assert DETECTOR.name == "session"


def test_summary_lists_sessions_split_by_idle_gaps() -> None:
    day = DAYS[0]
    at = [local_ms(day, m, HOME.zone) for m in (420, 425, 440, 500, 505)]
    events = build(["light.kitchen"] * 3 + ["light.sofa"] * 2, at, HOME)
    summary = DETECTOR.summarize(day, events)
    assert summary == {
        HOME_ENTITY: {"sessions": [[420, 20 * 60, 3], [500, 5 * 60, 2]]},
        "kitchen": {"sessions": [[420, 20 * 60, 3]]},
        "living": {"sessions": [[500, 5 * 60, 2]]},
    }


def test_off_and_exit_events_start_no_session() -> None:
    day = DAYS[0]
    at = [local_ms(day, m, HOME.zone) for m in (420, 600, 601)]
    events = build(["light.kitchen", "light.kitchen", "cam1"], at, HOME, ["on", "off", "exit"])
    assert DETECTOR.summarize(day, events) == {
        HOME_ENTITY: {"sessions": [[420, 0, 1]]}, "kitchen": {"sessions": [[420, 0, 1]]}}


def test_planted_morning_and_evening_sessions_are_found() -> None:
    rng = np.random.default_rng(7)
    events = concat(
        noise(rng, DAYS, HOME, SOURCES, 6),
        routine(rng, DAYS, "light.kitchen", 6 * 60 + 30, 90, share=0.9),
        routine(rng, DAYS, "light.tv", 19 * 60, 180, jitter=8, share=0.8))
    found = {p.key: p for p in DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS),
                                               DAYS[-1], OPTIONS)}
    check_pattern_shape(list(found.values()), "session")
    kitchen = found["kitchen|0630"]
    assert kitchen.entities == ("kitchen",)
    assert abs(kitchen.evidence["start_minute"] - 390) <= 6
    assert abs(kitchen.evidence["typical_duration_s"] - 90 * 60) <= 6 * 60
    assert 25 <= kitchen.evidence["days_observed"] <= 30
    assert kitchen.evidence["days_in_window"] == 30
    share = kitchen.evidence["days_observed"] / 30
    assert share * 0.8 <= kitchen.confidence <= share
    assert kitchen.evidence["expected_days"] < 0.5 * kitchen.evidence["days_observed"]
    living = found["living|1900"]
    assert abs(living.evidence["typical_duration_s"] - 180 * 60) <= 10 * 60
    assert 20 <= living.evidence["days_observed"] <= 28
    assert "is active 19:" in living.description
    assert {"kitchen|0630", "living|1900"} <= set(found)


@pytest.mark.parametrize(("seed", "per_day"), [(1, 4), (2, 20), (3, 60), (4, 250)])
def test_random_activity_gives_no_pattern(seed: int, per_day: int) -> None:
    rng = np.random.default_rng(seed)
    events = noise(rng, DAYS, HOME, SOURCES, per_day)
    assert DETECTOR.detect_raw(events, DAYS[-1], OPTIONS) == []
    assert DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], OPTIONS) == []


def test_summaries_after_json_round_trip_match_the_direct_batch() -> None:
    rng = np.random.default_rng(11)
    events = concat(noise(rng, DAYS, HOME, SOURCES, 10),
                    routine(rng, DAYS, "light.kitchen", 7 * 60, 60, share=0.85),
                    routine(rng, DAYS, "light.bed", 22 * 60 + 30, 45, share=0.7))
    stored = DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], OPTIONS)
    raw = DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)
    assert len(stored) >= 2
    assert_same_patterns(stored, raw)
    assert stored == raw


def test_same_input_same_output_and_summaries_in_any_order() -> None:
    rng = np.random.default_rng(5)
    events = concat(noise(rng, DAYS, HOME, SOURCES, 8),
                    routine(rng, DAYS, "light.kitchen", 7 * 60, 60))
    summaries = stored_summaries(DETECTOR, events, DAYS)
    first = DETECTOR.detect(summaries, DAYS[-1], OPTIONS)
    assert first and DETECTOR.detect(list(reversed(summaries)), DAYS[-1], OPTIONS) == first


def test_summaries_outside_the_window_are_ignored() -> None:
    rng = np.random.default_rng(3)
    events = routine(rng, DAYS, "light.kitchen", 7 * 60, 60)
    summaries = stored_summaries(DETECTOR, events, DAYS)
    end = DAYS[9]
    inside = [s for s in summaries if s.day <= end]
    options = DetectOptions(window_days=10)
    assert DETECTOR.detect(summaries, end, options) == DETECTOR.detect(inside, end, options)
    found = DETECTOR.detect(summaries, end, options)
    assert found and all(p.last_seen is not None and p.last_seen <= end for p in found)
    assert found == DETECTOR.detect_raw(events, end, options)


def test_days_without_activity_lower_the_share() -> None:
    rng = np.random.default_rng(2)
    busy = [d for i, d in enumerate(DAYS) if i % 5 != 2]  # one day in five is empty
    events = routine(rng, busy, "light.kitchen", 7 * 60, 60)
    (kitchen,) = [p for p in DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS),
                                             DAYS[-1], OPTIONS) if p.entities == ("kitchen",)]
    assert kitchen.evidence["days_observed"] == len(busy) == 24
    assert kitchen.evidence["days_in_window"] == 30
    assert kitchen.confidence <= 24 / 30


def test_source_vanishing_mid_window_is_judged_on_its_days() -> None:
    rng = np.random.default_rng(4)
    events = concat(routine(rng, DAYS[:12], "light.tv", 20 * 60, 120),
                    routine(rng, DAYS[8:], "light.kitchen", 7 * 60, 60))
    found = {p.key: p for p in DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS),
                                               DAYS[-1], OPTIONS)}
    assert found["living|2000"].evidence["days_in_window"] == 12
    assert found["living|2000"].last_seen == DAYS[11]
    assert found["kitchen|0700"].evidence["days_in_window"] == 22
    assert found["kitchen|0700"].first_seen == DAYS[8]
    assert_same_patterns(list(found.values()),
                         DETECTOR.detect_raw(events, DAYS[-1], OPTIONS))


def test_dst_day_sessions_use_real_durations() -> None:
    spring = dt.date(2026, 3, 29)  # Europe/Berlin: 02:00 -> 03:00
    at = [local_ms(spring, 110, HOME.zone), local_ms(spring, 190, HOME.zone)]  # 01:50, 03:10
    summary = DETECTOR.summarize(spring, build(["light.kitchen"] * 2, at, HOME))
    assert summary[HOME_ENTITY] == {"sessions": [[110, 20 * 60, 2]]}
    autumn = dt.date(2026, 10, 25)  # 03:00 -> 02:00: 02:10 CEST to 02:20 CET is 70 min
    first = local_ms(autumn, 130, HOME.zone)
    at = [first, first + 70 * 60_000]
    summary = DETECTOR.summarize(autumn, build(["light.kitchen"] * 2, at, HOME))
    assert summary[HOME_ENTITY] == {"sessions": [[130, 0, 1], [140, 0, 1]]}


def test_window_over_dst_change_matches_direct_batch() -> None:
    rng = np.random.default_rng(9)
    days = days_from(dt.date(2026, 3, 15), 30)
    events = concat(noise(rng, days, HOME, SOURCES, 6),
                    routine(rng, days, "light.kitchen", 6 * 60 + 40, 60))
    stored = DETECTOR.detect(stored_summaries(DETECTOR, events, days), days[-1], OPTIONS)
    assert "kitchen|0630" in {p.key for p in stored}
    assert stored == DETECTOR.detect_raw(events, days[-1], OPTIONS)


def test_sessions_just_after_midnight_are_not_starts() -> None:
    rng = np.random.default_rng(6)
    events = routine(rng, DAYS, "light.tv", 10, 60, jitter=3)  # 00:10 each night
    assert DETECTOR.detect_raw(events, DAYS[-1], OPTIONS) == []


def test_gap_is_a_detector_setting() -> None:
    day = DAYS[0]
    at = [local_ms(day, m, HOME.zone) for m in (420, 440, 460)]
    events = build(["light.kitchen"] * 3, at, HOME)
    short = SessionDetector()
    short.gap_s = 10 * 60
    assert len(short.summarize(day, events)["kitchen"]["sessions"]) == 3
    assert len(DETECTOR.summarize(day, events)["kitchen"]["sessions"]) == 1


def test_floats_from_the_store_are_read_as_numbers() -> None:
    rng = np.random.default_rng(8)
    events = routine(rng, DAYS, "light.kitchen", 7 * 60, 60)
    summaries = stored_summaries(DETECTOR, events, DAYS)
    floats = [DaySummary(s.day, s.entity,
                         {"sessions": [[float(v) for v in row] for row in s.fields["sessions"]]})
              for s in summaries]
    assert DETECTOR.detect(floats, DAYS[-1], OPTIONS) == DETECTOR.detect(summaries, DAYS[-1],
                                                                         OPTIONS)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3 * 1440 - 1),
                          st.sampled_from(["light.kitchen", "light.sofa", "light.hall"])),
                max_size=40))
def test_daily_sessions_equal_the_window_batch(rows: list[tuple[int, int, str]]) -> None:
    """Summaries of each day, put together, are the sessions of the whole window."""
    days = days_from(dt.date(2026, 3, 28), 3)
    stamps = [local_ms(days[d], m % 1440, HOME.zone) for d, m, _ in rows]
    events = build([s for _, _, s in rows], stamps, HOME)
    per_day = sorted(
        (entity, (day - days[0]).days, *session)
        for day, table in day_tables(events).items()
        for entity, fields in DETECTOR.summarize(day, table).items()
        for session in fields["sessions"])
    acts = activities(events)
    index = (acts.local_date - np.datetime64(days[0], "D")).astype(np.int64)
    names, entity, (day, ts, minute) = entity_columns(acts.area, index, acts.ts_ms,
                                                      acts.minute.astype(np.int64))
    batch = split_sessions(names, entity, day, ts, minute, DETECTOR.gap_s)
    in_area = acts.area != ""
    whole = sorted(zip(batch.entity.tolist(), batch.day.tolist(), batch.start.tolist(),
                       batch.duration_s.tolist(), batch.events.tolist(), strict=True))
    assert per_day == whole
    assert sum(n for *_, n in per_day) == 2 * int(in_area.sum()) + int((~in_area).sum())


def store_events(rng: np.random.Generator) -> pa.Table:
    """A month with one planted habit, for the store round trip."""
    return concat(noise(rng, DAYS, HOME, SOURCES, 6),
                  routine(rng, DAYS, "light.kitchen", 7 * 60, 60, share=0.9))


def test_summaries_through_a_duckdb_aggregate_store(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    events = store_events(rng)
    summaries = summaries_through_store(DETECTOR, events, DAYS, tmp_path / "v.duckdb")
    assert summaries == stored_summaries(DETECTOR, events, DAYS)
    found = DETECTOR.detect(summaries, DAYS[-1], OPTIONS)
    assert found and found == DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)
