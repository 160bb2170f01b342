"""The ``activity`` records of the daily, weekly and monthly layers, from hourly counts only.

One record per source and bucket, with fields that add up exactly across buckets:

- ``events``: events in the bucket; ``active_days``: local days with at least one event
- ``hours``: 24 event counts by local hour; ``weekdays``: 7 by local weekday (0 = Monday)
- ``event_types``: ``{event type: events}``; ``labels``: ``{label: events carrying it}``
- ``confidence_micros`` and ``confidence_count``: the sum of confidences in millionths
  (exact integers) and how many events had one; the mean is their quotient over 1e6.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from vigil.model import ALL_LABELS
from vigil.rollup.aggregates import AggregateRecord

__all__ = ["ACTIVITY_DETECTOR", "ActivityRollup", "activity_records"]

log = logging.getLogger(__name__)

ACTIVITY_DETECTOR = "activity"
"""The detector (InfluxDB measurement) of the count layers."""
HOURLY_COLUMNS = ("source_id", "local_date", "local_hour", "event_type", "label",
                  "event_count", "confidence_micros", "confidence_count")
"""The columns of the hourly counts a rollup reads."""
Key = tuple[str, dt.date]
_EPOCH = dt.date(1970, 1, 1)


@dataclass
class ActivityRollup:
    """Records per bucket, the events each bucket held, and remarks (skipped sources)."""

    records: dict[dt.date, list[AggregateRecord]] = field(default_factory=dict)
    events: dict[dt.date, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def activity_records(layer: str, bucket_of: Callable[[dt.date], dt.date],
                     hourly: pa.Table) -> ActivityRollup:
    """The activity records of ``layer`` from hourly count rows (of the store's hourly
    count schema); ``bucket_of`` maps a local date to the start of its bucket.

    The hourly counts are themselves aggregates (one row per source, local date and hour,
    event type and label), so one pass over them as Python values is cheap, and it needs
    neither Arrow's query engine nor a hash aggregate in the database.
    """
    fields: dict[Key, dict[str, Any]] = defaultdict(_empty_fields)
    days: dict[Key, set[dt.date]] = defaultdict(set)
    calendar: dict[int, tuple[dt.date, dt.date, int]] = {}
    columns = [_values(hourly, name) for name in HOURLY_COLUMNS]
    for source, number, hour, event_type, label, events, micros, count in zip(*columns,
                                                                              strict=True):
        known = calendar.get(number)
        if known is None:
            day = _EPOCH + dt.timedelta(days=number)
            known = calendar[number] = (day, bucket_of(day), day.weekday())
        day, bucket, weekday = known
        values = fields[(source, bucket)]
        if label != ALL_LABELS:
            values["labels"][label] = values["labels"].get(label, 0) + events
            continue
        days[(source, bucket)].add(day)
        values["events"] += events
        values["confidence_micros"] += micros
        values["confidence_count"] += count
        values["hours"][hour] += events
        values["weekdays"][weekday] += events
        values["event_types"][event_type] = values["event_types"].get(event_type, 0) + events
    for key, values in fields.items():
        values["active_days"] = len(days.get(key, ()))
    return _records(layer, fields)


def _values(hourly: pa.Table, name: str) -> list[Any]:
    """A column as Python values; local dates as days since 1970-01-01 (converting
    integers is many times faster than building date objects)."""
    column = hourly.column(name)
    if name == "local_date":  # date32 is int32 underneath: a view, no copy
        return [n for chunk in column.chunks for n in chunk.view(pa.int32()).to_pylist()]
    values: list[Any] = column.to_pylist()
    return values


def _records(layer: str, fields: dict[Key, dict[str, Any]]) -> ActivityRollup:
    result = ActivityRollup()
    for (source, bucket), values in sorted(fields.items()):
        result.events[bucket] = result.events.get(bucket, 0) + values["events"]
        values["event_types"] = _nonzero(values["event_types"])
        values["labels"] = _nonzero(values["labels"])
        try:
            record = AggregateRecord(layer, ACTIVITY_DETECTOR, source, bucket, values)
        except ValueError as exc:
            log.warning("%s activity of source %r for %s not stored: %s", layer, source,
                        bucket, exc)
            result.notes.append(f"{layer} {bucket}: source {source!r} skipped: {exc}")
            continue
        result.records.setdefault(bucket, []).append(record)
    return result


def _empty_fields() -> dict[str, Any]:
    return {"events": 0, "active_days": 0, "hours": [0] * 24, "weekdays": [0] * 7,
            "event_types": {}, "labels": {}, "confidence_micros": 0, "confidence_count": 0}


def _nonzero(counts: dict[Any, int]) -> dict[Any, int]:
    """The non-zero counts, by key."""
    return {value: n for value, n in sorted(counts.items()) if n}
