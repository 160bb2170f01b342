"""``vigil patterns``: list the stored behaviour patterns, and detect them now.

Detection reads the daily summaries the daily rollup job writes (one per day and detector,
from that day's raw events); ``vigil patterns detect`` does not summarise days itself. With
no summaries in the window it stores nothing and says to run ``vigil rollup run daily``
(or ``vigil rollup backfill`` for imported history) first.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Column, Table

from vigil.cli.common import DB_OPTION, fail, opened_store, out_console, settings_for
from vigil.cli.jsonout import to_json
from vigil.cli.rollup import parse_date

if TYPE_CHECKING:
    from vigil.config import Settings
    from vigil.patterns.base import DetectOptions
    from vigil.patterns.service import PatternRun
    from vigil.store import Store

__all__ = ["TYPES", "app"]

USAGE_ERROR = 2
TYPES = ("time_of_day", "cooccurrence", "sequence", "duration", "session", "area", "day_type",
         "seasonal")
"""The detectors (``vigil.patterns.registry.DETECTOR_MODULES``), spelled out for the help."""

app = typer.Typer(help="Behaviour patterns: routines found in the daily summaries of the "
                  "event log.", invoke_without_command=True, rich_markup_mode="markdown")


@app.callback()
def list_command(
    ctx: typer.Context,
    kind: str | None = typer.Option(None, "--type", help=" | ".join(TYPES)),
    entity: str | None = typer.Option(None, "--entity", help="only patterns involving this "
                                      "entity (e.g. light.kitchen)"),
    min_confidence: float | None = typer.Option(None, "--min-confidence", min=0.0, max=1.0,
                                                help="only patterns at least this confident"),
    as_json: bool = typer.Option(False, "--json", help="print them as JSON"),
    db: str | None = DB_OPTION,
) -> None:
    """The stored patterns of the latest detection, most confident first."""
    if ctx.invoked_subcommand is not None:
        return
    if kind is not None and kind not in TYPES:
        fail(f"--type must be one of {', '.join(TYPES)}, not {kind!r}", USAGE_ERROR)
    with opened_store(settings_for(db)) as store:
        found = store.list_patterns(type=kind, entity=entity or None,
                                    min_confidence=min_confidence)
    if as_json:
        typer.echo(to_json({"patterns": found, "count": len(found)}))
        return
    if not found:
        out_console.print("no patterns stored (they are detected daily; "
                          "`vigil patterns detect` runs detection now)")
        return
    out_console.print(_table(found))


def _table(patterns: list[dict[str, Any]]) -> Table:
    """One row per pattern; the description names the entities, and the first/last day
    seen are stacked, so the description keeps the room in a narrow terminal (``--json``
    has every field)."""
    table = Table(Column("conf.", no_wrap=True), Column("type", no_wrap=True),
                  Column("description", ratio=1), Column("seen", no_wrap=True))
    for p in patterns:
        table.add_row(f"{p['confidence']:.2f}", p["type"], p["description"],
                      f"{p['first_seen'].isoformat()}\n{p['last_seen'].isoformat()}")
    return table


@app.command("detect")
def detect_command(
    date: str | None = typer.Option(None, "--date", help="the window's last local day "
                                    "(YYYY-MM-DD); default: the last day complete in every "
                                    "source's zone, or the newest day rolled up if earlier"),
    window_days: int | None = typer.Option(None, "--window-days", min=1, max=3660,
                                           help="days the window covers (default 30; a "
                                           "detector may look back further)"),
    raw: bool = typer.Option(False, "--raw", help="detect from the raw events of the "
                             "window instead of the daily summaries (for checking)"),
    as_json: bool = typer.Option(False, "--json", help="print the run as JSON"),
    db: str | None = DB_OPTION,
) -> None:
    """Detect patterns now and store them in place of the previous ones. Reads the daily
    summaries the daily rollup writes: run `vigil rollup run daily` first if there are
    none (or `vigil rollup backfill` for imported history)."""
    from vigil.patterns.base import DetectOptions
    from vigil.patterns.service import save_run

    end = parse_date(date, "--date")
    options = DetectOptions() if window_days is None else DetectOptions(window_days=window_days)
    now = dt.datetime.now(dt.UTC)
    settings = settings_for(db)
    with opened_store(settings) as store:
        if end is None:
            from vigil.rollup.service_jobs import patterns_window_end

            end = patterns_window_end(store, now)
        run = _detect(settings, store, end, options, raw)
        if not run.read:
            fail(f"no {'raw events' if raw else 'daily summaries'} in the window {run.start} "
                 f"to {run.end}: nothing detected, the stored patterns are unchanged"
                 + ("" if raw else "; run `vigil rollup run daily` first (or `vigil rollup "
                    "backfill --from … --to …` for imported history)"))
        run = save_run(store, run, now)
    _show(run, as_json)


def _detect(settings: Settings, store: Store, end: dt.date, options: DetectOptions,
            raw: bool) -> PatternRun:
    """Detection from the raw events, or from the daily summaries in the configured
    aggregate store."""
    from vigil.patterns.service import detect_from_summaries, detect_patterns_raw
    from vigil.rollup.aggregates import AggregateStoreError, configured_aggregate_store

    if raw:
        return detect_patterns_raw(store, end, options)
    try:
        aggregates = configured_aggregate_store(settings, store)
    except ValueError as exc:
        fail(f"aggregates setting: {exc}")
    try:
        return detect_from_summaries(aggregates, end, options)
    except AggregateStoreError as exc:
        fail(f"reading the daily summaries failed: {exc}")
    finally:
        aggregates.close()


def _show(run: PatternRun, as_json: bool) -> None:
    if as_json:
        typer.echo(to_json(run.as_dict()))
        return
    table = Table("type", "patterns")
    for name, count in run.counts.items():
        table.add_row(name, str(count))
    out_console.print(table)
    out_console.print(f"{len(run.patterns)} pattern(s) stored from the {run.source} of "
                      f"{run.start} to {run.end} ({run.read:,} read) in "
                      f"{run.duration_s:.2f} s")
