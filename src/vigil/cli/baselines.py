"""``vigil baselines``: show what is normal for each source; rebuild the hourly counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer
from rich.table import Table

from vigil.cli.common import DB_OPTION, fail, opened_store, out_console, settings_for
from vigil.cli.jsonout import to_json

app = typer.Typer(help="Activity baselines: what is normal for each source.",
                  no_args_is_help=True, rich_markup_mode="markdown")


@app.command("show")
def show_baselines(
    source: str | None = typer.Argument(None, help="one source (default: all)"),
    weeks: int | None = typer.Option(None, "--weeks", min=1, help="window in weeks (default 8)"),
    half_life: float | None = typer.Option(None, "--half-life", min=0.001,
                                           help="weigh older hours down (days)"),
    as_json: bool = typer.Option(False, "--json", help="print the baselines as JSON"),
    db: str | None = DB_OPTION,
) -> None:
    """The baseline of each source as of now: status, events per day, peak and quiet hours,
    dominant object type (`--json` for every field)."""
    from vigil.baseline import all_baselines, baseline_config, baseline_for

    settings = settings_for(db)
    config = baseline_config(settings, window_weeks=weeks, half_life_days=half_life)
    as_of = dt.datetime.now(dt.UTC)
    with opened_store(settings) as store:
        if source is None:
            baselines = all_baselines(store, as_of, config)
        else:
            found = baseline_for(store, source, as_of, config)
            if found is None:
                fail(f"no source {source!r}")
            baselines = [found]
    if as_json:
        typer.echo(to_json(baselines if source is None else baselines[0]))
        return
    out_console.print(_table(baselines))


def _table(baselines: list[dict[str, Any]]) -> Table:
    table = Table("source", "status", "events", "per day", "dominant", "peak hours",
                  "quiet hours")
    for b in baselines:
        table.add_row(b["source_id"], b["status"], f"{b['total_events']:,}",
                      f"{b['average_events_per_day']:,}", b["dominant_object_type"] or "-",
                      _hours(b["peak_hours"]), _hours(b["quiet_hours"]))
    return table


def _hours(hours: list[int]) -> str:
    return ", ".join(f"{h:02d}" for h in hours) or "-"


@app.command("rebuild")
def rebuild(source: str | None = typer.Option(None, "--source", help="only this source"),
            db: str | None = DB_OPTION) -> None:
    """Recompute the hourly counts (what baselines are made of) from the event log."""
    with opened_store(settings_for(db)) as store:
        if source is not None and store.get_source(source) is None:
            fail(f"no source {source!r}")
        rows = store.rebuild_hourly_counts(source)
    out_console.print(f"rebuilt {rows:,} hourly-count rows"
                      + (f" of {source}" if source else ""))
