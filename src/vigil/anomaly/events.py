"""``rare_time`` / ``novel_object``: how unusual is this label at this source at this hour?

The scorer learns, per source, how often each label occurs in each local hour-of-week
(weekday * 24 + hour, 0 = Monday 00:00). It scores an event by the expected number of such
events in that hour-of-week slot per week, estimated with hierarchical additive smoothing
(a Gamma prior centred on the parent level, so sparse data shrinks towards it):

- source level: ``base = (N_label + prior_events) / (168 * W)`` events per hour;
- hour of day:  ``hod = (n_hod + k_hod * base) / (7 * W + k_hod)``;
- hour of week: ``rate = (n_how + k_how * hod) / (W + k_how)`` events per week in the slot,

where ``W`` is the number of weeks observed at the source (at least one day). The score is
the probability that the slot would *not* have seen the label under that rate,
``exp(-rate)``, damped while the source is young (``min(1, W / warmup_weeks)``) and for
unsure detections (``min(1, confidence / confidence_full)``). A label never seen at the
source is a ``novel_object``; otherwise the result is ``rare_time``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from vigil.anomaly.result import AnomalyResult, SeverityThresholds

HOURS_PER_WEEK = 168
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HourlyCountRow = tuple[str, str, date | str, int, int]


def _default_event_thresholds() -> SeverityThresholds:
    return SeverityThresholds(low=0.8, medium=0.95, high=0.99)


@dataclass(frozen=True, slots=True)
class EventScorerConfig:
    """Tuning of :class:`EventScorer`; every field has a sensible default."""

    thresholds: SeverityThresholds = field(default_factory=_default_event_thresholds)
    prior_events: float = 0.5  # pseudo-events of each label at the source level
    hour_of_day_strength: float = 3.0  # pseudo-hours backing off to the source level
    hour_of_week_strength: float = 8.0  # pseudo-weeks backing off to the hour of day
    warmup_weeks: float = 2.0  # scores are damped until this many weeks are observed
    confidence_full: float = 0.7  # detections at least this confident count fully
    learn_from_anomalies: bool = False  # observe(): learn flagged events too?

    def __post_init__(self) -> None:
        positive = (self.prior_events, self.hour_of_day_strength, self.hour_of_week_strength,
                    self.warmup_weeks, self.confidence_full)
        if min(positive) <= 0.0:
            raise ValueError("smoothing strengths, warmup_weeks and confidence_full must be > 0")


class _LabelCounts:
    """Counts of one label at one source: per hour-of-week, per hour-of-day and overall."""

    __slots__ = ("how", "hod", "total")

    def __init__(self) -> None:
        self.how = [0] * HOURS_PER_WEEK
        self.hod = [0] * 24
        self.total = 0

    def add(self, weekday: int, hour: int, count: int) -> None:
        self.how[weekday * 24 + hour] += count
        self.hod[hour] += count
        self.total += count


class _SourceState:
    """Everything learned about one source; ``weeks`` is derived from the observed span."""

    __slots__ = ("labels", "first_day", "last_day", "weeks")

    def __init__(self) -> None:
        self.labels: dict[str, _LabelCounts] = {}
        self.first_day: int | None = None
        self.last_day: int | None = None
        self.weeks = 0.0

    def extend_span(self, first_day: int, last_day: int) -> None:
        lo = first_day if self.first_day is None else min(self.first_day, first_day)
        hi = last_day if self.last_day is None else max(self.last_day, last_day)
        self.first_day, self.last_day = lo, hi
        self.weeks = (hi - lo + 1) / 7.0


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _check_time(weekday: int, hour: int) -> None:
    if not (0 <= weekday < 7 and 0 <= hour < 24):
        raise ValueError(f"weekday must be 0..6 and hour 0..23, got {weekday}, {hour}")


class EventScorer:
    """Learns per-source label rhythms and scores events as ``rare_time``/``novel_object``."""

    def __init__(self, config: EventScorerConfig | None = None) -> None:
        self.config = config or EventScorerConfig()
        self._sources: dict[str, _SourceState] = {}

    # -- learning ---------------------------------------------------------------------------

    def learn(self, source: str, label: str, weekday: int, hour: int, *,
              local_date: date | None = None, count: int = 1) -> None:
        """Count ``count`` events of ``label`` at ``source`` in local (weekday, hour).

        ``local_date``, when given, extends the source's observed span (and so ``W``); the
        weekday is then taken from it. Without dates, set the span with :meth:`observe_span`.
        """
        if local_date is not None:
            weekday = local_date.weekday()
        _check_time(weekday, hour)
        if count < 0:
            raise ValueError("count must be >= 0")
        state = self._sources.get(source)
        if state is None:
            state = self._sources[source] = _SourceState()
        counts = state.labels.get(label)
        if counts is None:
            counts = state.labels[label] = _LabelCounts()
        counts.add(weekday, hour, count)
        if local_date is not None:
            day = local_date.toordinal()
            state.extend_span(day, day)

    def observe_span(self, source: str, first: date, last: date) -> None:
        """Declare that ``source`` was watched from ``first`` to ``last`` (local dates)."""
        if last < first:
            raise ValueError("last must not be before first")
        state = self._sources.get(source)
        if state is None:
            state = self._sources[source] = _SourceState()
        state.extend_span(first.toordinal(), last.toordinal())

    def weeks_observed(self, source: str) -> float:
        """Length of the observed span of ``source`` in weeks (0 if unknown)."""
        state = self._sources.get(source)
        return 0.0 if state is None else state.weeks

    @classmethod
    def from_hourly_counts(cls, rows: Iterable[HourlyCountRow],
                           config: EventScorerConfig | None = None) -> EventScorer:
        """Build the state from rows ``(source_id, label, local_date, local_hour, event_count)``.

        ``local_date`` is a :class:`datetime.date` or an ISO string; the weekday comes from it
        and each source's weeks observed from the span of its dates.
        """
        scorer = cls(config)
        for source, label, local_date, local_hour, event_count in rows:
            scorer.learn(source, label, 0, int(local_hour), local_date=_as_date(local_date),
                         count=int(event_count))
        return scorer

    # -- scoring ----------------------------------------------------------------------------

    def rate(self, source: str, label: str, weekday: int, hour: int) -> float:
        """Smoothed expected count of ``label`` per week in this hour-of-week at ``source``."""
        _check_time(weekday, hour)
        state = self._sources.get(source)
        if state is None:
            return 0.0
        return self._rate(state, state.labels.get(label), weekday * 24 + hour, hour)

    def _rate(self, state: _SourceState, counts: _LabelCounts | None, slot: int,
              hour: int) -> float:
        cfg = self.config
        weeks = state.weeks if state.weeks > 1.0 / 7.0 else 1.0 / 7.0
        k_hod, k_how = cfg.hour_of_day_strength, cfg.hour_of_week_strength
        if counts is None:
            base = cfg.prior_events / (HOURS_PER_WEEK * weeks)
            hod = k_hod * base / (7.0 * weeks + k_hod)
            return k_how * hod / (weeks + k_how)
        base = (counts.total + cfg.prior_events) / (HOURS_PER_WEEK * weeks)
        hod = (counts.hod[hour] + k_hod * base) / (7.0 * weeks + k_hod)
        return (counts.how[slot] + k_how * hod) / (weeks + k_how)

    def score(self, source: str, label: str, weekday: int, hour: int,
              confidence: float = 1.0) -> AnomalyResult:
        """Score one event without learning it."""
        _check_time(weekday, hour)
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {confidence}")
        cfg = self.config
        state = self._sources.get(source)
        if state is None:
            state = _SourceState()
        counts = state.labels.get(label)
        rate = self._rate(state, counts, weekday * 24 + hour, hour)
        evidence = state.weeks / cfg.warmup_weeks
        evidence = 1.0 if evidence > 1.0 else evidence
        weight = confidence / cfg.confidence_full
        weight = 1.0 if weight > 1.0 else weight
        score = math.exp(-rate) * evidence * weight
        novel = counts is None or counts.total == 0
        return AnomalyResult(
            "novel_object" if novel else "rare_time",
            score,
            cfg.thresholds.classify(score),
            _explain(source, label, weekday, hour, rate, novel, state.weeks),
            {"source": source, "label": label, "weekday": weekday, "hour": hour,
             "rate_per_week": rate, "novel": novel, "confidence": confidence,
             "weeks_observed": state.weeks, "evidence": evidence},
        )

    def observe(self, source: str, label: str, weekday: int, hour: int,
                confidence: float = 1.0, *, local_date: date | None = None) -> AnomalyResult:
        """Score first, then learn the event unless it was flagged (see ``learn_from_anomalies``).

        The observed span still grows with ``local_date`` even when the event is not learned.
        """
        if local_date is not None:
            weekday = local_date.weekday()
        result = self.score(source, label, weekday, hour, confidence)
        if result.severity is None or self.config.learn_from_anomalies:
            self.learn(source, label, weekday, hour, local_date=local_date)
        elif local_date is not None:
            self.observe_span(source, local_date, local_date)
        return result


def _explain(source: str, label: str, weekday: int, hour: int, rate: float, novel: bool,
             weeks: float) -> str:
    when = f"{label} at {hour:02d}:00 on {WEEKDAY_NAMES[weekday]}"
    if weeks <= 0.0:
        return f"{when}; nothing learned about {source} yet"
    if novel:
        return f"{when}; {label} has never been seen at this camera"
    return f"{when}; this camera sees {label} at that hour {rate:.2g} times a week"
