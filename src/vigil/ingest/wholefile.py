"""A simple CSV file read whole, for in-memory analytics: the ingest rules, fewer steps.

:func:`read_simple_csv` reads a CSV file in one multi-threaded Arrow pass and finalises all
of it in one DuckDB query, with the very coercion and validation rules of
:func:`vigil.ingest.files.ingest_file` (so the same rows are accepted, with the same
timestamps and ids, and the rejected ones are reported with their line numbers). It handles
*simple* files only — every record on one line, no blank or ragged lines, valid UTF-8 —
which it checks by counting newlines; for anything else it answers ``None`` and the caller
uses ``ingest_file``, whose block reader handles every case.

A caller may ask for some event columns only (in-memory analytics need seven). Every column
is still validated, but the query then does less: a text column that staging would return
unchanged (no cell to trim, lower-case or derive) is taken from the file as read, and a
column whose every cell is shown to pass its checks is handed to the query as a cheap
stand-in that passes them too. The accepted rows, their values and the report stay those of
``ingest_file`` (a property test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from vigil.duck import arrow
from vigil.ingest.coerce import coerce_sql
from vigil.ingest.columns import ColumnError, resolve_columns
from vigil.ingest.csvblocks import CsvFormatError, read_header
from vigil.ingest.files import FileOptions, detect_format
from vigil.ingest.finalise import finalise_sql
from vigil.ingest.outcome import Finalised
from vigil.ingest.quality import QualityReport
from vigil.model import MAX_ID_LENGTH
from vigil.store.base import EVENT_INPUT_SCHEMA

__all__ = ["read_simple_csv"]

_NEWLINE = 10
_COUNT_CHUNK = 64 * 1024 * 1024


def read_simple_csv(path: Path, options: FileOptions,
                    columns: Sequence[str] = tuple(EVENT_INPUT_SCHEMA.names)
                    ) -> tuple[pa.Table, QualityReport] | None:
    """The file's valid events (the ``columns`` of ``EVENT_INPUT_SCHEMA``, all by default;
    every column is validated either way) and its quality report, or ``None`` when the file
    is not a simple CSV file."""
    unknown = [name for name in columns if name not in EVENT_INPUT_SCHEMA.names]
    if unknown:
        raise ValueError(f"not event column(s): {', '.join(unknown)}")
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
    report = QualityReport(source=str(path), rows_read=raw.num_rows,
                           bytes_read=path.stat().st_size)
    report.null_counts.update({n: raw.column(n).null_count for n in names})
    query = finalise_sql(coerce_sql(fields, attribute_columns), options.timestamp_format,
                         options.timezone)
    given = _given_as_is(raw, fields, columns)
    computed = [name for name in columns if name not in given]
    result = _finalised(raw, _screened(raw, fields, computed, given),
                        f"SELECT {', '.join(['row_ref', 'ts_format', 'reason', *computed])}"
                        f" FROM ({query})", columns, given)
    del raw
    report.add_finalised(result)
    report.add_stored(result.events.num_rows, result.events.num_rows)
    return result.events, report


def _finalised(raw: pa.Table, shown: pa.Table, query: str, columns: Sequence[str],
               given: dict[str, str]) -> Finalised:
    """Run the finalising ``query`` over ``shown`` (``raw`` or its :func:`_screened` form) in
    a UTC session; split valid rows (their ``columns``) from rejected ones, as
    :func:`vigil.ingest.finalise.finalise` does. The ``given`` event columns are taken from
    the raw columns they name instead (the query would return them unchanged, see
    :func:`_given_as_is`)."""
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.register("raw", shown)
        checked = arrow(connection, query)
    finally:
        connection.close()
    if given:
        if not checked.column("row_ref").equals(raw.column("row_ref")):
            checked = checked.take(_file_order(checked.column("row_ref")))
        for name, raw_name in given.items():
            checked = checked.append_column(name, raw.column(raw_name))
    reason = checked.column("reason")
    rejected: list[tuple[int, str]] = []
    good = checked
    if reason.null_count < len(reason):
        bad = pc.is_valid(reason)
        found = checked.filter(bad).select(["row_ref", "reason"]).to_pydict()
        rejected = list(zip(found["row_ref"], found["reason"], strict=True))
        good = checked.filter(pc.invert(bad))
    schema = pa.schema([EVENT_INPUT_SCHEMA.field(name) for name in columns])
    span = pc.min_max(good.column("ts")).as_py() if good.num_rows else {"min": None,
                                                                          "max": None}
    return Finalised(events=good.select(list(columns)).cast(schema), rejected=rejected,
                     formats=_value_counts(checked.column("ts_format")),
                     per_source=_value_counts(good.column("source_id")),
                     first_ts=span["min"], last_ts=span["max"])


_SAFE_END = (0x21, 0x7E)  # printable ASCII but space: no trim() of any kind removes them
_AS_IS = ("event_id", "source_id", "event_type", "subject_id", "zone")


def _given_as_is(raw: pa.Table, fields: dict[str, str],
                 columns: Sequence[str]) -> dict[str, str]:
    """The event columns (of ``columns``) whose finalised values are the raw text itself,
    with the raw column each comes from.

    Staging trims each cell and turns an empty one into null (``event_type`` is also
    lower-cased, a missing ``event_id`` derived). A column where every cell starts and
    ends with printable ASCII other than a space (``event_type``: ASCII without capitals;
    ``event_id``: no cell missing) comes out unchanged, so it need not be computed."""
    given = {}
    for name in columns:
        column = fields.get(name)
        if name not in _AS_IS or column is None:
            continue
        values = raw.column(column)
        if name == "event_id" and values.null_count:
            continue
        if all(_plain_cells(chunk, lower=name == "event_type") for chunk in values.chunks):
            given[name] = column
    return given


_PASSING = {"confidence": r"^(0(\.[0-9]{1,9})?|1(\.0{1,9})?)$", "frame_id": r"^[0-9]{1,18}$"}
"""Cells of these shapes pass every check on their field (a number, in range)."""


def _screened(raw: pa.Table, fields: dict[str, str], computed: list[str],
              given: dict[str, str]) -> pa.Table:
    """``raw`` as the finalising query needs to see it when only ``computed`` is read from
    it: a column whose values are not read and whose every cell is shown here to pass the
    checks on its field is replaced by a cheap stand-in that passes them as well (nulls;
    for ``source_id`` and ``subject_id`` one short text where a value is present), so the
    query accepts and rejects exactly the same rows with less text to trim. Nothing is
    replaced while ``event_id`` is computed: a derived id hashes the whole content."""
    if "event_id" in computed:
        return raw
    stand_ins: dict[str, pa.Array | pa.ChunkedArray] = {}
    nulls = pa.nulls(raw.num_rows, pa.string())
    for name, pattern in _PASSING.items():
        if name in fields and name not in computed and _all_match(raw.column(fields[name]),
                                                                    pattern):
            stand_ins[fields[name]] = nulls
    if "model_id" in fields and "model_id" not in computed and _short(
            raw.column(fields["model_id"])):
        stand_ins[fields["model_id"]] = nulls
    for name, column in given.items():
        values = raw.column(column)
        if name == "zone" or (name == "event_id" and _short(values)):
            stand_ins[column] = nulls
        elif name == "subject_id" or (name == "source_id" and _short(values)):
            stand_ins[column] = pc.if_else(pc.is_valid(values), "s", None)
    for column, values in stand_ins.items():
        raw = raw.set_column(raw.column_names.index(column), column, values)
    return raw


def _all_match(values: pa.ChunkedArray, pattern: str) -> bool:
    """Whether every non-null cell matches ``pattern``."""
    present = values.drop_null()
    return len(present) == 0 or pc.all(pc.match_substring_regex(present, pattern)).as_py() is True


def _short(values: pa.ChunkedArray) -> bool:
    """Whether no cell is longer than an id may be (in bytes, so in characters too)."""
    longest = pc.max(pc.binary_length(values)).as_py()
    return longest is None or longest <= MAX_ID_LENGTH


def _plain_cells(chunk: pa.Array, lower: bool) -> bool:
    """Whether every non-null cell of a string array is non-empty and starts and ends with
    a byte of :data:`_SAFE_END` (with ``lower``: and holds only ASCII without A-Z)."""
    if not pa.types.is_string(chunk.type):
        return False
    if len(chunk) == 0:
        return True
    validity, offsets_buffer, data_buffer = chunk.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[chunk.offset:
                                                            chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None \
        else np.zeros(0, dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    present = _flags(pc.is_valid(chunk))
    starts, ends = starts[present], ends[present]
    if np.any(ends <= starts):
        return False
    low, high = _SAFE_END
    for edge in (data[starts], data[ends - 1]):
        if np.any((edge < low) | (edge > high)):
            return False
    if lower:
        used = data[int(offsets[0]):int(offsets[-1])]
        if np.any((used >= 0x80) | ((used >= 0x41) & (used <= 0x5A))):
            return False
    return True


def _flags(mask: pa.Array) -> npt.NDArray[np.bool_]:
    """A boolean array as numpy (no nulls)."""
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _file_order(row_refs: pa.ChunkedArray) -> pa.Array:
    """Positions that put rows numbered ``first, first + 1, …`` (in any order) in order."""
    rows = pc.subtract(row_refs, pc.min(row_refs)).to_numpy()
    order = np.empty(len(rows), dtype=np.int64)
    order[rows] = np.arange(len(rows), dtype=np.int64)
    return pa.array(order)


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    """How often each non-null value occurs."""
    present = column.drop_null()
    if len(present) == 0:
        return {}
    return {str(item["values"]): int(item["counts"])
            for item in pc.value_counts(present).to_pylist()}


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

