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

from vigil.model import ALL_LABELS

HOURS = 24
WEEKDAYS = 7
PEAK_FACTOR = 1.5
QUIET_FACTOR = 0.25
MAX_PEAK_HOURS = 5


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


def compute_baseline(history: SourceHistory, rows: Iterable[HourlyRow], as_of: dt.datetime,
                     config: BaselineConfig) -> dict[str, Any]:
    """The baseline of a source as the API shows it (field names of the original design)."""
    zone = ZoneInfo(history.timezone)
    start, end = window_dates(as_of, history.timezone, config)
    hourly = [0.0] * HOURS
    matrix = [[0.0] * HOURS for _ in range(WEEKDAYS)]
    labels: dict[str, float] = {}
    for row in rows:
        if not start <= row.local_date <= end:
            continue
        weight = _weight(row.local_date, row.local_hour, zone, as_of, config)
        if row.label == ALL_LABELS:
            hourly[row.local_hour] += row.event_count * weight
            matrix[row.local_date.weekday()][row.local_hour] += row.event_count * weight
        else:
            labels[row.label] = labels.get(row.label, 0.0) + row.event_count * weight
    total = sum(hourly)
    days = _covered_days(history, start, end, zone, as_of, config)
    return {
        "source_id": history.source_id,
        "camera_id": history.source_id,
        "timezone": history.timezone,
        "status": _status(history, as_of, config),
        "window": {"start": start.isoformat(), "end": end.isoformat(),
                   "weeks": config.window_weeks, "half_life_days": config.half_life_days},
        "hourly_distribution": {f"{h:02d}": _number(v) for h, v in enumerate(hourly)},
        "daily_distribution": {str(d): _number(sum(matrix[d])) for d in range(WEEKDAYS)},
        "hour_weekday_matrix": [[_number(v) for v in day] for day in matrix],
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


def _weight(day: dt.date, hour: int, zone: ZoneInfo, as_of: dt.datetime,
            config: BaselineConfig) -> float:
    if config.half_life_days is None:
        return 1.0
    hour_end = dt.datetime.combine(day, dt.time(hour), zone) + dt.timedelta(hours=1)
    age_days = max(0.0, (as_of - hour_end).total_seconds() / 86400)
    return float(0.5 ** (age_days / config.half_life_days))


def _covered_days(history: SourceHistory, start: dt.date, end: dt.date, zone: ZoneInfo,
                  as_of: dt.datetime, config: BaselineConfig) -> float:
    """The local days of the window that the source's history covers (weighted)."""
    first = history.first_event_at.astimezone(zone).date() if history.first_event_at else end
    first = max(first, start)
    if first > end:
        return 1.0
    if config.half_life_days is None:
        return float((end - first).days + 1)
    days = ((first + dt.timedelta(days=i)) for i in range((end - first).days + 1))
    covered = sum(_weight(day, 23, zone, as_of, config) for day in days)
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
