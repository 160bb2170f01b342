"""Aggregate records (daily, weekly, monthly layers) from the configured aggregate store:
the records of a date range, or one sum / mean / count over them.

The router's lifespan opens the store (``VIGIL_AGGREGATES``) once the service state exists
and closes it at shutdown, before the main store closes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic_core import to_jsonable_python

from vigil.api.auth import require
from vigil.api.errors import ApiError
from vigil.api.state import AppState, app_state, close_aggregates, open_aggregates
from vigil.rollup.aggregates import AggregateRecord, AggregateStoreError, NotNumericError


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: AppState = app.state.vigil
    open_aggregates(state)
    try:
        yield
    finally:
        close_aggregates(state)


router = APIRouter(prefix="/api/v1/aggregates", tags=["aggregates"], lifespan=_lifespan)
MAX_PAGE = 5000
LayerName = Literal["daily", "weekly", "monthly"]
AggName = Literal["sum", "mean", "count"]


@router.get("", dependencies=[Depends(require("read"))])
def get_aggregates(
    start: dt.date = Query(..., alias="from", description="first bucket date (inclusive)"),
    end: dt.date = Query(..., alias="to", description="last bucket date (inclusive)"),
    detector: str | None = Query(None, description="only this detector (measurement)"),
    entity: str | None = Query(None, description="only this entity (source)"),
    layer: LayerName = Query("daily", description="daily, weekly or monthly"),
    agg: AggName | None = Query(None, description="sum, mean or count of `field`, instead "
                                "of the records"),
    field: str | None = Query(None, description="the field `agg` aggregates"),
    limit: int = Query(1000, ge=1, le=MAX_PAGE, description="records per page"),
    offset: int = Query(0, ge=0, description="records to skip (next_offset of the "
                        "previous page)"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Records sorted by bucket, detector and entity (``next_offset`` is null on the last
    page), or with ``agg`` and ``field`` the single aggregated ``value``."""
    if start > end:
        raise ApiError(422, f"from ({start}) is after to ({end})", "from")
    store = open_aggregates(state)
    scope = {"from": start.isoformat(), "to": end.isoformat(), "layer": layer,
             "detector": detector, "entity": entity}
    try:
        if agg is not None:
            if not field:
                raise ApiError(422, "agg needs a field to aggregate", "field")
            value = store.aggregate(start, end, field, agg, detector, entity, layer)
            return {**scope, "agg": agg, "field": field, "value": value}
        records = store.query(start, end, detector, entity, layer)
    except NotNumericError as exc:
        raise ApiError(422, str(exc), "field") from exc
    except AggregateStoreError as exc:
        raise ApiError(503, f"the aggregate store failed: {exc}") from exc
    page = records[offset:offset + limit]
    more = offset + limit < len(records)
    return {**scope, "records": [_record(r) for r in page],
            "next_offset": offset + limit if more else None}


def _record(record: AggregateRecord) -> dict[str, Any]:
    return {"layer": record.layer, "detector": record.detector, "entity": record.entity,
            "bucket": record.bucket.isoformat(), "fields": to_jsonable_python(record.fields)}
