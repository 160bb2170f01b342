"""Ground truth of a generated home: the patterns its routines planted, and those implied.

Each routine declares what it plants and what that implies for the detectors of
:mod:`vigil.patterns` (a habit at 06:40 in the kitchen also makes the kitchen busy in hour
6 and starts a kitchen session then; a chain A → B → C 90 s apart also makes A, B and C
co-occur). The key numbers are measured on what was actually planted in the window (the
realised times, gaps and durations), not on the routine's parameters.

An expectation near a detector's threshold (an estimated share or confidence between
:data:`LOW` and :data:`HIGH`) is ``optional``: finding it or not are both right.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from vigil.patterns.base import HOME_ENTITY
from vigil.synth.routines import (
    AreaBusy,
    AtTime,
    Chain,
    HomeDay,
    LongOn,
    Planted,
    Routine,
    Together,
)

__all__ = ["HIGH", "LOW", "Expected", "Window", "expected_patterns"]

LOW, HIGH = 0.4, 0.6
"""Estimated shares or confidences between these are too close to call."""
BUSY_LOW, BUSY_HIGH = 0.2, 0.4
"""The same for an hour's share of days above the area's chance (the area detector wants
0.3)."""
DAY_MINUTES = 1440
CO_WINDOW_S = 300.0
"""The co-occurrence and sequence window the expectations assume (the detectors' default)."""
SESSION_SCALE_MIN = 45.0
SPREAD_SCALE_MIN = 30.0
MIN_MONTH_DAYS = 10
SEASONAL_MONTHS = 3
DAYS_PER_MONTH = 30.4375
TOLERANCES: dict[str, float] = {
    "minute": 10.0, "start_minute": 30.0, "median_gap_s": 20.0, "median_second_gap_s": 20.0,
    "median_s": 0.1, "shift_min_per_month": 5.0, "first_hour": 0.0, "hours": 0.0,
}
"""How far a found number may be from the expected one (``median_s``: relative)."""


@dataclass(frozen=True)
class Expected:
    """A pattern a detector should find: type, variant, entities and key numbers."""

    type: str
    """The detector's name."""
    entities: tuple[str, ...]
    """In order where order matters (sequences, area transitions), else sorted."""
    variant: str = ""
    """``busy`` / ``next`` (area), ``weekdays`` (day type), ``timing`` (seasonal)."""
    numbers: Mapping[str, float] = field(default_factory=dict)
    routine: str = ""
    """The kind of routine that planted it."""
    implied: bool = False
    """True when it follows from a routine planted for another detector."""
    optional: bool = False

    def tolerance(self, name: str) -> float:
        """How far a found value of number ``name`` may be off (see :data:`TOLERANCES`)."""
        return TOLERANCES.get(name, 0.0)


@dataclass(frozen=True)
class Window:
    """The days detection looks at, and the generated days among them."""

    start: dt.date
    end: dt.date
    generated: tuple[dt.date, dt.date]

    @property
    def days(self) -> int:
        """Generated days inside the window."""
        first, last = max(self.start, self.generated[0]), min(self.end, self.generated[1])
        return max(0, (last - first).days + 1)

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


def _optional(estimate: float) -> bool | None:
    """``None``: not expected; else whether the expectation is optional."""
    if estimate < LOW:
        return None
    return estimate < HIGH


def _mean_minute(minutes: Sequence[float]) -> float:
    angles = np.asarray(minutes, dtype=np.float64) * (2 * math.pi / DAY_MINUTES)
    mean = math.atan2(float(np.sin(angles).sum()), float(np.cos(angles).sum()))
    return (mean * DAY_MINUTES / (2 * math.pi)) % DAY_MINUTES


def _sd(values: Sequence[float]) -> float:
    return float(np.std(values)) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class _Acts:
    """The window's activations of one routine."""

    entity: list[str]
    day: list[dt.date]
    minute: list[float]
    on_ms: list[int]
    off_ms: list[int]
    group: list[int]

    @classmethod
    def of(cls, planted: Planted, window: Window) -> _Acts:
        keep = [i for i, day in enumerate(planted.day) if window.contains(day)]
        return cls(*([getattr(planted, name)[i] for i in keep]
                     for name in ("entity", "day", "minute", "on_ms", "off_ms", "group")))

    def of_entity(self, entity: str) -> list[int]:
        return [i for i, e in enumerate(self.entity) if e == entity]


def _daily_first(acts: _Acts, rows: list[int]) -> dict[dt.date, float]:
    first: dict[dt.date, float] = {}
    for i in rows:
        first[acts.day[i]] = min(first.get(acts.day[i], math.inf), acts.minute[i])
    return first


def _habit(acts: _Acts, rows: list[int], window: Window, area: str | None, routine: str,
           implied: bool) -> list[Expected]:
    """A time of day, and the area's busy hours and session it makes."""
    first = _daily_first(acts, rows)
    if not first or not window.days:
        return []
    share = len(first) / window.days
    minute = _mean_minute(list(first.values()))
    spread = _sd([(m - minute + 720) % DAY_MINUTES - 720 for m in first.values()])
    found: list[Expected] = []
    tod = _optional(share / (1 + (spread / SPREAD_SCALE_MIN) ** 2))
    if tod is not None:
        found.append(Expected("time_of_day", (acts.entity[rows[0]],), "",
                              {"minute": round(minute, 2)}, routine, implied, tod))
    if area is None:
        return found
    found += _busy_hours(acts, rows, window, area, routine)
    session = _optional(share * (1 - 0.5 * min(1.0, 0.67 * spread / SESSION_SCALE_MIN)))
    if session is not None:
        found.append(Expected("session", (area,), "", {"start_minute": round(minute, 2)},
                              routine, True, session))
    return found


def _busy_hours(acts: _Acts, rows: list[int], window: Window, area: str, routine: str
                ) -> list[Expected]:
    """Runs of hours in which the rows fall on clearly more of the window's days than the
    area's hours would by chance (an area busy all day has no busy hours)."""
    days_by_hour: dict[int, set[dt.date]] = {}
    for i in rows:
        days_by_hour.setdefault(int(acts.minute[i] // 60) % 24, set()).add(acts.day[i])
    chance = sum(len(d) for d in days_by_hour.values()) / 24 / window.days
    excess = {h: len(d) / window.days - chance for h, d in days_by_hour.items()}
    hours = sorted(h for h, e in excess.items() if e >= BUSY_LOW)
    runs: list[list[int]] = []
    for hour in hours:
        if runs and runs[-1][-1] == hour - 1:
            runs[-1].append(hour)
        else:
            runs.append([hour])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 23:
        runs[0] = runs.pop() + runs[0]
    return [Expected("area", (area,), "busy", {"first_hour": run[0], "hours": len(run)},
                     routine, True, any(excess[h] < BUSY_HIGH for h in run)) for run in runs]


def _at_time(routine: AtTime, acts: _Acts, window: Window, seasonal: Window,
             seasonal_acts: _Acts, areas: Mapping[str, str]) -> list[Expected]:
    rows = acts.of_entity(routine.entity)
    kind = routine.kind
    found = _habit(acts, rows, window, areas.get(routine.entity), kind, kind != "time_of_day")
    if kind == "weekday_habit":
        found += _weekday_only(routine, acts, rows, window)
    if kind == "drift":
        found += _drift(routine, seasonal_acts, seasonal)
    return found


def _weekday_only(routine: AtTime, acts: _Acts, rows: list[int], window: Window
                  ) -> list[Expected]:
    days = {acts.day[i] for i in rows}
    listed = [window.start + dt.timedelta(days=i) for i in range((window.end - window.start)
                                                                 .days + 1)]
    chosen = [d for d in listed if d.weekday() in routine.weekdays
              and window.generated[0] <= d <= window.generated[1]]
    share = len(days) / len(chosen) if chosen else 0.0
    optional = _optional(share)
    if optional is None or set(routine.weekdays) != {0, 1, 2, 3, 4}:
        return []
    return [Expected("day_type", (routine.entity,), "weekdays", {}, "weekday_habit", False,
                     optional)]


def _drift(routine: AtTime, acts: _Acts, window: Window) -> list[Expected]:
    days = sorted(set(acts.day))
    if not days:
        return []
    months: dict[tuple[int, int], int] = {}
    for offset in range((days[-1] - days[0]).days + 1):
        day = days[0] + dt.timedelta(days=offset)
        months[(day.year, day.month)] = months.get((day.year, day.month), 0) + 1
    if sum(n >= MIN_MONTH_DAYS for n in months.values()) < SEASONAL_MONTHS:
        return []
    per_month = routine.drift_min_per_month * DAYS_PER_MONTH / 30.0
    return [Expected("seasonal", (routine.entity,), "timing",
                     {"shift_min_per_month": round(per_month, 3)}, "drift")]


def _together(routine: Together, acts: _Acts) -> list[Expected]:
    pair = tuple(sorted((routine.first, routine.second)))
    found = [Expected("cooccurrence", pair, "", {}, "cooccurrence")]
    leads: dict[str, list[float]] = {routine.first: [], routine.second: []}
    by_group: dict[int, list[int]] = {}
    for i, group in enumerate(acts.group):
        by_group.setdefault(group, []).append(i)
    for rows in by_group.values():
        rows.sort(key=lambda i: acts.on_ms[i])
        leads[acts.entity[rows[0]]].append((acts.on_ms[rows[1]] - acts.on_ms[rows[0]]) / 1000)
    total = sum(len(g) for g in leads.values())
    for lead, other in ((routine.first, routine.second), (routine.second, routine.first)):
        optional = _optional(len(leads[lead]) / total if total else 0.0)
        if optional is not None:
            found.append(Expected("sequence", (lead, other), "",
                                  {"median_gap_s": float(np.median(leads[lead]))},
                                  "cooccurrence", True, optional))
    return found


def _chain(routine: Chain, acts: _Acts, areas: Mapping[str, str]) -> list[Expected]:
    steps = routine.steps
    starts: dict[int, dict[str, int]] = {}
    for i, group in enumerate(acts.group):
        starts.setdefault(group, {})[acts.entity[i]] = acts.on_ms[i]
    gaps = {(a, b): [(s[steps[b]] - s[steps[a]]) / 1000 for s in starts.values()]
            for a in range(len(steps)) for b in range(a + 1, len(steps))}
    found: list[Expected] = []
    for (a, b), values in sorted(gaps.items()):
        if not values or max(values) > CO_WINDOW_S:
            continue
        implied = b != a + 1
        found.append(Expected("sequence", (steps[a], steps[b]), "",
                              {"median_gap_s": float(np.median(values))}, "sequence", implied))
        found.append(Expected("cooccurrence", tuple(sorted((steps[a], steps[b]))), "", {},
                              "sequence", True))
    if len(steps) == 3 and all(gaps[p] and max(gaps[p]) <= CO_WINDOW_S
                               for p in ((0, 1), (1, 2))):
        found.append(Expected("sequence", steps, "",
                              {"median_gap_s": float(np.median(gaps[(0, 1)])),
                               "median_second_gap_s": float(np.median(gaps[(1, 2)]))},
                              "sequence"))
    for here, there in zip(steps, steps[1:], strict=False):
        if areas.get(here) and areas.get(there) and areas[here] != areas[there]:
            found.append(Expected("area", (areas[here], areas[there]), "next", {}, "sequence",
                                  True))
    return found


def _long_on(routine: LongOn, acts: _Acts) -> list[Expected]:
    seconds = [(off - on) / 1000 for on, off in zip(acts.on_ms, acts.off_ms, strict=True)]
    if not seconds:
        return []
    return [Expected("duration", (routine.entity,), "",
                     {"median_s": float(np.median(seconds))}, "duration")]


def _area_busy(routine: AreaBusy, acts: _Acts, window: Window) -> list[Expected]:
    rows = list(range(len(acts.entity)))
    first = _daily_first(acts, rows)
    if not first or not window.days:
        return []
    found = _busy_hours(acts, rows, window, routine.area, "area")
    found = [Expected(e.type, e.entities, e.variant, e.numbers, e.routine, False, e.optional)
             for e in found]
    share = len(first) / window.days
    minute = _mean_minute(list(first.values()))
    spread = _sd([(m - minute + 720) % DAY_MINUTES - 720 for m in first.values()])
    session = _optional(share * (1 - 0.5 * min(1.0, 0.67 * spread / SESSION_SCALE_MIN)))
    if session is not None:
        found.append(Expected("session", (routine.area,), "",
                              {"start_minute": round(minute, 2)}, "area", True, session))
    for member in routine.members:  # each member alone: rarely a time-of-day routine
        found += [e for e in _habit(acts, acts.of_entity(member), window, None, "area", True)
                  if e.type == "time_of_day"]
    return found


def _home_day(routine: HomeDay, acts: _Acts, window: Window, areas: Mapping[str, str]
              ) -> list[Expected]:
    wakes = [i for i, group in enumerate(acts.group) if group == 0]
    if not wakes or not window.days:
        return []
    share = len(wakes) / window.days
    minute = _mean_minute([acts.minute[i] for i in wakes])
    optional = _optional(share)
    if optional is None:
        return []
    found = [Expected("session", (HOME_ENTITY,), "", {"start_minute": round(minute, 2)},
                      "session", False, optional)]
    area = areas.get(routine.motion)
    if area is not None:
        found.append(Expected("session", (area,), "", {"start_minute": round(minute, 2)},
                              "session", True, optional))
        found += _busy_hours(acts, list(range(len(acts.entity))), window, area, "session")
    return found


def expected_patterns(routines: Sequence[Routine], plans: Sequence[Planted],
                      areas: Mapping[str, str], generated: tuple[dt.date, dt.date],
                      end: dt.date, window_days: int = 30, seasonal_days: int = 90
                      ) -> tuple[Expected, ...]:
    """What the detectors should find in the ``window_days`` ending ``end`` (the seasonal
    detector: ``seasonal_days``), given the routines' plans."""
    window = Window(end - dt.timedelta(days=window_days - 1), end, generated)
    seasonal = Window(end - dt.timedelta(days=seasonal_days - 1), end, generated)
    found: list[Expected] = []
    for routine, planted in zip(routines, plans, strict=True):
        acts = _Acts.of(planted, window)
        if isinstance(routine, AtTime):
            found += _at_time(routine, acts, window, seasonal, _Acts.of(planted, seasonal),
                              areas)
        elif isinstance(routine, Together):
            found += _together(routine, acts)
        elif isinstance(routine, Chain):
            found += _chain(routine, acts, areas)
        elif isinstance(routine, LongOn):
            found += _long_on(routine, acts)
        elif isinstance(routine, AreaBusy):
            found += _area_busy(routine, acts, window)
        elif isinstance(routine, HomeDay):
            found += _home_day(routine, acts, window, areas)
    return tuple(sorted(found, key=lambda e: (e.type, e.entities, e.variant)))
