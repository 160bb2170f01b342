"""Time-of-day routines: an item that becomes active at about the same time on most days.

An item is what :func:`vigil.patterns.dayevents.activities` names: a Home Assistant entity
or ``<camera>:<label>``. Times are local wall-clock minutes of the source's zone.

**Summary** (per item and local day): ``minutes``, the first activity start in each
10-minute slot of the day in which the item started anything (ascending wall-clock
minutes, at most 144), and ``activations``, the day's activity starts.

**Detection** (per item over the window), on those minutes:

1. a circular kernel density (Gaussian, sigma 10 min) of the minutes finds the densest time;
2. each day contributes its minute nearest that time, if within 45 min (a minute just past
   midnight counts for the previous day when the routine is centred before midnight, so
   23:50 on one day and 00:10 on the next are two occurrences); the circular mean
   of those is the routine's time (re-centred until it settles) and their circular
   standard deviation its spread;
3. those minutes are removed and the next densest time is tried (up to 6), so an item can
   have a morning and an evening routine.

A routine's ``days_observed`` is the number of days it happened; ``days_covered`` the days
from the item's first to its last active day in the window. Chance is what a day with the
same number of active slots at random times would give: ``expected_days = sum over days of
1 - (1 - 91/1440) ** n_day``. The confidence is the share of days beyond chance,
``(days_observed - expected_days) / days_covered``, times a tightness
``1 / (1 + (spread / 30 min) ** 2)``: a busy item (active all day) or one active at random
times gets almost nothing. A pattern's key is ``<item>|<HH>h``, the full hour nearest its
time (``+`` appended for a second routine of the item near the same hour). Options read:
``window_days``, ``min_confidence``, ``min_days``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.patterns.base import DaySummary, DetectOptions, Pattern
from vigil.patterns.circular import (
    DAY_MINUTES,
    circular_distance,
    circular_mean,
    circular_std,
    day_numbers,
    encode,
    first_of_runs,
    hhmm,
    summary_lists,
    window_days,
)
from vigil.patterns.dayevents import activities

__all__ = ["DETECTOR", "TimeOfDayDetector"]

IntArray = npt.NDArray[np.int64]
SLOT_MINUTES = 10
RADIUS_MINUTES = 45
KERNEL_SIGMA = 10.0
SPREAD_SCALE = 30.0
MAX_PEAKS = 6
RECENTRE_STEPS = 5
RECENTRE_SLACK = 2
"""Days re-centring may add to a cluster: clusters further below the bar are skipped."""


def _kernel_fft() -> npt.NDArray[np.complex128]:
    offsets = circular_distance(np.arange(DAY_MINUTES), 0.0)
    return np.fft.rfft(np.exp(-0.5 * (offsets / KERNEL_SIGMA) ** 2))


_KERNEL = _kernel_fft()


@dataclass(frozen=True)
class _Routine:
    """One cluster of an item's daily activation minutes."""

    days: IntArray
    minutes: IntArray
    covered: int
    expected: float
    points: int

    @property
    def mean(self) -> float:
        return circular_mean(self.minutes)

    @property
    def spread(self) -> float:
        return circular_std(self.minutes)

    @property
    def confidence(self) -> float:
        excess = (len(self.days) - self.expected) / self.covered
        tightness = 1.0 / (1.0 + (self.spread / SPREAD_SCALE) ** 2)
        return round(float(np.clip(excess, 0.0, 1.0)) * tightness, 4)


