"""Routines a synthetic smart home follows: what the pattern detectors should find.

Each routine plans, day by day, when its entities turn on and off (:class:`Planted`); what
it planted is then described as expected patterns by :mod:`vigil.synth.home_truth`. Times
are local wall-clock times of the home's zone; a jitter is a standard deviation, clipped at
:data:`JITTER_CLIP` of them. Unless a routine is about durations, an entity stays on for a
log-uniform time between :data:`ON_SECONDS` (so no typical duration appears by accident).

- :class:`AtTime`: one entity around a time of day on a share of days; with ``weekdays``
  a weekday-only habit, with ``drift_min_per_month`` a time that moves over the months.
- :class:`Together`: two entities within ``within_s`` seconds of each other, a few times a
  day at random times; ``first`` leads on a ``lead_share`` of them.
- :class:`Chain`: a sequence A → B (→ C) with a gap, a few times a day at random times.
- :class:`LongOn`: an entity left on for a typical duration, at random times.
- :class:`AreaBusy`: an area's entities used in a daily time window, each on some days.
- :class:`HomeDay`: someone is home and awake from ``wake`` to ``sleep``: a motion sensor
  fires every few minutes in between, so the home's activity is one session a day.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

__all__ = ["EVERY_DAY", "JITTER_CLIP", "ON_SECONDS", "WEEKDAYS", "AreaBusy", "AtTime",
           "Chain", "Day", "HomeDay", "LongOn", "Planted", "Routine", "Together",
           "clock_minutes", "local_ms"]

EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
WEEKDAYS = (0, 1, 2, 3, 4)
JITTER_CLIP = 2.5
ON_SECONDS = (20.0, 2400.0)
"""How long an entity stays on unless a routine says otherwise (log-uniform)."""
DAYS_PER_MONTH = 30.0
MINUTE_MS = 60_000


def clock_minutes(text: str) -> float:
    """``"06:40"`` as minutes after midnight."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def local_ms(day: dt.date, minute: float, zone: ZoneInfo) -> int:
    """UTC epoch ms of wall-clock ``minute`` (may exceed a day) on local ``day``."""
    wall = dt.datetime.combine(day, dt.time(), tzinfo=zone) + dt.timedelta(minutes=minute)
    return round(wall.timestamp() * 1000)


@dataclass(frozen=True)
class Day:
    """One local day of the generated period."""

    index: int
    """Days since the start (0 = the first day)."""
    date: dt.date
    zone: ZoneInfo

    def at(self, minute: float) -> int:
        """UTC epoch ms of wall-clock ``minute`` of this day."""
        return local_ms(self.date, minute, self.zone)


@dataclass
class Planted:
    """What a routine planted, one entry per activation."""

    entity: list[str] = field(default_factory=list)
    on_ms: list[int] = field(default_factory=list)
    off_ms: list[int] = field(default_factory=list)
    day: list[dt.date] = field(default_factory=list)
    minute: list[float] = field(default_factory=list)
    """Local wall-clock minute of the start."""
    group: list[int] = field(default_factory=list)
    """Which occurrence of the routine the activation belongs to (pairs, sequences)."""

    def add(self, entity: str, day: Day, minute: float, on_s: float, group: int = 0) -> None:
        """Plant ``entity`` on at ``minute`` of ``day`` for ``on_s`` seconds."""
        start = day.at(minute)
        self.entity.append(entity)
        self.on_ms.append(start)
        self.off_ms.append(start + round(on_s * 1000))
        self.day.append(day.date)
        self.minute.append(minute)
        self.group.append(group)


def _jitter(rng: np.random.Generator, sd: float) -> float:
    return float(np.clip(rng.normal(0.0, 1.0), -JITTER_CLIP, JITTER_CLIP) * sd)


def _on_seconds(rng: np.random.Generator) -> float:
    low, high = ON_SECONDS
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _random_minute(rng: np.random.Generator, window: tuple[str, str]) -> float:
    low, high = clock_minutes(window[0]), clock_minutes(window[1])
    return float(rng.uniform(low, high))


@dataclass(frozen=True)
class AtTime:
    """``entity`` turns on around ``at`` on a ``share`` of the ``weekdays``; the time
    moves ``drift_min_per_month`` later every 30 days."""

    entity: str
    at: str
    jitter_min: float = 8.0
    share: float = 0.9
    weekdays: tuple[int, ...] = EVERY_DAY
    drift_min_per_month: float = 0.0

    @property
    def kind(self) -> str:
        """``drift``, ``weekday_habit`` or ``time_of_day``."""
        if self.drift_min_per_month:
            return "drift"
        return "time_of_day" if set(self.weekdays) == set(EVERY_DAY) else "weekday_habit"

    def entities(self) -> tuple[str, ...]:
        return (self.entity,)

    def plan(self, days: list[Day], rng: np.random.Generator) -> Planted:
        planted = Planted()
        for day in days:
            happens = rng.random() < self.share
            noise, length = _jitter(rng, self.jitter_min), _on_seconds(rng)
            if happens and day.date.weekday() in self.weekdays:
                drift = self.drift_min_per_month * day.index / DAYS_PER_MONTH
                planted.add(self.entity, day, clock_minutes(self.at) + drift + noise, length)
        return planted


