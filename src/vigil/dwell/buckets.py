"""Time buckets for occupancy: fixed widths, or local calendar days.

``5min``, ``15min``, ``30min`` and ``hour`` buckets have a fixed width and start on multiples
of it counted from the Unix epoch (so they start on local clock boundaries wherever the UTC
offset is a whole number of hours). ``day`` buckets are the local days of a time zone: they
start at local midnight and last 23 or 25 hours on DST change days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from vigil.dwell.filters import AnalyticsError

__all__ = ["BUCKETS", "MAX_BUCKETS", "bucket_edges", "local_midnight_ms"]

BUCKETS: dict[str, int | None] = {
    "5min": 5 * 60_000,
    "15min": 15 * 60_000,
    "30min": 30 * 60_000,
    "hour": 3_600_000,
    "day": None,
}
MAX_BUCKETS = 100_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Ints = npt.NDArray[np.int64]


def bucket_edges(bucket: str, first_ms: int, last_ms: int, timezone: str) -> Ints:
    """Edges (ms since the epoch) of the buckets covering ``[first_ms, last_ms)``."""
    if bucket not in BUCKETS:
        raise AnalyticsError("bucket", f"bucket must be one of {', '.join(BUCKETS)}")
    last_ms = max(last_ms, first_ms + 1)
    width = BUCKETS[bucket]
    if width is not None:
        start = first_ms - first_ms % width
        count = -(-(last_ms - start) // width)
        _check_count(count)
        return np.arange(start, start + (count + 1) * width, width, dtype=np.int64)
    zone = ZoneInfo(timezone)
    first_day = _ms_to_datetime(first_ms).astimezone(zone).date()
    last_day = _ms_to_datetime(last_ms - 1).astimezone(zone).date()
    days = (last_day - first_day).days + 1
    _check_count(days)
    return np.array([local_midnight_ms(first_day + timedelta(days=i), timezone)
                     for i in range(days + 1)], dtype=np.int64)


def local_midnight_ms(day: date, timezone: str) -> int:
    """The instant (ms since the epoch) at which ``day`` starts in ``timezone``."""
    local = datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))
    return (local.astimezone(UTC) - _EPOCH) // timedelta(milliseconds=1)


def _ms_to_datetime(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _check_count(count: int) -> None:
    if count > MAX_BUCKETS:
        raise AnalyticsError("bucket", f"{count:,} buckets is more than {MAX_BUCKETS:,}: "
                                       "choose a wider bucket or a shorter range")
