"""Layered aggregates: the aggregate store (SQL or InfluxDB) behind one interface, and the
rollup jobs (daily, weekly, monthly) with their runs ledger."""

from vigil.rollup.activity import ACTIVITY_DETECTOR
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
from vigil.rollup.jobreport import JobReport
from vigil.rollup.jobs import backfill, run_rollup
from vigil.rollup.ledger import pending_periods
from vigil.rollup.periods import ROLLUP_JOBS
from vigil.rollup.sql_aggregates import SqlAggregateStore
from vigil.rollup.summaries import DailySummarizer, register_summarizer

__all__ = [
    "ACTIVITY_DETECTOR",
    "AGGREGATIONS",
    "LAYERS",
    "AggregateRecord",
    "AggregateStore",
    "AggregateStoreError",
    "DailySummarizer",
    "InfluxAggregateStore",
    "InfluxSettings",
    "JobReport",
    "NotNumericError",
    "ROLLUP_JOBS",
    "SqlAggregateStore",
    "WriteResult",
    "backfill",
    "open_aggregate_store",
    "parse_influx_url",
    "pending_periods",
    "register_summarizer",
    "run_rollup",
]
