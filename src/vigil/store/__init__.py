"""Storage backends behind one interface; :func:`open_store` picks one from a URL."""

from __future__ import annotations

from vigil.store.base import EventFilter, EventPage, SourceInfo, Store, UploadState
from vigil.store.duckdb import DuckDBStore, StoreBusyError

__all__ = [
    "DuckDBStore",
    "EventFilter",
    "EventPage",
    "SourceInfo",
    "Store",
    "StoreBusyError",
    "UploadState",
    "open_store",
]


def open_store(url: str, default_timezone: str = "UTC", memory_limit: str = "256MB") -> Store:
    """Open the store named by ``url``: a DuckDB file path (or ``duckdb:///path``)."""
    if url.startswith(("postgresql://", "postgres://")):
        raise ValueError("the PostgreSQL store is not available in this version")
    path = url.removeprefix("duckdb:///").removeprefix("duckdb://")
    return DuckDBStore(path, default_timezone=default_timezone, memory_limit=memory_limit)
