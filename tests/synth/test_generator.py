"""Tests of the synthetic event generator and its ground truth."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import vigil.synth as synth
from vigil.synth import (
    DEFAULT_CAMERAS,
    CameraSpec,
    SynthConfig,
    generate_events,
    ground_truth,
    write_dataset,
    write_ground_truth,
)
from vigil.synth.slots import camera_slots

COLUMNS = [
    "event_id",
    "timestamp",
    "camera_id",
    "event_type",
    "label",
    "confidence",
    "person_id",
    "zone",
    "model_id",
    "frame_id",
    "age_group",
    "gender",
]
TIMEZONES = {c.camera_id: c.timezone for c in DEFAULT_CAMERAS}
Truth = dict[str, Any]


def parse_utc(text: str) -> datetime:
    """An ISO ``...Z`` timestamp as an aware datetime."""
    assert text.endswith("Z")
    return datetime.fromisoformat(text[:-1] + "+00:00")


@pytest.fixture(scope="module")
def default_run() -> tuple[SynthConfig, pa.Table, Truth]:
    config = SynthConfig()
    table = generate_events(config)
    return config, table, ground_truth(table, config)


@pytest.fixture(scope="module")
def bad_run() -> tuple[SynthConfig, pa.Table, Truth]:
    config = SynthConfig(rows=6000, bad_fraction=0.05)
    table = generate_events(config)
    return config, table, ground_truth(table, config)


def test_public_api() -> None:
    for name in synth.__all__:
        assert hasattr(synth, name), name
    assert {
        "SynthConfig",
        "CameraSpec",
        "generate_events",
        "ground_truth",
        "write_dataset",
        "write_ground_truth",
        "DEFAULT_CAMERAS",
    } <= set(synth.__all__)


def test_default_cameras_cover_zones_and_dst() -> None:
    assert len(DEFAULT_CAMERAS) >= 4
    assert len({c.zone for c in DEFAULT_CAMERAS}) == len(DEFAULT_CAMERAS)
    berlin, sydney = ZoneInfo("Europe/Berlin"), ZoneInfo("Australia/Sydney")
    assert datetime(2026, 3, 29, 0, 59, tzinfo=UTC).astimezone(berlin).utcoffset() == timedelta(
        hours=1
    )
    assert datetime(2026, 3, 29, 1, 0, tzinfo=UTC).astimezone(berlin).utcoffset() == timedelta(
        hours=2
    )
    assert datetime(2026, 4, 4, 16, 0, tzinfo=UTC).astimezone(sydney).utcoffset() == timedelta(
        hours=10
    )


def test_columns_in_order(default_run: tuple[SynthConfig, pa.Table, Truth]) -> None:
    _, table, _ = default_run
    assert table.column_names == COLUMNS
    assert table.schema.field("frame_id").type == pa.int64()
    assert table.schema.field("confidence").type == pa.float64()


def test_same_config_gives_identical_csv(tmp_path: Path) -> None:
    config = SynthConfig(rows=3000, bad_fraction=0.02)
    first = write_dataset(generate_events(config), tmp_path / "a")["csv"]
    second = write_dataset(generate_events(config), tmp_path / "b")["csv"]
    assert first.read_bytes() == second.read_bytes()


def test_different_seeds_differ() -> None:
    one = generate_events(SynthConfig(seed=1, rows=2000))
    two = generate_events(SynthConfig(seed=2, rows=2000))
    assert one.column("timestamp").to_pylist() != two.column("timestamp").to_pylist()
    assert set(one.column("event_id").to_pylist()).isdisjoint(two.column("event_id").to_pylist())


@pytest.mark.parametrize("rows", [0, 1, 2, 999, 12_345])
def test_rows_gives_exact_count(rows: int) -> None:
    config = SynthConfig(rows=rows)
    table = generate_events(config)
    assert table.num_rows == rows
    assert ground_truth(table, config)["valid_rows"] == rows


def test_row_contents(default_run: tuple[SynthConfig, pa.Table, Truth]) -> None:
    _, table, _ = default_run
    rows = table.to_pylist()
    assert len({r["event_id"] for r in rows}) == len(rows)
    assert {r["event_type"] for r in rows} == {"detection", "entry", "exit"}
    for row in rows:
        visit = row["event_type"] in ("entry", "exit")
        assert (row["person_id"] is not None) == visit
        assert (row["age_group"] is not None) == visit
        assert (row["gender"] is not None) == visit
        assert row["label"] in ("person", "vehicle", "package", "animal")
        assert row["model_id"]
        assert row["zone"]
        if visit:
            assert row["label"] == "person"
            assert row["confidence"] is None and row["frame_id"] is None
        else:
            assert 0.3 <= row["confidence"] <= 0.99
            assert round(row["confidence"], 3) == row["confidence"]
            assert row["frame_id"] >= 0


def test_timestamps_parse_sorted_and_inside_period(
    default_run: tuple[SynthConfig, pa.Table, Truth],
) -> None:
    _, table, truth = default_run
    texts = table.column("timestamp").to_pylist()
    assert all(len(t) == 24 for t in texts)
    instants = [parse_utc(t) for t in texts]
    assert instants == sorted(instants)
    start, end = parse_utc(truth["period"]["start"]), parse_utc(truth["period"]["end"])
    assert start == datetime(2026, 3, 22, tzinfo=UTC)
    assert end == datetime(2026, 4, 5, tzinfo=UTC)
    assert start <= instants[0] and instants[-1] < end


def test_truth_sums_agree(default_run: tuple[SynthConfig, pa.Table, Truth]) -> None:
    _, table, truth = default_run
    assert truth["rows"] == truth["valid_rows"] == table.num_rows
    assert sum(truth["per_camera"].values()) == truth["valid_rows"]
    for camera, count in truth["per_camera"].items():
        hours = truth["per_camera_local_hour"][camera]
        assert list(hours) == [f"{h:02d}" for h in range(24)]
        assert sum(hours.values()) == count
        assert sum(truth["per_camera_local_date"][camera].values()) == count
        assert sum(truth["per_camera_local_weekday"][camera].values()) == count
        assert sum(truth["per_camera_label"][camera].values()) == count
    json.dumps(truth)


def test_truth_local_time_matches_zoneinfo_row_by_row() -> None:
    config = SynthConfig(rows=4000, start=date(2026, 3, 27), days=12)
    table = generate_events(config)
    truth = ground_truth(table, config)
    hours: dict[str, dict[str, int]] = {c: {} for c in TIMEZONES}
    dates: dict[str, dict[str, int]] = {c: {} for c in TIMEZONES}
    for row in table.select(["timestamp", "camera_id"]).to_pylist():
        local = parse_utc(row["timestamp"]).astimezone(ZoneInfo(TIMEZONES[row["camera_id"]]))
        for store, key in ((hours, f"{local.hour:02d}"), (dates, local.date().isoformat())):
            store[row["camera_id"]][key] = store[row["camera_id"]].get(key, 0) + 1
    for camera in TIMEZONES:
        got_hours = {k: v for k, v in truth["per_camera_local_hour"][camera].items() if v}
        got_dates = {k: v for k, v in truth["per_camera_local_date"][camera].items() if v}
        assert got_hours == hours[camera]
        assert got_dates == dates[camera]


def test_backyard_dst_day(default_run: tuple[SynthConfig, pa.Table, Truth]) -> None:
    _, table, truth = default_run
    berlin = ZoneInfo("Europe/Berlin")
    assert truth["per_camera_local_date"]["backyard"]["2026-03-29"] > 0
    on_day = [
        parse_utc(r["timestamp"])
        for r in table.to_pylist()
        if r["camera_id"] == "backyard"
        and parse_utc(r["timestamp"]).astimezone(berlin).date() == date(2026, 3, 29)
    ]
    assert len(on_day) == truth["per_camera_local_date"]["backyard"]["2026-03-29"]
    after = next(t for t in on_day if t >= datetime(2026, 3, 29, 1, tzinfo=UTC))
    assert after.astimezone(berlin).utcoffset() == timedelta(hours=2)
    assert after.astimezone(berlin).replace(tzinfo=None) == (after + timedelta(hours=2)).replace(
        tzinfo=None
    )
    assert all(t.astimezone(berlin).hour != 2 for t in on_day)  # 02:00-03:00 does not exist


def test_local_days_have_23_and_25_hours() -> None:
    backyard = next(c for c in DEFAULT_CAMERAS if c.camera_id == "backyard")
    garage = next(c for c in DEFAULT_CAMERAS if c.camera_id == "garage")
    spring = camera_slots(backyard, date(2026, 3, 28), 3)
    day = (date(2026, 3, 29) - date(2026, 3, 28)).days + 1
    assert int((spring.day_index == day).sum()) == 23
    autumn = camera_slots(garage, date(2026, 4, 4), 3)
    day = (date(2026, 4, 5) - date(2026, 4, 4)).days + 1
    hours = autumn.local_hour[autumn.day_index == day].tolist()
    assert len(hours) == 25 and hours.count(2) == 2


def read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    return lines[0], lines


def test_bad_rows_point_at_defects(
    bad_run: tuple[SynthConfig, pa.Table, Truth], tmp_path: Path
) -> None:
    _, table, truth = bad_run
    header, lines = read_csv_rows(write_dataset(table, tmp_path)["csv"])
    assert header == COLUMNS
    col = {name: i for i, name in enumerate(header)}
    bad = truth["bad_rows"]
    assert set(bad) == {"timestamp_invalid", "confidence_out_of_range", "source_id_missing"}
    counts = [len(v) for v in bad.values()]
    assert sum(counts) == round(0.05 * 6000) and max(counts) - min(counts) <= 1
    for line in bad["timestamp_invalid"]:
        assert lines[line - 1][col["timestamp"]] == "not-a-time"
    for line in bad["confidence_out_of_range"]:
        row = lines[line - 1]
        assert row[col["event_type"]] == "detection" and float(row[col["confidence"]]) == 1.7
    for line in bad["source_id_missing"]:
        assert lines[line - 1][col["camera_id"]] == ""
    flagged = {line for lines_ in bad.values() for line in lines_}
    for number, row in enumerate(lines[1:], start=2):
        if number not in flagged:
            parse_utc(row[col["timestamp"]])
            assert row[col["camera_id"]]
            assert row[col["confidence"]] == "" or float(row[col["confidence"]]) <= 1.0


def test_bad_rows_are_not_counted(bad_run: tuple[SynthConfig, pa.Table, Truth]) -> None:
    config, table, truth = bad_run
    n_bad = sum(len(v) for v in truth["bad_rows"].values())
    assert truth["rows"] == table.num_rows == config.rows
    assert truth["valid_rows"] == table.num_rows - n_bad
    assert sum(truth["per_camera"].values()) == truth["valid_rows"]
    hours = sum(sum(h.values()) for h in truth["per_camera_local_hour"].values())
    assert hours == truth["valid_rows"]


def test_defects_do_not_move_clean_rows(bad_run: tuple[SynthConfig, pa.Table, Truth]) -> None:
    config, table, truth = bad_run
    clean = generate_events(SynthConfig(rows=config.rows))
    flagged = {line - 2 for lines in truth["bad_rows"].values() for line in lines}
    keep = [i for i in range(table.num_rows) if i not in flagged]
    columns = COLUMNS[1:]  # ids carry a config tag
    assert table.select(columns).take(keep).equals(clean.select(columns).take(keep))


def test_visits(default_run: tuple[SynthConfig, pa.Table, Truth]) -> None:
    _, _, truth = default_run
    visits = truth["visits"]
    assert visits["repeat_persons"] > 0
    assert visits["unique_persons"] > visits["repeat_persons"]
    assert visits["entry_without_exit"] > visits["exit_without_entry"] > 0
    mean_dwell_min = visits["dwell_ms_total"] / visits["complete"] / 60_000
    assert 8 < mean_dwell_min < 25
    for camera, per in visits["per_camera"].items():
        types = truth["per_camera_event_type"][camera]
        assert types["entry"] == per["complete"] + per["entry_without_exit"]
        assert types["exit"] == per["complete"] + per["exit_without_entry"]


def test_incomplete_fraction_is_exact_with_rows() -> None:
    config = SynthConfig(rows=50_000, incomplete_fraction=0.1)
    visits = ground_truth(generate_events(config), config)["visits"]
    incomplete = visits["entry_without_exit"] + visits["exit_without_entry"]
    total = incomplete + visits["complete"]
    assert incomplete == round(0.1 * total)


def test_dwell_is_capped() -> None:
    table = generate_events(SynthConfig(rows=20_000))
    rows = [r for r in table.to_pylist() if r["event_type"] != "detection"]
    entered: dict[str, datetime] = {}
    longest = timedelta(0)
    for row in rows:
        when = parse_utc(row["timestamp"])
        if row["event_type"] == "entry":
            entered[row["person_id"]] = when
        elif row["person_id"] in entered:
            longest = max(longest, when - entered.pop(row["person_id"]))
    assert timedelta(minutes=30) < longest <= timedelta(hours=3)


def test_daily_and_weekly_rhythm(default_run: tuple[SynthConfig, pa.Table, Truth]) -> None:
    _, _, truth = default_run
    shop = truth["per_camera_local_hour"]["shop_entrance"]
    open_hours = sum(shop[f"{h:02d}"] for h in range(9, 19))
    assert open_hours > 0.9 * sum(shop.values())
    yard = truth["per_camera_local_hour"]["backyard"]
    assert sum(yard[f"{h:02d}"] for h in range(0, 5)) < 0.05 * sum(yard.values())
    garage = truth["per_camera_local_hour"]["garage"]
    commute = sum(garage[h] for h in ("07", "08", "17", "18"))
    assert commute > 2 * sum(garage[h] for h in ("11", "12", "13", "14"))
    door = truth["per_camera_local_hour"]["front_door"]
    assert door["08"] > 3 * door["03"] and door["18"] > 3 * door["03"]
    week = truth["per_camera_local_weekday"]["backyard"]
    assert (week["5"] + week["6"]) / 2 > 1.3 * sum(week[str(d)] for d in range(5)) / 5


def test_label_mix_per_camera(default_run: tuple[SynthConfig, pa.Table, Truth]) -> None:
    _, _, truth = default_run
    labels = truth["per_camera_label"]
    assert max(labels["garage"], key=labels["garage"].__getitem__) == "vehicle"
    assert max(labels["shop_entrance"], key=labels["shop_entrance"].__getitem__) == "person"
    assert "package" not in labels["backyard"]


def test_write_all_formats(tmp_path: Path) -> None:
    config = SynthConfig(rows=500, bad_fraction=0.02)
    table = generate_events(config)
    paths = write_dataset(table, tmp_path / "out", formats=("csv", "ndjson", "parquet"))
    assert {k: p.name for k, p in paths.items()} == {
        "csv": "events.csv",
        "ndjson": "events.ndjson",
        "parquet": "events.parquet",
    }
    assert pq.read_table(paths["parquet"]).equals(table)
    objects = [json.loads(line) for line in paths["ndjson"].read_text().splitlines()]
    expected = [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]
    assert objects == expected
    detection = next(o for o in objects if o["event_type"] == "detection")
    assert isinstance(detection["confidence"], float) and isinstance(detection["frame_id"], int)
    header, lines = read_csv_rows(paths["csv"])
    assert header == COLUMNS and len(lines) == 501
    with pytest.raises(ValueError, match="unknown formats"):
        write_dataset(table, tmp_path, formats=("xml",))


def test_write_ground_truth(bad_run: tuple[SynthConfig, pa.Table, Truth], tmp_path: Path) -> None:
    _, _, truth = bad_run
    path = write_ground_truth(truth, tmp_path / "sub" / "truth.json")
    assert json.loads(path.read_text()) == truth


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        SynthConfig(days=0)
    with pytest.raises(ValueError):
        SynthConfig(bad_fraction=1.5)
    with pytest.raises(ValueError):
        SynthConfig(cameras=(DEFAULT_CAMERAS[0], DEFAULT_CAMERAS[0]))
    with pytest.raises(ValueError):
        CameraSpec("x", "Europe/Berlin", "z", "nope", (("person", 1.0),), 1.0, 1.0)
    with pytest.raises(ValueError):
        CameraSpec("x", "Europe/Berlin", "z", "home", (("dragon", 1.0),), 1.0, 1.0)


def test_custom_camera_with_half_hour_offset() -> None:
    camera = CameraSpec("till", "Asia/Kolkata", "checkout", "shop", (("person", 1.0),), 50, 10)
    config = SynthConfig(rows=2000, cameras=(camera,), days=3)
    truth = ground_truth(generate_events(config), config)
    assert truth["per_camera"] == {"till": 2000}
    assert sum(truth["per_camera_local_hour"]["till"][f"{h:02d}"] for h in range(9, 19)) > 1600
