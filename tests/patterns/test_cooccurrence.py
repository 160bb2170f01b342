"""Co-occurrence: planted pairs found with their numbers, noise not, both paths agree."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from vigil.patterns.base import DetectOptions, Pattern, PatternDetector
from vigil.patterns.cooccurrence import DETECTOR, decode_bitmap, encode_bitmap

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
