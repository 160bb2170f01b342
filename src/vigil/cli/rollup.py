"""``vigil rollup``: run the rollup jobs by hand, and build history for imported data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.table import Table

from vigil.cli.common import DB_OPTION, err_console, fail, opened_store, out_console, settings_for
from vigil.cli.jsonout import to_json

if TYPE_CHECKING:
    from vigil.config import Settings
    from vigil.rollup.aggregates import AggregateStore
    from vigil.rollup.jobreport import JobReport
    from vigil.store.base import Store

__all__ = ["JOBS", "PATTERNS_JOB", "RUNNABLE", "app", "parse_date"]

USAGE_ERROR = 2
JOBS = ("daily", "weekly", "monthly", "retention")
"""The rollup jobs (``vigil.rollup.periods.ROLLUP_JOBS``) and retention; spelled out here so
that the command's help needs no import of the rollup package."""
PATTERNS_JOB = "patterns"
"""Pattern detection from the daily summaries, runnable here like the scheduled jobs."""
RUNNABLE = (*JOBS[:3], PATTERNS_JOB, JOBS[3])
T = TypeVar("T")
app = typer.Typer(help="Rollup jobs: daily, weekly and monthly aggregates from the hourly "
                  "counts, with a runs ledger.", no_args_is_help=True,
                  rich_markup_mode="markdown")

JSON_OPTION = typer.Option(False, "--json", help="print the report as JSON")


def parse_date(text: str | None, option: str) -> dt.date | None:
    """``YYYY-MM-DD`` as a date (``None`` stays ``None``); a bad one exits with code 2."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option}: {text!r} is not a date (YYYY-MM-DD)", USAGE_ERROR)


@app.command("run")
def run_command(
    job: str = typer.Argument(..., help=f"the job: {' | '.join(RUNNABLE)}"),
    date: str | None = typer.Option(None, "--date", help="(re)process just the period "
                                    "holding this local day (YYYY-MM-DD); default: catch up "
                                    "on every complete period that is pending (patterns: "
                                    "the window's last day; default the last complete day)"),
    max_periods: int = typer.Option(400, "--max-periods", min=1,
                                    help="at most this many periods when a rollup "
                                    "catches up"),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Run one job now: a rollup catches up (new and dirty periods), or redoes one period
    with --date; `patterns` detects patterns from the daily summaries; `retention` purges
    every layer past its retention."""
    if job not in RUNNABLE:
        fail(f"JOB: unknown job {job!r}; choose one of {', '.join(RUNNABLE)}", USAGE_ERROR)
    from vigil.rollup.jobs import run_rollup

    period = parse_date(date, "--date")
    if job == "retention" and period is not None:
        fail("--date: retention has no periods; it purges what is past its retention",
             USAGE_ERROR)
    now = dt.datetime.now(dt.UTC)
    settings = settings_for(db)
    with _stores(settings) as (store, aggregates):
        if job == "retention":
            report = _guarded(job, lambda: _retention(settings, store, aggregates, now))
        elif job == PATTERNS_JOB:
            report = _guarded(job, lambda: _patterns(store, aggregates, period, now))
        else:
            report = _guarded(job, lambda: run_rollup(job, store, aggregates, now=now,
                                                      period=period,
                                                      max_periods=max_periods))
    _show([report], as_json)


def _retention(settings: Settings, store: Store, aggregates: AggregateStore,
               now: dt.datetime) -> JobReport:
    from vigil.rollup.retention import RetentionPolicy, run_retention

    return run_retention(store, aggregates, RetentionPolicy.from_settings(settings), now=now,
                         batch_size=settings.retention_batch_size)


def _patterns(store: Store, aggregates: AggregateStore, end: dt.date | None,
              now: dt.datetime) -> JobReport:
    from vigil.rollup.jobs import due_cutoff
    from vigil.rollup.service_jobs import run_patterns

    last = end if end is not None else due_cutoff(store, now) - dt.timedelta(days=1)
    return run_patterns(store, aggregates, last, now)


@app.command("backfill")
def backfill_command(
    start: str = typer.Option(..., "--from", help="first local day (YYYY-MM-DD)"),
    end: str = typer.Option(..., "--to", help="last local day, inclusive (YYYY-MM-DD)"),
    as_json: bool = JSON_OPTION,
    db: str | None = DB_OPTION,
) -> None:
    """Build the daily, weekly and monthly history of a range of local days (e.g. after an
    import): every complete period with events is processed again."""
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    assert first is not None and last is not None
    if first > last:
        fail(f"--from {first} is after --to {last}", USAGE_ERROR)
    now = dt.datetime.now(dt.UTC)
    from vigil.rollup.jobs import backfill

    def progress(job: str, done: int, total: int) -> None:
        err_console.print(f"{job}: {done}/{total} period(s)")

    with _stores(settings_for(db)) as (store, aggregates):
        reports = _guarded("backfill", lambda: backfill(store, aggregates, first, last,
                                                        now=now, progress=progress))
    _show(reports, as_json)


@contextmanager
def _stores(settings: Settings) -> Iterator[tuple[Store, AggregateStore]]:
    """The configured store and aggregate store (or exit with a clear message)."""
    from vigil.rollup.aggregates import configured_aggregate_store

    with opened_store(settings) as store:
        try:
            aggregates = configured_aggregate_store(settings, store)
        except ValueError as exc:
            fail(f"aggregates setting: {exc}")
        try:
            yield store, aggregates
        finally:
            aggregates.close()


def _guarded(what: str, work: Callable[[], T]) -> T:
    """Run a job; a failure exits with its reason (the ledger is left unchanged)."""
    from vigil.rollup.aggregates import AggregateStoreError

    try:
        return work()
    except (AggregateStoreError, ValueError) as exc:
        fail(f"{what} failed: {exc} (the ledger is unchanged; run it again)")


def _show(reports: list[JobReport], as_json: bool) -> None:
    if as_json:
        body = [report.as_dict() for report in reports]
        typer.echo(to_json(body[0] if len(body) == 1 else body))
        return
    table = Table("job", "periods", "first", "last", "rows written", "seconds", "done")
    for report in reports:
        first = report.periods[0].isoformat() if report.periods else "-"
        last = report.periods[-1].isoformat() if report.periods else "-"
        table.add_row(report.job, str(len(report.periods)), first, last,
                      f"{report.rows_written:,}", f"{report.duration_s:.2f}",
                      "yes" if report.done else "no")
    out_console.print(table)
    for report in reports:
        for note in report.notes:
            out_console.print(f"note ({report.job}): {note}")
