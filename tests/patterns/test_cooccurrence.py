"""Co-occurrence: planted pairs found with their numbers, noise not, both paths agree."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.patterns import cooccurrence
from vigil.patterns.base import DaySummary, DetectOptions, Pattern, PatternDetector
from vigil.patterns.circular import window_days
from vigil.patterns.cooccurrence import DETECTOR, decode_bitmap, encode_bitmap, window_minutes

from .builders import Ev, assert_agree, at, days, detection, empty_table, ha, noise, stored, table

BERLIN = "Europe/Berlin"
OPTIONS = DetectOptions()


def together(a: str, b: str, day_list: list[dt.date], per_day: int, gap_min: tuple[float, float],
             seed: int, share: float = 1.0, zone: str = "UTC") -> list[Ev]:
    """``a`` at random times, ``b`` following ``gap_min`` minutes later (``share`` of the
    times); each switched off 10 minutes later."""
    rng = np.random.default_rng(seed)
    found: list[Ev] = []
    for day in day_list:
        for minute in rng.uniform(0, 1380, per_day):
            found += [ha(a, at(day, 0, minute, zone), zone=zone),
                      ha(a, at(day, 0, minute + 10, zone), "off", zone=zone)]
            if rng.random() < share:
                later = minute + rng.uniform(*gap_min)
                found += [ha(b, at(day, 0, later, zone), zone=zone),
                          ha(b, at(day, 0, later + 10, zone), "off", zone=zone)]
    return found


def both(events: list[Ev], end: dt.date, options: DetectOptions = OPTIONS
         ) -> tuple[list[Pattern], list[Pattern]]:
    """Patterns from the stored summaries and from the raw batch."""
    data = table(events)
    return DETECTOR.detect(stored(DETECTOR, data), end, options), DETECTOR.detect_raw(
        data, end, options)


def test_is_a_pattern_detector() -> None:
    assert isinstance(DETECTOR, PatternDetector)
    assert DETECTOR.name == "cooccurrence"


def test_planted_pair_is_found_with_its_numbers() -> None:
    window = days(30)
    events = together("light.kitchen", "switch.coffee", window[2:], 3, (0.5, 3), seed=1)
    events += noise(np.random.default_rng(2), window, ["cam1", "cam2", "light.hall"], 8)
    from_summaries, from_raw = both(events, window[-1])
    assert_agree(from_summaries, from_raw)
    assert [p.key for p in from_raw] == ["light.kitchen|switch.coffee"]
    found = from_raw[0]
    assert found.entities == ("light.kitchen", "switch.coffee")
    assert found.evidence["days_observed"] == 28
    assert found.evidence["confidence_a_b"] >= 0.95
    assert found.evidence["lift"] >= 10
    assert found.evidence["together_a_b"] <= found.evidence["minutes_a"] == 84
    assert found.confidence >= 0.95
    assert (found.first_seen, found.last_seen) == (window[2], window[-1])
    assert "within 5 min" in found.description


def test_confidence_follows_the_share_of_joint_use() -> None:
    window = days(30)
    events = together("light.desk", "switch.pc", window, 2, (1, 2), seed=3, share=0.7)
    from_raw = DETECTOR.detect_raw(table(events), window[-1], OPTIONS)
    assert len(from_raw) == 1
    # switch.pc always has the desk light near; the light has the pc near about 70 %.
    assert from_raw[0].evidence["confidence_b_a"] == 1.0
    assert 0.55 <= from_raw[0].evidence["confidence_a_b"] <= 0.85
    assert from_raw[0].confidence == 1.0


@pytest.mark.parametrize("seed", [20, 21, 22])
def test_independent_random_items_are_not_paired(seed: int) -> None:
    window = days(30)
    rng = np.random.default_rng(seed)
    events = noise(rng, window, ["cam1", "cam2", "light.a", "switch.b", "sensor.c"], 6)
    events += noise(rng, window, ["cam.busy"], 120)
    assert both(events, window[-1]) == ([], [])


def test_busy_item_near_everything_is_not_a_pair() -> None:
    window = days(20)
    events = [detection("cam.street", at(day, 0, m)) for day in window
              for m in range(0, 1440, 4)]
    events += noise(np.random.default_rng(4), window, ["light.porch"], 3)
    from_summaries, from_raw = both(events, window[-1],
                                    DetectOptions(min_confidence=0.0, min_days=1))
    assert from_summaries == from_raw == []


def test_window_decides_what_is_together() -> None:
    window = days(20)
    events = together("light.a", "light.b", window, 2, (9, 11), seed=5)
    data = table(events)
    summaries = stored(DETECTOR, data)
    for seconds, expected in ((300, []), (900, ["light.a|light.b"])):
        options = DetectOptions(co_window_s=seconds)
        from_summaries = DETECTOR.detect(summaries, window[-1], options)
        assert [p.key for p in from_summaries] == expected
        assert_agree(from_summaries, DETECTOR.detect_raw(data, window[-1], options))


def test_summaries_round_trip_and_equal_the_raw_batch() -> None:
    window = days(30)
    rng = np.random.default_rng(6)
    events = together("light.kitchen", "switch.coffee", window, 3, (0, 4), seed=7, share=0.8)
    events += together("light.tv", "media.tv", window[:14], 2, (0, 2), seed=8)  # vanishes
    events += together("light.bath", "fan.bath", window[16:], 2, (1, 5), seed=9)  # appears
    events += noise(rng, window, ["cam1", "light.hall", "sensor.x"], 10)
    empty_day = at(window[20], 0) // 86_400_000
    data = table(e for e in events if e.ts_ms // 86_400_000 != empty_day)
    summaries = stored(DETECTOR, data, extra_days=window)
    assert not [s for s in summaries if s.day == window[20]]
    for options in (OPTIONS, DetectOptions(min_confidence=0.0, min_days=1),
                    DetectOptions(co_window_s=60), DetectOptions(co_window_s=1800),
                    DetectOptions(window_days=7, min_days=3)):
        assert_agree(DETECTOR.detect(summaries, window[-1], options),
                     DETECTOR.detect_raw(data, window[-1], options))
    found = DETECTOR.detect(summaries, window[-1], OPTIONS)
    assert [p.key for p in found] == ["fan.bath|light.bath", "light.kitchen|switch.coffee",
                                      "light.tv|media.tv"]
    assert found[0].first_seen == window[16] and found[2].last_seen == window[13]


def test_dst_day_counts_its_real_minutes() -> None:
    window = days(28, dt.date(2024, 10, 13))  # 2024-10-27 has 25 hours in Berlin
    events = together("light.a", "switch.b", window, 3, (0, 3), seed=10, zone=BERLIN)
    events += noise(np.random.default_rng(11), window, ["cam1"], 5, BERLIN)
    data = table(events)
    summaries = stored(DETECTOR, data)
    long_day = [s for s in summaries if s.day == dt.date(2024, 10, 27)]
    assert {s.fields["day_minutes"] for s in long_day} == {1500}
    assert {s.fields["day_minutes"] for s in summaries if s.day == window[0]} == {1440}
    from_summaries = DETECTOR.detect(summaries, window[-1], OPTIONS)
    assert_agree(from_summaries, DETECTOR.detect_raw(data, window[-1], OPTIONS))
    assert [p.key for p in from_summaries] == ["light.a|switch.b"]
    assert from_summaries[0].evidence["days_observed"] == 28


def test_summary_is_a_small_bitmap() -> None:
    day = days(1)[0]
    events = [detection("cam1", at(day, 0, m)) for m in (0, 0.5, 61, 1439.9)]
    summary = DETECTOR.summarize(day, table(events))
    fields = summary["cam1:person"]
    assert (fields["active_minutes"], fields["activations"], fields["day_minutes"]) == (3, 4,
                                                                                      1440)
    bits = decode_bitmap(fields["active"], 1440)
    assert np.flatnonzero(bits).tolist() == [0, 61, 1439]
    assert len(fields["active"]) <= 244
    assert DETECTOR.summarize(day, empty_table()) == {}


def test_bitmap_round_trip() -> None:
    rng = np.random.default_rng(12)
    for size in (1, 7, 1380, 1440, 1500):
        bits = rng.random(size) < 0.3
        assert (decode_bitmap(encode_bitmap(bits), size) == bits).all()


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
    assert [p.key for p in from_raw] == ["light.x|light.y"]


# -- the bound and the exact counts: detection equals the dense all-pairs count ---------------
def _dense(summaries: list[DaySummary], end: dt.date, options: DetectOptions
           ) -> list[Pattern]:
    """Detection as dense day-by-day matrices of every pair, no bound."""
    start, _ = window_days(end, options.window_days)
    mine = [s for s in summaries if start <= s.day <= end and "active" in s.fields]
    names = sorted({s.entity for s in mine})
    counts = cooccurrence._Counts.empty(len(names))
    reach = window_minutes(options.co_window_s)
    for day in sorted({s.day for s in mine}):
        found = [s for s in mine if s.day == day]
        size = max(int(s.fields["day_minutes"]) for s in found)
        codes = np.asarray([names.index(s.entity) for s in found])
        presence = np.stack([decode_bitmap(str(s.fields["active"]), size) for s in found])
        sums = np.cumsum(np.pad(presence, ((0, 0), (reach + 1, reach))), axis=1)
        near = (sums[:, 2 * reach + 1:] - sums[:, :-(2 * reach + 1)]) > 0
        minutes = presence.sum(axis=1).astype(np.float64)
        together = (presence[:, None, :] & near[None, :, :]).sum(axis=2).astype(np.float64)
        cell = np.ix_(codes, codes)
        counts.minutes[codes] += minutes
        counts.together[cell] += together
        counts.expected[cell] += np.outer(minutes, near.sum(axis=1).astype(np.float64)) / size
        met = together > 0
        counts.days[cell] += met
        day_no = (day - start).days
        counts.first[cell] = np.where(met, np.minimum(counts.first[cell], day_no),
                                      counts.first[cell])
        counts.last[cell] = np.where(met, np.maximum(counts.last[cell], day_no),
                                     counts.last[cell])
    patterns = [cooccurrence._pair(names, counts, a, b, start, options)
                for a in range(len(names)) for b in range(a + 1, len(names))
                if counts.days[a, b] >= max(1, options.min_days)]
    return sorted((p for p in patterns if p is not None), key=lambda p: p.key)


def _random_bitmaps(seed: int, items: int, day_count: int, density: float, share: float,
                    follower_only: bool = False) -> list[DaySummary]:
    """Random active minutes; item 1 active a few minutes after item 0 in ``share`` of its
    minutes (and at no other time when ``follower_only``); some days 1380 or 1500 minutes
    long, some items missing some days."""
    rng = np.random.default_rng(seed)
    found = []
    for day in days(day_count):
        size = int(rng.choice([1380, 1440, 1440, 1500]))
        bits = rng.random((items, size)) < density * rng.random((items, 1))
        if follower_only:
            bits[1] = False
        lead = np.flatnonzero(bits[0])
        chosen = lead[rng.random(len(lead)) < share]
        bits[1, np.minimum(size - 1, chosen + rng.integers(0, 8, len(chosen)))] = True
        for i in range(items):
            if bits[i].any() and rng.random() < 0.9:
                found.append(DaySummary(day, f"item.{i:02d}", {
                    "day_minutes": size, "active": encode_bitmap(bits[i]),
                    "active_minutes": int(bits[i].sum()), "activations": int(bits[i].sum())}))
    return found


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), items=st.integers(2, 7), day_count=st.integers(1, 8),
       density=st.floats(0.0, 0.2), share=st.floats(0.0, 1.0), follower_only=st.booleans(),
       window_s=st.sampled_from([0, 60, 300, 900, 3600]),
       min_confidence=st.sampled_from([0.0, 0.3, 0.5]), min_days=st.integers(1, 4))
def test_detection_equals_the_dense_count(seed: int, items: int, day_count: int,
                                          density: float, share: float, follower_only: bool,
                                          window_s: int, min_confidence: float,
                                          min_days: int) -> None:
    summaries = _random_bitmaps(seed, items, day_count, density, share, follower_only)
    end = days(day_count)[-1]
    options = DetectOptions(window_days=day_count, co_window_s=window_s,
                            min_confidence=min_confidence, min_days=min_days)
    assert DETECTOR.detect(summaries, end, options) == _dense(summaries, end, options)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), items=st.integers(2, 6), day_count=st.integers(1, 5),
       density=st.floats(0.0, 0.5), reach=st.integers(1, 40))
def test_the_bound_is_never_below_the_count(seed: int, items: int, day_count: int,
                                            density: float, reach: int) -> None:
    summaries = _random_bitmaps(seed, items, day_count, density, 0.5)
    names = sorted({s.entity for s in summaries})
    bound = cooccurrence._Bound(len(names), day_count, 1500, reach)
    exact = np.zeros((len(names), len(names)))
    for day in days(day_count):
        found = [s for s in summaries if s.day == day]
        if not found:
            continue
        size = max(int(s.fields["day_minutes"]) for s in found)
        codes = np.asarray([names.index(s.entity) for s in found], dtype=np.int64)
        presence = cooccurrence._presence([str(s.fields["active"]) for s in found], size)
        assert (presence == np.stack([decode_bitmap(str(s.fields["active"]), size)
                                      for s in found])).all()
        near = cooccurrence._dilate(presence, reach)
        bound.add(codes, presence, near)
        exact[np.ix_(codes, codes)] += (presence[:, None, :] & near[None, :, :]).sum(axis=2)
    assert (bound.together() >= exact).all()


@settings(max_examples=50, deadline=None)
@given(rows=st.integers(1, 4), size=st.integers(1, 200), reach=st.integers(0, 70),
       seed=st.integers(0, 2**32 - 1), density=st.floats(0.0, 1.0))
def test_dilation_is_the_window_sum(rows: int, size: int, reach: int, seed: int,
                                    density: float) -> None:
    presence = np.random.default_rng(seed).random((rows, size)) < density
    sums = np.cumsum(np.pad(presence, ((0, 0), (reach + 1, reach))), axis=1)
    expected = (sums[:, 2 * reach + 1:] - sums[:, :-(2 * reach + 1)]) > 0
    assert (cooccurrence._dilate(presence, reach) == expected).all()


def test_bitmaps_of_different_lengths_in_one_day() -> None:
    day = days(1)[0]
    bits = np.zeros(1500, dtype=bool)
    bits[[3, 700, 1499]] = True
    short = bits[:1380]
    summaries = [DaySummary(day, "a", {"day_minutes": 1500, "active": encode_bitmap(bits)}),
                 DaySummary(day, "b", {"day_minutes": 1380, "active": encode_bitmap(short)})]
    presence = cooccurrence._presence([str(s.fields["active"]) for s in summaries], 1500)
    assert np.flatnonzero(presence[0]).tolist() == [3, 700, 1499]
    assert np.flatnonzero(presence[1]).tolist() == [3, 700]
    options = DetectOptions(window_days=1, min_days=1, min_confidence=0.0)
    assert DETECTOR.detect(summaries, day, options) == _dense(summaries, day, options)


def test_a_rare_follower_is_paired_through_its_own_direction() -> None:
    summaries = _random_bitmaps(1, 4, 10, 0.03, 0.2, follower_only=True)
    end = days(10)[-1]
    found = DETECTOR.detect(summaries, end, DetectOptions(window_days=10))
    assert found == _dense(summaries, end, DetectOptions(window_days=10))
    [pair] = [p for p in found if p.key == "item.00|item.01"]
    assert pair.evidence["confidence_b_a"] >= 0.7 > 0.5 > 0.2 > pair.evidence["confidence_a_b"]
