"""``vigil serve``: the HTTP API."""

from __future__ import annotations

import ipaddress

import typer
import uvicorn

from vigil.api import create_app
from vigil.cli.common import DB_OPTION, err_console, fail, open_or_fail, settings_for
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
    db: str | None = DB_OPTION,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    settings = settings_for(db)
    bind, listen = host or settings.host, port or settings.port
    check_exposure(settings, bind, insecure)
    err_console.print(f"Vigil serving {settings.db} on http://{bind}:{listen} "
                      f"(API docs: http://{bind}:{listen}/docs)")
    run_server(settings, bind, listen)


def run_server(settings: Settings, host: str, port: int) -> None:
    """Run uvicorn with the app until interrupted."""
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")



