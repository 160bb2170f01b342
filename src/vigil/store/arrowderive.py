"""Per-event local time and hourly counts computed in Arrow, for the bulk path of a server
store (PostgreSQL), where the database's CPU is the scarce resource.

Both give exactly what the SQL in :mod:`vigil.store.sql` gives: the same IANA zone rules, the
same weekday numbering (0 = Monday), the same integer rounding of confidence sums.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.model import ALL_LABELS
from vigil.store.base import HOURLY_KEY

_TS = pa.timestamp("us", tz="UTC")


def local_time_columns(batch: pa.Table, zones: dict[str, str]) -> dict[str, pa.Array]:
    """``local_date``, ``local_hour``, ``local_weekday`` of each row, in its source's zone."""
    rows = batch.num_rows
    dates = np.zeros(rows, dtype="datetime64[D]")
    hours = np.zeros(rows, dtype=np.int16)
    weekdays = np.zeros(rows, dtype=np.int16)
    sources = batch.column("source_id")
    ts = batch.column("ts").cast(_TS)
    for source, zone in zones.items():
        where = pc.equal(sources, source)
        positions = np.flatnonzero(where.to_numpy(zero_copy_only=False))
        if not len(positions):
            continue
        local = pc.local_timestamp(ts.take(positions).cast(pa.timestamp("us", tz=zone)))
        dates[positions] = local.cast(pa.date32()).to_numpy()
        hours[positions] = pc.hour(local).to_numpy()
        weekdays[positions] = pc.day_of_week(local).to_numpy()
    return {"local_date": pa.array(dates, pa.date32()),
            "local_hour": pa.array(hours, pa.int16()),
            "local_weekday": pa.array(weekdays, pa.int16())}


def confidence_micros(confidence: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Confidence in integer millionths, rounded half up (SQL: ``floor(c * 1e6 + 0.5)``)."""
    scaled = pc.floor(pc.add(pc.multiply(confidence, 1_000_000.0), 0.5))
    return pc.cast(scaled, pa.int64())


def hourly_counts(events: pa.Table) -> pa.Table:
    """The hourly-count rows of ``events`` (which carry the local-time columns): one row per
    key, for each label and for the all-labels marker."""
    base = pa.table({
        "source_id": events.column("source_id"), "event_type": events.column("event_type"),
        "local_date": events.column("local_date"), "local_hour": events.column("local_hour"),
        "micros": confidence_micros(events.column("confidence")),
        "confidence": events.column("confidence"),
    })
    labels = events.column("labels").combine_chunks()
    per_label = base.take(pc.list_parent_indices(labels)).append_column(
        "label", pc.list_flatten(labels))
    every = base.append_column("label", pa.array([ALL_LABELS] * events.num_rows, pa.string()))
    exploded = pa.concat_tables([per_label.select(every.column_names), every])
    grouped = exploded.group_by(list(HOURLY_KEY), use_threads=False).aggregate(
        [("micros", "sum"), ("confidence", "count"), ([], "count_all")])
    return pa.table({
        **{key: grouped.column(key) for key in HOURLY_KEY},
        "event_count": grouped.column("count_all").cast(pa.int64()),
        "confidence_micros": pc.fill_null(grouped.column("micros_sum"), 0).cast(pa.int64()),
        "confidence_count": grouped.column("confidence_count").cast(pa.int64()),
    })
