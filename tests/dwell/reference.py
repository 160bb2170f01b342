"""Brute-force analytics, one session and one instant at a time, to check the engine against.

Every figure here is computed the slow, obvious way from a list of sessions (themselves
paired by the event-by-event reference of ``test_pairing``), following the definitions in
the docstrings of :mod:`vigil.dwell.queries` and :mod:`vigil.dwell.occupancy`.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

STATUSES = ("complete", "open", "timed_out", "orphan_exit")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def percentile(values: list[int], q: float) -> float | None:
    """Linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def dimension(session: dict[str, Any], name: str, timezone: str) -> Any:
    """A session's value of a grouping dimension."""
    anchor = session["entry_ts"] or session["exit_ts"]
    local = anchor.astimezone(ZoneInfo(timezone))
    day = local.date()
    if name == "camera":
        return session["source_id"]
    if name == "zone":
        return session["zone"]
    if name == "person":
        return session["subject_id"]
    if name == "hour":
        return local.hour
    if name == "weekday":
        return local.weekday()
    if name == "day":
        return day
    if name == "week":
        return day - timedelta(days=day.weekday())
    if name == "month":
        return day.replace(day=1)
    attributes = json.loads(session["attributes"]) if session["attributes"] else {}
    return attributes.get(name.removeprefix("attributes."))


def stats(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per status and complete-session statistics."""
    durations = [s["duration_ms"] for s in sessions if s["status"] == "complete"]
    return {
        **{status: sum(1 for s in sessions if s["status"] == status) for status in STATUSES},
        "persons": len({s["subject_id"] for s in sessions}),
        "mean_ms": sum(durations) / len(durations) if durations else None,
        "median_ms": percentile(durations, 0.5),
        "p90_ms": percentile(durations, 0.9),
        "max_ms": max(durations) if durations else None,
        "total_ms": sum(durations),
    }


def grouped(sessions: list[dict[str, Any]], dims: tuple[str, ...],
            zones: dict[str, str]) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for s in sessions:
        groups[tuple(dimension(s, d, zones[s["source_id"]]) for d in dims)].append(s)
    return groups


def visitors(sessions: list[dict[str, Any]], all_time: list[dict[str, Any]], period: str,
             dims: tuple[str, ...], zones: dict[str, str]) -> dict[str, Any]:
    """Per (period, group): visitors, new and returning; frequency per group."""
    def day(s: dict[str, Any]) -> date:
        return dimension(s, "day", zones[s["source_id"]])  # type: ignore[no-any-return]

    def key(s: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(dimension(s, d, zones[s["source_id"]]) for d in dims)

    first: dict[tuple[Any, ...], date] = {}
    for s in all_time:
        k = (s["subject_id"], *key(s))
        first[k] = min(first.get(k, day(s)), day(s))
    visits: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    days: dict[tuple[Any, ...], set[date]] = defaultdict(set)
    for s in sessions:
        p = dimension(s, period, zones[s["source_id"]])
        visits[(p, *key(s))].add(s["subject_id"])
        days[(*key(s), s["subject_id"])].add(day(s))
    periods = {}
    for (p, *g), persons in visits.items():
        new = sum(1 for person in persons if first[(person, *g)] >= p)
        periods[(p, *g)] = (len(persons), new, len(persons) - new)
    frequency: dict[tuple[Any, ...], int] = defaultdict(int)
    for (*g, _person), visit_days in days.items():
        frequency[(*g, len(visit_days))] += 1
    return {"periods": periods, "frequency": dict(frequency)}


def occupancy(intervals: list[tuple[int, int]], edges: list[int]) -> tuple[list[int],
                                                                           list[float]]:
    """Max and time-weighted mean presence per bucket, instant by instant."""
    maxima, means = [], []
    for b0, b1 in zip(edges, edges[1:], strict=False):
        moments = {b0, *(a for a, _ in intervals if b0 <= a < b1)}
        maxima.append(max(sum(1 for a, b in intervals if a <= m < b) for m in moments))
        area = sum(max(0, min(b, b1) - max(a, b0)) for a, b in intervals)
        means.append(area / (b1 - b0))
    return maxima, means


def ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)
