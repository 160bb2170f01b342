"""``vigil anomalies``: list anomalies, acknowledge them or mark false positives, and score
events that were stored without being scored."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from vigil.cli.common import DB_OPTION, fail, opened_store, out_console, settings_for
from vigil.cli.jsonout import to_json

if TYPE_CHECKING:
    from vigil.config import Settings
    from vigil.monitor.runner import CycleReport, DetectionRunner
    from vigil.store import Store

app = typer.Typer(help="Anomalies: what was unusual, and why.", invoke_without_command=True,
                  rich_markup_mode="markdown")
TYPES = ("rare_time", "novel_object", "spike", "silence")


def _choice(value: str | None, allowed: tuple[str, ...] | list[str], name: str) -> str | None:
    if value is not None and value not in allowed:
        fail(f"{name} must be one of {', '.join(allowed)}, not {value!r}", 2)
    return value


@app.callback()
def list_command(
    ctx: typer.Context,
    source: str | None = typer.Option(None, "--source", help="only this source"),
    kind: str | None = typer.Option(None, "--type", help="rare_time | novel_object | spike | "
                                    "silence"),
    severity: str | None = typer.Option(None, "--severity", help="at least: low | medium | "
                                        "high"),
    status: str | None = typer.Option(None, "--status", help="open | acknowledged | "
                                      "false_positive"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="how many, newest first"),
    as_json: bool = typer.Option(False, "--json", help="print them as JSON"),
    db: str | None = DB_OPTION,
) -> None:
    """The newest anomalies (`vigil anomalies --json` for every field)."""
    if ctx.invoked_subcommand is not None:
        return
    from vigil.store.anomalies import ANOMALY_STATUSES, SEVERITY_ORDER, AnomalyFilter

    flt = AnomalyFilter(sources=(source,) if source else (),
                        anomaly_type=_choice(kind, TYPES, "--type"),
                        min_severity=_choice(severity, list(SEVERITY_ORDER), "--severity"),
                        status=_choice(status, ANOMALY_STATUSES, "--status"))
    with opened_store(settings_for(db)) as store:
        found = store.list_anomalies(flt, limit)
    if as_json:
        typer.echo(to_json(found))
        return
    if not found:
        out_console.print("no anomalies")
        return
    out_console.print(_table(found))


def _table(anomalies: list[dict[str, Any]]) -> Table:
    table = Table("id", "when (UTC)", "source", "type", "severity", "score", "status",
                  "explanation")
    for a in anomalies:
        table.add_row(str(a["anomaly_id"]), a["window_start"].strftime("%Y-%m-%d %H:%M"),
                      a["source_id"], a["type"], a["severity"], f"{a['score']:.3f}",
                      a["status"], a["explanation"])
    return table


def _set_status(anomaly_id: int, status: str, db: str | None) -> None:
    with opened_store(settings_for(db)) as store:
        updated = store.set_anomaly_status(anomaly_id, status, dt.datetime.now(dt.UTC))
    if updated is None:
        fail(f"no anomaly {anomaly_id}")
    out_console.print(f"anomaly {anomaly_id} is now {status}")


@app.command("ack")
def ack_command(anomaly_id: int = typer.Argument(..., help="the anomaly's id"),
                db: str | None = DB_OPTION) -> None:
    """Mark an anomaly seen."""
    _set_status(anomaly_id, "acknowledged", db)


@app.command("false-positive")
def false_positive_command(anomaly_id: int = typer.Argument(..., help="the anomaly's id"),
                           db: str | None = DB_OPTION) -> None:
    """Mark an anomaly a false positive: the same pattern at that source is not flagged
    again unless it comes back more severe."""
    _set_status(anomaly_id, "false_positive", db)


@app.command("scan")
def scan_command(db: str | None = DB_OPTION) -> None:
    """Score the stored events the detector has not seen yet (normally done by `vigil ingest`
    and `vigil serve` as events arrive) and close finished hours."""
    settings = settings_for(db)
    with opened_store(settings) as store:
        report = scan(store, settings)
    if report is None:
        fail("another process (a running `vigil serve`) is scoring this database")
    out_console.print(summary(report))


def scan(store: Store, settings: Settings) -> CycleReport | None:
    """One catch-up pass of the detector; ``None`` when another process holds the role."""
    from vigil.monitor.runner import utc_now

    runner = start_detection(store, settings)
    return None if runner is None else runner.run_once(utc_now())


def start_detection(store: Store, settings: Settings) -> DetectionRunner | None:
    """A primed detector for this command, or ``None`` when another process (a running
    service on the same PostgreSQL database) scores the events."""
    from vigil.monitor.runner import utc_now
    from vigil.monitor.service import detection_runner

    if not store.claim_role("detector"):
        return None
    runner = detection_runner(settings, store)
    runner.prime(utc_now())
    return runner


def detect_new(runner: DetectionRunner | None) -> str:
    """Score what was stored since the last call; one line saying what was found."""
    from vigil.monitor.runner import utc_now

    if runner is None:
        return "anomalies: the running service scores the new events"
    return summary(runner.run_once(utc_now()))


def summary(report: CycleReport) -> str:
    """One line about a detector pass."""
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.by_type.items()) if n)
    text = f"scored {report.events:,} events: {report.new:,} new anomalies"
    if kinds:
        text += f" ({kinds})"
    if report.alerts:
        text += f"; {report.alerts:,} alerts queued (`vigil serve` delivers them)"
    return text
