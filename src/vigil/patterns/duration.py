"""Durations: how long states last, per entity, and the unusually long ones.

Two kinds of span, each attributed to the local day of its start:

- a Home Assistant entity (``state_changed`` events of one ``source_id``) is *on* from a
  change to an active state (:data:`vigil.patterns.dayevents.ACTIVE_STATES`) while it was
  inactive, until its next change to an inactive state. "Was inactive" is the previous
  change of the entity that day, or for its first change of the day ``attributes.old_state``
  (missing: inactive). Changes between two active states (``on`` to ``on``, attribute
  updates) continue the span;
- a visit at a camera (entity ``<source>:entry``): an ``entry`` and the next ``exit`` of
  the same ``subject_id`` at the same source (at one instant an exit comes before an entry).
  An entry followed by another entry of the subject is ``superseded`` (no duration).

Spans are paired within their local day only. A span still open at the end of its day (no
end among that day's events, e.g. a light switched on at 23:00 and off at 01:00) is counted
as ``open`` and given no duration: nothing is guessed, and the next day's ending change
closes nothing. ``detect_raw`` pairs the window's events by local day in the same way.

**Summary** (per entity and day): ``spans`` (complete spans), ``open``, ``superseded``,
``total_ms``, the durations as a histogram on a log scale (``bins``, ``counts``: bin
``floor(32 * log2(seconds))``, about 2 % wide) and ``longest`` (the day's five longest
spans as ``[start epoch ms, duration ms]``).

**Detection** (per entity over the window): count, 10th/25th/50th/75th/90th percentiles
(from the histogram, as bin centres), the spread ``log2(p90 / p10)`` in doublings and an
upper fence ``p75 * (p75 / p25) ** 3`` (at least twice ``p75``); spans beyond it are
``unusual`` and the five longest are listed. Confidence: ``tightness * spans / (spans + 4)
* days / (days + 2) * complete share`` with ``tightness = 1 / (1 + spread ** 2)`` and
complete share ``spans / (spans + open + superseded)``: a few spans that happen to be alike
are not yet a pattern. The key is the entity. Options read: ``window_days``,
``min_confidence``, ``min_days``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from vigil.patterns.base import DaySummary, DetectOptions, Pattern
from vigil.patterns.circular import encode, first_of_runs, window_days
from vigil.patterns.dayevents import ACTIVE_STATES, STATE_CHANGED

__all__ = ["BINS_PER_DOUBLING", "DETECTOR", "DurationDetector", "Spans", "duration_bins",
           "spans_of"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
BINS_PER_DOUBLING = 32
LONGEST_KEPT = 5
SPREAD_SCALE = 1.0
FENCE_IQRS = 3
COMPLETE, OPEN, SUPERSEDED = 0, 1, 2
VISIT_SUFFIX = ":entry"


def duration_bins(duration_ms: npt.ArrayLike) -> IntArray:
    """The log-scale bin of each duration: ``floor(32 * log2(seconds))`` (0 up to 1 s)."""
    seconds = np.maximum(np.asarray(duration_ms, dtype=np.float64) / 1000.0, 1.0)
    return np.asarray(np.floor(BINS_PER_DOUBLING * np.log2(seconds)), dtype=np.int64)


def bin_seconds(bins: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The centre of each bin in seconds."""
    return np.asarray(2.0 ** ((np.asarray(bins, dtype=np.float64) + 0.5) / BINS_PER_DOUBLING))


@dataclass(frozen=True)
class Spans:
    """Spans of entities, one row each: its entity, local day (days since 1970), start,
    duration (``-1`` unless complete) and status (complete, open, superseded)."""

    names: list[str]
    entity: IntArray
    day: IntArray
    start_ms: IntArray
    duration_ms: IntArray
    status: IntArray


def spans_of(events: pa.Table) -> Spans:
    """Every span in a day-event table (a day or a window), paired within local days."""
    ha = _state_markers(events)
    visits = _visit_markers(events)
    names = sorted(set(ha.names) | set(visits.names))
    parts = [m.recoded(names) for m in (ha, visits)]
    group = np.concatenate([parts[0].group * 2, parts[1].group * 2 + 1])
    entity = np.concatenate([p.entity for p in parts])
    day = np.concatenate([p.day for p in parts])
    ts = np.concatenate([p.ts for p in parts])
    is_start = np.concatenate([p.is_start for p in parts])
    order = np.lexsort((is_start, ts, day, group))
    group, entity, day, ts, is_start = (a[order] for a in (group, entity, day, ts, is_start))
    same_next = np.append((group[1:] == group[:-1]) & (day[1:] == day[:-1]), False)
    next_start = np.append(is_start[1:], False)
    next_ts = np.append(ts[1:], 0)
    complete = is_start & same_next & ~next_start
    status = np.where(complete, COMPLETE, np.where(same_next, SUPERSEDED, OPEN))
    duration = np.where(complete, next_ts - ts, -1)
    return Spans(names, entity[is_start], day[is_start], ts[is_start], duration[is_start],
                 status[is_start])


