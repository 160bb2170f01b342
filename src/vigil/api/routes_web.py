"""The dashboard's page (``/``) and its static files (``/ui/…``); no key needed, no data."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from vigil.web import INDEX_HTML, STATIC_DIR

router = APIRouter(include_in_schema=False)
NO_CACHE = {"Cache-Control": "no-cache"}  # revalidate: a new version shows at once


@router.get("/")
def dashboard() -> FileResponse:
    """The single page of the dashboard; its routes live in the URL's hash."""
    return FileResponse(INDEX_HTML, media_type="text/html", headers=NO_CACHE)


@router.get("/dashboard")
def dashboard_alias() -> RedirectResponse:
    return RedirectResponse("/", status_code=307)


def mount_assets(app: FastAPI) -> None:
    """Serve the dashboard's scripts and styles at ``/ui``."""
    app.mount("/ui", StaticFiles(directory=STATIC_DIR), name="ui")
