"""Local-hour time slots of a camera: the grid on which events are placed.

The period is ``days`` UTC days from ``start`` 00:00Z, the same for every camera, so a
camera's first and last local dates are partial. Slots follow the camera's *local* hours:
walking in UTC hours gives 23 slots on a spring-forward day and 25 on a fall-back day.
Slots cut by the period's edges keep only their inside part (``length_ms``).
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
    """Parallel arrays, one entry per local hour slot of one camera.

    ``day_index`` is the local date minus (``start`` - 1 day), so 0..days+1.
    """

    start_ms: Int64s
    length_ms: Int64s
    local_hour: Int64s
    weekday: Int64s
    day_index: Int64s


def period_ms(start: date, days: int) -> tuple[int, int]:
    """The period as UTC epoch ms: ``start`` 00:00Z to ``start + days`` 00:00Z."""
    first = datetime.combine(start, time(0), tzinfo=UTC)
    return int(first.timestamp()) * 1000, int((first + timedelta(days=days)).timestamp()) * 1000


def _first_boundary(zone: ZoneInfo, utc_ms: int) -> int:
    """The UTC ms of the start of the local hour that contains ``utc_ms``."""
    local = datetime.fromtimestamp(utc_ms / 1000, tz=zone)
    into_hour = timedelta(
        minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )
    return utc_ms - into_hour // timedelta(milliseconds=1)


def camera_slots(spec: CameraSpec, start: date, days: int) -> Slots:
    """All local hour slots of the camera in the period (loops over hours, not events)."""
    zone = ZoneInfo(spec.timezone)
    first, end = period_ms(start, days)
    starts = np.arange(_first_boundary(zone, first), end, HOUR_MS, dtype=np.int64)
    hours, weekdays, day_index = [], [], []
    for ms in starts.tolist():
        local = datetime.fromtimestamp(ms / 1000, tz=zone)
        hours.append(local.hour)
        weekdays.append(local.weekday())
        day_index.append((local.date() - start).days + 1)
    lo = np.maximum(starts, first)
    hi = np.minimum(starts + HOUR_MS, end)
    return Slots(
        start_ms=lo,
        length_ms=hi - lo,
        local_hour=np.array(hours, dtype=np.int64),
        weekday=np.array(weekdays, dtype=np.int64),
        day_index=np.array(day_index, dtype=np.int64),
    )


def slot_weights(spec: CameraSpec, slots: Slots, day_noise: Floats) -> Floats:
    """Relative activity per slot; a week of full days sums to 7 on average (before noise)."""
    profile = PROFILES[spec.profile]
    table = np.array([profile.hourly(w) for w in range(7)], dtype=np.float64)
    table *= np.array(profile.day_factor, dtype=np.float64)[:, None]
    table /= table.sum(axis=1).mean()
    weights: Floats = table[slots.weekday, slots.local_hour] * day_noise[slots.day_index]
    return weights * (slots.length_ms / HOUR_MS)
