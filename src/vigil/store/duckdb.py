"""The embedded store: one DuckDB file, written by one connection."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from vigil.duck import arrow, first_row, scalar
from vigil.dwell.pairing import DEFAULT_MAX_SESSION
from vigil.store.base import EVENT_INPUT_SCHEMA
from vigil.store.batches import first_of_each_event
from vigil.store.migrations.runner import HEAD_REVISION, DatabaseLockedError, upgrade
from vigil.store.sessions import sessions_need_rebuild
from vigil.store.sql import DUCKDB, add_hourly_counts, local_time_columns
from vigil.store.sqlstore import SEQUENCES, Rows, SqlStore
from vigil.zones import check_timezone

# A larger write-ahead log between checkpoints keeps bulk commits cheap; the log is durable.
CHECKPOINT_THRESHOLD = "256MB"
DEFAULT_MEMORY_LIMIT = "50%"
"""DuckDB ``memory_limit`` unless told: half of the machine's RAM (DuckDB's own default is
80 %; the rest is left to the Arrow and numpy work of the same process). Analytics over
about 10M stored events need roughly 2GB: distinct counts and percentiles do not spill."""


class StoreBusyError(RuntimeError):
    """The database file is held by another process (usually a running ``vigil serve``)."""


class DuckDBStore(SqlStore):
    """Event log and state in a DuckDB file.

    Writes go through the one connection this object owns (callers serialise them, see
    :class:`vigil.writer.Writer`); reads use short-lived cursors, which see committed data.
    """

    def __init__(self, path: str | Path, default_timezone: str = "UTC",
                 memory_limit: str = DEFAULT_MEMORY_LIMIT,
                 max_session: dt.timedelta = DEFAULT_MAX_SESSION) -> None:
        if max_session <= dt.timedelta(0):
            raise ValueError("max_session must be positive")
        self.path = Path(path)
        self.url = str(self.path)
        self.default_timezone = check_timezone(default_timezone)
        self.session_max = max_session
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con, upgraded_from = self._connect(memory_limit)
        except (duckdb.IOException, DatabaseLockedError) as exc:
            if "lock" not in str(exc).lower():
                raise
            raise StoreBusyError(
                f"cannot open {self.path}: it is in use by another process "
                "(stop `vigil serve`, or go through it: `vigil ingest --server URL` or the API)"
            ) from exc
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")  # for this and every cursor
        self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        self.dialect = DUCKDB
        self._lock = threading.RLock()
        self._depth = 0
        self._views_to_drop: list[str] = []
        self._known_sources = self._load_sources()
        # Only this process can write the file, so the keys it holds are all the keys.
        self._keys = self._all_keys()
        # One process writes a DuckDB file, so the batch number can be counted here.
        self._batch_no = int(scalar(self._con,
                                    "SELECT coalesce(max(ingest_batch), 0) FROM events"))
        if sessions_need_rebuild(upgraded_from):
            self.rebuild_sessions()

    def _connect(self, memory_limit: str) -> tuple[duckdb.DuckDBPyConnection, str | None]:
        """Connect, migrating first unless the schema is already at the newest revision;
        also the revision migrated from (``None``: no migration, or a new database)."""
        config: dict[str, str | bool | int | float | list[str]] = {"memory_limit": memory_limit}
        previous = None
        if self.path.exists():
            con = duckdb.connect(str(self.path), config=config)
            previous = _revision(con)
            if previous == HEAD_REVISION:
                return con, None
            con.close()
        upgrade(f"duckdb:///{self.path.resolve()}")
        return duckdb.connect(str(self.path), config=config), previous

    # -- transactions ---------------------------------------------------------------------
    def _begin(self) -> None:
        self._con.execute("BEGIN TRANSACTION")

    def _commit(self) -> None:
        try:
            self._con.execute("COMMIT")
        except duckdb.Error:  # a failed commit leaves nothing behind: forget it too
            self._after_rollback()
            raise

    def _rollback(self) -> None:
        self._con.execute("ROLLBACK")
        self._after_rollback()

    @staticmethod
    def is_retryable(exc: BaseException) -> bool:
        """One process writes the file, so no failure is a conflict worth retrying."""
        return False

    def _after_rollback(self) -> None:
        """Forget what the rolled-back transaction did to this object's caches and views."""
        self._known_sources = self._load_sources()
        self._sessions_data_end = None
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

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for reads: it sees what is committed, whatever the writer is doing."""
        return self._con.cursor()

    # -- events -----------------------------------------------------------------------------
    def insert_events(self, batch: pa.Table) -> int:
        """Insert new events and add exactly those to the hourly counts, and bring the
        sessions in line, in one transaction.

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
            if inserted:
                self._maintain_sessions(staged)
        return inserted


    # -- what the shared SQL needs ---------------------------------------------------------------
    def _read(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], Rows]:
        result = self._cursor().execute(sql, list(params))
        return [d[0] for d in result.description], result.fetchall()

    def _iter_read(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        result = self._cursor().execute(sql, list(params))
        while chunk := result.fetchmany(10_000):
            yield from chunk

    def _read_table(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        return arrow(self._cursor(), sql, params)

    def _write(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        result = self._con.execute(sql, list(params))
        return result.fetchall() if result.description else []

    def _read_in_transaction(self, sql: str, params: Sequence[Any], schema: pa.Schema
                             ) -> pa.Table:
        return arrow(self._con, sql, params).cast(schema)

    def _load_temp_table(self, name: str, columns: str, data: pa.Table) -> None:
        self._con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")
        names = ", ".join(data.column_names)
        with self._registered(f"{name}_rows", data):
            self._con.execute(f"INSERT INTO {name} ({names}) SELECT {names} FROM {name}_rows")

    # -- API keys: only this process can write the file, so its copy is all the keys ---------
    def add_api_key(self, key_id: str, key_hash: str, scope: str, name: str | None) -> None:
        super().add_api_key(key_id, key_hash, scope, name)
        self._keys[key_hash] = (key_id, scope)

    def find_api_key(self, key_hash: str) -> tuple[str, str] | None:
        """``(key_id, scope)`` of a key, from memory (keys are checked on every request)."""
        return self._keys.get(key_hash)

    def count_api_keys(self) -> int:
        return len(self._keys)

    # -- whole-store transfer -----------------------------------------------------------------
    def export_batches(self, sql: str, rows_per_batch: int) -> Iterator[pa.Table]:
        reader = self._cursor().sql(sql).to_arrow_reader(rows_per_batch)
        for batch in reader:
            yield pa.Table.from_batches([batch])

    def append_rows(self, table: str, data: pa.Table) -> None:
        columns = ", ".join(data.column_names)
        with self.transaction(), self._registered("imported_rows", data):
            self._con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} "
                              "FROM imported_rows")

    def after_import(self) -> None:
        """Reload what this object remembers; move the dead-letter sequence past the ids."""
        with self.transaction():
            for sequence, column, table in SEQUENCES:
                top = int(self._write(f"SELECT coalesce(max({column}), 0) FROM {table}")[0][0])
                if top:
                    self._write(f"SELECT max(nextval('{sequence}')) FROM range(?)", [top])
            self._batch_no = int(self._write(
                "SELECT coalesce(max(ingest_batch), 0) FROM events")[0][0])
            self._known_sources = self._load_sources()
            self._sessions_data_end = None
            self._keys = {h: (k, s) for h, k, s in
                          self._write("SELECT key_hash, key_id, scope FROM api_keys")}

    # -- uploads: one process owns the file, so it owns every upload -------------------------
    def claim_upload(self, upload_id: str) -> bool:
        return True

    def release_upload(self, upload_id: str) -> None:
        """Nothing to release: claims are not recorded."""

    def claim_role(self, role: str) -> bool:
        """One process owns the file, so it holds every role."""
        return True

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _revision(con: duckdb.DuckDBPyConnection) -> str | None:
    """The schema revision recorded in the database (``None`` before the first migration)."""
    found = first_row(con, "SELECT count(*) FROM information_schema.tables "
                           "WHERE table_name = 'alembic_version'")
    if not found or not found[0]:
        return None
    row = first_row(con, "SELECT version_num FROM alembic_version")
    return str(row[0]) if row else None
