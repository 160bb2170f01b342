"""SQL of the stores, written to run on DuckDB and PostgreSQL alike.

Expressions that differ between engines belong in a :class:`Dialect`; everything else here
is plain SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.model import ALL_LABELS
from vigil.store.base import HOURLY_KEY


@dataclass(frozen=True)
class Dialect:
    """The few expressions that differ between engines."""

    name: str
    label_match: str  # predicate: events.labels contains the bound label
    append_all_label: str  # labels plus the all-labels marker
    text_array: str  # the type of a list of strings


DUCKDB = Dialect(
    name="duckdb",
    label_match="list_contains(labels, ?)",
    append_all_label=f"list_append(labels, '{ALL_LABELS}')",
    text_array="VARCHAR[]",
)

POSTGRES = Dialect(
    name="postgresql",
    label_match="? = ANY(labels)",
    append_all_label=f"array_append(labels, '{ALL_LABELS}')",
    text_array="TEXT[]",
)

EVENT_COLUMNS = (
    "event_id, source_id, event_type, ts, labels, confidence, model_id, frame_id, "
    "subject_id, zone, state, detections, attributes, local_date, local_hour, local_weekday, "
    "ingested_at"
)

_KEY = ", ".join(HOURLY_KEY)
# Confidence summed in integer millionths: exact, so sums do not depend on batching.
CONFIDENCE_MICROS = "CAST(floor(confidence * 1000000 + 0.5) AS BIGINT)"


LOCAL_TIME_COLUMNS = ("local_date", "local_hour", "local_weekday")


def local_time_exprs(ts: str, zone: str) -> tuple[str, str, str]:
    """Expressions for ``local_date, local_hour, local_weekday`` (0 = Monday) of ``ts``."""
    local = f"timezone({zone}, {ts})"
    return (
        f"CAST({local} AS DATE)",
        f"CAST(extract(hour FROM {local}) AS SMALLINT)",
        f"CAST(extract(isodow FROM {local}) - 1 AS SMALLINT)",
    )


def local_time_columns(ts: str, zone: str) -> str:
    """The local-time expressions as a select list."""
    return ", ".join(local_time_exprs(ts, zone))


def local_time_assignments(ts: str, zone: str) -> str:
    """``SET`` list re-deriving the local-time columns."""
    pairs = zip(LOCAL_TIME_COLUMNS, local_time_exprs(ts, zone), strict=True)
    return ", ".join(f"{column} = {expr}" for column, expr in pairs)


def hourly_rollup(dialect: Dialect, where: str, source: str = "events") -> str:
    """SELECT of hourly counts over the rows of ``source`` matching ``where``."""
    return f"""
        SELECT {_KEY}, count(*) AS event_count,
               CAST(coalesce(sum({CONFIDENCE_MICROS}), 0) AS BIGINT) AS confidence_micros,
               count(confidence) AS confidence_count
        FROM (SELECT source_id, event_type, local_date, local_hour, confidence,
                     unnest({dialect.append_all_label}) AS label
              FROM {source} WHERE {where}) AS exploded
        GROUP BY {_KEY}
        ORDER BY {_KEY}
    """


def add_hourly_counts(dialect: Dialect, where: str, source: str = "events") -> str:
    """Add the hourly counts of the rows of ``source`` matching ``where`` to the table.

    Rows are added in key order, so concurrent writers lock them in the same order.
    """
    return upsert_hourly_counts(hourly_rollup(dialect, where, source))


def upsert_hourly_counts(rows: str) -> str:
    """Add counted rows (a SELECT of the table's columns, unique per key) to the table."""
    return f"""
        INSERT INTO hourly_counts ({_KEY}, event_count, confidence_micros, confidence_count)
        {rows}
        ON CONFLICT ({_KEY}) DO UPDATE SET
            event_count = hourly_counts.event_count + excluded.event_count,
            confidence_micros = hourly_counts.confidence_micros + excluded.confidence_micros,
            confidence_count = hourly_counts.confidence_count + excluded.confidence_count
    """


SOURCE_SUMMARY = """
    SELECT s.source_id, s.timezone, coalesce(a.n, 0), a.first_seen, a.last_seen, s.area
    FROM sources s LEFT JOIN (
        SELECT source_id, count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
        FROM events GROUP BY source_id
    ) a USING (source_id)
"""

HOURLY_ORDER = _KEY
