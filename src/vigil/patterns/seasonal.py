"""Seasonal drift: month over month, an item's daily use grows or shrinks, or its first
activation moves steadily earlier or later.

The daily summary of each activity item holds the day's count ``n`` and the wall-clock
minute of its first activation ``first`` (as for :mod:`vigil.patterns.day_type`).
Detection reads a longer window, :attr:`SeasonalDetector.window_days` (90 days), instead of
``options.window_days``. Within the item's span (first to last active day) it takes the
calendar months with at least :attr:`~SeasonalDetector.min_month_days` days and reports:

- **timing drift**: the first activation moves by at least
  :attr:`~SeasonalDetector.min_shift_min` minutes per month (a least-squares slope over the
  active days, times unwrapped around their circular mean), every month's circular mean
  time steps the same way, and the slope is at least :attr:`~SeasonalDetector.min_t` standard
  errors from zero;
- **volume drift**: the mean daily count (inactive days count as zero) changes by at least
  :attr:`~SeasonalDetector.min_growth` per month (geometric mean of the month-to-month
  ratios), every month steps the same way, and the slope of the daily counts passes the
  same t test.

A drift needs three such months, so a 30-day window finds nothing. Confidence is
``1 - 2 / |t|`` (0.5 at t = 4): how sure the slope's sign and size are. Reads
``min_confidence`` and ``min_days`` (``window_days`` is the detector's own).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vigil.patterns.base import DaySummary, DetectOptions, Pattern
from vigil.patterns.circular import DAY_MINUTES, circular_mean, hhmm
from vigil.patterns.day_type import (
    ItemDays,
    item_days_from_events,
    item_days_from_summaries,
    summarize_items,
)

__all__ = ["DETECTOR", "SeasonalDetector"]

DAYS_PER_MONTH = 30.4375
FloatArray = npt.NDArray[np.float64]


def _slope(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Least-squares slope of ``y`` on ``x`` and its t statistic (inf for a perfect fit)."""
    dx = x - x.mean()
    sxx = float((dx * dx).sum())
    if len(x) < 3 or sxx == 0.0:
        return 0.0, 0.0
    slope = float((dx * (y - y.mean())).sum()) / sxx
    residual = y - y.mean() - slope * dx
    variance = float((residual * residual).sum()) / (len(x) - 2)
    if variance <= 1e-12:
        return slope, math.inf if slope else 0.0
    return slope, slope / math.sqrt(variance / sxx)


def _unwrap(minutes: FloatArray, center: float) -> FloatArray:
    """Minutes as signed offsets from ``center`` in [-720, 720)."""
    offsets: FloatArray = (minutes - center + DAY_MINUTES / 2) % DAY_MINUTES - DAY_MINUTES / 2
    return offsets


def _monotone(values: Sequence[float]) -> int:
    """+1 if every step rises, -1 if every step falls, else 0."""
    steps = np.diff(np.asarray(values, dtype=np.float64))
    if len(steps) and (steps > 0).all():
        return 1
    if len(steps) and (steps < 0).all():
        return -1
    return 0


