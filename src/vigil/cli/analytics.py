"""``vigil analytics``: dwell times, occupancy, visitors and KPIs from the store or a file.

The selection options and the data source (the configured store, or ``--file`` read in
memory without storing it) are shared with ``vigil report``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.panel import Panel
from rich.table import Table

from vigil.cli.common import (
    DB_OPTION,
    end_quickly,
    err_console,
    fail,
    opened_store,
    out_console,
    settings_for,
    shown_url,
)
from vigil.cli.ingest import _with_progress, print_report
from vigil.cli.jsonout import to_json

if TYPE_CHECKING:
    from vigil.dwell.analytics import DwellAnalytics
    from vigil.dwell.filters import AnalyticsFilter

__all__ = ["Selection", "Source", "analytics_command", "analytics_document", "loaded",
           "selection", "user_errors"]

FROM_OPTION = typer.Option(None, "--from", help="first local day (YYYY-MM-DD, the camera's "
                           "calendar) or first instant with a zone (2026-03-01T08:00Z)")
TO_OPTION = typer.Option(None, "--to", help="last local day (inclusive) or end instant "
                         "(exclusive, with a zone)")
CAMERA_OPTION = typer.Option([], "--camera", help="only this camera (repeatable)")
ZONE_OPTION = typer.Option(None, "--zone", help="only this zone (implies --by zone)")
PERSON_OPTION = typer.Option(None, "--person", help="only this person id")
ATTR_OPTION = typer.Option([], "--attr", help="only sessions whose entry has this "
                           "attribute: key=value (repeatable), e.g. --attr gender=female")
BY_OPTION = typer.Option("camera", "--by", help="pair sessions per camera or per zone")
GROUP_BY_OPTION = typer.Option(["camera"], "--group-by", help="dimension of the dwell table "
                               "(repeatable): camera, zone, person, hour, weekday, day, "
                               "week, month or `attributes.<name>`")
LIMIT_OPTION = typer.Option(50, "--limit", min=1, help="groups of the dwell table shown")
FILE_OPTION = typer.Option(None, "--file", help="analyse this CSV, NDJSON or Parquet file "
                           "in memory instead of the database (nothing is stored)",
                           exists=True, dir_okay=False)
TIMEZONE_OPTION = typer.Option(None, "--timezone", help="IANA zone of cameras with no "
                               "known zone (default $VIGIL_DEFAULT_TIMEZONE, UTC); with "
                               "--file also of timestamps written without one")
CAMERAS_OPTION = typer.Option(None, "--cameras", help='with --file: JSON {"camera": '
                              '"Zone"} of camera time zones (as `vigil generate` writes)')
FORMAT_OPTION = typer.Option(None, "--format", help="with --file: csv | ndjson | parquet "
                             "(default: from the file name)")
MAP_OPTION = typer.Option([], "--map", help="with --file: rename a column, COL=field "
                          "(repeatable)")
QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="no progress bar")

_OPTION_OF_FIELD = {"start": "--from", "from": "--from", "end": "--to", "to": "--to",
                    "attributes": "--attr", "group_by": "--group-by", "by": "--by",
                    "bucket": "--from/--to", "cameras": "--camera"}


@dataclass(frozen=True)
class Selection:
    """Which sessions to analyse and how to group the dwell table."""

    flt: AnalyticsFilter
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """Where the data comes from: a file read in memory, or the configured store."""

    file: Path | None = None
    db: str | None = None
    timezone: str | None = None
    cameras: Path | None = None
    fmt: str | None = None
    column_map: tuple[str, ...] = ()
    quiet: bool = False


@dataclass
class Loaded:
    """Analytics ready to answer, what they were computed from, and the file's report."""

    analytics: DwellAnalytics
    origin: str
    quality: dict[str, Any] | None


def option_of(field: str) -> str:
    """The command-line option an :class:`AnalyticsError` field stands for."""
    return _OPTION_OF_FIELD.get(field, "--" + field.replace("_", "-"))


@contextmanager
def user_errors() -> Iterator[None]:
    """Report a bad option value (an :class:`AnalyticsError`) and exit with code 2."""
    from vigil.dwell.filters import AnalyticsError

    try:
        yield
    except AnalyticsError as exc:
        fail(f"{option_of(exc.field)}: {exc}", 2)


def parse_moment(value: str, option: str) -> dt.date | dt.datetime:
    """A local day (``YYYY-MM-DD``) or an instant with a time zone."""
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: expected a day (YYYY-MM-DD) or a date-time with a zone "
             f"(2026-03-01T08:00Z), not {value!r}", 2)
    if moment.tzinfo is None:
        fail(f"{option}: {value!r} has no time zone; add one (Z or +01:00) or give a day", 2)
    return moment


