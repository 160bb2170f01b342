"""Turn a table of text columns (CSV, Parquet) into the staging schema, one SQL pass.

Every row keeps its line reference; the first problem found names the rejection reason.
"""

from __future__ import annotations

import pyarrow as pa

from vigil.duck import arrow
from vigil.ingest.compute import compute_connection
from vigil.ingest.staging import STAGED_SCHEMA
from vigil.model import EVENT_TYPE_PATTERN, MAX_ID_LENGTH
from vigil.timeparse import sql_literal


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(fields: dict[str, str], key: str) -> str:
    column = fields.get(key)
    return f"nullif(trim({_q(column)}), '')" if column else "CAST(NULL AS VARCHAR)"


def _labels_sql(fields: dict[str, str]) -> str:
    cells = f"concat_ws('|', {_text(fields, 'labels')}, {_text(fields, 'label')})"
    split = (f"list_transform(string_split_regex({cells}, '[|;,]'), lambda x: lower(trim(x)))")
    det = _text(fields, "detections")
    from_det = "[]::VARCHAR[]"
    if "detections" in fields:
        from_det = (
            f"CASE WHEN json_valid({det}) AND json_type({det}) = 'ARRAY' THEN list_concat("
            f"CAST(json_extract_string({det}, '$[*].label') AS VARCHAR[]), "
            f"CAST(json_extract_string({det}, '$[*].class') AS VARCHAR[])) "
            "ELSE []::VARCHAR[] END"
        )
    merged = f"list_concat({split}, list_transform({from_det}, lambda x: lower(trim(x))))"
    return (f"list_sort(list_distinct(list_filter({merged}, "
            "lambda x: x IS NOT NULL AND x <> '' AND x <> '*')))")


def _attributes_sql(attribute_columns: list[str]) -> str:
    if not attribute_columns:
        return "CAST(NULL AS VARCHAR)"
    entries = ", ".join(
        f"{{'k': {sql_literal(c)}, 'v': nullif(trim({_q(c)}), '')}}"
        for c in sorted(attribute_columns)
    )
    kept = f"list_filter([{entries}], lambda x: x.v IS NOT NULL)"
    return (f"CASE WHEN len({kept}) = 0 THEN NULL "
            f"ELSE CAST(to_json(map_from_entries({kept})) AS VARCHAR) END")


def coerce_sql(fields: dict[str, str], attribute_columns: list[str]) -> str:
    """The SELECT turning the registered ``raw`` table into staging rows."""
    src, etype = _text(fields, "source_id"), f"lower({_text(fields, 'event_type')})"
    subject, conf = _text(fields, "subject_id"), _text(fields, "confidence")
    frame, det = _text(fields, "frame_id"), _text(fields, "detections")
    event_id, model_id = _text(fields, "event_id"), _text(fields, "model_id")
    reason = f"""CASE
        WHEN {src} IS NULL THEN 'source_id_missing'
        WHEN length({src}) > {MAX_ID_LENGTH} THEN 'source_id_too_long'
        WHEN {etype} IS NULL THEN 'event_type_missing'
        WHEN NOT regexp_full_match({etype}, {sql_literal(EVENT_TYPE_PATTERN)})
            THEN 'event_type_invalid'
        WHEN length({event_id}) > {MAX_ID_LENGTH} THEN 'event_id_too_long'
        WHEN length({model_id}) > {MAX_ID_LENGTH} THEN 'model_id_too_long'
        WHEN {etype} IN ('entry', 'exit') AND {subject} IS NULL THEN 'person_id_missing'
        WHEN {conf} IS NOT NULL AND try_cast({conf} AS DOUBLE) IS NULL
            THEN 'confidence_invalid'
        WHEN NOT (try_cast({conf} AS DOUBLE) BETWEEN 0 AND 1) THEN 'confidence_out_of_range'
        WHEN {frame} IS NOT NULL AND try_cast({frame} AS BIGINT) IS NULL THEN 'frame_id_invalid'
        WHEN {det} IS NOT NULL AND NOT json_valid({det}) THEN 'detections_invalid'
        END"""
    return f"""SELECT row_ref, {reason} AS pre_reason, {event_id} AS event_id,
        {src} AS source_id, {etype} AS event_type, {_text(fields, 'timestamp')} AS "timestamp",
        {_labels_sql(fields)} AS labels, try_cast({conf} AS DOUBLE) AS confidence,
        {model_id} AS model_id, try_cast({frame} AS BIGINT) AS frame_id,
        {subject} AS subject_id, {_text(fields, 'zone')} AS zone,
        {_text(fields, 'state')} AS state,
        CASE WHEN json_valid({det}) THEN {det} END AS detections,
        {_attributes_sql(attribute_columns)} AS attributes
        FROM raw"""


def coerce(raw: pa.Table, fields: dict[str, str], attribute_columns: list[str]) -> pa.Table:
    """Staging rows from ``raw`` (text columns plus an int64 ``row_ref``)."""
    con = compute_connection()
    con.register("raw", raw)
    try:
        return arrow(con, coerce_sql(fields, attribute_columns)).cast(STAGED_SCHEMA)
    finally:
        con.unregister("raw")
