"""Durations: planted durations found, random ones not, open spans counted, paths agree."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from vigil.patterns.base import DetectOptions, Pattern, PatternDetector
from vigil.patterns.duration import DETECTOR, bin_seconds, duration_bins, spans_of

from .builders import Ev, assert_agree, at, days, empty_table, entry, exit_, ha, stored, table

BERLIN = "Europe/Berlin"
OPTIONS = DetectOptions()
ANY = DetectOptions(min_confidence=0.0, min_days=1)


def runs(entity: str, day_list: list[dt.date], per_day: int, minutes: float, sd: float,
         seed: int, state: str = "on", zone: str = "UTC") -> list[Ev]:
    """``entity`` on ``per_day`` times a day for about ``minutes`` (normal, ``sd``)."""
    rng = np.random.default_rng(seed)
    found: list[Ev] = []
    for day in day_list:
        for k in range(per_day):
            begin = 60 + k * (1200 / per_day) + rng.uniform(0, 60)
            length = max(0.5, minutes + rng.normal(0, sd))
            found += [ha(entity, at(day, 0, begin, zone), state, "off", zone),
                      ha(entity, at(day, 0, begin + length, zone), "off", state, zone)]
    return found


def both(events: list[Ev], end: dt.date, options: DetectOptions = OPTIONS
         ) -> tuple[list[Pattern], list[Pattern]]:
    """Patterns from the stored summaries and from the raw batch."""
    data = table(events)
    return DETECTOR.detect(stored(DETECTOR, data), end, options), DETECTOR.detect_raw(
        data, end, options)


def test_is_a_pattern_detector() -> None:
    assert isinstance(DETECTOR, PatternDetector)
    assert DETECTOR.name == "duration"


def test_heater_runs_35_minutes_and_the_long_run_is_listed() -> None:
    window = days(30)
    events = runs("climate.heater", window, 3, 35, 3, seed=1, state="heat")
    outlier = at(window[10], 17, 0)
    events += [ha("climate.heater", outlier, "heat", "off"),
               ha("climate.heater", outlier + 200 * 60_000, "off", "heat")]
    from_summaries, from_raw = both(events, window[-1])
    assert_agree(from_summaries, from_raw)
    assert [p.key for p in from_raw] == ["climate.heater"]
    found = from_raw[0]
    assert found.evidence["median_s"] == pytest.approx(35 * 60, rel=0.04)
    assert found.evidence["p10_s"] >= 29 * 60 and found.evidence["p90_s"] <= 41 * 60
    assert found.evidence["spans"] == 91 and found.evidence["days_observed"] == 30
    assert found.evidence["unusual"] == 1
    assert found.evidence["longest_unusual"] == [
        {"start": dt.datetime.fromtimestamp(outlier / 1000, dt.UTC).isoformat(),
         "seconds": 12000.0}]
    assert found.confidence >= 0.8
    assert "about 35 min" in found.description or "about 34 min" in found.description
    assert from_summaries[0].evidence == found.evidence


def test_random_durations_are_not_a_pattern() -> None:
    window = days(30)
    rng = np.random.default_rng(2)
    events: list[Ev] = []
    for day in window:
        for begin in np.sort(rng.uniform(0, 1300, 6)):
            length = rng.exponential(20)
            events += [ha("light.random", at(day, 0, begin)),
                       ha("light.random", at(day, 0, begin + length), "off")]
        for k in range(4):
            begin = k * 300 + rng.uniform(0, 100)
            events += [ha("switch.any", at(day, 0, begin)),
                       ha("switch.any", at(day, 0, begin + rng.uniform(1, 180)), "off")]
    from_summaries, from_raw = both(events, window[-1])
    assert from_summaries == from_raw == []
    low = DETECTOR.detect_raw(table(events), window[-1], ANY)
    assert [p.key for p in low] == ["light.random", "switch.any"]
    assert max(p.confidence for p in low) < 0.3


def test_span_open_at_the_end_of_its_day_is_counted_open_not_guessed() -> None:
    window = days(10)
    events = runs("light.desk", window, 1, 45, 2, seed=3)
    for day in window:  # on at 23:00, off at 01:00 the next day
        events += [ha("light.desk", at(day, 23, 0)), ha("light.desk", at(day, 25, 0), "off")]
    data = table(events)
    summaries = stored(DETECTOR, data)
    assert {(s.fields["spans"], s.fields["open"]) for s in summaries} == {(1, 1)}
    from_summaries = DETECTOR.detect(summaries, window[-1], ANY)
    assert_agree(from_summaries, DETECTOR.detect_raw(data, window[-1], ANY))
    found = from_summaries[0]
    assert (found.evidence["spans"], found.evidence["open"]) == (10, 10)
    assert found.evidence["median_s"] == pytest.approx(45 * 60, rel=0.05)
    assert found.evidence["unusual"] == 0  # the 2-hour spans were never measured
    # half the spans are open: the confidence is halved
    closed_only = DETECTOR.detect_raw(table(runs("light.desk", window, 1, 45, 2, seed=3)),
                                      window[-1], ANY)[0]
    assert found.confidence == pytest.approx(closed_only.confidence / 2, abs=1e-3)


def test_attribute_updates_and_yesterdays_span_do_not_start_spans() -> None:
    day = days(1)[0]
    events = [
        ha("light.a", at(day, 0, 10), "off", "on"),  # ends yesterday's span: ignored
        ha("light.a", at(day, 8, 0), "on", "off"),
        ha("light.a", at(day, 8, 5), "on", "on"),  # attribute update: continues
        ha("light.a", at(day, 8, 20), "off", "on"),
        ha("light.b", at(day, 6, 0), "on", "on"),  # still on since yesterday
        ha("light.b", at(day, 6, 30), "off", "on"),
        ha("light.b", at(day, 9, 0), "ON", None),  # states in any case, no old state
        ha("light.b", at(day, 9, 1), "unavailable", "on"),
    ]
    summary = DETECTOR.summarize(day, table(events))
    assert summary["light.a"]["spans"] == 1
    assert summary["light.a"]["total_ms"] == 20 * 60_000
    assert summary["light.b"]["spans"] == 1
    assert summary["light.b"]["longest"] == [[at(day, 9, 0), 60_000]]


def test_visits_pair_entry_and_exit_of_one_subject() -> None:
    day = days(1)[0]
    events = [
        entry("cam.shop", at(day, 9, 0), "p1"), exit_("cam.shop", at(day, 9, 12), "p1"),
        entry("cam.shop", at(day, 9, 1), "p2"), exit_("cam.shop", at(day, 9, 3), "p2"),
        entry("cam.shop", at(day, 10, 0), "p3"), entry("cam.shop", at(day, 10, 5), "p3"),
        exit_("cam.shop", at(day, 10, 9), "p3"),  # first p3 entry superseded
        entry("cam.shop", at(day, 11, 0), "p4"), exit_("cam.shop", at(day, 11, 30), "p4"),
        entry("cam.shop", at(day, 11, 30), "p4"),  # left and came back at one instant
        exit_("cam.shop", at(day, 12, 0), "p5"),  # orphan exit: nothing
        entry("cam.shop", at(day, 23, 0), "p6"),  # open at the end of the day
    ]
    fields = DETECTOR.summarize(day, table(events))["cam.shop:entry"]
    assert (fields["spans"], fields["open"], fields["superseded"]) == (4, 2, 1)
    assert fields["total_ms"] == (12 + 2 + 4 + 30) * 60_000
    spans = spans_of(table(events))
    assert sorted(spans.duration_ms[spans.status == 0].tolist()) == [
        m * 60_000 for m in (2, 4, 12, 30)]


def test_visit_durations_become_a_pattern() -> None:
    window = days(20)
    rng = np.random.default_rng(4)
    events: list[Ev] = []
    for i, day in enumerate(window):
        for k in range(5):
            begin = rng.uniform(0, 1300)
            events += [entry("cam.door", at(day, 0, begin), f"s{i}-{k}"),
                       exit_("cam.door", at(day, 0, begin + rng.uniform(11, 13)), f"s{i}-{k}")]
    from_summaries, from_raw = both(events, window[-1])
    assert_agree(from_summaries, from_raw)
    assert [p.key for p in from_raw] == ["cam.door:entry"]
    assert from_raw[0].evidence["median_s"] == pytest.approx(12 * 60, rel=0.05)
    assert from_raw[0].description.startswith("visits at cam.door last about 12 min")


def test_span_over_the_dst_change_is_real_time() -> None:
    day = dt.date(2024, 10, 27)  # Berlin: 03:00 CEST -> 02:00 CET
    start = int(dt.datetime(2024, 10, 27, 0, 30, tzinfo=dt.UTC).timestamp() * 1000)  # 02:30
    events = [ha("switch.pump", start, zone=BERLIN),
              ha("switch.pump", start + 3_600_000, "off", zone=BERLIN)]  # 02:30 again
    summary = DETECTOR.summarize(day, table(events))
    assert summary["switch.pump"]["total_ms"] == 3_600_000


def test_summaries_round_trip_and_equal_the_raw_batch() -> None:
    window = days(30)
    events = runs("climate.heater", window, 3, 35, 4, seed=5, state="heat")
    events += runs("switch.pump", window[:11], 4, 8, 0.5, seed=6)  # vanishes
    events += runs("light.porch", window[19:], 1, 240, 20, seed=7)  # appears
    events += runs("light.random", window, 5, 20, 15, seed=8)
    for day in window[::3]:
        events += [ha("light.garage", at(day, 23, 30)), entry("cam.x", at(day, 12, 0), "a")]
    empty_day = at(window[5], 0) // 86_400_000
    data = table(e for e in events if e.ts_ms // 86_400_000 != empty_day)
    summaries = stored(DETECTOR, data, extra_days=window)
    assert not [s for s in summaries if s.day == window[5]]
    for options in (OPTIONS, ANY, DetectOptions(window_days=9, min_days=3)):
        assert_agree(DETECTOR.detect(summaries, window[-1], options),
                     DETECTOR.detect_raw(data, window[-1], options))
    found = DETECTOR.detect(summaries, window[-1], OPTIONS)
    assert [p.key for p in found] == ["climate.heater", "light.porch", "switch.pump"]
    assert found[1].first_seen == window[19] and found[2].last_seen == window[10]
    for mine, theirs in zip(found, DETECTOR.detect_raw(data, window[-1], OPTIONS),
                            strict=True):
        assert mine.evidence == theirs.evidence


def test_bins_are_about_two_percent_wide() -> None:
    seconds = np.asarray([1, 2, 59, 60, 61, 2100, 3600, 86_400], dtype=np.float64)
    centres = bin_seconds(duration_bins(seconds * 1000))
    assert np.all(np.abs(centres / seconds - 1) <= 0.012)
    assert duration_bins([0, 400, 1000]).tolist() == [0, 0, 0]
    assert DETECTOR.summarize(days(1)[0], empty_table()) == {}


def test_empty_inputs_give_nothing() -> None:
    end = days(1)[0]
    assert DETECTOR.detect([], end, OPTIONS) == []
    assert DETECTOR.detect_raw(empty_table(), end, OPTIONS) == []
    assert DETECTOR.summarize(end, empty_table()) == {}