def parse_attributes(items: list[str]) -> dict[str, str]:
    """``key=value`` pairs."""
    attributes: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--attr: expected key=value, not {item!r}", 2)
        attributes[key.strip()] = value
    return attributes


def selection(start: str | None, end: str | None, cameras: list[str], zone: str | None,
              person: str | None, attrs: list[str], by: str,
              group_by: list[str]) -> Selection:
    """The selection the options describe; a bad value exits with code 2."""
    from vigil.dwell.filters import AnalyticsFilter, check_dimensions

    bounds: dict[str, Any] = {}
    for value, option, day_key, instant_key in ((start, "--from", "start_date", "start"),
                                                (end, "--to", "end_date", "end")):
        if value is not None:
            moment = parse_moment(value, option)
            bounds[instant_key if isinstance(moment, dt.datetime) else day_key] = moment
    if by not in ("camera", "zone"):
        fail(f"--by: must be camera or zone, not {by!r}", 2)
    with user_errors():
        flt = AnalyticsFilter(**bounds, cameras=tuple(cameras), zone=zone, person=person,
                              attributes=parse_attributes(attrs),
                              by="zone" if by == "zone" else "camera")
        dims = check_dimensions(tuple(group_by))
    return Selection(flt, dims)


def read_zones(path: Path) -> dict[str, str]:
    """Camera time zones from a JSON object file."""
    from vigil.config import check_timezone

    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"--cameras: cannot read {path}: {exc}", 2)
    if not isinstance(mapping, dict):
        fail(f"--cameras: {path} must hold a JSON object mapping camera id to IANA zone", 2)
    try:
        return {str(camera): check_timezone(str(zone)) for camera, zone in mapping.items()}
    except ValueError as exc:
        fail(f"--cameras: {path}: {exc}", 2)


@contextmanager
def loaded(source: Source, quality_to_stderr: bool) -> Iterator[Loaded]:
    """The analytics of the file or of the configured store (closed afterwards); the
    file's quality report is printed (one line on stderr when ``quality_to_stderr``)."""
    from vigil.config import check_timezone
    from vigil.dwell.analytics import DwellAnalytics
    from vigil.dwell.filedata import load_file
    from vigil.ingest.columns import ColumnError, parse_column_map
    from vigil.ingest.files import FileOptions, IngestFileError

    settings = settings_for(source.db)
    try:
        zone = check_timezone(source.timezone) if source.timezone else None
    except ValueError as exc:
        fail(f"--timezone: {exc}", 2)
    default_zone = zone or settings.default_timezone
    if source.file is None:
        from vigil.dwell.service import store_analytics

        with opened_store(settings) as store:
            yield Loaded(store_analytics(store, default_zone), shown_url(store.url), None)
        return
    path = source.file
    zones = read_zones(source.cameras) if source.cameras else {}
    try:
        options = FileOptions(format=source.fmt, column_map=parse_column_map(
            list(source.column_map)), timezone=zone)
    except ColumnError as exc:
        fail(f"--map: {exc}", 2)
    try:
        data = _with_progress(path, source.quiet, lambda progress: load_file(
            path, options, zones, default_zone, progress=progress))
    except IngestFileError as exc:
        fail(f"{path}: {exc}")
    quality = data.report.to_dict()
    if quality_to_stderr:
        err_console.print(quality_line(quality))
    else:
        print_report(quality)
    end_quickly()
    reader = data.reader()
    try:
        yield Loaded(DwellAnalytics(reader, data.timezones, default_zone), str(path), quality)
    finally:
        reader.close()


def quality_line(report: dict[str, Any]) -> str:
    """A file's quality report in one line, with the first rejected line numbers."""
    text = (f"{report['source']}: {report['rows_read']:,} rows read, "
            f"{report['accepted']:,} accepted, {report['duplicates']:,} duplicates, "
            f"{report['rejected']:,} rejected")
    reasons = [f"{reason}: lines {', '.join(str(n) for n in info['lines'][:10])}"
               f"{' …' if info['count'] > 10 else ''}"
               for reason, info in report["rejected_by_reason"].items()]
    return text + (f" ({'; '.join(reasons)})" if reasons else "")


