"""The server store: PostgreSQL through psycopg 3, safe for several writing processes.

Batches are copied into a temporary staging table and moved into ``events`` with
``INSERT … ON CONFLICT DO NOTHING``; the rows that were really inserted are returned by that
statement and added to the hourly counts with ``INSERT … ON CONFLICT … DO UPDATE`` in the
same transaction. Concurrent writers therefore never lose or double-count an event: the
primary key decides which writer stores it, and only that writer counts it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from vigil.dwell.pairing import DEFAULT_MAX_SESSION
from vigil.store.arrowderive import hourly_counts, local_time_columns
from vigil.store.base import EVENT_INPUT_SCHEMA, StoreUnavailableError
from vigil.store.batches import first_of_each_event
from vigil.store.migrations.runner import HEAD_REVISION, upgrade
from vigil.store.pgcopy import batch_csv
from vigil.store.sessions import sessions_need_rebuild
from vigil.store.sql import HOURLY_ORDER, POSTGRES, add_hourly_counts, upsert_hourly_counts
from vigil.store.sql import local_time_columns as local_time_sql
from vigil.store.sqlstore import SEQUENCES, Rows, SqlStore
from vigil.zones import check_timezone

READ_POOL_SIZE = 4
BULK_PATH_MIN_ROWS = 2_000  # smaller batches always take the general path
PROBE_SAMPLE = 64  # events of a batch looked up before trying the bulk path
_TS = pa.timestamp("us", tz="UTC")
CONNECT_TIMEOUT_S = 10
CSV_BLOCK_BYTES = 16 * 1024 * 1024  # a row read back by COPY must fit in one block
# Advisory lock held from session maintenance to commit: writers re-pair one at a time, each
# seeing what the previous one committed.
SESSIONS_LOCK_KEY = 0x5649_4749_4C01

STAGING_TABLE = """
    CREATE TEMP TABLE IF NOT EXISTS staged_batch (
        event_id TEXT, source_id TEXT, event_type TEXT, ts TIMESTAMPTZ, labels TEXT[],
        confidence DOUBLE PRECISION, model_id TEXT, frame_id BIGINT, subject_id TEXT,
        zone TEXT, state TEXT, detections JSONB, attributes JSONB
    ) ON COMMIT DELETE ROWS
"""

INSERT_STAGED = f"""
    WITH batch AS (SELECT nextval('ingest_batch_seq') AS batch_no),
    inserted AS (
        INSERT INTO events
        SELECT b.event_id, b.source_id, b.event_type, b.ts, b.labels, b.confidence,
               b.model_id, b.frame_id, b.subject_id, b.zone, b.state, b.detections,
               b.attributes, {local_time_sql("b.ts", "coalesce(s.timezone, %s)")},
               now(), (SELECT batch_no FROM batch)
        FROM staged_batch b LEFT JOIN sources s USING (source_id)
        ORDER BY b.ts, b.event_id
        ON CONFLICT DO NOTHING
        RETURNING source_id, event_type, labels, local_date, local_hour, confidence
    ),
    counted AS ({add_hourly_counts(POSTGRES, "TRUE", source="inserted")})
    SELECT count(*) FROM inserted
"""


HOURLY_STAGING_TABLE = """
    CREATE TEMP TABLE IF NOT EXISTS staged_hourly (
        source_id TEXT, event_type TEXT, label TEXT, local_date DATE, local_hour SMALLINT,
        event_count BIGINT, confidence_micros BIGINT, confidence_count BIGINT
    ) ON COMMIT DELETE ROWS
