"""The ``vigil`` command: assembles the sub-commands.

The command modules import their heavy dependencies (the store, the API server, the
analytics engines) only when one of their commands runs, so ``vigil --help`` and
``vigil version`` start fast."""

from __future__ import annotations

import atexit
import logging
import os
import sys

import typer

from vigil import __version__
from vigil.cli import alerts, anomalies, baselines, cameras, keys, patterns, rollup, sessions
from vigil.cli.analytics import analytics_command
from vigil.cli.common import (
    DB_OPTION,
    ends_quickly,
    open_or_fail,
    out_console,
    settings_for,
    shown_url,
)
from vigil.cli.demo import demo_command
from vigil.cli.generate import generate_command
from vigil.cli.ingest import ingest_command
from vigil.cli.report import report_command
from vigil.cli.serve import serve_command
from vigil.cli.transfer import export_command, import_command

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
app.add_typer(patterns.app, name="patterns")


@app.command("migrate")
def migrate_command(db: str | None = DB_OPTION) -> None:
    """Apply schema migrations (opening the store does this too)."""
    from vigil.store.migrations.runner import HEAD_REVISION

    store = open_or_fail(settings_for(db))
    store.close()
    out_console.print(f"{shown_url(store.url)}: schema is at revision {HEAD_REVISION} (newest)")


@app.command("version")
def version_command() -> None:
    """Print the version."""
    typer.echo(__version__)


ARROW_POOL_SETTING = "ARROW_DEFAULT_MEMORY_POOL"
ARROW_POOL = "jemalloc"
"""Arrow's allocator for the ``vigil`` process (unless the variable is set already): with
jemalloc, memory freed between the steps of a large file is reused instead of being
handed back and faulted in again, which took a sixth of a 10M-row ``vigil analytics
--file`` run in system time."""


def main() -> None:
    """Entry point of the ``vigil`` script."""
    os.environ.setdefault(ARROW_POOL_SETTING, ARROW_POOL)  # read when Arrow first allocates
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        app()
    except SystemExit as done:
        if not ends_quickly():
            raise
        exit_now(done.code)


def exit_now(code: object) -> None:
    """End the process with ``code`` as :class:`SystemExit` would, after flushing the
    output and running the exit handlers (which flush the logs), but without the
    interpreter's teardown."""
    if code is None or isinstance(code, int):
        status = code or 0
    else:
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
