"""The FastAPI application and its lifecycle."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from vigil import __version__
from vigil.api import (
    routes_activity,
    routes_aggregates,
    routes_alerts,
    routes_analytics,
    routes_anomalies,
    routes_baselines,
    routes_events,
    routes_ingest,
    routes_jobs,
    routes_patterns,
    routes_sources,
    routes_status,
    routes_system,
    routes_uploads,
    routes_web,
)
from vigil.api.errors import install_error_handlers
from vigil.api.state import AppState
from vigil.cache import open_cache
from vigil.config import Settings, load_settings
from vigil.monitor.service import start_monitoring
from vigil.store import Store, open_store
from vigil.uploads import UploadProcessor
from vigil.writer import Writer

log = logging.getLogger(__name__)
SHUTDOWN_UPLOAD_WAIT_SECONDS = 30.0


def open_state(settings: Settings, store: Store | None = None) -> AppState:
    """Open the store (unless given) and the cache; start the writer, the upload processor
    and, when configured, the MQTT ingestor."""
    store = store or open_store(settings.db, settings.default_timezone,
                                settings.duckdb_memory_limit,
                                max_session=dt.timedelta(hours=settings.session_max_hours))
    cache = open_cache(settings.redis_url)
    listeners: list[Callable[[], None]] = [cache.invalidate]

    def committed() -> None:
        for listener in listeners:
            listener()

    writer = Writer(store, settings.group_commit_max, on_commit=committed)
    uploads = UploadProcessor(writer, Path(settings.upload_dir))
    state = AppState(settings=settings, store=store, writer=writer, uploads=uploads,
                     cache=cache)
    if settings.detect_anomalies:
        state.monitor = start_monitoring(settings, store, writer.run)
        listeners.append(state.monitor.notify)
    if settings.mqtt_url:
        from vigil.ingest.mqtt import MqttIngestor  # paho loads only when MQTT is used

        ingestor = MqttIngestor(settings, writer)
        ingestor.start()
        state.mqtt = ingestor
    return state


def close_state(state: AppState) -> None:
    """Stop taking MQTT messages, let uploads finish (bounded), drain the writer, close."""
    if state.mqtt is not None:
        state.mqtt.stop(SHUTDOWN_UPLOAD_WAIT_SECONDS)
    if not state.uploads.wait(SHUTDOWN_UPLOAD_WAIT_SECONDS):
        log.warning("stopping with uploads unfinished; they resume at the next start")
    state.uploads.close(SHUTDOWN_UPLOAD_WAIT_SECONDS)
    if state.monitor is not None:
        state.monitor.stop(SHUTDOWN_UPLOAD_WAIT_SECONDS)
    state.writer.close()
    state.cache.close()
    state.store.close()


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """The Vigil HTTP service; the store is opened when the app starts."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = open_state(settings, store)
        app.state.vigil = state
        resumed = state.uploads.resume_unfinished()
        if resumed:
            log.info("resumed %d unfinished upload(s)", resumed)
        try:
            yield
        finally:
            close_state(state)

    app = FastAPIOffline(title="Vigil", version=__version__, lifespan=lifespan,
                         description="Behavioural analytics over camera and smart-home events.")
    install_error_handlers(app)
    for module in (routes_system, routes_events, routes_sources, routes_uploads,
                   routes_ingest, routes_baselines, routes_anomalies, routes_alerts,
                   routes_analytics, routes_aggregates, routes_jobs, routes_patterns,
                   routes_status, routes_activity, routes_web):
        app.include_router(module.router)
    routes_web.mount_assets(app)
    return app