"""


class PostgresStore(SqlStore):
    """Event log and state in a PostgreSQL database.

    Writes run on one connection guarded by a lock (one transaction at a time per process;
    other processes write concurrently); reads use a small pool of connections.
    """

    def __init__(self, url: str, default_timezone: str = "UTC",
                 max_session: dt.timedelta = DEFAULT_MAX_SESSION) -> None:
        if max_session <= dt.timedelta(0):
            raise ValueError("max_session must be positive")
        self.url = url
        self.default_timezone = check_timezone(default_timezone)
        self.session_max = max_session
        self.dialect = POSTGRES
        try:
            previous = _revision(url)
            if previous != HEAD_REVISION:
                upgrade(sqlalchemy_url(url))
            self._con = _connect(url)
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(str(exc).strip()) from exc
        self._pool = ConnectionPool(url, min_size=1, max_size=READ_POOL_SIZE, open=True,
                                    kwargs=_CONNECT_KWARGS | {"autocommit": True},
                                    name="vigil-read")
        self._lock = threading.RLock()
        self._depth = 0
        self._known_sources = self._load_sources()
        self._claims = psycopg.connect(url, autocommit=True, **_CONNECT_KWARGS)
        self._claims_lock = threading.Lock()
        if sessions_need_rebuild(previous):
            self.rebuild_sessions()

    # -- transactions (psycopg begins one with the first statement) -----------------------
    def _begin(self) -> None:
        """Nothing to do: the connection is not in autocommit mode."""

    def _commit(self) -> None:
        try:
            self._con.commit()
        except psycopg.Error:
            self._rollback()
            raise

    def _rollback(self) -> None:
        self._con.rollback()
        self._known_sources = self._load_sources()
        self._sessions_data_end = None

    @staticmethod
    def is_retryable(exc: BaseException) -> bool:
        """Whether a failed transaction may succeed when simply run again."""
        return isinstance(exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure)

    # -- what the shared SQL needs ---------------------------------------------------------------
    def _read(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], Rows]:
        with self._pool.connection() as con:
            cur = con.execute(_placeholders(sql), list(params))
            names = [d.name for d in cur.description] if cur.description else []
            return names, cur.fetchall()

    def _iter_read(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        with (self._pool.connection() as con, con.transaction(),
              con.cursor(name="vigil_iter") as cur):  # server-side: rows arrive in chunks
            cur.itersize = 10_000
            cur.execute(_placeholders(sql), list(params))
            yield from cur

    def _write(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        with self._lock:
            cur = self._con.execute(_placeholders(sql), list(params))
            return cur.fetchall() if cur.description else []

    _prune_by_time = False  # its indexes find each group's rows (see SessionTables)

    def _read_in_transaction(self, sql: str, params: Sequence[Any], schema: pa.Schema
                             ) -> pa.Table:
        """Copied out as CSV and parsed by Arrow: many times faster than rows of Python
        objects (the parameters are bound on the client: COPY takes none)."""
        out = io.BytesIO()
        with self._lock, self._con.cursor() as cur, cur.copy(
                f"COPY ({_placeholders(sql)}) TO STDOUT (FORMAT csv, HEADER)",
                list(params)) as copy:
            for block in copy:
                out.write(block)
        return _csv_table(out.getvalue(), schema)

    def _load_temp_table(self, name: str, columns: str, data: pa.Table) -> None:
        with self._lock, self._con.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) "
                        "ON COMMIT DELETE ROWS")
            cur.execute(f"TRUNCATE {name}")  # an earlier batch of this transaction
            with cur.copy(f"COPY {name} ({', '.join(data.column_names)}) "
                          "FROM STDIN (FORMAT csv)") as copy:
                copy.write(batch_csv(data))
            cur.execute(f"ANALYZE {name}")  # temp tables get no statistics otherwise

    def _lock_sessions(self) -> None:
        self._write("SELECT pg_advisory_xact_lock(?)", [SESSIONS_LOCK_KEY])

    def _load_sources(self) -> set[str]:
        return {row[0] for row in self._rows("SELECT source_id FROM sources")}

    # -- events -----------------------------------------------------------------------------
    def insert_events(self, batch: pa.Table) -> int:
        """Insert new events and add exactly those to the hourly counts, and bring the
        sessions in line, in one transaction."""
        if batch.num_rows == 0:
            return 0
        staged = first_of_each_event(batch.select(EVENT_INPUT_SCHEMA.names)
                                     .cast(EVENT_INPUT_SCHEMA))
        with self.transaction():
            self._add_sources(staged)
            inserted = None
            if staged.num_rows >= BULK_PATH_MIN_ROWS and not self._any_stored(staged):
                inserted = self._copy_all_new(staged)
            if inserted is None:
                inserted = self._insert_through_staging(staged)
            if inserted:
                self._maintain_sessions(staged)
        return inserted

    def _insert_through_staging(self, staged: pa.Table) -> int:
        """The general path: stage, then insert what is new and count exactly that."""
        cur = self._con.cursor()
        cur.execute(STAGING_TABLE)
        cur.execute("TRUNCATE staged_batch")  # earlier batches of this transaction
        with cur.copy("COPY staged_batch FROM STDIN (FORMAT csv)") as copy:
            copy.write(batch_csv(staged))
        row = cur.execute(INSERT_STAGED, [self.default_timezone] * 3).fetchone()
        return int(row[0]) if row else 0

    def _any_stored(self, staged: pa.Table) -> bool:
        """Whether a sample of the batch's events is stored already (then the bulk path
        would only fail)."""
        step = max(1, staged.num_rows // PROBE_SAMPLE)
        sample = staged.select(["ts", "event_id"]).take(np.arange(0, staged.num_rows, step))
        rows = self._write(
            "SELECT 1 FROM events WHERE (ts, event_id) IN "
            "(SELECT * FROM unnest(CAST(? AS TIMESTAMPTZ[]), CAST(? AS TEXT[]))) LIMIT 1",
            [sample.column("ts").to_pylist(), sample.column("event_id").to_pylist()])
        return bool(rows)

    def _copy_all_new(self, staged: pa.Table) -> int | None:
        """The bulk path for a batch of new events: local time and hourly counts are
        computed here and the rows copied straight into ``events``.

        Returns ``None``, having changed nothing, when an event turns out to be stored
        already (the primary key refuses the copy); the caller then takes the general path.
        """
        now, batch_no = self._write("SELECT now(), nextval('ingest_batch_seq')")[0]
        zones: dict[str, str] = dict(self._write(
            "SELECT source_id, timezone FROM sources WHERE source_id = ANY(?)",
            [pc.unique(staged.column("source_id")).to_pylist()]))
        # in key order, as the general path inserts: concurrent writers lock alike
        staged = staged.sort_by([("ts", "ascending"), ("event_id", "ascending")])
        events = staged
        for name, column in local_time_columns(staged, zones).items():
            events = events.append_column(name, column)
        events = events.append_column("ingested_at", pa.array([now] * staged.num_rows, _TS))
        events = events.append_column(
            "ingest_batch", pa.array([batch_no] * staged.num_rows, pa.int64()))
        with self._con.cursor() as cur:
            cur.execute("SAVEPOINT bulk_copy")
            try:
                with cur.copy(f"COPY events ({', '.join(events.column_names)}) "
                              "FROM STDIN (FORMAT csv)") as copy:
                    copy.write(batch_csv(events))
            except pg_errors.UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT bulk_copy")
                return None
            cur.execute("RELEASE SAVEPOINT bulk_copy")
            counts = hourly_counts(events)
            cur.execute(HOURLY_STAGING_TABLE)
            cur.execute("TRUNCATE staged_hourly")
            with cur.copy(f"COPY staged_hourly ({', '.join(counts.column_names)}) "
                          "FROM STDIN (FORMAT csv)") as copy:
                copy.write(batch_csv(counts))
            cur.execute(upsert_hourly_counts(
                f"SELECT * FROM staged_hourly ORDER BY {HOURLY_ORDER}"))
        return int(staged.num_rows)


    # -- whole-store transfer -----------------------------------------------------------------
    def export_batches(self, sql: str, rows_per_batch: int) -> Iterator[pa.Table]:
        with (self._pool.connection() as con, con.transaction(),
              con.cursor(name="vigil_export") as cur):
            cur.execute(_placeholders(sql))
            names = [d.name for d in cur.description or []]
            while chunk := cur.fetchmany(rows_per_batch):
                yield pa.table({name: [row[i] for row in chunk] for i, name in enumerate(names)})

    def append_rows(self, table: str, data: pa.Table) -> None:
        with self.transaction(), self._con.cursor() as cur:
            columns = ", ".join(data.column_names)
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(batch_csv(data))

    def after_import(self) -> None:
        """Move the sequences past the imported ids."""
        with self.transaction():
            for sequence, column, table in SEQUENCES:
                self._write(f"SELECT setval('{sequence}', "
                            f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)")
            self._write("SELECT setval('ingest_batch_seq', "
                        "coalesce((SELECT max(ingest_batch) FROM events), 0) + 1, false)")
            self._known_sources = {row[0] for row in self._write("SELECT source_id FROM sources")}
            self._sessions_data_end = None

    # -- API keys: other processes may add keys, so they are read from the database --------
    def find_api_key(self, key_hash: str) -> tuple[str, str] | None:
        rows = self._rows("SELECT key_id, scope FROM api_keys WHERE key_hash = ?", [key_hash])
        return (rows[0][0], rows[0][1]) if rows else None

    def count_api_keys(self) -> int:
        return int(self._rows("SELECT count(*) FROM api_keys")[0][0])

    # -- uploads: a session-level advisory lock per upload, gone when its process dies ------
    def claim_upload(self, upload_id: str) -> bool:
        with self._claims_lock:
            row = self._claims.execute("SELECT pg_try_advisory_lock(%s)",
                                       [_lock_key(upload_id)]).fetchone()
        return bool(row and row[0])

    def claim_role(self, role: str) -> bool:
        """A role is an advisory lock too: held until this process closes or dies."""
        return self.claim_upload(f"role:{role}")

    def release_upload(self, upload_id: str) -> None:
        with self._claims_lock:
            self._claims.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(upload_id)])

    def close(self) -> None:
        with self._lock, self._claims_lock:
            self._pool.close()
            self._claims.close()
            self._con.close()


_CONNECT_KWARGS: dict[str, Any] = {"options": "-c TimeZone=UTC",
                                   "connect_timeout": CONNECT_TIMEOUT_S}


def _connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, **_CONNECT_KWARGS)


def _csv_table(data: bytes, schema: pa.Schema) -> pa.Table:
    """The CSV (with a header) that ``COPY … TO STDOUT (FORMAT csv)`` wrote, as ``schema``:
    an empty field is NULL, a quoted empty one the empty string."""
    table = pcsv.read_csv(
        io.BytesIO(data), read_options=pcsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(column_types=schema, strings_can_be_null=True,
                                            quoted_strings_can_be_null=False))
    return table.select(schema.names).cast(schema)


def _lock_key(upload_id: str) -> int:
    """A 64-bit advisory-lock key for an upload."""
    return int.from_bytes(hashlib.sha256(upload_id.encode()).digest()[:8], "big", signed=True)


def _placeholders(sql: str) -> str:
    """The shared SQL's ``?`` placeholders in psycopg's ``%s`` style."""
    return sql.replace("%", "%%").replace("?", "%s")


def sqlalchemy_url(url: str) -> str:
    """The URL SQLAlchemy needs to reach the same database through psycopg 3."""
    rest = url.split("://", 1)[1]
    return f"postgresql+psycopg://{rest}"


def _revision(url: str) -> str | None:
    """The schema revision recorded in the database (``None`` before the first migration)."""
    with _connect(url) as con:
        found = con.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
        if not found or not found[0]:
            return None
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else None
