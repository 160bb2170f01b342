"""What a mixin of the SQL stores may use: the transaction and the statement helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import pyarrow as pa


class SqlAccess(ABC):
    """The part of :class:`vigil.store.sqlstore.SqlStore` that table mixins build on."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Group writes into one commit (re-entrant)."""

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read over committed data."""

    @abstractmethod
    def _write(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a statement in the current transaction; its rows, if any."""

    @abstractmethod
    def _read_table(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """A read's result as an Arrow table."""

    def _newest_first(self, table: str, columns: tuple[str, ...], id_column: str,
                      filters: list[tuple[str, list[Any]]], limit: int,
                      before_id: int | None) -> list[tuple[Any, ...]]:
        """Rows of ``table`` matching every ``(condition with ? placeholders, values)``
        filter, newest id first, below ``before_id`` when given (the next page)."""
        if before_id is not None:
            filters = [*filters, (f"{id_column} < ?", [before_id])]
        where = " AND ".join(["TRUE", *(condition for condition, _ in filters)])
        params = [value for _, values in filters for value in values]
        return self._rows(f"SELECT {', '.join(columns)} FROM {table} WHERE {where} "
                          f"ORDER BY {id_column} DESC LIMIT ?", [*params, limit])

    def _count_by_status(self, table: str) -> dict[str, int]:
        """How many rows of ``table`` there are per status."""
        return {str(s): int(n) for s, n in
                self._rows(f"SELECT status, count(*) FROM {table} GROUP BY status")}
