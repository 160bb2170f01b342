"""The embedded store: one DuckDB file, written by one connection."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from vigil.config import check_timezone
from vigil.duck import arrow, first_row, scalar
from vigil.store.base import (
    EVENT_INPUT_SCHEMA,
    EventFilter,
    EventPage,
    SourceInfo,
    UploadState,
)
from vigil.store.batches import first_of_each_event
from vigil.store.migrations.runner import HEAD_REVISION, DatabaseLockedError, upgrade
from vigil.store.sql import (
    DUCKDB,
    EVENT_COLUMNS,
    SOURCE_SUMMARY,
    add_hourly_counts,
    hourly_rollup,
    local_time_assignments,
    local_time_columns,
)

# A larger write-ahead log between checkpoints keeps bulk commits cheap; the log is durable.
CHECKPOINT_THRESHOLD = "256MB"


class StoreBusyError(RuntimeError):
    """The database file is held by another process (usually a running ``vigil serve``)."""


class DuckDBStore:
    """Event log and state in a DuckDB file.

    Writes go through the one connection this object owns (callers serialise them, see
    :class:`vigil.writer.Writer`); reads use short-lived cursors, which see committed data.
    """

    def __init__(self, path: str | Path, default_timezone: str = "UTC",
                 memory_limit: str = "256MB") -> None:
        self.path = Path(path)
        self.url = str(self.path)
        self.default_timezone = check_timezone(default_timezone)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = self._connect(memory_limit)
        except (duckdb.IOException, DatabaseLockedError) as exc:
            if "lock" not in str(exc).lower():
                raise
            raise StoreBusyError(
                f"cannot open {self.path}: it is in use by another process "
                "(stop `vigil serve`, or go through it: `vigil ingest --server URL` or the API)"
            ) from exc
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")  # for this and every cursor
        self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        self._lock = threading.RLock()
        self._depth = 0
        self._views_to_drop: list[str] = []
        self._known_sources = self._load_sources()
        # Only this process can write the file, so the keys it holds are all the keys.
        self._keys = self._load_keys()
        # One process writes a DuckDB file, so the batch number can be counted here.
        self._batch_no = int(scalar(self._con,
                                    "SELECT coalesce(max(ingest_batch), 0) FROM events"))

    def _connect(self, memory_limit: str) -> duckdb.DuckDBPyConnection:
        """Connect, migrating first unless the schema is already at the newest revision."""
        config: dict[str, str | bool | int | float | list[str]] = {"memory_limit": memory_limit}
        if self.path.exists():
            con = duckdb.connect(str(self.path), config=config)
            if _revision(con) == HEAD_REVISION:
                return con
            con.close()
        upgrade(f"duckdb:///{self.path.resolve()}")
        return duckdb.connect(str(self.path), config=config)

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
            self._con.execute("BEGIN TRANSACTION")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._con.execute("ROLLBACK")
                self._after_rollback()
                raise
            else:
                try:
                    self._con.execute("COMMIT")
                except duckdb.Error:  # a failed commit leaves nothing behind: forget it too
                    self._after_rollback()
                    raise
            finally:
                self._depth = 0

    def _after_rollback(self) -> None:
        """Forget what the rolled-back transaction did to this object's caches and views."""
        self._known_sources = self._load_sources()
        while self._views_to_drop:
            self._con.unregister(self._views_to_drop.pop())

    @contextmanager
    def _registered(self, name: str, table: pa.Table) -> Iterator[None]:
        """``table`` visible to SQL as ``name`` for the enclosed statements.

        A view cannot be dropped inside a failed transaction, so then it is dropped after
        the rollback instead (and the original error is the one that surfaces).
        """
        self._con.register(name, table)
        try:
            yield
        except BaseException:
            self._views_to_drop.append(name)
            raise
        self._con.unregister(name)

    def _load_sources(self) -> set[str]:
        return {r[0] for r in self._con.execute("SELECT source_id FROM sources").fetchall()}

    def _read(self) -> duckdb.DuckDBPyConnection:
        """A cursor for reads: it sees what is committed, whatever the writer is doing."""
        return self._con.cursor()

    # -- events -----------------------------------------------------------------------------
    def insert_events(self, batch: pa.Table) -> int:
        """Insert new events and add exactly those to the hourly counts, in one transaction.

        An event whose id and timestamp are both stored already is skipped, and so is a
        repeat within the batch.
        """
        if batch.num_rows == 0:
            return 0
        staged = first_of_each_event(batch.select(EVENT_INPUT_SCHEMA.names)
                                     .cast(EVENT_INPUT_SCHEMA))
        span = pc.min_max(staged.column("ts")).as_py()
        with self.transaction():
            self._add_sources(staged)
            self._batch_no += 1
            with self._registered("staged_batch", staged):
                inserted = int(scalar(
                    self._con,
                    f"""INSERT INTO events
                        SELECT b.event_id, b.source_id, b.event_type, b.ts, b.labels,
                               b.confidence, b.model_id, b.frame_id, b.subject_id, b.zone,
                               b.state, b.detections, b.attributes,
                               {local_time_columns("b.ts", "coalesce(s.timezone, ?)")}, now(), ?
                        FROM staged_batch b LEFT JOIN sources s USING (source_id)
                        ANTI JOIN (SELECT event_id, ts FROM events
                                   WHERE ts BETWEEN ? AND ?) stored USING (event_id, ts)""",
                    [self.default_timezone, self.default_timezone, self.default_timezone,
                     self._batch_no, span["min"], span["max"]],
                ))
                if inserted:
                    self._con.execute(add_hourly_counts(DUCKDB, "ingest_batch = ?"),
                                      [self._batch_no])
        return inserted

    def _add_sources(self, staged: pa.Table) -> None:
        """Register sources not seen before, with the default time zone."""
        seen = set(pc.unique(staged.column("source_id")).to_pylist())
        new = seen - self._known_sources
        if new:
            self._con.execute(
                "INSERT INTO sources SELECT unnest(?), ?, now() ON CONFLICT DO NOTHING",
                [sorted(new), self.default_timezone],
            )
            self._known_sources |= new

    def count_events(self) -> int:
        return int(scalar(self._read(), "SELECT count(*) FROM events"))

    def list_events(self, flt: EventFilter, cursor: tuple[dt.datetime, str] | None,
                    limit: int) -> EventPage:
        where, params = _event_where(flt, cursor)
        rows = self._read().execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} "
            "ORDER BY ts, event_id LIMIT ?",
            [*params, limit + 1],
        )
        names = [d[0] for d in rows.description]
        records = [dict(zip(names, r, strict=True)) for r in rows.fetchall()]
        for record in records:
            for key in ("detections", "attributes"):
                if record[key] is not None:
                    record[key] = json.loads(record[key])
        more = len(records) > limit
        records = records[:limit]
        nxt = (records[-1]["ts"], records[-1]["event_id"]) if more else None
        return EventPage(events=records, next_cursor=nxt)

    def iter_event_ids(self) -> Iterator[str]:
        result = self._read().execute("SELECT event_id FROM events ORDER BY event_id")
        while chunk := result.fetchmany(10_000):
            yield from (row[0] for row in chunk)

    # -- hourly counts ------------------------------------------------------------------------
    def hourly_counts(self, source_id: str | None = None) -> pa.Table:
        where, params = _source_where(source_id)
        return arrow(self._read(), f"SELECT * FROM hourly_counts WHERE {where} ORDER BY ALL",
                     params)

    def hourly_counts_from_events(self, source_id: str | None = None) -> pa.Table:
        where, params = _source_where(source_id)
        return arrow(self._read(), f"SELECT * FROM ({hourly_rollup(DUCKDB, where)}) ORDER BY ALL",
                     params)

    def rebuild_hourly_counts(self, source_id: str | None = None) -> int:
        """Recompute the hourly counts from the event log; returns the rows written."""
        where, params = _source_where(source_id)
        with self.transaction():
            self._con.execute(f"DELETE FROM hourly_counts WHERE {where}", params)
            self._con.execute(add_hourly_counts(DUCKDB, where), params)
            written = scalar(self._con, f"SELECT count(*) FROM hourly_counts WHERE {where}",
                             params)
        return int(written)

    # -- sources ------------------------------------------------------------------------------
    def list_sources(self) -> list[SourceInfo]:
        rows = self._read().execute(f"{SOURCE_SUMMARY} ORDER BY s.source_id").fetchall()
        return [SourceInfo(*row) for row in rows]

    def get_source(self, source_id: str) -> SourceInfo | None:
        return _source_info(self._read(), source_id)

    def source_timezones(self) -> dict[str, str]:
        return dict(self._read().execute("SELECT source_id, timezone FROM sources").fetchall())

    def set_source_timezone(self, source_id: str, timezone: str) -> SourceInfo:
        """Set a source's zone; its events' local columns and hourly counts are re-derived.

        Raises ``ValueError`` for a zone that is not a known IANA name.
        """
        check_timezone(timezone)
        with self.transaction():
            con = self._con
            con.execute(
                "INSERT INTO sources VALUES (?, ?, now()) "
                "ON CONFLICT (source_id) DO UPDATE SET timezone = excluded.timezone",
                [source_id, timezone],
            )
            self._known_sources.add(source_id)
            con.execute(
                f"UPDATE events SET {local_time_assignments('ts', '?')} WHERE source_id = ?",
                [timezone, timezone, timezone, source_id],
            )
            self.rebuild_hourly_counts(source_id)
            info = _source_info(con, source_id)  # inside: the change is not committed yet
        assert info is not None
        return info

    # -- API keys -------------------------------------------------------------------------------
    def add_api_key(self, key_id: str, key_hash: str, scope: str, name: str | None) -> None:
        with self.transaction():
            self._con.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, now())", [key_id, key_hash, scope, name]
            )
        self._keys[key_hash] = (key_id, scope)

    def find_api_key(self, key_hash: str) -> tuple[str, str] | None:
        """``(key_id, scope)`` of a key, from memory (keys are checked on every request)."""
        return self._keys.get(key_hash)

    def count_api_keys(self) -> int:
        return len(self._keys)

    def _load_keys(self) -> dict[str, tuple[str, str]]:
        rows = self._con.execute("SELECT key_hash, key_id, scope FROM api_keys").fetchall()
        return {key_hash: (key_id, scope) for key_hash, key_id, scope in rows}

    def list_api_keys(self) -> list[dict[str, Any]]:
        rows = self._read().execute(
            "SELECT key_id, scope, name, created_at FROM api_keys ORDER BY created_at"
        ).fetchall()
        return [dict(zip(("key_id", "scope", "name", "created_at"), r, strict=True)) for r in rows]

    # -- uploads ---------------------------------------------------------------------------------
    def save_upload(self, state: UploadState) -> None:
        report = json.dumps(state.report) if state.report is not None else None
        with self.transaction():
            self._con.execute(
                """INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now(), now())
                   ON CONFLICT (upload_id) DO UPDATE SET status = excluded.status,
                     bytes_total = excluded.bytes_total, bytes_done = excluded.bytes_done,
                     rows_read = excluded.rows_read, report = excluded.report,
                     error = excluded.error, updated_at = excluded.updated_at""",
                [state.upload_id, state.filename, state.status, state.bytes_total,
                 state.bytes_done, state.rows_read, report, json.dumps(state.options),
                 state.error],
            )

    def get_upload(self, upload_id: str) -> UploadState | None:
        found = self._uploads("upload_id = ?", [upload_id])
        return found[0] if found else None

    def unfinished_uploads(self) -> list[UploadState]:
        return self._uploads("status IN ('queued', 'processing')", [])

    def _uploads(self, where: str, params: list[Any]) -> list[UploadState]:
        rows = self._read().execute(
            "SELECT upload_id, filename, status, bytes_total, bytes_done, rows_read, report, "
            f"options, error, created_at, updated_at FROM uploads WHERE {where} "
            "ORDER BY created_at",
            params,
        ).fetchall()
        return [
            UploadState(
                upload_id=r[0], filename=r[1], status=r[2], bytes_total=r[3], bytes_done=r[4],
                rows_read=r[5], report=json.loads(r[6]) if r[6] is not None else None,
                options=json.loads(r[7]) if r[7] is not None else {}, error=r[8],
                created_at=r[9], updated_at=r[10],
            )
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _source_info(con: duckdb.DuckDBPyConnection, source_id: str) -> SourceInfo | None:
    row = first_row(con, f"{SOURCE_SUMMARY} WHERE s.source_id = ?", [source_id])
    return SourceInfo(*row) if row else None


def _source_where(source_id: str | None) -> tuple[str, list[Any]]:
    return ("source_id = ?", [source_id]) if source_id else ("TRUE", [])


def _event_where(flt: EventFilter, cursor: tuple[dt.datetime, str] | None
                 ) -> tuple[str, list[Any]]:
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    for column, value in (("source_id", flt.source_id), ("event_type", flt.event_type),
                          ("subject_id", flt.subject_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if flt.label is not None:
        clauses.append(DUCKDB.label_match)
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


def _revision(con: duckdb.DuckDBPyConnection) -> str | None:
    """The schema revision recorded in the database (``None`` before the first migration)."""
    found = first_row(con, "SELECT count(*) FROM information_schema.tables "
                           "WHERE table_name = 'alembic_version'")
    if not found or not found[0]:
        return None
    row = first_row(con, "SELECT version_num FROM alembic_version")
    return str(row[0]) if row else None
