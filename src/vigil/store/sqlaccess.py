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
