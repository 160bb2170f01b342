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
(names sorted). From the bitmaps, every pair's ``expected`` is computed, but ``together``
only for the pairs whose upper bound from bins of a few minutes (one matrix product for
all pairs, see :class:`_Bound`) could pass the tests. Options read: ``window_days``,
``co_window_s``, ``min_confidence``, ``min_days``.
"""

from __future__ import annotations

import base64
import binascii
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
        """Pairs from the stored bitmaps of the window's days: every pair's expected
        count, a cheap upper bound of its ``together`` (:class:`_Bound`), and exact
        counts only for the pairs the bound lets through."""
        start, _ = window_days(end, options.window_days)
        mine = [s for s in summaries if start <= s.day <= end and "active" in s.fields]
        names = sorted({s.entity for s in mine})
        index = {name: i for i, name in enumerate(names)}
        counts = _Counts.empty(len(names))
        reach = window_minutes(options.co_window_s)
        by_day: dict[dt.date, list[DaySummary]] = {}
        for summary in mine:
            by_day.setdefault(summary.day, []).append(summary)
        sizes = {day: max(int(s.fields["day_minutes"]) for s in found)
                 for day, found in by_day.items()}
        bound = _Bound(len(names), len(by_day), max(sizes.values(), default=1), reach)
        days: list[_Day] = []
        for day, found in sorted(by_day.items()):
            codes = np.asarray([index[s.entity] for s in found], dtype=np.int64)
            presence = _presence([str(s.fields["active"]) for s in found], sizes[day])
            near = _dilate(presence, reach)
            days.append(_Day.of(codes, presence, near, (day - start).days))
            _add_expected(counts, days[-1], sizes[day])
            bound.add(codes, presence, near)
        upper = bound.together()
        candidates = _maybe_pairs(counts, upper, bound.days_both(), options)
        _add_exact(counts, days, candidates)
        return _pairs(names, counts, start, options, candidates)

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
    """Each row's minutes within ``reach`` of a True minute (ORs of shifted copies, the
    span doubling each time)."""
    width = 2 * reach + 1
    run = np.pad(presence, ((0, 0), (reach, reach)))
    span = 1  # run[:, m]: any True in padded minutes m .. m + span - 1
    while span < width:
        step = min(span, width - span)
        run[:, :-step] |= run[:, step:]
        span += step
    return run[:, :presence.shape[1]]


@dataclass(frozen=True)
class _Day:
    """One day's stored bitmaps: the items present (codes), their active minutes and the
    minutes near them as packed bits, and per item the two counts."""

    codes: IntArray
    active: npt.NDArray[np.uint8]
    near: npt.NDArray[np.uint8]
    minutes: FloatArray
    cover: FloatArray
    day: int

    @classmethod
    def of(cls, codes: IntArray, presence: BoolMatrix, near: BoolMatrix, day: int) -> _Day:
        active, close = np.packbits(presence, axis=1), np.packbits(near, axis=1)
        return cls(codes, active, close, _bit_sums(active), _bit_sums(close), day)


def _bit_sums(packed: npt.NDArray[np.uint8]) -> FloatArray:
    """The True bits of each packed row."""
    return np.asarray(np.bitwise_count(packed).sum(axis=1, dtype=np.int64), dtype=np.float64)


def _presence(texts: list[str], size: int) -> BoolMatrix:
    """The :func:`decode_bitmap` rows of one day's bitmaps, decoded together when they
    have one length without padding (they do when one day's summaries made them)."""
    length = len(texts[0])
    if length % 4 or any(len(t) != length or t.endswith("=") for t in texts):
        return np.stack([decode_bitmap(t, size) for t in texts])
    try:
        joined = base64.b64decode("".join(texts), validate=True)
    except binascii.Error:
        return np.stack([decode_bitmap(t, size) for t in texts])
    packed = np.frombuffer(joined, dtype=np.uint8)
    bits = np.unpackbits(packed.reshape(len(texts), -1), axis=1).astype(bool)
    if bits.shape[1] < size:
        return np.pad(bits, ((0, 0), (0, size - bits.shape[1])))
    return bits[:, :size]


def _add_expected(counts: _Counts, day: _Day, size: int) -> None:
    """Add one day's active minutes and expected counts (every ordered pair)."""
    minutes, cover = np.zeros(len(counts.minutes)), np.zeros(len(counts.minutes))
    minutes[day.codes], cover[day.codes] = day.minutes, day.cover
    counts.minutes[day.codes] += day.minutes
    counts.expected += np.outer(minutes, cover) / size  # absent items add 0.0: no change


class _Bound:
    """Upper bounds of ``together`` and of the days two items meet, from bins of
    ``width`` minutes (twice the window, at least 2): an active minute of ``A`` in a bin
    can only have ``B`` near when the bin holds a minute near ``B``. One matrix product
    over all days (float32: exact for these small integers)."""

    def __init__(self, items: int, days: int, minutes: int, reach: int) -> None:
        self.width = max(2, 2 * reach)
        self.bins = -(-minutes // self.width)
        self.active = np.zeros((items, days * self.bins), dtype=np.float32)
        self.near = np.zeros((items, days * self.bins), dtype=np.float32)
        self.present = np.zeros((items, days), dtype=np.float32)
        self._next = 0

    def add(self, codes: IntArray, presence: BoolMatrix, near: BoolMatrix) -> None:
        """Add the next day: its items, active minutes and minutes near them."""
        pad = ((0, 0), (0, self.bins * self.width - presence.shape[1]))
        shape = (len(codes), self.bins, self.width)
        columns = slice(self._next * self.bins, (self._next + 1) * self.bins)
        self.active[codes, columns] = np.pad(presence, pad).reshape(shape).sum(axis=2)
        self.near[codes, columns] = np.pad(near, pad).reshape(shape).any(axis=2)
        self.present[codes, self._next] = 1.0
        self._next += 1

    def together(self) -> FloatArray:
        """``[a, b]``: at least the minutes of ``A`` with ``B`` near."""
        return np.asarray(self.active @ self.near.T, dtype=np.float64)

    def days_both(self) -> FloatArray:
        """``[a, b]``: the days both were active (at least the days they met)."""
        return np.asarray(self.present @ self.present.T, dtype=np.float64)


def _add_exact(counts: _Counts, days: list[_Day], pairs: IntArray) -> None:
    """Exact ``together`` both ways, days met, first and last day of the pairs ``(a, b)``
    (rows of ``pairs``), from the packed bitmaps."""
    if not len(pairs):
        return
    a, b = pairs[:, 0], pairs[:, 1]
    at = np.full(len(counts.minutes), -1, dtype=np.int64)
    for day in days:
        at[:] = -1
        at[day.codes] = np.arange(len(day.codes))
        both = np.flatnonzero((at[a] >= 0) & (at[b] >= 0))
        if not len(both):
            continue
        ra, rb = at[a[both]], at[b[both]]
        ab = np.bitwise_count(day.active[ra] & day.near[rb]).sum(axis=1, dtype=np.int64)
        ba = np.bitwise_count(day.active[rb] & day.near[ra]).sum(axis=1, dtype=np.int64)
        first, second = a[both], b[both]
        counts.together[first, second] += ab
        counts.together[second, first] += ba
        first, second = first[ab > 0], second[ab > 0]
        counts.days[first, second] += 1
        counts.first[first, second] = np.minimum(counts.first[first, second], day.day)
        counts.last[first, second] = np.maximum(counts.last[first, second], day.day)


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


def _pairs(names: list[str], counts: _Counts, start: dt.date, options: DetectOptions,
           candidates: IntArray | None = None) -> list[Pattern]:
    """The patterns of the pairs ``a < b`` (of ``candidates`` when given, else of every pair
    that may be one, see :func:`_maybe_pairs`)."""
    if candidates is None:
        candidates = _maybe_pairs(counts, counts.together, counts.days.astype(np.float64),
                                  options)
    found: list[Pattern] = []
    for a, b in candidates:
        if counts.days[a, b] < max(1, options.min_days):
            continue
        pattern = _pair(names, counts, int(a), int(b), start, options)
        if pattern is not None:
            found.append(pattern)
    return sorted(found, key=lambda p: p.key)


def _maybe_pairs(counts: _Counts, together: FloatArray, days: FloatArray,
                 options: DetectOptions) -> IntArray:
    """The pairs ``(a, b)``, ``a < b``, that pass every test of :func:`_pair` when their
    ``together`` (both ways) and days are at most ``together`` and ``days`` (upper bounds
    or the exact counts), with the exact expected counts; :func:`_pair` decides."""
    expected, minutes = counts.expected, counts.minutes[:, None]
    slack = 1.0 - 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(expected > 0, together / expected, np.inf)
        excess = (together - expected) / np.sqrt(np.maximum(expected, 1.0))
        share = np.where(minutes > 0, together / minutes, 0.0)
    way = ((lift >= MIN_LIFT * slack) & (excess >= MIN_EXCESS_SD * slack)
           & (share >= options.min_confidence * slack))
    maybe = (way | way.T) & (days >= max(1, options.min_days))
    return np.argwhere(np.triu(maybe, k=1)).astype(np.int64)


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
