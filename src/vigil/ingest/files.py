"""Ingest a file (CSV, NDJSON or Parquet) block by block, with a quality report.

Home Assistant files have formats of their own: ``ha-events`` (NDJSON of ``state_changed``
events, see :mod:`vigil.ingest.ha_staging`) and ``ha-history`` (the History panel's CSV
export, see :mod:`vigil.ingest.ha_history`).

Each block is parsed, validated and finalised with set operations (in a background thread,
one block ahead), then stored in one transaction through the ``insert`` callable, so a crash
loses at most the block in flight and a re-run adds only what is missing (event ids make it
idempotent).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from vigil.ingest.coerce import coerce_sql
from vigil.ingest.columns import ColumnError, resolve_columns
from vigil.ingest.csvblocks import CsvBlock, CsvFormatError, iter_blocks, read_header
from vigil.ingest.finalise import STAGED_QUERY, finalise
from vigil.ingest.ha_history import finalise_history, history_attribute_columns
from vigil.ingest.ha_staging import finalise_state_changes, stage_state_changes
from vigil.ingest.jsonitems import PayloadError, parse_json_line, validate_items
from vigil.ingest.outcome import Finalised
from vigil.ingest.prefetch import prefetch
from vigil.ingest.quality import QualityReport

Insert = Callable[[pa.Table], int]
Progress = Callable[[int, int], None]  # bytes consumed, rows read
FORMATS = ("csv", "ndjson", "parquet", "ha-events", "ha-history")
_SUFFIX_FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson",
                   ".parquet": "parquet", ".pq": "parquet"}
NDJSON_LINES_PER_BATCH = 20_000
PARQUET_ROWS_PER_BATCH = 200_000


class IngestFileError(RuntimeError):
    """The file cannot be ingested at all; nothing of it was stored."""


@dataclass(frozen=True)
class FileOptions:
    """How to read a file."""

    format: str | None = None
    column_map: dict[str, str] = field(default_factory=dict)
    timestamp_format: str | None = None
    timezone: str | None = None
    block_bytes: int = 8 * 1024 * 1024
    group_rows: int = 200_000  # rows stored per transaction (at least; one block at most)
    overlap_inserts: bool = False  # store a group while the next is parsed (a server store)
    areas: dict[str, str | None] = field(default_factory=dict)  # Home Assistant entity areas


@dataclass
class Prepared:
    """One block, parsed and finalised, with what the report needs to know of it."""

    result: Finalised | None
    rows_read: int
    bytes_done: int
    rejected: list[tuple[int, str]] = field(default_factory=list)
    blank_lines: int = 0
    padded_rows: int = 0
    null_counts: dict[str, int] = field(default_factory=dict)


def detect_format(path: Path, declared: str | None) -> str:
    """The declared format, or the one the file name suggests."""
    if declared:
        if declared not in FORMATS:
            raise IngestFileError(f"unknown format {declared!r}; use one of {', '.join(FORMATS)}")
        return declared
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise IngestFileError(f"cannot tell the format of {path.name} from its name; state it "
                              f"(one of {', '.join(FORMATS)})")
    return fmt


def ingest_file(path: Path, insert: Insert, options: FileOptions,
                progress: Progress | None = None) -> QualityReport:
    """Ingest ``path``; raises :class:`IngestFileError` when it cannot be read at all."""
    if not path.is_file():
        raise IngestFileError("no such file")
    fmt = detect_format(path, options.format)
    report = QualityReport(source=str(path))
    readers = {"csv": _csv_blocks, "ndjson": _ndjson_blocks, "parquet": _parquet_blocks,
               "ha-events": _ha_event_blocks, "ha-history": _ha_history_blocks}
    grouped = _GroupedInsert(insert, report, options.group_rows, options.overlap_inserts)
    try:
        try:
            for prepared in prefetch(readers[fmt](path, options)):
                _fold(report, prepared)
                if prepared.result is not None:
                    grouped.add(prepared.result)
                if progress:
                    progress(report.bytes_read, report.rows_read)
            grouped.flush()
        finally:
            grouped.close()
    except (ColumnError, CsvFormatError, PayloadError) as exc:
        raise IngestFileError(str(exc)) from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestFileError(f"cannot read {path.name} as {fmt}: {exc}") from exc
    return report


def _fold(report: QualityReport, prepared: Prepared) -> None:
    report.rows_read += prepared.rows_read
    report.bytes_read = prepared.bytes_done
    report.blank_lines += prepared.blank_lines
    report.padded_rows += prepared.padded_rows
    report.null_counts.update(prepared.null_counts)
    report.reject(prepared.rejected)
    if prepared.result is not None:
        report.add_finalised(prepared.result)


class _GroupedInsert:
    """Stores finalised blocks in groups of at least ``group_rows`` rows.

    A DuckDB transaction that appends a whole row group (122,880 rows) or more is written
    straight to the database file instead of the write-ahead log, which makes bulk commits
    much cheaper; hence the default of 200,000.
    """

    def __init__(self, insert: Insert, report: QualityReport, group_rows: int,
                 overlap: bool = False) -> None:
        self.insert = insert
        self.report = report
        self.group_rows = group_rows
        self.pending: list[pa.Table] = []
        # With ``overlap`` one group is stored on a thread while the next is parsed: a
        # database server works on its own cores meanwhile. Never more than one in flight.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vigil-store") if overlap else None
        self._in_flight: Future[int] | None = None
        self._in_flight_rows = 0

    def add(self, result: Finalised) -> None:
        self.pending.append(result.events)
        if sum(t.num_rows for t in self.pending) >= self.group_rows:
            self.flush(wait=False)

    def flush(self, wait: bool = True) -> None:
        events = pa.concat_tables(self.pending) if self.pending else None
        self.pending = []
        if events is not None and events.num_rows:
            self._store(events)
        if wait:
            self._settle()

    def _store(self, events: pa.Table) -> None:
        if self._pool is None:
            self.report.add_stored(events.num_rows, self.insert(events))
            return
        self._settle()
        self._in_flight = self._pool.submit(self.insert, events)
        self._in_flight_rows = events.num_rows

    def _settle(self) -> None:
        """Wait for the group in flight; its error, if any, is raised here."""
        if self._in_flight is not None:
            future, self._in_flight = self._in_flight, None
            self.report.add_stored(self._in_flight_rows, future.result())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _finalise(tables: dict[str, pa.Table], query: str, options: FileOptions) -> Finalised:
    return finalise(tables, query, options.timestamp_format, options.timezone)


def _null_counts(table: pa.Table, names: list[str]) -> dict[str, int]:
    return {name: table.column(name).null_count for name in names}


# -- CSV ---------------------------------------------------------------------------------------
def _csv_blocks(path: Path, options: FileOptions) -> Iterator[Prepared]:
    header, header_line, offset = read_header(path)
    fields, attribute_columns = resolve_columns(header, options.column_map)
    names = [h.strip().lower() for h in header]
    query = coerce_sql(fields, attribute_columns)
    for block in iter_blocks(path, len(names), offset, header_line, options.block_bytes):
        prepared = Prepared(None, len(block.lines) + len(block.rejected), block.end_offset,
                            block.rejected, block.blank_lines, block.padded_rows)
        if len(block.lines):
            raw = _parse_block(block, names)
            prepared.null_counts = _null_counts(raw, names)
            prepared.result = _finalise({"raw": raw}, query, options)
        yield prepared


def _parse_block(block: CsvBlock, names: list[str]) -> pa.Table:
    read = pacsv.ReadOptions(column_names=names, block_size=4 * 1024 * 1024)
    parse = pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True)
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                   null_values=[""], strings_can_be_null=True)
    data = block.data
    try:
        table = pacsv.read_csv(io.BytesIO(data), read, parse, convert)
    except pa.ArrowInvalid as exc:
        if "UTF8" not in str(exc).upper():
            raise
        data = data.decode("utf-8", errors="replace").encode("utf-8")
        table = pacsv.read_csv(io.BytesIO(data), read, parse, convert)
    if table.num_rows != len(block.lines):
        raise CsvFormatError(
            f"could not split the records before line {int(block.lines[-1]) + 1}: "
            f"{table.num_rows} parsed, {len(block.lines)} expected"
        )
    return table.append_column("row_ref", pa.array(block.lines, pa.int64()))


# -- NDJSON ------------------------------------------------------------------------------------
def _ndjson_blocks(path: Path, options: FileOptions) -> Iterator[Prepared]:
    for items, done in _ndjson_items(path):
        staged, rejected = validate_items(items)
        yield Prepared(
            _finalise({"staged": staged}, STAGED_QUERY, options),
            rows_read=len(items),
            bytes_done=done,
            rejected=[(item.index, item.reason) for item in rejected],
        )


def _ndjson_items(path: Path) -> Iterator[tuple[list[tuple[int, Any]], int]]:
    batch: list[tuple[int, Any]] = []
    done = 0
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            done += len(raw)
            text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8", errors="replace")
            if not text.strip():
                continue
            batch.append((line_no, parse_json_line(text)))
            if len(batch) >= NDJSON_LINES_PER_BATCH:
                yield batch, done
                batch = []
    if batch:
        yield batch, done


# -- Home Assistant ----------------------------------------------------------------------------
def _ha_event_blocks(path: Path, options: FileOptions) -> Iterator[Prepared]:
    """NDJSON of ``state_changed`` events (or their ``data`` objects), one per line."""
    for items, done in _ndjson_items(path):
        staged = stage_state_changes(items, options.areas)
        yield Prepared(
            finalise_state_changes(staged.staged, options.timestamp_format, options.timezone),
            rows_read=len(items),
            bytes_done=done,
            rejected=[(item.index, item.reason) for item in staged.rejected],
        )


def _ha_history_blocks(path: Path, options: FileOptions) -> Iterator[Prepared]:
    """The History CSV export: read block by block, then staged and finalised whole (the
    previous state of an entity may be anywhere in the file)."""
    header, header_line, offset = read_header(path)
    extra = history_attribute_columns(header)
    names = [h.strip().lower() for h in header]
    tables: list[pa.Table] = []
    done = offset
    for block in iter_blocks(path, len(names), offset, header_line, options.block_bytes):
        prepared = Prepared(None, len(block.lines) + len(block.rejected), block.end_offset,
                            block.rejected, block.blank_lines, block.padded_rows)
        if len(block.lines):
            tables.append(_parse_block(block, names))
            prepared.null_counts = _null_counts(tables[-1], names)
        done = block.end_offset
        yield prepared
    schema = pa.schema([(n, pa.string()) for n in names] + [("row_ref", pa.int64())])
    raw = pa.concat_tables(tables) if tables else schema.empty_table()
    result = finalise_history(raw, extra, options.areas, options.timestamp_format,
                              options.timezone)
    yield Prepared(result, rows_read=0, bytes_done=done)


# -- Parquet -----------------------------------------------------------------------------------
def _parquet_blocks(path: Path, options: FileOptions) -> Iterator[Prepared]:
    parquet = pq.ParquetFile(path)
    header = parquet.schema_arrow.names
    names = [n.strip().lower() for n in header]
    fields, attribute_columns = resolve_columns(header, options.column_map)
    query = coerce_sql(fields, attribute_columns)
    total_bytes, total_rows = path.stat().st_size, max(parquet.metadata.num_rows, 1)
    rows_done = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_ROWS_PER_BATCH):
        raw = pa.table([_as_text(c) for c in batch.columns], names=names)
        refs = pa.array(range(rows_done + 1, rows_done + 1 + raw.num_rows), pa.int64())
        raw = raw.append_column("row_ref", refs)
        rows_done += raw.num_rows
        yield Prepared(
            _finalise({"raw": raw}, query, options),
            rows_read=raw.num_rows,
            bytes_done=total_bytes * rows_done // total_rows,
            null_counts=_null_counts(raw, names),
        )


def _as_text(column: pa.Array) -> pa.Array:
    """A Parquet column as text: timestamps in ISO 8601, lists joined with ``|``."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        pattern = "%Y-%m-%dT%H:%M:%S" + ("%z" if kind.tz else "")
        return pc.strftime(column, format=pattern)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return pc.binary_join(column.cast(pa.list_(pa.string())), "|")
    if pa.types.is_struct(kind) or pa.types.is_map(kind):
        raise ColumnError(f"nested column of type {kind} is not supported; flatten it first")
    return column.cast(pa.string())
