"""Turn a finalised batch into CSV text for PostgreSQL's ``COPY``.

Arrow writes the CSV in C; the only columns it cannot write are lists (of labels), which
become PostgreSQL array literals (``{"a","b"}``) first.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

_CSV_OPTIONS = pcsv.WriteOptions(include_header=False, quoting_style="needed")


def array_literals(labels: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each list of strings as a PostgreSQL array literal with every element quoted."""
    chunks = []
    for chunk in labels.chunks:
        escaped = pc.replace_substring(chunk.values, "\\", "\\\\")
        escaped = pc.replace_substring(escaped, '"', '\\"')
        quoted = pc.binary_join_element_wise('"', escaped, '"', "")
        lists = pa.ListArray.from_arrays(chunk.offsets, quoted, mask=chunk.is_null())
        chunks.append(pc.binary_join_element_wise("{", pc.binary_join(lists, ","), "}", ""))
    return pa.chunked_array(chunks, type=pa.string())


def utc_literals(ts: pa.ChunkedArray) -> pa.ChunkedArray:
    """Zoned timestamps as UTC text with an explicit ``+00`` offset.

    Formatting the UTC value as a plain timestamp is many times faster in Arrow than
    formatting it with its zone; the offset keeps the text unambiguous to the server.
    """
    plain = pc.cast(ts.cast(pa.timestamp(ts.type.unit)), pa.string())
    return pc.binary_join_element_wise(plain, "+00", "")


def batch_csv(batch: pa.Table) -> bytes:
    """The batch as headerless CSV: NULL is an empty field, an empty string is ``""``,
    a list of strings an array literal, a zoned timestamp UTC text."""
    table = batch
    for position, column in enumerate(batch.schema):
        if pa.types.is_list(column.type):
            table = table.set_column(position, column.name,
                                     array_literals(batch.column(position)))
        elif pa.types.is_timestamp(column.type) and column.type.tz is not None:
            table = table.set_column(position, column.name,
                                     utc_literals(batch.column(position)))
    out = io.BytesIO()
    pcsv.write_csv(table, out, _CSV_OPTIONS)
    return out.getvalue()
