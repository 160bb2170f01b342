"""The step every input path shares: parse timestamps, derive ids, reject what is invalid.

Staging rows (:mod:`vigil.ingest.staging`) come in as a SQL query over a registered Arrow
table; :func:`finalise` returns the rows ready for
:meth:`vigil.store.Store.insert_events`, the rejected row references with reasons, and the
statistics the quality report needs. Event ids absent from the input are an MD5 of the
event's content, so re-sending a row is recognised as a duplicate (by the store, which also
drops repeats within a batch).
"""

from __future__ import annotations

from contextlib import nullcontext

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from vigil.duck import arrow
from vigil.ingest.compute import compute_connection
from vigil.ingest.finalise_quick import finalise_quick
from vigil.ingest.outcome import Finalised
from vigil.store.base import EVENT_INPUT_SCHEMA
from vigil.store.sql import CONFIDENCE_MICROS
from vigil.timeparse import format_sql, parse_sql, reason_sql

# The content an id is derived from; ``content_id`` in finalise_quick.py mirrors it exactly.
_CONTENT = (
    "source_id, event_type, CAST(epoch_us(ts) AS VARCHAR), array_to_string(labels, '|'), "
    f"coalesce(CAST({CONFIDENCE_MICROS} AS VARCHAR), ''), "
    "coalesce(model_id, ''), coalesce(CAST(frame_id AS VARCHAR), ''), "
    "coalesce(subject_id, ''), coalesce(zone, ''), coalesce(state, ''), "
    "coalesce(detections, ''), coalesce(attributes, '')"
)
QUICK_MAX_ROWS = 64
STAGED_QUERY = "SELECT * FROM staged"


def finalise_sql(staged_query: str, custom_format: str | None, timezone: str | None) -> str:
    """The query resolving timestamps, reasons and ids over ``staged_query``."""
    return f"""
        WITH f AS (SELECT *, {format_sql('"timestamp"', custom_format)} AS ts_format
                   FROM ({staged_query})),
             p AS (SELECT *, {parse_sql('"timestamp"', 'ts_format', custom_format, timezone)}
                   AS ts FROM f)
        SELECT row_ref, ts_format,
               coalesce(pre_reason, {reason_sql('ts', 'ts_format', custom_format, timezone)})
                   AS reason,
               CASE WHEN event_id IS NULL THEN md5(concat_ws(chr(31), {_CONTENT}))
                    ELSE event_id END AS event_id,
               source_id, event_type, ts, labels, confidence, model_id, frame_id,
               subject_id, zone, state, detections, attributes
        FROM p"""


def finalise(tables: dict[str, pa.Table], staged_query: str = STAGED_QUERY,
             custom_format: str | None = None, timezone: str | None = None,
             allow_quick: bool = True,
             connection: duckdb.DuckDBPyConnection | None = None) -> Finalised:
    """Run ``staged_query`` over the registered ``tables`` and finalise its rows.

    Small batches of staging rows in everyday timestamp shapes take an equivalent
    pure-Python path (:mod:`vigil.ingest.finalise_quick`), which saves compiling the SQL.
    ``connection`` (a UTC session) replaces the pooled small compute connection, e.g. for
    a whole file at once.
    """
    staged = tables.get("staged")
    if (allow_quick and staged is not None and staged_query == STAGED_QUERY
            and custom_format is None and staged.num_rows <= QUICK_MAX_ROWS):
        quick = finalise_quick(staged, timezone)
        if quick is not None:
            return quick
    with (nullcontext(connection) if connection is not None
          else compute_connection()) as con:
        for name, table in tables.items():
            con.register(name, table)
        try:
            checked = arrow(con, finalise_sql(staged_query, custom_format, timezone))
        finally:
            for name in tables:
                con.unregister(name)
    return _split(checked)


def _split(checked: pa.Table) -> Finalised:
    bad = pc.is_valid(checked.column("reason"))
    rejected_rows = checked.filter(bad).select(["row_ref", "reason"]).to_pydict()
    good = checked.filter(pc.invert(bad))
    events = good.select(EVENT_INPUT_SCHEMA.names).cast(EVENT_INPUT_SCHEMA)
    span = pc.min_max(good.column("ts")).as_py() if good.num_rows else {"min": None, "max": None}
    return Finalised(
        events=events,
        rejected=list(zip(rejected_rows["row_ref"], rejected_rows["reason"], strict=True)),
        formats=_value_counts(checked.column("ts_format")),
        per_source=_value_counts(good.column("source_id")),
        first_ts=span["min"],
        last_ts=span["max"],
    )


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    present = column.drop_null()
    if len(present) == 0:
        return {}
    pairs = pc.value_counts(present).to_pylist()
    return {str(item["values"]): int(item["counts"]) for item in pairs}
