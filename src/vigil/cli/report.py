"""``vigil report --html out.html``: a self-contained HTML report of dwell, occupancy and
visitors (inline CSS and SVG; it opens offline)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from vigil.cli.analytics import (
    ATTR_OPTION,
    BY_OPTION,
    CAMERA_OPTION,
    CAMERAS_OPTION,
    FILE_OPTION,
    FORMAT_OPTION,
    FROM_OPTION,
    GROUP_BY_OPTION,
    LIMIT_OPTION,
    MAP_OPTION,
    PERSON_OPTION,
    QUIET_OPTION,
    TIMEZONE_OPTION,
    TO_OPTION,
    ZONE_OPTION,
    Source,
    loaded,
    selection,
    user_errors,
)
from vigil.cli.common import DB_OPTION, fail, out_console


def report_command(
    html: Path = typer.Option(..., "--html", help="write the report to this HTML file",
                              dir_okay=False),
    title: str = typer.Option("Dwell, occupancy and visitors", "--title",
                              help="the report's title"),
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    cameras: list[str] = CAMERA_OPTION,
    zone: str | None = ZONE_OPTION,
    person: str | None = PERSON_OPTION,
    attrs: list[str] = ATTR_OPTION,
    by: str = BY_OPTION,
    group_by: list[str] = GROUP_BY_OPTION,
    limit: int = LIMIT_OPTION,
    file: Path | None = FILE_OPTION,
    timezone: str | None = TIMEZONE_OPTION,
    camera_zones: Path | None = CAMERAS_OPTION,
    fmt: str | None = FORMAT_OPTION,
    column_map: list[str] = MAP_OPTION,
    quiet: bool = QUIET_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Write one HTML file with the KPIs, a dwell-time histogram, occupancy over time,
    visitors per day, an hour × weekday heatmap and the dwell table, from the store or a
    file (`--file export.csv`). No scripts and no external links: it opens offline."""
    from vigil.dwell.report import collect_report, render_report

    chosen = selection(start, end, cameras, zone, person, attrs, by, group_by)
    source = Source(file, db, timezone, camera_zones, fmt, tuple(column_map), quiet)
    with loaded(source, quality_to_stderr=False) as data, user_errors():
        figures = collect_report(data.analytics, chosen.flt, chosen.group_by, limit)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = render_report(figures, title=title, source=data.origin, generated=generated)
    try:
        html.write_text(page, encoding="utf-8")
    except OSError as exc:
        fail(f"--html: cannot write {html}: {exc}")
    out_console.print(f"wrote {html} ({len(page.encode('utf-8')) / 1024:,.0f} KiB)")
