"""``vigil cameras``: time zones and activity of sources."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from vigil.cli.common import DB_OPTION, fail, open_or_fail, out_console, settings_for
from vigil.cli.jsonout import to_json

if TYPE_CHECKING:
    from vigil.store import Store

app = typer.Typer(help="Cameras / sources: time zones and activity.", no_args_is_help=True,
                  rich_markup_mode="markdown")


@app.command("list")
def list_cameras(db: str | None = DB_OPTION,
                 as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Every source with its time zone, event count and first/last event."""
    store = open_or_fail(settings_for(db))
    try:
        sources = store.list_sources()
    finally:
        store.close()
    if as_json:
        rows = [{"source_id": s.source_id, "timezone": s.timezone, "event_count": s.event_count,
                 "first_seen": s.first_seen, "last_seen": s.last_seen} for s in sources]
        typer.echo(to_json(rows))
        return
    table = Table("source", "time zone", "events", "first seen", "last seen")
    for s in sources:
        table.add_row(s.source_id, s.timezone, f"{s.event_count:,}", _when(s.first_seen),
                      _when(s.last_seen))
    out_console.print(table)


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@app.command("set")
def set_camera(source_id: str, timezone: str = typer.Option(..., "--timezone",
                                                            help="IANA zone, e.g. Europe/Berlin"),
               db: str | None = DB_OPTION) -> None:
    """Set a source's time zone (re-derives its local dates and hours)."""
    from vigil.config import check_timezone

    try:
        check_timezone(timezone)
    except ValueError as exc:
        fail(str(exc), 2)
    store = open_or_fail(settings_for(db))
    try:
        info = store.set_source_timezone(source_id, timezone)
    finally:
        store.close()
    out_console.print(f"{info.source_id}: {info.timezone} ({info.event_count:,} events)")


@app.command("import")
def import_cameras(path: Path = typer.Argument(..., help='JSON object {"camera": "Zone"}'),
                   db: str | None = DB_OPTION) -> None:
    """Set the time zones of many sources from a JSON file."""
    from vigil.config import check_timezone

    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"cannot read {path}: {exc}", 2)
    if not isinstance(mapping, dict):
        fail(f"{path} must hold a JSON object mapping camera id to IANA zone", 2)
    for camera, zone in mapping.items():
        try:
            check_timezone(str(zone))
        except ValueError as exc:
            fail(f"{path}: camera {camera!r}: {exc}", 2)
    store = open_or_fail(settings_for(db))
    try:
        set_zones(store, {str(camera): str(zone) for camera, zone in mapping.items()})
    finally:
        store.close()
    out_console.print(f"set the time zone of {len(mapping)} camera(s)")


def set_zones(store: Store, zones: dict[str, str]) -> None:
    """Set the zones of many sources, all or none."""
    with store.transaction():
        for camera, zone in zones.items():
            store.set_source_timezone(camera, zone)
