"""What the commands share: settings, opening the store, consoles, fatal errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from vigil.config import Settings
    from vigil.store import Store

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False)

DB_OPTION = typer.Option(None, "--db", help="database: a DuckDB path or postgresql://…; "
                         "default $VIGIL_DB or ./vigil.duckdb", show_default=False)


def settings_for(db: str | None) -> Settings:
    """Settings with ``--db`` applied."""
    from vigil.config import load_settings

    return load_settings(db=db) if db else load_settings()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear error line and exit."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def open_or_fail(settings: Settings) -> Store:
    """Open the configured store, or exit with a clear message."""
    from vigil.store import StoreBusyError, StoreUnavailableError, open_store

    try:
        return open_store(settings.db, settings.default_timezone, settings.duckdb_memory_limit,
                          max_session=dt.timedelta(hours=settings.session_max_hours))
    except StoreBusyError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc))
    except StoreUnavailableError as exc:
        fail(f"cannot open {shown_url(settings.db)}: {exc}")


@contextmanager
def opened_store(settings: Settings) -> Iterator[Store]:
    """The configured store (or exit with a clear message), closed afterwards."""
    store = open_or_fail(settings)
    try:
        yield store
    finally:
        store.close()


def shown_url(url: str) -> str:
    """A database URL without its password, for messages."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url


class _Ending:
    """Whether the ``vigil`` script may end without tearing the interpreter down."""

    quick = False


def end_quickly() -> None:
    """Let the ``vigil`` script end, once the command is done, without the interpreter's
    teardown (freeing every module and object one by one): worth it after a command that
    held millions of rows, whose memory the operating system reclaims at once. Only the
    script's :func:`~vigil.cli.main.main` acts on it; in-process callers are unaffected."""
    _Ending.quick = True


def ends_quickly() -> bool:
    """Whether :func:`end_quickly` was asked for."""
    return _Ending.quick
