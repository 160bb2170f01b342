"""Co-occurrence: two items active within a few minutes of each other more often than chance.

Time is counted in *active minutes*: the minutes of the local day in which an item started
an activity (see :func:`vigil.patterns.dayevents.activities`), counted in real time from
local midnight (so a DST day has 1380 or 1500; in a home whose sources span several zones,
from the earliest midnight to the latest end of the day, see
:func:`vigil.patterns.circular.day_span`). Two items are together in a minute of ``A``
when ``B`` has an active minute at most ``w = round(co_window_s / 60)`` minutes away
(``w`` at least 1), within the same local day.

**Summary** (per item and local day): ``day_minutes`` (the day's length in minutes),
``active`` (the item's active minutes as a bitmap: base64 of the packed bits, about 240
characters), ``active_minutes`` and ``activations``. The bitmap keeps detection exact for
any ``co_window_s``.

**Detection** (per ordered pair over the window's days): ``n_a`` active minutes of ``A``;
``together`` those with ``B`` within ``w``; ``expected`` the same by chance, ``sum over days
of n_a * cover_b / day_minutes`` where ``cover_b`` is how many minutes of the day lie within
``w`` of ``B``'s active minutes; ``lift = together / expected`` and ``confidence_a_b =
together / n_a`` (P(B near | A)). A direction counts when ``lift >= 2`` and ``together``
exceeds ``expected`` by at least 3 standard deviations (``sqrt(max(expected, 1))``); the
pair's confidence is the larger confidence of its counting directions and its
``days_observed`` the days on which the two were together at all; its key is ``A|B``
(names sorted). Options read: ``window_days``, ``co_window_s``, ``min_confidence``,
``min_days``.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.patterns.base import DaySummary, DetectOptions, Pattern
from vigil.patterns.circular import (
    day_numbers,
    day_spans,
    encode,
    first_of_runs,
    window_days,
)
from vigil.patterns.dayevents import activities

__all__ = ["DETECTOR", "CooccurrenceDetector", "decode_bitmap", "encode_bitmap",
           "window_minutes"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolMatrix = npt.NDArray[np.bool_]
MIN_LIFT = 2.0
MIN_EXCESS_SD = 3.0
MINUTE_MS = 60_000
MINUTE_SPAN = 4096
"""Key spacing of days in minutes: more than a local day spans across all time zones."""


def window_minutes(co_window_s: int) -> int:
    """The co-occurrence window in whole minutes (at least 1)."""
    return max(1, int(round(co_window_s / 60)))


def encode_bitmap(bits: npt.NDArray[np.bool_]) -> str:
    """Booleans as base64 text of their packed bits."""
    return base64.b64encode(np.packbits(bits).tobytes()).decode("ascii")


def decode_bitmap(text: str, size: int) -> npt.NDArray[np.bool_]:
    """The ``size`` booleans of :func:`encode_bitmap` text."""
    packed = np.frombuffer(base64.b64decode(text), dtype=np.uint8)
    bits = np.unpackbits(packed)[:size].astype(bool)
    return np.pad(bits, (0, size - len(bits))) if len(bits) < size else bits


@dataclass
class _Counts:
    """Sums over the window's days, indexed by item codes (ordered pairs as matrices)."""

    minutes: FloatArray
    together: FloatArray
    expected: FloatArray
    days: IntArray
    first: IntArray
    last: IntArray

    @classmethod
    def empty(cls, size: int) -> _Counts:
        return cls(np.zeros(size), np.zeros((size, size)), np.zeros((size, size)),
                   np.zeros((size, size), dtype=np.int64),
                   np.full((size, size), np.iinfo(np.int64).max, dtype=np.int64),
                   np.full((size, size), -1, dtype=np.int64))


