"""Sessions: bursts of activity separated by idle gaps, and the sessions that recur daily.

A *session* is a run of activity starts (:func:`vigil.patterns.dayevents.activities`) of
one area, or of the whole home (:data:`~vigil.patterns.base.HOME_ENTITY`), in which no two
consecutive starts are more than :attr:`SessionDetector.gap_s` apart (30 min). Sessions
are cut at local midnight. The daily summary of each entity lists its sessions as
``[start minute, duration s, events]``.

Detection looks for a *recurring session*: a start window of ±45 min in which the entity
starts a session on a large share of its days ("the home is active 06:30–08:10 on 90 % of
days"). A window counts only when it holds clearly more days than chance would give, by
the larger of two estimates: each day's starts turned to a random time of day (keeping
their spacing), and each day's starts put at random among the minutes a session could
start (the entity had been idle for ``gap_s``: so the quiet night of a busy home, where
every stray event starts a session, is no pattern). It needs at least 30 % of the days
more than that, and a chance below 1e-5 of that many. Sessions starting within the first
``gap_s`` of the day are left out as starts (they may continue the evening before).
Confidence is the share of days times a spread factor (1 for exact starts, down to 0.5 for
starts spread over the whole window). Reads ``window_days``, ``min_confidence``,
``min_days``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.patterns.base import HOME_ENTITY, DaySummary, DetectOptions, Pattern
from vigil.patterns.chance import chance_tail
from vigil.patterns.circular import DAY_MINUTES, circular_mean, encode, hhmm
from vigil.patterns.dayevents import activities

__all__ = ["DETECTOR", "SessionDetector", "Sessions", "entity_columns", "split_sessions"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Sessions:
    """Sessions as columns: entity, day (index in the window), start minute, length, events."""

    entity: npt.NDArray[np.object_]
    day: IntArray
    start: IntArray
    duration_s: IntArray
    events: IntArray


def split_sessions(names: Sequence[str], codes: IntArray, date: IntArray, ts_ms: IntArray,
                   minute: IntArray, gap_s: int) -> Sessions:
    """Sessions of activity starts grouped by entity (``names[code]``) and day (``date`` as
    day numbers)."""
    if not len(ts_ms):
        empty = np.empty(0, dtype=np.int64)
        return Sessions(np.empty(0, dtype=object), empty, empty, empty, empty)
    order = np.lexsort((ts_ms, date, codes))
    codes, date, ts, minute = codes[order], date[order], ts_ms[order], minute[order]
    new = np.ones(len(ts), dtype=bool)
    new[1:] = (codes[1:] != codes[:-1]) | (date[1:] != date[:-1]) | (
        np.diff(ts) > gap_s * 1000)
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(ts)) - 1
    entity = np.asarray(names, dtype=object)[codes[first]]
    return Sessions(entity=entity, day=date[first].astype(np.int64),
                    start=minute[first].astype(np.int64),
                    duration_s=((ts[last] - ts[first]) // 1000).astype(np.int64),
                    events=(last - first + 1).astype(np.int64))


def entity_columns(area: npt.NDArray[np.object_], *columns: npt.NDArray[Any]
                   ) -> tuple[list[str], IntArray, list[npt.NDArray[Any]]]:
    """Each activity once for the home and once more for its area (when it has one): the
    entity names, each row's entity code and the columns repeated to match."""
    areas, codes = encode(area)
    names = [HOME_ENTITY, *areas]
    in_area = area != ""
    entity = np.concatenate([np.zeros(len(area), dtype=np.int64), codes[in_area] + 1])
    return names, entity, [np.concatenate([c, c[in_area]]) for c in columns]


@dataclass(frozen=True)
class _Cluster:
    entity: str
    days: IntArray
    start: IntArray
    duration_s: IntArray
    events: IntArray
    center: int
    span_days: int
    expected_days: float


