"""Alert rules (list, create, replace, delete) and the alert delivery log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from pydantic_core import to_jsonable_python

from vigil.anomaly.rules import RuleError, rule_from_dict, rule_to_dict
from vigil.api.auth import require
from vigil.api.errors import ApiError
from vigil.api.state import AppState, app_state

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
MAX_PAGE = 1000
RULE_EXAMPLE = {"name": "night visitors", "min_severity": "medium", "types": ["rare_time"],
                "labels": ["person"], "schedule": {"hours": "22-6"}, "cooldown_seconds": 900,
                "cap_count": 5, "cap_period_seconds": 3600, "sinks": ["webhook"]}


def _checked(definition: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """The rule's canonical definition, or a 422 naming the offending field."""
    if not isinstance(definition, dict):
        raise ApiError(422, "the body must be a JSON object (an alert rule)", None)
    given = definition.get("rule_id")
    if given is not None and given != rule_id:
        raise ApiError(422, f"rule_id {given!r} in the body differs from {rule_id!r}",
                       "rule_id")
    try:
        return rule_to_dict(rule_from_dict({**definition, "rule_id": rule_id}))
    except RuleError as exc:
        raise ApiError(422, str(exc), exc.field) from exc


@router.get("/rules", dependencies=[Depends(require("read"))])
def list_rules(state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Every alert rule."""
    return {"rules": state.store.list_alert_rules()}


@router.post("/rules", status_code=201, dependencies=[Depends(require("admin"))])
def create_rule(definition: dict[str, Any] = Body(..., examples=[RULE_EXAMPLE]),
                state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Create a rule (an id is made up unless ``rule_id`` is given; an existing id is a 409)."""
    rule_id = str(definition.get("rule_id") or uuid.uuid4().hex[:12])
    rule = _checked(definition, rule_id)
    now = dt.datetime.now(dt.UTC)

    def create(store: Any) -> bool:
        if any(r.get("rule_id") == rule_id for r in store.list_alert_rules()):
            return False
        return bool(store.save_alert_rule(rule_id, rule, now))

    if not state.writer.run(create):
        raise ApiError(409, f"alert rule {rule_id!r} exists; PUT replaces it", "rule_id")
    return rule


@router.put("/rules/{rule_id}", dependencies=[Depends(require("admin"))])
def replace_rule(rule_id: str, definition: dict[str, Any] = Body(..., examples=[RULE_EXAMPLE]),
                 state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Create or replace the rule ``rule_id``."""
    rule = _checked(definition, rule_id)
    now = dt.datetime.now(dt.UTC)
    state.writer.run(lambda store: store.save_alert_rule(rule_id, rule, now))
    return rule


@router.delete("/rules/{rule_id}", status_code=204, dependencies=[Depends(require("admin"))])
def delete_rule(rule_id: str, state: AppState = Depends(app_state)) -> None:
    """Delete a rule (alerts it queued stay in the delivery log)."""
    if not state.writer.run(lambda store: store.delete_alert_rule(rule_id)):
        raise ApiError(404, f"no alert rule {rule_id!r}", "rule_id")


@router.get("/deliveries", dependencies=[Depends(require("read"))])
def list_deliveries(
    status: Literal["pending", "delivered", "failed"] | None = Query(
        None, description="only this status (pending = queued, waiting for a retry)"),
    limit: int = Query(100, ge=1, le=MAX_PAGE, description="deliveries per page"),
    before_id: int | None = Query(None, ge=1, description="only those older than this id"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """The alert delivery log, newest first: sink, attempts, last error, next attempt."""
    found = state.store.list_deliveries(status, limit + 1, before_id)
    page = found[:limit]
    return {
        "deliveries": to_jsonable_python(page),
        "next_before_id": page[-1]["delivery_id"] if len(found) > limit else None,
        "counts": state.store.count_deliveries(),
    }
