"""Day types: items used on weekdays only, on weekends only, on some weekdays, or later
on weekends.

For each activity item (:func:`vigil.patterns.dayevents.activities`) the daily summary holds
the day's count ``n`` and the wall-clock minute of its first activation ``first``; the
local weekday is that of the day. Detection compares the item's days of each type within
its *span* (its first to its last active day in the window, so an item that appears or
vanishes mid-window is judged on the days it existed):

- **weekdays / weekends only**: active on at least :attr:`DayTypeDetector.high_share` of
  one type's days and at most :attr:`~DayTypeDetector.low_share` of the other's, with a
  one-sided Fisher exact test below :attr:`~DayTypeDetector.max_p` (random use does not
  pass). Confidence is ``k_hi / (n_hi + 1) * (1 - (k_lo + 1) / (n_lo + 2))``: both shares,
  shrunk when few days of a type were seen.
- **some weekdays** (e.g. Mon, Wed, Fri): the same test for the set of weekdays on which the
  item is active on at least half of the days. The set is chosen from the data (one of 126),
  so the bar is higher: shares of at least 0.8 and at most 0.1 and ``p <= max_p * 1e-3``
  (with four weeks of data that takes a near-perfect habit). Reported instead of the
  weekday/weekend split when it is more confident.
- **time shift**: the first activation on weekdays and weekend days differs by at least
  :attr:`~DayTypeDetector.min_shift_min` in median and the two sets are separated (an exact
  Mann–Whitney test below :attr:`~DayTypeDetector.max_shift_p`: with four weeks of data
  nearly every weekend day must be later than nearly every weekday); confidence is
  ``|2 AUC - 1|`` shrunk by the smaller day count ``m`` (times ``m / (m + 1)``).

Reads ``window_days``, ``min_confidence``, ``min_days``.
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
from vigil.patterns.circular import encode, hhmm
from vigil.patterns.dayevents import activities

__all__ = ["DETECTOR", "DayTypeDetector", "ItemDays", "fisher_greater", "mann_whitney_tail"]

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ItemDays:
    """Per item (rows) and window day (columns): activation count and first minute."""

    items: list[str]
    count: IntArray
    first: IntArray
    start: dt.date
    """The window's first day (column 0)."""

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.count.shape[1])]


def item_days_from_summaries(summaries: Sequence[DaySummary], start: dt.date, end: dt.date
                             ) -> ItemDays:
    """The window's per-item days from stored ``{n, first}`` summaries."""
    width = (end - start).days + 1
    rows = [s for s in summaries if start <= s.day <= end and int(s.fields.get("n", 0)) > 0]
    items = sorted({s.entity for s in rows})
    row_of = {item: i for i, item in enumerate(items)}
    count = np.zeros((len(items), width), dtype=np.int64)
    first = np.zeros((len(items), width), dtype=np.int64)
    for s in rows:
        i, d = row_of[s.entity], (s.day - start).days
        count[i, d] = int(s.fields["n"])
        first[i, d] = int(s.fields.get("first", 0))
    return ItemDays(items, count, first, start)


def item_days_from_events(events: pa.Table, start: dt.date, end: dt.date) -> ItemDays:
    """The window's per-item days straight from raw events (all days at once)."""
    width = (end - start).days + 1
    if events.num_rows:
        dates = events.column("local_date")
        events = events.filter(pc.and_(pc.greater_equal(dates, pa.scalar(start)),
                                       pc.less_equal(dates, pa.scalar(end))))
    acts = activities(events)
    names, codes = encode(acts.item)
    day = (acts.local_date - np.datetime64(start, "D")).astype(np.int64)
    count = np.bincount(codes * width + day, minlength=len(names) * width
                        ).reshape(len(names), width).astype(np.int64)
    first = np.zeros((len(names), width), dtype=np.int64)
    order = np.lexsort((acts.ts_ms, day, codes))
    cell = codes[order] * width + day[order]
    lead = np.ones(len(order), dtype=bool)
    lead[1:] = cell[1:] != cell[:-1]
    chosen = order[lead]
    first[codes[chosen], day[chosen]] = acts.minute[chosen]
    return ItemDays(names, count, first, start)


def summarize_items(day: dt.date, events: pa.Table) -> dict[str, dict[str, Any]]:
    """``{item: {"n": activations, "first": minute of the first}}`` of local day ``day``."""
    acts = activities(events)
    mine = np.flatnonzero(acts.local_date == np.datetime64(day, "D"))
    items, codes = encode(acts.item[mine])
    present, index, counts = np.unique(codes, return_index=True, return_counts=True)
    minutes = acts.minute[mine][index]
    return {items[c]: {"n": int(n), "first": int(m)}
            for c, n, m in zip(present.tolist(), counts, minutes, strict=True)}


