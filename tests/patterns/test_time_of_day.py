"""Time-of-day routines: planted routines found, noise not, both detection paths agree."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.patterns.base import DetectOptions, Pattern, PatternDetector
from vigil.patterns.circular import circular_distance, circular_mean, circular_std, hhmm
from vigil.patterns.time_of_day import DETECTOR

from .builders import (
    Ev,
    assert_agree,
    at,
    days,
    detection,
    empty_table,
    ha,
    noise,
    stored,
    table,
)

BERLIN = "Europe/Berlin"
OPTIONS = DetectOptions()


def routine(item: str, day_list: list[dt.date], minute: float, sd: float, seed: int,
            skip: frozenset[int] | set[int] = frozenset(), zone: str = "UTC") -> list[Ev]:
    """``item`` switched on around ``minute`` (normal, ``sd`` minutes) on each day not in
    ``skip`` (indexes), off 20 minutes later."""
    rng = np.random.default_rng(seed)
    found: list[Ev] = []
    for i, day in enumerate(day_list):
        when = minute + rng.normal(0, sd)
        if i in skip:
            continue
        found.append(ha(item, at(day, 0, when, zone), zone=zone))
        found.append(ha(item, at(day, 0, when + 20, zone), "off", zone=zone))
    return found


def both(events: list[Ev], end: dt.date, options: DetectOptions = OPTIONS
         ) -> tuple[list[Pattern], list[Pattern]]:
    """Patterns from the stored summaries and from the raw batch."""
    data = table(events)
    return DETECTOR.detect(stored(DETECTOR, data), end, options), DETECTOR.detect_raw(
        data, end, options)


def test_is_a_pattern_detector() -> None:
    assert isinstance(DETECTOR, PatternDetector)
    assert DETECTOR.name == "time_of_day"


def test_planted_morning_routine_is_found_with_its_numbers() -> None:
    window = days(30)
    skip = {3, 9, 17, 24}
    events = routine("light.kitchen", window, 6 * 60 + 40, 5, seed=1, skip=skip)
    events += noise(np.random.default_rng(2), window, ["cam1", "switch.fan"], 4)
    from_summaries, from_raw = both(events, window[-1])
    assert_agree(from_summaries, from_raw)
    kitchen = [p for p in from_raw if p.entities == ("light.kitchen",)]
    assert len(kitchen) == 1
    found = kitchen[0]
    assert found.key == "light.kitchen|07h"  # keyed by the nearest full hour
    assert found.evidence["days_observed"] == 26
    assert abs(found.evidence["mean_minute"] - 400) <= 3
    assert found.evidence["time"] in {f"06:{m}" for m in range(37, 44)}
    assert 2 <= found.evidence["spread_min"] <= 8
    assert found.confidence >= 0.7
    assert found.first_seen == window[0] and found.last_seen == window[-1]
    assert "06:4" in found.description and "26 of 30 days" in found.description
    assert [p.entities for p in from_raw] == [("light.kitchen",)]


def test_morning_and_evening_routines_of_one_item() -> None:
    window = days(21)
    events = routine("light.hall", window, 7 * 60, 6, seed=3)
    events += routine("light.hall", window, 22 * 60 + 15, 6, seed=4, skip={5})
    from_summaries, from_raw = both(events, window[-1])
    assert_agree(from_summaries, from_raw)
    assert [p.key for p in from_raw] == ["light.hall|07h", "light.hall|22h"]
    means = [p.evidence["mean_minute"] for p in from_raw]
    assert abs(means[0] - 420) <= 4 and abs(means[1] - 1335) <= 4
    assert [p.evidence["days_observed"] for p in from_raw] == [21, 20]


def test_routine_around_midnight_averages_across_it() -> None:
    window = days(30)
    events = routine("light.bedroom", window, 23 * 60 + 58, 6, seed=5)
    from_summaries, from_raw = both(events, window[-1])
    assert_agree(from_summaries, from_raw)
    assert len(from_raw) == 1
    found = from_raw[0]
    assert float(circular_distance(found.evidence["mean_minute"], 23 * 60 + 58)) <= 4
    assert found.evidence["spread_min"] <= 10
    assert found.evidence["days_observed"] >= 29
    assert found.confidence >= 0.8


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_uniformly_random_activity_gives_no_routine(seed: int) -> None:
    window = days(30)
    rng = np.random.default_rng(seed)
    events = noise(rng, window, ["cam1", "cam2", "light.a", "switch.b"], 3)
    events += noise(rng, window, ["sensor.rare"], 1)
    from_summaries, from_raw = both(events, window[-1])
    assert from_raw == [] and from_summaries == []


def test_item_busy_all_day_has_no_routine() -> None:
    window = days(14)
    events = [detection("cam.street", at(day, 0, m)) for day in window
              for m in range(0, 1440, 7)]
    assert both(events, window[-1]) == ([], [])


def test_dst_days_keep_the_wall_clock_time() -> None:
    # 2024-03-31 (23 h) and 2024-10-27 (25 h) in Berlin, each in the middle of its window.
    for start in (dt.date(2024, 3, 17), dt.date(2024, 10, 13)):
        window = days(28, start)
        events = routine("light.kitchen", window, 6 * 60 + 40, 4, seed=6, zone=BERLIN)
        events += noise(np.random.default_rng(7), window, ["cam1"], 3, BERLIN)
        from_summaries, from_raw = both(events, window[-1])
        assert_agree(from_summaries, from_raw)
        assert [p.key for p in from_raw] == ["light.kitchen|07h"]
        assert from_raw[0].evidence["days_observed"] == 28
        assert abs(from_raw[0].evidence["mean_minute"] - 400) <= 3


def test_summaries_round_trip_and_equal_the_raw_batch_with_gaps_and_churn() -> None:
    window = days(30)
    rng = np.random.default_rng(8)
    events = routine("light.kitchen", window, 400, 8, seed=9, skip={2, 3})
    events += routine("switch.kettle", window[:12], 410, 5, seed=10)  # vanishes
    events += routine("light.garden", window[18:], 1000, 5, seed=11)  # appears
    events += noise(rng, window, ["cam1", "light.a"], 5)
    empty_day = at(window[15], 0) // 86_400_000
    data = table(e for e in events if e.ts_ms // 86_400_000 != empty_day)
    summaries = stored(DETECTOR, data, extra_days=window)
    assert not [s for s in summaries if s.day == window[15]]  # an empty day says nothing
    for options in (OPTIONS, DetectOptions(min_confidence=0.0, min_days=2),
                    DetectOptions(window_days=10, min_days=3)):
        from_summaries = DETECTOR.detect(summaries, window[-1], options)
        assert_agree(from_summaries, DETECTOR.detect_raw(data, window[-1], options))
        assert [p.key for p in from_summaries] == sorted(p.key for p in from_summaries)
    found = DETECTOR.detect(summaries, window[-1], OPTIONS)
    assert [p.key for p in found] == ["light.garden|17h", "light.kitchen|07h",
                                      "switch.kettle|07h"]
    garden = found[0]  # covered from its first day: 12 of 12 days
    assert (garden.evidence["days_observed"], garden.evidence["days_covered"]) == (12, 12)
    assert garden.first_seen == window[18]
    low = DETECTOR.detect(summaries, window[-1], DetectOptions(min_confidence=0, min_days=2))
    assert len(low) > 3  # noise clusters exist below the bar and agree too


def test_summary_fields_are_small_json() -> None:
    window = days(1)
    events = [detection("cam1", at(window[0], 0, m)) for m in np.arange(0, 1440, 0.5)]
    summary = DETECTOR.summarize(window[0], table(events))
    fields = summary["cam1:person"]
    assert fields["minutes"] == list(range(0, 1440, 10))
    assert fields["activations"] == 2880
    assert json.loads(json.dumps(summary)) == summary
    assert DETECTOR.summarize(window[0], empty_table()) == {}


def test_detection_is_deterministic_and_reads_only_the_window() -> None:
    window = days(40)
    events = routine("light.kitchen", window[:10], 400, 5, seed=12)
    events += routine("light.porch", window[10:], 1200, 5, seed=13)
    data = table(events)
    summaries = stored(DETECTOR, data)
    before = list(summaries)
    first = DETECTOR.detect(summaries, window[-1], OPTIONS)
    assert summaries == before
    assert first == DETECTOR.detect(list(reversed(summaries)), window[-1], OPTIONS)
    assert [p.key for p in first] == ["light.porch|20h"]
    assert first[0].first_seen == window[10]
    assert_agree(first, DETECTOR.detect_raw(data, window[-1], OPTIONS))


# -- circular statistics -----------------------------------------------------------------
minutes_lists = st.lists(st.integers(0, 1439), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(minutes_lists, st.integers(0, 1439))
def test_circular_mean_and_spread_follow_a_rotation(values: list[int], shift: int) -> None:
    spread = circular_std(values)
    if spread > 300:  # values spread round the clock: the mean is not meaningful
        return
    rotated = [(v + shift) % 1440 for v in values]
    expected = (circular_mean(values) + shift) % 1440
    assert float(circular_distance(circular_mean(rotated), expected)) < 1e-6
    assert circular_std(rotated) == pytest.approx(spread, abs=1e-4)  # minutes


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 1439), st.lists(st.integers(-30, 30), min_size=1, max_size=20))
def test_circular_mean_of_a_tight_cluster_stays_near_it(centre: int, offsets: list[int]
                                                        ) -> None:
    values = [(centre + o) % 1440 for o in offsets]
    mean = circular_mean(values)
    assert 0 <= mean < 1440
    assert float(circular_distance(mean, centre + float(np.mean(offsets)))) < 1.0
    assert circular_std(values) <= 31


def test_circular_mean_across_midnight() -> None:
    assert float(circular_distance(circular_mean([23 * 60 + 50, 10]), 0.0)) < 1e-9
    assert hhmm(circular_mean([23 * 60 + 50, 10])) == "00:00"
    assert circular_std([100]) == 0.0
    assert circular_std([0, 720]) == 720.0


def test_empty_inputs_give_nothing() -> None:
    end = days(1)[0]
    assert DETECTOR.detect([], end, OPTIONS) == []
    assert DETECTOR.detect_raw(empty_table(), end, OPTIONS) == []
    assert DETECTOR.summarize(end, empty_table()) == {}
