"""``spike`` / ``silence``: is this closed hour's count too high or too low for its series?

A :class:`VolumeScorer` watches one series of hourly counts (one label at one source, or all
labels of a source together). For each local hour-of-week slot it keeps the number of weeks
observed, the sum and the sum of squares of the counts (mergeable, exact), hence the mean and
the sample variance across weeks. A closed hour with count ``k`` is judged against the
negative binomial with the slot's *predictive* mean and variance (:meth:`predictive`: the
slot shrunk towards the same hour on like days, the variance towards a model variance and
widened for the uncertainty of the mean, so two or three weeks of history are enough):

- spike: ``p = P(X >= k)``, when ``k > mean`` and ``k >= min_spike_count``;
- silence: consecutive quiet hours (zero, or ``P(X <= k) <= quiet_p``) form a run; the
  run's counts and its means and variances are summed and ``p = P(S <= sum of counts)``
  under the negative binomial of the summed moments, so several quiet hours of a busy
  series accumulate into a silence.

The score is the surprise ``min(1, -log10(p) / surprise_decades)``. Slots with fewer than
``min_weeks`` observations are not judged (score 0). Streams are scored in order with
:meth:`VolumeScorer.score_stream`; missing hours in a stream count as zero.
:meth:`VolumeScorer.observe_flagged` makes the same state changes as ``observe`` but builds
results only for flagged hours (exact tails are computed only when a cheap lower bound, the
probability mass at the count, cannot rule a flag out).
:class:`VolumeMonitor` runs one scorer per (source, label) plus a source-wide series whose
silences (hours with no event at all when the source normally sends) are reported too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

from vigil.anomaly.distributions import nb_cdf, nb_pmf, nb_sf
from vigil.anomaly.events import HOURS_PER_WEEK, WEEKDAY_NAMES
from vigil.anomaly.result import AnomalyResult, SeverityThresholds

HourStamp = datetime | int
_MONDAY_ORDINAL = date(1970, 1, 5).toordinal()  # hour index 0 = Monday 1970-01-05 00:00


def _default_volume_thresholds() -> SeverityThresholds:
    return SeverityThresholds(low=0.4, medium=0.47, high=0.7)


@dataclass(frozen=True, slots=True)
class VolumeConfig:
    """Tuning of :class:`VolumeScorer`; every field has a sensible default."""

    thresholds: SeverityThresholds = field(default_factory=_default_volume_thresholds)
    surprise_decades: float = 10.0  # p = 10**-decades scores 1.0
    min_weeks: int = 2  # observations of a slot before it is judged
    pool_weeks: float = 1.0  # pseudo-weeks of the same hour on like days (see predictive)
    rate_cv: float = 0.25  # week-to-week variation of an hour's rate (model variance)
    variance_weeks: float = 4.0  # pseudo-weeks of the model variance behind a slot's own
    mean_floor: float = 1.0  # spikes are judged against a mean (and variance) at least this
    min_spike_count: int = 5  # smaller counts are never spikes
    quiet_p: float = 0.25  # an hour joins a silence run when P(X <= count) is at most this
    max_run_hours: int = 24  # a silence run older than this starts afresh
    learn_from_anomalies: bool = False  # observe(): learn flagged hours too?

    def __post_init__(self) -> None:
        if self.surprise_decades <= 0 or self.min_weeks < 2 or self.mean_floor <= 0:
            raise ValueError("need surprise_decades > 0, min_weeks >= 2 and mean_floor > 0")
        if min(self.pool_weeks, self.rate_cv, self.variance_weeks) < 0:
            raise ValueError("pool_weeks, rate_cv and variance_weeks must be >= 0")
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
        self._gap = 0

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

    def predictive(self, stamp: HourStamp, kind: str = "spike") -> tuple[int, float, float]:
        """``(weeks, mean, variance)`` a closed hour is judged against.

        Two estimates: the slot's own, and the slot shrunk towards the same local hour on
        the days of the same kind (Monday to Friday, or the weekend) with ``pool_weeks``
        pseudo-weeks. Spikes are judged against the one with the larger mean, silences
        against the smaller (weekdays and weekends differ, so pooling must never make
        either more eager). Both variances are shrunk towards ``mean + (rate_cv * mean)**2``
        (Poisson noise plus a rate that varies from week to week) with ``variance_weeks``
        pseudo-weeks — a variance from two or three weeks alone is too noisy either way —
        and widened by the uncertainty of the mean (``1 + 1 / (weeks + pool_weeks)``).
        """
        weeks, spike, silence = self._moments(hour_index(stamp) % HOURS_PER_WEEK)
        mean, var = spike if kind == "spike" else silence
        return weeks, mean, var

    def _moments(self, slot: int) -> tuple[int, tuple[float, float], tuple[float, float]]:
        """``(weeks, (mean, var) for spikes, (mean, var) for silences)`` of a slot."""
        n = self._n[slot]
        if n == 0:
            return 0, (0.0, 0.0), (0.0, 0.0)
        cfg = self.config
        mean = self._sum[slot] / n
        var = max((self._sumsq[slot] - n * mean * mean) / (n - 1), 0.0) if n > 1 else mean
        k = cfg.pool_weeks
        own = self._widen(n, mean, var)
        if k <= 0.0:
            return n, own, own
        hour = slot % 24
        days = (5, 6) if slot >= 120 else (0, 1, 2, 3, 4)
        big_n = total = squares = 0.0
        for day in days:
            other = day * 24 + hour
            big_n += self._n[other]
            total += self._sum[other]
            squares += self._sumsq[other]
        hod_mean = total / big_n
        hod_var = (squares - big_n * hod_mean * hod_mean) / (big_n - 1) if big_n > 1 else hod_mean
        pooled = self._widen(n, (n * mean + k * hod_mean) / (n + k),
                             (n * var + k * max(hod_var, 0.0)) / (n + k))
        return (n, pooled, own) if pooled[0] > mean else (n, own, pooled)

    def _widen(self, weeks: int, mean: float, var: float) -> tuple[float, float]:
        cfg = self.config
        model = mean + (cfg.rate_cv * mean) ** 2
        kv = cfg.variance_weeks
        var = (weeks * var + kv * model) / (weeks + kv)
        return mean, max(var, mean) * (1.0 + 1.0 / (weeks + cfg.pool_weeks))

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

    def observe_flagged(self, stamp: HourStamp, count: int) -> list[AnomalyResult]:
        """:meth:`observe`, returning only the flagged results (much cheaper)."""
        index = self._advance(stamp)
        flagged = []
        for h in range(index - self._gap, index + 1):
            result = self._decide(h, count if h == index else 0)
            if result is None or self.config.learn_from_anomalies:
                self.learn(h, count if h == index else 0)
            if result is not None:
                flagged.append(result)
        return flagged

    def absorb(self, stamp: HourStamp, count: int) -> None:
        """Learn the next closed hour of the stream without judging it (gaps as zeros)."""
        index = self._advance(stamp)
        _reset(self._run)
        for h in range(index - self._gap, index):
            self.learn(h, 0)
        self.learn(index, count)

    def learn_range(self, first: HourStamp, last: HourStamp, indices: npt.NDArray[np.int64],
                    counts: npt.NDArray[np.int64]) -> None:
        """Learn the hours ``first..last`` at once: ``counts`` at ``indices`` (summed per
        hour), zero elsewhere; the stream then continues after ``last``."""
        lo, hi = hour_index(first), hour_index(last)
        if hi < lo:
            return
        hours = np.arange(lo, hi + 1, dtype=np.int64)
        n = np.bincount(hours % HOURS_PER_WEEK, minlength=HOURS_PER_WEEK)
        inside = (indices >= lo) & (indices <= hi)
        per_hour = np.bincount(indices[inside] - lo, weights=counts[inside].astype(float),
                               minlength=hours.size)
        slots = hours % HOURS_PER_WEEK
        sums = np.bincount(slots, weights=per_hour, minlength=HOURS_PER_WEEK)
        squares = np.bincount(slots, weights=per_hour * per_hour, minlength=HOURS_PER_WEEK)
        for slot in range(HOURS_PER_WEEK):
            self._n[slot] += int(n[slot])
            self._sum[slot] += float(sums[slot])
            self._sumsq[slot] += float(squares[slot])
        self._last = hi if self._last is None else max(self._last, hi)
        _reset(self._run)

    def would_flag(self, kind: str, hours: list[tuple[int, int]]) -> bool:
        """Would ``hours`` (index, count) be flagged now: one spike hour or one silence run?"""
        cfg = self.config
        if kind == "spike":
            index, count = hours[-1]
            result = self._judge(index, count, None)
            return result.type == "spike" and result.severity is not None
        run = _Run()
        for index, count in hours:
            weeks, mean, var = self.predictive(index, "silence")
            if weeks < cfg.min_weeks:
                return False
            run.count += count
            run.mean += mean
            run.var += var
        p = nb_cdf(run.count, run.mean, run.var)
        return cfg.thresholds.classify(surprise(p, cfg.surprise_decades)) is not None

    def restart(self) -> None:
        """Forget the stream position and any silence run (the next hour starts afresh)."""
        self._last = None
        _reset(self._run)

    @property
    def last_hour(self) -> int | None:
        """The hour index of the last hour observed or absorbed."""
        return self._last

    def _advance(self, stamp: HourStamp) -> int:
        index = hour_index(stamp)
        if self._last is not None and index <= self._last:
            raise ValueError(f"hour {stamp} is not after the previous hour of the stream")
        self._gap = 0 if self._last is None else index - self._last - 1
        self._last = index
        return index

    def flag_p(self) -> float:
        """The largest p-value that is flagged (score >= the ``low`` threshold)."""
        cfg = self.config
        return float(10.0 ** (-cfg.surprise_decades * cfg.thresholds.low))

    def _decide(self, index: int, count: int) -> AnomalyResult | None:
        """:meth:`_judge` with the stream's run, but ``None`` for hours not flagged."""
        cfg = self.config
        weeks, high, (mean, var) = self._moments(index % HOURS_PER_WEEK)
        run = self._run
        if weeks < cfg.min_weeks:
            _reset(run)
            return None
        limit = self.flag_p() * (1.0 + 1e-9)
        quiet = count < mean and (count == 0 or not self.silence_only)
        if quiet and count > 0:
            quiet = (nb_pmf(count, mean, var) <= cfg.quiet_p
                     and nb_cdf(count, mean, var) <= cfg.quiet_p)
        if not quiet:
            _reset(run)
            if self.silence_only or count < cfg.min_spike_count:
                return None
            mean, var = high
            if count <= mean:
                return None
            floor = cfg.mean_floor
            if nb_pmf(count, max(mean, floor), max(var, floor)) > limit:
                return None
            result = self._judge(index, count, None)
            return result if result.severity is not None else None
        if run.hours >= cfg.max_run_hours:
            _reset(run)
        run.hours += 1
        run.count += count
        run.mean += mean
        run.var += var
        if nb_pmf(run.count, run.mean, run.var) > limit:
            return None
        p = nb_cdf(run.count, run.mean, run.var)
        result = self._result("silence", p, surprise(p, cfg.surprise_decades), index, count,
                              weeks, mean, var, run.hours, run)
        return result if result.severity is not None else None

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
        weeks, mean, var = self.predictive(index, "silence")
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
            _, mean, var = self.predictive(index, "spike")
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
