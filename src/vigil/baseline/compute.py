"""A source's activity baseline, computed from its hourly counts (pure: no I/O, no clock).

The baseline covers a window of local days ending on the local day of ``as_of`` (default the
last 8 weeks). With a half-life, each hourly count is weighted by ``0.5 ** (age / half_life)``,
its age measured from the end of its local hour to ``as_of``, so recent weeks count more.

Rules (also in the README):
- ``peak_hours``: the hours of the day whose count is at least 1.5 times the mean hour,
  busiest first, at most 5;
- ``quiet_hours``: the hours whose count is at most a quarter of the mean hour, in order;
- ``average_events_per_day``: the (weighted) events of the window divided by the (weighted)
  local days the window and the source's history both cover, never fewer than one;
- ``status``: ``learning`` until the source has ``min_days`` of history and ``min_events``
  events in all, then ``ready``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.model import ALL_LABELS

HOURS = 24
WEEKDAYS = 7
PEAK_FACTOR = 1.5
QUIET_FACTOR = 0.25
MAX_PEAK_HOURS = 5
EPOCH = dt.date(1970, 1, 1)
EPOCH_WEEKDAY = EPOCH.weekday()  # a Thursday: day number d falls on (d + 3) % 7
HOURLY_SCHEMA = pa.schema([("local_date", pa.date32()), ("local_hour", pa.int16()),
                           ("label", pa.string()), ("event_count", pa.int64())])
"""Columns of hourly rows (:class:`HourlyRow` or a store's table)."""
CLOCK_SHIFT_MARGIN = dt.timedelta(hours=3)
"""More than a zone's clock ever moves back at once (DST, or a change of standard time)."""


@dataclass(frozen=True)
class BaselineConfig:
    """How a baseline is computed."""

    window_weeks: int = 8
    half_life_days: float | None = None
    min_days: int = 7
    min_events: int = 50

    def __post_init__(self) -> None:
        if self.window_weeks < 1:
            raise ValueError("window_weeks must be at least 1")
        if self.half_life_days is not None and self.half_life_days <= 0:
            raise ValueError("half_life_days must be positive")


@dataclass(frozen=True)
class HourlyRow:
    """Events of one label (``*`` = all labels) in one local hour of a source."""

    local_date: dt.date
    local_hour: int
    label: str
    event_count: int


@dataclass(frozen=True)
class SourceHistory:
    """What the baseline needs to know of a source beyond its hourly counts."""

    source_id: str
    timezone: str
    event_count: int
    first_event_at: dt.datetime | None
    last_event_at: dt.datetime | None


def window_dates(as_of: dt.datetime, timezone: str, config: BaselineConfig
                 ) -> tuple[dt.date, dt.date]:
    """First and last local day of the window ending on ``as_of``'s local day."""
    end = as_of.astimezone(ZoneInfo(timezone)).date()
    return end - dt.timedelta(days=config.window_weeks * WEEKDAYS - 1), end


def hourly_table(rows: Iterable[HourlyRow]) -> pa.Table:
    """Hourly rows as a table of :data:`HOURLY_SCHEMA`."""
    listed = list(rows)
    return pa.table([[getattr(row, name) for row in listed] for name in HOURLY_SCHEMA.names],
                    schema=HOURLY_SCHEMA)


class HourlyCounts:
    """Hourly rows as numpy columns: day numbers (days since 1970-01-01), local hours, counts
    and label codes."""

    def __init__(self, rows: Iterable[HourlyRow] | pa.Table) -> None:
        table = rows if isinstance(rows, pa.Table) else hourly_table(rows)
        table = table.select(HOURLY_SCHEMA.names).cast(HOURLY_SCHEMA)
        self.days = _numpy(table, "local_date", pa.int32()).astype(np.int64)
        self.hours = _numpy(table, "local_hour", pa.int16()).astype(np.int64)
        self.counts = _numpy(table, "event_count", pa.int64()).astype(np.float64)
        labels = pc.dictionary_encode(table.column("label").combine_chunks())
        self.codes = labels.indices.to_numpy(zero_copy_only=False)
        self.names: list[str] = labels.dictionary.to_pylist()
        star = self.names.index(ALL_LABELS) if ALL_LABELS in self.names else -1
        self.all_labels = self.codes == star

    def span(self) -> tuple[int, dt.datetime | None, dt.datetime | None]:
        """All events (label ``*``) and the first and last local hour (naive) with any."""
        keys = self.days[self.all_labels] * HOURS + self.hours[self.all_labels]
        if not keys.size:
            return 0, None, None
        total = int(self.counts[self.all_labels].sum())
        return total, _local_hour(int(keys.min())), _local_hour(int(keys.max()))

    def label_sums(self, mask: np.ndarray, weighted: np.ndarray) -> dict[str, float]:
        """Weighted counts of each label among the rows of ``mask``."""
        codes = self.codes[mask]
        sums = np.bincount(codes, weighted[mask], len(self.names))
        present = np.bincount(codes, minlength=len(self.names)) > 0
        return {self.names[i]: float(sums[i]) for i in np.flatnonzero(present)}


def utc_range(local_hour: dt.datetime, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants ``[start, end)`` holding every instant of a (naive) local hour, widened
    by :data:`CLOCK_SHIFT_MARGIN` so that a source with no event before this hour has none
    before ``start`` (and with none after it, none after ``end``)."""
    zone = ZoneInfo(timezone)
    ends = [(local_hour + dt.timedelta(hours=h)).replace(tzinfo=zone, fold=fold)
            .astimezone(dt.UTC) for h in (0, 1) for fold in (0, 1)]
    return min(ends) - CLOCK_SHIFT_MARGIN, max(ends) + CLOCK_SHIFT_MARGIN


def compute_baseline(history: SourceHistory,
                     rows: Iterable[HourlyRow] | pa.Table | HourlyCounts,
                     as_of: dt.datetime, config: BaselineConfig) -> dict[str, Any]:
    """The baseline of a source as the API shows it (field names of the original design).

    ``rows`` may repeat a local hour and label (one row per event type, say): they add up.
    """
    hours = rows if isinstance(rows, HourlyCounts) else HourlyCounts(rows)
    start, end = window_dates(as_of, history.timezone, config)
    inside = (hours.days >= _day_number(start)) & (hours.days <= _day_number(end))
    weighted = hours.counts * _weights(hours.days, hours.hours, history.timezone, as_of, config)
    counted = inside & hours.all_labels
    cells = (hours.days[counted] + EPOCH_WEEKDAY) % WEEKDAYS * HOURS + hours.hours[counted]
    matrix = np.bincount(cells, weighted[counted], WEEKDAYS * HOURS).reshape(WEEKDAYS, HOURS)
    hourly = [float(v) for v in matrix.sum(axis=0)]
    labels = hours.label_sums(inside & ~hours.all_labels, weighted)
    total = sum(hourly)
    days = _covered_days(history, start, end, as_of, config)
    return {
        "source_id": history.source_id,
        "camera_id": history.source_id,
        "timezone": history.timezone,
        "status": _status(history, as_of, config),
        "window": {"start": start.isoformat(), "end": end.isoformat(),
                   "weeks": config.window_weeks, "half_life_days": config.half_life_days},
        "hourly_distribution": {f"{h:02d}": _number(v) for h, v in enumerate(hourly)},
        "daily_distribution": {str(d): _number(float(v))
                               for d, v in enumerate(matrix.sum(axis=1))},
        "hour_weekday_matrix": [[_number(v) for v in day] for day in matrix.tolist()],
        "object_type_distribution": {k: _number(v) for k, v in sorted(labels.items())},
        "dominant_object_type": _dominant(labels),
        "total_events": _number(total),
        "average_events_per_day": round(total / days, 3),
        "peak_hours": peak_hours(hourly),
        "quiet_hours": quiet_hours(hourly),
        "first_event_at": history.first_event_at,
        "last_event_at": history.last_event_at,
        "last_calculated_at": as_of,
    }


def _numpy(table: pa.Table, name: str, to: pa.DataType) -> np.ndarray:
    return np.asarray(table.column(name).combine_chunks().cast(to).to_numpy(
        zero_copy_only=False))


def _day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def _local_hour(key: int) -> dt.datetime:
    """The naive local hour ``key`` hours after 1970-01-01 00:00."""
    return dt.datetime(1970, 1, 1) + dt.timedelta(hours=key)


def _weights(days: np.ndarray, hours: np.ndarray, timezone: str, as_of: dt.datetime,
             config: BaselineConfig) -> np.ndarray:
    """``0.5 ** (age / half_life)`` of each local hour, its age measured from its end."""
    if config.half_life_days is None:
        return np.ones(len(days))
    # The end is the next hour on the wall clock, read as zoneinfo reads it (fold=0): the
    # first of two such instants, or the transition when the clock skips that time.
    naive = pa.array(days * 86400 + (hours + 1) * 3600, pa.timestamp("s"))
    ends = pc.assume_timezone(naive, timezone=timezone, ambiguous="earliest",
                              nonexistent="latest").cast(pa.int64()).to_numpy(
                                  zero_copy_only=False)
    age_days = np.maximum(0.0, (as_of.timestamp() - ends) / 86400)
    return np.asarray(0.5 ** (age_days / config.half_life_days))


def peak_hours(hourly: list[float]) -> list[int]:
    """Hours at least 1.5 times as busy as the mean hour, busiest first (at most 5)."""
    mean = sum(hourly) / HOURS
    if mean == 0:
        return []
    busy = [h for h in range(HOURS) if hourly[h] >= PEAK_FACTOR * mean]
    return sorted(busy, key=lambda h: (-hourly[h], h))[:MAX_PEAK_HOURS]


def quiet_hours(hourly: list[float]) -> list[int]:
    """Hours at most a quarter as busy as the mean hour, in order."""
    mean = sum(hourly) / HOURS
    if mean == 0:
        return []
    return [h for h in range(HOURS) if hourly[h] <= QUIET_FACTOR * mean]


def _covered_days(history: SourceHistory, start: dt.date, end: dt.date, as_of: dt.datetime,
                  config: BaselineConfig) -> float:
    """The local days of the window that the source's history covers (weighted)."""
    zone = ZoneInfo(history.timezone)
    first = history.first_event_at.astimezone(zone).date() if history.first_event_at else end
    first = max(first, start)
    if first > end:
        return 1.0
    if config.half_life_days is None:
        return float((end - first).days + 1)
    days = np.arange(_day_number(first), _day_number(end) + 1)
    covered = float(_weights(days, np.full(len(days), 23), history.timezone, as_of,
                             config).sum())
    return max(covered, 1e-9)


def _status(history: SourceHistory, as_of: dt.datetime, config: BaselineConfig) -> str:
    if history.first_event_at is None:
        return "learning"
    days = (as_of - history.first_event_at).total_seconds() / 86400
    ready = days >= config.min_days and history.event_count >= config.min_events
    return "ready" if ready else "learning"


def _dominant(labels: dict[str, float]) -> str | None:
    """The most frequent label (alphabetically first among equals)."""
    if not labels:
        return None
    return min(labels, key=lambda label: (-labels[label], label))


def _number(value: float) -> float | int:
    """Counts stay integers; decayed counts are rounded to 3 decimals."""
    return int(value) if value == int(value) else round(value, 3)
