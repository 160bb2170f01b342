"""``EventScorer``: exact rates and scores, novelty, warm-up, score-before-learning, properties."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.anomaly import EventScorer, EventScorerConfig, SeverityThresholds
from vigil.anomaly.events import HourlyCountRow

START = date(2024, 1, 1)  # Monday


def _daytime_scorer(weeks: int = 8) -> EventScorer:
    scorer = EventScorer()
    for offset in range(7 * weeks):
        for hour in range(8, 20):
            scorer.learn("cam", "person", 0, hour, local_date=START + timedelta(days=offset),
                         count=3)
    return scorer


def test_rate_follows_the_hierarchical_formula() -> None:
    # one label only: the source activity is the label's own counts (A = 2016 events)
    scorer = _daytime_scorer()
    flat = (2016 + 0.5) / (168 * 8)
    activity = (0 + 1.0 * flat) / (7 * 8 + 1.0)  # nothing at 03:00
    base = (2016 + 0.5) / (2016 + 0.5) * activity
    hod = (0 + 3.0 * base) / (7 * 8 + 3.0)
    expected = (0 + 8.0 * hod) / (8 + 8.0)
    assert math.isclose(scorer.rate("cam", "person", 1, 3), expected, rel_tol=1e-12)
    busy_activity = (168 + 1.0 * flat) / 57.0
    busy = (24 + 8.0 * (168 + 3.0 * busy_activity) / 59.0) / 16.0
    assert math.isclose(scorer.rate("cam", "person", 1, 12), busy, rel_tol=1e-12)


def test_a_rare_label_at_a_busy_hour_is_less_surprising_than_at_an_idle_hour() -> None:
    scorer = _daytime_scorer()
    for offset in range(0, 56, 7):  # a dog now and then, always at 09:00
        scorer.learn("cam", "dog", 0, 9, local_date=START + timedelta(days=offset))
    assert scorer.rate("cam", "dog", 1, 14) > 10 * scorer.rate("cam", "dog", 1, 3)


def _surprise(rate: float, rank: int = 1, decades: float = 8.0) -> float:
    below = sum(math.exp(-rate) * rate**i / math.factorial(i) for i in range(rank))
    tail = 1.0 - below if rate >= 1.0 else sum(
        math.exp(-rate) * rate**i / math.factorial(i) for i in range(rank, rank + 16))
    return min(1.0, -math.log10(tail) / decades)


def test_rare_time_result() -> None:
    result = _daytime_scorer().score("cam", "person", 1, 3, confidence=0.9)
    rate = result.components["rate_per_week"]
    assert isinstance(rate, float)
    assert result.type == "rare_time"
    assert math.isclose(result.score, _surprise(rate), rel_tol=1e-9)
    assert result.severity == "low"  # a single event at a dead hour: visible, not alerting
    assert result.explanation == (
        f"person at 03:00 on Tuesday; this camera sees person at that hour {rate:.2g} times a week")


def test_several_events_in_one_hour_are_more_surprising() -> None:
    scorer = _daytime_scorer()
    scores = [scorer.score("cam", "person", 1, 3, seen_in_hour=n).score for n in range(7)]
    assert scores == sorted(scores) and scores[0] < scores[1]
    assert scores[4] == scores[6]  # capped at hour_count_cap = 5
    assert scorer.score("cam", "person", 1, 3, seen_in_hour=2).severity == "high"


def test_busy_hour_is_not_flagged() -> None:
    result = _daytime_scorer().score("cam", "person", 1, 12, confidence=0.9)
    assert result.severity is None
    assert math.isclose(result.score,
                        _surprise(_daytime_scorer().rate("cam", "person", 1, 12)))
    assert result.score < 0.01


def test_novel_object() -> None:
    result = _daytime_scorer().score("cam", "horse", 2, 12, confidence=1.0)
    assert result.type == "novel_object" and result.components["novel"] is True
    assert result.severity == "high"
    assert result.explanation == (
        "horse at 12:00 on Wednesday; horse has never been seen at this camera")


def test_confidence_and_warmup_damp_the_score() -> None:
    scorer = _daytime_scorer()
    full = scorer.score("cam", "horse", 2, 12, 0.6).score  # confidence_full
    assert math.isclose(scorer.score("cam", "horse", 2, 12, 0.3).score, full / 2)
    young = _daytime_scorer(weeks=1)
    assert young.weeks_observed("cam") == 1.0
    assert young.score("cam", "horse", 2, 12).score == 0.5  # novel: surprise 1, evidence 1/2
    assert EventScorer().score("cam", "person", 0, 0).score == 0.0


def test_observe_does_not_learn_flagged_events_unless_configured() -> None:
    scorer = _daytime_scorer()
    before = scorer.rate("cam", "horse", 2, 12)
    assert scorer.observe("cam", "horse", 2, 12).severity == "high"
    # not learned (only counted as source activity): still novel, rate barely moved
    assert scorer.observe("cam", "horse", 2, 12).type == "novel_object"
    assert math.isclose(scorer.rate("cam", "horse", 2, 12), before, rel_tol=0.05)
    scorer.observe("cam", "person", 2, 12)  # normal: learned
    assert scorer.rate("cam", "person", 2, 12) > _daytime_scorer().rate("cam", "person", 2, 12)

    learning = EventScorer(EventScorerConfig(learn_from_anomalies=True))
    learning.observe_span("cam", START, START + timedelta(days=55))
    first = learning.observe("cam", "horse", 2, 12)
    assert first.type == "novel_object"
    assert learning.observe("cam", "horse", 2, 12).type == "rare_time"


def test_observe_scores_against_what_was_learned_before_the_hour() -> None:
    scorer = _daytime_scorer()
    day = START + timedelta(days=57)  # a Tuesday
    first = scorer.observe("cam", "person", 0, 3, 0.9, local_date=day)
    second = scorer.observe("cam", "person", 0, 3, 0.9, local_date=day)
    assert first.components["rate_per_week"] == second.components["rate_per_week"]
    assert second.components["seen_in_hour"] == 1 and second.score > first.score
    before = scorer.rate("cam", "person", 1, 3)
    scorer.flush()  # the hour's events count now (as activity; as person if not flagged)
    assert scorer.rate("cam", "person", 1, 3) > before


def test_from_hourly_counts_matches_learning() -> None:
    rows: list[HourlyCountRow] = [
        ("cam", "person", "2024-01-01", 9, 4), ("cam", "person", date(2024, 1, 14), 9, 2),
        ("cam", "car", "2024-01-09", 17, 1)]
    built = EventScorer.from_hourly_counts(rows)
    assert built.weeks_observed("cam") == 2.0
    manual = EventScorer()
    manual.observe_span("cam", START, date(2024, 1, 14))
    manual.learn("cam", "person", 0, 9, count=4)  # 2024-01-01 is a Monday
    manual.learn("cam", "person", 6, 9, count=2)  # 2024-01-14 is a Sunday
    manual.learn("cam", "car", 1, 17)
    for args in [("person", 0, 9), ("person", 6, 9), ("car", 1, 17), ("dog", 3, 3)]:
        assert built.rate("cam", *args) == manual.rate("cam", *args)


def test_bad_inputs_raise() -> None:
    scorer = _daytime_scorer(1)
    with pytest.raises(ValueError):
        scorer.score("cam", "person", 7, 0)
    with pytest.raises(ValueError):
        scorer.score("cam", "person", 0, 24)
    with pytest.raises(ValueError):
        scorer.score("cam", "person", 0, 0, confidence=float("nan"))
    with pytest.raises(ValueError):
        SeverityThresholds(low=0.9, medium=0.8, high=0.95)


history = st.lists(st.tuples(st.sampled_from(["person", "car", "dog"]),
                             st.integers(0, 6), st.integers(0, 23), st.integers(1, 5)),
                   max_size=40)
slot = st.tuples(st.integers(0, 6), st.integers(0, 23))


def _scorer(events: list[tuple[str, int, int, int]], weeks: int) -> EventScorer:
    scorer = EventScorer()
    scorer.observe_span("cam", START, START + timedelta(days=7 * weeks - 1))
    for label, weekday, hour, count in events:
        scorer.learn("cam", label, weekday, hour, count=count)
    return scorer


@settings(max_examples=60)
@given(history, st.integers(0, 10), st.sampled_from(["person", "car", "dog", "horse"]), slot,
       st.floats(0.0, 1.0))
def test_score_in_unit_interval(events: list[tuple[str, int, int, int]], weeks: int,
                                label: str, where: tuple[int, int], conf: float) -> None:
    scorer = _scorer(events, weeks) if weeks else EventScorer()
    assert 0.0 <= scorer.score("cam", label, *where, confidence=conf).score <= 1.0


@settings(max_examples=60)
@given(history, st.integers(1, 10), slot, st.integers(0, 5), st.integers(0, 5))
def test_more_frequent_label_never_scores_higher(events: list[tuple[str, int, int, int]],
                                                 weeks: int, where: tuple[int, int],
                                                 rare: int, extra: int) -> None:
    background = [(lbl, d, h, c) for lbl, d, h, c in events if lbl == "person"]
    mirrored = background + [("car", d, h, c) for _, d, h, c in background]
    scorer = _scorer(mirrored, weeks)
    if rare:
        scorer.learn("cam", "person", *where, count=rare)
        scorer.learn("cam", "car", *where, count=rare)
    scorer.learn("cam", "car", *where, count=extra)
    assert scorer.score("cam", "car", *where).score <= scorer.score("cam", "person", *where).score


@settings(max_examples=60)
@given(history, st.integers(1, 10), st.sampled_from(["person", "horse"]), slot)
def test_learning_an_event_never_raises_its_own_score(
        events: list[tuple[str, int, int, int]], weeks: int, label: str,
        where: tuple[int, int]) -> None:
    scorer = _scorer(events, weeks)
    before = scorer.score("cam", label, *where).score
    scorer.learn("cam", label, *where)
    assert scorer.score("cam", label, *where).score <= before
