"""``vigil ingest``: load CSV, NDJSON, Parquet or Home Assistant files with a quality
report."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.table import Table

from vigil.cli.anomalies import detect_new, start_detection
from vigil.cli.common import DB_OPTION, err_console, fail, open_or_fail, out_console, settings_for
from vigil.cli.jsonout import to_json

if TYPE_CHECKING:
    from vigil.ingest.files import Progress as ProgressFn
    from vigil.store import Store


def ingest_command(
    paths: list[Path] = typer.Argument(..., help="CSV, NDJSON, Parquet or Home Assistant "
                                       "files"),
    fmt: str | None = typer.Option(None, "--format", help="csv | ndjson | parquet | ha-events "
                                   "(NDJSON of Home Assistant state_changed events) | "
                                   "ha-history (History panel CSV export); default: from the "
                                   "file name"),
    areas_file: Path | None = typer.Option(None, "--areas", help="area mapping: CSV "
                                           "'entity_id,area' or JSON {entity_id: area}; sets "
                                           "each source's area and the zone of Home Assistant "
                                           "events without an area attribute"),
    column_map: list[str] = typer.Option([], "--map", help="rename a column: COL=field "
                                         "(repeatable), e.g. --map cam=camera_id"),
    timestamp_format: str | None = typer.Option(None, "--timestamp-format",
                                                help="strftime format, e.g. '%d/%m/%Y %H:%M'"),
    timezone: str | None = typer.Option(None, "--timezone",
                                        help="IANA zone of timestamps written without one"),
    as_json: bool = typer.Option(False, "--json", help="print the quality report as JSON on "
                                 "stdout (everything else goes to stderr)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    server: str | None = typer.Option(None, "--server", help="send the files to a running "
                                      "`vigil serve` at this URL instead of opening the "
                                      "database (e.g. http://127.0.0.1:8000)"),
    api_key: str | None = typer.Option(None, "--api-key", envvar="VIGIL_API_KEY",
                                       help="key for --server (or $VIGIL_API_KEY)"),
    detect: bool = typer.Option(True, "--detect/--no-detect", help="score the new events "
                                "for anomalies after each file (default on; "
                                "$VIGIL_DETECT_ANOMALIES=false turns it off)"),
    db: str | None = DB_OPTION,
) -> None:
    """Ingest event files; prints a data quality report for each, then scores the new
    events for anomalies.

    Exits 0 when every file was processed (rows may still have been rejected: see the
    report), 1 when a file could not be read at all.
    """
    from vigil.config import check_timezone
    from vigil.ingest.columns import ColumnError, parse_column_map
    from vigil.ingest.files import FileOptions, ingest_file

    try:
        options = FileOptions(
            format=fmt, column_map=parse_column_map(column_map),
            timestamp_format=timestamp_format,
            timezone=check_timezone(timezone) if timezone else None,
            areas=_read_areas(areas_file) if areas_file else {},
        )
    except (ColumnError, ValueError) as exc:
        fail(str(exc), 2)
    if server:
        from vigil.cli.remote import RemoteError, upload_and_wait

        try:
            if options.areas:
                _put_areas(server, api_key, options.areas)
            reports, failed = _each_file(paths, as_json, lambda path: _with_progress(
                path, quiet, lambda progress: upload_and_wait(server, api_key, path, options,
                                                              progress)))
        except RemoteError as exc:
            fail(str(exc))
    else:
        from vigil.store import is_postgres_url

        settings = settings_for(db)
        store = open_or_fail(settings)
        options = replace(options, overlap_inserts=is_postgres_url(store.url))
        detect = detect and settings.detect_anomalies
        detector = start_detection(store, settings) if detect else None

        def one_file(path: Path) -> dict[str, Any]:
            return _with_progress(path, quiet, lambda progress: ingest_file(
                path, store.insert_events, options, progress).to_dict())

        def score() -> None:
            err_console.print(detect_new(detector))

        try:
            if options.areas:
                _set_areas(store, options.areas)
            reports, failed = _each_file(paths, as_json, one_file, score if detect else None)
        finally:
            store.close()
    if as_json:
        sys.stdout.write(to_json(reports[0] if len(reports) == 1 else reports) + "\n")
    if failed:
        raise typer.Exit(1)


def _read_areas(path: Path) -> dict[str, str | None]:
    """The area mapping of ``--areas`` (raises ``ValueError`` saying what is wrong)."""
    from vigil.ingest.areas import read_area_mapping

    return read_area_mapping(path)


def _set_areas(store: Store, areas: dict[str, str | None]) -> None:
    """Set the areas of the mapping's sources, all or none."""
    with store.transaction():
        for source_id, area in areas.items():
            store.set_source_area(source_id, area)
    err_console.print(f"set the area of {len(areas):,} source(s)")