@dataclass(frozen=True)
class _Markers:
    """Span starts and ends: pairing group, entity name code, day, time, start or end."""

    names: list[str]
    group: IntArray
    entity: IntArray
    day: IntArray
    ts: IntArray
    is_start: BoolArray

    def recoded(self, names: list[str]) -> _Markers:
        index = np.asarray([names.index(n) for n in self.names], dtype=np.int64)
        entity = index[self.entity] if len(self.entity) else self.entity
        return _Markers(names, self.group, entity, self.day, self.ts, self.is_start)


def _empty_markers() -> _Markers:
    none = np.zeros(0, dtype=np.int64)
    return _Markers([], none, none, none, none, np.zeros(0, dtype=bool))


def _columns(rows: pa.Table) -> tuple[IntArray, IntArray]:
    ts = rows.column("ts").combine_chunks().cast(pa.timestamp("ms", "UTC"), safe=False).cast(
        pa.int64())
    day = rows.column("local_date").combine_chunks().cast(pa.date32()).cast(pa.int32())
    return (np.asarray(ts.to_numpy(), dtype=np.int64),
            np.asarray(day.to_numpy(), dtype=np.int64))


def _state_markers(events: pa.Table) -> _Markers:
    """Home Assistant on/off transitions (see the module docstring)."""
    state = events.column("state").cast(pa.string())
    keep = pc.and_(pc.equal(events.column("event_type"), STATE_CHANGED),
                   pc.is_valid(state))
    rows = events.filter(pc.fill_null(keep, False))
    if not rows.num_rows:
        return _empty_markers()
    names, entity = encode(rows.column("source_id"))
    ts, day = _columns(rows)
    lowered = pc.utf8_lower(rows.column("state").cast(pa.string()))
    active = np.asarray(pc.is_in(lowered, value_set=pa.array(sorted(ACTIVE_STATES)))
                        .to_numpy(zero_copy_only=False), dtype=bool)
    order = np.lexsort((np.arange(len(ts)), ts, day, entity))
    entity, day, ts, active = entity[order], day[order], ts[order], active[order]
    first = first_of_runs(entity, day)
    before = np.append(False, active[:-1])
    before[first] = _was_active(rows.column("attributes"), order[first])
    start = active & ~before
    end = ~active & before
    marked = start | end
    return _Markers(names, entity[marked], entity[marked], day[marked], ts[marked],
                    start[marked])


def _was_active(attributes: pa.ChunkedArray, rows: IntArray) -> BoolArray:
    """Whether ``attributes.old_state`` of each of ``rows`` is an active state."""
    texts = attributes.take(pa.array(rows, pa.int64())).to_pylist()
    return np.asarray([_old_state(t) in ACTIVE_STATES for t in texts], dtype=bool)


def _old_state(text: object) -> str | None:
    value = orjson.loads(text) if isinstance(text, str) and text.startswith("{") else text
    found = value.get("old_state") if isinstance(value, dict) else None
    return None if found is None else str(found).lower()


def _visit_markers(events: pa.Table) -> _Markers:
    """Entries (starts) and exits (ends) of subjects at sources."""
    kind = events.column("event_type")
    keep = pc.and_(pc.is_in(kind, value_set=pa.array(["entry", "exit"])),
                   pc.is_valid(events.column("subject_id")))
    rows = events.filter(pc.fill_null(keep, False))
    if not rows.num_rows:
        return _empty_markers()
    sources, source = encode(rows.column("source_id"))
    _, subject = encode(rows.column("subject_id"))
    ts, day = _columns(rows)
    is_start = np.asarray(pc.equal(rows.column("event_type"), "entry")
                          .to_numpy(zero_copy_only=False), dtype=bool)
    group = source * (int(subject.max()) + 1) + subject
    return _Markers([s + VISIT_SUFFIX for s in sources], group, source, day, ts, is_start)


