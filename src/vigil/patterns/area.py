"""Areas: when each area is busy, and which area's activity follows which.

Works on the activity starts (:func:`vigil.patterns.dayevents.activities`) of sources with
an area. The daily summary of each area holds ``hours`` (activity starts per local hour,
24 slots) and ``times``: the seconds of its activity starts from the local date's UTC
midnight, kept to the first and last of each minute (that loses nothing for windows of a
minute or more), delta-encoded (the first, then each one's step from the one before).

Detection reports two kinds of pattern:

- **busy hours** (``kitchen|busy|07-09``): consecutive hours in which the area is active
  on a large share of its days (its first to last active day in the window). An hour
  counts only when that share clearly beats chance: on a day with ``a`` active hours a
  given hour is active with probability ``a / 24`` if activity has no preferred time, and
  the share must exceed the mean of that by :attr:`AreaDetector.min_excess`, and that many
  days must have a chance below :attr:`~AreaDetector.max_p`. Confidence: the hours' mean
  share of days.
- **transitions** (``kitchen>living|next``): a *visit* to area A is a run of its activity
  starts no more than ``options.co_window_s`` apart; it *moves* when another area's
  activity follows within ``co_window_s`` of its last start, and the first such area is
  where it moved. Confidence is ``P(next = B | A)``, the share of A's moves that went to B,
  reported when it beats by the same margins the share B would get if moves happened at
  random moments of the day (B's part of the moments followed by activity elsewhere).

Reads ``window_days``, ``co_window_s``, ``min_confidence``, ``min_days``.
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
from vigil.patterns.chance import chance_tail
from vigil.patterns.circular import encode
from vigil.patterns.dayevents import EPOCH_DAY, activities

__all__ = ["DETECTOR", "AreaDays", "AreaDetector"]

HOURS = 24
DAY_SECONDS = 86_400
DAY_STRIDE = 12_000_000
"""Two days' times on one axis lie this far apart: far more than any day's offsets."""
DAY_ORIGIN = 1_200_000
"""Added to a day's offsets (which may be negative) on that axis."""
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class AreaDays:
    """Per area: hourly counts per window day (days x 24) and all activity times on one
    axis (``day * DAY_STRIDE + DAY_ORIGIN + seconds``), ascending."""

    hours: dict[str, IntArray]
    times: dict[str, IntArray]
    start: dt.date
    width: int

    def date(self, index: int) -> dt.date:
        return self.start + dt.timedelta(days=index)


def _first_last_per_minute(seconds: IntArray) -> IntArray:
    """Sorted distinct ``seconds`` reduced to the first and last of each minute."""
    unique = np.unique(seconds)
    minute = unique // 60
    keep = np.ones(len(unique), dtype=bool)
    keep[1:-1] = (minute[1:-1] != minute[:-2]) | (minute[1:-1] != minute[2:])
    kept: IntArray = unique[keep]
    return kept


