"""SQL of the retention purge: bounded deletes of old events, hourly counts and aggregates.

A mixin of :class:`vigil.store.sqlstore.SqlStore`. Each ``purge_*`` call deletes at most
``limit`` rows in one transaction and returns how many it deleted (fewer than ``limit``:
nothing more is due). Which days must be kept (their rollup is not done) is the caller's
decision, passed as ``keep_days``; what the store itself must keep is decided here:

- **Sessions** are derived state and are kept. Their incremental maintenance re-pairs a
  group from its last session anchored at most the maximum session before a batch's first
  event (see :mod:`vigil.store.sessions`), so entry/exit events are kept from one maximum
  session before the first instant of the oldest kept local day: events of kept days,
  arriving later, still re-pair exactly. Events of purged days arriving later can only be
  paired with what is still stored.
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

from vigil.store.rollup_tables import MAX_ZONE_OFFSET_AHEAD
from vigil.store.sql import Dialect
from vigil.store.sqlaccess import SqlAccess

_ROW_ID = {"duckdb": "rowid", "postgresql": "ctid"}
_ROWS_IN = {"duckdb": "rowid IN ({rows})", "postgresql": "ctid = ANY(ARRAY({rows}))"}
"""Delete the rows a subquery selects: PostgreSQL finds ``ctid = ANY(ARRAY(…))`` by a TID
scan, where ``ctid IN (…)`` would scan the table."""
_NOT_KEPT = {"duckdb": "NOT list_contains(CAST(? AS DATE[]), {column})",
             "postgresql": "{column} <> ALL(CAST(? AS DATE[]))"}


def pairing_window_start(before: dt.date, max_session: dt.timedelta) -> dt.datetime:
    """The earliest instant session maintenance may re-read for events of local dates from
    ``before`` on: one maximum session before the first instant of that date in any zone."""
    midnight = dt.datetime.combine(before, dt.time(), tzinfo=dt.UTC)
    return midnight - MAX_ZONE_OFFSET_AHEAD - max_session


class RetentionTables(SqlAccess):
    """Bounded purges shared by the SQL stores; see the module docstring."""

    dialect: Dialect
    session_max: dt.timedelta

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
        name = self.dialect.name
        not_kept = _NOT_KEPT[name].format(column="local_date")
        rows = f"""
            SELECT {_ROW_ID[name]} FROM events
            WHERE local_date < ? AND {not_kept}
              AND (event_type NOT IN ('entry', 'exit') OR subject_id IS NULL OR ts < ?)
            LIMIT ?"""
        return self._purge("events", rows, [before, list(keep_days),
                                             pairing_window_start(before, self.session_max),
                                             limit])

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

