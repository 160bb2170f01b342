"""``vigil serve``: the HTTP API."""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING

import typer

from vigil.cli.common import (
    DB_OPTION,
    err_console,
    fail,
    open_or_fail,
    settings_for,
    shown_url,
)

if TYPE_CHECKING:
    from vigil.config import Settings


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings, host: str, insecure: bool) -> None:
    """Refuse to listen beyond loopback with no API keys, unless told to."""
    if is_loopback(host) or insecure:
        return
    store = open_or_fail(settings)
    try:
        keys = store.count_api_keys()
    finally:
        store.close()
    if keys == 0:
        fail(f"refusing to serve on {host} with no API keys: create one with "
             "`vigil keys create --scope admin`, or pass --insecure")


def serve_command(
    host: str | None = typer.Option(None, "--host", help="address to bind (default 127.0.0.1)"),
    port: int | None = typer.Option(None, "--port", help="port (default 8000)"),
    insecure: bool = typer.Option(False, "--insecure",
                                  help="allow a non-loopback address without API keys"),
    workers: int = typer.Option(1, "--workers", min=1, help="worker processes "
                                "(more than one needs a PostgreSQL database)"),
    mqtt: str | None = typer.Option(None, "--mqtt", help="also ingest from this MQTT broker, "
                                    "mqtt://host:port (Frigate and Vigil topics)"),
    redis: str | None = typer.Option(None, "--redis", help="share the analytics cache "
                                     "between workers through this Redis, redis://host:port"),
    db: str | None = DB_OPTION,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    from vigil.store import is_postgres_url

    settings = settings_for(db)
    settings = settings.model_copy(update={
        key: value for key, value in (("mqtt_url", mqtt), ("redis_url", redis)) if value})
    if workers > 1 and not is_postgres_url(settings.db):
        fail("--workers above 1 needs a PostgreSQL database (VIGIL_DB=postgresql://…): "
             "a DuckDB file has one writing process")
    bind, listen = host or settings.host, port or settings.port
    check_exposure(settings, bind, insecure)
    err_console.print(f"Vigil serving {shown_url(settings.db)} on http://{bind}:{listen} "
                      f"with {workers} worker(s) (dashboard: http://{bind}:{listen}/, API docs: "
                      f"http://{bind}:{listen}/docs)")
    if settings.mqtt_url:
        err_console.print(f"ingesting MQTT from {settings.mqtt_url}")
    run_server(settings, bind, listen, workers)


def run_server(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Run uvicorn with the app until interrupted.

    Several workers are separate processes started by uvicorn; each builds the app from
    the environment, so the settings are handed over as ``VIGIL_*`` variables.
    """
    import uvicorn

    from vigil.api import create_app

    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    os.environ.update(settings_environment(settings))
    uvicorn.run("vigil.api.app:create_app", factory=True, host=host, port=port,
                workers=workers, log_level="info")


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as the ``VIGIL_*`` variables that reproduce them."""
    values = settings.model_dump(exclude_none=True)
    return {f"VIGIL_{key.upper()}": str(value) for key, value in values.items()}



