"""UTC instants to local date and hour with :mod:`zoneinfo`, vectorised.

Every real UTC offset is a multiple of 15 minutes and changes on a 15-minute boundary, so
asking zoneinfo once per distinct quarter hour gives the exact offset of every instant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from vigil.synth.slots import HOUR_MS, Int64s
from vigil.synth.timefmt import DAY_MS

QUARTER_MS = 900_000


def utc_offsets_ms(utc_ms: Int64s, timezone: str) -> Int64s:
    """The zone's UTC offset (ms) at each instant."""
    if utc_ms.size == 0:
        return np.zeros(0, dtype=np.int64)
    zone = ZoneInfo(timezone)
    quarters, inverse = np.unique(utc_ms // QUARTER_MS, return_inverse=True)
    offsets = []
    for quarter in quarters.tolist():
        instant = datetime.fromtimestamp(quarter * QUARTER_MS / 1000, tz=UTC)
        delta = instant.astimezone(zone).utcoffset() or timedelta(0)
        offsets.append(delta // timedelta(milliseconds=1))
    table = np.array(offsets, dtype=np.int64)
    result: Int64s = table[inverse.reshape(-1)]
    return result


def local_day_hour(utc_ms: Int64s, timezone: str) -> tuple[Int64s, Int64s]:
    """Local date (days since 1970-01-01) and local hour (0..23) of each instant."""
    local = utc_ms + utc_offsets_ms(utc_ms, timezone)
    days, rest = np.divmod(local, DAY_MS)
    return days, rest // HOUR_MS
