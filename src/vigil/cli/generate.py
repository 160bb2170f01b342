"""``vigil generate``: realistic synthetic events for demos, tests and benchmarks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vigil.cli.common import fail, out_console

if TYPE_CHECKING:
    from vigil.synth import SynthConfig

ANOMALY_TYPES = ("rare_time", "novel_object", "spike", "silence")
"""``vigil.synth.config.ANOMALY_TYPES``, spelled out so that the help needs no import of
the generator."""


def generate_command(
    out_dir: Path = typer.Argument(Path("demo-data"), help="output folder"),
    rows: int | None = typer.Option(None, "--rows", min=1, help="exact number of rows"),
    days: int = typer.Option(14, "--days", min=1, help="days of data"),
    start: str = typer.Option("2026-03-22", "--start", help="first UTC day (YYYY-MM-DD)"),
    seed: int = typer.Option(7, "--seed"),
    bad_fraction: float = typer.Option(0.0, "--bad-fraction", min=0.0, max=0.5,
                                       help="share of deliberately invalid rows"),
    formats: str = typer.Option("csv", "--formats", help="comma list of csv,ndjson,parquet"),
    anomalies: str = typer.Option("", "--anomalies",
                                  help=f"comma list of {','.join(ANOMALY_TYPES)} to inject"),
    anomaly_count: int = typer.Option(1, "--anomaly-count", min=1,
                                      help="anomalies of each type"),
    anomaly_warmup_days: int = typer.Option(14, "--anomaly-warmup-days", min=0,
                                            help="first days kept free of anomalies"),
) -> None:
    """Write synthetic events (several cameras in different zones, one DST change), a
    ground-truth JSON and cameras.json (for `vigil cameras import`). With --anomalies, the
    ground truth lists the injected anomalies."""
    from vigil.synth import SynthConfig
    from vigil.synth.writers import FORMATS

    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        fail(f"--formats takes {', '.join(FORMATS)}", 2)
    kinds = tuple(a.strip() for a in anomalies.split(",") if a.strip())
    strange = [a for a in kinds if a not in ANOMALY_TYPES]
    if strange:
        fail(f"--anomalies takes {', '.join(ANOMALY_TYPES)}; unknown: {', '.join(strange)}", 2)
    if kinds and days <= anomaly_warmup_days + 1:
        fail(f"--anomalies needs --days > --anomaly-warmup-days + 1 "
             f"(got {days} and {anomaly_warmup_days})", 2)
    try:
        first_day = dt.date.fromisoformat(start)
    except ValueError:
        fail(f"--start must be YYYY-MM-DD, got {start!r}", 2)
    config = SynthConfig(seed=seed, start=first_day, days=days, rows=rows,
                         bad_fraction=bad_fraction, anomalies=kinds,
                         anomaly_count=anomaly_count, anomaly_warmup_days=anomaly_warmup_days)
    paths = generate_dataset(config, out_dir, chosen)
    for kind, path in paths.items():
        out_console.print(f"{kind}: {path}")


def generate_dataset(config: SynthConfig, out_dir: Path,
                     formats: tuple[str, ...] = ("csv",)) -> dict[str, Path]:
    """Generate, write the files and the ground truth; returns the paths by kind."""
    from vigil.synth import generate_events, ground_truth, write_dataset
    from vigil.synth import write_ground_truth as save_truth

    table = generate_events(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = write_dataset(table, out_dir, formats)
    truth = ground_truth(table, config)
    paths["truth"] = save_truth(truth, out_dir / "events.truth.json")
    paths["cameras"] = out_dir / "cameras.json"
    paths["cameras"].write_text(json.dumps(truth["cameras"], indent=2) + "\n", encoding="utf-8")
    return paths
