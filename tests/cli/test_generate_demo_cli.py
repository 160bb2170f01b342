"""``vigil generate`` and ``vigil demo --no-serve``."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from vigil.store import DuckDBStore

from .conftest import Invoke


def test_generate_files(vigil: Invoke, workdir: Path) -> None:
    out = workdir / "gen"
    result = vigil("generate", out, "--rows", "5000", "--formats", "csv,parquet",
                   "--bad-fraction", "0.02")
    assert result.exit_code == 0, result.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {"events.csv", "events.parquet", "events.truth.json", "cameras.json"}
    assert pacsv.read_csv(out / "events.csv").num_rows == 5000
    assert pq.read_metadata(out / "events.parquet").num_rows == 5000
    truth = json.loads((out / "events.truth.json").read_text())
    assert truth["rows"] == 5000
    assert 0 < 5000 - truth["valid_rows"] == sum(len(v) for v in truth["bad_rows"].values())
    cameras = json.loads((out / "cameras.json").read_text())
    assert cameras == truth["cameras"]
    assert len(cameras) >= 2 and len(set(cameras.values())) == len(cameras)


def test_generate_bad_format_exits_2(vigil: Invoke, workdir: Path) -> None:
    result = vigil("generate", workdir / "gen", "--formats", "csv,xml")
    assert result.exit_code == 2
    assert not (workdir / "gen").exists()


def test_demo_ingests_and_sets_zones(vigil: Invoke, workdir: Path) -> None:
    db = workdir / "demo.duckdb"
    data = workdir / "d"
    result = vigil("demo", "--no-serve", "--db", db, "--data-dir", data)
    assert result.exit_code == 0, result.stderr
    truth = json.loads((data / "events.truth.json").read_text())
    zones = json.loads((data / "cameras.json").read_text())
    store = DuckDBStore(db)
    try:
        assert store.count_events() == truth["valid_rows"] > 0
        assert store.source_timezones() == zones
        sources = {s.source_id: s.event_count for s in store.list_sources()}
        assert sources == truth["per_camera"]
        hourly = store.hourly_counts()
        rebuilt = store.hourly_counts_from_events()
        assert hourly.equals(rebuilt)
        assert sum(store.count_anomalies().values()) > 0, "the demo injects anomalies"
    finally:
        store.close()
    # local hours follow each camera's zone: compare with the ground truth
    store = DuckDBStore(db)
    try:
        table = store.hourly_counts().to_pylist()
    finally:
        store.close()
    per_hour: dict[str, dict[str, int]] = {}
    for row in table:
        if row["label"] == "*":
            hours = per_hour.setdefault(row["source_id"], {})
            key = f"{row['local_hour']:02d}"
            hours[key] = hours.get(key, 0) + row["event_count"]
    for camera, expected in truth["per_camera_local_hour"].items():
        assert {h: n for h, n in per_hour[camera].items() if n} == {
            h: n for h, n in expected.items() if n}
    again = vigil("demo", "--no-serve", "--db", db, "--data-dir", data)
    assert again.exit_code == 0
    store = DuckDBStore(db)
    try:
        assert store.count_events() == truth["valid_rows"]
    finally:
        store.close()
