"""Injected anomalies of the synthetic generator and their ground truth."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from vigil.cli.main import app
from vigil.synth import (
    ANOMALY_TYPES,
    DEFAULT_CAMERAS,
    NOVEL_LABELS,
    SynthConfig,
    generate_events,
    ground_truth,
    write_dataset,
    write_ground_truth,
)
from vigil.synth.__main__ import main as synth_main

Truth = dict[str, Any]
Run = tuple[SynthConfig, pa.Table, Truth]
ZONES = {c.camera_id: ZoneInfo(c.timezone) for c in DEFAULT_CAMERAS}
CONFIG = SynthConfig(days=28, anomalies=ANOMALY_TYPES, anomaly_count=2)
WARMUP_END = datetime(2026, 3, 22, tzinfo=UTC) + timedelta(days=14)
OLD_DEFAULT_CSV_SHA256 = "6cacd9abbef4ded7cc1bffd27fe97d451b152393ec3f203f8b8f8bb70ea4910f"
"""``SynthConfig()`` written as CSV by the generator before anomalies existed."""


def parse_utc(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.fromisoformat(text[:-1] + "+00:00")


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    """Rows with their UTC instant and camera-local time added."""
    rows: list[dict[str, Any]] = table.select(
        ["event_id", "timestamp", "camera_id", "label"]
    ).to_pylist()
    for row in rows:
        row["utc"] = parse_utc(row["timestamp"])
        row["local"] = row["utc"].astimezone(ZONES[row["camera_id"]])
    return rows


@pytest.fixture(scope="module")
def run() -> Run:
    table = generate_events(CONFIG)
    return CONFIG, table, ground_truth(table, CONFIG)


@pytest.fixture(scope="module")
def clean() -> pa.Table:
    return generate_events(replace(CONFIG, anomalies=()))


@pytest.fixture(scope="module")
def rows(run: Run) -> list[dict[str, Any]]:
    return rows_of(run[1])


@pytest.fixture(scope="module")
def clean_rows(clean: pa.Table) -> list[dict[str, Any]]:
    return rows_of(clean)


def of_type(truth: Truth, kind: str) -> list[dict[str, Any]]:
    return [a for a in truth["anomalies"] if a["type"] == kind]


def in_window(row: dict[str, Any], anomaly: dict[str, Any]) -> bool:
    start, end = parse_utc(anomaly["start"]), parse_utc(anomaly["end"])
    inside: bool = row["camera_id"] == anomaly["source_id"] and start <= row["utc"] < end
    return inside


def test_truth_lists_every_type_after_warmup(run: Run) -> None:
    _, table, truth = run
    anomalies = truth["anomalies"]
    assert Counter(a["type"] for a in anomalies) == dict.fromkeys(ANOMALY_TYPES, 2)
    assert [a["start"] for a in anomalies] == sorted(a["start"] for a in anomalies)
    ids = set(table.column("event_id").to_pylist())
    for anomaly in anomalies:
        start, end = parse_utc(anomaly["start"]), parse_utc(anomaly["end"])
        assert WARMUP_END <= start < end <= parse_utc(truth["period"]["end"])
        local = datetime.fromisoformat(anomaly["local_start"])
        assert local == start and local.utcoffset() == start.astimezone(
            ZONES[anomaly["source_id"]]
        ).utcoffset()
        assert (anomaly["label"] is None) == (anomaly["type"] == "silence")
        if anomaly["type"] in ("rare_time", "novel_object"):
            assert anomaly["event_ids"] and set(anomaly["event_ids"]) <= ids
        else:
            assert "event_ids" not in anomaly
    for key in ("rows", "per_camera", "per_camera_label", "visits", "bad_rows", "period"):
        assert key in truth
    json.dumps(truth)


def test_each_anomaly_has_its_own_camera_day(run: Run) -> None:
    _, _, truth = run
    days = [(a["source_id"], a["local_start"][:10]) for a in truth["anomalies"]]
    assert len(set(days)) == len(days)


def test_rare_time_events_at_hours_empty_in_warmup(
    run: Run, rows: list[dict[str, Any]], clean_rows: list[dict[str, Any]]
) -> None:
    _, _, truth = run
    by_id = {r["event_id"]: r for r in rows}
    for anomaly in of_type(truth, "rare_time"):
        camera, hour = anomaly["source_id"], datetime.fromisoformat(anomaly["local_start"]).hour
        events = [by_id[i] for i in anomaly["event_ids"]]
        assert 3 <= len(events) <= 6
        assert all(in_window(e, anomaly) and e["label"] == anomaly["label"] for e in events)
        assert all(e["local"].hour == hour for e in events)
        assert anomaly["label"] == "person"
        history = [
            r for r in clean_rows
            if r["camera_id"] == camera and r["utc"] < WARMUP_END and r["local"].hour == hour
        ]
        assert history == [] and anomaly["warmup_events"] == 0


def test_novel_label_never_seen_before_injection(
    run: Run, rows: list[dict[str, Any]], clean: pa.Table
) -> None:
    _, _, truth = run
    assert set(clean.column("label").to_pylist()).isdisjoint(NOVEL_LABELS)
    for anomaly in of_type(truth, "novel_object"):
        assert anomaly["label"] in NOVEL_LABELS
        seen = [
            r for r in rows
            if r["camera_id"] == anomaly["source_id"] and r["label"] == anomaly["label"]
        ]
        assert {r["event_id"] for r in seen} == set(anomaly["event_ids"])
        assert 1 <= len(seen) <= 3 and all(in_window(r, anomaly) for r in seen)
        assert truth["per_camera_label"][anomaly["source_id"]][anomaly["label"]] == len(seen)


def full_local_dates(truth: Truth, camera: str) -> list[date]:
    dates = sorted(truth["per_camera_local_date"][camera])
    return [date.fromisoformat(d) for d in dates[1:-1]]  # the first and last are partial


def test_spike_hour_is_five_times_the_same_hour_in_other_weeks(
    run: Run, rows: list[dict[str, Any]]
) -> None:
    _, _, truth = run
    for anomaly in of_type(truth, "spike"):
        camera, label = anomaly["source_id"], anomaly["label"]
        local = datetime.fromisoformat(anomaly["local_start"])
        counts = Counter(
            (r["local"].date(), r["local"].hour)
            for r in rows
            if r["camera_id"] == camera and r["label"] == label
        )
        others = [
            counts[(d, local.hour)]
            for d in full_local_dates(truth, camera)
            if d != local.date() and (d - local.date()).days % 7 == 0
        ]
        mean = sum(others) / len(others)
        assert len(others) >= 2 and mean > 0
        assert counts[(local.date(), local.hour)] == anomaly["count"]
        assert anomaly["count"] >= 5 * mean
        assert 6.0 <= anomaly["factor"] <= 8.0


def test_silence_window_is_empty_but_was_busy(
    run: Run, rows: list[dict[str, Any]], clean_rows: list[dict[str, Any]]
) -> None:
    _, _, truth = run
    for anomaly in of_type(truth, "silence"):
        start, end = parse_utc(anomaly["start"]), parse_utc(anomaly["end"])
        assert 4 <= anomaly["hours"] <= 6 and end - start == timedelta(hours=anomaly["hours"])
        assert not [r for r in rows if in_window(r, anomaly)]
        assert len([r for r in clean_rows if in_window(r, anomaly)]) >= 3 * anomaly["hours"]


def test_clean_rows_are_kept(run: Run, clean: pa.Table) -> None:
    _, table, truth = run
    injected = {i for a in truth["anomalies"] for i in a.get("event_ids", [])}
    spikes = of_type(truth, "spike")
    silences = of_type(truth, "silence")
    columns = table.column_names[1:]  # ids carry a config tag

    def keep(rows: list[dict[str, Any]], table_: pa.Table, skip: set[str]) -> pa.Table:
        index = [
            n for n, r in enumerate(rows)
            if r["event_id"] not in skip
            and not any(in_window(r, a) for a in silences)
            and not any(in_window(r, a) and r["label"] == a["label"] for a in spikes)
        ]
        return table_.select(columns).take(index)

    assert keep(rows_of(table), table, injected).equals(keep(rows_of(clean), clean, set()))


def test_same_seed_same_output_other_seed_other_anomalies(tmp_path: Path) -> None:
    config = SynthConfig(rows=20_000, days=21, anomalies=ANOMALY_TYPES, seed=3)
    paths = []
    for name in ("a", "b"):
        table = generate_events(config)
        csv = write_dataset(table, tmp_path / name)["csv"]
        truth = write_ground_truth(ground_truth(table, config), tmp_path / name / "truth.json")
        paths.append((csv.read_bytes(), truth.read_bytes()))
    assert paths[0] == paths[1]
    other = replace(config, seed=4)
    first = ground_truth(generate_events(config), config)["anomalies"]
    second = ground_truth(generate_events(other), other)["anomalies"]
    assert [a["start"] for a in first] != [a["start"] for a in second]


def test_anomalies_off_is_unchanged(tmp_path: Path) -> None:
    table = generate_events(SynthConfig())
    csv = write_dataset(table, tmp_path)["csv"]
    assert hashlib.sha256(csv.read_bytes()).hexdigest() == OLD_DEFAULT_CSV_SHA256
    assert table.schema.metadata is None
    other = SynthConfig(anomaly_count=3, anomaly_warmup_days=2)
    assert generate_events(other).equals(table)
    assert "anomalies" not in ground_truth(table, SynthConfig())


def test_anomaly_ids_differ_from_clean_ids(run: Run, clean: pa.Table) -> None:
    _, table, _ = run
    assert table.column("event_id")[0].as_py()[:11] != clean.column("event_id")[0].as_py()[:11]


def test_defects_spare_anomaly_rows(tmp_path: Path) -> None:
    config = SynthConfig(rows=30_000, days=21, bad_fraction=0.1, anomalies=ANOMALY_TYPES)
    table = generate_events(config)
    truth = ground_truth(table, config)
    assert sum(len(v) for v in truth["bad_rows"].values()) == round(0.1 * table.num_rows)
    flagged = {line - 2 for lines in truth["bad_rows"].values() for line in lines}
    ids = table.column("event_id").to_pylist()
    injected = {i for a in truth["anomalies"] for i in a.get("event_ids", [])}
    assert injected and not injected & {ids[n] for n in flagged}


def test_warmup_days_are_respected() -> None:
    config = SynthConfig(days=24, anomaly_warmup_days=20, anomalies=("rare_time", "silence"))
    truth = ground_truth(generate_events(config), config)
    first = datetime(2026, 3, 22, tzinfo=UTC) + timedelta(days=20)
    assert truth["anomalies"] and all(parse_utc(a["start"]) >= first for a in truth["anomalies"])


def test_config_validation() -> None:
    assert SynthConfig(days=20, anomalies=("spike", "rare_time", "spike")).anomalies == (
        "rare_time",
        "spike",
    )
    with pytest.raises(ValueError, match="unknown anomaly types"):
        SynthConfig(days=20, anomalies=("meteor",))
    with pytest.raises(ValueError, match="anomaly_warmup_days"):
        SynthConfig(days=14, anomalies=("spike",))
    with pytest.raises(ValueError):
        SynthConfig(days=20, anomalies=("spike",), anomaly_count=0)
    with pytest.raises(ValueError, match="no room"):
        generate_events(SynthConfig(days=16, anomalies=ANOMALY_TYPES, anomaly_count=10))


def test_ground_truth_needs_the_generated_table(clean: pa.Table) -> None:
    with pytest.raises(ValueError, match="anomaly records"):
        ground_truth(clean, CONFIG)


def test_cli_generate_with_anomalies(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "gen"
    result = runner.invoke(
        app,
        ["generate", str(out), "--days", "21", "--anomalies", ",".join(ANOMALY_TYPES),
         "--anomaly-count", "2"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "events.truth.json").read_text())
    assert Counter(a["type"] for a in truth["anomalies"]) == dict.fromkeys(ANOMALY_TYPES, 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "21", "--anomalies", "spike,meteor"], "--anomalies"),
        (["--anomalies", "spike"], "--anomaly-warmup-days"),
    ],
)
def test_cli_rejects_bad_anomaly_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["generate", str(tmp_path / "g"), *args])
    assert result.exit_code == 2
    assert message in result.output + result.stderr
    assert not (tmp_path / "g").exists()


def test_module_main_with_anomalies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    synth_main([str(tmp_path), "--days", "20", "--anomalies", "novel_object"])
    truth = json.loads((tmp_path / "events.truth.json").read_text())
    assert [a["type"] for a in truth["anomalies"]] == ["novel_object"]
    assert "truth" in capsys.readouterr().out
