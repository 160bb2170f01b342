"""The day-type detector: weekday-only, weekend-only, some-weekdays and time-shift habits."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.patterns.base import DaySummary, DetectOptions, PatternDetector
from vigil.patterns.day_type import DETECTOR, fisher_greater, mann_whitney_tail

from .home_tables import (
    Home,
    assert_same_patterns,
    build,
    check_pattern_shape,
    concat,
    days_from,
    local_ms,
    noise,
    stored_summaries,
    summaries_through_store,
)

OPTIONS = DetectOptions()
HOME = Home(areas={"light.office": "office", "light.kitchen": "kitchen"})
SOURCES = [f"light.l{i}" for i in range(30)] + ["cam1", "cam2"]
DAYS = days_from(dt.date(2026, 6, 1), 30)  # Monday 1 June to Tuesday 30 June: 8 weekend days


def habit(rng: np.random.Generator, days: list[dt.date], source: str, minute: float,
          weekdays: set[int], share: float = 1.0, jitter: float = 10.0) -> pa.Table:
    """``source`` turns on near ``minute`` on a share of the days of ``weekdays``."""
    chosen = [d for d in days if d.weekday() in weekdays and rng.random() < share]
    stamps = [local_ms(d, minute + rng.normal(0, jitter), HOME.zone) for d in chosen]
    return build([source] * len(chosen), stamps, HOME)


WORKDAYS, WEEKEND = {0, 1, 2, 3, 4}, {5, 6}


def test_is_a_pattern_detector() -> None:
    assert isinstance(DETECTOR, PatternDetector)
    assert DETECTOR.name == "day_type"


def test_summary_has_count_and_first_minute_per_item() -> None:
    day = DAYS[0]
    at = [local_ms(day, m, HOME.zone) for m in (400, 410, 1000)]
    events = build(["light.office", "light.office", "cam1"], at, HOME)
    assert DETECTOR.summarize(day, events) == {
        "light.office": {"n": 2, "first": 400}, "cam1:person": {"n": 1, "first": 1000}}


def test_planted_day_type_habits_are_found_with_their_counts() -> None:
    rng = np.random.default_rng(1)
    events = concat(
        noise(rng, DAYS, HOME, SOURCES, 20),
        habit(rng, DAYS, "light.office", 8 * 60, WORKDAYS),
        habit(rng, DAYS, "light.garden", 10 * 60, WEEKEND),
        habit(rng, DAYS, "light.gym", 18 * 60, {0, 2, 4}),
        habit(rng, DAYS, "light.kitchen", 6 * 60 + 30, WORKDAYS),
        habit(rng, DAYS, "light.kitchen", 9 * 60, WEEKEND))
    found = {p.key: p for p in DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS),
                                               DAYS[-1], OPTIONS)}
    check_pattern_shape(list(found.values()), "day_type")
    office = found["light.office|weekdays"]
    assert office.evidence["days_in"] == 22 and office.evidence["days_active_in"] == 22
    assert office.evidence["days_out"] == 8
    assert office.evidence["days_active_out"] == 0
    assert office.confidence == pytest.approx(22 / 23 * (1 - 1 / 10), abs=1e-6)
    assert (office.first_seen, office.last_seen) == (DAYS[0], DAYS[-1])
    garden = found["light.garden|weekends"]
    assert garden.evidence["days_active_in"] == garden.evidence["days_in"] == 8
    assert garden.evidence["days_out"] == 15  # Saturday 6 June to Sunday 28 June
    assert garden.first_seen == dt.date(2026, 6, 6) and garden.last_seen == dt.date(2026, 6, 28)
    assert "weekends only" in garden.description
    gym = found["light.gym|days:mon,wed,fri"]
    assert gym.evidence["days_active_in"] == 13 and gym.evidence["days_active_out"] == 0
    assert "Mon, Wed, Fri" in gym.description
    assert "light.gym|weekdays" not in found
    shift = found["light.kitchen|shift"]
    assert shift.evidence["weekdays_active"] == 22 and shift.evidence["weekend_active"] == 8
    assert abs(shift.evidence["shift_min"] - 150) <= 15
    assert shift.confidence == pytest.approx(8 / 9, abs=1e-6)
    assert "later" in shift.description
    assert "light.kitchen|weekdays" not in found


@pytest.mark.parametrize(("seed", "per_day"), [(1, 5), (2, 20), (3, 60), (4, 200)])
def test_random_activity_gives_no_pattern(seed: int, per_day: int) -> None:
    rng = np.random.default_rng(seed)
    events = noise(rng, DAYS, HOME, SOURCES, per_day)
    assert DETECTOR.detect_raw(events, DAYS[-1], OPTIONS) == []
    assert DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], OPTIONS) == []


def test_occasional_weekend_use_still_counts_as_weekdays_only() -> None:
    rng = np.random.default_rng(2)
    events = concat(habit(rng, DAYS, "light.office", 8 * 60, WORKDAYS, share=0.95),
                    habit(rng, [DAYS[5]], "light.office", 11 * 60, WEEKEND))
    found = {p.key: p for p in DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)}
    office = found["light.office|weekdays"]
    assert office.evidence["days_active_out"] == 1
    assert office.confidence < 22 / 23 * (1 - 1 / 10)


def test_summaries_after_json_round_trip_match_the_direct_batch() -> None:
    rng = np.random.default_rng(3)
    events = concat(noise(rng, DAYS, HOME, SOURCES, 15),
                    habit(rng, DAYS, "light.office", 8 * 60, WORKDAYS, share=0.95),
                    habit(rng, DAYS, "light.garden", 10 * 60, WEEKEND),
                    habit(rng, DAYS, "light.kitchen", 6 * 60 + 30, WORKDAYS),
                    habit(rng, DAYS, "light.kitchen", 9 * 60, WEEKEND))
    stored = DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], OPTIONS)
    raw = DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)
    assert len(stored) >= 3
    assert_same_patterns(stored, raw)
    assert stored == raw


def test_floats_from_the_store_give_the_same_patterns() -> None:
    rng = np.random.default_rng(4)
    events = habit(rng, DAYS, "light.office", 8 * 60, WORKDAYS)
    summaries = stored_summaries(DETECTOR, events, DAYS)
    floats = [DaySummary(s.day, s.entity, {k: float(v) for k, v in s.fields.items()})
              for s in summaries]
    expected = DETECTOR.detect(summaries, DAYS[-1], OPTIONS)
    assert expected and DETECTOR.detect(floats, DAYS[-1], OPTIONS) == expected


def test_item_appearing_mid_window_is_judged_on_its_span() -> None:
    rng = np.random.default_rng(5)
    late = DAYS[10:]  # from Thursday 11 June
    events = habit(rng, late, "light.office", 8 * 60, WORKDAYS)
    (office,) = DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], OPTIONS)
    assert office.key == "light.office|weekdays"
    assert office.evidence["days_in"] == 14 and office.evidence["days_out"] == 6
    assert office.first_seen == dt.date(2026, 6, 11)
    assert [office] == DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)


def test_item_vanishing_mid_window_is_judged_on_its_span() -> None:
    rng = np.random.default_rng(6)
    early = DAYS[:24]  # to Wednesday 24 June
    events = concat(habit(rng, early, "light.garden", 10 * 60, WEEKEND),
                    habit(rng, early, "light.office", 8 * 60, WORKDAYS))
    found = {p.key: p for p in DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS),
                                               DAYS[-1], OPTIONS)}
    office = found["light.office|weekdays"]
    assert office.last_seen == dt.date(2026, 6, 24)
    assert (office.evidence["days_in"], office.evidence["days_out"]) == (18, 6)
    # the garden's span is 6 to 21 June: six weekend days against ten weekdays is too
    # little to tell from chance (p = 1 / C(16, 6) > 1e-4)
    assert "light.garden|weekends" not in found
    assert list(found.values()) == DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)


def test_dst_day_first_minute_is_wall_clock() -> None:
    spring = dt.date(2026, 3, 29)  # Sunday, 02:00 -> 03:00 in Europe/Berlin
    events = build(["light.kitchen"], [local_ms(spring, 6 * 60 + 40, HOME.zone)], HOME)
    assert DETECTOR.summarize(spring, events) == {"light.kitchen": {"n": 1, "first": 400}}


def test_window_over_dst_change_matches_direct_batch() -> None:
    rng = np.random.default_rng(7)
    days = days_from(dt.date(2026, 10, 12), 30)
    events = concat(noise(rng, days, HOME, SOURCES, 10),
                    habit(rng, days, "light.kitchen", 6 * 60 + 30, WORKDAYS),
                    habit(rng, days, "light.kitchen", 9 * 60, WEEKEND))
    stored = DETECTOR.detect(stored_summaries(DETECTOR, events, days), days[-1], OPTIONS)
    assert [p.key for p in stored] == ["light.kitchen|shift"]
    assert stored == DETECTOR.detect_raw(events, days[-1], OPTIONS)


def test_fisher_exact_known_values() -> None:
    assert fisher_greater(3, 3, 0, 3) == pytest.approx(1 / 20)
    assert fisher_greater(8, 8, 0, 22) == pytest.approx(1 / math.comb(30, 8))
    assert fisher_greater(0, 5, 5, 5) == 1.0
    assert fisher_greater(2, 4, 2, 4) > 0.5


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(0, 20))
def test_mann_whitney_tail_matches_enumeration(m: int, n: int, u: int) -> None:
    counts: Counter[int] = Counter()
    for chosen in itertools.combinations(range(m + n), m):
        rest = [v for v in range(m + n) if v not in chosen]
        counts[sum(1 for x in chosen for y in rest if x > y)] += 1
    total = sum(counts.values())
    expected = sum(c for value, c in counts.items() if value <= u) / total
    assert mann_whitney_tail(m, n, u) == pytest.approx(expected)


def store_events(rng: np.random.Generator) -> pa.Table:
    """A month with one planted habit, for the store round trip."""
    return concat(noise(rng, DAYS, HOME, SOURCES, 6),
                  habit(rng, DAYS, "light.office", 8 * 60, WORKDAYS))


def test_summaries_through_a_duckdb_aggregate_store(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    events = store_events(rng)
    summaries = summaries_through_store(DETECTOR, events, DAYS, tmp_path / "v.duckdb")
    assert summaries == stored_summaries(DETECTOR, events, DAYS)
    found = DETECTOR.detect(summaries, DAYS[-1], OPTIONS)
    assert found and found == DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)
