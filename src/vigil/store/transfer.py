"""Move a whole store between backends: every table to Parquet files, and back.

An export is a folder with one Parquet file per table and a ``manifest.json``. The column
types are fixed here, so an export from DuckDB and one from PostgreSQL are alike and either
can be imported into either backend.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vigil.store.base import Store
from vigil.store.migrations.runner import HEAD_REVISION

EXPORT_FORMAT = "vigil-export"
EXPORT_VERSION = 1
MANIFEST = "manifest.json"
ROWS_PER_BATCH = 100_000

_TS = pa.timestamp("us", tz="UTC")
TABLES: dict[str, pa.Schema] = {
    "sources": pa.schema([("source_id", pa.string()), ("timezone", pa.string()),
                          ("created_at", _TS), ("area", pa.string())]),
    "api_keys": pa.schema([("key_id", pa.string()), ("key_hash", pa.string()),
                           ("scope", pa.string()), ("name", pa.string()),
                           ("created_at", _TS)]),
    "uploads": pa.schema([("upload_id", pa.string()), ("filename", pa.string()),
                          ("status", pa.string()), ("bytes_total", pa.int64()),
                          ("bytes_done", pa.int64()), ("rows_read", pa.int64()),
                          ("report", pa.string()), ("options", pa.string()),
                          ("error", pa.string()), ("created_at", _TS), ("updated_at", _TS)]),
    "dead_letters": pa.schema([("dead_letter_id", pa.int64()), ("received_at", _TS),
                               ("transport", pa.string()), ("topic", pa.string()),
                               ("reason", pa.string()), ("message", pa.string()),
                               ("payload", pa.string()), ("payload_bytes", pa.int64())]),
    "events": pa.schema([
        ("event_id", pa.string()), ("source_id", pa.string()), ("event_type", pa.string()),
        ("ts", _TS), ("labels", pa.list_(pa.string())), ("confidence", pa.float64()),
        ("model_id", pa.string()), ("frame_id", pa.int64()), ("subject_id", pa.string()),
        ("zone", pa.string()), ("state", pa.string()), ("detections", pa.string()),
        ("attributes", pa.string()), ("local_date", pa.date32()), ("local_hour", pa.int16()),
        ("local_weekday", pa.int16()), ("ingested_at", _TS), ("ingest_batch", pa.int64()),
    ]),
    "hourly_counts": pa.schema([
        ("source_id", pa.string()), ("event_type", pa.string()), ("label", pa.string()),
        ("local_date", pa.date32()), ("local_hour", pa.int16()), ("event_count", pa.int64()),
        ("confidence_micros", pa.int64()), ("confidence_count", pa.int64()),
    ]),
    "persons": pa.schema([("subject_id", pa.string()), ("person_key", pa.int64())]),
    "sessions": pa.schema([
        ("grouping", pa.string()), ("subject_id", pa.string()), ("source_id", pa.string()),
        ("zone", pa.string()), ("anchor_ts", _TS), ("entry_ts", _TS), ("exit_ts", _TS),
        ("duration_ms", pa.int64()), ("status", pa.string()),
        ("entry_event_id", pa.string()), ("exit_event_id", pa.string()),
        ("local_date", pa.date32()), ("local_hour", pa.int16()),
        ("local_weekday", pa.int16()), ("attributes", pa.string()),
        ("person_key", pa.int64()),
    ]),
    "anomalies": pa.schema([
        ("anomaly_id", pa.int64()), ("source_id", pa.string()), ("anomaly_type", pa.string()),
        ("label", pa.string()), ("event_id", pa.string()), ("window_start", _TS),
        ("window_end", _TS), ("local_date", pa.date32()), ("local_weekday", pa.int16()),
        ("local_hour", pa.int16()), ("score", pa.float64()), ("severity", pa.string()),
        ("explanation", pa.string()), ("components", pa.string()),
        ("pattern_key", pa.string()), ("run_id", pa.string()), ("status", pa.string()),
        ("detected_at", _TS), ("updated_at", _TS),
    ]),
    "false_positives": pa.schema([
        ("source_id", pa.string()), ("pattern_key", pa.string()), ("severity", pa.string()),
        ("anomaly_id", pa.int64()), ("marked_at", _TS),
    ]),
    "detector_cursor": pa.schema([("name", pa.string()), ("ingest_batch", pa.int64()),
                                  ("updated_at", _TS)]),
    "alert_rules": pa.schema([("rule_id", pa.string()), ("definition", pa.string()),
                              ("created_at", _TS), ("updated_at", _TS)]),
    "alert_deliveries": pa.schema([
        ("delivery_id", pa.int64()), ("anomaly_id", pa.int64()), ("rule_id", pa.string()),
        ("sink", pa.string()), ("status", pa.string()), ("attempts", pa.int32()),
        ("next_attempt_at", _TS), ("last_status_code", pa.int32()),
        ("last_error", pa.string()), ("payload", pa.string()), ("created_at", _TS),
        ("updated_at", _TS), ("delivered_at", _TS),
    ]),
    "aggregates": pa.schema([
        ("layer", pa.string()), ("detector", pa.string()), ("entity", pa.string()),
        ("bucket", pa.date32()), ("fields", pa.string()), ("written_at", _TS),
    ]),
    "patterns": pa.schema([
        ("pattern_id", pa.string()), ("type", pa.string()), ("entities", pa.string()),
        ("confidence", pa.float64()), ("description", pa.string()), ("evidence", pa.string()),
        ("first_seen", pa.date32()), ("last_seen", pa.date32()), ("window_end", pa.date32()),
        ("detected_at", _TS),
    ]),
}
# Columns added after the first exports: an export without them imports them as null.
LATER_COLUMNS = {("sources", "area")}
# Tables added after the first exports: an export without their file imports them empty.
LATER_TABLES = {"patterns"}
JSON_COLUMNS = {"report", "options", "detections", "attributes", "components", "definition",
                "payload", "fields"}
Progress = Callable[[str, int], None]  # table, rows done so far


class TransferError(RuntimeError):
    """An export or import that cannot proceed; the message says why."""


@dataclass(frozen=True)
class TransferSummary:
    """Rows moved per table."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def select_sql(table: str) -> str:
    """The query exporting ``table``: JSON columns as text, in a stable order."""
    columns = [f"CAST({name} AS TEXT) AS {name}" if name in JSON_COLUMNS else name
               for name in TABLES[table].names]
    return f"SELECT {', '.join(columns)} FROM {table}"


