"""SQL of the retention purge: bounded deletes of old events, hourly counts and aggregates.

A mixin of :class:`vigil.store.sqlstore.SqlStore`. Each ``purge_*`` call deletes at most
``limit`` rows in one transaction and returns how many it deleted (fewer than ``limit``:
nothing more is due). Which days must be kept (their rollup is not done) is the caller's
decision, passed as ``keep_days``; what the store itself must keep is decided here:

- **Sessions** are derived state and are kept. Their incremental maintenance re-pairs a
  person's group from its newest session anchored before the new events (see
  :mod:`vigil.store.sessions`), so of every group the entry/exit events from its newest
  session anchored before the purge horizon on are kept: events arriving after the horizon
  still re-pair exactly. Events older than that horizon arriving later can only be paired
  with what is still stored.
- **Anomalies** keep their ``event_id``; the event itself may be gone.
- **Dead letters** are never events and are not touched.

On PostgreSQL each purge takes the lock ingest holds from session maintenance to commit, so
no insert from another process falls between the caller's look at the rollup ledger and the
delete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from vigil.store.sql import Dialect
from vigil.store.sqlaccess import SqlAccess

HORIZON_SLACK = dt.timedelta(days=1)
"""An event of a local date before ``D`` happened before ``D`` 12:00 UTC (no zone is more
than 12 hours behind UTC): midnight UTC of the next day bounds every such event."""

_ROW_ID = {"duckdb": "rowid", "postgresql": "ctid"}
_ROWS_IN = {"duckdb": "rowid IN ({rows})", "postgresql": "ctid = ANY(ARRAY({rows}))"}
"""Delete the rows a subquery selects: PostgreSQL finds ``ctid = ANY(ARRAY(…))`` by a TID
scan, where ``ctid IN (…)`` would scan the table."""
_NOT_KEPT = {"duckdb": "NOT list_contains(CAST(? AS DATE[]), {column})",
             "postgresql": "{column} <> ALL(CAST(? AS DATE[]))"}

TAILS = """
    SELECT grouping, subject_id, source_id, coalesce(zone, '') AS zone_key,
           max(anchor_ts) AS since
    FROM sessions WHERE anchor_ts < ?
    GROUP BY grouping, subject_id, source_id, coalesce(zone, '')
"""
"""Per session group, its newest anchor before the purge horizon."""


def purge_horizon(before: dt.date) -> dt.datetime:
    """A UTC instant after every event of a local date before ``before``."""
    midnight = dt.datetime.combine(before, dt.time(), tzinfo=dt.UTC)
    return midnight + HORIZON_SLACK


class RetentionTables(SqlAccess):
    """Bounded purges shared by the SQL stores; see the module docstring."""

    dialect: Dialect

    def _lock_sessions(self) -> None:
        """Serialise with ingest in other processes (see SessionTables; none by default)."""

    def oldest_event_day(self) -> dt.date | None:
        """A local date no later than that of the oldest event (from the oldest timestamp,
        which the time index or row-group statistics answer); ``None`` with no events."""
        oldest: dt.datetime | None = self._rows("SELECT min(ts) FROM events")[0][0]
        if oldest is None:
            return None
        return (oldest.astimezone(dt.UTC) - dt.timedelta(days=1)).date()

    def oldest_hourly_day(self) -> dt.date | None:
        """The oldest local date with hourly counts (``None``: there are none)."""
        day: dt.date | None = self._rows("SELECT min(local_date) FROM hourly_counts")[0][0]
        return day

    def purge_events(self, before: dt.date, keep_days: Sequence[dt.date], limit: int) -> int:
        """Delete up to ``limit`` events of local dates before ``before`` and not in
        ``keep_days``, except those session maintenance still needs; how many."""
        horizon = purge_horizon(before)
        name = self.dialect.name
        not_kept = _NOT_KEPT[name].format(column="e.local_date")
        rows = f"""
            WITH tails AS ({TAILS})
            SELECT e.{_ROW_ID[name]} FROM events e
            LEFT JOIN tails c ON c.grouping = 'camera' AND c.subject_id = e.subject_id
                 AND c.source_id = e.source_id
            LEFT JOIN tails z ON z.grouping = 'zone' AND z.subject_id = e.subject_id
                 AND z.source_id = e.source_id AND z.zone_key = coalesce(e.zone, '')
            WHERE e.ts < ? AND e.local_date < ? AND {not_kept}
              AND (e.event_type NOT IN ('entry', 'exit') OR e.subject_id IS NULL
                   OR (e.ts < c.since AND e.ts < z.since))
            LIMIT ?"""
        return self._purge("events", rows, [horizon, horizon, before, list(keep_days), limit])

    def purge_hourly_counts(self, before: dt.date, keep_days: Sequence[dt.date],
                            limit: int) -> int:
        """Delete up to ``limit`` hourly counts of local dates before ``before`` and not in
        ``keep_days``; how many."""
        name = self.dialect.name
        rows = (f"SELECT {_ROW_ID[name]} FROM hourly_counts WHERE local_date < ? "
                f"AND {_NOT_KEPT[name].format(column='local_date')} LIMIT ?")
        return self._purge("hourly_counts", rows, [before, list(keep_days), limit])

    def purge_aggregate_rows(self, layer: str, before: dt.date, limit: int) -> int:
        """Delete up to ``limit`` aggregate rows of ``layer`` with buckets before ``before``;
        how many."""
        rows = (f"SELECT {_ROW_ID[self.dialect.name]} FROM aggregates "
                "WHERE layer = ? AND bucket < ? LIMIT ?")
        return self._purge("aggregates", rows, [layer, before, limit])

    def _purge(self, table: str, rows: str, params: list[Any]) -> int:
        """Delete the rows of ``table`` that the query ``rows`` selects, in one transaction
        (joined by an enclosing one); how many."""
        delete = f"DELETE FROM {table} WHERE {_ROWS_IN[self.dialect.name].format(rows=rows)}"
        with self.transaction():
            self._lock_sessions()
            if self.dialect.name == "postgresql":
                found = self._write(f"WITH gone AS ({delete} RETURNING 1) "
                                    "SELECT count(*) FROM gone", params)
            else:
                found = self._write(delete, params)
        return int(found[0][0]) if found else 0