@dataclass(frozen=True)
class Together:
    """``first`` and ``second`` turn on within ``within_s`` seconds of each other,
    ``per_day`` times a day at random times in ``window``; ``first`` leads on a
    ``lead_share`` of the occasions."""

    first: str
    second: str
    per_day: int = 3
    within_s: float = 60.0
    lead_share: float = 0.8
    window: tuple[str, str] = ("07:00", "23:00")

    kind = "cooccurrence"

    def entities(self) -> tuple[str, ...]:
        return (self.first, self.second)

    def plan(self, days: list[Day], rng: np.random.Generator) -> Planted:
        planted = Planted()
        group = 0
        for day in days:
            for _ in range(self.per_day):
                start = _random_minute(rng, self.window)
                gap = rng.uniform(1.0, self.within_s) / 60.0
                lead = rng.random() < self.lead_share
                pair = (self.first, self.second) if lead else (self.second, self.first)
                planted.add(pair[0], day, start, _on_seconds(rng), group)
                planted.add(pair[1], day, start + gap, _on_seconds(rng), group)
                group += 1
        return planted


@dataclass(frozen=True)
class Chain:
    """``steps`` turn on one after another, ``gap_s`` ± ``gap_jitter_s`` seconds apart,
    ``per_day`` times a day at random times in ``window``."""

    steps: tuple[str, ...]
    per_day: int = 2
    gap_s: float = 90.0
    gap_jitter_s: float = 15.0
    window: tuple[str, str] = ("07:00", "23:00")

    kind = "sequence"

    def entities(self) -> tuple[str, ...]:
        return self.steps

    def plan(self, days: list[Day], rng: np.random.Generator) -> Planted:
        planted = Planted()
        group = 0
        for day in days:
            for _ in range(self.per_day):
                minute = _random_minute(rng, self.window)
                for index, entity in enumerate(self.steps):
                    if index:
                        minute += (self.gap_s + _jitter(rng, self.gap_jitter_s)) / 60.0
                    planted.add(entity, day, minute, _on_seconds(rng), group)
                group += 1
        return planted


@dataclass(frozen=True)
class LongOn:
    """``entity`` stays on ``minutes`` ± ``jitter_min``, ``per_day`` times a day at random
    times in ``window``."""

    entity: str
    minutes: float = 35.0
    jitter_min: float = 4.0
    per_day: int = 1
    window: tuple[str, str] = ("06:00", "22:00")

    kind = "duration"

    def entities(self) -> tuple[str, ...]:
        return (self.entity,)

    def plan(self, days: list[Day], rng: np.random.Generator) -> Planted:
        planted = Planted()
        for day in days:
            for _ in range(self.per_day):
                start = _random_minute(rng, self.window)
                length = self.minutes + _jitter(rng, self.jitter_min)
                planted.add(self.entity, day, start, length * 60.0)
        return planted


@dataclass(frozen=True)
class AreaBusy:
    """The ``members`` of ``area`` are used between ``start`` and ``end`` on a ``share``
    of days: on such a day one of them surely and each other with chance ``per_entity``,
    each at a random time in the window."""

    area: str
    members: tuple[str, ...]
    start: str = "12:00"
    end: str = "13:00"
    share: float = 0.9
    per_entity: float = 0.25

    kind = "area"

    def entities(self) -> tuple[str, ...]:
        return self.members

    def plan(self, days: list[Day], rng: np.random.Generator) -> Planted:
        planted = Planted()
        for day in days:
            happens = rng.random() < self.share
            used = rng.random(len(self.members)) < self.per_entity
            used[rng.integers(len(self.members))] = True
            minutes = [_random_minute(rng, (self.start, self.end)) for _ in self.members]
            lengths = [_on_seconds(rng) for _ in self.members]
            if not happens:
                continue
            for entity, chosen, minute, length in zip(self.members, used, minutes, lengths,
                                                      strict=True):
                if chosen:
                    planted.add(entity, day, minute, length)
        return planted


@dataclass(frozen=True)
class HomeDay:
    """On a ``share`` of days someone is home from ``wake`` to ``sleep`` (± ``jitter_min``):
    ``motion`` fires at the wake time and then every ``pulse_min`` (uniform) until the
    sleep time, so that the home's activity is one long session."""

    motion: str
    wake: str = "06:20"
    sleep: str = "23:15"
    jitter_min: float = 8.0
    share: float = 0.95
    pulse_min: tuple[float, float] = (6.0, 28.0)
    pulse_on_s: tuple[float, float] = (20.0, 600.0)

    kind = "session"

    def entities(self) -> tuple[str, ...]:
        return (self.motion,)

    def plan(self, days: list[Day], rng: np.random.Generator) -> Planted:
        planted = Planted()
        for day in days:
            happens = rng.random() < self.share
            minute = clock_minutes(self.wake) + _jitter(rng, self.jitter_min)
            sleep = clock_minutes(self.sleep) + _jitter(rng, self.jitter_min)
            group = 0
            while minute <= sleep:
                low, high = self.pulse_on_s
                on_s = math.exp(rng.uniform(math.log(low), math.log(high)))
                if happens:
                    planted.add(self.motion, day, minute, on_s, group)
                group = 1
                minute += rng.uniform(*self.pulse_min)
        return planted


Routine = AtTime | Together | Chain | LongOn | AreaBusy | HomeDay
