"""A simple CSV file read whole, for in-memory analytics: the ingest rules, fewer steps.

:func:`read_simple_csv` reads a CSV file in one multi-threaded Arrow pass and finalises all
of it in one DuckDB query, with the very coercion and validation rules of
:func:`vigil.ingest.files.ingest_file` (so the same rows are accepted, with the same
timestamps and ids, and the rejected ones are reported with their line numbers). It handles
*simple* files only — every record on one line, no blank or ragged lines, valid UTF-8 —
which it checks by counting newlines; for anything else it answers ``None`` and the caller
uses ``ingest_file``, whose block reader handles every case.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from vigil.ingest.coerce import coerce_sql
from vigil.ingest.columns import ColumnError, resolve_columns
from vigil.ingest.csvblocks import CsvFormatError, read_header
from vigil.ingest.files import FileOptions, detect_format
from vigil.ingest.finalise import finalise
from vigil.ingest.quality import QualityReport

__all__ = ["read_simple_csv"]

_NEWLINE = 10
_COUNT_CHUNK = 64 * 1024 * 1024


def read_simple_csv(path: Path, options: FileOptions) -> tuple[pa.Table, QualityReport] | None:
    """The file's valid events (``EVENT_INPUT_SCHEMA``) and its quality report, or ``None``
    when the file is not a simple CSV file."""
    if not path.is_file() or detect_format(path, options.format) != "csv":
        return None
    try:
        header, header_line, offset = read_header(path)
        fields, attribute_columns = resolve_columns(header, options.column_map)
    except (CsvFormatError, ColumnError):
        return None  # ingest_file reports these
    names = [h.strip().lower() for h in header]
    records = _line_count(path, offset)
    try:
        raw = pacsv.read_csv(
            path,
            pacsv.ReadOptions(column_names=names, skip_rows=header_line,
                              block_size=16 * 1024 * 1024),
            pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                 null_values=[""], strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, OSError):
        return None
    if raw.num_rows != records or _has_empty_row(raw):
        return None  # a record over several lines, or a blank line (ingest_file skips those)
    first_line = header_line + 1
    raw = raw.append_column("row_ref", pa.array(
        np.arange(first_line, first_line + raw.num_rows, dtype=np.int64)))
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("SET TimeZone = 'UTC'")
        result = finalise({"raw": raw}, coerce_sql(fields, attribute_columns),
                          options.timestamp_format, options.timezone, allow_quick=False,
                          connection=connection)
    finally:
        connection.close()
    report = QualityReport(source=str(path), rows_read=raw.num_rows,
                           bytes_read=path.stat().st_size)
    report.null_counts.update({n: raw.column(n).null_count for n in names})
    report.add_finalised(result)
    report.add_stored(result.events.num_rows, result.events.num_rows)
    return result.events, report


def _has_empty_row(raw: pa.Table) -> bool:
    """Whether some row has no value at all (what Arrow makes of a blank line)."""
    empty = pc.is_null(raw.column(0))
    for column in raw.columns[1:]:
        empty = pc.and_(empty, pc.is_null(column))
    return bool(pc.any(empty).as_py())


def _line_count(path: Path, offset: int) -> int:
    """Lines after ``offset`` (a last line without a newline counts)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    count = 0
    for start in range(offset, len(data), _COUNT_CHUNK):
        count += int(np.count_nonzero(data[start:start + _COUNT_CHUNK] == _NEWLINE))
    if len(data) > offset and data[-1] != _NEWLINE:
        count += 1
    del data
    return count