def _put_areas(server: str, api_key: str | None, areas: dict[str, str | None]) -> None:
    """Set the areas through a running service (``PUT /api/v1/cameras/{id}``)."""
    from urllib.parse import quote

    import httpx

    from vigil.cli.remote import RemoteError

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=60) as client:
        for source_id, area in areas.items():
            try:
                answer = client.put(f"/api/v1/cameras/{quote(source_id, safe='')}",
                                    json={"area": area})
            except httpx.HTTPError as exc:
                raise RemoteError(f"cannot reach {server}: {exc}") from exc
            if answer.status_code != 200:
                raise RemoteError(f"setting the area of {source_id}: server answered "
                                  f"{answer.status_code}: {answer.text[:200]}")
    err_console.print(f"set the area of {len(areas):,} source(s)")


def _each_file(paths: list[Path], as_json: bool, ingest_one: Callable[[Path], dict[str, Any]],
               after_each: Callable[[], None] | None = None
               ) -> tuple[list[dict[str, Any]], bool]:
    """Ingest every path; a file that cannot be read is reported and the rest go on.
    ``after_each`` runs after each file's report (the anomaly detector)."""
    from vigil.ingest.files import IngestFileError

    reports: list[dict[str, Any]] = []
    failed = False
    for path in paths:
        try:
            report = ingest_one(path)
        except IngestFileError as exc:
            err_console.print(f"[bold red]error:[/] {path}: {exc}")
            reports.append({"source": str(path), "error": str(exc)})
            failed = True
            continue
        reports.append(report)
        if not as_json:
            print_report(report)
        if after_each is not None:
            after_each()
    return reports, failed


T = TypeVar("T")


def _with_progress(path: Path, quiet: bool, run: Callable[[ProgressFn | None], T]) -> T:
    """``run(progress)`` with a progress bar (bytes, rows, rate, ETA) on a terminal."""
    if quiet or not err_console.is_terminal:
        return run(None)
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    total = path.stat().st_size if path.is_file() else None
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
        DownloadColumn(), TransferSpeedColumn(), TextColumn("{task.fields[rows]:,} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"), TimeRemainingColumn(),
        console=err_console, transient=False,
    ) as bar:
        task = bar.add_task(path.name, total=total, rows=0, rate=0.0)

        def progress(done: int, rows: int) -> None:
            elapsed = bar.tasks[task].elapsed or 0.0
            bar.update(task, completed=done, rows=rows,
                       rate=rows / elapsed if elapsed > 0 else 0.0)

        return run(progress)


def print_report(data: dict[str, Any]) -> None:
    """A quality report (as from ``QualityReport.to_dict``), for people."""
    out_console.print(f"[bold]{data['source']}[/]: {data['rows_read']:,} rows read, "
                      f"[green]{data['accepted']:,} accepted[/], "
                      f"{data['duplicates']:,} duplicates, "
                      f"[red]{data['rejected']:,} rejected[/]")
    span = data["time_range"]
    if span["first"]:
        out_console.print(f"  time range: {span['first']} .. {span['last']}")
    formats = ", ".join(f"{k} {v:,}" for k, v in data["timestamp_formats"].items())
    out_console.print(f"  timestamp formats: {formats or '-'}")
    if data["blank_lines"] or data["padded_rows"]:
        out_console.print(f"  blank lines skipped: {data['blank_lines']:,}; short rows padded: "
                          f"{data['padded_rows']:,}")
    if data["rejected_by_reason"]:
        table = Table("reason", "count", "first lines", title="rejected rows", title_justify="left")
        for reason, info in data["rejected_by_reason"].items():
            lines = ", ".join(str(n) for n in info["lines"][:10])
            more = " …" if info["count"] > 10 else ""
            table.add_row(f"{reason}: {info['message']}", f"{info['count']:,}", lines + more)
        out_console.print(table)
    sources = ", ".join(f"{k} {v:,}" for k, v in data["per_source"].items())
    out_console.print(f"  per source: {sources or '-'}")