@dataclass
class _Stats:
    """One entity's spans over the window; the histogram comes in parts (bins, counts)."""

    parts: list[tuple[IntArray, IntArray]] = field(default_factory=list)
    spans: int = 0
    open: int = 0
    superseded: int = 0
    total_ms: int = 0
    days: set[int] = field(default_factory=set)
    active_days: set[int] = field(default_factory=set)
    longest: list[tuple[int, int]] = field(default_factory=list)

    def histogram(self) -> IntArray:
        """Spans per bin (index = bin)."""
        bins = np.concatenate([b for b, _ in self.parts])
        counts = np.concatenate([c for _, c in self.parts])
        return np.bincount(bins, weights=counts).astype(np.int64)

    def weight(self) -> float:
        """How much the evidence counts: more spans, more days, fewer open ones."""
        days = len(self.days)
        complete = self.spans / (self.spans + self.open + self.superseded)
        return self.spans / (self.spans + 4) * days / (days + 2) * complete


class DurationDetector:
    """Typical durations of entity states and visits (see the module docstring)."""

    name = "duration"

    def summarize(self, day: dt.date, events: pa.Table) -> dict[str, dict[str, Any]]:
        """Per entity: the day's span counts, duration histogram and longest spans."""
        spans = spans_of(events)
        number = (day - dt.date(1970, 1, 1)).days
        found: dict[str, dict[str, Any]] = {}
        for code, name in enumerate(spans.names):
            mine = (spans.entity == code) & (spans.day == number)
            if mine.any():
                found[name] = _day_fields(spans, mine)
        return found

    def detect(self, summaries: Sequence[DaySummary], end: dt.date,
               options: DetectOptions) -> list[Pattern]:
        """Durations from the stored daily histograms of the window."""
        start, _ = window_days(end, options.window_days)
        stats: dict[str, _Stats] = {}
        for summary in summaries:
            if not start <= summary.day <= end or "spans" not in summary.fields:
                continue
            _add_day(stats.setdefault(summary.entity, _Stats()), summary.fields,
                     (summary.day - start).days)
        return _patterns(stats, start, options)

    def detect_raw(self, events: pa.Table, end: dt.date, options: DetectOptions
                   ) -> list[Pattern]:
        """Durations straight from the spans of the window's raw events."""
        start, _ = window_days(end, options.window_days)
        spans = spans_of(events)
        first = (start - dt.date(1970, 1, 1)).days
        day = spans.day - first
        inside = (day >= 0) & (day < options.window_days)
        stats: dict[str, _Stats] = {}
        for code, name in enumerate(spans.names):
            mine = inside & (spans.entity == code)
            if mine.any():
                stats[name] = _raw_stats(spans, mine, day)
        return _patterns(stats, start, options)


def _day_fields(spans: Spans, mine: BoolArray) -> dict[str, Any]:
    status = spans.status[mine]
    complete = status == COMPLETE
    duration = spans.duration_ms[mine][complete]
    bins, counts = np.unique(duration_bins(duration), return_counts=True)
    return {
        "spans": int(complete.sum()), "open": int((status == OPEN).sum()),
        "superseded": int((status == SUPERSEDED).sum()), "total_ms": int(duration.sum()),
        "bins": bins.tolist(), "counts": counts.tolist(),
        "longest": _longest(spans.start_ms[mine][complete], duration),
    }


def _longest(start_ms: IntArray, duration_ms: IntArray) -> list[list[int]]:
    """The longest spans, longest first (ties: earlier start first)."""
    order = np.lexsort((start_ms, -duration_ms))[:LONGEST_KEPT]
    return [[int(start_ms[i]), int(duration_ms[i])] for i in order]


def _add_day(stats: _Stats, fields: Any, day: int) -> None:
    bins = np.asarray(fields.get("bins", []), dtype=np.int64)
    counts = np.asarray(fields.get("counts", []), dtype=np.int64)
    if len(bins) != len(counts):
        raise ValueError(f"duration summary of day {day}: bins and counts differ in length")
    stats.parts.append((bins, counts))
    spans = int(fields["spans"])
    stats.spans += spans
    stats.open += int(fields.get("open", 0))
    stats.superseded += int(fields.get("superseded", 0))
    stats.total_ms += int(fields.get("total_ms", 0))
    stats.active_days.add(day)
    if spans:
        stats.days.add(day)
    stats.longest += [(int(s), int(d)) for s, d in fields.get("longest", [])]


