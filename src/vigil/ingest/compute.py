"""In-memory DuckDB connections used as a vectorised compute engine (one per thread)."""

from __future__ import annotations

import threading

import duckdb

_local = threading.local()


def compute_connection() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection, in UTC."""
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:", config={"threads": 2, "memory_limit": "256MB"})
        con.execute("SET TimeZone = 'UTC'")
        _local.con = con
    return con
