"""In-memory DuckDB connections used as a vectorised compute engine.

Connections are pooled and lent for one piece of work at a time, so no thread holds one
beyond its use (threads of web servers come and go).
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

_pool: list[duckdb.DuckDBPyConnection] = []
_lock = threading.Lock()


def _new_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config={"threads": 2, "memory_limit": "128MB"})
    con.execute("SET TimeZone = 'UTC'")
    return con


@contextmanager
def compute_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """Borrow an in-memory DuckDB connection (UTC session) for the enclosed work."""
    with _lock:
        con = _pool.pop() if _pool else None
    if con is None:
        con = _new_connection()
    try:
        yield con
    finally:
        with _lock:
            _pool.append(con)


@atexit.register
def _close_pool() -> None:
    with _lock:
        while _pool:
            _pool.pop().close()
