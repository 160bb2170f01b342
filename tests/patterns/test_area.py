"""The area detector: busy hours per area and transitions between areas."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vigil.patterns.area import (
    DAY_ORIGIN,
    DAY_STRIDE,
    DETECTOR,
    _first_last_per_minute,
    _moves,
)
from vigil.patterns.base import DaySummary, DetectOptions, PatternDetector
from vigil.patterns.chance import chance_tail

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
HOME = Home(areas={"light.kitchen": "kitchen", "light.stove": "kitchen", "light.sofa": "living",
                   "light.tv": "living", "light.bed": "bedroom", "cam1": "garden",
                   "light.bath": "bath"})
SOURCES = sorted(HOME.areas) + ["light.hall"]
DAYS = days_from(dt.date(2026, 5, 4), 30)


def planted(rng: np.random.Generator, days: list[dt.date], steps: list[tuple[str, float]],
            start: float, share: float = 1.0, jitter: float = 8.0) -> pa.Table:
    """On a share of days: each ``(source, minutes after start)`` step, start jittered."""
    sources, stamps = [], []
    for day in days:
        if rng.random() >= share:
            continue
        begin = start + rng.normal(0, jitter)
        for source, offset in steps:
            sources.append(source)
            stamps.append(local_ms(day, begin + offset + rng.uniform(0, 0.5), HOME.zone))
    return build(sources, stamps, HOME)


BREAKFAST = [("light.kitchen", 0.0), ("light.stove", 1.5), ("light.kitchen", 3.0),
             ("light.sofa", 6.0)]


def test_is_a_pattern_detector() -> None:
    assert isinstance(DETECTOR, PatternDetector)
    assert DETECTOR.name == "area"


def test_summary_has_hours_and_times_of_each_area() -> None:
    day = DAYS[0]
    at = [local_ms(day, m, HOME.zone) for m in (7 * 60 + 0.5, 7 * 60 + 40, 23 * 60)]
    events = build(["light.kitchen", "light.stove", "light.sofa"], at, HOME)
    summary = DETECTOR.summarize(day, events)
    assert set(summary) == {"kitchen", "living"}
    kitchen = summary["kitchen"]
    assert kitchen["hours"][7] == 2 and sum(kitchen["hours"]) == 2
    # 07:00:30 CEST is 05:00:30 UTC; the next start is 39.5 min (2370 s) later
    assert kitchen["times"] == [5 * 3600 + 30, 2370]


def test_sources_without_area_are_left_out() -> None:
    day = DAYS[0]
    events = build(["light.hall"], [local_ms(day, 600, HOME.zone)], HOME)
    assert DETECTOR.summarize(day, events) == {}


def test_busy_hours_found_with_their_share() -> None:
    rng = np.random.default_rng(1)
    cooking = [("light.stove", m) for m in (0, 20, 40, 60, 80, 100)]
    events = concat(noise(rng, DAYS, HOME, SOURCES, 12),
                    planted(rng, DAYS, cooking, 7 * 60 + 5, share=0.9, jitter=3))
    found = {p.key: p for p in DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS),
                                               DAYS[-1], OPTIONS)}
    check_pattern_shape(list(found.values()), "area")
    busy = found["kitchen|busy|07-09"]
    assert busy.entities == ("kitchen",)
    assert busy.evidence["hours"] == [7, 8]
    days = busy.evidence["days_observed"]
    assert 24 <= days <= 30 and busy.evidence["days_in_window"] == 30
    active = busy.evidence["days_active_by_hour"]
    assert busy.confidence == pytest.approx(sum(active) / 2 / 30, abs=1e-6)
    assert busy.evidence["expected_share"] < 0.4
    assert busy.evidence["peak_hours"][:2] == [7, 8] or busy.evidence["peak_hours"][:2] == [8, 7]
    assert "busy 07–09" in busy.description
    assert not [k for k in found if k.startswith(("living|busy", "bedroom|busy"))]


def test_transition_found_with_probability_and_counts() -> None:
    rng = np.random.default_rng(2)
    events = concat(noise(rng, DAYS, HOME, SOURCES, 8),
                    planted(rng, DAYS, BREAKFAST, 7 * 60, share=0.9, jitter=20))
    found = {p.key: p for p in DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS),
                                               DAYS[-1], OPTIONS)}
    move = found["kitchen>living|next"]
    assert move.entities == ("kitchen", "living")
    ev = move.evidence
    assert move.confidence == pytest.approx(ev["hits"] / ev["moves"], abs=1e-6)
    assert move.confidence >= 0.75 and ev["hits"] >= 24
    assert ev["expected_hits"] < 0.7 * ev["hits"]
    assert ev["co_window_s"] == 300 and ev["visits"] >= ev["moves"]
    assert 24 <= ev["days_observed"] <= 30
    assert "living>kitchen|next" not in found


def test_transition_respects_the_co_window() -> None:
    rng = np.random.default_rng(3)
    late = [("light.kitchen", 0.0), ("light.sofa", 8.0)]
    events = concat(noise(rng, DAYS, HOME, SOURCES, 4), planted(rng, DAYS, late, 7 * 60))
    short = DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)
    assert "kitchen>living|next" not in {p.key for p in short}
    wide = DetectOptions(co_window_s=900)
    found = {p.key: p for p in DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS),
                                               DAYS[-1], wide)}
    assert found["kitchen>living|next"].evidence["co_window_s"] == 900
    assert found["kitchen>living|next"].confidence >= 0.8


@pytest.mark.parametrize(("seed", "per_day"), [(1, 4), (2, 25), (3, 80), (4, 300)])
def test_random_activity_gives_no_pattern(seed: int, per_day: int) -> None:
    rng = np.random.default_rng(seed)
    events = noise(rng, DAYS, HOME, SOURCES, per_day)
    assert DETECTOR.detect_raw(events, DAYS[-1], OPTIONS) == []
    assert DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], OPTIONS) == []


@pytest.mark.parametrize("window", [60, 300, 1200])
def test_summaries_after_json_round_trip_match_the_direct_batch(window: int) -> None:
    rng = np.random.default_rng(4)
    cooking = [("light.stove", m) for m in (0, 20, 40, 60)]
    events = concat(noise(rng, DAYS, HOME, SOURCES, 12),
                    planted(rng, DAYS, BREAKFAST, 7 * 60, share=0.9),
                    planted(rng, DAYS, cooking, 18 * 60, share=0.8, jitter=3))
    options = DetectOptions(co_window_s=window)
    stored = DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], options)
    raw = DETECTOR.detect_raw(events, DAYS[-1], options)
    assert len(stored) >= 2
    assert_same_patterns(stored, raw)
    assert stored == raw


def test_floats_from_the_store_give_the_same_patterns() -> None:
    rng = np.random.default_rng(5)
    events = concat(noise(rng, DAYS, HOME, SOURCES, 6),
                    planted(rng, DAYS, BREAKFAST, 7 * 60, share=0.9))
    summaries = stored_summaries(DETECTOR, events, DAYS)
    floats = [DaySummary(s.day, s.entity, {k: [float(v) for v in values]
                                           for k, values in s.fields.items()})
              for s in summaries]
    expected = DETECTOR.detect(summaries, DAYS[-1], OPTIONS)
    assert expected and DETECTOR.detect(floats, DAYS[-1], OPTIONS) == expected


def test_area_vanishing_mid_window_is_judged_on_its_days() -> None:
    rng = np.random.default_rng(6)
    cooking = [("light.stove", m) for m in (0, 20, 40, 60)]
    events = concat(noise(rng, DAYS, HOME, ["light.sofa", "light.bed"], 6),
                    planted(rng, DAYS[:14], cooking, 7 * 60 + 5, jitter=3))
    stored = DETECTOR.detect(stored_summaries(DETECTOR, events, DAYS), DAYS[-1], OPTIONS)
    busy = {p.key: p for p in stored}["kitchen|busy|07-09"]
    assert busy.evidence["days_in_window"] == 14
    assert busy.confidence == 1.0
    assert (busy.first_seen, busy.last_seen) == (DAYS[0], DAYS[13])
    assert stored == DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)


def test_dst_days_count_local_hours() -> None:
    autumn = dt.date(2026, 10, 25)  # 02:30 happens twice in Europe/Berlin
    first = local_ms(autumn, 150, HOME.zone)
    events = build(["light.kitchen"] * 2, [first, first + 3_600_000], HOME)
    summary = DETECTOR.summarize(autumn, events)["kitchen"]
    assert summary["hours"][2] == 2 and sum(summary["hours"]) == 2
    # local midnight is 22:00 UTC the day before: 02:30 CEST is 00:30 UTC = 1800 s
    assert summary["times"] == [1800, 3600]
    spring = dt.date(2026, 3, 29)
    events = build(["light.kitchen"], [local_ms(spring, 3 * 60 + 10, HOME.zone)], HOME)
    assert DETECTOR.summarize(spring, events)["kitchen"]["hours"][3] == 1


def test_window_over_dst_change_matches_direct_batch() -> None:
    rng = np.random.default_rng(7)
    days = days_from(dt.date(2026, 10, 10), 30)
    events = concat(noise(rng, days, HOME, SOURCES, 10),
                    planted(rng, days, BREAKFAST, 7 * 60, share=0.9))
    stored = DETECTOR.detect(stored_summaries(DETECTOR, events, days), days[-1], OPTIONS)
    assert "kitchen>living|next" in {p.key for p in stored}
    assert stored == DETECTOR.detect_raw(events, days[-1], OPTIONS)


def test_busy_hours_join_across_midnight() -> None:
    rng = np.random.default_rng(8)
    night = [("light.bed", m) for m in (0, 30, 60, 90)]
    events = planted(rng, DAYS, night, 23 * 60 + 5, jitter=2)
    found = {p.key for p in DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)}
    assert "bedroom|busy|23-01" in found


def test_chance_tail_bounds_the_binomial_tail() -> None:
    assert chance_tail(3, 10, 0.5) == 1.0
    assert chance_tail(10, 10, 0.5) == pytest.approx(0.5 ** 10)
    exact = sum(__import__("math").comb(30, k) * 0.2 ** k * 0.8 ** (30 - k)
                for k in range(20, 31))
    assert exact <= chance_tail(20, 30, 0.2) < 1e-5


times_strategy = st.lists(st.integers(0, 3 * 86_400), max_size=30)


@settings(max_examples=400, deadline=None)
@given(st.lists(times_strategy, min_size=2, max_size=3), st.sampled_from([60, 61, 300, 1000]))
def test_first_and_last_of_each_minute_keep_the_moves(areas: list[list[int]],
                                                      window: int) -> None:
    """Dropping all but each minute's first and last time changes no move, for windows of
    a minute or more. (The chance of each next area may move a little: it weighs the
    seconds between other areas' times, and the dropped times within a minute can tie
    with another area's. Summaries and the direct batch both reduce, so they agree.)
    Two areas active at the very same second are left out: which of them comes next is a
    tie, and a dropped time can break it the other way."""
    seen = [set(values) for values in areas]
    assume(all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1:]))
    def axis(values: list[int]) -> np.ndarray:
        days, seconds = np.divmod(np.asarray(values, dtype=np.int64), 86_400)
        return np.sort(days * DAY_STRIDE + DAY_ORIGIN + seconds)

    full = [axis(v) for v in areas]
    reduced = [_first_last_per_minute(t) for t in full]
    for i in range(len(areas)):
        def others(times: list[np.ndarray], own: int = i) -> tuple[np.ndarray, np.ndarray]:
            label = np.concatenate([np.full(len(t), j) for j, t in enumerate(times)
                                    if j != own]).astype(np.int64)
            values = np.concatenate([t for j, t in enumerate(times) if j != own])
            order = np.lexsort((label, values))
            return values[order], label[order]

        a = _moves(full[i], *others(full), window, 4, len(areas))
        b = _moves(reduced[i], *others(reduced), window, 4, len(areas))
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert a.label.tolist() == b.label.tolist() and a.day.tolist() == b.day.tolist()
            assert a.per_day.tolist() == b.per_day.tolist()


def store_events(rng: np.random.Generator) -> pa.Table:
    """A month with one planted habit, for the store round trip."""
    return concat(noise(rng, DAYS, HOME, SOURCES, 6),
                  planted(rng, DAYS, BREAKFAST, 7 * 60, share=0.9))


def test_summaries_through_a_duckdb_aggregate_store(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    events = store_events(rng)
    summaries = summaries_through_store(DETECTOR, events, DAYS, tmp_path / "v.duckdb")
    assert summaries == stored_summaries(DETECTOR, events, DAYS)
    found = DETECTOR.detect(summaries, DAYS[-1], OPTIONS)
    assert found and found == DETECTOR.detect_raw(events, DAYS[-1], OPTIONS)