class AreaDetector:
    """Busy hours per area and frequent transitions between areas."""

    name = "area"
    min_excess = 0.3
    """Share above chance an hour (or a transition) needs."""
    max_p = 1e-5
    """... and the chance of that many (a Chernoff bound) must be below this."""

    def summarize(self, day: dt.date, events: pa.Table) -> dict[str, dict[str, Any]]:
        """``{area: {"hours": [24 counts], "times": [delta-encoded seconds]}}``."""
        acts = activities(events)
        mine = np.flatnonzero((acts.local_date == np.datetime64(day, "D")) & (acts.area != ""))
        base = (day - dt.date(1970, 1, 1)).days * DAY_SECONDS
        names, area = encode(acts.area[mine])
        seconds = acts.ts_ms[mine] // 1000 - base
        hour = acts.minute[mine].astype(np.int64) // 60
        out: dict[str, dict[str, Any]] = {}
        for code, name in enumerate(names):
            where = area == code
            hours = np.bincount(hour[where], minlength=HOURS)[:HOURS]
            times = _first_last_per_minute(seconds[where])
            out[name] = {"hours": hours.tolist(), "times": np.diff(times, prepend=0).tolist()}
        return out

    def detect(self, summaries: Sequence[DaySummary], end: dt.date,
               options: DetectOptions) -> list[Pattern]:
        """Busy hours and transitions from the stored daily summaries of the window."""
        start = end - dt.timedelta(days=options.window_days - 1)
        hours: dict[str, IntArray] = {}
        parts: dict[str, list[IntArray]] = {}
        for s in sorted(summaries, key=lambda s: (s.entity, s.day)):
            if not start <= s.day <= end:
                continue
            index = (s.day - start).days
            counts = np.asarray(s.fields.get("hours", []), dtype=np.float64)
            if len(counts) != HOURS or not counts.any():
                continue
            grid = hours.setdefault(s.entity, np.zeros((options.window_days, HOURS), np.int64))
            grid[index] = np.round(counts).astype(np.int64)
            steps = np.round(np.asarray(s.fields.get("times", []), dtype=np.float64))
            seconds = np.sort(np.cumsum(steps.astype(np.int64)))
            parts.setdefault(s.entity, []).append(index * DAY_STRIDE + DAY_ORIGIN + seconds)
        times = {a: np.concatenate(p) for a, p in parts.items()}
        return self._detect(AreaDays(hours, times, start, options.window_days), options)

    def detect_raw(self, events: pa.Table, end: dt.date, options: DetectOptions
                   ) -> list[Pattern]:
        """Busy hours and transitions straight from the raw events of the window."""
        start = end - dt.timedelta(days=options.window_days - 1)
        if events.num_rows:
            dates = events.column("local_date")
            events = events.filter(pc.and_(pc.greater_equal(dates, pa.scalar(start)),
                                           pc.less_equal(dates, pa.scalar(end))))
        acts = activities(events)
        keep = acts.area != ""
        names, area = encode(acts.area[keep])
        day = (acts.local_date[keep] - np.datetime64(start, "D")).astype(np.int64)
        epoch_day = (acts.local_date[keep] - EPOCH_DAY).astype(np.int64)
        seconds = acts.ts_ms[keep] // 1000 - epoch_day * DAY_SECONDS
        hour = acts.minute[keep].astype(np.int64) // 60
        hours: dict[str, IntArray] = {}
        times: dict[str, IntArray] = {}
        for code, name in enumerate(names):
            where = area == code
            cells = np.bincount(day[where] * HOURS + hour[where],
                                minlength=options.window_days * HOURS)
            hours[name] = cells.reshape(options.window_days, HOURS)
            axis = day[where] * DAY_STRIDE + DAY_ORIGIN + seconds[where]
            times[name] = _first_last_per_minute(axis)
        return self._detect(AreaDays(hours, times, start, options.window_days), options)

    # -- detection core ------------------------------------------------------------------
    def _detect(self, data: AreaDays, options: DetectOptions) -> list[Pattern]:
        found: list[Pattern] = []
        for name in sorted(data.hours):
            found += self._busy(name, data, options)
        found += self._transitions(data, options)
        return sorted(found, key=lambda p: p.key)

    def _busy(self, name: str, data: AreaDays, options: DetectOptions) -> list[Pattern]:
        grid = data.hours[name]
        days = np.flatnonzero(grid.sum(axis=1) > 0)
        if not len(days):
            return []
        span = grid[days[0]:days[-1] + 1]
        active = span > 0
        n = len(span)
        p = active.sum(axis=1) / HOURS
        expected = float(p.sum())
        hits = active.sum(axis=0)
        share = hits / n
        unlikely = np.asarray([chance_tail(float(k), n, expected / n) <= self.max_p
                               for k in hits])
        busy = ((share >= options.min_confidence) & (hits - expected >= self.min_excess * n)
                & unlikely & (hits >= options.min_days))
        patterns = []
        for run in _circular_runs(busy):
            used = active[:, run].any(axis=1)
            observed = np.flatnonzero(used)
            if len(observed) < options.min_days:
                continue
            confidence = float(share[run].mean())
            first_hour, last_hour = run[0], (run[-1] + 1) % HOURS
            mean_count = span.sum(axis=0) / n
            peaks = np.argsort(-mean_count, kind="stable")[:3]
            patterns.append(Pattern(
                type=self.name, key=f"{name}|busy|{first_hour:02d}-{last_hour:02d}",
                entities=(name,), confidence=round(confidence, 6),
                description=(f"area {name} is busy {first_hour:02d}–{last_hour:02d} on "
                             f"{round(100 * confidence)}% of days ({len(observed)} of {n} "
                             "days active then)"),
                evidence={"days_observed": len(observed), "days_in_window": n,
                          "hours": [int(h) for h in run],
                          "days_active_by_hour": [int(hits[h]) for h in run],
                          "expected_share": round(expected / n, 6),
                          "share_of_days": [round(float(v), 6) for v in share],
                          "mean_starts_per_hour": [round(float(v), 6) for v in mean_count],
                          "peak_hours": [int(h) for h in peaks]},
                first_seen=data.date(int(days[0] + observed[0])),
                last_seen=data.date(int(days[0] + observed[-1]))))
        return patterns

    def _transitions(self, data: AreaDays, options: DetectOptions) -> list[Pattern]:
        window = options.co_window_s
        names = sorted(data.times)
        times = np.concatenate([data.times[a] for a in names]) if names else np.empty(0, int)
        label = np.concatenate([np.full(len(data.times[a]), i, dtype=np.int64)
                                for i, a in enumerate(names)]) if names else times
        order = np.lexsort((label, times))
        times, label = times[order], label[order]
        patterns = []
        for i, a in enumerate(names):
            moves = _moves(data.times[a], times[label != i], label[label != i], window,
                           data.width, len(names))
            if moves is None:
                continue
            for j, b in enumerate(names):
                pattern = self._transition(a, b, moves, j, data, options)
                if j != i and pattern is not None:
                    patterns.append(pattern)
        return patterns

    def _transition(self, a: str, b: str, moves: _Moves, j: int, data: AreaDays,
                    options: DetectOptions) -> Pattern | None:
        total = len(moves.label)
        hit = moves.label == j
        hits = int(hit.sum())
        chance = moves.chance[:, j]
        expected = float((moves.per_day * chance).sum())
        share = hits / total
        hit_days = np.unique(moves.day[hit])
        if (share < options.min_confidence or hits - expected < self.min_excess * total
                or chance_tail(hits, total, expected / total) > self.max_p
                or len(hit_days) < options.min_days):
            return None
        return Pattern(
            type=self.name, key=f"{a}>{b}|next", entities=(a, b), confidence=round(share, 6),
            description=(f"after activity in {a}, the next area active within "
                         f"{_duration(moves.window)} is {b} ({round(100 * share)}% of {total} "
                         f"moves, on {len(hit_days)} days)"),
            evidence={"days_observed": len(hit_days), "visits": moves.visits, "moves": total,
                      "hits": hits, "expected_hits": round(expected, 6),
                      "chance_share": round(expected / total, 6), "co_window_s": moves.window},
            first_seen=data.date(int(hit_days[0])), last_seen=data.date(int(hit_days[-1])))