def fisher_greater(k_hi: int, n_hi: int, k_lo: int, n_lo: int) -> float:
    """One-sided Fisher exact p-value that the first group's share is higher."""
    total, active = n_hi + n_lo, k_hi + k_lo
    if n_hi == 0 or total == 0:
        return 1.0
    norm = math.comb(total, n_hi)
    tail = sum(math.comb(active, k) * math.comb(total - active, n_hi - k)
               for k in range(k_hi, min(active, n_hi) + 1))
    return min(1.0, tail / norm)


def mann_whitney_tail(m: int, n: int, u: float) -> float:
    """Exact one-sided p-value ``P(U <= u)`` of the Mann–Whitney count of pairs (x, y)
    with x > y for groups of ``m`` and ``n`` distinct values (ties ignored)."""
    top = math.floor(u)
    if top < 0:
        return 0.0
    if top >= m * n:
        return 1.0
    # ways[j][v]: orderings of i values of the first group and j of the second with U = v
    ways = [[1] + [0] * top for _ in range(n + 1)]
    for _ in range(m):
        row = [[1] + [0] * top]
        for j in range(1, n + 1):
            above, left = ways[j], row[j - 1]
            row.append([(above[v - j] if v >= j else 0) + left[v] for v in range(top + 1)])
        ways = row
    return min(1.0, sum(ways[n]) / math.comb(m + n, m))


def _span(active: BoolArray) -> BoolArray:
    """Days from the first to the last active one."""
    days = np.flatnonzero(active)
    span = np.zeros(len(active), dtype=bool)
    if len(days):
        span[days[0]:days[-1] + 1] = True
    return span


