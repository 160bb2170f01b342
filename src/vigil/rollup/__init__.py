"""Layered aggregates: the aggregate store (SQL or InfluxDB) behind one interface, and the
rollup jobs (daily, weekly, monthly) with their runs ledger.

:class:`InfluxAggregateStore` is imported on first use, so that a process using only the SQL
aggregate store does not load the HTTP client.
"""

from typing import TYPE_CHECKING, Any

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
from vigil.rollup.influx_url import InfluxSettings, parse_influx_url
from vigil.rollup.jobreport import JobReport
from vigil.rollup.jobs import backfill, run_rollup
from vigil.rollup.ledger import pending_periods
from vigil.rollup.periods import ROLLUP_JOBS
from vigil.rollup.sql_aggregates import SqlAggregateStore
from vigil.rollup.summaries import DailySummarizer, register_summarizer

if TYPE_CHECKING:
    from vigil.rollup.influx_aggregates import InfluxAggregateStore

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


def __getattr__(name: str) -> Any:
    """The public names imported on first use."""
    if name == "InfluxAggregateStore":
        from vigil.rollup.influx_aggregates import InfluxAggregateStore

        return InfluxAggregateStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
