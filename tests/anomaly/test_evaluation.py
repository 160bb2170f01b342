"""Evaluation on synthetic data: a camera with a daily rhythm, injected anomalies.

Eight weeks of hourly Poisson counts (seeded numpy RNG) for ``person`` (daytime peak) and
``car`` (commuting peaks) are learned; then two clean weeks are observed and must give at
most one alarm (severity >= medium) per week and scorer; then injected anomalies — people at
03:00, a novel label, a 5x spike hour and a 4-hour silence at a busy time — must each be
flagged with severity >= medium.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from vigil.anomaly import AnomalyResult, EventScorer, VolumeMonitor
from vigil.anomaly.detector import Detection
from vigil.anomaly.evaluate import TruthAnomaly, evaluate

START = date(2024, 1, 1)  # a Monday
HOURS = np.arange(24)
RATES = {
    "person": 6.0 * np.exp(-((HOURS - 13) ** 2) / (2 * 2.5**2)),
    "car": 2.5 * np.exp(-((HOURS - 8) ** 2) / 4.0) + 2.5 * np.exp(-((HOURS - 17) ** 2) / 4.0)
    + 0.4 * ((HOURS >= 7) & (HOURS <= 20)),
}
TRAIN_WEEKS, CLEAN_WEEKS = 8, 2


def _stamp(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


class World:
    """The trained scorers and the RNG, advanced hour by hour."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.events = EventScorer()
        self.volume = VolumeMonitor()

    def counts(self) -> dict[str, int]:
        return {label: 0 for label in RATES}

    def normal_counts(self, hour: int) -> dict[str, int]:
        return {label: int(self.rng.poisson(rate[hour])) for label, rate in RATES.items()}

    def hour(self, day: date, hour: int, counts: dict[str, int], *, train: bool,
             confidence: float | None = None) -> tuple[list[AnomalyResult], list[AnomalyResult]]:
        """Feed one hour to both scorers; returns (event alarms, volume alarms)."""
        event_alarms = []
        for label, count in counts.items():
            for _ in range(count):
                if train:
                    self.events.learn("cam", label, 0, hour, local_date=day)
                    continue
                conf = confidence or float(self.rng.uniform(0.7, 0.95))
                result = self.events.observe("cam", label, day.weekday(), hour, conf,
                                             local_date=day)
                if result.at_least("medium"):
                    event_alarms.append(result)
        volume = self.volume.observe_hour("cam", _stamp(day, hour), counts)
        return event_alarms, [r for r in volume if not train and r.at_least("medium")]


@pytest.fixture(scope="module")
def world() -> World:
    w = World(seed=20240101)
    for offset in range(TRAIN_WEEKS * 7):
        day = START + timedelta(days=offset)
        for hour in range(24):
            w.hour(day, hour, w.normal_counts(hour), train=True)
    return w


def _run_week(world: World, week: int) -> tuple[int, int]:
    event_alarms = volume_alarms = 0
    for d in range(7):
        day = START + timedelta(days=7 * week + d)
        for hour in range(24):
            ev, vol = world.hour(day, hour, world.normal_counts(hour), train=False)
            event_alarms += len(ev)
            volume_alarms += len(vol)
    return event_alarms, volume_alarms


def test_clean_weeks_then_injected_anomalies(world: World) -> None:
    for week in range(TRAIN_WEEKS, TRAIN_WEEKS + CLEAN_WEEKS):
        event_alarms, volume_alarms = _run_week(world, week)
        assert event_alarms <= 1, f"week {week}: {event_alarms} event false alarms"
        assert volume_alarms <= 1, f"week {week}: {volume_alarms} volume false alarms"

    day = START + timedelta(days=7 * (TRAIN_WEEKS + CLEAN_WEEKS) + 1)  # a Tuesday
    flagged: dict[str, list[AnomalyResult]] = {}
    for hour in range(24):
        counts = world.normal_counts(hour)
        if hour == 3:  # people in the middle of the night
            counts["person"] += 2
        if hour == 10:  # a never-seen label
            counts["horse"] = 1
        if hour == 13:  # a 5x spike at the busiest hour
            counts["person"] = int(5 * RATES["person"][13])
        if 16 <= hour < 20:  # four silent hours in the evening rush
            counts = {label: 0 for label in counts}
        ev, vol = world.hour(day, hour, counts, train=False, confidence=0.9)
        for result in ev + vol:
            flagged.setdefault(f"{result.type}@{hour}", []).append(result)

    assert "rare_time@3" in flagged
    assert "novel_object@10" in flagged
    assert "spike@13" in flagged
    assert any(f"silence@{h}" in flagged for h in range(16, 20))
    assert flagged["novel_object@10"][0].severity == "high"
    silence = [r for h in range(16, 20) for r in flagged.get(f"silence@{h}", [])]
    assert "cam/all" in {r.components["series"] for r in silence}  # the source fell silent


def _detection(kind: str, start: datetime, end: datetime, *, event: str | None = None,
               run: str | None = None, severity: str = "medium") -> Detection:
    return Detection(source_id="cam", type=kind, label="person", event_id=event,  # type: ignore[arg-type]
                     window_start=start, window_end=end, local_weekday=0, local_hour=0,
                     score=0.7, severity=severity, explanation="", components={},  # type: ignore[arg-type]
                     key=kind, run_id=run)


def test_evaluate_matches_by_source_type_and_window_with_tolerance() -> None:
    t0 = datetime(2024, 1, 8, 10, tzinfo=UTC)
    hour = timedelta(hours=1)
    truth = [TruthAnomaly("cam", "silence", None, t0, t0 + 4 * hour),
             TruthAnomaly("cam", "rare_time", "person", t0, t0 + hour)]
    found = [
        _detection("silence", t0 + hour, t0 + 2 * hour, run="r1"),
        _detection("silence", t0 + hour, t0 + 3 * hour, run="r1"),  # the same growing run
        _detection("rare_time", t0 + hour + timedelta(minutes=30),
                   t0 + hour + timedelta(minutes=30), event="e1"),  # within the tolerance
        _detection("rare_time", t0 + 5 * hour, t0 + 5 * hour, event="e2"),  # a false alarm
        _detection("spike", t0, t0 + hour, run="r2", severity="low"),  # below medium
    ]
    result = evaluate(found, truth, cameras=1, since=t0 - 24 * hour, until=t0 + 6 * 24 * hour)
    assert result.per_type["silence"].alarms == 1 and result.per_type["silence"].f1 == 1.0
    rare = result.per_type["rare_time"]
    assert (rare.precision, rare.recall) == (0.5, 1.0)
    assert result.per_type["spike"].alarms == 0
    assert result.false_alarms == 1 and result.false_alarms_per_camera_week == 1.0
