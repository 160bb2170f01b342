"""Small helpers over the DuckDB Python API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa


def arrow(con: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] = ()) -> pa.Table:
    """Run ``query`` and return its result as an Arrow table (no DB-API copy)."""
    return con.sql(query, params=list(params) if params else None).to_arrow_table()


def scalar(con: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row of ``query`` (``None`` when there is no row)."""
    row = first_row(con, query, params)
    return row[0] if row else None


def first_row(con: duckdb.DuckDBPyConnection, query: str,
              params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    """The first row of ``query``; the result is read to the end so the connection is free."""
    rows = con.execute(query, list(params)).fetchall()
    return tuple(rows[0]) if rows else None
