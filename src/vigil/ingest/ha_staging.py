"""Home Assistant state changes (HTTP bodies, NDJSON lines) into stored events.

Items are mapped by :func:`vigil.ingest.homeassistant.map_state_change`, validated as any
JSON event (:func:`vigil.ingest.jsonitems.validate_items`) and finalised by the shared step,
with one difference: the event id is derived from entity, time and state only
(:func:`ha_event_id_sql`, which the History CSV reader uses too, and its Python twin
:func:`ha_event_id` for small batches), so a state change re-sent or re-imported — even with
other attributes — is stored once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from vigil.ingest.finalise import QUICK_MAX_ROWS, STAGED_QUERY, finalise
from vigil.ingest.homeassistant import HaEventError, map_state_change_at
from vigil.ingest.jsonitems import PayloadError, parse_payload, validate_items
from vigil.ingest.outcome import Finalised
from vigil.ingest.quickparse import quick_timestamp
from vigil.ingest.reasons import reason_field, reason_message
from vigil.model import IngestResult, RejectedItem
from vigil.timeparse import EPOCH, format_sql, parse_sql

__all__ = ["StagedChanges", "finalise_state_changes", "ha_event_id", "ha_event_id_sql",
           "ingest_ha_payload", "stage_state_changes", "with_ha_ids"]

Insert = Callable[[pa.Table], int]
Areas = Mapping[str, str | None]


def ha_event_id_sql(source: str, ts: str, state: str) -> str:
    """SQL of a state change's id: MD5 over entity, time (epoch microseconds) and state."""
    return (f"md5(concat_ws(chr(31), 'homeassistant', {source}, "
            f"CAST(epoch_us({ts}) AS VARCHAR), "
            f"CASE WHEN {state} IS NULL THEN 'removed' ELSE 'state=' || {state} END))")


def with_ha_ids(staged_query: str, custom_format: str | None = None,
                timezone: str | None = None) -> str:
    """``staged_query`` with the id of each row whose timestamp parses (the others are
    rejected when finalised, with the same parse rules)."""
    parsed = parse_sql('"timestamp"', "ha_format", custom_format, timezone)
    return f"""
        WITH s AS ({staged_query}),
             f AS (SELECT *, {format_sql('"timestamp"', custom_format)} AS ha_format FROM s),
             p AS (SELECT *, {parsed} AS ha_ts FROM f)
        SELECT * EXCLUDE (ha_format, ha_ts) REPLACE (coalesce(event_id, CASE WHEN ha_ts
            IS NOT NULL THEN {ha_event_id_sql('source_id', 'ha_ts', 'state')} END) AS event_id)
        FROM p"""


@dataclass
class StagedChanges:
    """Staging rows, the items rejected so far, and where each row's time came from."""

    staged: pa.Table
    rejected: list[RejectedItem]
    time_fields: dict[int, str] = field(default_factory=dict)  # row_ref -> dotted path


def stage_state_changes(items: list[tuple[int, Any]], areas: Areas | None = None
                        ) -> StagedChanges:
    """Staging rows of the items that are state changes, and a rejection for each other."""
    mapped: list[tuple[int, Any]] = []
    rejected: list[RejectedItem] = []
    time_fields: dict[int, str] = {}
    for ref, item in items:
        if isinstance(item, PayloadError):
            rejected.append(RejectedItem(index=ref, field="row", reason="invalid_json",
                                         message=str(item)))
            continue
        try:
            event, time_fields[ref] = map_state_change_at(item, areas)
        except HaEventError as exc:
            rejected.append(RejectedItem(index=ref, field=exc.field, reason=exc.reason,
                                         message=str(exc)))
            continue
        mapped.append((ref, event))
    staged, invalid = validate_items(mapped)
    return StagedChanges(staged, sorted(rejected + invalid, key=lambda item: item.index),
                         time_fields)


def ha_event_id(source_id: str, ts: dt.datetime, state: str | None) -> str:
    """The Python twin of :func:`ha_event_id_sql` (a property test holds them equal)."""
    micros = (ts - EPOCH) // dt.timedelta(microseconds=1)
    marker = "removed" if state is None else f"state={state}"
    text = "\x1f".join(["homeassistant", source_id, str(micros), marker])
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def finalise_state_changes(staged: pa.Table, custom_format: str | None = None,
                           timezone: str | None = None) -> Finalised:
    """Finalise staged state changes, with their derived ids.

    A small batch in everyday timestamp shapes gets its ids in Python and then takes the
    quick finalising path, which saves compiling SQL for each request.
    """
    if custom_format is None and staged.num_rows <= QUICK_MAX_ROWS:
        with_ids = _quick_ids(staged, timezone)
        if with_ids is not None:
            return finalise({"staged": with_ids}, STAGED_QUERY, None, timezone)
    return finalise({"staged": staged}, with_ha_ids(STAGED_QUERY, custom_format, timezone),
                    custom_format, timezone)


def _quick_ids(staged: pa.Table, timezone: str | None) -> pa.Table | None:
    """``staged`` with every id set, or ``None`` when a timestamp needs the SQL rules."""
    ids: list[str] = []
    for row in staged.select(["event_id", "source_id", "timestamp", "state"]).to_pylist():
        parsed = quick_timestamp(row["timestamp"], timezone) if row["timestamp"] else None
        if parsed is None:
            return None
        ids.append(row["event_id"] or ha_event_id(row["source_id"], parsed[0], row["state"]))
    at = staged.schema.get_field_index("event_id")
    return staged.set_column(at, "event_id", pa.array(ids, pa.string()))


def ingest_ha_payload(body: bytes, insert: Insert, timezone: str | None = None,
                      areas: Areas | None = None) -> IngestResult:
    """Validate, finalise and insert a body of state changes (one, an array, or NDJSON);
    every item is counted somewhere, as by :func:`vigil.ingest.payload.ingest_payload`.

    Raises :class:`PayloadError` when the body is not JSON at all.
    """
    staged = stage_state_changes(parse_payload(body), areas)
    result = finalise_state_changes(staged.staged, timezone=timezone)
    rejected = staged.rejected + [_rejection(ref, code, staged.time_fields)
                                  for ref, code in result.rejected]
    inserted = insert(result.events) if result.events.num_rows else 0
    valid = result.events.num_rows
    rejected.sort(key=lambda item: item.index)
    return IngestResult(accepted=inserted, duplicates=valid - inserted, rejected=len(rejected),
                        errors=rejected)


def _rejection(ref: int, code: str, time_fields: dict[int, str]) -> RejectedItem:
    """A rejection found when finalising, naming the item's own time field."""
    name = reason_field(code)
    if name == "timestamp":
        name = time_fields.get(ref, name)
    return RejectedItem(index=ref, field=name, reason=code,
                        message=f"{name}: {reason_message(code)}")
