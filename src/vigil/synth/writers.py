"""Write a generated table (CSV, NDJSON, Parquet) and its ground truth (JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from vigil.synth.ndjson import write_ndjson

FORMATS: dict[str, str] = {"csv": "csv", "ndjson": "ndjson", "parquet": "parquet"}
"""Format name to file extension."""


def _write(table: pa.Table, fmt: str, path: Path) -> None:
    if fmt == "csv":
        pacsv.write_csv(table, path)
    elif fmt == "ndjson":
        with path.open("wb") as out:
            write_ndjson(table, out)
    else:
        pq.write_table(table, path, compression="zstd")


def write_dataset(
    table: pa.Table,
    out_dir: str | Path,
    formats: Iterable[str] = ("csv",),
    name: str = "events",
) -> dict[str, Path]:
    """Write ``<name>.<ext>`` per format into ``out_dir``; returns format -> path.

    CSV has a header row and empty fields for nulls; NDJSON leaves null keys out.
    """
    wanted = list(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown formats {unknown}; known: {sorted(FORMATS)}")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for fmt in wanted:
        paths[fmt] = folder / f"{name}.{FORMATS[fmt]}"
        _write(table, fmt, paths[fmt])
    return paths


def write_ground_truth(truth: dict[str, Any], path: str | Path) -> Path:
    """Write the ground truth as indented JSON; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return target
