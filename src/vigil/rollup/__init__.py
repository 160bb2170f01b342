"""Layered aggregates: the aggregate store (SQL or InfluxDB) behind one interface."""

from vigil.rollup.aggregates import (
    AGGREGATIONS,
    LAYERS,
    AggregateRecord,
    AggregateStore,
    AggregateStoreError,
    NotNumericError,
    WriteResult,
    open_aggregate_store,
)
from vigil.rollup.influx_aggregates import InfluxAggregateStore
from vigil.rollup.influx_url import InfluxSettings, parse_influx_url
from vigil.rollup.sql_aggregates import SqlAggregateStore

__all__ = [
    "AGGREGATIONS",
    "LAYERS",
    "AggregateRecord",
    "AggregateStore",
    "AggregateStoreError",
    "InfluxAggregateStore",
    "InfluxSettings",
    "NotNumericError",
    "SqlAggregateStore",
    "WriteResult",
    "open_aggregate_store",
    "parse_influx_url",
]