def export_store(store: Store, folder: Path, progress: Progress | None = None
                 ) -> TransferSummary:
    """Write every table of ``store`` to ``folder`` (created; must be empty)."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise TransferError(f"{folder} is not empty; export into a new folder")
    rows: dict[str, int] = {}
    for table, schema in TABLES.items():
        done = 0
        with pq.ParquetWriter(folder / f"{table}.parquet", schema) as writer:
            for batch in store.export_batches(select_sql(table), ROWS_PER_BATCH):
                writer.write_table(batch.cast(schema))
                done += batch.num_rows
                if progress:
                    progress(table, done)
        rows[table] = done
    manifest = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                "schema_revision": HEAD_REVISION, "rows": rows}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return TransferSummary(rows)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an export, checked."""
    path = folder / MANIFEST
    if not path.is_file():
        raise TransferError(f"{folder} is not a Vigil export (no {MANIFEST})")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != EXPORT_FORMAT or manifest.get("version") != EXPORT_VERSION:
        raise TransferError(f"{path}: unsupported export format {manifest.get('format')!r} "
                            f"version {manifest.get('version')!r}")
    if manifest.get("schema_revision") != HEAD_REVISION:
        raise TransferError(f"{path}: exported at schema revision "
                            f"{manifest.get('schema_revision')}, this Vigil is at "
                            f"{HEAD_REVISION}; use the matching Vigil version")
    return manifest


def import_store(store: Store, folder: Path, progress: Progress | None = None
                 ) -> TransferSummary:
    """Load an export into ``store``, which must hold no events, sources or keys yet.

    Everything is loaded in one transaction: an import that fails leaves nothing behind.
    """
    manifest = read_manifest(folder)
    occupied = store.count_events() + len(store.list_sources()) + store.count_api_keys()
    if occupied:
        raise TransferError(f"{store.url} is not empty; import into a new database")
    rows: dict[str, int] = {}
    with store.transaction():
        for table, schema in TABLES.items():
            done = 0
            for batch in _parquet_batches(folder / f"{table}.parquet", schema, table):
                store.append_rows(table, batch)
                done += batch.num_rows
                if progress:
                    progress(table, done)
            expected = manifest["rows"].get(table)
            if expected != done:
                raise TransferError(f"{table}: the manifest says {expected} rows, "
                                    f"the file has {done}")
            rows[table] = done
        store.after_import()
    return TransferSummary(rows)


def _parquet_batches(path: Path, schema: pa.Schema, table: str) -> Iterator[pa.Table]:
    if not path.is_file():
        if table in LATER_TABLES:
            return
        raise TransferError(f"{path} is missing from the export")
    with pq.ParquetFile(path) as parquet:
        for batch in parquet.iter_batches(ROWS_PER_BATCH):
            yield _with_later_columns(pa.Table.from_batches([batch]), schema, table).cast(schema)


def _with_later_columns(data: pa.Table, schema: pa.Schema, table: str) -> pa.Table:
    """``data`` in the order of ``schema``, a column of :data:`LATER_COLUMNS` it lacks
    added as nulls (any other missing column fails the cast, as it should)."""
    missing = [f for f in schema if f.name not in data.column_names
               and (table, f.name) in LATER_COLUMNS]
    if not missing:
        return data
    for column in missing:
        data = data.append_column(column, pa.nulls(data.num_rows, column.type))
    return data.select([n for n in schema.names if n in data.column_names])
