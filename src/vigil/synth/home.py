"""A synthetic smart home: planted routines plus background noise, with ground truth.

>>> home = generate_home(HomeConfig(days=30))
>>> home.events          # Home Assistant state_changed events, EVENT_INPUT_SCHEMA
>>> home.truth           # the patterns the detectors should find

Noise entities turn on at uniformly random times (a Poisson number a day each) and stay on
for a log-uniform length (10 s to 2 h), so they follow no routine. Everything is seeded:
the same config gives the same table. :func:`noise_config` is the pure-noise mode and
:func:`scale_config` a large home for benchmarks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from vigil.store.base import Store
from vigil.synth.home_events import (
    Activations,
    activation_table,
    concat_activations,
    id_tag,
    separate,
)
from vigil.synth.home_truth import Expected, expected_patterns
from vigil.synth.routines import (
    WEEKDAYS,
    AreaBusy,
    AtTime,
    Chain,
    Day,
    HomeDay,
    LongOn,
    Planted,
    Routine,
    Together,
)

__all__ = ["DEFAULT_AREAS", "DEFAULT_ROUTINES", "Home", "HomeConfig", "generate_home",
           "insert_home", "noise_config", "scale_config"]

DEFAULT_ROUTINES: tuple[Routine, ...] = (
    HomeDay("binary_sensor.living_motion", wake="06:20", sleep="23:15", jitter_min=8.0),
    AtTime("switch.coffee_maker", "06:40", jitter_min=7.0, share=0.9),
    Together("media_player.tv", "light.living_room", per_day=3, within_s=60.0,
             lead_share=0.8),
    Chain(("binary_sensor.hall_motion", "light.hallway", "light.bathroom"), per_day=2,
          gap_s=90.0, gap_jitter_s=15.0),
    LongOn("switch.heater", minutes=35.0, jitter_min=4.0),
    AtTime("switch.office_lamp", "08:30", jitter_min=6.0, share=0.95, weekdays=WEEKDAYS),
    AtTime("light.porch", "18:15", jitter_min=5.0, share=0.95, drift_min_per_month=20.0),
    AreaBusy("kitchen", ("light.kitchen", "switch.kettle", "switch.toaster"),
             start="12:00", end="13:00", share=0.9, per_entity=0.25),
)
"""The routines of the default home: one of each kind. Times are chosen inside clock hours
and apart from each other, so that what each one implies is clear-cut."""

DEFAULT_AREAS: dict[str, str] = {
    "binary_sensor.living_motion": "living_room", "media_player.tv": "living_room",
    "light.living_room": "living_room", "switch.coffee_maker": "kitchen",
    "light.kitchen": "kitchen", "switch.kettle": "kitchen", "switch.toaster": "kitchen",
    "binary_sensor.hall_motion": "hall", "light.hallway": "hall",
    "light.bathroom": "bathroom", "switch.heater": "bathroom",
    "switch.office_lamp": "office", "light.porch": "porch",
}
NOISE_AREAS = ("attic", "basement", "garage", "garden")
NOISE_DOMAINS = ("light", "switch", "binary_sensor", "fan")
NOISE_MIN_ON_S, NOISE_MAX_ON_S = 10.0, 7200.0
_ROUTINE_STREAM, _NOISE_STREAM = 1, 2


@dataclass(frozen=True)
class HomeConfig:
    """What to generate: the period, the home's zone, its routines and its noise."""

    start: dt.date = dt.date(2026, 3, 2)
    days: int = 30
    timezone: str = "Europe/Berlin"
    seed: int = 1
    routines: tuple[Routine, ...] = DEFAULT_ROUTINES
    areas: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_AREAS))
    """Area of each routine entity (others have none)."""
    noise_entities: int = 8
    noise_per_day: float = 2.0
    """Mean activations a day of each noise entity."""

    def __post_init__(self) -> None:
        if self.days < 1 or self.noise_entities < 0 or self.noise_per_day < 0:
            raise ValueError("days must be >= 1, noise sizes >= 0")
        ZoneInfo(self.timezone)

    @property
    def end(self) -> dt.date:
        """The last local day."""
        return self.start + dt.timedelta(days=self.days - 1)


@dataclass(frozen=True)
class Home:
    """A generated home: its events and what they hold."""

    config: HomeConfig
    events: pa.Table
    """``state_changed`` events in :data:`vigil.store.base.EVENT_INPUT_SCHEMA`, by time."""
    entities: tuple[str, ...]
    areas: dict[str, str]
    """Area of each entity that has one."""
    plans: tuple[Planted, ...]
    """What each routine planted (in the order of ``config.routines``)."""

    @property
    def truth(self) -> tuple[Expected, ...]:
        """The expected patterns of a 30-day window (seasonal: 90) ending on the last day."""
        return self.expected()

    def expected(self, end: dt.date | None = None, window_days: int = 30,
                 seasonal_days: int = 90) -> tuple[Expected, ...]:
        """The patterns planted, and those they imply, in the window ending ``end``
        (default: the last generated day)."""
        config = self.config
        return expected_patterns(config.routines, self.plans, self.areas,
                                 (config.start, config.end), end or config.end,
                                 window_days, seasonal_days)


