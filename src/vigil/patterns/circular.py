"""Small numpy helpers the detectors share: circular statistics and the local day's clock.

Minutes of the day live on a circle of :data:`DAY_MINUTES`: 23:50 and 00:10 are 20 minutes
apart and average to 00:00 (:func:`circular_mean`). The spread of such times is the circular
standard deviation ``sqrt(-2 ln R)`` in minutes (:func:`circular_std`).

A local day also has a real-time clock: :func:`day_clock` gives the epoch milliseconds of
its local midnight and its length (23, 24 or 25 hours) in a zone, :func:`day_span` the
same across the zones of a home's sources (from the earliest midnight to the latest end).
Detectors measuring gaps and overlaps use it so that a DST day is as long as it really is.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.patterns.base import DaySummary

__all__ = ["DAY_MINUTES", "EPOCH_DAY", "circular_distance", "circular_mean", "circular_std",
           "day_clock", "day_numbers", "day_span", "day_spans", "encode", "episode_starts",
           "first_of_runs", "hhmm", "summary_lists", "window_days"]

DAY_MINUTES = 1440
EPOCH_DAY = np.datetime64("1970-01-01", "D")
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _angles(minutes: npt.ArrayLike, period: float) -> FloatArray:
    return np.asarray(minutes, dtype=np.float64) * (2.0 * math.pi / period)


def _resultant(minutes: npt.ArrayLike, period: float) -> tuple[float, float, int]:
    angles = _angles(minutes, period)
    return float(np.sin(angles).sum()), float(np.cos(angles).sum()), len(angles)


def circular_mean(minutes: npt.ArrayLike, period: float = DAY_MINUTES) -> float:
    """The circular mean of ``minutes`` in ``[0, period)`` (0 for no values)."""
    sin, cos, _ = _resultant(minutes, period)
    mean = (math.atan2(sin, cos) * period / (2.0 * math.pi)) % period
    return 0.0 if mean >= period else mean


def circular_std(minutes: npt.ArrayLike, period: float = DAY_MINUTES) -> float:
    """The circular standard deviation of ``minutes`` in minutes (0 for one value; for
    values spread evenly round the circle it grows large)."""
    sin, cos, count = _resultant(minutes, period)
    if count == 0:
        return 0.0
    length = min(1.0, math.hypot(sin, cos) / count)
    if length <= 1e-12:
        return period / 2.0
    return math.sqrt(max(0.0, -2.0 * math.log(length))) * period / (2.0 * math.pi)


def circular_distance(a: npt.ArrayLike, b: float, period: float = DAY_MINUTES) -> FloatArray:
    """Distance on the circle from each of ``a`` to ``b`` (0 to ``period / 2``)."""
    diff = np.abs(np.asarray(a, dtype=np.float64) - b) % period
    return np.minimum(diff, period - diff)


def hhmm(minute: float) -> str:
    """``HH:MM`` of a minute of the day (rounded to the minute, wrapping at midnight)."""
    whole = int(round(minute)) % DAY_MINUTES
    return f"{whole // 60:02d}:{whole % 60:02d}"


def day_clock(day: dt.date, zone: str) -> tuple[int, int]:
    """``(epoch ms of local midnight, length of the day in ms)`` of ``day`` in ``zone``."""
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(day, dt.time(), tz)
    after = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
    origin = int(start.timestamp() * 1000)
    return origin, int(after.timestamp() * 1000) - origin


def day_span(day: dt.date, zones: Iterable[str]) -> tuple[int, int]:
    """``(epoch ms of the start, length in ms)`` of local day ``day`` across ``zones``: from
    the first local midnight to the last end of the day (one zone: that zone's day; none:
    UTC). Events of that local day in any of the zones fall inside it."""
    spans = [day_clock(day, zone) for zone in sorted(set(zones)) or ["UTC"]]
    origin = min(o for o, _ in spans)
    return origin, max(o + n for o, n in spans) - origin


def day_spans(events: pa.Table, dates: Iterable[dt.date]) -> dict[dt.date, tuple[int, int]]:
    """:func:`day_span` of each date over the zones of that date's rows of ``events``."""
    found: dict[dt.date, tuple[int, int]] = {}
    column = events.column("local_date")
    for day in dates:
        rows = pc.equal(column, pa.scalar(day, pa.date32()))
        zones = pc.unique(pc.drop_null(events.column("timezone").filter(rows))).to_pylist()
        found[day] = day_span(day, [str(z) for z in zones])
    return found


def episode_starts(item: IntArray, day: IntArray, ts_ms: IntArray, gap_ms: int
                   ) -> npt.NDArray[np.bool_]:
    """For rows sorted by item, day and time: True where an item's activity starts an
    episode, i.e. the item started nothing in the ``gap_ms`` before (on that day)."""
    first = first_of_runs(item, day)
    if len(first):
        first[1:] |= np.diff(ts_ms) > gap_ms
    return first


def encode(values: npt.NDArray[np.object_] | pa.Array | pa.ChunkedArray
           ) -> tuple[list[str], IntArray]:
    """Distinct values in sorted order and each value's code (its index in that list)."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(
        values, pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.string())
    names = pc.unique(array)
    names = names.take(pc.sort_indices(names))
    codes = pc.index_in(array, value_set=names).to_numpy(zero_copy_only=False)
    return [str(n) for n in names.to_pylist()], np.asarray(codes, dtype=np.int64)


def first_of_runs(*keys: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """For rows sorted by ``keys``: True where a row starts a new run of equal keys."""
    if not keys or len(keys[0]) == 0:
        return np.zeros(0 if not keys else len(keys[0]), dtype=bool)
    first = np.zeros(len(keys[0]), dtype=bool)
    first[0] = True
    for key in keys:
        first[1:] |= key[1:] != key[:-1]
    return first


def summary_lists(summaries: Iterable[DaySummary], start: dt.date, end: dt.date, name: str
                  ) -> tuple[list[str], IntArray, IntArray, IntArray]:
    """A list-of-integers field of the summaries from ``start`` to ``end`` as flat columns:
    the entities (sorted), and per value its entity code, day (since ``start``) and value."""
    mine = [s for s in summaries if start <= s.day <= end and s.fields.get(name)]
    names = sorted({s.entity for s in mine})
    index = {entity: i for i, entity in enumerate(names)}
    values = [np.asarray(s.fields[name], dtype=np.int64) for s in mine]
    sizes = [len(v) for v in values]
    codes = np.repeat(np.asarray([index[s.entity] for s in mine], dtype=np.int64), sizes)
    days = np.repeat(np.asarray([(s.day - start).days for s in mine], dtype=np.int64), sizes)
    flat = np.concatenate(values) if values else np.zeros(0, dtype=np.int64)
    return names, codes, days, flat


def window_days(end: dt.date, window: int) -> tuple[dt.date, list[dt.date]]:
    """The first day of the ``window`` days ending ``end`` and all those days."""
    start = end - dt.timedelta(days=window - 1)
    return start, [start + dt.timedelta(days=i) for i in range(window)]


def day_numbers(dates: npt.NDArray[np.datetime64] | Sequence[dt.date], start: dt.date
                ) -> IntArray:
    """Days since ``start`` of each date."""
    values = np.asarray(dates, dtype="datetime64[D]")
    return np.asarray((values - np.datetime64(start, "D")).astype(np.int64), dtype=np.int64)
