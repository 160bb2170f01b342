"""The Home Assistant History panel's CSV export (``entity_id,state,last_changed``).

Each row is the state of an entity from ``last_changed`` on; it becomes a
``state_changed`` event like one received live (:mod:`vigil.ingest.homeassistant`). The
old state of a row is the state of the previous row of the same entity, by time (then line);
the first row of an entity has none. Extra columns become attributes (an ``area``,
``area_id`` or ``room`` column also gives the zone, else the mapping's area does).

The whole file is staged in one DuckDB query (the previous row of an entity may be anywhere
in it), so the file is held in memory once as text; History exports are modest in size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import pyarrow as pa

from vigil.ingest.columns import ColumnError
from vigil.ingest.finalise import finalise
from vigil.ingest.ha_staging import ha_event_id_sql
from vigil.ingest.homeassistant import AREA_KEYS, DOMAIN_PATTERN, EVENT_TYPE
from vigil.ingest.outcome import Finalised
from vigil.model import MAX_ID_LENGTH
from vigil.timeparse import format_sql, parse_sql, reason_sql, sql_literal

__all__ = ["HISTORY_COLUMNS", "finalise_history", "history_attribute_columns", "history_sql"]

HISTORY_COLUMNS = ("entity_id", "state", "last_changed")
OWN_ATTRIBUTES = ("domain", "old_state")  # always set by Vigil; a column of that name is not
AREAS_SCHEMA = pa.schema([("entity_id", pa.string()), ("area", pa.string())])


def history_attribute_columns(header: Sequence[str]) -> list[str]:
    """The extra (attribute) columns of a History header, lower-cased; raises
    :class:`ColumnError` when a required column is missing or a name repeats."""
    names = [h.strip().lower() for h in header]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ColumnError(f"column name(s) repeated in the header: {', '.join(repeated)}")
    missing = [c for c in HISTORY_COLUMNS if c not in names]
    if missing:
        raise ColumnError(f"not a Home Assistant History export: missing column(s) "
                          f"{', '.join(missing)}; header has: {', '.join(names)}")
    return [n for n in names if n not in HISTORY_COLUMNS]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _attr(column: str) -> str:
    return _q(f"attr:{column}")


def _attributes_sql(extra: list[str]) -> str:
    """The attributes JSON: the extra columns, ``domain`` and ``old_state``, keys sorted."""
    pairs = {c: f"o.{_attr(c)}" for c in extra if c not in OWN_ATTRIBUTES}
    pairs |= {"domain": "o.domain", "old_state": "o.old_state"}
    body = ", ".join(f"{sql_literal(k)}, {v}" for k, v in sorted(pairs.items()))
    return f"CAST(json_object({body}) AS VARCHAR)"


def history_sql(extra: list[str], custom_format: str | None, timezone: str | None) -> str:
    """A SELECT turning the text table ``raw`` (the whole file, with ``row_ref``) and the
    table ``areas`` (``entity_id, area``) into staging rows with their ids."""
    cells = "".join(f", nullif(trim(r.{_q(c)}), '') AS {_attr(c)}" for c in extra)
    texts = ", ".join(["source_id", "state", *(_attr(c) for c in extra)])
    entity = sql_literal(rf"{DOMAIN_PATTERN}\..+")
    zones = ", ".join([*(f"o.{_attr(k)}" for k in AREA_KEYS if k in extra), "a.area"])
    fmt = format_sql('"timestamp"', custom_format)
    return f"""
        WITH t AS (
            SELECT r.row_ref, nullif(trim(r.entity_id), '') AS source_id,
                   nullif(trim(r.state), '') AS state,
                   nullif(trim(r.last_changed), '') AS "timestamp"{cells}
            FROM raw r),
        f AS (SELECT *, {fmt} AS ha_format FROM t),
        p AS (SELECT *, {parse_sql('"timestamp"', 'ha_format', custom_format, timezone)}
                  AS ha_ts FROM f),
        c AS (SELECT *, CASE
                WHEN source_id IS NULL OR length(source_id) > {MAX_ID_LENGTH}
                     OR NOT regexp_full_match(source_id, {entity}) THEN 'ha_entity_id_invalid'
                WHEN state IS NULL THEN 'ha_state_invalid'
                WHEN contains(concat({texts}), chr(0)) THEN 'text_has_nul'
                END AS pre_reason,
                {reason_sql('ha_ts', 'ha_format', custom_format, timezone)} AS ts_reason
              FROM p),
        o AS (SELECT *, pre_reason IS NULL AND ts_reason IS NULL AS ok,
                     split_part(source_id, '.', 1) AS domain,
                     lag(state) OVER (PARTITION BY source_id,
                                      pre_reason IS NULL AND ts_reason IS NULL
                                      ORDER BY ha_ts, row_ref) AS old_state
              FROM c)
        SELECT o.row_ref, o.pre_reason,
               CASE WHEN o.ok THEN {ha_event_id_sql('o.source_id', 'o.ha_ts', 'o.state')}
                    END AS event_id,
               o.source_id, '{EVENT_TYPE}' AS event_type, o."timestamp",
               [lower(o.domain)] AS labels, CAST(NULL AS DOUBLE) AS confidence,
               CAST(NULL AS VARCHAR) AS model_id, CAST(NULL AS BIGINT) AS frame_id,
               CAST(NULL AS VARCHAR) AS subject_id, coalesce({zones}) AS zone, o.state,
               CAST(NULL AS VARCHAR) AS detections, {_attributes_sql(extra)} AS attributes
        FROM o LEFT JOIN areas a ON a.entity_id = o.source_id"""


def finalise_history(raw: pa.Table, extra: list[str], areas: Mapping[str, str | None],
                     custom_format: str | None, timezone: str | None) -> Finalised:
    """Stage and finalise a whole History file (``raw``: its text columns and ``row_ref``)
    on a connection of its own (no pooled connection's memory limit)."""
    mapping = pa.table({"entity_id": list(areas), "area": list(areas.values())},
                       schema=AREAS_SCHEMA)
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("SET TimeZone = 'UTC'")
        return finalise({"raw": raw, "areas": mapping},
                        history_sql(extra, custom_format, timezone), custom_format, timezone,
                        connection=connection)
    finally:
        connection.close()
