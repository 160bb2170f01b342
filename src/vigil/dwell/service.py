"""Analytics over a store: the store runs the portable queries on its own engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from vigil.dwell.analytics import DwellAnalytics
from vigil.store.base import Store

__all__ = ["StoreReader", "store_analytics"]


class StoreReader:
    """A :class:`~vigil.dwell.reader.SqlReader` over a store's committed data."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def read_table(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """The query's result, run by the store."""
        return self.store.read_analytics(sql, params)


def store_analytics(store: Store, default_timezone: str = "UTC") -> DwellAnalytics:
    """Analytics of everything stored; cameras' zones come from the store."""
    return DwellAnalytics(StoreReader(store), store.source_timezones(), default_timezone)
