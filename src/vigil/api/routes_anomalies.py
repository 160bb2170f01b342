"""Anomalies: the listing with filters, pages and counts by status, one anomaly,
acknowledging it and marking it a false positive (which the detector remembers)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic_core import to_jsonable_python

from vigil.api.auth import require
from vigil.api.errors import ApiError
from vigil.api.state import AppState, app_state
from vigil.store.anomalies import ANOMALY_STATUSES, AnomalyFilter

router = APIRouter(prefix="/api/v1/anomalies", tags=["anomalies"])
MAX_PAGE = 1000
AnomalyType = Literal["rare_time", "novel_object", "spike", "silence"]
SeverityName = Literal["low", "medium", "high"]
StatusName = Literal["open", "acknowledged", "false_positive"]


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ApiError(422, f"{field} needs a time zone, e.g. 2026-03-01T12:00:00Z", field)
    return value


@router.get("", dependencies=[Depends(require("read"))])
def list_anomalies(
    source_id: list[str] = Query([], description="only these sources (repeatable)"),
    type: AnomalyType | None = Query(None, description="only this anomaly type"),
    label: str | None = Query(None, description="only this label"),
    severity: SeverityName | None = Query(None, description="at least this severity"),
    status: StatusName | None = Query(None, description="only this status"),
    start: dt.datetime | None = Query(None, description="windows ending at or after this"),
    end: dt.datetime | None = Query(None, description="windows starting before this"),
    limit: int = Query(100, ge=1, le=MAX_PAGE, description="anomalies per page"),
    before_id: int | None = Query(None, ge=1, description="only those older than this id "
                                  "(pass next_before_id of the previous page)"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Anomalies newest first, each with its score, severity, explanation, components and
    status; ``next_before_id`` is null on the last page. ``counts``: all anomalies per
    status; ``filtered_counts``: per status, those matching every filter but ``status``
    (each status with its count, zero included)."""
    flt = AnomalyFilter(sources=tuple(sorted(set(source_id))), anomaly_type=type,
                        label=label, min_severity=severity, status=status,
                        start=_aware(start, "start"), end=_aware(end, "end"))
    found = state.store.list_anomalies(flt, limit + 1, before_id)
    page = found[:limit]
    filtered = state.store.count_anomalies(dataclasses.replace(flt, status=None))
    return {
        "anomalies": to_jsonable_python(page),
        "next_before_id": page[-1]["anomaly_id"] if len(found) > limit else None,
        "counts": state.store.count_anomalies(),
        "filtered_counts": {s: filtered.get(s, 0) for s in ANOMALY_STATUSES},
    }


@router.get("/{anomaly_id}", dependencies=[Depends(require("read"))])
def get_anomaly(anomaly_id: int, state: AppState = Depends(app_state)) -> dict[str, Any]:
    """One anomaly."""
    found = state.store.get_anomaly(anomaly_id)
    if found is None:
        raise ApiError(404, f"no anomaly {anomaly_id}", "anomaly_id")
    return dict(to_jsonable_python(found))


def _set_status(state: AppState, anomaly_id: int, status: str) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)  # the edge: one clock read per request
    updated = state.writer.run(lambda store: store.set_anomaly_status(anomaly_id, status, now))
    if updated is None:
        raise ApiError(404, f"no anomaly {anomaly_id}", "anomaly_id")
    if state.monitor is not None:
        state.monitor.notify()
    return dict(to_jsonable_python(updated))


@router.post("/{anomaly_id}/ack", dependencies=[Depends(require("ingest"))])
def acknowledge(anomaly_id: int, state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Mark an anomaly seen (status ``acknowledged``)."""
    return _set_status(state, anomaly_id, "acknowledged")


@router.post("/{anomaly_id}/false-positive", dependencies=[Depends(require("ingest"))])
def false_positive(anomaly_id: int, state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Mark an anomaly a false positive: the detector learns it as normal and does not flag
    the same pattern at that source again unless it comes back more severe."""
    return _set_status(state, anomaly_id, "false_positive")


@router.post("/{anomaly_id}/reopen", dependencies=[Depends(require("ingest"))])
def reopen(anomaly_id: int, state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Set an anomaly back to ``open`` (and forget it as a false positive)."""
    return _set_status(state, anomaly_id, "open")
