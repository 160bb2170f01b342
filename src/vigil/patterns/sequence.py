"""Sequences: item ``B`` starts within a short window after item ``A``, more often than chance.

Items are those of :func:`vigil.patterns.dayevents.activities`. An item's *episode* starts
with an activity start when the item started nothing in the minute before (so a burst of
detections is one occurrence). ``B follows A`` when an episode of ``B`` starts after an
episode start of ``A`` (strictly later) and at most ``co_window_s`` after it, on the same
local day; the gap is the time to the first such start. Order matters: ``A → B`` and
``B → A`` are separate sequences.

**Summary** (per item and local day): ``starts``, the episode starts in milliseconds since
local midnight (real time, so gaps across a DST change are true; at most one a minute;
several zones: since the earliest midnight, see :func:`vigil.patterns.circular.day_span`),
``day_ms`` (the day's length) and ``activations``. Detection is exact for any window.

**Detection** (per ordered pair over the window): ``occurrences`` episodes of ``A``;
``followed`` of them with ``B`` following; ``confidence = followed / occurrences``
(P(B follows A within the window | A)); ``expected`` the same by chance, ``sum over days of
occurrences_a * cover_b / day_ms`` where ``cover_b`` is the time of day from which a ``B``
start lies within the window ahead; ``lift = followed / expected``. A sequence needs
``lift >= 2``, ``followed`` at least 3 standard deviations (``sqrt(max(expected, 1))``)
above chance, ``min_days`` days on which it happened and ``min_confidence``. Its key is
``A>B``; its evidence has the median and 90th percentile of the gaps. Counting start by
start for every pair would take items x starts steps: an upper bound of ``followed`` from
time bins, for all pairs in one matrix product, picks the few pairs that could pass, and
only those are counted exactly (:func:`_candidates`).

**Three steps** ``A → B → C``: only when ``A → B`` and ``B → C`` are both reported; counted
when the ``B`` that follows an ``A`` is itself followed by ``C`` within the window; its
confidence is the share of ``A``'s episodes that start the whole chain (key ``A>B>C``).
Options read: ``window_days``, ``co_window_s``, ``min_confidence``, ``min_days``.
"""

from __future__ import annotations

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
    episode_starts,
    first_of_runs,
    summary_lists,
    window_days,
)
from vigil.patterns.dayevents import activities

