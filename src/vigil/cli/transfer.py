"""``vigil export`` and ``vigil import``: a whole store to Parquet files, and back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from vigil.cli.common import DB_OPTION, err_console, fail, open_or_fail, out_console, settings_for

if TYPE_CHECKING:
    from vigil.store import Store
    from vigil.store.transfer import TransferSummary

Transfer = Callable[["Store", Path, Callable[[str, int], None]], "TransferSummary"]


def export_command(
    folder: Path = typer.Argument(..., help="new folder to write (one Parquet file per table)"),
    db: str | None = DB_OPTION,
) -> None:
    """Export the whole store (events, sources, counts, keys, uploads, dead letters).

    Move a store between backends with `vigil export DIR --db A` then
    `vigil import DIR --db B`, e.g. from DuckDB to `postgresql://…`.
    """
    from vigil.store.transfer import export_store

    _run("exported", export_store, folder, db)


def import_command(
    folder: Path = typer.Argument(..., exists=True, file_okay=False,
                                  help="folder written by `vigil export`"),
    db: str | None = DB_OPTION,
) -> None:
    """Import an export into an empty store, in one transaction."""
    from vigil.store.transfer import import_store

    _run("imported", import_store, folder, db)


def _run(verb: str, transfer: Transfer, folder: Path, db: str | None) -> None:
    from vigil.store.transfer import TransferError

    store = open_or_fail(settings_for(db))
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=err_console, transient=True) as progress:
            task = progress.add_task("starting")

            def report(table: str, rows: int) -> None:
                progress.update(task, description=f"{table}: {rows:,} rows")

            summary = transfer(store, folder, report)
    except TransferError as exc:
        fail(str(exc))
    finally:
        store.close()
    for table, rows in summary.rows.items():
        out_console.print(f"  {table:<14} {rows:>12,}")
    out_console.print(f"{verb} {summary.total:,} rows ({folder})")