def analytics_document(analytics: DwellAnalytics, chosen: Selection,
                       limit: int | None = None) -> dict[str, Any]:
    """KPIs, the dwell table, visitors, hourly occupancy and the dwell histogram."""
    from vigil.dwell.report import HISTOGRAM_EDGES_MIN, visitor_totals

    flt, group_by = chosen.flt, chosen.group_by
    kpis = analytics.kpis(flt)
    visitors = analytics.visitors(flt, "day")
    edges = tuple(m * 60_000 for m in HISTOGRAM_EDGES_MIN)
    parts = {"dwell": analytics.dwell(flt, group_by, limit),
             "visitors": {**visitors, **visitor_totals(visitors)},
             "occupancy": analytics.occupancy(flt, "hour"),
             "histogram": analytics.histogram(flt, edges)}
    for part in parts.values():
        part.pop("filter", None)
    return {"filter": kpis["filter"], "kpis": kpis["kpis"], **parts}


def analytics_command(
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
    as_json: bool = typer.Option(False, "--json", help="print one JSON document on stdout "
                                 "(everything else goes to stderr)"),
    db: str | None = DB_OPTION,
) -> None:
    """Dwell times, occupancy, visitors and KPIs of the stored sessions, or of a file
    (`--file export.csv`, analysed in memory). Bad option values exit with code 2."""
    chosen = selection(start, end, cameras, zone, person, attrs, by, group_by)
    source = Source(file, db, timezone, camera_zones, fmt, tuple(column_map), quiet)
    with loaded(source, quality_to_stderr=as_json) as data, user_errors():
        document = analytics_document(data.analytics, chosen, limit)
    if as_json:
        if data.quality is not None:
            document["quality"] = data.quality
        sys.stdout.write(to_json({"source": data.origin, **document}) + "\n")
        return
    print_document(document, data.origin)


def print_document(document: dict[str, Any], origin: str) -> None:
    """The analytics for people: KPI panel, dwell table, visitors and peak occupancy."""
    from vigil.dwell.pairing import STATUSES
    from vigil.dwell.report import STATUS_LABELS, describe_filter, format_duration, peak_occupancy

    kpis = document["kpis"]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    rows = [("unique visitors", f"{kpis['unique_visitors']:,}"),
            ("events processed", f"{kpis['events_processed']:,}"),
            ("cameras with activity", f"{kpis['cameras_with_activity']:,}"),
            *((f"sessions {STATUS_LABELS[s]}", f"{kpis['sessions'][s]:,}") for s in STATUSES),
            ("average dwell per person", format_duration(kpis["average_dwell_per_person_ms"])),
            ("median dwell", format_duration(kpis["median_dwell_ms"])),
            ("max dwell", format_duration(kpis["max_dwell_ms"]))]
    for label, value in rows:
        grid.add_row(label, value)
    out_console.print(Panel(grid, title="Dwell analytics", title_align="left",
                            subtitle=describe_filter(document["filter"]), subtitle_align="left"))
    out_console.print(f"data: {origin}")
    out_console.print(dwell_rich_table(document["dwell"]))
    visitors = document["visitors"]
    out_console.print(f"visitors: {visitors['unique_visitors']:,} unique, "
                      f"{visitors['repeat_visitors']:,} repeat (2+ days), "
                      f"{visitors['new_visitors']:,} new (first visit in the selection), "
                      f"{visitors['returning_visitors']:,} returning (seen before it)")
    peak = peak_occupancy(document["occupancy"])
    if peak is None:
        out_console.print("peak occupancy: -")
    else:
        out_console.print(f"peak occupancy: {peak['max']:,} present in the hour from "
                          f"{peak['bucket_start']} (mean {peak['mean']:.1f}; "
                          f"{document['occupancy']['timezone']})")


def dwell_rich_table(dwell: dict[str, Any]) -> Table:
    """The dwell statistics per group (p90 and totals are in the --json output)."""
    from vigil.dwell.filters import ATTRIBUTE_PREFIX
    from vigil.dwell.pairing import STATUSES
    from vigil.dwell.report import dimension_label, format_duration

    dims = list(dwell["group_by"])
    shown, total = len(dwell["rows"]), dwell["total_groups"]
    caption = f"{shown:,} of {total:,} groups (--limit)" if total > shown else None
    table = Table(title=f"dwell per {', '.join(dims) or 'all'}", title_justify="left",
                  caption=caption, box=box.SIMPLE_HEAD, padding=0,
                  pad_edge=False)
    for dim in dims:
        table.add_column(dim.removeprefix(ATTRIBUTE_PREFIX), no_wrap=True)
    for header in ("complete", "open", "timed\nout", "orphan\nexits", "persons", "mean",
                   "median", "max"):
        table.add_column(header, justify="right", no_wrap=True)
    for row in dwell["rows"]:
        table.add_row(*(dimension_label(d, row[d]) for d in dims),
                      *(f"{row[s]:,}" for s in STATUSES), f"{row['persons']:,}",
                      *(format_duration(row[k]) for k in ("mean_ms", "median_ms", "max_ms")))
    return table