class DayTypeDetector:
    """Weekday-only, weekend-only, some-weekdays and weekend time-shift habits."""

    name = "day_type"
    high_share = 0.7
    """The favoured day type: active on at least this share of its days."""
    low_share = 0.2
    """The other day type: active on at most this share of its days."""
    max_p = 1e-4
    """Fisher test level for the weekday/weekend split."""
    set_high_share = 0.8
    set_low_share = 0.1
    set_p_factor = 1e-3
    """Weekday sets: shares and test level (``max_p`` times this)."""
    min_shift_min = 45
    """Time shift: least difference of the medians."""
    max_shift_p = 1e-5
    """Time shift: exact Mann–Whitney level (two-sided)."""
    min_days_per_type = 3

    def summarize(self, day: dt.date, events: pa.Table) -> dict[str, dict[str, Any]]:
        """``{item: {"n": activations, "first": minute of the first}}``."""
        return summarize_items(day, events)

    def detect(self, summaries: Sequence[DaySummary], end: dt.date,
               options: DetectOptions) -> list[Pattern]:
        """Day-type patterns from the stored daily summaries of the window."""
        start = end - dt.timedelta(days=options.window_days - 1)
        return self._detect(item_days_from_summaries(summaries, start, end), options)

    def detect_raw(self, events: pa.Table, end: dt.date, options: DetectOptions
                   ) -> list[Pattern]:
        """Day-type patterns straight from the raw events of the window."""
        start = end - dt.timedelta(days=options.window_days - 1)
        return self._detect(item_days_from_events(events, start, end), options)

    # -- detection core ------------------------------------------------------------------
    def _detect(self, data: ItemDays, options: DetectOptions) -> list[Pattern]:
        dates = data.dates()
        weekday = np.asarray([d.weekday() for d in dates], dtype=np.int64)
        found: list[Pattern] = []
        for row, item in enumerate(data.items):
            active = data.count[row] > 0
            span = _span(active)
            split = self._split(item, active, span, weekday < 5, dates)
            subset = self._weekday_set(item, active, span, weekday, dates)
            if subset is not None and (split is None or subset.confidence > split.confidence):
                split = subset
            shift = self._shift(item, active & span, data.first[row], weekday < 5, dates)
            found += [p for p in (split, shift) if p is not None
                      and p.confidence >= options.min_confidence
                      and p.evidence["days_observed"] >= options.min_days]
        return sorted(found, key=lambda p: p.key)

    def _contrast(self, active: BoolArray, span: BoolArray, group: BoolArray,
                  bounds: tuple[float, float, float]) -> tuple[int, int, int, int, float] | None:
        """``k_in, n_in, k_out, n_out, p`` when the item favours ``group`` clearly
        (``bounds``: least share in, most share out, test level)."""
        high, low, max_p = bounds
        n_in, n_out = int((span & group).sum()), int((span & ~group).sum())
        k_in, k_out = int((active & span & group).sum()), int((active & span & ~group).sum())
        if not n_in or not n_out:
            return None
        if k_in < high * n_in or k_out > low * n_out:
            return None
        p = fisher_greater(k_in, n_in, k_out, n_out)
        return (k_in, n_in, k_out, n_out, p) if p <= max_p else None

    def _split(self, item: str, active: BoolArray, span: BoolArray, workday: BoolArray,
               dates: list[dt.date]) -> Pattern | None:
        for group, kind, other in ((workday, "weekdays", "weekend days"),
                                   (~workday, "weekends", "weekdays")):
            found = self._contrast(active, span, group,
                                   (self.high_share, self.low_share, self.max_p))
            if found is not None:
                return self._favour(item, kind, kind, other, found, active & span & group,
                                    dates)
        return None

    def _weekday_set(self, item: str, active: BoolArray, span: BoolArray, weekday: IntArray,
                     dates: list[dt.date]) -> Pattern | None:
        chosen = []
        for w in range(7):
            days = span & (weekday == w)
            if days.any() and (active & days).sum() >= 0.5 * days.sum():
                chosen.append(w)
        seen = sorted(set(weekday[span].tolist()))
        if not chosen or chosen == seen or chosen in ([0, 1, 2, 3, 4], [5, 6]):
            return None
        group = np.isin(weekday, chosen)
        found = self._contrast(active, span, group, (self.set_high_share, self.set_low_share,
                                                     self.max_p * self.set_p_factor))
        if found is None:
            return None
        names = ",".join(WEEKDAY_NAMES[w] for w in chosen)
        title = ", ".join(WEEKDAY_NAMES[w].capitalize() for w in chosen)
        return self._favour(item, f"days:{names}", title, "other days", found,
                            active & span & group, dates)

    def _favour(self, item: str, variant: str, title: str, other: str,
                found: tuple[int, int, int, int, float], days: BoolArray,
                dates: list[dt.date]) -> Pattern:
        k_in, n_in, k_out, n_out, p = found
        confidence = k_in / (n_in + 1) * (1.0 - (k_out + 1) / (n_out + 2))
        observed = np.flatnonzero(days)
        return Pattern(
            type=self.name, key=f"{item}|{variant}", entities=(item,),
            confidence=round(confidence, 6),
            description=(f"{item} is used on {title} only ({round(100 * k_in / n_in)}% of "
                         f"them, {round(100 * k_out / n_out)}% of {other})"),
            evidence={"days_observed": k_in, "days_active_in": k_in, "days_in": n_in,
                      "days_active_out": k_out, "days_out": n_out,
                      "p_value": float(f"{p:.3g}")},
            first_seen=dates[int(observed[0])], last_seen=dates[int(observed[-1])])

    def _shift(self, item: str, active: BoolArray, first: IntArray, workday: BoolArray,
               dates: list[dt.date]) -> Pattern | None:
        work, rest = first[active & workday], first[active & ~workday]
        n1, n2 = len(work), len(rest)
        if min(n1, n2) < self.min_days_per_type:
            return None
        shift = float(np.median(rest) - np.median(work))
        later = (work[:, None] < rest[None, :]).sum() + 0.5 * (
            work[:, None] == rest[None, :]).sum()
        auc = float(later) / (n1 * n2)
        if abs(shift) < self.min_shift_min or shift * (auc - 0.5) <= 0:
            return None
        z = (float(later) - n1 * n2 / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
        if abs(z) < 3.0:  # far from significant: skip the exact test
            return None
        p = 2 * mann_whitney_tail(n1, n2, min(float(later), n1 * n2 - float(later)))
        if p > self.max_shift_p:
            return None
        m = min(n1, n2)
        confidence = abs(2 * auc - 1) * m / (m + 1)
        observed = np.flatnonzero(active)
        word = "later" if shift > 0 else "earlier"
        return Pattern(
            type=self.name, key=f"{item}|shift", entities=(item,),
            confidence=round(confidence, 6),
            description=(f"{item} starts around {hhmm(float(np.median(work)))} on weekdays and "
                         f"{hhmm(float(np.median(rest)))} on weekends ({abs(round(shift))} min "
                         f"{word})"),
            evidence={"days_observed": n1 + n2, "weekdays_active": n1, "weekend_active": n2,
                      "weekday_median_minute": float(np.median(work)),
                      "weekend_median_minute": float(np.median(rest)),
                      "shift_min": shift, "auc": round(auc, 6),
                      "p_value": float(f"{p:.3g}")},
            first_seen=dates[int(observed[0])], last_seen=dates[int(observed[-1])])


DETECTOR = DayTypeDetector()
