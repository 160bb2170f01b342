"""``VolumeScorer`` / ``VolumeMonitor``: spikes, accumulated silences, source silence, streams."""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.anomaly import (
    VolumeConfig,
    VolumeMonitor,
    VolumeScorer,
    hour_index,
    nb_cdf,
    nb_sf,
    surprise,
)

WEEK = 168


def _steady(counts_by_week: list[int], hours: int = WEEK) -> VolumeScorer:
    """A scorer whose every slot saw ``counts_by_week[w]`` in week ``w``."""
    scorer = VolumeScorer(name="cam/person")
    for week, count in enumerate(counts_by_week):
        for h in range(hours):
            scorer.learn(week * WEEK + h, count)
    return scorer


def test_hour_index_counts_from_a_monday() -> None:
    assert hour_index(datetime(1970, 1, 5, 0)) == 0
    assert hour_index(datetime(2024, 1, 2, 3)) % WEEK == 24 + 3
    assert hour_index(17) == 17


def test_expected_mean_and_variance() -> None:
    scorer = _steady([8, 10, 12, 10])
    assert scorer.expected(5) == (4, 10.0, 8 / 3)


def test_spike_uses_the_upper_tail() -> None:
    scorer = _steady([8, 10, 12, 10])
    result = scorer.score(4 * WEEK + 14, 50)
    weeks, mean, var = scorer.predictive(4 * WEEK + 14, "spike")
    assert (weeks, mean) == (4, 10.0) and var > 8 / 3  # widened: few weeks, rate may vary
    p = nb_sf(50, mean, var)
    assert result.type == "spike"
    assert result.components["p_value"] == p
    assert math.isclose(result.score, surprise(p, 10.0))
    assert result.severity == "high"
    assert "50 at 14:00 on Monday; usually 10" in result.explanation


def test_overdispersed_series_is_less_surprised() -> None:
    calm = _steady([10, 10, 10, 10, 11, 9])
    wild = _steady([2, 25, 5, 18, 1, 9])
    assert wild.score(14, 30).score < calm.score(14, 30).score
    assert wild.score(14, 30).components["p_value"] == nb_sf(30, *wild.predictive(14)[1:])


def test_pooling_never_makes_spikes_or_silences_more_eager() -> None:
    scorer = VolumeScorer()
    for week in range(3):  # busy weekends, quiet weekdays at noon
        for day in range(7):
            scorer.learn(week * WEEK + day * 24 + 12, 30 if day == 5 else 3)
    saturday = 3 * WEEK + 5 * 24 + 12
    assert scorer.predictive(saturday, "spike")[1] == 30.0
    assert scorer.predictive(saturday, "silence")[1] < 30.0
    assert scorer.predictive(3 * WEEK + 12, "spike")[1] == 3.0  # Monday: its own level
    assert scorer.predictive(3 * WEEK + 6 * 24 + 12, "spike")[1] > 3.0  # Sunday, pooled up


def test_normal_hours_and_young_slots_are_not_flagged() -> None:
    scorer = _steady([8, 10, 12, 10])
    assert scorer.score(3, 11).severity is None
    assert _steady([10]).score(3, 100).score == 0.0  # fewer than min_weeks


def test_quiet_hours_accumulate_into_a_silence() -> None:
    scorer = _steady([4, 5, 6, 5])
    _, mean, var = scorer.predictive(3, "silence")  # before the stream learns its first hour
    results = list(scorer.score_stream([(4 * WEEK + h, 0) for h in range(4)]))
    scores = [r.score for r in results]
    assert scores == sorted(scores) and scores[0] < scores[-1]
    assert results[0].severity is None  # one empty hour of mean 5 is not yet alarming
    last = results[-1]
    assert last.type == "silence" and last.components["run_hours"] == 4
    p = last.components["p_value"]
    assert isinstance(p, float)  # four hours of mean 5 each: P(S <= 0), S of mean 20
    assert mean == 5.0 and last.components["run_mean"] == 4 * mean
    assert p == nb_cdf(0, 4 * mean, 4 * var) and p < math.exp(-10)
    assert last.at_least("medium")
    assert last.explanation.startswith("cam/person: 0 in the 4 hour(s) up to 03:00 on Monday")


def test_a_normal_hour_ends_the_run() -> None:
    scorer = _steady([4, 5, 6, 5])
    results = list(scorer.score_stream([(4 * WEEK, 0), (4 * WEEK + 1, 0), (4 * WEEK + 2, 6),
                                        (4 * WEEK + 3, 0)]))
    assert [r.components["run_hours"] for r in results] == [1, 2, 1, 1]


def test_stream_gaps_are_zero_hours_and_time_must_advance() -> None:
    scorer = _steady([4, 5, 6, 5])
    results = list(scorer.score_stream([(4 * WEEK, 5), (4 * WEEK + 4, 5)]))
    assert [r.components["count"] for r in results] == [5, 0, 0, 0, 5]
    with pytest.raises(ValueError):
        scorer.observe(4 * WEEK + 4, 1)


def test_flagged_hours_are_not_learned_unless_configured() -> None:
    scorer = _steady([8, 10, 12, 10])
    before = scorer.expected(4 * WEEK + 1)
    scorer.observe(4 * WEEK + 1, 80)
    assert scorer.expected(4 * WEEK + 1) == before
    scorer.observe(4 * WEEK + 2, 10)
    assert scorer.expected(2)[0] == 5

    keen = VolumeScorer(VolumeConfig(learn_from_anomalies=True))
    for week in range(4):
        keen.learn(week * WEEK, 10)
    keen.observe(4 * WEEK, 80)
    assert keen.expected(0)[0] == 5


def test_source_silence_across_all_labels() -> None:
    monitor = VolumeMonitor()
    for week in range(4):
        for h in range(WEEK):
            monitor.observe_hour("cam", week * WEEK + h, {"person": 2, "car": 2})
    results = [r for h in range(4) for r in monitor.observe_hour("cam", 4 * WEEK + h, {})]
    total = [r for r in results if r.components["series"] == "cam/all"]
    assert [r.components["run_hours"] for r in total] == [1, 2, 3, 4]
    assert total[-1].at_least("medium")
    # a busy hour on one label is no source silence
    quiet = monitor.observe_hour("cam", 4 * WEEK + 4, {"person": 9})
    assert all(r.type == "spike" or r.severity is None
               for r in quiet if r.components["series"] == "cam/all")


@settings(max_examples=60)
@given(st.lists(st.integers(0, 40), min_size=3, max_size=8),
       st.lists(st.integers(0, 200), min_size=1, max_size=30))
def test_volume_scores_in_unit_interval(history: list[int], stream: list[int]) -> None:
    scorer = _steady(history, hours=30)
    for result in scorer.score_stream(enumerate(stream, start=len(history) * WEEK)):
        assert 0.0 <= result.score <= 1.0
        p = result.components["p_value"]
        assert isinstance(p, float) and 0.0 <= p <= 1.0
