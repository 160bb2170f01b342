"""Sequences: planted A → B (→ C) found with gaps and direction, noise not, paths agree."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.patterns import sequence
from vigil.patterns.base import DaySummary, DetectOptions, Pattern, PatternDetector
from vigil.patterns.circular import summary_lists, window_days
from vigil.patterns.sequence import DETECTOR

from .builders import Ev, assert_agree, at, days, detection, empty_table, ha, noise, stored, table

BERLIN = "Europe/Berlin"
OPTIONS = DetectOptions()
DOOR, FLUSH, LIGHT = "binary_sensor.hall_door", "sensor.toilet_flush", "light.bath"


def visits(day_list: list[dt.date], per_day: float, seed: int, flush_share: float = 0.85,
           light_share: float = 0.0, zone: str = "UTC") -> list[Ev]:
    """The hall door opens; the toilet flush follows 60-110 s later (``flush_share``), the
    bathroom light 30-90 s after the flush (``light_share`` of those)."""
    rng = np.random.default_rng(seed)
    found: list[Ev] = []
    for day in day_list:
        for minute in rng.uniform(0, 1400, int(rng.poisson(per_day))):
            found += [ha(DOOR, at(day, 0, minute, zone), "open", "closed", zone),
                      ha(DOOR, at(day, 0, minute + 0.3, zone), "closed", "open", zone)]
            if rng.random() < flush_share:
                flush = minute + rng.uniform(1.0, 110 / 60)
                found.append(ha(FLUSH, at(day, 0, flush, zone), zone=zone))
                if rng.random() < light_share:
                    found.append(ha(LIGHT, at(day, 0, flush + rng.uniform(0.5, 1.5), zone),
                                    zone=zone))
    return found


def both(events: list[Ev], end: dt.date, options: DetectOptions = OPTIONS
         ) -> tuple[list[Pattern], list[Pattern]]:
    """Patterns from the stored summaries and from the raw batch."""
    data = table(events)
    return DETECTOR.detect(stored(DETECTOR, data), end, options), DETECTOR.detect_raw(
        data, end, options)


def test_is_a_pattern_detector() -> None:
    assert isinstance(DETECTOR, PatternDetector)
    assert DETECTOR.name == "sequence"


def test_planted_sequence_is_found_with_gap_confidence_and_direction() -> None:
    window = days(30)
    events = visits(window, 4, seed=1)
    events += noise(np.random.default_rng(2), window, ["cam1", "light.hall"], 10)
    from_summaries, from_raw = both(events, window[-1])
    assert_agree(from_summaries, from_raw)
    assert [p.key for p in from_raw] == [f"{DOOR}>{FLUSH}"]  # never the reverse
    found = from_raw[0]
    assert found.entities == (DOOR, FLUSH)
    assert 0.75 <= found.confidence <= 0.95
    assert found.confidence == pytest.approx(
        found.evidence["followed"] / found.evidence["occurrences"], abs=1e-4)
    assert 60 <= found.evidence["median_gap_s"] <= 110
    assert found.evidence["p90_gap_s"] <= 110
    assert found.evidence["lift"] >= 10
    assert found.evidence["days_observed"] >= 28
    assert "is followed by" in found.description


def test_three_steps_only_when_each_step_and_the_chain_are_frequent() -> None:
    window = days(30)
    events = visits(window, 3, seed=3, flush_share=0.9, light_share=0.9)
    from_summaries, from_raw = both(events, window[-1])
    assert_agree(from_summaries, from_raw)
    keys = [p.key for p in from_raw]
    assert f"{DOOR}>{FLUSH}>{LIGHT}" in keys
    chain = next(p for p in from_raw if p.key == f"{DOOR}>{FLUSH}>{LIGHT}")
    assert chain.entities == (DOOR, FLUSH, LIGHT)
    assert 0.7 <= chain.confidence <= 0.9
    assert 60 <= chain.evidence["median_gap_s"] <= 110
    assert 30 <= chain.evidence["median_second_gap_s"] <= 90
    # The light after only 30 % of flushes: B → C is not frequent, no chain.
    rare = visits(window, 3, seed=3, flush_share=0.9, light_share=0.3)
    assert not [p for p in DETECTOR.detect_raw(table(rare), window[-1], OPTIONS)
                if len(p.entities) == 3]


@pytest.mark.parametrize("seed", [30, 31, 32])
def test_random_activity_has_no_sequences(seed: int) -> None:
    window = days(30)
    rng = np.random.default_rng(seed)
    events = noise(rng, window, ["cam1", "cam2", "light.a", "switch.b", "sensor.c"], 8)
    events += noise(rng, window, ["cam.busy"], 150)
    assert both(events, window[-1]) == ([], [])


def test_burst_of_detections_is_one_occurrence() -> None:
    window = days(10)
    events: list[Ev] = []
    for day in window:
        for hour in (8, 13, 19):
            events += [detection("cam.door", at(day, hour, s / 60)) for s in range(0, 180, 5)]
            events.append(ha("light.hall", at(day, hour, 3.5)))
    summaries = stored(DETECTOR, table(events))
    door = [s for s in summaries if s.entity == "cam.door:person"]
    assert all(len(s.fields["starts"]) == 3 and s.fields["activations"] == 108 for s in door)
    found = DETECTOR.detect(summaries, window[-1], OPTIONS)
    assert [p.key for p in found] == ["cam.door:person>light.hall"]
    assert found[0].evidence["occurrences"] == 30
    assert found[0].evidence["median_gap_s"] == 210.0


def test_gap_across_the_dst_jump_is_real_time() -> None:
    window = days(28, dt.date(2024, 3, 17))  # 2024-03-31: 02:00 -> 03:00 in Berlin
    events: list[Ev] = []
    for day in window:
        first = at(day, 1, 59.5, BERLIN)
        events += [ha("switch.a", first, zone=BERLIN), ha("switch.b", first + 60_000,
                                                           zone=BERLIN)]
    data = table(events)
    summaries = stored(DETECTOR, data)
    dst = [s for s in summaries if s.day == dt.date(2024, 3, 31)]
    assert {s.fields["day_ms"] for s in dst} == {23 * 3_600_000}
    found = DETECTOR.detect(summaries, window[-1], OPTIONS)
    assert_agree(found, DETECTOR.detect_raw(data, window[-1], OPTIONS))
    assert [p.key for p in found] == ["switch.a>switch.b"]
    assert found[0].evidence["median_gap_s"] == 60.0
    assert found[0].evidence["days_observed"] == 28


def test_summaries_round_trip_and_equal_the_raw_batch() -> None:
    window = days(30)
    rng = np.random.default_rng(4)
    events = visits(window, 3, seed=5, light_share=0.8)
    events += [e for e in visits(window, 2, seed=6) if e.ts_ms < at(window[12], 0)]
    events += [ha("light.new", at(d, 7, 0)) for d in window[20:]]
    events += [ha("switch.coffee", at(d, 7, 2)) for d in window[20:]]  # appears late
    events += noise(rng, window, ["cam1", "light.hall", "sensor.x"], 10)
    empty_day = at(window[9], 0) // 86_400_000
    data = table(e for e in events if e.ts_ms // 86_400_000 != empty_day)
    summaries = stored(DETECTOR, data, extra_days=window)
    assert not [s for s in summaries if s.day == window[9]]
    for options in (OPTIONS, DetectOptions(min_confidence=0.0, min_days=1),
                    DetectOptions(co_window_s=90), DetectOptions(co_window_s=1800),
                    DetectOptions(window_days=8, min_days=3)):
        assert_agree(DETECTOR.detect(summaries, window[-1], options),
                     DETECTOR.detect_raw(data, window[-1], options))
    found = DETECTOR.detect(summaries, window[-1], OPTIONS)
    assert "light.new>switch.coffee" in [p.key for p in found]
    late = next(p for p in found if p.key == "light.new>switch.coffee")
    assert late.first_seen == window[20] and late.confidence == 1.0


def test_summary_fields() -> None:
    day = days(1)[0]
    events = [detection("cam1", at(day, 0, m)) for m in (0.0, 0.5, 2.0, 1439.5)]
    summary = DETECTOR.summarize(day, table(events))
    assert summary == {"cam1:person": {"starts": [0, 120_000, 86_370_000],
                                       "day_ms": 86_400_000, "activations": 4}}
    assert DETECTOR.summarize(day, empty_table()) == {}


def test_empty_inputs_give_nothing() -> None:
    end = days(1)[0]
    assert DETECTOR.detect([], end, OPTIONS) == []
    assert DETECTOR.detect_raw(empty_table(), end, OPTIONS) == []
    assert DETECTOR.summarize(end, empty_table()) == {}


def test_sources_in_two_zones_are_compared_in_real_time() -> None:
    window = days(21)
    york = "America/New_York"
    rng = np.random.default_rng(13)
    events = noise(rng, window, ["light.a", "cam1"], 6, BERLIN)
    events += noise(rng, window, ["light.ny", "cam.ny"], 6, york)
    for day in window:  # late in New York: the next morning in Berlin
        events += [ha("light.x", at(day, 23, 57, york), zone=york),
                   ha("light.y", at(day, 23, 58.5, york), zone=york)]
    from_summaries, from_raw = both(events, window[-1])
    assert_agree(from_summaries, from_raw)
    assert [p.key for p in from_raw] == ["light.x>light.y"]
    assert from_raw[0].evidence["median_gap_s"] == 90.0


# -- the candidate bound: detection equals the all-pairs count it replaced ---------------------
def _brute_force(summaries: list[DaySummary], end: dt.date, options: DetectOptions
                 ) -> list[Pattern]:
    """Detection as an all-pairs count: every item against every start, no bound."""
    start, _ = window_days(end, options.window_days)
    day_ms = np.ones(options.window_days, dtype=np.int64)
    for summary in summaries:
        if start <= summary.day <= end:
            day_ms[(summary.day - start).days] = int(summary.fields["day_ms"])
    starts = sequence._Starts.of(*summary_lists(summaries, start, end, "starts"), day_ms)
    size, window_ms = len(starts.names), options.co_window_s * 1000
    occurrences = np.zeros((size, options.window_days))
    np.add.at(occurrences, (starts.item, starts.day), 1.0)
    expected = occurrences @ (sequence._cover(starts, window_ms) / starts.day_ms).T
    total = occurrences.sum(axis=1)
    limits = sequence._limits(starts.key, window_ms)
    pairs = {}
    for b in range(size):
        ok, nxt = starts.follow(starts.key, limits, b)
        ok &= starts.item != b
        for a in range(size):
            rows = ok & (starts.item == a)
            pair = sequence._Pair(a, b, int(rows.sum()), float(expected[a, b]),
                                  np.unique(starts.day[rows]), nxt[rows] - starts.key[rows])
            if pair.followed and sequence._frequent(pair, total[a], options):
                pairs[(a, b)] = pair
    found = [sequence._pair_pattern(starts, p, total[p.a], start, options)
             for p in pairs.values()]
    found += sequence._triples(starts, pairs, total, start, options)
    return sorted(found, key=lambda p: p.key)


def _random_summaries(seed: int, items: int, day_count: int, per_day: int, follow: float
                      ) -> list[DaySummary]:
    """Random starts (item 1 follows item 0 within minutes in ``follow`` of its starts;
    some days 23 or 25 hours long; starts may be closer than a minute)."""
    rng = np.random.default_rng(seed)
    found = []
    for day in days(day_count):
        length = int(rng.choice([23, 24, 24, 25])) * 3_600_000
        offsets = {i: list(rng.integers(0, length, rng.poisson(per_day))) for i in range(items)}
        offsets[1] += [min(length - 1, int(o + rng.integers(1, 400_000)))
                       for o in offsets[0] if rng.random() < follow]
        for i, values in offsets.items():
            if values:
                found.append(DaySummary(day, f"item.{i:02d}",
                                        {"starts": sorted(int(v) for v in values),
                                         "day_ms": length, "activations": len(values)}))
    return found


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), items=st.integers(2, 7), day_count=st.integers(1, 9),
       per_day=st.integers(0, 30), follow=st.floats(0.0, 1.0),
       window_s=st.sampled_from([0, 30, 90, 300, 1800]),
       min_confidence=st.sampled_from([0.0, 0.3, 0.5]), min_days=st.integers(1, 4))
def test_detection_equals_the_all_pairs_count(seed: int, items: int, day_count: int,
                                              per_day: int, follow: float, window_s: int,
                                              min_confidence: float, min_days: int) -> None:
    summaries = _random_summaries(seed, items, day_count, per_day, follow)
    end = days(day_count)[-1]
    options = DetectOptions(window_days=day_count, co_window_s=window_s,
                            min_confidence=min_confidence, min_days=min_days)
    assert DETECTOR.detect(summaries, end, options) == _brute_force(summaries, end, options)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), items=st.integers(2, 6), day_count=st.integers(1, 6),
       per_day=st.integers(0, 60), window_s=st.sampled_from([0, 45, 300, 3600]))
def test_the_bound_is_never_below_the_count(seed: int, items: int, day_count: int,
                                            per_day: int, window_s: int) -> None:
    summaries = _random_summaries(seed, items, day_count, per_day, 0.7)
    start, end = days(day_count)[0], days(day_count)[-1]
    day_ms = np.full(day_count, 86_400_000, dtype=np.int64)
    starts = sequence._Starts.of(*summary_lists(summaries, start, end, "starts"), day_ms)
    limits = sequence._limits(starts.key, window_s * 1000)
    bound = sequence._followed_bound(starts, window_s * 1000)
    pairs = np.array([(a, b) for a in range(len(starts.names)) for b in range(len(starts.names))],
                     dtype=np.int64).reshape(-1, 2)
    counted = sequence._followed(starts, limits, pairs, window_s * 1000)
    for (a, b), followed in zip(pairs.tolist(), counted.tolist(), strict=True):
        ok, _ = starts.follow(starts.key[starts.rows(a)], limits[starts.rows(a)], b)
        assert followed == int(ok.sum())
        assert bound[a, b] >= followed


def test_starts_in_any_order_give_the_same_sequences() -> None:
    summaries = _random_summaries(7, 5, 6, 20, 0.9)
    end = days(6)[-1]
    options = DetectOptions(window_days=6, min_days=2)
    shuffled = [DaySummary(s.day, s.entity, {**s.fields, "starts": s.fields["starts"][::-1]})
                for s in reversed(summaries)]
    found = DETECTOR.detect(summaries, end, options)
    assert found and DETECTOR.detect(shuffled, end, options) == found
