"""The seasonal detector: month-over-month drift of use and of the first activation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from vigil.patterns.base import DaySummary, DetectOptions, PatternDetector
from vigil.patterns.seasonal import DETECTOR, SeasonalDetector

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
HOME = Home()
SOURCES = [f"light.l{i}" for i in range(20)] + ["cam1"]
DAYS = days_from(dt.date(2026, 3, 3), 90)  # 3 March to 31 May: 29, 30 and 31 days


def drifting(rng: np.random.Generator, days: list[dt.date], source: str, minute: float,
             per_month: float, jitter: float = 10.0, share: float = 1.0) -> pa.Table:
    """``source`` first turns on near ``minute``, moving ``per_month`` minutes a month."""
    chosen = [(i, d) for i, d in enumerate(days) if rng.random() < share]
    stamps = [local_ms(d, minute + per_month * i / 30.4375 + rng.normal(0, jitter), HOME.zone)
              for i, d in chosen]
    return build([source] * len(chosen), stamps, HOME)


def growing(rng: np.random.Generator, days: list[dt.date], source: str, per_day: float,
            growth: float) -> pa.Table:
    """``source`` used ``per_day`` times a day (Poisson), growing by ``growth`` a month."""
    sources, stamps = [], []
    for i, day in enumerate(days):
        for _ in range(rng.poisson(per_day * (1 + growth) ** (i / 30.4375))):
            sources.append(source)
            stamps.append(local_ms(day, rng.uniform(17 * 60, 23 * 60), HOME.zone))
    return build(sources, stamps, HOME)


def test_is_a_pattern_detector_with_its_own_window() -> None:
    assert isinstance(DETECTOR, PatternDetector)
    assert DETECTOR.name == "seasonal"
    assert DETECTOR.window_days == 90


def test_summary_has_count_and_first_minute() -> None:
    day = DAYS[0]
    at = [local_ms(day, m, HOME.zone) for m in (1000, 400, 700)]
    events = build(["light.kitchen"] * 3, at, HOME)
    assert DETECTOR.summarize(day, events) == {"light.kitchen": {"n": 3, "first": 400}}


def test_planted_drifts_are_found_with_slope_and_months() -> None:
    rng = np.random.default_rng(1)
    events = concat(noise(rng, DAYS, HOME, SOURCES, 10),
                    drifting(rng, DAYS, "light.kitchen", 6 * 60 + 30, 20),
                    drifting(rng, DAYS, "light.porch", 19 * 60, -25, share=0.8),
                    growing(rng, DAYS, "light.tv", 2, 0.5))
    found = {p.key: p for p in DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS),
                                               DAYS[-1], OPTIONS)}
    check_pattern_shape(list(found.values()), "seasonal")
    kitchen = found["light.kitchen|timing"]
    assert kitchen.evidence["shift_min_per_month"] == pytest.approx(20, abs=4)
    months = kitchen.evidence["months"]
    assert [m["month"] for m in months] == ["2026-03", "2026-04", "2026-05"]
    assert [m["days"] for m in months] == [29, 30, 31]
    means = [m["mean_minute"] for m in months]
    assert means == sorted(means) and means[0] == pytest.approx(400, abs=10)
    assert kitchen.evidence["days_observed"] == 90
    assert kitchen.confidence == pytest.approx(1 - 2 / kitchen.evidence["t"], abs=1e-4)
    assert kitchen.confidence > 0.7
    assert (kitchen.first_seen, kitchen.last_seen) == (DAYS[0], DAYS[-1])
    assert "later each month" in kitchen.description
    porch = found["light.porch|timing"]
    assert porch.evidence["shift_min_per_month"] == pytest.approx(-25, abs=5)
    assert "earlier" in porch.description
    tv = found["light.tv|volume"]
    assert tv.evidence["growth_per_month"] == pytest.approx(0.5, abs=0.2)
    means = [m["mean_count"] for m in tv.evidence["months"]]
    assert means == sorted(means)
    assert "grows" in tv.description
    assert not [k for k in found if k.startswith("light.l")]


def test_a_month_of_data_finds_nothing() -> None:
    rng = np.random.default_rng(2)
    days = DAYS[-30:]
    events = concat(drifting(rng, days, "light.kitchen", 6 * 60, 60, jitter=2),
                    growing(rng, days, "light.tv", 2, 2.0))
    assert DETECTOR.detect(stored_summaries(DETECTOR, events, days), days[-1], OPTIONS) == []
    assert DETECTOR.detect_raw(events, days[-1], OPTIONS) == []


def test_uses_its_own_window_not_the_options() -> None:
    rng = np.random.default_rng(3)
    events = drifting(rng, DAYS, "light.kitchen", 6 * 60, 20)
    summaries = stored_summaries(DETECTOR, events, DAYS)
    expected = DETECTOR.detect(summaries, DAYS[-1], OPTIONS)
    assert [p.key for p in expected] == ["light.kitchen|timing"]
    short = DetectOptions(window_days=10)
    assert DETECTOR.detect(summaries, DAYS[-1], short) == expected
    assert DETECTOR.detect_raw(events, DAYS[-1], short) == expected
    shorter = SeasonalDetector()
    shorter.window_days = 45
    assert shorter.detect(summaries, DAYS[-1], OPTIONS) == []


@pytest.mark.parametrize(("seed", "per_day"), [(1, 5), (2, 40), (3, 150)])
def test_random_activity_gives_no_pattern(seed: int, per_day: int) -> None:
    rng = np.random.default_rng(seed)
    events = noise(rng, DAYS, HOME, SOURCES, per_day)
    assert DETECTOR.detect_raw(events, DAYS[-1], OPTIONS) == []
    assert DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], OPTIONS) == []


def test_steady_habits_give_no_pattern() -> None:
    rng = np.random.default_rng(4)
    events = concat(drifting(rng, DAYS, "light.kitchen", 6 * 60 + 30, 0, jitter=20),
                    growing(rng, DAYS, "light.tv", 4, 0.0))
    assert DETECTOR.detect_raw(events, DAYS[-1], OPTIONS) == []


def test_summaries_after_json_round_trip_match_the_direct_batch() -> None:
    rng = np.random.default_rng(5)
    events = concat(noise(rng, DAYS, HOME, SOURCES, 8),
                    drifting(rng, DAYS, "light.kitchen", 6 * 60 + 30, 20),
                    growing(rng, DAYS, "light.tv", 2, 0.5))
    stored = DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], OPTIONS)
    raw = DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)
    assert len(stored) >= 2
    assert_same_patterns(stored, raw)
    assert stored == raw


def test_floats_from_the_store_give_the_same_patterns() -> None:
    rng = np.random.default_rng(6)
    events = drifting(rng, DAYS, "light.kitchen", 6 * 60, 20)
    summaries = stored_summaries(DETECTOR, events, DAYS)
    floats = [DaySummary(s.day, s.entity, {k: float(v) for k, v in s.fields.items()})
              for s in summaries]
    expected = DETECTOR.detect(summaries, DAYS[-1], OPTIONS)
    assert expected and DETECTOR.detect(floats, DAYS[-1], OPTIONS) == expected


def test_items_appearing_or_vanishing_are_judged_on_their_months() -> None:
    rng = np.random.default_rng(7)
    events = concat(drifting(rng, DAYS[50:], "light.kitchen", 6 * 60, 30),  # 22 April on
                    drifting(rng, DAYS[:75], "light.porch", 19 * 60, -30))  # to 16 May
    stored = DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], OPTIONS)
    porch = {p.key: p for p in stored}["light.porch|timing"]
    assert [m["month"] for m in porch.evidence["months"]] == ["2026-03", "2026-04", "2026-05"]
    assert porch.last_seen == DAYS[74]
    assert "light.kitchen|timing" not in {p.key for p in stored}  # two months only
    assert stored == DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)


def test_drift_across_midnight_is_continuous() -> None:
    rng = np.random.default_rng(8)
    events = drifting(rng, DAYS, "light.night", 23 * 60 + 20, 20, jitter=5)
    found = {p.key: p for p in DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)}
    night = found["light.night|timing"]
    assert night.evidence["shift_min_per_month"] == pytest.approx(20, abs=4)
    assert [round(m["mean_minute"]) // 60 for m in night.evidence["months"]] == [23, 23, 0]


def test_fixed_local_time_over_dst_changes_is_no_drift() -> None:
    rng = np.random.default_rng(9)
    days = days_from(dt.date(2026, 2, 1), 90)  # over the spring change on 29 March
    events = drifting(rng, days, "light.kitchen", 6 * 60 + 30, 0, jitter=3)
    summaries = stored_summaries(DETECTOR, events, days)
    spring = [s for s in summaries if s.day == dt.date(2026, 3, 29)]
    assert abs(spring[0].fields["first"] - 390) <= 12
    assert DETECTOR.detect(summaries, days[-1], OPTIONS) == []


def store_events(rng: np.random.Generator) -> pa.Table:
    """A month with one planted habit, for the store round trip."""
    return concat(noise(rng, DAYS, HOME, SOURCES, 4),
                  drifting(rng, DAYS, "light.kitchen", 6 * 60, 20))


def test_summaries_through_a_duckdb_aggregate_store(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    events = store_events(rng)
    summaries = summaries_through_store(DETECTOR, events, DAYS, tmp_path / "v.duckdb")
    assert summaries == stored_summaries(DETECTOR, events, DAYS)
    found = DETECTOR.detect(summaries, DAYS[-1], OPTIONS)
    assert found and found == DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)
