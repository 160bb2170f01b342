"""Ingest a JSON request body (one event, an array, or NDJSON)."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from vigil.ingest.finalise import finalise
from vigil.ingest.jsonitems import parse_payload, validate_items
from vigil.ingest.reasons import reason_field, reason_message
from vigil.model import IngestResult, RejectedItem

Insert = Callable[[pa.Table], int]


def ingest_payload(body: bytes, insert: Insert, timezone: str | None = None) -> IngestResult:
    """Validate, finalise and insert a body's events; every item is counted somewhere.

    Raises :class:`vigil.ingest.jsonitems.PayloadError` when the body is not JSON at all.
    """
    items = parse_payload(body)
    staged, rejected = validate_items(items)
    result = finalise({"staged": staged}, timezone=timezone)
    rejected += [
        RejectedItem(index=ref, field=reason_field(code), reason=code,
                     message=reason_message(code))
        for ref, code in result.rejected
    ]
    inserted = insert(result.events) if result.events.num_rows else 0
    valid = result.events.num_rows
    rejected.sort(key=lambda item: item.index)
    return IngestResult(accepted=inserted, duplicates=valid - inserted, rejected=len(rejected),
                        errors=rejected)
