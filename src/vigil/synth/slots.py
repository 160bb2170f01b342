"""Local-hour time slots of a camera: the grid on which events are placed.

A slot is one hour of the camera's local clock, expressed as a UTC instant. Walking in
UTC hours from local midnight gives 23 slots on a spring-forward day and 25 on a fall-back
day, so the rhythm follows the local clock through DST.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from vigil.synth.config import CameraSpec
from vigil.synth.profiles import PROFILES

HOUR_MS = 3_600_000
Int64s = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Slots:
    """Parallel arrays, one entry per local hour slot of one camera."""

    start_ms: Int64s
    local_hour: Int64s
    weekday: Int64s
    day_index: Int64s


def local_midnight_ms(timezone: str, day: date) -> int:
    """UTC epoch milliseconds of local midnight of ``day`` in ``timezone``."""
    local = datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))
    return int(local.astimezone(UTC).timestamp()) * 1000


def camera_window(spec: CameraSpec, start: date, days: int) -> tuple[int, int]:
    """The camera's period as UTC ms: local midnight of ``start`` to that of the day after."""
    end = start + timedelta(days=days)
    return local_midnight_ms(spec.timezone, start), local_midnight_ms(spec.timezone, end)


def camera_slots(spec: CameraSpec, start: date, days: int) -> Slots:
    """All local hour slots of the camera in its period (loops over hours, not events)."""
    zone = ZoneInfo(spec.timezone)
    first, end = camera_window(spec, start, days)
    starts = np.arange(first, end, HOUR_MS, dtype=np.int64)
    hours, weekdays, day_index = [], [], []
    for ms in starts.tolist():
        local = datetime.fromtimestamp(ms / 1000, tz=zone)
        hours.append(local.hour)
        weekdays.append(local.weekday())
        day_index.append((local.date() - start).days)
    return Slots(
        start_ms=starts,
        local_hour=np.array(hours, dtype=np.int64),
        weekday=np.array(weekdays, dtype=np.int64),
        day_index=np.array(day_index, dtype=np.int64),
    )


def slot_weights(spec: CameraSpec, slots: Slots, day_noise: Floats) -> Floats:
    """Relative activity per slot; a week of weights sums to 7 on average (before noise)."""
    profile = PROFILES[spec.profile]
    table = np.array([profile.hourly(w) for w in range(7)], dtype=np.float64)
    table *= np.array(profile.day_factor, dtype=np.float64)[:, None]
    table /= table.sum(axis=1).mean()
    weights: Floats = table[slots.weekday, slots.local_hour] * day_noise[slots.day_index]
    return weights