class SeasonalDetector:
    """Month-over-month drift of an item's daily use and of its first activation."""

    name = "seasonal"
    window_days = 90
    """Days of summaries detection reads (the service honours it over the options')."""
    min_month_days = 10
    """A month counts when the item's span covers at least this many of its days..."""
    min_month_active = 5
    """... and, for timing, the item was active on at least this many of them."""
    min_months = 3
    min_shift_min = 15.0
    """Timing drift: at least this many minutes per month."""
    min_growth = 0.25
    """Volume drift: at least this relative change per month."""
    min_t = 4.0

    def summarize(self, day: dt.date, events: pa.Table) -> dict[str, dict[str, Any]]:
        """``{item: {"n": activations, "first": minute of the first}}``."""
        return summarize_items(day, events)

    def detect(self, summaries: Sequence[DaySummary], end: dt.date,
               options: DetectOptions) -> list[Pattern]:
        """Drifts from the stored daily summaries of the last :attr:`window_days` days."""
        start = end - dt.timedelta(days=self.window_days - 1)
        return self._detect(item_days_from_summaries(summaries, start, end), options)

    def detect_raw(self, events: pa.Table, end: dt.date, options: DetectOptions
                   ) -> list[Pattern]:
        """Drifts straight from the raw events of the last :attr:`window_days` days."""
        start = end - dt.timedelta(days=self.window_days - 1)
        return self._detect(item_days_from_events(events, start, end), options)

    # -- detection core ------------------------------------------------------------------
    def _detect(self, data: ItemDays, options: DetectOptions) -> list[Pattern]:
        dates = data.dates()
        month = np.asarray([d.year * 12 + d.month - 1 for d in dates], dtype=np.int64)
        found: list[Pattern] = []
        for row, item in enumerate(data.items):
            active = data.count[row] > 0
            days = np.flatnonzero(active)
            span = np.arange(days[0], days[-1] + 1)
            months = [m for m in np.unique(month[span]).tolist()
                      if (month[span] == m).sum() >= self.min_month_days]
            if len(months) < self.min_months:
                continue
            for pattern in (self._volume(item, data.count[row], span, month, months, dates),
                            self._timing(item, data.first[row], active, span, month, months,
                                         dates)):
                if (pattern is not None and pattern.confidence >= options.min_confidence
                        and pattern.evidence["days_observed"] >= options.min_days):
                    found.append(pattern)
        return sorted(found, key=lambda p: p.key)

    def _volume(self, item: str, count: npt.NDArray[np.int64], span: npt.NDArray[np.int64],
                month: npt.NDArray[np.int64], months: list[int], dates: list[dt.date]
                ) -> Pattern | None:
        use = span[np.isin(month[span], months)]
        means = [float(count[use][month[use] == m].mean()) for m in months]
        direction = _monotone(means)
        if not direction or min(means) <= 0.0:
            return None
        growth = (means[-1] / means[0]) ** (1.0 / (len(means) - 1)) - 1.0
        slope, t = _slope(use.astype(np.float64), count[use].astype(np.float64))
        if abs(growth) < self.min_growth or abs(t) < self.min_t or slope * direction <= 0:
            return None
        word = "grows" if direction > 0 else "shrinks"
        return self._pattern(
            item, "volume", t, count[use] > 0, use, dates,
            f"{item}: daily use {word} by {round(100 * abs(growth))}% a month "
            f"({' → '.join(f'{m:.1f}' for m in means)} a day)",
            {"growth_per_month": round(growth, 6),
             "slope_per_month": round(slope * DAYS_PER_MONTH, 6),
             "months": [{"month": _month_name(m), "days": int((month[use] == m).sum()),
                         "mean_count": round(v, 6)} for m, v in zip(months, means, strict=True)]})

    def _timing(self, item: str, first: npt.NDArray[np.int64], active: npt.NDArray[np.bool_],
                span: npt.NDArray[np.int64], month: npt.NDArray[np.int64], months: list[int],
                dates: list[dt.date]) -> Pattern | None:
        use = span[np.isin(month[span], months) & active[span]]
        counts = [int((month[use] == m).sum()) for m in months]
        if min(counts) < self.min_month_active:
            return None
        minutes = first[use].astype(np.float64)
        center = circular_mean(minutes)
        offsets = _unwrap(minutes, center)
        means = [_unwrap(np.asarray([circular_mean(minutes[month[use] == m])]), center)[0]
                 for m in months]
        direction = _monotone(means)
        slope, t = _slope(use.astype(np.float64), offsets)
        per_month = slope * DAYS_PER_MONTH
        if (not direction or abs(per_month) < self.min_shift_min or abs(t) < self.min_t
                or per_month * direction <= 0):
            return None
        word = "later" if per_month > 0 else "earlier"
        return self._pattern(
            item, "timing", t, np.ones(len(use), dtype=bool), use, dates,
            f"{item} starts {round(abs(per_month))} min {word} each month "
            f"({' → '.join(hhmm(center + m) for m in means)})",
            {"shift_min_per_month": round(per_month, 6),
             "months": [{"month": _month_name(m), "days": c,
                         "mean_minute": round((center + v) % DAY_MINUTES, 3)}
                        for m, c, v in zip(months, counts, means, strict=True)]})

    def _pattern(self, item: str, variant: str, t: float, active: npt.NDArray[np.bool_],
                 use: npt.NDArray[np.int64], dates: list[dt.date], description: str,
                 evidence: dict[str, Any]) -> Pattern:
        observed = use[active]
        confidence = max(0.0, 1.0 - 2.0 / abs(t)) if math.isfinite(t) else 1.0
        return Pattern(
            type=self.name, key=f"{item}|{variant}", entities=(item,),
            confidence=round(confidence, 6), description=description,
            evidence={"days_observed": len(observed),
                      "t": round(t, 4) if math.isfinite(t) else 1e9, **evidence},
            first_seen=dates[int(observed[0])], last_seen=dates[int(observed[-1])])


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


DETECTOR = SeasonalDetector()
