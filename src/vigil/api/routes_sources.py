"""Sources (cameras, entities) and their settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, field_validator
from pydantic_core import to_jsonable_python

from vigil.api.auth import require
from vigil.api.errors import ApiError
from vigil.api.state import AppState, app_state
from vigil.config import check_timezone
from vigil.model import MAX_ID_LENGTH
from vigil.store import SourceInfo

router = APIRouter(prefix="/api/v1", tags=["sources"])


class SourceSettings(BaseModel):
    """Settings a client may change."""

    timezone: str

    @field_validator("timezone")
    @classmethod
    def _known(cls, value: str) -> str:
        return check_timezone(value)


def source_json(info: SourceInfo) -> dict[str, Any]:
    """A source as the API shows it."""
    return {
        "source_id": info.source_id,
        "timezone": info.timezone,
        "event_count": info.event_count,
        "first_seen": info.first_seen,
        "last_seen": info.last_seen,
    }


@router.get("/sources", dependencies=[Depends(require("read"))])
@router.get("/cameras", dependencies=[Depends(require("read"))])
def list_sources(state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Every source with its time zone, event count and first/last event (cached until
    new data arrives)."""
    def compute() -> dict[str, Any]:
        listed = {"sources": [source_json(s) for s in state.store.list_sources()]}
        encoded: dict[str, Any] = to_jsonable_python(listed)  # as the response shows it
        return encoded

    return state.cache.get_or_compute("sources", compute, state.settings.cache_ttl_seconds)


@router.get("/cameras/{source_id}", dependencies=[Depends(require("read"))])
@router.get("/sources/{source_id}", dependencies=[Depends(require("read"))])
def get_source(source_id: str, state: AppState = Depends(app_state)) -> dict[str, Any]:
    """One source."""
    info = state.store.get_source(source_id)
    if info is None:
        raise ApiError(404, f"no source {source_id!r}", "source_id")
    return source_json(info)


@router.put("/cameras/{source_id}", dependencies=[Depends(require("admin"))])
@router.put("/sources/{source_id}", dependencies=[Depends(require("admin"))])
def put_source(source_id: str, settings: SourceSettings,
               state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Create or update a source's settings; a new zone re-derives its local-time data."""
    if not source_id or len(source_id) > MAX_ID_LENGTH:
        raise ApiError(422, "source id must be 1 to 128 characters", "source_id")
    info = state.writer.run(lambda store: store.set_source_timezone(source_id,
                                                                     settings.timezone))
    return source_json(info)
