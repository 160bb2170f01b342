"""``vigil alerts``: alert rules and the delivery log."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import typer
from rich.table import Table

from vigil.cli.common import DB_OPTION, fail, opened_store, out_console, settings_for
from vigil.cli.jsonout import to_json

app = typer.Typer(help="Alert rules and deliveries.", no_args_is_help=True,
                  rich_markup_mode="markdown")
rules_app = typer.Typer(help="Alert rules: which anomalies are sent where.",
                        no_args_is_help=True, rich_markup_mode="markdown")
app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def list_rules(as_json: bool = typer.Option(False, "--json", help="print them as JSON"),
               db: str | None = DB_OPTION) -> None:
    """Every alert rule."""
    with opened_store(settings_for(db)) as store:
        rules = store.list_alert_rules()
    if as_json:
        typer.echo(to_json(rules))
        return
    table = Table("id", "name", "min severity", "types", "sources", "labels", "sinks")
    for r in rules:
        table.add_row(r["rule_id"], r["name"], r["min_severity"], _listed(r.get("types")),
                      _listed(r.get("sources")), _listed(r.get("labels")),
                      _listed(r.get("sinks")))
    out_console.print(table if rules else "no alert rules")


def _listed(values: Any) -> str:
    return ", ".join(values) if values else "all"


@rules_app.command("add")
def add_rule(definition: str = typer.Argument(..., help="the rule as JSON, e.g. "
                                              "'{\"name\": \"night\", \"min_severity\": "
                                              "\"high\", \"schedule\": {\"hours\": \"22-6\"}}'"),
             db: str | None = DB_OPTION) -> None:
    """Add (or replace, when `rule_id` is given and exists) an alert rule."""
    from vigil.anomaly.rules import RuleError, rule_from_dict, rule_to_dict

    try:
        data = json.loads(definition)
    except json.JSONDecodeError as exc:
        fail(f"the rule is not valid JSON: {exc}", 2)
    if not isinstance(data, dict):
        fail("the rule must be a JSON object", 2)
    data.setdefault("rule_id", uuid.uuid4().hex[:12])
    try:
        rule = rule_to_dict(rule_from_dict(data))
    except RuleError as exc:
        fail(str(exc), 2)
    with opened_store(settings_for(db)) as store:
        new = store.save_alert_rule(rule["rule_id"], rule, dt.datetime.now(dt.UTC))
    out_console.print(f"{'added' if new else 'replaced'} alert rule {rule['rule_id']}")


@rules_app.command("remove")
def remove_rule(rule_id: str = typer.Argument(..., help="the rule's id"),
                db: str | None = DB_OPTION) -> None:
    """Delete an alert rule."""
    with opened_store(settings_for(db)) as store:
        removed = store.delete_alert_rule(rule_id)
    if not removed:
        fail(f"no alert rule {rule_id!r}")
    out_console.print(f"removed alert rule {rule_id}")


@app.command("deliveries")
def deliveries(status: str | None = typer.Option(None, "--status",
                                                  help="pending | delivered | failed"),
               limit: int = typer.Option(50, "--limit", min=1, max=10_000),
               as_json: bool = typer.Option(False, "--json", help="print them as JSON"),
               db: str | None = DB_OPTION) -> None:
    """The alert delivery log, newest first."""
    if status is not None and status not in ("pending", "delivered", "failed"):
        fail("--status must be pending, delivered or failed", 2)
    with opened_store(settings_for(db)) as store:
        found = store.list_deliveries(status, limit)
    if as_json:
        typer.echo(to_json(found))
        return
    table = Table("id", "anomaly", "rule", "sink", "status", "attempts", "last error")
    for d in found:
        table.add_row(str(d["delivery_id"]), str(d["anomaly_id"]), d["rule_id"], d["sink"],
                      d["status"], str(d["attempts"]), d["last_error"] or "")
    out_console.print(table if found else "no deliveries")
