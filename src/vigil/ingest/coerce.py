"""Turn a table of text columns (CSV, Parquet) into staging rows, as one SQL query.

Every row keeps its line reference; the first problem found names the rejection reason.
"""

from __future__ import annotations

from vigil.ingest.columns import FIELD_ALIASES
from vigil.model import ALL_LABELS, EVENT_TYPE_PATTERN, LABEL_KEYS, MAX_ID_LENGTH
from vigil.timeparse import sql_literal


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _trimmed(fields: dict[str, str]) -> str:
    """Select list with each known field trimmed once, empty text as NULL."""
    parts = []
    for key in FIELD_ALIASES:
        column = fields.get(key)
        value = f"nullif(trim({_q(column)}), '')" if column else "CAST(NULL AS VARCHAR)"
        parts.append(f"lower({value}) AS {key}" if key == "event_type" else f"{value} AS {key}")
    return ", ".join(parts)


def _labels_sql(fields: dict[str, str]) -> str:
    """Distinct lower-case labels from ``label``/``labels`` cells and the detections JSON."""
    cells = "concat_ws('|', t.labels, t.label)"
    split = (
        f"CASE WHEN {cells} = '' THEN []::VARCHAR[] "
        f"WHEN NOT regexp_matches({cells}, '[|;,]') THEN [lower({cells})] "
        f"ELSE list_transform(string_split_regex({cells}, '[|;,]'), lambda x: lower(trim(x))) "
        "END"
    )
    if "detections" in fields:
        det = "t.detections"
        found = ", ".join(f"CAST(json_extract_string({det}, '$[*].{key}') AS VARCHAR[])"
                          for key in LABEL_KEYS)
        from_det = (f"CASE WHEN json_valid({det}) AND json_type({det}) = 'ARRAY' "
                    f"THEN list_concat({found}) ELSE []::VARCHAR[] END")
        split = f"list_concat({split}, list_transform({from_det}, lambda x: lower(trim(x))))"
    return (f"list_sort(list_distinct(list_filter({split}, "
            f"lambda x: x IS NOT NULL AND x <> '' AND x <> {sql_literal(ALL_LABELS)})))")


def _attr(column: str) -> str:
    return _q(f"attr:{column}")


def _attributes_sql(attribute_columns: list[str]) -> str:
    """A JSON object of the extra columns (keys sorted), NULL when every cell is empty."""
    if not attribute_columns:
        return "CAST(NULL AS VARCHAR)"
    ordered = sorted(attribute_columns)
    pairs = ", ".join(f"{sql_literal(c)}, t.{_attr(c)}" for c in ordered)
    any_set = " OR ".join(f"t.{_attr(c)} IS NOT NULL" for c in ordered)
    return f"CASE WHEN {any_set} THEN CAST(json_object({pairs}) AS VARCHAR) END"


def _attribute_columns(attribute_columns: list[str]) -> str:
    return "".join(f", nullif(trim({_q(c)}), '') AS {_attr(c)}" for c in attribute_columns)


def coerce_sql(fields: dict[str, str], attribute_columns: list[str]) -> str:
    """A SELECT turning the text table registered as ``raw`` into staging rows."""
    reason = f"""CASE
        WHEN t.source_id IS NULL THEN 'source_id_missing'
        WHEN length(t.source_id) > {MAX_ID_LENGTH} THEN 'source_id_too_long'
        WHEN t.event_type IS NULL THEN 'event_type_missing'
        WHEN t.event_type NOT IN ('detection', 'entry', 'exit', 'state', 'motion')
             AND NOT regexp_full_match(t.event_type, {sql_literal(EVENT_TYPE_PATTERN)})
            THEN 'event_type_invalid'
        WHEN length(t.event_id) > {MAX_ID_LENGTH} THEN 'event_id_too_long'
        WHEN length(t.model_id) > {MAX_ID_LENGTH} THEN 'model_id_too_long'
        WHEN t.event_type IN ('entry', 'exit') AND t.subject_id IS NULL
            THEN 'person_id_missing'
        WHEN t.confidence IS NOT NULL AND t.confidence_value IS NULL
            THEN 'confidence_invalid'
        WHEN NOT (t.confidence_value BETWEEN 0 AND 1) THEN 'confidence_out_of_range'
        WHEN t.frame_id IS NOT NULL AND t.frame_value IS NULL THEN 'frame_id_invalid'
        WHEN t.detections IS NOT NULL AND NOT json_valid(t.detections)
            THEN 'detections_invalid'
        END"""
    return f"""WITH t AS (
            SELECT row_ref, {_trimmed(fields)}{_attribute_columns(attribute_columns)} FROM raw
        ), typed AS (
            SELECT *, try_cast(confidence AS DOUBLE) AS confidence_value,
                   try_cast(frame_id AS BIGINT) AS frame_value FROM t
        )
        SELECT t.row_ref, {reason} AS pre_reason, t.event_id, t.source_id, t.event_type,
            t.timestamp, {_labels_sql(fields)} AS labels, t.confidence_value AS confidence,
            t.model_id, t.frame_value AS frame_id, t.subject_id, t.zone, t.state,
            CASE WHEN json_valid(t.detections) THEN t.detections END AS detections,
            {_attributes_sql(attribute_columns)} AS attributes
        FROM typed AS t"""