def _raw_stats(spans: Spans, mine: BoolArray, day: IntArray) -> _Stats:
    status = spans.status[mine]
    complete = status == COMPLETE
    duration = spans.duration_ms[mine][complete]
    bins = duration_bins(duration)
    return _Stats(
        parts=[(bins, np.ones(len(bins), dtype=np.int64))],
        spans=int(complete.sum()), open=int((status == OPEN).sum()),
        superseded=int((status == SUPERSEDED).sum()), total_ms=int(duration.sum()),
        days=set(day[mine][complete].tolist()), active_days=set(day[mine].tolist()),
        longest=list(zip(spans.start_ms[mine][complete].tolist(), duration.tolist(),
                         strict=True)))


def _quantile_bins(histogram: IntArray, quantiles: Sequence[float]) -> list[int]:
    """The bin holding the value of rank ``floor(q * (n - 1))`` for each quantile."""
    cumulative = np.cumsum(histogram)
    total = int(cumulative[-1])
    ranks = [int(math.floor(q * (total - 1))) for q in quantiles]
    return [int(np.searchsorted(cumulative, r, side="right")) for r in ranks]


def _patterns(stats: dict[str, _Stats], start: dt.date, options: DetectOptions
              ) -> list[Pattern]:
    found: list[Pattern] = []
    for name, entity in sorted(stats.items()):
        if (entity.spans < 1 or len(entity.days) < max(1, options.min_days)
                or entity.weight() < options.min_confidence):
            continue
        pattern = _pattern(name, entity, start, options)
        if pattern.confidence >= options.min_confidence:
            found.append(pattern)
    return sorted(found, key=lambda p: p.key)


def _pattern(name: str, stats: _Stats, start: dt.date, options: DetectOptions) -> Pattern:
    histogram = stats.histogram()
    p10, p25, p50, p75, p90 = _quantile_bins(histogram, (0.1, 0.25, 0.5, 0.75, 0.9))
    spread = (p90 - p10) / BINS_PER_DOUBLING
    fence = p75 + max(FENCE_IQRS * (p75 - p25), BINS_PER_DOUBLING)
    unusual = int(histogram[fence + 1:].sum())
    days = len(stats.days)
    tightness = 1.0 / (1.0 + (spread / SPREAD_SCALE) ** 2)
    confidence = round(tightness * stats.weight(), 4)
    seconds = {q: float(bin_seconds(b)) for q, b in
               (("p10", p10), ("p25", p25), ("median", p50), ("p75", p75), ("p90", p90))}
    longest = np.asarray(stats.longest, dtype=np.int64).reshape(-1, 2)
    beyond = longest[duration_bins(longest[:, 1]) > fence]
    long_ones = sorted(map(tuple, beyond.tolist()), key=lambda sd: (-sd[1], sd[0]))
    long_ones = long_ones[:LONGEST_KEPT]
    evidence: dict[str, Any] = {
        "days_observed": days, "days_active": len(stats.active_days),
        "days_in_window": options.window_days, "spans": stats.spans, "open": stats.open,
        "superseded": stats.superseded, "mean_s": round(stats.total_ms / stats.spans / 1000, 1),
        **{f"{q}_s": round(v, 1) for q, v in seconds.items()},
        "spread_doublings": round(spread, 3), "fence_s": round(float(bin_seconds(fence)), 1),
        "unusual": unusual,
        "longest_unusual": [{"start": _iso(s), "seconds": round(d / 1000, 1)}
                            for s, d in long_ones],
    }
    what = (f"visits at {name.removesuffix(VISIT_SUFFIX)} last"
            if name.endswith(VISIT_SUFFIX) else f"{name} stays active for")
    return Pattern(
        type="duration", key=name, entities=(name,), confidence=confidence,
        description=(f"{what} about {_span(seconds['median'])} (80% between "
                     f"{_span(seconds['p10'])} and {_span(seconds['p90'])}), "
                     f"{stats.spans} times on {days} days"),
        evidence=evidence, first_seen=start + dt.timedelta(days=min(stats.days)),
        last_seen=start + dt.timedelta(days=max(stats.days)))


def _iso(epoch_ms: int) -> str:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC).isoformat()


def _span(seconds: float) -> str:
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{round(whole / 60)} min"
    hours, rest = divmod(round(whole / 60), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


DETECTOR = DurationDetector()
