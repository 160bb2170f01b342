"""Storage backends behind one interface; :func:`open_store` picks one from a URL."""

from __future__ import annotations

import datetime as dt

from vigil.store.base import (
    DeadLetter,
    EventFilter,
    EventPage,
    SourceInfo,
    Store,
    StoreUnavailableError,
    UploadState,
)
from vigil.store.duckdb import DEFAULT_MEMORY_LIMIT, DuckDBStore, StoreBusyError

__all__ = [
    "DeadLetter",
    "DuckDBStore",
    "EventFilter",
    "EventPage",
    "SourceInfo",
    "Store",
    "StoreBusyError",
    "StoreUnavailableError",
    "is_postgres_url",
    "UploadState",
    "open_store",
]


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database rather than a DuckDB file."""
    return url.startswith(POSTGRES_SCHEMES)


def open_store(url: str, default_timezone: str = "UTC",
               memory_limit: str = DEFAULT_MEMORY_LIMIT,
               max_session: dt.timedelta | None = None) -> Store:
    """Open the store named by ``url``: ``postgresql://…``, or a DuckDB file path
    (or ``duckdb:///path``). The schema is migrated to the newest revision first.

    ``max_session`` is the longest visit: an entry with no exit that long after it is
    closed as ``timed_out`` (default :data:`vigil.dwell.DEFAULT_MAX_SESSION`)."""
    sessions = {} if max_session is None else {"max_session": max_session}
    if is_postgres_url(url):
        from vigil.store.postgres import PostgresStore  # psycopg loads only when needed

        return PostgresStore(url, default_timezone=default_timezone, **sessions)
    path = url.removeprefix("duckdb:///").removeprefix("duckdb://")
    return DuckDBStore(path, default_timezone=default_timezone, memory_limit=memory_limit,
                       **sessions)
