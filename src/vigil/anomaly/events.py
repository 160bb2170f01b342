"""``rare_time`` / ``novel_object``: how unusual is this label at this source at this hour?

The scorer learns, per source, how often each label occurs in each local hour-of-week
(weekday * 24 + hour, 0 = Monday 00:00). It scores an event by the expected number of such
events in that hour-of-week slot per week, estimated with hierarchical additive smoothing
(a Gamma prior centred on the parent level, so sparse data shrinks towards it):

- source activity: ``act = (A_hod + k_src * (A + prior_events) / (168 * W)) / (7 * W + k_src)``,
  the source's events of *any* label per day at that hour (``A`` all its events, ``A_hod``
  those at that hour of day);
- label share: ``share = (N_label + prior_events) / (A + prior_events)``, and the label's
  prior at that hour ``base = share * act`` (the label follows the source's rhythm);
- hour of day:  ``hod = (n_hod + k_hod * base) / (7 * W + k_hod)``;
- hour of week: ``rate = (n_how + k_how * hod) / (W + k_how)`` events per week in the slot,

where ``W`` is the number of weeks observed at the source (at least one day). So a rare label
at an hour when the source is busy with other labels is less surprising than any label at an
hour when the source is idle. The source activity counts every observed event, flagged or
not (like the span); the label counts only what was learned.

The score is the surprise of seeing at least ``j`` such events in the hour,
``min(1, -log10 P(N >= j) / surprise_decades)`` for ``N ~ Poisson(rate)`` (1 for a label
never seen at the source), where ``j`` is
this event's rank among the label's events of the same local hour, capped at
``hour_count_cap`` (one person at 03:00 is odd, the third in the same hour much odder). It
is damped while the source is young (``min(1, W / warmup_weeks)``) and for unsure
detections (``min(1, confidence / confidence_full)``). A label never seen at the source is a
``novel_object``; otherwise the result is ``rare_time``. :func:`batch_rates` and
:func:`poisson_below` are the same formulas over numpy arrays (used by the stream detector).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from vigil.anomaly.result import AnomalyResult, SeverityThresholds

HOURS_PER_WEEK = 168
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HourlyCountRow = tuple[str, str, date | str, int, int]
Floats = npt.NDArray[np.float64]


def _default_event_thresholds() -> SeverityThresholds:
    return SeverityThresholds(low=0.25, medium=0.65, high=0.85)


@dataclass(frozen=True, slots=True)
class EventScorerConfig:
    """Tuning of :class:`EventScorer`; every field has a sensible default."""

    thresholds: SeverityThresholds = field(default_factory=_default_event_thresholds)
    prior_events: float = 0.5  # pseudo-events of each label at the source level
    source_hour_strength: float = 1.0  # pseudo-days behind the source's hour-of-day activity
    hour_of_day_strength: float = 3.0  # pseudo-hours backing off to the source level
    hour_of_week_strength: float = 8.0  # pseudo-weeks backing off to the hour of day
    warmup_weeks: float = 2.0  # scores are damped until this many weeks are observed
    confidence_full: float = 0.6  # detections at least this confident count fully
    learn_from_anomalies: bool = False  # observe(): learn flagged events too?
    hour_count_cap: int = 5  # the j-th event of a label in one hour: P(N >= min(j, cap))
    surprise_decades: float = 8.0  # P(N >= j) = 10**-decades scores 1.0

    def __post_init__(self) -> None:
        positive = (self.prior_events, self.hour_of_day_strength, self.hour_of_week_strength,
                    self.warmup_weeks, self.confidence_full, self.source_hour_strength,
                    self.surprise_decades)
        if min(positive) <= 0.0:
            raise ValueError("smoothing strengths, warmup_weeks and confidence_full must be > 0")
        if self.hour_count_cap < 1:
            raise ValueError("hour_count_cap must be >= 1")


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

    __slots__ = ("labels", "activity", "first_day", "last_day", "weeks", "hour", "in_hour",
                 "pending")

    def __init__(self) -> None:
        self.labels: dict[str, _LabelCounts] = {}
        self.activity = _LabelCounts()  # every observed event, any label
        self.first_day: int | None = None
        self.last_day: int | None = None
        self.weeks = 0.0
        self.hour: tuple[int, int] | None = None  # (local day ordinal, hour) being observed
        self.in_hour: dict[str, int] = {}  # events per label seen in that hour so far
        self.pending: list[tuple[str, int, int, bool]] = []  # that hour's events, unlearned

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
        state.activity.add(weekday, hour, count)
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
        k_src, k_hod, k_how = (cfg.source_hour_strength, cfg.hour_of_day_strength,
                               cfg.hour_of_week_strength)
        prior = cfg.prior_events
        everything = state.activity.total
        flat = (everything + prior) / (HOURS_PER_WEEK * weeks)
        activity = (state.activity.hod[hour] + k_src * flat) / (7.0 * weeks + k_src)
        n_total, n_hod, n_how = (0, 0, 0) if counts is None else (
            counts.total, counts.hod[hour], counts.how[slot])
        base = (n_total + prior) / (everything + prior) * activity
        hod = (n_hod + k_hod * base) / (7.0 * weeks + k_hod)
        return (n_how + k_how * hod) / (weeks + k_how)

    def score(self, source: str, label: str, weekday: int, hour: int,
              confidence: float = 1.0, *, seen_in_hour: int = 0) -> AnomalyResult:
        """Score one event without learning it.

        ``seen_in_hour``: events of ``label`` at ``source`` already seen in the same local
        hour (this event is number ``seen_in_hour + 1``).
        """
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
        rank = min(seen_in_hour + 1, cfg.hour_count_cap)
        novel = counts is None or counts.total == 0
        tail = _poisson_at_least(rank, rate)
        surprise = 1.0 if tail <= 0.0 or novel else -math.log10(tail) / cfg.surprise_decades
        score = min(1.0, max(0.0, surprise)) * evidence * weight
        return AnomalyResult(
            "novel_object" if novel else "rare_time",
            score,
            cfg.thresholds.classify(score),
            explain_event(source, label, weekday, hour, rate, novel, state.weeks),
            {"source": source, "label": label, "weekday": weekday, "hour": hour,
             "rate_per_week": rate, "novel": novel, "confidence": confidence,
             "weeks_observed": state.weeks, "evidence": evidence,
             "seen_in_hour": seen_in_hour, "p_value": tail},
        )

    def observe(self, source: str, label: str, weekday: int, hour: int,
                confidence: float = 1.0, *, local_date: date | None = None,
                judge: bool = True) -> AnomalyResult:
        """Score first, then learn the event unless it was flagged (see ``learn_from_anomalies``).

        With ``local_date`` the observed span first grows to include that day, and events
        are scored against what was learned *before their local hour*: the hour's events
        are learned (and counted as source activity, flagged or not) once an event of
        another hour arrives, while the label's earlier events in the same hour raise the
        rank ``j`` (see ``hour_count_cap``). Events should come in time order per source.
        Without ``local_date`` the event is learned at once. ``judge=False`` (a source still
        learning) learns the event whatever its score.
        """
        if local_date is None:
            result = self.score(source, label, weekday, hour, confidence)
            if result.severity is None or self.config.learn_from_anomalies or not judge:
                self.learn(source, label, weekday, hour)
            else:
                self._sources[source].activity.add(weekday, hour, 1)
            return result
        weekday = local_date.weekday()
        self.observe_span(source, local_date, local_date)
        seen = self._enter_hour(source, label, local_date.toordinal(), hour)
        result = self.score(source, label, weekday, hour, confidence, seen_in_hour=seen)
        learned = result.severity is None or self.config.learn_from_anomalies or not judge
        self._sources[source].pending.append((label, weekday, hour, learned))
        return result

    def flush(self, source: str | None = None) -> None:
        """Learn the events of the current hour now (of ``source``, or of every source)."""
        for name in [source] if source is not None else list(self._sources):
            state = self._sources.get(name)
            if state is None:
                continue
            for label, weekday, hour, learned in state.pending:
                if learned:
                    self.learn(name, label, weekday, hour)
                else:
                    state.activity.add(weekday, hour, 1)
            state.pending = []

    def _enter_hour(self, source: str, label: str, day: int, hour: int) -> int:
        """Move to this local hour (learning the previous one) and count the event in it;
        returns the label's earlier events in the hour."""
        state = self._sources[source]
        if state.hour != (day, hour):
            self.flush(source)
            state.hour = (day, hour)
            state.in_hour = {}
        seen = state.in_hour.get(label, 0)
        state.in_hour[label] = seen + 1
        return seen