def noise_config(days: int = 30, seed: int = 1, entities: int = 12, per_day: float = 6.0,
                 start: dt.date = HomeConfig.start) -> HomeConfig:
    """The pure-noise mode: no routine, only ``entities`` noise entities with ``per_day``
    activations a day each."""
    return HomeConfig(start=start, days=days, seed=seed, routines=(), areas={},
                      noise_entities=entities, noise_per_day=per_day)


def scale_config(events_per_day: int = 100_000, entities: int = 500, days: int = 1,
                 start: dt.date = dt.date(2026, 3, 10), seed: int = 1) -> HomeConfig:
    """A large home: ``entities`` noise entities giving about ``events_per_day`` events a
    day (two per activation) besides the default routines."""
    return HomeConfig(start=start, days=days, seed=seed, noise_entities=entities,
                      noise_per_day=events_per_day / 2 / max(entities, 1))


def noise_entity_ids(count: int) -> list[str]:
    """``light.noise_000``, ``switch.noise_001``, ... (domains in turn)."""
    return [f"{NOISE_DOMAINS[i % len(NOISE_DOMAINS)]}.noise_{i:03d}" for i in range(count)]


def _days(config: HomeConfig) -> list[Day]:
    zone = ZoneInfo(config.timezone)
    return [Day(i, config.start + dt.timedelta(days=i), zone) for i in range(config.days)]


def _noise(config: HomeConfig, days: list[Day], first_code: int) -> Activations:
    """Noise activations, vectorised: uniform instants over each local day."""
    rng = np.random.default_rng([config.seed, _NOISE_STREAM])
    n_entities = config.noise_entities
    bounds = np.array([[d.at(0.0), d.at(1440.0)] for d in days], dtype=np.int64)
    counts = rng.poisson(config.noise_per_day, size=(len(days), n_entities))
    day_of = np.repeat(np.arange(len(days)), counts.sum(axis=1))
    entity = np.concatenate([np.repeat(np.arange(n_entities), row) for row in counts]
                            ) if len(days) else np.zeros(0, dtype=np.int64)
    low, high = bounds[day_of, 0], bounds[day_of, 1]
    on = low + np.floor(rng.random(day_of.size) * (high - low)).astype(np.int64)
    length_s = np.exp(rng.uniform(np.log(NOISE_MIN_ON_S), np.log(NOISE_MAX_ON_S), day_of.size))
    off = on + np.round(length_s * 1000).astype(np.int64)
    return Activations(entity.astype(np.int64) + first_code, on, off)


def _routine_activations(planted: Planted, codes: dict[str, int]) -> Activations:
    return Activations(np.array([codes[e] for e in planted.entity], dtype=np.int64),
                       np.array(planted.on_ms, dtype=np.int64),
                       np.array(planted.off_ms, dtype=np.int64))


def generate_home(config: HomeConfig | None = None) -> Home:
    """The events and ground truth of ``config`` (default :class:`HomeConfig()`)."""
    config = config or HomeConfig()
    days = _days(config)
    routine_entities = sorted({e for r in config.routines for e in r.entities()})
    entities = [*routine_entities, *noise_entity_ids(config.noise_entities)]
    codes = {entity: code for code, entity in enumerate(entities)}
    plans = [routine.plan(days, np.random.default_rng([config.seed, _ROUTINE_STREAM, i]))
             for i, routine in enumerate(config.routines)]
    parts = [_routine_activations(p, codes) for p in plans]
    parts.append(_noise(config, days, len(routine_entities)))
    acts = separate(concat_activations(parts))
    areas = {e: a for e, a in config.areas.items() if e in codes}
    for i, entity in enumerate(noise_entity_ids(config.noise_entities)):
        areas[entity] = NOISE_AREAS[i % len(NOISE_AREAS)]
    table = activation_table(acts, entities, None, id_tag(repr(config)))
    return Home(config, table, tuple(entities), areas, tuple(plans))


def insert_home(store: Store, home: Home, register_sources: bool = True) -> int:
    """Store ``home``: every entity in the home's zone and area (unless
    ``register_sources`` is false: done already), then its events; returns the events
    inserted."""
    zone = home.config.timezone
    for entity in home.entities if register_sources else ():
        if getattr(store, "default_timezone", None) != zone:
            store.set_source_timezone(entity, zone)
        area = home.areas.get(entity)
        if area is not None:
            store.set_source_area(entity, area)
    return store.insert_events(home.events)
