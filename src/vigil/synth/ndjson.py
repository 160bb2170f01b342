"""NDJSON writing with Arrow compute: one object per row, null keys left out."""

from __future__ import annotations

import json
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BATCH_ROWS = 100_000
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'


def _json_strings(values: pa.Array) -> pa.Array:
    """Quoted, escaped JSON string literals (nulls stay null).

    Values that need escaping (rare) go through :func:`json.dumps`; the rest is just quoted.
    """
    special = pc.fill_null(pc.match_substring_regex(values, _NEEDS_ESCAPE), False)
    quoted = pc.binary_join_element_wise('"', values, '"', "")
    if not pc.any(special).as_py():
        return quoted
    dumped = [None if v is None else json.dumps(v) for v in values.filter(special).to_pylist()]
    return pc.replace_with_mask(quoted, special, pa.array(dumped, pa.string()))


def _json_values(values: pa.Array) -> pa.Array:
    """JSON literals of a column: numbers and booleans bare, everything else a string."""
    kind = values.type
    if pa.types.is_floating(kind):
        finite = pc.is_finite(values)
        return pc.if_else(finite, values.cast(pa.string()), pa.scalar(None, pa.string()))
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return values.cast(pa.string())
    return _json_strings(values.cast(pa.string()))


def ndjson_lines(batch: pa.RecordBatch) -> pa.Array:
    """``{...}\\n`` per row; keys in column order."""
    parts = []
    for index, (name, column) in enumerate(zip(batch.schema.names, batch.columns, strict=True)):
        comma = "," if index else ""
        key = comma + json.dumps(name) + ":"
        parts.append(pc.fill_null(pc.binary_join_element_wise(key, _json_values(column), ""), ""))
    if not parts:
        return pa.array(["{}\n"] * batch.num_rows, pa.string())
    body = pc.binary_join_element_wise(*parts, "")
    if batch.column(0).null_count:  # a row may start with a comma: drop it
        body = pc.replace_substring_regex(body, "^,", "")
    return pc.binary_join_element_wise("{", body, "}\n", "")


def _raw_bytes(lines: pa.Array) -> memoryview:
    """The concatenated text of a string array, without copying."""
    _, offsets_buf, data = lines.buffers()
    offsets = np.frombuffer(
        offsets_buf, dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4
    )
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]


def write_ndjson(table: pa.Table, out: BinaryIO) -> None:
    """Write ``table`` as NDJSON to a binary stream, batch by batch."""
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        if batch.num_rows:
            out.write(_raw_bytes(ndjson_lines(batch)))