def _first_per_slot(item: IntArray, day: IntArray, minute: npt.ArrayLike
                   ) -> tuple[IntArray, IntArray, IntArray]:
    """The first minute per item, day and 10-minute slot, sorted by item, day, minute."""
    minute = np.asarray(minute, dtype=np.int64)
    order = np.lexsort((minute, day, item))
    item, day, minute = item[order], day[order], minute[order]
    keep = first_of_runs(item, day, minute // SLOT_MINUTES)
    return item[keep], day[keep], minute[keep]


class TimeOfDayDetector:
    """Consistent activation times per item (see the module docstring)."""

    name = "time_of_day"

    def summarize(self, day: dt.date, events: pa.Table) -> dict[str, dict[str, Any]]:
        """Per item: the first activation minute of each 10-minute slot, and the count."""
        acts = activities(events)
        mine = acts.local_date == np.datetime64(day, "D")
        if not mine.any():
            return {}
        names, codes = encode(acts.item[mine])
        zeros = np.zeros(len(codes), dtype=np.int64)
        item, _, minute = _first_per_slot(codes, zeros, acts.minute[mine])
        starts = np.bincount(codes, minlength=len(names))
        bounds = np.searchsorted(item, np.arange(len(names) + 1))
        return {name: {"minutes": minute[bounds[i]:bounds[i + 1]].tolist(),
                       "activations": int(starts[i])}
                for i, name in enumerate(names)}

    def detect(self, summaries: Sequence[DaySummary], end: dt.date,
               options: DetectOptions) -> list[Pattern]:
        """Routines from the stored minutes of the window's days."""
        start, _ = window_days(end, options.window_days)
        names, codes, days, minutes = summary_lists(summaries, start, end, "minutes")
        return _routines(names, codes, days, minutes, start, options)

    def detect_raw(self, events: pa.Table, end: dt.date, options: DetectOptions
                   ) -> list[Pattern]:
        """Routines straight from the raw events of the window."""
        start, _ = window_days(end, options.window_days)
        dates = events.column("local_date")
        inside = pc.and_(pc.greater_equal(dates, pa.scalar(start, pa.date32())),
                         pc.less_equal(dates, pa.scalar(end, pa.date32())))
        acts = activities(events.filter(inside))
        names, codes = encode(acts.item)
        item, day, minute = _first_per_slot(codes, day_numbers(acts.local_date, start),
                                           acts.minute)
        return _routines(names, item, day, minute, start, options)


def _routines(names: list[str], item: IntArray, day: IntArray, minute: IntArray,
              start: dt.date, options: DetectOptions) -> list[Pattern]:
    order = np.lexsort((minute, day, item))
    item, day, minute = item[order], day[order], minute[order]
    bounds = np.searchsorted(item, np.arange(len(names) + 1))
    found: list[Pattern] = []
    for code, name in enumerate(names):
        part = slice(bounds[code], bounds[code + 1])
        if part.stop - part.start < options.min_days:
            continue
        routines = [r for r in _clusters(day[part], minute[part], options)
                    if len(r.days) >= options.min_days
                    and r.confidence >= options.min_confidence]
        found += _patterns(name, routines, start, options)
    return sorted(found, key=lambda p: p.key)


def _clusters(day: IntArray, minute: IntArray, options: DetectOptions) -> list[_Routine]:
    """The item's clusters of daily minutes that may reach the options' bars."""
    first = int(day.min())
    covered = int(day.max()) - first + 1
    per_day = np.bincount(day - first, minlength=covered)
    reach = (2 * RADIUS_MINUTES + 1) / DAY_MINUTES
    expected = float(np.sum(1.0 - (1.0 - reach) ** per_day[per_day > 0]))
    # Days a cluster needs for min_days and, at a perfect tightness, min_confidence.
    needed = max(options.min_days, expected + options.min_confidence * covered)
    remaining = np.ones(len(minute), dtype=bool)
    found: list[_Routine] = []
    for _ in range(MAX_PEAKS):
        if len(np.unique(day[remaining])) < needed:
            break
        centre = _densest(minute[remaining])
        days, minutes = _nearest_per_day(day, minute, remaining, centre)
        promising = len(days) + RECENTRE_SLACK >= needed
        for _ in range(RECENTRE_STEPS if promising else 0):
            mean = circular_mean(minutes)
            if float(circular_distance(mean, centre)) < 0.5:
                break
            centre = mean
            days, minutes = _nearest_per_day(day, minute, remaining, centre)
        region = remaining & (circular_distance(minute, centre) <= RADIUS_MINUTES)
        if promising and len(days):
            found.append(_Routine(days, minutes, covered, expected, int(region.sum())))
        remaining &= ~region
    return found


def _densest(minute: IntArray) -> float:
    """The minute of the day where the kernel density of ``minute`` peaks."""
    hist = np.bincount(minute % DAY_MINUTES, minlength=DAY_MINUTES).astype(np.float64)
    density = np.fft.irfft(np.fft.rfft(hist) * _KERNEL, n=DAY_MINUTES)
    return float(np.argmax(np.round(density, 9)))


def _nearest_per_day(day: IntArray, minute: IntArray, remaining: npt.NDArray[np.bool_],
                     centre: float) -> tuple[IntArray, IntArray]:
    """Per day, the remaining minute nearest ``centre`` (within the radius)."""
    distance = circular_distance(minute, centre)
    near = np.flatnonzero(remaining & (distance <= RADIUS_MINUTES))
    instance = _instance_day(day[near], minute[near], centre)
    instance = np.clip(instance, day.min(), day.max())
    order = np.lexsort((minute[near], distance[near], instance))
    keep = first_of_runs(instance[order])
    return instance[order][keep], minute[near][order][keep]


def _instance_day(day: IntArray, minute: IntArray, centre: float) -> IntArray:
    """The day of the routine occurrence each minute belongs to: 00:05 belongs to the
    previous evening's occurrence of a routine centred at 23:55."""
    offset = (day * DAY_MINUTES + minute - centre) / DAY_MINUTES
    return np.asarray(np.rint(offset), dtype=np.int64)


def _patterns(name: str, routines: list[_Routine], start: dt.date,
              options: DetectOptions) -> list[Pattern]:
    found: list[Pattern] = []
    used: set[str] = set()
    for routine in sorted(routines, key=lambda r: r.mean):
        mean, spread, observed = routine.mean, routine.spread, len(routine.days)
        key = f"{name}|{int(round(mean / 60)) % 24:02d}h"  # the nearest full hour
        while key in used:
            key += "+"
        used.add(key)
        evidence = {
            "days_observed": observed, "days_covered": routine.covered,
            "days_in_window": options.window_days,
            "expected_days": round(routine.expected, 3),
            "share": round(observed / routine.covered, 4), "time": hhmm(mean),
            "mean_minute": round(mean, 2), "spread_min": round(spread, 2),
            "activations_near": routine.points,
        }
        found.append(Pattern(
            type="time_of_day", key=key, entities=(name,), confidence=routine.confidence,
            description=(f"{name} becomes active around {hhmm(mean)} (±{spread:.0f} min) "
                         f"on {observed} of {routine.covered} days"),
            evidence=evidence,
            first_seen=start + dt.timedelta(days=int(routine.days.min())),
            last_seen=start + dt.timedelta(days=int(routine.days.max()))))
    return found


DETECTOR = TimeOfDayDetector()
