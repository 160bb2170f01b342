"""Rhythms and mixes that make synthetic events look real.

Hourly weights are for the camera's *local* hour 0..23; ``day_factor`` is Monday..Sunday.
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS: tuple[str, ...] = ("person", "vehicle", "package", "animal")
NOVEL_LABELS: tuple[str, ...] = ("bear", "drone", "horse", "deer", "boat", "bicycle")
"""Labels that only injected ``novel_object`` anomalies use (never in a camera's mix)."""
EVENT_TYPES: tuple[str, ...] = ("detection", "entry", "exit")
AGE_GROUPS: tuple[str, ...] = ("0-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_WEIGHTS: tuple[float, ...] = (0.08, 0.14, 0.22, 0.2, 0.16, 0.12, 0.08)
GENDERS: tuple[str, ...] = ("female", "male", "unknown")
GENDER_WEIGHTS: tuple[float, ...] = (0.49, 0.49, 0.02)

DWELL_MEDIAN_S = 600.0
DWELL_SIGMA = 0.9
DWELL_MIN_S = 5.0
DWELL_MAX_S = 3 * 3600.0
ENTRY_ONLY_SHARE = 0.75
"""Share of incomplete visits that have an entry but no exit (the rest: exit only)."""
DAY_NOISE_SIGMA = 0.15
"""Day-to-day variation of a camera's activity (lognormal sigma)."""
VISITS_PER_PERSON_DAY_CAP = 2.0
"""Expected visits per person and day are capped at this (nobody visits 100 times a day)."""
ZIPF_EXPONENT = 1.1

CONFIDENCE_BETA: dict[str, tuple[float, float]] = {
    "person": (8.0, 2.0),
    "vehicle": (9.0, 2.0),
    "package": (4.0, 3.0),
    "animal": (3.0, 3.0),
}
"""Beta(a, b) shape of the detection confidence, mapped to 0.30..0.99."""


@dataclass(frozen=True)
class Profile:
    """A daily rhythm for weekdays and weekends, and a factor per weekday."""

    weekday: tuple[float, ...]
    weekend: tuple[float, ...]
    day_factor: tuple[float, ...]

    def hourly(self, weekday: int) -> tuple[float, ...]:
        """The hourly weights for a weekday (0 = Monday)."""
        return self.weekend if weekday >= 5 else self.weekday


def _night(n: int, value: float) -> tuple[float, ...]:
    return (value,) * n


# fmt: off
PROFILES: dict[str, Profile] = {
    "home": Profile(
        weekday=(0.05, 0.03, 0.02, 0.02, 0.03, 0.15, 0.6, 1.4, 1.5, 0.8, 0.5, 0.45,
                 0.5, 0.45, 0.45, 0.6, 0.9, 1.3, 1.6, 1.4, 1.0, 0.6, 0.3, 0.12),
        weekend=(0.08, 0.05, 0.03, 0.02, 0.02, 0.04, 0.1, 0.3, 0.7, 1.1, 1.3, 1.2,
                 1.1, 1.0, 1.0, 1.0, 1.1, 1.2, 1.3, 1.1, 0.9, 0.6, 0.35, 0.15),
        day_factor=(1.0, 1.0, 1.0, 1.0, 1.0, 1.15, 1.05),
    ),
    "shop": Profile(
        weekday=_night(7, 0.01) + (0.05, 0.2, 0.8, 1.0, 1.2, 1.5, 1.4, 1.1, 1.0, 1.1,
                                   1.4, 1.2, 0.15, 0.03) + _night(3, 0.01),
        weekend=_night(8, 0.01) + (0.05, 0.6, 1.1, 1.4, 1.6, 1.6, 1.5, 1.4, 1.2, 0.9,
                                   0.6, 0.1) + _night(4, 0.01),
        day_factor=(0.9, 0.95, 1.0, 1.0, 1.15, 1.4, 0.6),
    ),
    "yard": Profile(
        weekday=_night(6, 0.03) + (0.1, 0.3, 0.5, 0.5, 0.5, 0.6, 0.7, 0.7, 0.7, 0.8,
                                   1.0, 1.3, 1.4, 1.2, 0.7, 0.3, 0.1, 0.05),
        weekend=_night(6, 0.03) + (0.05, 0.2, 0.6, 1.0, 1.4, 1.6, 1.5, 1.5, 1.6, 1.6,
                                   1.5, 1.3, 1.1, 0.8, 0.5, 0.25, 0.1, 0.05),
        day_factor=(1.0, 1.0, 1.0, 1.0, 1.0, 1.6, 1.7),
    ),
    "garage": Profile(
        weekday=_night(5, 0.02) + (0.15, 0.8, 1.8, 1.6, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3,
                                   0.5, 1.2, 1.9, 1.6, 0.7, 0.4, 0.25, 0.1, 0.05),
        weekend=_night(7, 0.03) + (0.1, 0.3, 0.7, 1.0, 1.1, 1.0, 0.9, 0.9, 0.9, 0.8,
                                   0.7, 0.6, 0.5, 0.3, 0.2, 0.1, 0.05),
        day_factor=(1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.7),
    ),
}


def _hours(hours: range, factor: float) -> dict[int, float]:
    return dict.fromkeys(hours, factor)


LABEL_HOUR_FACTORS: dict[str, dict[int, float]] = {
    "person": {**_hours(range(0, 6), 0.5), **_hours(range(22, 24), 0.5)},
    "vehicle": {**_hours(range(6, 10), 1.8), **_hours(range(16, 20), 1.8)},
    "package": {**_hours(range(0, 7), 0.05), **_hours(range(9, 18), 2.5),
                **_hours(range(21, 24), 0.05)},
    "animal": {**_hours(range(0, 6), 3.0), **_hours(range(20, 24), 3.0)},
}
"""Local-hour multipliers of a label's share (animals at night, parcels by day, commutes)."""
# fmt: on


def _check() -> None:
    for name, profile in PROFILES.items():
        for shape in (profile.weekday, profile.weekend):
            if len(shape) != 24:
                raise AssertionError(f"profile {name}: {len(shape)} hourly weights")
        if len(profile.day_factor) != 7:
            raise AssertionError(f"profile {name}: day_factor needs 7 values")


_check()
