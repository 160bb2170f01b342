"""``vigil keys``: API keys."""

from __future__ import annotations

import typer
from rich.table import Table

from vigil.cli.common import DB_OPTION, err_console, fail, open_or_fail, out_console, settings_for

app = typer.Typer(help="API keys (stored hashed).", no_args_is_help=True,
                  rich_markup_mode="markdown")


@app.command("create")
def create_key(scope: str = typer.Option(..., "--scope", help="read | ingest | admin"),
               name: str | None = typer.Option(None, "--name", help="a note for people"),
               db: str | None = DB_OPTION) -> None:
    """Create a key and print it once; from then on the API requires keys."""
    from vigil.keys import SCOPES, hash_key, new_key

    if scope not in SCOPES:
        fail(f"--scope must be one of {', '.join(SCOPES)}", 2)
    key_id, key = new_key()
    store = open_or_fail(settings_for(db))
    try:
        store.add_api_key(key_id, hash_key(key), scope, name)
    finally:
        store.close()
    err_console.print(f"created {scope} key {key_id}; it is shown only now:")
    typer.echo(key)


@app.command("list")
def list_keys(db: str | None = DB_OPTION) -> None:
    """Key ids, scopes and names (never the keys)."""
    store = open_or_fail(settings_for(db))
    try:
        keys = store.list_api_keys()
    finally:
        store.close()
    table = Table("id", "scope", "name", "created")
    for k in keys:
        table.add_row(k["key_id"], k["scope"], k["name"] or "", str(k["created_at"]))
    out_console.print(table)