class SessionDetector:
    """Recurring daily sessions per area and for the whole home."""

    name = "session"
    gap_s = 1800
    """Idle time that ends a session."""
    half_width_min = 45
    """Half width of a recurring session's start window."""
    min_excess = 0.3
    """Share of days a start window must hold above chance."""
    max_p = 1e-5
    """... and the chance of that many days (a Chernoff bound) must be below this."""
    max_per_entity = 6
    """Recurring sessions looked for per entity."""

    def summarize(self, day: dt.date, events: pa.Table) -> dict[str, dict[str, Any]]:
        """``{entity: {"sessions": [[start minute, duration s, events], ...]}}``."""
        acts = activities(events)
        mine = acts.local_date == np.datetime64(day, "D")
        names, entity, (ts, minute) = entity_columns(acts.area[mine], acts.ts_ms[mine],
                                                     acts.minute[mine].astype(np.int64))
        days = np.zeros(len(ts), dtype=np.int64)
        found = split_sessions(names, entity, days, ts, minute, self.gap_s)
        out: dict[str, dict[str, Any]] = {}
        for i, name in enumerate(found.entity.tolist()):
            out.setdefault(str(name), {"sessions": []})["sessions"].append(
                [int(found.start[i]), int(found.duration_s[i]), int(found.events[i])])
        return out

    def detect(self, summaries: Sequence[DaySummary], end: dt.date,
               options: DetectOptions) -> list[Pattern]:
        """Recurring sessions from the stored daily sessions of the window."""
        first = end - dt.timedelta(days=options.window_days - 1)
        rows: list[tuple[str, int, int, int, int]] = []
        for summary in summaries:
            if first <= summary.day <= end:
                index = (summary.day - first).days
                for start, duration, count in summary.fields.get("sessions", []):
                    if 0 <= int(start) < DAY_MINUTES:
                        rows.append((summary.entity, index, int(start), int(duration),
                                     int(count)))
        rows.sort()
        columns = list(zip(*rows, strict=True)) if rows else [()] * 5
        found = Sessions(np.asarray(columns[0], dtype=object),
                         *(np.asarray(c, dtype=np.int64) for c in columns[1:]))
        return self._detect(found, first, options)

    def detect_raw(self, events: pa.Table, end: dt.date, options: DetectOptions
                   ) -> list[Pattern]:
        """Recurring sessions straight from the raw events of the window."""
        first = end - dt.timedelta(days=options.window_days - 1)
        if events.num_rows:
            dates = events.column("local_date")
            events = events.filter(pc.and_(pc.greater_equal(dates, pa.scalar(first)),
                                           pc.less_equal(dates, pa.scalar(end))))
        acts = activities(events)
        index = (acts.local_date - np.datetime64(first, "D")).astype(np.int64)
        names, entity, (day, ts, minute) = entity_columns(acts.area, index, acts.ts_ms,
                                                          acts.minute.astype(np.int64))
        found = split_sessions(names, entity, day, ts, minute, self.gap_s)
        return self._detect(found, first, options)

    # -- detection core ------------------------------------------------------------------
    def _detect(self, found: Sessions, first: dt.date, options: DetectOptions
                ) -> list[Pattern]:
        patterns: list[Pattern] = []
        for name in sorted(set(found.entity.tolist())):
            mine = found.entity == name
            for cluster in self._clusters(str(name), found, mine):
                pattern = self._pattern(cluster, first, options)
                if pattern is not None:
                    patterns.append(pattern)
        return _unique_keys(patterns)

    def _clusters(self, name: str, found: Sessions, mine: npt.NDArray[np.bool_]
                  ) -> list[_Cluster]:
        day, start = found.day[mine], found.start[mine]
        base = int(day.min())
        span = int(day.max()) - base + 1
        eligible = self._eligible(day - base, start, found.duration_s[mine], span)
        usable = np.flatnonzero(start >= self.gap_s // 60)
        remaining = np.ones(len(usable), dtype=bool)
        clusters: list[_Cluster] = []
        while len(clusters) < self.max_per_entity and remaining.any():
            chosen = usable[remaining]
            best = self._best_window(day[chosen] - base, start[chosen], eligible)
            if best is None:
                break
            center, expected = best
            picked = _nearest_per_day(day[chosen], start[chosen], center, self.half_width_min)
            members = chosen[picked]
            center = int(round(circular_mean(start[members]))) % DAY_MINUTES
            clusters.append(_Cluster(
                name, day[members], start[members],
                found.duration_s[mine][members], found.events[mine][members], center, span,
                expected))
            remaining &= ~np.isin(usable, members)
        return clusters

    def _eligible(self, day: IntArray, start: IntArray, duration_s: IntArray, span: int
                  ) -> IntArray:
        """Days x minutes: 1 where a session could start (the entity had been idle for
        ``gap_s``, and the minute is not in the day's first ``gap_s``)."""
        width = DAY_MINUTES + 1
        stop = np.minimum(start + (duration_s + self.gap_s) // 60 + 1, DAY_MINUTES)
        marks = np.bincount(day * width + start + 1, minlength=span * width)
        marks -= np.bincount(day * width + stop, minlength=span * width)
        busy = np.cumsum(marks.reshape(span, width)[:, :DAY_MINUTES], axis=1) > 0
        busy[:, :self.gap_s // 60] = True
        eligible: IntArray = (~busy).astype(np.int64)
        return eligible

    def _best_window(self, day: IntArray, start: IntArray, eligible: IntArray
                     ) -> tuple[int, float] | None:
        """Centre minute and expected days of the most surprising start window, if any
        passes the excess tests."""
        span = eligible.shape[0]
        starts = np.bincount(day * DAY_MINUTES + start, minlength=span * DAY_MINUTES
                             ).reshape(span, DAY_MINUTES)
        h = self.half_width_min
        present = _window_sums(starts, h) > 0
        hits = present.sum(axis=0)
        # Chance, the larger of two estimates. (1) The day's starts turned to a random time
        # of day (keeping their spacing): a window holds one with the share of that day's
        # windows that do.
        open_min = self.gap_s // 60
        turned = float(present[:, open_min + h:DAY_MINUTES - h].mean(axis=1).sum())
        # (2) The day's starts put at random among the minutes a start could happen.
        total = eligible.sum(axis=1, keepdims=True).astype(np.float64)
        share = np.divide(_window_sums(eligible, h), total, out=np.zeros(eligible.shape),
                          where=total > 0)
        chance = 1.0 - np.power(1.0 - np.minimum(share, 1.0), starts.sum(axis=1)[:, None])
        expected = np.maximum(chance.sum(axis=0), turned)
        excess = hits - expected
        center = int(np.argmax(np.round(excess, 9)))
        found, mean = float(hits[center]), float(expected[center])
        if (found - mean < self.min_excess * span
                or chance_tail(found, span, mean / span) > self.max_p):
            return None
        return center, mean

    def _pattern(self, cluster: _Cluster, first: dt.date, options: DetectOptions
                 ) -> Pattern | None:
        days = len(cluster.days)
        share = days / cluster.span_days
        spread = int(np.median(np.abs(_circular_diff(cluster.start, cluster.center))))
        confidence = share * (1.0 - 0.5 * min(1.0, spread / self.half_width_min))
        if confidence < options.min_confidence or days < options.min_days:
            return None
        duration = int(np.median(cluster.duration_s))
        end_minute = (cluster.center + duration // 60) % DAY_MINUTES
        who = "the home" if cluster.entity == HOME_ENTITY else f"area {cluster.entity}"
        description = (f"{who} is active {hhmm(cluster.center)}–{hhmm(end_minute)} on "
                       f"{round(100 * share)}% of days (start ±{spread} min, "
                       f"{days} of {cluster.span_days} days)")
        rounded = (cluster.center + 15) // 30 * 30 % DAY_MINUTES
        evidence = {
            "days_observed": days, "days_in_window": cluster.span_days,
            "expected_days": round(cluster.expected_days, 3), "share_of_days": round(share, 4),
            "start_minute": cluster.center, "start_spread_min": spread,
            "typical_duration_s": duration, "typical_end_minute": end_minute,
            "typical_events": float(np.median(cluster.events)), "gap_s": self.gap_s,
        }
        return Pattern(
            type=self.name, key=f"{cluster.entity}|{hhmm(rounded).replace(':', '')}",
            entities=(cluster.entity,), confidence=round(min(1.0, confidence), 6),
            description=description, evidence=evidence,
            first_seen=first + dt.timedelta(days=int(cluster.days.min())),
            last_seen=first + dt.timedelta(days=int(cluster.days.max())))


def _window_sums(counts: IntArray, half: int) -> IntArray:
    """Per row, the sum over the circular window ``[m - half, m + half]`` of each minute."""
    wrapped = np.concatenate([counts[:, -half:], counts, counts[:, :half]], axis=1)
    total = np.concatenate([np.zeros((counts.shape[0], 1), dtype=np.int64),
                            np.cumsum(wrapped, axis=1)], axis=1)
    width = 2 * half + 1
    sums: IntArray = total[:, width:width + DAY_MINUTES] - total[:, :DAY_MINUTES]
    return sums


def _circular_diff(minutes: IntArray, center: int) -> IntArray:
    """Signed minutes from ``center``, in [-720, 720)."""
    return (minutes - center + DAY_MINUTES // 2) % DAY_MINUTES - DAY_MINUTES // 2


def _nearest_per_day(day: IntArray, start: IntArray, center: int, half: int
                     ) -> npt.NDArray[np.int64]:
    """Indices of the start nearest ``center`` on each day, within ``half`` minutes."""
    distance = np.abs(_circular_diff(start, center))
    inside = np.flatnonzero(distance <= half)
    order = inside[np.lexsort((start[inside], distance[inside], day[inside]))]
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = day[order][1:] != day[order][:-1]
    return np.sort(order[keep])


def _unique_keys(patterns: list[Pattern]) -> list[Pattern]:
    """Sorted by key; a key found twice gets ``#2``, ``#3``... in start order."""
    seen: dict[str, int] = {}
    out: list[Pattern] = []
    for pattern in sorted(patterns, key=lambda p: (p.key, p.evidence["start_minute"])):
        count = seen[pattern.key] = seen.get(pattern.key, 0) + 1
        if count > 1:
            pattern = replace(pattern, key=f"{pattern.key}#{count}")
        out.append(pattern)
    return sorted(out, key=lambda p: p.key)


DETECTOR = SessionDetector()
