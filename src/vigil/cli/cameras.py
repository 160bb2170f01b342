"""``vigil cameras``: time zones, areas and activity of sources."""

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

app = typer.Typer(help="Cameras / sources: time zones, areas and activity.",
                  no_args_is_help=True,
                  rich_markup_mode="markdown")


@app.command("list")
def list_cameras(db: str | None = DB_OPTION,
                 as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Every source with its time zone, area, event count and first/last event."""
    store = open_or_fail(settings_for(db))
    try:
        sources = store.list_sources()
    finally:
        store.close()
    if as_json:
        rows = [{"source_id": s.source_id, "timezone": s.timezone, "event_count": s.event_count,
                 "first_seen": s.first_seen, "last_seen": s.last_seen, "area": s.area}
                for s in sources]
        typer.echo(to_json(rows))
        return
    table = Table("source", "time zone", "area", "events", "first seen", "last seen")
    for s in sources:
        table.add_row(s.source_id, s.timezone, s.area or "-", f"{s.event_count:,}",
                      _when(s.first_seen), _when(s.last_seen))
    out_console.print(table)


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@app.command("set")
def set_camera(source_id: str,
               timezone: str | None = typer.Option(None, "--timezone",
                                                   help="IANA zone, e.g. Europe/Berlin"),
               area: str | None = typer.Option(None, "--area", help="room or area, e.g. "
                                               "Kitchen"),
               clear_area: bool = typer.Option(False, "--clear-area", help="remove the area"),
               db: str | None = DB_OPTION) -> None:
    """Set a source's time zone (re-derives its local dates and hours) and/or area."""
    from vigil.config import check_timezone
    from vigil.ingest.areas import check_area

    if timezone is None and area is None and not clear_area:
        fail("give --timezone, --area or --clear-area", 2)
    if area is not None and clear_area:
        fail("give --area or --clear-area, not both", 2)
    try:
        if timezone is not None:
            check_timezone(timezone)
        new_area = check_area(area)
    except ValueError as exc:
        fail(str(exc), 2)
    store = open_or_fail(settings_for(db))
    try:
        with store.transaction():
            if timezone is not None:
                info = store.set_source_timezone(source_id, timezone)
            if area is not None or clear_area:
                info = store.set_source_area(source_id, new_area)
    finally:
        store.close()
    out_console.print(f"{info.source_id}: {info.timezone}, area {info.area or '-'} "
                      f"({info.event_count:,} events)")


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


@app.command("areas")
def import_areas(path: Path = typer.Argument(..., help="CSV 'entity_id,area' (with header) or "
                                             'JSON {"entity_id": "area"}'),
                 db: str | None = DB_OPTION) -> None:
    """Set the areas (rooms) of many sources from a mapping file; an empty area (or null)
    clears one."""
    from vigil.ingest.areas import AreaMappingError, read_area_mapping

    try:
        areas = read_area_mapping(path)
    except AreaMappingError as exc:
        fail(str(exc), 2)
    store = open_or_fail(settings_for(db))
    try:
        with store.transaction():
            for source_id, area in areas.items():
                store.set_source_area(source_id, area)
    finally:
        store.close()
    out_console.print(f"set the area of {len(areas)} source(s)")


def set_zones(store: Store, zones: dict[str, str]) -> None:
    """Set the zones of many sources, all or none."""
    with store.transaction():
        for camera, zone in zones.items():
            store.set_source_timezone(camera, zone)
