"""What the request handlers share: settings, store, writer, uploads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fastapi import Request

from vigil.cache import Cache
from vigil.config import Settings
from vigil.monitor.service import Monitoring
from vigil.rollup.aggregates import AggregateStore, configured_aggregate_store
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
    cache: Cache
    mqtt: Stoppable | None = None
    monitor: Monitoring | None = None
    aggregates: AggregateStore | None = None


class Stoppable(Protocol):
    """A background service the app starts and stops (the MQTT ingestor)."""

    def stop(self, timeout: float) -> None: ...


def open_aggregates(state: AppState) -> AggregateStore:
    """The aggregate store the settings name (``VIGIL_AGGREGATES``), opened once."""
    if state.aggregates is None:
        state.aggregates = configured_aggregate_store(state.settings, state.store)
    return state.aggregates


def close_aggregates(state: AppState) -> None:
    """Close the aggregate store, if it was opened (at shutdown)."""
    if state.aggregates is not None:
        state.aggregates.close()
        state.aggregates = None


def app_state(request: Request) -> AppState:
    """FastAPI dependency giving the service's state."""
    state: AppState = request.app.state.vigil
    return state
