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
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vigil.model import ALL_LABELS
from vigil.rollup.aggregates import AggregateRecord
from vigil.rollup.periods import day_numbers

__all__ = ["ACTIVITY_DETECTOR", "ActivityRollup", "activity_records"]

log = logging.getLogger(__name__)

ACTIVITY_DETECTOR = "activity"
"""The detector (InfluxDB measurement) of the count layers."""
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday
Key = tuple[str, dt.date]


@dataclass
class ActivityRollup:
    """Records per bucket, the events each bucket held, and remarks (skipped sources)."""

    records: dict[dt.date, list[AggregateRecord]] = field(default_factory=dict)
    events: dict[dt.date, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def activity_records(layer: str, hourly: pa.Table) -> ActivityRollup:
    """The activity records of ``layer`` from hourly count rows with a ``bucket`` column
    (the bucket start of each row's local date)."""
    everything = hourly.filter(pc.equal(hourly.column("label"), ALL_LABELS))
    labelled = hourly.filter(pc.not_equal(hourly.column("label"), ALL_LABELS))
    fields: dict[Key, dict[str, Any]] = defaultdict(_empty_fields)
    _add_totals(fields, everything)
    _add_counts(fields, everything, "local_hour", "hours")
    _add_counts(fields, everything.append_column("weekday", _weekdays(everything)),
                "weekday", "weekdays")
    _add_counts(fields, everything, "event_type", "event_types")
    _add_counts(fields, labelled, "label", "labels")
    result = ActivityRollup()
    for (source, bucket), values in sorted(fields.items()):
        result.events[bucket] = result.events.get(bucket, 0) + values["events"]
        values["event_types"] = dict(sorted(values["event_types"].items()))
        values["labels"] = dict(sorted(values["labels"].items()))
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


def _add_totals(fields: dict[Key, dict[str, Any]], rows: pa.Table) -> None:
    totals = rows.group_by(["source_id", "bucket"]).aggregate([
        ("event_count", "sum"), ("confidence_micros", "sum"), ("confidence_count", "sum"),
        ("local_date", "count_distinct")])
    for row in totals.to_pylist():
        values = fields[(row["source_id"], row["bucket"])]
        values["events"] = int(row["event_count_sum"])
        values["confidence_micros"] = int(row["confidence_micros_sum"])
        values["confidence_count"] = int(row["confidence_count_sum"])
        values["active_days"] = int(row["local_date_count_distinct"])


def _add_counts(fields: dict[Key, dict[str, Any]], rows: pa.Table, column: str,
                name: str) -> None:
    """Event counts of each value of ``column`` into field ``name`` (a list indexed by the
    value, or a dict keyed by it)."""
    grouped = rows.group_by(["source_id", "bucket", column]).aggregate(
        [("event_count", "sum")])
    for row in grouped.to_pylist():
        count = int(row["event_count_sum"])
        if count:
            fields[(row["source_id"], row["bucket"])][name][row[column]] = count


def _weekdays(rows: pa.Table) -> pa.Array:
    """The weekday (0 = Monday) of each row's local date."""
    return pa.array((day_numbers(rows.column("local_date")) + _EPOCH_WEEKDAY) % 7)
