"""Ingest transports: the dead letters of messages that could not be ingested."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Query

from vigil.api.auth import require
from vigil.api.state import AppState, app_state

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])
MAX_PAGE = 1000


@router.get("/dead-letters", dependencies=[Depends(require("read"))])
def list_dead_letters(
    limit: int = Query(100, ge=1, le=MAX_PAGE, description="dead letters per page"),
    before_id: int | None = Query(None, ge=1, description="only those older than this id "
                                  "(pass next_before_id of the previous page)"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Messages that could not be ingested (e.g. from MQTT), newest first, with the reason,
    the topic and the payload; ``next_before_id`` is null on the last page."""
    letters = state.store.list_dead_letters(limit + 1, before_id)
    page = letters[:limit]
    more = len(letters) > limit
    return {
        "dead_letters": [asdict(letter) for letter in page],
        "next_before_id": page[-1].dead_letter_id if more else None,
        "total": state.store.count_dead_letters(),
    }
