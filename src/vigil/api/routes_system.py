"""Health and metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vigil import __version__
from vigil.api.auth import require
from vigil.api.state import AppState, app_state
from vigil.metrics import REGISTRY

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Liveness and the store in use (no key needed)."""
    return {"status": "ok", "version": __version__, "store": type(state.store).__name__}


@router.get("/metrics", dependencies=[Depends(require("read"))])
def metrics() -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
