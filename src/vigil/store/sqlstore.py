"""What the DuckDB and PostgreSQL stores share: every query that is plain SQL.

A backend supplies a connection discipline (:meth:`SqlStore.transaction`, reads of
committed data, writes inside the current transaction), its :class:`Dialect` and its own
bulk insert. Queries are written with ``?`` placeholders; a backend translates them if its
driver wants another style.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vigil.model import ALL_LABELS
from vigil.store.aggregate_tables import AggregateTables
from vigil.store.alerts import AlertTables
from vigil.store.anomalies import AnomalyTables
from vigil.store.base import DeadLetter, EventFilter, EventPage, SourceInfo, UploadState
from vigil.store.pattern_tables import PatternTables
from vigil.store.retention_tables import RetentionTables
from vigil.store.rollup_tables import RollupTables
from vigil.store.sessions import SessionTables
from vigil.store.sql import (
    EVENT_COLUMNS,
    HOURLY_ORDER,
    SOURCE_SUMMARY,
    Dialect,
    add_hourly_counts,
    hourly_rollup,
    local_time_assignments,
)
from vigil.zones import check_timezone

Rows = list[tuple[Any, ...]]
DEAD_LETTER_COLUMNS = ("dead_letter_id, received_at, transport, topic, reason, message, payload, "
                       "payload_bytes")
SEQUENCES = (("dead_letter_seq", "dead_letter_id", "dead_letters"),
             ("anomaly_seq", "anomaly_id", "anomalies"),
             ("delivery_seq", "delivery_id", "alert_deliveries"))
"""Sequences of generated ids, with the column and table whose ids they hand out."""
UPLOAD_COLUMNS = ("upload_id, filename, status, bytes_total, bytes_done, rows_read, report, "
                  "options, error, created_at, updated_at")
UPLOADED_BY = "uploaded_by"
"""Key of ``options`` (JSON) that holds the uploader; read back into its own field."""
UPLOAD_TOTALS = ("rows_read", "accepted", "duplicates", "rejected")
"""The report's totals an upload listing shows (its rejected lines stay in the store)."""
UPLOAD_SUMMARY_COLUMNS = (
    "upload_id, filename, status, bytes_total, bytes_done, rows_read, "
    + ", ".join(f"CAST(report->>'{key}' AS BIGINT)" for key in UPLOAD_TOTALS)
    + f", report IS NULL, options->>'{UPLOADED_BY}', error, created_at, updated_at")


