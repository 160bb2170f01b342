"""``vigil sessions``: the visit sessions kept from person entry/exit events."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from vigil.cli.common import DB_OPTION, fail, opened_store, out_console, settings_for
from vigil.cli.jsonout import to_json

app = typer.Typer(help="Visit sessions: person entry/exit events paired into visits.",
                  no_args_is_help=True, rich_markup_mode="markdown")


@app.command("rebuild")
def rebuild(source: str | None = typer.Option(None, "--source", help="only this source"),
            as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
            db: str | None = DB_OPTION) -> None:
    """Pair the sessions again from the event log (they are kept as events arrive; this is
    for a changed `VIGIL_SESSION_MAX_HOURS`, or a check)."""
    with opened_store(settings_for(db)) as store:
        if source is not None and store.get_source(source) is None:
            fail(f"no source {source!r}")
        started = time.perf_counter()
        counts = store.rebuild_sessions(source)
        elapsed = time.perf_counter() - started
    if as_json:
        typer.echo(to_json({"source_id": source, "sessions": counts,
                            "total": sum(counts.values()),
                            "elapsed_seconds": round(elapsed, 3)}))
        return
    table = Table("status", "sessions")
    for status, count in counts.items():
        table.add_row(status, f"{count:,}")
    out_console.print(table)
    out_console.print(f"rebuilt {sum(counts.values()):,} sessions"
                      + (f" of {source}" if source else "") + f" in {elapsed:.2f} s")
