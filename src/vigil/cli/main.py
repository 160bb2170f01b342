"""The ``vigil`` command: assembles the sub-commands."""

from __future__ import annotations

import logging

import typer

from vigil import __version__
from vigil.cli import alerts, anomalies, baselines, cameras, keys, rollup, sessions
from vigil.cli.analytics import analytics_command
from vigil.cli.common import DB_OPTION, open_or_fail, out_console, settings_for, shown_url
from vigil.cli.demo import demo_command
from vigil.cli.generate import generate_command
from vigil.cli.ingest import ingest_command
from vigil.cli.report import report_command
from vigil.cli.serve import serve_command
from vigil.cli.transfer import export_command, import_command
from vigil.store.migrations.runner import HEAD_REVISION

app = typer.Typer(help="Vigil: behavioural analytics over camera and smart-home events.",
                  no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode="markdown")
app.command("ingest")(ingest_command)
app.command("generate")(generate_command)
app.command("serve")(serve_command)
app.command("demo")(demo_command)
app.command("export")(export_command)
app.command("import")(import_command)
app.command("analytics")(analytics_command)
app.command("report")(report_command)
app.add_typer(cameras.app, name="cameras")
app.add_typer(keys.app, name="keys")
app.add_typer(baselines.app, name="baselines")
app.add_typer(anomalies.app, name="anomalies")
app.add_typer(alerts.app, name="alerts")
app.add_typer(sessions.app, name="sessions")
app.add_typer(rollup.app, name="rollup")


@app.command("migrate")
def migrate_command(db: str | None = DB_OPTION) -> None:
    """Apply schema migrations (opening the store does this too)."""
    store = open_or_fail(settings_for(db))
    store.close()
    out_console.print(f"{shown_url(store.url)}: schema is at revision {HEAD_REVISION} (newest)")


@app.command("version")
def version_command() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point of the ``vigil`` script."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