class CooccurrenceDetector:
    """Pairs of items active close together more often than chance (module docstring)."""

    name = "cooccurrence"

    def summarize(self, day: dt.date, events: pa.Table) -> dict[str, dict[str, Any]]:
        """Per item: the day's active minutes as a bitmap, and counts."""
        acts = activities(events)
        mine = acts.local_date == np.datetime64(day, "D")
        if not mine.any():
            return {}
        origin, length = day_spans(events, [day])[day]
        size = -(-length // MINUTE_MS)
        names, codes = encode(acts.item[mine])
        minute = np.clip((acts.ts_ms[mine] - origin) // MINUTE_MS, 0, size - 1)
        presence = np.zeros((len(names), size), dtype=bool)
        presence[codes, minute] = True
        starts = np.bincount(codes, minlength=len(names))
        return {name: {"day_minutes": int(size), "active": encode_bitmap(presence[i]),
                       "active_minutes": int(presence[i].sum()),
                       "activations": int(starts[i])}
                for i, name in enumerate(names)}

    def detect(self, summaries: Sequence[DaySummary], end: dt.date,
               options: DetectOptions) -> list[Pattern]:
        """Pairs from the stored bitmaps of the window's days."""
        start, _ = window_days(end, options.window_days)
        mine = [s for s in summaries if start <= s.day <= end and "active" in s.fields]
        names = sorted({s.entity for s in mine})
        index = {name: i for i, name in enumerate(names)}
        counts = _Counts.empty(len(names))
        reach = window_minutes(options.co_window_s)
        by_day: dict[dt.date, list[DaySummary]] = {}
        for summary in mine:
            by_day.setdefault(summary.day, []).append(summary)
        for day, found in sorted(by_day.items()):
            size = max(int(s.fields["day_minutes"]) for s in found)
            codes = np.asarray([index[s.entity] for s in found], dtype=np.int64)
            presence = np.stack([decode_bitmap(str(s.fields["active"]), size) for s in found])
            _add_day(counts, codes, presence, reach, (day - start).days)
        return _pairs(names, counts, start, options)

    def detect_raw(self, events: pa.Table, end: dt.date, options: DetectOptions
                   ) -> list[Pattern]:
        """Pairs straight from the raw events of the window (interval arithmetic on sorted
        minutes rather than bitmaps)."""
        start, _ = window_days(end, options.window_days)
        dates = events.column("local_date")
        inside = pc.and_(pc.greater_equal(dates, pa.scalar(start, pa.date32())),
                         pc.less_equal(dates, pa.scalar(end, pa.date32())))
        window = events.filter(inside)
        acts = activities(window)
        names, codes = encode(acts.item)
        day = day_numbers(acts.local_date, start)
        origin = np.zeros(options.window_days, dtype=np.int64)
        size = np.ones(options.window_days, dtype=np.int64)
        for d, (midnight, length) in day_spans(window, acts.days()).items():
            origin[(d - start).days] = midnight
            size[(d - start).days] = -(-length // MINUTE_MS)
        minute = np.clip((acts.ts_ms - origin[day]) // MINUTE_MS, 0, size[day] - 1)
        return _pairs(names, _raw_counts(codes, day, minute, size, len(names),
                                         window_minutes(options.co_window_s)),
                      start, options)


def _dilate(presence: BoolMatrix, reach: int) -> BoolMatrix:
    """Each row's minutes within ``reach`` of a True minute."""
    sums = np.cumsum(np.pad(presence, ((0, 0), (reach + 1, reach))), axis=1, dtype=np.int32)
    return (sums[:, 2 * reach + 1:] - sums[:, :-(2 * reach + 1)]) > 0


def _overlaps(rows: BoolMatrix, others: BoolMatrix) -> FloatArray:
    """``[a, b]``: minutes True in row ``a`` of ``rows`` and row ``b`` of ``others`` (bit
    counts of packed rows: no BLAS threads, exact)."""
    mine, theirs = np.packbits(rows, axis=1), np.packbits(others, axis=1)
    both = np.bitwise_count(mine[:, None, :] & theirs[None, :, :])
    return np.asarray(both.sum(axis=2, dtype=np.int64), dtype=np.float64)


def _add_day(counts: _Counts, codes: IntArray, presence: BoolMatrix, reach: int,
             day: int) -> None:
    near = _dilate(presence, reach)
    minutes = presence.sum(axis=1).astype(np.float64)
    cover = near.sum(axis=1).astype(np.float64)
    together = _overlaps(presence, near)
    cell = np.ix_(codes, codes)
    counts.minutes[codes] += minutes
    counts.together[cell] += together
    counts.expected[cell] += np.outer(minutes, cover) / presence.shape[1]
    met = together > 0
    counts.days[cell] += met
    counts.first[cell] = np.where(met, np.minimum(counts.first[cell], day), counts.first[cell])
    counts.last[cell] = np.where(met, np.maximum(counts.last[cell], day), counts.last[cell])


def _raw_counts(item: IntArray, day: IntArray, minute: IntArray, size: IntArray,
                items: int, reach: int) -> _Counts:
    """The window's sums from (item, day, minute) rows, item by item."""
    key = (item * len(size) + day) * MINUTE_SPAN + minute
    key = np.unique(key)
    slot, minute = np.divmod(key, MINUTE_SPAN)
    item, day = np.divmod(slot, len(size))
    counts = _Counts.empty(items)
    per_day = np.zeros((items, len(size)))
    np.add.at(per_day, (item, day), 1.0)
    counts.minutes = per_day.sum(axis=1)
    cover = _cover(item, day, minute, size, reach, items)
    counts.expected = per_day @ (cover / size).T
    stamp = day * MINUTE_SPAN + minute
    bounds = np.searchsorted(item, np.arange(items + 1))
    for b in range(items):
        theirs = stamp[bounds[b]:bounds[b + 1]]
        at = np.searchsorted(theirs, stamp - reach)
        close = at < len(theirs)
        hit = theirs[at[close]]
        close[close] = (hit <= stamp[close] + reach) & (hit // MINUTE_SPAN == day[close])
        counts.together[:, b] = np.bincount(item[close], minlength=items)
        met = np.unique(item[close] * len(size) + day[close])
        met_item, met_day = met // len(size), met % len(size)
        counts.days[:, b] = np.bincount(met_item, minlength=items)
        np.minimum.at(counts.first[:, b], met_item, met_day)
        np.maximum.at(counts.last[:, b], met_item, met_day)
    return counts


def _cover(item: IntArray, day: IntArray, minute: IntArray, size: IntArray, reach: int,
           items: int) -> FloatArray:
    """Minutes of each (item, day) within ``reach`` of its minutes: a union of intervals,
    from rows sorted by item, day and minute."""
    first = first_of_runs(item, day)
    step = np.diff(minute, prepend=0)
    width = 2 * reach + 1
    part = np.where(first, width, np.minimum(step, width))
    part = part - np.where(first, np.maximum(0, reach - minute), 0)
    last = np.append(first[1:], True)
    part = part - np.where(last, np.maximum(0, minute + reach - (size[day] - 1)), 0)
    cover = np.zeros((items, len(size)))
    np.add.at(cover, (item, day), part.astype(np.float64))
    return cover


def _pairs(names: list[str], counts: _Counts, start: dt.date,
           options: DetectOptions) -> list[Pattern]:
    size = len(names)
    upper = np.triu(np.ones((size, size), dtype=bool), k=1)
    candidates = np.argwhere(upper & (counts.days >= max(1, options.min_days)))
    found: list[Pattern] = []
    for a, b in candidates:
        pattern = _pair(names, counts, int(a), int(b), start, options)
        if pattern is not None:
            found.append(pattern)
    return sorted(found, key=lambda p: p.key)


def _direction(counts: _Counts, a: int, b: int) -> tuple[float, float, bool]:
    """``(confidence, lift, counts)`` of "B near A"."""
    together, expected = counts.together[a, b], counts.expected[a, b]
    confidence = together / counts.minutes[a] if counts.minutes[a] else 0.0
    lift = together / expected if expected > 0 else math.inf
    excess = (together - expected) / math.sqrt(max(expected, 1.0))
    return confidence, lift, bool(lift >= MIN_LIFT and excess >= MIN_EXCESS_SD)


def _pair(names: list[str], counts: _Counts, a: int, b: int, start: dt.date,
          options: DetectOptions) -> Pattern | None:
    conf_ab, lift_ab, ok_ab = _direction(counts, a, b)
    conf_ba, lift_ba, ok_ba = _direction(counts, b, a)
    chosen = [(conf, lift, x, y) for conf, lift, ok, x, y in
              ((conf_ab, lift_ab, ok_ab, a, b), (conf_ba, lift_ba, ok_ba, b, a)) if ok]
    if not chosen:
        return None
    confidence, lift, x, y = max(chosen, key=lambda c: (c[0], -c[2]))
    days = int(counts.days[a, b])
    if confidence < options.min_confidence:
        return None
    reach = window_minutes(options.co_window_s)
    evidence = {
        "days_observed": days, "days_in_window": options.window_days, "window_min": reach,
        "minutes_a": int(counts.minutes[a]), "minutes_b": int(counts.minutes[b]),
        "together_a_b": int(counts.together[a, b]), "together_b_a": int(counts.together[b, a]),
        "expected_a_b": round(float(counts.expected[a, b]), 3),
        "expected_b_a": round(float(counts.expected[b, a]), 3),
        "confidence_a_b": round(float(conf_ab), 4),
        "confidence_b_a": round(float(conf_ba), 4),
        "lift_a_b": _finite(lift_ab), "lift_b_a": _finite(lift_ba), "lift": _finite(lift),
        "support": round(days / options.window_days, 4),
    }
    return Pattern(
        type="cooccurrence", key=f"{names[a]}|{names[b]}", entities=(names[a], names[b]),
        confidence=round(min(1.0, float(confidence)), 4),
        description=(f"{names[a]} and {names[b]} are active within {reach} min of each "
                     f"other: {confidence:.0%} of {names[x]}'s active minutes have "
                     f"{names[y]} close by (lift {_finite(lift):.1f}), on {days} days"),
        evidence=evidence,
        first_seen=start + dt.timedelta(days=int(counts.first[a, b])),
        last_seen=start + dt.timedelta(days=int(counts.last[a, b])))


def _finite(value: float) -> float:
    """A JSON-safe ratio (an infinite lift is reported as 1e6)."""
    return round(float(value), 3) if math.isfinite(value) else 1e6


DETECTOR = CooccurrenceDetector()