class SqlStore(AnomalyTables, AlertTables, SessionTables, AggregateTables, RollupTables,
               RetentionTables, PatternTables, ABC):
    """The shared part of the SQL stores; see the module docstring."""

    url: str
    default_timezone: str
    dialect: Dialect

    _lock: threading.RLock
    _depth: int = 0
    _known_sources: set[str]  # sources registered already: new ones are inserted once

    # -- transactions ---------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the enclosed writes in one transaction; nested uses join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._begin()
            self._depth = 1
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            else:
                self._commit()
            finally:
                self._depth = 0

    # -- what a backend provides ---------------------------------------------------------
    @abstractmethod
    def _begin(self) -> None:
        """Start a transaction on the write connection."""

    @abstractmethod
    def _commit(self) -> None:
        """Commit it; on failure forget what it did (caches) and raise."""

    @abstractmethod
    def _rollback(self) -> None:
        """Roll it back and forget what it did to cached state."""

    @abstractmethod
    def _read(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], Rows]:
        """Column names and rows of a query over committed data (any thread)."""

    @abstractmethod
    def _write(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run a statement in the current transaction; its rows, if it returns any."""

    @abstractmethod
    def _iter_read(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Stream the rows of a read query in chunks."""

    def _read_table(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """A read query's result as an Arrow table."""
        names, rows = self._read(sql, params)
        return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        return self._read(sql, params)[1]

    def read_analytics(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a read-only analytic query (``?`` placeholders) over committed data."""
        return self._read_table(sql, params)

    # -- events -----------------------------------------------------------------------------
    def count_events(self) -> int:
        return int(self._rows("SELECT count(*) FROM events")[0][0])

    def list_events(self, flt: EventFilter, cursor: tuple[dt.datetime, str] | None,
                    limit: int) -> EventPage:
        where, params = self._event_where(flt, cursor)
        names, rows = self._read(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY ts, event_id LIMIT ?",
            [*params, limit + 1],
        )
        records = [dict(zip(names, r, strict=True)) for r in rows]
        for record in records:
            for key in ("detections", "attributes"):
                record[key] = _json_value(record[key])
        more = len(records) > limit
        records = records[:limit]
        nxt = (records[-1]["ts"], records[-1]["event_id"]) if more else None
        return EventPage(events=records, next_cursor=nxt)

    def iter_event_ids(self) -> Iterator[str]:
        for row in self._iter_read("SELECT event_id FROM events ORDER BY event_id"):
            yield row[0]

    def _event_where(self, flt: EventFilter, cursor: tuple[dt.datetime, str] | None
                     ) -> tuple[str, list[Any]]:
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        for column, value in (("source_id", flt.source_id), ("event_type", flt.event_type),
                              ("subject_id", flt.subject_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if flt.label is not None:
            clauses.append(self.dialect.label_match)
            params.append(flt.label)
        if flt.start is not None:
            clauses.append("ts >= ?")
            params.append(flt.start)
        if flt.end is not None:
            clauses.append("ts < ?")
            params.append(flt.end)
        if cursor is not None:
            clauses.append("(ts > ? OR (ts = ? AND event_id > ?))")
            params.extend([cursor[0], cursor[0], cursor[1]])
        return " AND ".join(clauses), params

    # -- hourly counts ------------------------------------------------------------------------
    def hourly_counts(self, source_id: str | None = None) -> pa.Table:
        where, params = _source_where(source_id)
        return self._read_table(
            f"SELECT * FROM hourly_counts WHERE {where} ORDER BY {HOURLY_ORDER}", params)

    def hourly_counts_from_events(self, source_id: str | None = None) -> pa.Table:
        where, params = _source_where(source_id)
        return self._read_table(hourly_rollup(self.dialect, where), params)

    def rebuild_hourly_counts(self, source_id: str | None = None) -> int:
        """Recompute the hourly counts from the event log; returns the rows the sources now
        have. Days whose raw events retention removed keep their counts (see
        :meth:`_recountable_start`)."""
        where, params = _source_where(source_id)
        with self.transaction():
            sources = [row[0] for row in self._write(
                f"SELECT DISTINCT source_id FROM events WHERE {where}", params)]
            for source in sources:
                self._recount_hourly_counts(source)
            written = self._write(f"SELECT count(*) FROM hourly_counts WHERE {where}", params)
        return int(written[0][0])

    def _recount_hourly_counts(self, source_id: str, timezone: str | None = None) -> None:
        """Count a source's hourly counts again from its stored events (in a transaction),
        from its first recountable day on; with ``timezone``, its events' local columns are
        re-derived in that zone first."""
        recount_from = self._recountable_start(source_id)
        if recount_from is not None:
            self._write("DELETE FROM hourly_counts WHERE source_id = ? AND local_date >= ?",
                        [source_id, recount_from[0]])
        if timezone is not None:
            self._write(
                f"UPDATE events SET {local_time_assignments('ts', 'CAST(? AS TEXT)')} "
                "WHERE source_id = ?",
                [timezone, timezone, timezone, source_id],
            )
        if recount_from is not None:
            self._write(add_hourly_counts(self.dialect, "source_id = ? AND ts >= ?"),
                        [source_id, recount_from[1]])

    def hourly_totals(self, source_id: str, start: dt.date, end: dt.date) -> Rows:
        """``(local_date, local_hour, label, events)`` of a source's local days ``start`` to
        ``end``, summed over event types (label ``*`` = all labels)."""
        return self._rows(
            "SELECT local_date, local_hour, label, CAST(sum(event_count) AS BIGINT) "
            "FROM hourly_counts WHERE source_id = ? AND local_date BETWEEN ? AND ? "
            "GROUP BY local_date, local_hour, label", [source_id, start, end])

    def source_hourly_counts(self, source_id: str) -> tuple[str, pa.Table] | None:
        """A source's time zone and every hourly count of it (``local_date, local_hour,
        label, event_count``, one row per event type); ``None`` for an unknown source.

        One round trip: the zone comes as an extra row with no date, taken out here.
        """
        table = self._read_table(
            "SELECT local_date, local_hour, label, event_count FROM hourly_counts "
            "WHERE source_id = ? UNION ALL SELECT NULL, NULL, timezone, NULL FROM sources "
            "WHERE source_id = ?", [source_id, source_id])
        found = pc.indices_nonzero(pc.is_null(table.column("local_date")))
        if not len(found):
            return None
        at = found[0].as_py()
        zone = table.column("label")[at].as_py()
        return zone, pa.concat_tables([table.slice(0, at), table.slice(at + 1)])

    def source_span(self, source_id: str) -> tuple[int, dt.datetime | None, dt.datetime | None]:
        """A source's event count (from its hourly counts) and first and last event."""
        local = "local_date + CAST(local_hour AS INTEGER) * INTERVAL '1 hour'"
        total, first_hour, last_hour = self._rows(
            f"SELECT coalesce(sum(event_count), 0), min({local}), max({local}) "
            f"FROM hourly_counts WHERE source_id = ? AND label = '{ALL_LABELS}'", [source_id])[0]
        if first_hour is None:
            return int(total), *self.source_event_span(source_id)
        day = dt.timedelta(days=1)  # more than any UTC offset: the ranges need no zone
        first, last = (hour.replace(tzinfo=dt.UTC) for hour in (first_hour, last_hour))
        return int(total), *self.source_event_span(source_id, (first - day, first + day),
                                                   (last - day, last + day))

    def source_event_span(self, source_id: str,
                          near_first: tuple[dt.datetime, dt.datetime] | None = None,
                          near_last: tuple[dt.datetime, dt.datetime] | None = None
                          ) -> tuple[dt.datetime | None, dt.datetime | None]:
        """A source's first and last event.

        ``near_first`` and ``near_last`` are UTC ranges ``[start, end)`` that hold the first
        and the last event if those are stored, the source having none before the first
        range or after the last (the local hours of its first and last hourly counts, say).
        Both ends are then looked for only there, in one scan the engine prunes by time
        (DuckDB's row-group and segment min/max, PostgreSQL's index); an end not found
        there (raw events expire before their hourly counts) is read from the whole log.
        """
        if near_first is not None and near_last is not None:
            first, last = self._rows(
                "SELECT min(ts), max(ts) FROM events WHERE source_id = ? "
                "AND ((ts >= ? AND ts < ?) OR (ts >= ? AND ts < ?))",
                [source_id, *near_first, *near_last])[0]
            if first is not None and first < near_first[1] and last >= near_last[0]:
                return first, last
        first, last = self._rows(  # ORDER BY ... LIMIT 1: both engines stop early
            "SELECT (SELECT ts FROM events WHERE source_id = ? ORDER BY ts LIMIT 1), "
            "(SELECT ts FROM events WHERE source_id = ? ORDER BY ts DESC LIMIT 1)",
            [source_id, source_id])[0]
        return first, last

    # -- sources ------------------------------------------------------------------------------
    def list_sources(self) -> list[SourceInfo]:
        return [SourceInfo(*row) for row in self._rows(f"{SOURCE_SUMMARY} ORDER BY s.source_id")]

    def get_source(self, source_id: str) -> SourceInfo | None:
        rows = self._rows(f"{SOURCE_SUMMARY} WHERE s.source_id = ?", [source_id])
        return SourceInfo(*rows[0]) if rows else None

    def source_timezones(self) -> dict[str, str]:
        return dict(self._rows("SELECT source_id, timezone FROM sources"))

    def _insert_new_sources(self, source_ids: Sequence[str]) -> None:
        """Register sources with the default time zone; known ones are left alone."""
        self._write(
            "INSERT INTO sources (source_id, timezone, created_at) "
            f"SELECT unnest(CAST(? AS {self.dialect.text_array})), ?, now() "
            "ON CONFLICT DO NOTHING",
            [list(source_ids), self.default_timezone],
        )

    def set_source_timezone(self, source_id: str, timezone: str) -> SourceInfo:
        """Set a source's zone; its events' local columns, hourly counts and sessions' local
        columns are re-derived. Hourly counts of days whose raw events retention removed are
        kept as they were (see :meth:`_recountable_start`).

        Raises ``ValueError`` for a zone that is not a known IANA name.
        """
        check_timezone(timezone)
        with self.transaction():
            self._write(
                "INSERT INTO sources (source_id, timezone, created_at) VALUES (?, ?, now()) "
                "ON CONFLICT (source_id) DO UPDATE SET timezone = excluded.timezone",
                [source_id, timezone],
            )
            self._source_added(source_id)
            self._recount_hourly_counts(source_id, timezone)
            self._relocalise_sessions(source_id, timezone)
            # Read inside the transaction: the change is not committed yet.
            rows = self._write(f"{SOURCE_SUMMARY} WHERE s.source_id = ?", [source_id])
        return SourceInfo(*rows[0])

    def set_source_area(self, source_id: str, area: str | None) -> SourceInfo:
        """Set a source's area (the room it is in; ``None`` clears it). A source not known
        yet is registered with the default time zone. Nothing derived changes: readers
        such as :meth:`events_of_local_day` take the area at read time."""
        with self.transaction():
            self._write(
                "INSERT INTO sources (source_id, timezone, area, created_at) "
                "VALUES (?, ?, ?, now()) "
                "ON CONFLICT (source_id) DO UPDATE SET area = excluded.area",
                [source_id, self.default_timezone, area],
            )
            self._source_added(source_id)
            rows = self._write(f"{SOURCE_SUMMARY} WHERE s.source_id = ?", [source_id])
        return SourceInfo(*rows[0])

    def _recountable_start(self, source_id: str) -> tuple[dt.date, dt.datetime] | None:
        """The first local day (in the zone in force) from which a source's hourly counts
        can be recounted from its stored events, and that day's first event; ``None`` when
        no day can.

        A day can be recounted when every day from it on holds at least as many events as its
        hourly counts say (more: counts that are missing or short, which the recount mends).
        Days before it lost raw events to retention (or kept a few, such as the ends of a
        visit): their counts are kept as they are, in the zone they were made in.
        """
        rows = self._write(
            """WITH counted AS (
                   SELECT local_date, sum(event_count) AS n FROM hourly_counts
                   WHERE source_id = ? AND label = '*' GROUP BY local_date),
               stored AS (
                   SELECT local_date, count(*) AS n, min(ts) AS first_ts FROM events
                   WHERE source_id = ? GROUP BY local_date),
               days AS (
                   SELECT coalesce(s.local_date, c.local_date) AS local_date,
                          s.first_ts, coalesce(s.n, 0) >= coalesce(c.n, 0) AS whole
                   FROM stored s FULL OUTER JOIN counted c ON c.local_date = s.local_date)
               SELECT local_date, first_ts FROM days
               WHERE whole AND local_date > coalesce(
                   (SELECT max(local_date) FROM days WHERE NOT whole), DATE '0001-01-01')
               ORDER BY local_date LIMIT 1""",
            [source_id, source_id])
        return (rows[0][0], rows[0][1]) if rows else None

    def _source_added(self, source_id: str) -> None:
        """Note a source registered in the current transaction."""
        self._known_sources.add(source_id)

    def _add_sources(self, staged: pa.Table) -> None:
        """Register the batch's sources not seen before, with the default time zone."""
        new = set(pc.unique(staged.column("source_id")).to_pylist()) - self._known_sources
        if new:
            self._insert_new_sources(sorted(new))
            self._known_sources |= new

    @abstractmethod
    def _load_sources(self) -> set[str]:
        """Every registered source id (reloaded after a rollback or an import)."""

    # -- API keys -------------------------------------------------------------------------------
    def add_api_key(self, key_id: str, key_hash: str, scope: str, name: str | None) -> None:
        with self.transaction():
            self._write("INSERT INTO api_keys VALUES (?, ?, ?, ?, now())",
                        [key_id, key_hash, scope, name])

    def _all_keys(self) -> dict[str, tuple[str, str]]:
        rows = self._rows("SELECT key_hash, key_id, scope FROM api_keys")
        return {key_hash: (key_id, scope) for key_hash, key_id, scope in rows}

    def list_api_keys(self) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT key_id, scope, name, created_at FROM api_keys ORDER BY created_at")
        return [dict(zip(("key_id", "scope", "name", "created_at"), r, strict=True)) for r in rows]

    # -- dead letters ---------------------------------------------------------------------------
    def add_dead_letter(self, letter: DeadLetter) -> int:
        """Keep a message that could not be ingested; returns its id."""
        with self.transaction():
            rows = self._write(
                f"INSERT INTO dead_letters ({DEAD_LETTER_COLUMNS.replace('dead_letter_id, ', '')})"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING dead_letter_id",
                [letter.received_at, letter.transport, letter.topic, letter.reason,
                 letter.message, letter.payload, letter.payload_bytes],
            )
        return int(rows[0][0])

    def list_dead_letters(self, limit: int, before_id: int | None = None) -> list[DeadLetter]:
        """The newest dead letters first, older than ``before_id`` when given."""
        where, params = ("dead_letter_id < ?", [before_id]) if before_id else ("TRUE", [])
        rows = self._rows(f"SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters WHERE {where} "
                          "ORDER BY dead_letter_id DESC LIMIT ?", [*params, limit])
        return [_dead_letter(row) for row in rows]

    def count_dead_letters(self) -> int:
        return int(self._rows("SELECT count(*) FROM dead_letters")[0][0])

    # -- uploads ---------------------------------------------------------------------------------
    def save_upload(self, state: UploadState) -> None:
        """Insert or update an upload; a new one is created at ``state.created_at`` (now when
        unset), which later saves keep."""
        report = json.dumps(state.report) if state.report is not None else None
        options = state.options if state.uploaded_by is None else {
            **state.options, UPLOADED_BY: state.uploaded_by}
        with self.transaction():
            self._write(
                f"""INSERT INTO uploads ({UPLOAD_COLUMNS})
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,
                            coalesce(CAST(? AS TIMESTAMPTZ), now()), now())
                    ON CONFLICT (upload_id) DO UPDATE SET status = excluded.status,
                      bytes_total = excluded.bytes_total, bytes_done = excluded.bytes_done,
                      rows_read = excluded.rows_read, report = excluded.report,
                      error = excluded.error, updated_at = excluded.updated_at""",
                [state.upload_id, state.filename, state.status, state.bytes_total,
                 state.bytes_done, state.rows_read, report, json.dumps(options),
                 state.error, state.created_at],
            )

    def get_upload(self, upload_id: str) -> UploadState | None:
        found = self._uploads("upload_id = ?", [upload_id])
        return found[0] if found else None

    def unfinished_uploads(self) -> list[UploadState]:
        return self._uploads("status IN ('queued', 'processing')", [])

    def list_uploads(self, limit: int, before: tuple[dt.datetime, str] | None = None,
                     status: str | None = None) -> list[UploadState]:
        """Uploads newest first (by ``created_at``, then id), of ``status`` when given,
        created before the cursor ``(created_at, upload_id)`` when given.

        Each ``report`` holds only the totals (``rows_read``, ``accepted``, ``duplicates``,
        ``rejected``), read inside the database: the rejected lines are not loaded.
        """
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if before is not None:
            clauses.append("(created_at < ? OR (created_at = ? AND upload_id < ?))")
            params.extend([before[0], before[0], before[1]])
        rows = self._rows(
            f"SELECT {UPLOAD_SUMMARY_COLUMNS} FROM uploads WHERE {' AND '.join(clauses)} "
            "ORDER BY created_at DESC, upload_id DESC LIMIT ?", [*params, limit])
        return [_upload_summary(row) for row in rows]

    def _uploads(self, where: str, params: list[Any]) -> list[UploadState]:
        rows = self._rows(
            f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE {where} ORDER BY created_at", params)
        states = []
        for r in rows:
            options = dict(_json_value(r[7]) or {})
            states.append(UploadState(
                upload_id=r[0], filename=r[1], status=r[2], bytes_total=r[3], bytes_done=r[4],
                rows_read=r[5], report=_json_value(r[6]), options=options,
                error=r[8], created_at=r[9], updated_at=r[10],
                uploaded_by=options.pop(UPLOADED_BY, None),
            ))
        return states


def _dead_letter(row: tuple[Any, ...]) -> DeadLetter:
    return DeadLetter(*row)


def _upload_summary(row: tuple[Any, ...]) -> UploadState:
    """An upload from a row of ``UPLOAD_SUMMARY_COLUMNS``."""
    upload_id, filename, status, bytes_total, bytes_done, rows_read = row[:6]
    totals, no_report = row[6:10], row[10]
    uploaded_by, error, created_at, updated_at = row[11:]
    report = None if no_report else {
        key: int(value or 0) for key, value in zip(UPLOAD_TOTALS, totals, strict=True)}
    return UploadState(upload_id=upload_id, filename=filename, status=status,
                       bytes_total=bytes_total, bytes_done=bytes_done, rows_read=rows_read,
                       report=report, error=error, uploaded_by=uploaded_by,
                       created_at=created_at, updated_at=updated_at)


def _json_value(value: Any) -> Any:
    """A JSON column's value: DuckDB returns text, PostgreSQL's driver decodes JSONB."""
    return json.loads(value) if isinstance(value, str) else value


def _source_where(source_id: str | None) -> tuple[str, list[Any]]:
    return ("source_id = ?", [source_id]) if source_id else ("TRUE", [])
