"""Sources (cameras, entities) and their settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator
from pydantic_core import to_jsonable_python

from vigil.api.auth import require
from vigil.api.errors import ApiError
from vigil.api.state import AppState, app_state
from vigil.config import check_timezone
from vigil.ingest.areas import check_area
from vigil.model import MAX_ID_LENGTH
from vigil.store import SourceInfo, Store

router = APIRouter(prefix="/api/v1", tags=["sources"])


class SourceSettings(BaseModel):
    """Settings a client may change: each optional, at least one given."""

    timezone: str | None = Field(None, description="IANA time zone, e.g. Europe/Berlin")
    area: str | None = Field(None, description="room or area (Home Assistant area); "
                             "null clears it")

    @field_validator("timezone")
    @classmethod
    def _known(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("timezone must be an IANA time zone name, not null")
        return check_timezone(value)

    @field_validator("area")
    @classmethod
    def _area(cls, value: str | None) -> str | None:
        return check_area(value)


def source_json(info: SourceInfo) -> dict[str, Any]:
    """A source as the API shows it."""
    return {
        "source_id": info.source_id,
        "timezone": info.timezone,
        "event_count": info.event_count,
        "first_seen": info.first_seen,
        "last_seen": info.last_seen,
        "area": info.area,
    }


@router.get("/sources", dependencies=[Depends(require("read"))])
@router.get("/cameras", dependencies=[Depends(require("read"))])
def list_sources(state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Every source with its time zone, area, event count and first/last event (cached
    until new data arrives)."""
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
    """Create or update a source's settings (``timezone`` and/or ``area``; ``area: null``
    clears it); a new zone re-derives its local-time data."""
    if not source_id or len(source_id) > MAX_ID_LENGTH:
        raise ApiError(422, "source id must be 1 to 128 characters", "source_id")
    given = settings.model_fields_set & {"timezone", "area"}
    if not given:
        raise ApiError(422, "give timezone and/or area (area: null clears it)", "timezone")

    def apply(store: Store) -> SourceInfo:
        with store.transaction():  # both or neither
            if settings.timezone is not None:  # given (null is refused)
                info = store.set_source_timezone(source_id, settings.timezone)
            if "area" in given:
                info = store.set_source_area(source_id, settings.area)
        return info

    return source_json(state.writer.run(apply))