_SERIES_TERMS = 16  # terms of the tail series used for rates below 1


def _poisson_at_least(rank: int, rate: float) -> float:
    """``P(N >= rank)`` for ``N ~ Poisson(rate)``, accurate for tiny tails."""
    term = math.exp(-rate)
    below = term
    for i in range(1, rank):
        term *= rate / i
        below += term
    if rate >= 1.0:
        return max(0.0, 1.0 - below)
    total = 0.0
    for i in range(rank, rank + _SERIES_TERMS):
        term *= rate / i
        total += term
    return total if rank > 0 else 1.0


def poisson_at_least(rank: npt.NDArray[np.int64], rate: Floats) -> Floats:
    """``P(N >= rank)`` for ``N ~ Poisson(rate)``, elementwise (``rank`` >= 1, small)."""
    term = np.exp(-rate)
    below = term.copy()
    top = int(rank.max(initial=1))
    tail = np.zeros_like(rate)
    for i in range(1, top + _SERIES_TERMS):
        term = term * rate / i
        if i < top:
            below += np.where(rank > i, term, 0.0)
        tail += np.where((i >= rank) & (i < rank + _SERIES_TERMS), term, 0.0)
    out: Floats = np.where(rate >= 1.0, np.maximum(0.0, 1.0 - below), tail)
    return out


