"""Event ingest and listing."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vigil.api.auth import require
from vigil.api.cursors import decode_cursor, encode_cursor
from vigil.api.errors import ApiError, error_body
from vigil.api.params import checked_zone
from vigil.api.state import AppState, app_state
from vigil.ingest.ha_staging import ingest_ha_payload
from vigil.ingest.jsonitems import PayloadError
from vigil.ingest.payload import ingest_payload
from vigil.metrics import count_outcome
from vigil.model import IngestResult
from vigil.store import EventFilter

router = APIRouter(prefix="/api/v1", tags=["events"])
MAX_PAGE = 1000
MAX_BODY_BYTES = 64 * 2**20


@router.post("/events", dependencies=[Depends(require("ingest"))])
async def post_events(
    request: Request,
    timezone: str | None = Query(None, description="zone of zone-less timestamps"),
    state: AppState = Depends(app_state),
) -> JSONResponse:
    """Ingest one event, a JSON array of events, or NDJSON.

    Answers with accepted / duplicate / rejected counts and, per rejected item, its 0-based
    index, the field and a message. 200 when anything was valid, 422 when nothing was.
    """
    zone = checked_zone(timezone)
    body = await _read_body(request)
    try:
        result = await run_in_threadpool(ingest_payload, body, state.writer.insert_events, zone)
    except (PayloadError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"request body is not JSON or NDJSON: {exc}", "body") from exc
    return _answer("http", result)


@router.post("/events/homeassistant", dependencies=[Depends(require("ingest"))])
async def post_homeassistant_events(
    request: Request,
    timezone: str | None = Query(None, description="zone of zone-less timestamps"),
    state: AppState = Depends(app_state),
) -> JSONResponse:
    """Ingest Home Assistant ``state_changed`` events: the event object
    ``{"event_type": "state_changed", "data": {...}, "time_fired": ...}`` or its ``data``
    ``{"entity_id", "old_state", "new_state"}``, one, a JSON array, or NDJSON.

    Each becomes a ``state_changed`` event of source ``entity_id``, labelled with its
    domain. Answers as ``POST /api/v1/events``: 200 when anything was valid, 422 (naming
    the field of the first rejected item) when nothing was.
    """
    zone = checked_zone(timezone)
    body = await _read_body(request)
    try:
        result = await run_in_threadpool(ingest_ha_payload, body, state.writer.insert_events,
                                         zone)
    except (PayloadError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"request body is not JSON or NDJSON: {exc}", "body") from exc
    return _answer("homeassistant", result)


def _answer(path: str, result: IngestResult) -> JSONResponse:
    """The response to an ingest: counts and rejections; 422 when nothing was valid."""
    count_outcome(path, result.accepted, result.duplicates,
                  Counter(e.reason for e in result.errors))
    payload = result.model_dump()
    if result.errors and result.accepted + result.duplicates == 0:
        first = result.errors[0]
        return JSONResponse(error_body(first.message, first.field, **payload), 422)
    return JSONResponse(payload)


@router.get("/events", dependencies=[Depends(require("read"))])
def list_events(
    source_id: str | None = Query(None, alias="source", description="source / camera id"),
    camera_id: str | None = Query(None, description="alias of source"),
    event_type: str | None = None,
    label: str | None = None,
    subject_id: str | None = Query(None, alias="person_id"),
    start: dt.datetime | None = Query(None, alias="from"),
    end: dt.datetime | None = Query(None, alias="to"),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    cursor: str | None = None,
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Events in time order; pass ``next_cursor`` back as ``cursor`` for the next page."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise ApiError(422, f"{name} needs a time zone (e.g. 2026-03-22T10:00:00Z)", name)
    flt = EventFilter(source_id=source_id or camera_id, event_type=event_type, label=label,
                      subject_id=subject_id, start=start, end=end)
    page = state.store.list_events(flt, decode_cursor(cursor, "cursor"), limit)
    after = page.next_cursor
    return {"events": page.events,
            "next_cursor": None if after is None else encode_cursor(*after)}


async def _read_body(request: Request) -> bytes:
    """The request body, refused with 413 beyond ``MAX_BODY_BYTES``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, f"request body over {MAX_BODY_BYTES // 2**20} MiB: send files "
                                "to POST /api/v1/uploads instead", "body")
        chunks.append(chunk)
    return b"".join(chunks)