__all__ = ["DETECTOR", "EPISODE_GAP_MS", "SequenceDetector"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
EPISODE_GAP_MS = 60_000
DAY_SPAN = 10**9
"""Key spacing of days in ms: more than a local day spans across all time zones."""
MIN_LIFT = 2.0
MIN_EXCESS_SD = 3.0
BOUND_BIN_MS = 120_000
"""The finest time bin of the candidate bound (:func:`_followed_bound`)."""
BOUND_BLOCK_BINS = 8192
"""Bins (items x bins float32 matrices) per matrix product of the bound."""
FOLLOW_CHUNK_ROWS = 4_000_000
"""About how many starts :func:`_followed` searches at once."""


@dataclass(frozen=True)
class _Starts:
    """Episode starts of the window: item, day, key (``day * DAY_SPAN + ms``), sorted by
    item then key (item ``i`` from ``bounds[i]`` to ``bounds[i + 1]``); each day's length;
    each item's keys."""

    names: list[str]
    item: IntArray
    day: IntArray
    key: IntArray
    day_ms: IntArray
    bounds: IntArray
    by_item: list[IntArray]

    @classmethod
    def of(cls, names: list[str], item: IntArray, day: IntArray, offset: IntArray,
           day_ms: IntArray) -> _Starts:
        key = day * DAY_SPAN + offset
        if not _by_item_and_key(item, key):
            order = _item_order(item, len(names))
            item, day, key = item[order], day[order], key[order]
            if not _by_item_and_key(item, key):
                order = np.lexsort((key, item))
                item, day, key = item[order], day[order], key[order]
        bounds = np.searchsorted(item, np.arange(len(names) + 1))
        by_item = [key[bounds[i]:bounds[i + 1]] for i in range(len(names))]
        return cls(names, item, day, key, day_ms, bounds, by_item)

    def rows(self, item: int) -> IntArray:
        """The positions of ``item``'s starts, in time order."""
        return np.arange(self.bounds[item], self.bounds[item + 1])

    def follow(self, after: IntArray, limit: IntArray, item: int
               ) -> tuple[npt.NDArray[np.bool_], IntArray]:
        """For each key of ``after``: whether ``item`` starts after it, at most at ``limit``
        (see :func:`_limits`), and the key of that start."""
        theirs = self.by_item[item]
        if not len(theirs):
            return np.zeros(len(after), dtype=bool), np.full(len(after), -1, dtype=np.int64)
        at = np.searchsorted(theirs, after, side="right")
        nxt = theirs[np.minimum(at, len(theirs) - 1)]
        return (at < len(theirs)) & (nxt <= limit), nxt


def _by_item_and_key(item: IntArray, key: IntArray) -> bool:
    """Whether the rows are sorted by item, then key."""
    step = np.diff(item)
    return bool(np.all((step > 0) | ((step == 0) & (np.diff(key) >= 0))))


def _item_order(item: IntArray, items: int) -> IntArray:
    """The stable order by item (a radix sort on 16-bit codes when they fit)."""
    codes = item.astype(np.uint16) if items <= 2**16 else item
    return np.asarray(np.argsort(codes, kind="stable"), dtype=np.int64)


def _limits(keys: IntArray, window_ms: int) -> IntArray:
    """The last key within the window after each key, on the same day."""
    return np.minimum(keys + window_ms, (keys // DAY_SPAN + 1) * DAY_SPAN - 1)


class SequenceDetector:
    """Ordered sequences of items within a window (see the module docstring)."""

    name = "sequence"

    def summarize(self, day: dt.date, events: pa.Table) -> dict[str, dict[str, Any]]:
        """Per item: the day's episode starts (ms since local midnight) and counts."""
        acts = activities(events)
        mine = acts.local_date == np.datetime64(day, "D")
        if not mine.any():
            return {}
        origin, length = day_spans(events, [day])[day]
        names, codes = encode(acts.item[mine])
        ts = acts.ts_ms[mine]
        order = np.lexsort((ts, codes))
        codes, ts = codes[order], ts[order]
        starts = episode_starts(codes, np.zeros_like(codes), ts, EPISODE_GAP_MS)
        offset = np.clip(ts - origin, 0, length - 1)
        count = np.bincount(codes, minlength=len(names))
        bounds = np.searchsorted(codes, np.arange(len(names) + 1))
        return {name: {"starts": offset[bounds[i]:bounds[i + 1]][
                           starts[bounds[i]:bounds[i + 1]]].tolist(),
                       "day_ms": int(length), "activations": int(count[i])}
                for i, name in enumerate(names)}

    def detect(self, summaries: Sequence[DaySummary], end: dt.date,
               options: DetectOptions) -> list[Pattern]:
        """Sequences from the stored episode starts of the window's days."""
        start, _ = window_days(end, options.window_days)
        day_ms = np.ones(options.window_days, dtype=np.int64)
        for summary in summaries:
            if start <= summary.day <= end and "day_ms" in summary.fields:
                day_ms[(summary.day - start).days] = int(summary.fields["day_ms"])
        names, codes, days, offsets = summary_lists(summaries, start, end, "starts")
        starts = _Starts.of(names, codes, days, offsets, day_ms)
        return _sequences(starts, start, options)

    def detect_raw(self, events: pa.Table, end: dt.date, options: DetectOptions
                   ) -> list[Pattern]:
        """Sequences straight from the raw events of the window."""
        start, _ = window_days(end, options.window_days)
        dates = events.column("local_date")
        inside = pc.and_(pc.greater_equal(dates, pa.scalar(start, pa.date32())),
                         pc.less_equal(dates, pa.scalar(end, pa.date32())))
        window = events.filter(inside)
        acts = activities(window)
        names, codes = encode(acts.item)
        day = day_numbers(acts.local_date, start)
        origin = np.zeros(options.window_days, dtype=np.int64)
        day_ms = np.ones(options.window_days, dtype=np.int64)
        for d, (midnight, length) in day_spans(window, acts.days()).items():
            origin[(d - start).days], day_ms[(d - start).days] = midnight, length
        order = np.lexsort((acts.ts_ms, day, codes))
        codes, day, ts = codes[order], day[order], acts.ts_ms[order]
        keep = episode_starts(codes, day, ts, EPISODE_GAP_MS)
        offset = np.clip(ts - origin[day], 0, day_ms[day] - 1)
        starts = _Starts.of(names, codes[keep], day[keep], offset[keep], day_ms)
        return _sequences(starts, start, options)


@dataclass(frozen=True)
class _Pair:
    a: int
    b: int
    followed: int
    expected: float
    days: IntArray
    gaps: IntArray

    @property
    def lift(self) -> float:
        return self.followed / self.expected if self.expected > 0 else math.inf


def _sequences(starts: _Starts, start: dt.date, options: DetectOptions) -> list[Pattern]:
    size, window_ms = len(starts.names), options.co_window_s * 1000
    occurrences = np.bincount(starts.item * len(starts.day_ms) + starts.day,
                              minlength=size * len(starts.day_ms)).astype(np.float64)
    occurrences = occurrences.reshape(size, len(starts.day_ms))
    expected = occurrences @ (_cover(starts, window_ms) / starts.day_ms).T
    total = occurrences.sum(axis=1)
    limits = _limits(starts.key, window_ms)
    pairs: dict[tuple[int, int], _Pair] = {}
    candidates = _candidates(starts, expected, total, window_ms, options)
    for (a, b), followed in zip(candidates.tolist(),
                                _followed(starts, limits, candidates, window_ms).tolist(),
                                strict=True):
        if followed < max(1, options.min_days):
            continue
        pair = _Pair(a, b, followed, float(expected[a, b]),
                     np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        if not _frequent(pair, total[a], options, check_days=False):
            continue
        rows = starts.rows(a)
        ok, nxt = starts.follow(starts.key[rows], limits[rows], b)
        mine = rows[ok]
        pair = _Pair(a, b, followed, pair.expected, np.unique(starts.day[mine]),
                     nxt[ok] - starts.key[mine])
        if _frequent(pair, total[a], options):
            pairs[(a, b)] = pair
    found = [_pair_pattern(starts, p, total[p.a], start, options) for p in pairs.values()]
    found += _triples(starts, pairs, total, start, options)
    return sorted(found, key=lambda p: p.key)


def _candidates(starts: _Starts, expected: FloatArray, total: FloatArray, window_ms: int,
                options: DetectOptions) -> IntArray:
    """The ordered pairs ``(a, b)`` that may be frequent: those whose upper bound of
    ``followed`` (:func:`_followed_bound`) passes every test of :func:`_frequent` but the
    days. Only these are counted exactly."""
    bound = _followed_bound(starts, window_ms)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(expected > 0, bound / expected, np.inf)
        excess = (bound - expected) / np.sqrt(np.maximum(expected, 1.0))
        share = bound / total[:, None]
    slack = 1.0 - 1e-9  # the exact test decides; the bound only has to let it through
    maybe = ((bound >= max(1, options.min_days)) & (lift >= MIN_LIFT * slack)
             & (excess >= MIN_EXCESS_SD * slack)
             & (share >= options.min_confidence * slack))
    np.fill_diagonal(maybe, False)
    return np.argwhere(maybe).astype(np.int64)


def _followed(starts: _Starts, limits: IntArray, pairs: IntArray, window_ms: int
              ) -> IntArray:
    """``followed`` of each pair ``(a, b)`` (rows of ``pairs``): :meth:`_Starts.follow`
    for many pairs at once, each pair's keys moved into a range of its own so that one
    search over all the ``B`` keys answers every ``A`` start."""
    found = np.zeros(len(pairs), dtype=np.int64)
    if not len(pairs) or not len(starts.key):
        return found
    base = int(starts.key.min())
    shift = int(starts.key.max()) - base + window_ms + 1
    sizes = np.diff(starts.bounds)
    per_chunk = max(1, min(2**62 // shift, FOLLOW_CHUNK_ROWS // max(1, int(sizes.max()))))
    for first in range(0, len(pairs), per_chunk):
        chunk = pairs[first:first + per_chunk]
        a_rows, a_pair = _ragged(starts.bounds, chunk[:, 0])
        b_rows, b_pair = _ragged(starts.bounds, chunk[:, 1])
        theirs = starts.key[b_rows] - base + b_pair * shift
        if not len(theirs):
            continue
        after = starts.key[a_rows] - base + a_pair * shift
        at = np.searchsorted(theirs, after, side="right")
        nxt = theirs[np.minimum(at, len(theirs) - 1)]
        ok = (at < len(theirs)) & (nxt <= limits[a_rows] - base + a_pair * shift)
        found[first:first + len(chunk)] = np.bincount(a_pair[ok], minlength=len(chunk))
    return found


def _ragged(bounds: IntArray, items: IntArray) -> tuple[IntArray, IntArray]:
    """The positions of each of ``items`` in turn (item ``i`` holds ``bounds[i]`` to
    ``bounds[i + 1]``), and the index in ``items`` each belongs to."""
    sizes = bounds[items + 1] - bounds[items]
    owner = np.repeat(np.arange(len(items)), sizes)
    first = np.repeat(bounds[items] - (np.cumsum(sizes) - sizes), sizes)
    return np.arange(len(owner)) + first, owner


def _followed_bound(starts: _Starts, window_ms: int) -> FloatArray:
    """``[a, b]``: at least ``followed`` of the pair, from time bins as long as the window
    (at least :data:`BOUND_BIN_MS`): an ``A`` start in bin ``k`` can only be followed by a
    ``B`` start in bins ``k`` to ``k + ceil(window / bin)`` of its day, so the ``A``
    starts per bin times "a ``B`` start in those bins" bounds the count. One matrix
    product (exact in float32: small integers) per block of days."""
    size = len(starts.names)
    bound = np.zeros((size, size))
    if not len(starts.key):
        return bound
    bin_ms = max(BOUND_BIN_MS, window_ms)
    reach = -(-window_ms // bin_ms)
    day = starts.key // DAY_SPAN  # the day the window is clipped to (see _limits)
    day -= day.min()
    column = (starts.key % DAY_SPAN) // bin_ms
    stride = int(column.max()) + 1 + reach  # empty bins end each day: no spill over
    block = day // max(1, BOUND_BLOCK_BINS // stride)
    order = np.argsort(block.astype(np.uint16) if block.max() < 2**16 else block,
                       kind="stable")
    edges = np.searchsorted(block[order], np.arange(int(block.max()) + 2))
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        rows = order[lo:hi]
        if not len(rows):
            continue
        first = int(day[rows].min())
        width = (int(day[rows].max()) - first + 1) * stride
        at = (day[rows] - first) * stride + column[rows]
        counts = np.bincount(starts.item[rows] * width + at, minlength=size * width)
        counts = counts.reshape(size, width)
        ahead = counts > 0
        for step in range(1, reach + 1):
            ahead[:, :-step] |= counts[:, step:] > 0
        bound += counts.astype(np.float32) @ ahead.astype(np.float32).T
    return bound


def _cover(starts: _Starts, window_ms: int) -> FloatArray:
    """Per item and day: the time from which one of the item's starts lies within the
    window ahead (the union of ``[start - window, start)``, clipped at midnight)."""
    item, day, key = starts.item, starts.day, starts.key
    first = first_of_runs(item, day)
    step = np.diff(key, prepend=0)
    part = np.where(first, np.minimum(key - day * DAY_SPAN, window_ms),
                    np.minimum(step, window_ms))
    days = len(starts.day_ms)
    cover = np.bincount(item * days + day, weights=part.astype(np.float64),
                        minlength=len(starts.names) * days)
    return np.asarray(cover, dtype=np.float64).reshape(len(starts.names), days)


def _frequent(pair: _Pair, occurrences: float, options: DetectOptions,
              check_days: bool = True) -> bool:
    excess = (pair.followed - pair.expected) / math.sqrt(max(pair.expected, 1.0))
    enough = not check_days or len(pair.days) >= max(1, options.min_days)
    return (enough and pair.lift >= MIN_LIFT
            and excess >= MIN_EXCESS_SD
            and pair.followed / occurrences >= options.min_confidence)


def _seconds(ms: float) -> float:
    return round(ms / 1000.0, 1)


def _span(ms: float) -> str:
    seconds = int(round(ms / 1000.0))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min" if not rest else f"{minutes} min {rest} s"


def _pair_pattern(starts: _Starts, pair: _Pair, occurrences: float, start: dt.date,
                  options: DetectOptions) -> Pattern:
    a, b = starts.names[pair.a], starts.names[pair.b]
    confidence = float(pair.followed / occurrences)
    median, p90 = (float(np.percentile(pair.gaps, q, method="lower")) for q in (50, 90))
    evidence: dict[str, Any] = {
        "days_observed": len(pair.days), "days_in_window": options.window_days,
        "occurrences": int(occurrences), "followed": pair.followed,
        "expected": round(pair.expected, 3), "lift": _finite(pair.lift),
        "median_gap_s": _seconds(median), "p90_gap_s": _seconds(p90),
        "window_s": options.co_window_s,
    }
    return Pattern(
        type="sequence", key=f"{a}>{b}", entities=(a, b),
        confidence=round(min(1.0, confidence), 4),
        description=(f"{a} is followed by {b} within {_span(options.co_window_s * 1000)} "
                     f"in {confidence:.0%} of cases (typically after {_span(median)}, "
                     f"90% within {_span(p90)}), on {len(pair.days)} days"),
        evidence=evidence, first_seen=start + dt.timedelta(days=int(pair.days.min())),
        last_seen=start + dt.timedelta(days=int(pair.days.max())))


def _triples(starts: _Starts, pairs: dict[tuple[int, int], _Pair], total: FloatArray,
             start: dt.date, options: DetectOptions) -> list[Pattern]:
    window_ms = options.co_window_s * 1000
    found: list[Pattern] = []
    for (a, b) in sorted(pairs):
        for (b2, c) in sorted(pairs):
            if b2 != b or c == b:
                continue
            rows = np.flatnonzero(starts.item == a)
            ok_b, at_b = starts.follow(starts.key[rows], _limits(starts.key[rows], window_ms), b)
            rows, at_b = rows[ok_b], at_b[ok_b]
            ok_c, at_c = starts.follow(at_b, _limits(at_b, window_ms), c)
            chained = int(ok_c.sum())
            days = np.unique(starts.day[rows[ok_c]])
            confidence = chained / total[a] if total[a] else 0.0
            if len(days) < max(1, options.min_days) or confidence < options.min_confidence:
                continue
            found.append(_triple_pattern(starts, (a, b, c), chained, float(total[a]), days,
                                         (at_b[ok_c] - starts.key[rows[ok_c]],
                                          at_c[ok_c] - at_b[ok_c]), start, options))
    return found


def _triple_pattern(starts: _Starts, chain: tuple[int, int, int], chained: int,
                    occurrences: float, days: IntArray, gaps: tuple[IntArray, IntArray],
                    start: dt.date, options: DetectOptions) -> Pattern:
    a, b, c = (starts.names[i] for i in chain)
    confidence = float(chained / occurrences)
    first_gap, second_gap = (float(np.percentile(g, 50, method="lower")) for g in gaps)
    evidence: dict[str, Any] = {
        "days_observed": len(days), "days_in_window": options.window_days,
        "occurrences": int(occurrences), "followed": chained,
        "median_gap_s": _seconds(first_gap), "median_second_gap_s": _seconds(second_gap),
        "window_s": options.co_window_s,
    }
    return Pattern(
        type="sequence", key=f"{a}>{b}>{c}", entities=(a, b, c),
        confidence=round(min(1.0, confidence), 4),
        description=(f"{a} is followed by {b} and then {c} (each within "
                     f"{_span(options.co_window_s * 1000)}) in {confidence:.0%} of cases, "
                     f"typically after {_span(first_gap)} and {_span(second_gap)}, "
                     f"on {len(days)} days"),
        evidence=evidence, first_seen=start + dt.timedelta(days=int(days.min())),
        last_seen=start + dt.timedelta(days=int(days.max())))


def _finite(value: float) -> float:
    """A JSON-safe ratio (an infinite lift is reported as 1e6)."""
    return round(float(value), 3) if math.isfinite(value) else 1e6


DETECTOR = SequenceDetector()
