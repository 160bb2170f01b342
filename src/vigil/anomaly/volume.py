"""``spike`` / ``silence``: is this closed hour's count too high or too low for its series?

A :class:`VolumeScorer` watches one series of hourly counts (one label at one source, or all
labels of a source together). For each local hour-of-week slot it keeps the number of weeks
observed, the sum and the sum of squares of the counts (mergeable, exact), hence the mean and
the sample variance across weeks. A closed hour with count ``k`` is judged against the
negative binomial with that mean and variance (Poisson when ``var <= mean``):

- spike: ``p = P(X >= k)``, when ``k > mean`` and ``k >= min_spike_count``;
- silence: consecutive quiet hours (zero, or ``P(X <= k) <= quiet_p``) form a run; the
  run's counts and its means and variances are summed and ``p = P(S <= sum of counts)``
  under the negative binomial of the summed moments, so several quiet hours of a busy
  series accumulate into a silence.

The score is the surprise ``min(1, -log10(p) / surprise_decades)``. Slots with fewer than
``min_weeks`` observations are not judged (score 0). Streams are scored in order with
:meth:`VolumeScorer.score_stream`; missing hours in a stream count as zero.
:class:`VolumeMonitor` runs one scorer per (source, label) plus a source-wide series whose
silences (hours with no event at all when the source normally sends) are reported too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from vigil.anomaly.distributions import nb_cdf, nb_sf
from vigil.anomaly.events import HOURS_PER_WEEK, WEEKDAY_NAMES
from vigil.anomaly.result import AnomalyResult, SeverityThresholds

HourStamp = datetime | int
_MONDAY_ORDINAL = date(1970, 1, 5).toordinal()  # hour index 0 = Monday 1970-01-05 00:00


def _default_volume_thresholds() -> SeverityThresholds:
    return SeverityThresholds(low=0.5, medium=0.6, high=0.8)


@dataclass(frozen=True, slots=True)
class VolumeConfig:
    """Tuning of :class:`VolumeScorer`; every field has a sensible default."""

    thresholds: SeverityThresholds = field(default_factory=_default_volume_thresholds)
    surprise_decades: float = 6.0  # p = 10**-decades scores 1.0
    min_weeks: int = 3  # observations of a slot before it is judged
    mean_floor: float = 0.5  # spikes are judged against a mean (and variance) at least this
    min_spike_count: int = 3  # smaller counts are never spikes
    quiet_p: float = 0.25  # an hour joins a silence run when P(X <= count) is at most this
    max_run_hours: int = 24  # a silence run older than this starts afresh
    learn_from_anomalies: bool = False  # observe(): learn flagged hours too?

    def __post_init__(self) -> None:
        if self.surprise_decades <= 0 or self.min_weeks < 2 or self.mean_floor <= 0:
            raise ValueError("need surprise_decades > 0, min_weeks >= 2 and mean_floor > 0")
        if self.max_run_hours < 1 or not 0.0 < self.quiet_p < 1.0:
            raise ValueError("need max_run_hours >= 1 and 0 < quiet_p < 1")


def hour_index(stamp: HourStamp) -> int:
    """Hours since Monday 1970-01-05 00:00 of a local wall-clock datetime (ints pass through)."""
    if isinstance(stamp, int):
        return stamp
    return (stamp.date().toordinal() - _MONDAY_ORDINAL) * 24 + stamp.hour


def surprise(p: float, decades: float) -> float:
    """``min(1, -log10(p) / decades)``: 0 for p = 1, 1 for p <= 10**-decades."""
    if p <= 0.0:
        return 1.0
    value = -math.log10(p) / decades
    return 0.0 if value <= 0.0 else min(1.0, value)


@dataclass(slots=True)
class _Run:
    """Accumulated quiet hours: their count sum and summed expected moments."""

    hours: int = 0
    count: int = 0
    mean: float = 0.0
    var: float = 0.0


class VolumeScorer:
    """Expected hourly counts of one series per hour-of-week, and spike/silence scoring."""

    def __init__(self, config: VolumeConfig | None = None, *, name: str = "events",
                 silence_only: bool = False) -> None:
        self.config = config or VolumeConfig()
        self.name = name
        self.silence_only = silence_only
        self._n = [0] * HOURS_PER_WEEK
        self._sum = [0.0] * HOURS_PER_WEEK
        self._sumsq = [0.0] * HOURS_PER_WEEK
        self._run = _Run()
        self._last: int | None = None

    def learn(self, stamp: HourStamp, count: int) -> None:
        """Add one closed hour's count to its hour-of-week slot."""
        slot = hour_index(stamp) % HOURS_PER_WEEK
        self._n[slot] += 1
        self._sum[slot] += count
        self._sumsq[slot] += count * count

    def expected(self, stamp: HourStamp) -> tuple[int, float, float]:
        """``(weeks, mean, sample variance)`` of the counts in the slot of ``stamp``."""
        slot = hour_index(stamp) % HOURS_PER_WEEK
        n = self._n[slot]
        if n == 0:
            return 0, 0.0, 0.0
        mean = self._sum[slot] / n
        var = (self._sumsq[slot] - n * mean * mean) / (n - 1) if n > 1 else mean
        return n, mean, max(var, 0.0)

    def score(self, stamp: HourStamp, count: int) -> AnomalyResult:
        """Score one closed hour on its own (no silence run, no learning)."""
        return self._judge(hour_index(stamp), count, None)

    def observe(self, stamp: HourStamp, count: int) -> list[AnomalyResult]:
        """Score the next closed hour of the stream, then learn it unless flagged.

        Hours skipped since the previous call are scored and learned as zero counts first;
        one result per hour is returned. Stamps must not go backwards.
        """
        index = hour_index(stamp)
        if self._last is not None and index <= self._last:
            raise ValueError(f"hour {stamp} is not after the previous hour of the stream")
        start = index if self._last is None else self._last + 1
        results = [self._observe_one(h, 0) for h in range(start, index)]
        results.append(self._observe_one(index, count))
        self._last = index
        return results

    def score_stream(self, series: Iterable[tuple[HourStamp, int]]) -> Iterator[AnomalyResult]:
        """Score a stream of ``(hour, count)`` in order: one result per hour, gaps as zeros."""
        for stamp, count in series:
            yield from self.observe(stamp, count)

    def _observe_one(self, index: int, count: int) -> AnomalyResult:
        result = self._judge(index, count, self._run)
        if result.severity is None or self.config.learn_from_anomalies:
            self.learn(index, count)
        return result

    def _judge(self, index: int, count: int, run: _Run | None) -> AnomalyResult:
        cfg = self.config
        weeks, mean, var = self.expected(index)
        if weeks < cfg.min_weeks:
            if run is not None:
                _reset(run)
            kind = "silence" if count < mean else "spike"
            return self._result(kind, 1.0, 0.0, index, count, weeks, mean, var, 1)
        quiet = count < mean and (count == 0 or not self.silence_only)
        if quiet and count > 0:
            quiet = nb_cdf(count, mean, var) <= cfg.quiet_p
        if not quiet:
            if run is not None:
                _reset(run)
            big = count >= cfg.min_spike_count and not self.silence_only
            floor = cfg.mean_floor
            p = nb_sf(count, max(mean, floor), max(var, floor)) if big else 1.0
            return self._result("spike", p, surprise(p, cfg.surprise_decades), index, count,
                                weeks, mean, var, 1)
        if run is None:
            run = _Run()
        elif run.hours >= cfg.max_run_hours:
            _reset(run)
        run.hours += 1
        run.count += count
        run.mean += mean
        run.var += var
        p = nb_cdf(run.count, run.mean, run.var)
        return self._result("silence", p, surprise(p, cfg.surprise_decades), index, count,
                            weeks, mean, var, run.hours, run)

    def _result(self, kind: str, p: float, score: float, index: int, count: int, weeks: int,
                mean: float, var: float, hours: int, run: _Run | None = None) -> AnomalyResult:
        severity = self.config.thresholds.classify(score)
        components: dict[str, float | int | bool | str | None] = {
            "series": self.name, "hour_index": index, "count": count, "mean": mean,
            "variance": var, "weeks": weeks, "p_value": p, "run_hours": hours,
            "run_count": count if run is None else run.count,
            "run_mean": mean if run is None else run.mean,
        }
        when = f"{index % 24:02d}:00 on {WEEKDAY_NAMES[(index // 24) % 7]}"
        if weeks < self.config.min_weeks:
            text = f"{self.name}: {count} at {when}; still learning ({weeks} weeks seen)"
        elif kind == "spike":
            text = (f"{self.name}: {count} at {when}; usually {mean:.3g} ± "
                    f"{math.sqrt(var):.2g} (p={p:.2g})")
        else:
            total = components["run_count"]
            expect = components["run_mean"]
            text = (f"{self.name}: {total} in the {hours} hour(s) up to {when}; usually "
                    f"{expect:.3g} (p={p:.2g})")
        return AnomalyResult("spike" if kind == "spike" else "silence", score, severity, text,
                             components)


