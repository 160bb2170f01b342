"""Activity over time with its expected band: counts per local day or hour of a source, each
with what the same weekday (and hour) of the previous weeks leads one to expect.

Expected value of a point at local date ``d`` (and local hour ``h`` for hour buckets): take
the counts of ``d - 7k`` (hour ``h``) for ``k = 1..weeks``, but only of weeks on or after the
source's first local day of data (a week before the source existed is not a zero). With at
least two such weeks, ``expected`` is their mean and the band is ``mean ± 2 × sample
standard deviation``, ``low`` clipped at 0; with fewer, ``expected``, ``low`` and ``high``
are ``None`` (still learning). The point's own count is never used, so an unusual day falls
outside its band.

Hours are the local hours of the hourly counts. A spring-forward day has 23 points (the
skipped hour does not exist; for an earlier week's point at that hour, the week is left
out). The repeated hour of a fall-back day is one local hour in the counts: that day has 24
points, its repeated hour covering two hours of real time (``utc`` is the first of them).

Everything here is pure: rows in, points out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from vigil.model import ALL_LABELS

__all__ = ["Activity", "ActivityPoint", "Bucket", "compute_activity", "history_start"]

Bucket = Literal["day", "hour"]
BAND_WIDTH = 2.0  # standard deviations either side of the mean
MIN_WEEKS = 2  # weeks needed for an expectation
_HOUR = dt.timedelta(hours=1)
_MIDNIGHT = dt.time()


@dataclass(frozen=True, slots=True)
class ActivityPoint:
    """One bucket: its local start (a date, or a naive local datetime for hours), the UTC
    instant it starts, its count and expectation."""

    start: dt.date | dt.datetime
    utc: dt.datetime
    count: int
    expected: float | None
    low: float | None
    high: float | None
    weeks_seen: int


@dataclass(frozen=True, slots=True)
class Activity:
    """The points of a range, the events per label over it and the events in all."""

    points: list[ActivityPoint]
    labels: dict[str, int]
    total: int


def history_start(start: dt.date, weeks: int) -> dt.date:
    """The first local day whose counts the expectation of a range starting at ``start``
    reads."""
    return start - dt.timedelta(weeks=weeks)


class _Calendar:
    """The local hours of consecutive days in a zone: which exist, which stored hour's counts
    each takes, and when each starts (UTC)."""

    def __init__(self, origin: dt.date, span: int, zone: ZoneInfo) -> None:
        bounds = [dt.datetime.combine(origin + dt.timedelta(days=i), _MIDNIGHT, zone)
                  .astimezone(dt.UTC) for i in range(span + 1)]
        self.midnights = bounds[:-1]
        self.exists = np.ones((span, 24), np.bool_)
        self.slots = np.tile(np.arange(24), (span, 1))
        self.changed: dict[int, list[dt.datetime | None]] = {}  # days with a clock change
        for i in range(span):
            if bounds[i + 1] - bounds[i] != dt.timedelta(hours=24):
                self._clock_change(i, origin + dt.timedelta(days=i), zone)

    def _clock_change(self, i: int, day: dt.date, zone: ZoneInfo) -> None:
        """Which hours of a day with a clock change exist (a clock there shows them)."""
        starts: list[dt.datetime | None] = []
        for hour in range(24):
            instant = dt.datetime.combine(day, dt.time(hour), zone).astimezone(dt.UTC)
            shown = instant.astimezone(zone)
            starts.append(instant if (shown.date(), shown.hour) == (day, hour) else None)
        real = [h for h in range(24) if starts[h] is not None]
        self.changed[i] = starts
        self.exists[i] = [s is not None for s in starts]
        # Counts of a missing hour (kept from a time the source had another zone) go to the
        # next hour that exists, as that clock reading is read in this zone.
        self.slots[i] = [h if starts[h] is not None else next((r for r in real if r > h), real[-1])
                         for h in range(24)]

    def hour_starts(self, i: int) -> list[dt.datetime | None]:
        """The first instant of each local hour of day ``i``; ``None`` where it does not
        exist."""
        if i in self.changed:
            return self.changed[i]
        midnight = self.midnights[i]
        return [midnight + h * _HOUR for h in range(24)]


def _band(counts: npt.NDArray[np.int64], usable: npt.NDArray[np.bool_], offset: int,
          weeks: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                               npt.NDArray[np.int64]]:
    """Per cell of days ``offset`` on: the mean and sample standard deviation of the usable
    cells 7, 14, ... ``7 * weeks`` days before it, and how many there are.

    The sums are integers, so the variance ``(n Σx² - (Σx)²) / (n (n - 1))`` is exact up to
    its one division."""
    shape = (counts.shape[0] - offset, counts.shape[1])
    seen, total, squares = (np.zeros(shape, np.int64) for _ in range(3))
    for k in range(1, weeks + 1):
        lag = slice(offset - 7 * k, counts.shape[0] - 7 * k)
        taken = np.where(usable[lag], counts[lag], 0)
        seen += usable[lag]
        total += taken
        squares += taken * taken
    mean = total / np.maximum(seen, 1)
    spread = (seen * squares - total * total) / np.maximum(seen * (seen - 1), 1)
    return mean, np.sqrt(np.maximum(spread, 0.0)), seen


def _tally(rows: Iterable[tuple[Any, ...]], calendar: _Calendar, origin: dt.date,
           start: dt.date) -> tuple[npt.NDArray[np.int64], dict[str, int]]:
    """Events per day and local hour of the calendar (the ``*`` rows), and per label from
    ``start`` on."""
    span = calendar.exists.shape[0]
    where = {origin + dt.timedelta(days=i): i for i in range(span)}
    days, hours, events = [], [], []
    labels: dict[str, int] = {}
    for local_date, local_hour, label, n in rows:
        index = where.get(local_date)
        if index is None:
            continue
        if label == ALL_LABELS:
            days.append(index)
            hours.append(local_hour)
            events.append(n)
        elif local_date >= start:
            labels[label] = labels.get(label, 0) + int(n)
    counts = np.zeros((span, 24), np.int64)
    at = np.array(days, np.int64)
    np.add.at(counts, (at, calendar.slots[at, np.array(hours, np.int64)]),
              np.array(events, np.int64))
    return counts, labels


def compute_activity(rows: Iterable[tuple[Any, ...]], timezone: str, start: dt.date,
                     end: dt.date, bucket: Bucket, weeks: int,
                     first_day: dt.date | None) -> Activity:
    """The points of local days ``start`` to ``end`` (inclusive) with their expected band.

    ``rows`` are ``(local_date, local_hour, label, events)`` hourly totals from at least
    :func:`history_start` to ``end`` (others are ignored); label ``*`` is every event once,
    the other labels count an event under each of its labels. ``first_day`` is the source's
    first local day with counts (``None``: no counts at all). See the module docstring for
    the definition of the band.
    """
    origin = history_start(start, weeks)
    span = (end - origin).days + 1
    calendar = _Calendar(origin, span, ZoneInfo(timezone))
    counts, labels = _tally(rows, calendar, origin, start)
    exists = calendar.exists
    if bucket == "day":
        counts, exists = counts.sum(axis=1, keepdims=True), np.ones((span, 1), np.bool_)
    known = np.zeros(span, np.bool_)
    if first_day is not None:
        known[max((first_day - origin).days, 0):] = True
    offset = 7 * weeks
    mean, std, seen = _band(counts, exists & known[:, None], offset, weeks)
    points = _points(calendar, offset, start, bucket, counts, mean, std, seen)
    ordered = dict(sorted(labels.items(), key=lambda item: (-item[1], item[0])))
    return Activity(points, ordered, int(counts[offset:].sum()))


def _points(calendar: _Calendar, offset: int, start: dt.date, bucket: Bucket,
            counts: npt.NDArray[np.int64], mean: npt.NDArray[np.float64],
            std: npt.NDArray[np.float64], seen: npt.NDArray[np.int64]) -> list[ActivityPoint]:
    """The points of the range's days (day ``offset`` of the calendar on), in time order."""
    points: list[ActivityPoint] = []
    expected, width = mean.tolist(), (BAND_WIDTH * std).tolist()
    weeks_seen, count = seen.tolist(), counts[offset:].tolist()
    for i in range(len(weeks_seen)):
        date = start + dt.timedelta(days=i)
        if bucket == "day":
            cells: list[tuple[int, dt.date | dt.datetime, dt.datetime | None]] = [
                (0, date, calendar.midnights[offset + i])]
        else:
            clock = dt.datetime.combine(date, _MIDNIGHT)
            cells = [(h, clock + h * _HOUR, utc)
                     for h, utc in enumerate(calendar.hour_starts(offset + i))]
        for column, local, utc in cells:
            if utc is None:
                continue
            n = weeks_seen[i][column]
            if n < MIN_WEEKS:
                points.append(ActivityPoint(local, utc, count[i][column], None, None, None, n))
                continue
            mid, half = expected[i][column], width[i][column]
            points.append(ActivityPoint(local, utc, count[i][column], mid,
                                        max(mid - half, 0.0), mid + half, n))
    return points
