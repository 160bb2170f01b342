"""Activity baselines: one source's (the original design's context path) and all of them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic_core import to_jsonable_python

from vigil.api.auth import require
from vigil.api.errors import ApiError
from vigil.api.state import AppState, app_state
from vigil.baseline import BaselineConfig, all_baselines, baseline_config, baseline_for

router = APIRouter(prefix="/api/v1", tags=["baselines"])


class BaselineQuery:
    """Query parameters shared by the baseline endpoints."""

    def __init__(
        self,
        as_of: dt.datetime | None = Query(None, description="compute as of this instant "
                                          "(ISO 8601 with zone; default now)"),
        window_weeks: int | None = Query(None, ge=1, le=520, description="weeks covered "
                                         "(default $VIGIL_BASELINE_WINDOW_WEEKS, 8)"),
        half_life_days: float | None = Query(None, gt=0, description="weigh older hours "
                                             "down with this half-life in days"),
    ) -> None:
        if as_of is not None and as_of.tzinfo is None:
            raise ApiError(422, "as_of needs a time zone, e.g. 2026-03-01T12:00:00Z", "as_of")
        self.as_of = as_of
        self.window_weeks = window_weeks
        self.half_life_days = half_life_days

    def instant(self) -> dt.datetime:
        """``as_of``, or the moment of the request (read once, here at the edge)."""
        return self.as_of or dt.datetime.now(dt.UTC)

    def config(self, state: AppState) -> BaselineConfig:
        return baseline_config(state.settings, window_weeks=self.window_weeks,
                               half_life_days=self.half_life_days)

    def cache_key(self, name: str, as_of: dt.datetime) -> str:
        minute = as_of.replace(second=0, microsecond=0).isoformat()
        return f"{name}|{minute}|{self.window_weeks}|{self.half_life_days}"


@router.get("/context/patterns/{camera_id}", dependencies=[Depends(require("read"))])
def camera_patterns(camera_id: str, query: BaselineQuery = Depends(),
                    state: AppState = Depends(app_state)) -> dict[str, Any]:
    """The activity baseline of a camera (or any source): hour-of-day, weekday and
    hour × weekday counts, object types, peak and quiet hours, events per day, status."""
    as_of, config = query.instant(), query.config(state)

    def compute() -> dict[str, Any] | None:
        found = baseline_for(state.store, camera_id, as_of, config)
        return None if found is None else dict(to_jsonable_python(found))

    baseline = state.cache.get_or_compute(query.cache_key(f"baseline:{camera_id}", as_of),
                                          compute, state.settings.cache_ttl_seconds)
    if baseline is None:
        raise ApiError(404, f"no source {camera_id!r}", "camera_id")
    return baseline


@router.get("/baselines", dependencies=[Depends(require("read"))])
def list_baselines(query: BaselineQuery = Depends(),
                   state: AppState = Depends(app_state)) -> dict[str, Any]:
    """The baseline of every source."""
    as_of, config = query.instant(), query.config(state)

    def compute() -> dict[str, Any]:
        listed = {"baselines": all_baselines(state.store, as_of, config)}
        return dict(to_jsonable_python(listed))

    return state.cache.get_or_compute(query.cache_key("baselines", as_of), compute,
                                      state.settings.cache_ttl_seconds)
