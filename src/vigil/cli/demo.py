"""``vigil demo``: the main job on the embedded default, in one command."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vigil.cli.anomalies import detect_new, start_detection
from vigil.cli.cameras import set_zones
from vigil.cli.common import DB_OPTION, err_console, open_or_fail, settings_for
from vigil.cli.generate import generate_dataset
from vigil.cli.ingest import print_report
from vigil.cli.serve import run_server

DEMO_DAYS = 28


def demo_command(
    port: int = typer.Option(8000, "--port"),
    data_dir: Path = typer.Option(Path("demo-data"), "--data-dir", help="where demo files go"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="serve the API afterwards"),
    db: str | None = DB_OPTION,
) -> None:
    """Generate demo data if the database is empty, ingest it, score it for anomalies, and
    serve the API and the dashboard."""
    from vigil.ingest.files import FileOptions, ingest_file
    from vigil.synth import ANOMALY_TYPES, SynthConfig

    settings = settings_for(db)
    store = open_or_fail(settings)
    try:
        if store.count_events() == 0:
            err_console.print(f"empty database: generating {DEMO_DAYS} days of demo events, "
                              "with a few anomalies in the last week …")
            config = SynthConfig(days=DEMO_DAYS, anomalies=ANOMALY_TYPES,
                                 anomaly_warmup_days=DEMO_DAYS - 7)
            paths = generate_dataset(config, data_dir, ("csv",))
            set_zones(store, json.loads(paths["cameras"].read_text(encoding="utf-8")))
            detector = start_detection(store, settings) if settings.detect_anomalies else None
            report = ingest_file(Path(paths["csv"]), store.insert_events, FileOptions())
            print_report(report.to_dict())
            if detector is not None:
                err_console.print(detect_new(detector))
        total = store.count_events()
        sources = store.list_sources()
    finally:
        store.close()
    err_console.print(f"{total:,} events from {len(sources)} sources in {settings.db}")
    if not serve:
        return
    base = f"http://127.0.0.1:{port}"
    err_console.print(f"look at: {base}/ (dashboard), {base}/docs (API), "
                      f"{base}/api/v1/cameras, {base}/metrics — Ctrl+C to stop")
    run_server(settings, "127.0.0.1", port)
