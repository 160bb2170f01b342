"""Ingest a file (CSV, NDJSON or Parquet) block by block, with a quality report.

Each block is parsed, validated and finalised with set operations, then stored in one
transaction through the ``insert`` callable, so a crash loses at most the block in flight
and a re-run adds only what is missing (event ids make it idempotent).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from vigil.ingest.coerce import coerce
from vigil.ingest.columns import ColumnError, resolve_columns
from vigil.ingest.csvblocks import CsvBlock, CsvFormatError, iter_blocks, read_header
from vigil.ingest.finalise import finalise
from vigil.ingest.jsonitems import PayloadError, validate_items
from vigil.ingest.quality import QualityReport

Insert = Callable[[pa.Table], int]
Progress = Callable[[int, int], None]  # bytes consumed, rows read
FORMATS = ("csv", "ndjson", "parquet")
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


def detect_format(path: Path, declared: str | None) -> str:
    """The declared format, or the one the file name suggests."""
    if declared:
        if declared not in FORMATS:
            raise IngestFileError(f"unknown format {declared!r}; use one of {', '.join(FORMATS)}")
        return declared
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise IngestFileError(f"cannot tell the format of {path.name}; pass --format")
    return fmt


def ingest_file(path: Path, insert: Insert, options: FileOptions,
                progress: Progress | None = None) -> QualityReport:
    """Ingest ``path``; raises :class:`IngestFileError` when it cannot be read at all."""
    if not path.is_file():
        raise IngestFileError(f"no such file: {path}")
    fmt = detect_format(path, options.format)
    report = QualityReport(source=str(path))
    readers = {"csv": _ingest_csv, "ndjson": _ingest_ndjson, "parquet": _ingest_parquet}
    try:
        readers[fmt](path, insert, options, report, progress or _no_progress)
    except (ColumnError, CsvFormatError, PayloadError) as exc:
        raise IngestFileError(str(exc)) from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestFileError(f"cannot read {path.name} as {fmt}: {exc}") from exc
    return report


def _no_progress(done: int, rows: int) -> None:
    """Progress sink that ignores updates."""


def _store(staged: pa.Table, insert: Insert, options: FileOptions,
           report: QualityReport) -> None:
    result = finalise(staged, options.timestamp_format, options.timezone)
    report.add_batch(result, insert(result.events))


# -- CSV ---------------------------------------------------------------------------------------
def _ingest_csv(path: Path, insert: Insert, options: FileOptions, report: QualityReport,
                progress: Progress) -> None:
    header, header_line, offset = read_header(path)
    fields, attribute_columns = resolve_columns(header, options.column_map)
    names = [h.strip().lower() for h in header]
    for block in iter_blocks(path, len(names), offset, header_line, options.block_bytes):
        report.rows_read += len(block.lines) + len(block.rejected)
        report.blank_lines += block.blank_lines
        report.padded_rows += block.padded_rows
        report.reject(block.rejected)
        if len(block.lines):
            raw = _parse_block(block, names)
            for name in names:
                report.null_counts[name] += raw.column(name).null_count
            _store(coerce(raw, fields, attribute_columns), insert, options, report)
        report.bytes_read = block.end_offset
        progress(block.end_offset, report.rows_read)


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
def _ingest_ndjson(path: Path, insert: Insert, options: FileOptions, report: QualityReport,
                   progress: Progress) -> None:
    for batch, done in _ndjson_batches(path):
        report.rows_read += len(batch)
        staged, rejected = validate_items(batch)
        report.reject([(item.index, item.reason) for item in rejected])
        _store(staged, insert, options, report)
        report.bytes_read = done
        progress(done, report.rows_read)


def _ndjson_batches(path: Path) -> Iterator[tuple[list[tuple[int, object]], int]]:
    import json

    batch: list[tuple[int, object]] = []
    done = 0
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            done += len(raw)
            text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8", errors="replace")
            if not text.strip():
                continue
            try:
                batch.append((line_no, json.loads(text)))
            except json.JSONDecodeError as exc:
                batch.append((line_no, PayloadError(f"not JSON: {exc.msg}")))
            if len(batch) >= NDJSON_LINES_PER_BATCH:
                yield batch, done
                batch = []
    if batch:
        yield batch, done


# -- Parquet -----------------------------------------------------------------------------------
def _ingest_parquet(path: Path, insert: Insert, options: FileOptions, report: QualityReport,
                    progress: Progress) -> None:
    parquet = pq.ParquetFile(path)
    names = [n.strip().lower() for n in parquet.schema_arrow.names]
    fields, attribute_columns = resolve_columns(parquet.schema_arrow.names, options.column_map)
    total_bytes = path.stat().st_size
    total_rows = max(parquet.metadata.num_rows, 1)
    for batch in parquet.iter_batches(batch_size=PARQUET_ROWS_PER_BATCH):
        first = report.rows_read + 1
        raw = pa.table([_as_text(c) for c in batch.columns], names=names)
        raw = raw.append_column("row_ref", pa.array(range(first, first + raw.num_rows),
                                                     pa.int64()))
        report.rows_read += raw.num_rows
        for name in names:
            report.null_counts[name] += raw.column(name).null_count
        _store(coerce(raw, fields, attribute_columns), insert, options, report)
        report.bytes_read = total_bytes * report.rows_read // total_rows
        progress(report.bytes_read, report.rows_read)


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