@dataclass(frozen=True)
class _Moves:
    """Moves out of one area: visits followed by another area's activity within the
    window; the area moved to, the day, and per day the chance of each area."""

    window: int
    visits: int
    label: IntArray
    day: IntArray
    per_day: IntArray
    chance: npt.NDArray[np.float64]
    """Days x areas: the share of the day's moments whose first activity elsewhere within
    the window is in that area (what a move at a random moment would give)."""


def _moves(own: IntArray, others: IntArray, label: IntArray, window: int, width: int,
           areas: int) -> _Moves | None:
    """The moves out of an area with activity times ``own`` (see :class:`_Moves`)."""
    ends = _visit_ends(own, window)
    if not len(ends) or not len(others):
        return None
    after = np.searchsorted(others, ends, side="right")
    valid = after < len(others)
    nxt = np.minimum(after, len(others) - 1)
    moved = valid & (others[nxt] <= ends + window)
    if not moved.any():
        return None
    day = ends[moved] // DAY_STRIDE
    other_day = others // DAY_STRIDE
    gap = np.full(len(others), window, dtype=np.int64)
    same = other_day[1:] == other_day[:-1]
    gap[1:][same] = np.minimum(np.diff(others)[same], window)
    measure = np.bincount(other_day * areas + label, weights=gap,
                          minlength=width * areas).reshape(width, areas)
    total = measure.sum(axis=1, keepdims=True)
    chance = np.divide(measure, total, out=np.zeros_like(measure), where=total > 0)
    return _Moves(window=window, visits=len(ends), label=label[nxt[moved]], day=day,
                  per_day=np.bincount(day, minlength=width), chance=chance)


def _visit_ends(times: IntArray, window: int) -> IntArray:
    """The last activity time of each visit: no further activity within ``window``."""
    if not len(times):
        return times
    last = np.ones(len(times), dtype=bool)
    last[:-1] = np.diff(times) > window
    ends: IntArray = times[last]
    return ends


def _circular_runs(flags: npt.NDArray[np.bool_]) -> list[list[int]]:
    """Maximal runs of set hours, joined across midnight (all 24 set: one run 0..23)."""
    hours = [h for h in range(HOURS) if flags[h]]
    if len(hours) == HOURS:
        return [hours]
    runs: list[list[int]] = []
    for h in hours:
        if runs and runs[-1][-1] == h - 1:
            runs[-1].append(h)
        else:
            runs.append([h])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == HOURS - 1:
        runs[0] = runs.pop() + runs[0]
    return runs


def _duration(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


DETECTOR = AreaDetector()