def event_scores(config: EventScorerConfig, rank: npt.NDArray[np.int64], rate: Floats,
                 novel: npt.NDArray[np.bool_], factor: Floats) -> Floats:
    """Scores from ranks in the hour, rates, novelty and damping (evidence * weight)."""
    tail = poisson_at_least(np.minimum(rank, config.hour_count_cap), rate)
    with np.errstate(divide="ignore"):
        surprise = np.where(novel, 1.0, -np.log10(tail) / config.surprise_decades)
    scores: Floats = np.clip(surprise, 0.0, 1.0) * factor
    return scores


def batch_rates(config: EventScorerConfig, n_how: Floats, n_hod: Floats, n_total: Floats,
                a_hod: Floats, a_total: Floats, weeks: Floats) -> Floats:
    """The rates of :meth:`EventScorer.rate` over arrays: label counts (``n_*``), the
    source's activity (``a_*``, every label) and weeks observed."""
    w = np.maximum(weeks, 1.0 / 7.0)
    k_src, k_hod, k_how = (config.source_hour_strength, config.hour_of_day_strength,
                           config.hour_of_week_strength)
    prior = config.prior_events
    flat = (a_total + prior) / (HOURS_PER_WEEK * w)
    activity = (a_hod + k_src * flat) / (7.0 * w + k_src)
    base = (n_total + prior) / (a_total + prior) * activity
    hod = (n_hod + k_hod * base) / (7.0 * w + k_hod)
    rates: Floats = (n_how + k_how * hod) / (w + k_how)
    return rates


def explain_event(source: str, label: str, weekday: int, hour: int, rate: float, novel: bool,
                  weeks: float) -> str:
    """The one-line explanation of an event score."""
    when = f"{label} at {hour:02d}:00 on {WEEKDAY_NAMES[weekday]}"
    if weeks <= 0.0:
        return f"{when}; nothing learned about {source} yet"
    if novel:
        return f"{when}; {label} has never been seen at this camera"
    return f"{when}; this camera sees {label} at that hour {rate:.2g} times a week"
