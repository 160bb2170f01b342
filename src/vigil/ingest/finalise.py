"""The step every input path shares: parse timestamps, derive ids, de-duplicate the batch.

Given a staging table (:mod:`vigil.ingest.staging`), :func:`finalise` returns the rows ready
for :meth:`vigil.store.Store.insert_events`, the rejected row references with reasons, and
the statistics the quality report needs. Event ids absent from the input are an MD5 of the
event's content, so re-sending a row is recognised as a duplicate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from vigil.duck import arrow, first_row, scalar
from vigil.ingest.compute import compute_connection
from vigil.store.base import EVENT_INPUT_SCHEMA
from vigil.timeparse import format_sql, parse_sql, reason_sql

_CONTENT = (
    "source_id, event_type, CAST(epoch_us(ts) AS VARCHAR), array_to_string(labels, '|'), "
    "coalesce(CAST(confidence AS VARCHAR), ''), coalesce(model_id, ''), "
    "coalesce(CAST(frame_id AS VARCHAR), ''), coalesce(subject_id, ''), coalesce(zone, ''), "
    "coalesce(state, ''), coalesce(detections, ''), coalesce(attributes, '')"
)
_EVENT_SELECT = ", ".join(EVENT_INPUT_SCHEMA.names)


@dataclass
class Finalised:
    """The outcome of finalising one staging batch."""

    events: pa.Table
    rejected: list[tuple[int, str]]
    batch_duplicates: int
    formats: dict[str, int] = field(default_factory=dict)
    per_source: dict[str, int] = field(default_factory=dict)
    first_ts: dt.datetime | None = None
    last_ts: dt.datetime | None = None


def finalise(staged: pa.Table, custom_format: str | None = None,
             timezone: str | None = None) -> Finalised:
    """Resolve timestamps and ids of ``staged``; split it into events and rejections."""
    con = compute_connection()
    con.register("staged", staged)
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE checked AS
            WITH f AS (SELECT *, {format_sql('"timestamp"', custom_format)} AS ts_format
                       FROM staged),
                 p AS (SELECT *, {parse_sql('"timestamp"', 'ts_format', custom_format,
                                            timezone)} AS ts FROM f)
            SELECT row_ref, ts_format,
                   coalesce(pre_reason, {reason_sql('ts', 'ts_format', custom_format,
                                                    timezone)}) AS reason,
                   coalesce(event_id, md5(concat_ws(chr(31), {_CONTENT}))) AS event_id,
                   source_id, event_type, ts, labels, confidence, model_id, frame_id,
                   subject_id, zone, state, detections, attributes
            FROM p"""
        )
        return _collect(con)
    finally:
        con.unregister("staged")
        con.execute("DROP TABLE IF EXISTS checked")


def _collect(con: duckdb.DuckDBPyConnection) -> Finalised:
    rejected = con.execute(
        "SELECT row_ref, reason FROM checked WHERE reason IS NOT NULL ORDER BY row_ref"
    ).fetchall()
    events = arrow(
        con,
        f"""SELECT {_EVENT_SELECT} FROM checked WHERE reason IS NULL
            QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY row_ref) = 1""",
    )
    valid_count = int(scalar(con, "SELECT count(*) FROM checked WHERE reason IS NULL"))
    formats = dict(
        con.execute(
            "SELECT ts_format, count(*) FROM checked WHERE ts_format IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    per_source = dict(
        con.execute(
            "SELECT source_id, count(*) FROM checked WHERE reason IS NULL GROUP BY 1"
        ).fetchall()
    )
    span = first_row(con, "SELECT min(ts), max(ts) FROM checked WHERE reason IS NULL")
    return Finalised(
        events=events.cast(EVENT_INPUT_SCHEMA),
        rejected=[(int(r), str(c)) for r, c in rejected],
        batch_duplicates=valid_count - events.num_rows,
        formats={str(k): int(v) for k, v in formats.items()},
        per_source={str(k): int(v) for k, v in per_source.items()},
        first_ts=span[0] if span else None,
        last_ts=span[1] if span else None,
    )
