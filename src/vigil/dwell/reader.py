"""Where analytic SQL runs: a store, or an in-memory DuckDB over Arrow tables.

The analytic queries need two relations, ``sessions`` (the stored sessions' columns) and
``events`` (the event log's columns). They group and count persons by ``person_key`` (an
integer in a store); over tables in memory the subject id itself serves as the key.
:class:`SqlReader` is all they ask of an engine; :class:`ArrowReader` provides it over
tables held in memory, e.g. a CSV file read for a one-off report, so the same SQL serves
stored and unstored data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from vigil.duck import arrow

__all__ = ["ArrowReader", "SESSIONS_VIEW", "SqlReader"]

SESSIONS_VIEW = ("CREATE OR REPLACE VIEW sessions AS "
                 "SELECT *, subject_id AS person_key FROM session_rows")
"""``sessions`` over the in-memory rows ``session_rows``, keyed by the subject id."""


class SqlReader(Protocol):
    """Runs a read-only query with ``?`` placeholders and returns its rows as Arrow."""

    def read_table(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """The query's result."""
        ...


class ArrowReader:
    """An in-memory DuckDB with ``events`` and ``sessions`` registered from Arrow tables."""

    def __init__(self, events: pa.Table, sessions: pa.Table, threads: int | None = None) -> None:
        self._con = duckdb.connect(":memory:")
        if threads is not None:
            self._con.execute(f"SET threads = {int(threads)}")
        self._con.register("events", events)
        self._con.register("session_rows", sessions)
        self._con.execute(SESSIONS_VIEW)

    def read_table(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """The query's result as an Arrow table."""
        return arrow(self._con, sql, params)

    def close(self) -> None:
        """Release the connection."""
        self._con.close()
