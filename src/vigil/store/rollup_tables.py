"""SQL of the rollup jobs: the ``rollup_runs`` ledger and the reads the jobs make.

A mixin of :class:`vigil.store.sqlstore.SqlStore`. A ledger row ``(job, period,
events_seen, rows_written, started_at, finished_at)`` says that ``job`` rolled up the bucket
starting on ``period`` when it held ``events_seen`` events; it is written with
:meth:`RollupTables.record_rollup_runs` inside the caller's transaction when there is one, so
that it commits together with the rollup rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from vigil.model import ALL_LABELS
from vigil.store.sqlaccess import SqlAccess

RollupRun = tuple[dt.date, int, int, dt.datetime, dt.datetime]
"""``(period, events_seen, rows_written, started_at, finished_at)`` of one job."""
HOURLY_COUNT_SCHEMA = pa.schema([
    ("source_id", pa.string()), ("event_type", pa.string()), ("label", pa.string()),
    ("local_date", pa.date32()), ("local_hour", pa.int16()), ("event_count", pa.int64()),
    ("confidence_micros", pa.int64()), ("confidence_count", pa.int64()),
])
DAY_EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("source_id", pa.string()), ("event_type", pa.string()),
    ("ts", pa.timestamp("us", "UTC")), ("labels", pa.list_(pa.string())),
    ("subject_id", pa.string()), ("zone", pa.string()), ("state", pa.string()),
    ("attributes", pa.string()), ("local_date", pa.date32()), ("local_hour", pa.int16()),
    ("local_weekday", pa.int16()), ("timezone", pa.string()), ("area", pa.string()),
])
"""The events of local days as detector summaries read them: the event columns they use,
the source's zone and its area (else the event's zone)."""
MAX_ZONE_OFFSET_BEHIND = dt.timedelta(hours=12)
MAX_ZONE_OFFSET_AHEAD = dt.timedelta(hours=14)
"""UTC offsets range from -12:00 to +14:00: a local day lies within these of its UTC day."""


class RollupTables(SqlAccess):
    """The runs ledger and the rollup reads, shared by the SQL stores."""

    def daily_event_totals(self, start: dt.date | None = None, end: dt.date | None = None
                           ) -> list[tuple[dt.date, int]]:
        """``(local_date, events)`` of every local day from ``start`` to ``end`` (open when
        ``None``) with events in the hourly counts, all sources together, by date."""
        where, params = _date_range("local_date", start, end)
        rows = self._rows(
            "SELECT local_date, CAST(sum(event_count) AS BIGINT) FROM hourly_counts "
            f"WHERE label = ? AND {where} GROUP BY local_date ORDER BY local_date",
            [ALL_LABELS, *params])
        return [(day, int(n)) for day, n in rows]

    def hourly_count_rows(self, start: dt.date, end: dt.date) -> pa.Table:
        """Every hourly count of the local days ``start`` to ``end`` (all labels, including
        the all-labels row ``*``), as :data:`HOURLY_COUNT_SCHEMA`."""
        table = self._read_table(
            f"SELECT {', '.join(HOURLY_COUNT_SCHEMA.names)} FROM hourly_counts "
            "WHERE local_date BETWEEN ? AND ?", [start, end])
        return table.cast(HOURLY_COUNT_SCHEMA)

    def events_of_local_day(self, day: dt.date) -> pa.Table:
        """The raw events of local day ``day`` (each source's own zone), by time and id:
        the columns of :data:`DAY_EVENT_SCHEMA`, which end with the source's ``timezone``
        and ``area`` (the source's area, else the event's zone)."""
        return self.events_of_local_days(day, day)

    def events_of_local_days(self, start: dt.date, end: dt.date) -> pa.Table:
        """The raw events of the local days ``start`` to ``end`` as
        :meth:`events_of_local_day` gives them (:data:`DAY_EVENT_SCHEMA`)."""
        first = dt.datetime.combine(start, dt.time(), dt.UTC)
        after = dt.datetime.combine(end, dt.time(), dt.UTC) + dt.timedelta(days=1)
        columns = ", ".join("CAST(e.attributes AS VARCHAR) AS attributes"
                            if name == "attributes" else f"e.{name}"
                            for name in DAY_EVENT_SCHEMA.names[:-2])  # JSON as text
        table = self._read_table(
            f"SELECT {columns}, s.timezone, coalesce(s.area, e.zone) AS area "
            "FROM events e JOIN sources s ON s.source_id = e.source_id "
            "WHERE e.ts >= ? AND e.ts < ? AND e.local_date BETWEEN ? AND ? "
            "ORDER BY e.ts, e.event_id",
            [first - MAX_ZONE_OFFSET_AHEAD, after + MAX_ZONE_OFFSET_BEHIND, start, end])
        return table.cast(DAY_EVENT_SCHEMA)

    def rollup_runs(self, job: str, start: dt.date | None = None, end: dt.date | None = None
                    ) -> list[tuple[dt.date, int]]:
        """``(period, events_seen)`` of the ledger rows of ``job`` from ``start`` to ``end``."""
        where, params = _date_range("period", start, end)
        rows = self._rows(f"SELECT period, events_seen FROM rollup_runs WHERE job = ? AND "
                          f"{where} ORDER BY period", [job, *params])
        return [(period, int(seen)) for period, seen in rows]

    def record_rollup_runs(self, job: str, runs: Sequence[RollupRun]) -> None:
        """Insert or replace ledger rows of ``job`` (joins the caller's transaction)."""
        if not runs:
            return
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(runs))
        params = [value for run in runs for value in (job, *run)]
        with self.transaction():
            self._write(
                "INSERT INTO rollup_runs (job, period, events_seen, rows_written, started_at, "
                f"finished_at) VALUES {values} ON CONFLICT (job, period) DO UPDATE SET "
                "events_seen = excluded.events_seen, rows_written = excluded.rows_written, "
                "started_at = excluded.started_at, finished_at = excluded.finished_at",
                params)


def _date_range(column: str, start: dt.date | None, end: dt.date | None
                ) -> tuple[str, list[Any]]:
    clauses, params = ["TRUE"], []
    if start is not None:
        clauses.append(f"{column} >= ?")
        params.append(start)
    if end is not None:
        clauses.append(f"{column} <= ?")
        params.append(end)
    return " AND ".join(clauses), params