def _reset(run: _Run) -> None:
    run.hours = run.count = 0
    run.mean = run.var = 0.0


class VolumeMonitor:
    """One :class:`VolumeScorer` per (source, label), plus a source-wide silence series."""

    def __init__(self, config: VolumeConfig | None = None) -> None:
        self.config = config or VolumeConfig()
        self._labels: dict[str, dict[str, VolumeScorer]] = {}
        self._totals: dict[str, VolumeScorer] = {}

    def observe_hour(self, source: str, stamp: HourStamp,
                     counts: Mapping[str, int]) -> list[AnomalyResult]:
        """Score one closed hour of ``source`` given its count per label.

        Labels seen before but missing from ``counts`` count as zero; the source total is
        judged for silences only. Returns every result (filter on ``severity``).
        """
        scorers = self._labels.setdefault(source, {})
        for label in counts:
            if label not in scorers:
                scorers[label] = VolumeScorer(self.config, name=f"{source}/{label}")
        results: list[AnomalyResult] = []
        for label, scorer in scorers.items():
            results.extend(scorer.observe(stamp, counts.get(label, 0)))
        total = self._totals.get(source)
        if total is None:
            total = self._totals[source] = VolumeScorer(
                self.config, name=f"{source}/all", silence_only=True)
        results.extend(total.observe(stamp, sum(counts.values())))
        return results
