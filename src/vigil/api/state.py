"""What the request handlers share: settings, store, writer, uploads."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from vigil.config import Settings
from vigil.store import Store
from vigil.uploads import UploadProcessor
from vigil.writer import Writer


@dataclass
class AppState:
    """Long-lived objects of one running service."""

    settings: Settings
    store: Store
    writer: Writer
    uploads: UploadProcessor


def app_state(request: Request) -> AppState:
    """FastAPI dependency giving the service's state."""
    state: AppState = request.app.state.vigil
    return state
