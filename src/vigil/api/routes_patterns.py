"""Detected behaviour patterns: the stored result of the latest detection, with filters.

Answers are cached until the next commit; the ``patterns`` job replaces the patterns through
the service's writer, whose commit invalidates the cache.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query
from pydantic_core import to_jsonable_python

from vigil.api.auth import require
from vigil.api.errors import ApiError
from vigil.api.state import AppState, app_state

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/patterns", tags=["patterns"])


def _known_types() -> list[str]:
    from vigil.patterns.registry import detectors

    return [detector.name for detector in detectors()]


def _checked(type: str | None, min_confidence: float | None) -> None:
    """422 naming the field for an unknown type or a confidence outside [0, 1]."""
    if type is not None:
        known = _known_types()
        if type not in known:
            raise ApiError(422, f"type must be one of {', '.join(known)}, not {type!r}",
                           "type")
    if min_confidence is not None and not (
            math.isfinite(min_confidence) and 0.0 <= min_confidence <= 1.0):
        raise ApiError(422, f"min_confidence must be between 0 and 1, not {min_confidence}",
                       "min_confidence")


MAX_LIMIT = 1000


@router.get("", dependencies=[Depends(require("read"))])
def list_patterns(
    type: str | None = Query(None, description="only patterns of this detector "
                             "(time_of_day, cooccurrence, sequence, duration, session, "
                             "area, day_type, seasonal)"),
    entity: str | None = Query(None, description="only patterns involving this entity "
                               "(a source or item id, e.g. light.kitchen)"),
    min_confidence: float | None = Query(None, description="only patterns at least this "
                                         "confident (0 to 1)"),
    limit: int | None = Query(None, ge=1, le=MAX_LIMIT, description="at most this many "
                              "patterns (1 to 1000; all when not given)"),
    offset: int = Query(0, ge=0, description="skip this many patterns first (the previous "
                        "page's next_offset)"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """The patterns of the latest detection, most confident first: each with its type,
    entities, confidence, description, evidence, first and last day seen, the window's
    last day and when it was detected. ``total`` counts every pattern matching the filters,
    ``next_offset`` is where the next page starts (null on the last page)."""
    _checked(type, min_confidence)
    entity = entity or None

    def compute() -> dict[str, Any]:
        store = state.store
        found = store.list_patterns(type=type, entity=entity, min_confidence=min_confidence,
                                    limit=limit, offset=offset)
        last_page = limit is None or len(found) < limit
        if last_page and (found or offset == 0):  # the page ends where the matches end
            total = offset + len(found)
        else:
            total = store.count_patterns(type=type, entity=entity,
                                         min_confidence=min_confidence)
        end = offset + len(found)
        return {"patterns": to_jsonable_python(found), "count": len(found), "total": total,
                "next_offset": end if found and end < total else None}

    key = "patterns|" + orjson.dumps([type, entity, min_confidence, limit, offset]).decode()
    result: dict[str, Any] = state.cache.get_or_compute(key, compute,
                                                        state.settings.cache_ttl_seconds)
    return result


@router.get("/facets", dependencies=[Depends(require("read"))])
def pattern_facets(
    min_confidence: float | None = Query(None, description="only patterns at least this "
                                         "confident (0 to 1)"),
    state: AppState = Depends(app_state),
) -> dict[str, dict[str, int]]:
    """How many patterns of the latest detection there are per type and per entity (a
    pattern counts once for each entity it involves), most first."""
    _checked(None, min_confidence)

    def compute() -> dict[str, dict[str, int]]:
        return state.store.pattern_facets(min_confidence=min_confidence)

    key = "patterns-facets|" + orjson.dumps([min_confidence]).decode()
    result: dict[str, dict[str, int]] = state.cache.get_or_compute(
        key, compute, state.settings.cache_ttl_seconds)
    return result
