"""Ingesting the same input twice adds nothing; the synth ground truth is reproduced exactly."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from vigil.ingest.files import FileOptions, ingest_file
from vigil.ingest.payload import ingest_payload
from vigil.store import Store, open_store
from vigil.synth import SynthConfig, generate_events, ground_truth, write_dataset

from .helpers import Report, all_events, rejected_lines

FORMATS = ("csv", "ndjson", "parquet")
FIRST_ROW_REF = {"csv": 2, "ndjson": 1, "parquet": 1}  # line/row of the first data row


@dataclass(frozen=True)
class SynthRun:
    config: SynthConfig
    table: pa.Table
    truth: dict[str, Any]
    paths: dict[str, Path]


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> SynthRun:
    config = SynthConfig(rows=12_000, bad_fraction=0.01)
    table = generate_events(config)
    paths = write_dataset(table, tmp_path_factory.mktemp("synth"), formats=FORMATS)
    return SynthRun(config, table, ground_truth(table, config), paths)


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Any]:
    opened: list[Store] = []

    def make(name: str = "vigil") -> Store:
        store = open_store(str(tmp_path / f"{name}.duckdb"))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def ingest(store: Store, path: Path, block_bytes: int = 256 * 1024) -> Report:
    return ingest_file(path, store.insert_events, FileOptions(block_bytes=block_bytes)).to_dict()


def stored_events(store: Store) -> dict[str, dict[str, Any]]:
    """Events by id without the ingest time (which differs between runs)."""
    return {e["event_id"]: {k: v for k, v in e.items() if k != "ingested_at"}
            for e in all_events(store)}


# -- files -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_file_ingested_twice_adds_nothing(synth_run: SynthRun, make_store: Any,
                                          fmt: str) -> None:
    store = make_store()
    first = ingest(store, synth_run.paths[fmt])
    valid = synth_run.truth["valid_rows"]
    assert (first["accepted"], first["duplicates"]) == (valid, 0)
    count, counts, events = store.count_events(), store.hourly_counts(), stored_events(store)
    assert count == valid

    second = ingest(store, synth_run.paths[fmt])
    assert second["accepted"] == 0
    assert second["duplicates"] == valid
    assert second["rows_read"] == first["rows_read"] == synth_run.table.num_rows
    assert rejected_lines(second) == rejected_lines(first)
    assert store.count_events() == count
    assert store.hourly_counts().equals(counts)
    assert stored_events(store) == events


def test_formats_store_identical_events(synth_run: SynthRun, make_store: Any) -> None:
    stored = {}
    for fmt in FORMATS:
        store = make_store(fmt)
        ingest(store, synth_run.paths[fmt])
        stored[fmt] = stored_events(store)
    assert len(stored["csv"]) == synth_run.truth["valid_rows"]
    assert stored["ndjson"] == stored["csv"]
    assert stored["parquet"] == stored["csv"]


def test_overlapping_files_add_only_the_new_rows(synth_run: SynthRun, make_store: Any,
                                                 tmp_path: Path) -> None:
    lines = synth_run.paths["csv"].read_bytes().splitlines(keepends=True)
    half = tmp_path / "half.csv"
    half.write_bytes(b"".join(lines[: len(lines) // 2]))
    store = make_store()
    first = ingest(store, half)
    whole = ingest(store, synth_run.paths["csv"])
    assert whole["duplicates"] == first["accepted"]
    assert first["accepted"] + whole["accepted"] == synth_run.truth["valid_rows"]
    assert store.count_events() == synth_run.truth["valid_rows"]


# -- JSON payloads -----------------------------------------------------------------------------
def payload_events(with_ids: bool) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(40):
        event: dict[str, Any] = {
            "camera_id": f"cam{i % 3}",
            "event_type": "entry" if i % 5 == 0 else "detection",
            "timestamp": f"2026-03-29T00:{i:02d}:00Z",
            "label": ["person", "car", "dog"][i % 3],
            "confidence": round(0.4 + i / 100, 2),
        }
        if i % 5 == 0:
            event["person_id"] = f"p{i}"
        if with_ids:
            event["event_id"] = f"client-{i}"
        events.append(event)
    return events


@pytest.mark.parametrize("with_ids", [True, False], ids=["client-ids", "content-ids"])
@pytest.mark.parametrize("shape", ["array", "ndjson"])
def test_payload_ingested_twice_adds_nothing(make_store: Any, with_ids: bool,
                                             shape: str) -> None:
    store = make_store()
    events = payload_events(with_ids)
    if shape == "array":
        body = json.dumps(events).encode()
    else:
        body = "\n".join(json.dumps(e) for e in events).encode() + b"\n"
    first = ingest_payload(body, store.insert_events)
    assert (first.accepted, first.duplicates, first.rejected) == (40, 0, 0)
    counts = store.hourly_counts()
    second = ingest_payload(body, store.insert_events)
    assert (second.accepted, second.duplicates, second.rejected) == (0, 40, 0)
    assert store.count_events() == 40
    assert store.hourly_counts().equals(counts)
    ids = {e["event_id"] for e in all_events(store)}
    if with_ids:
        assert ids == {f"client-{i}" for i in range(40)}
    else:
        assert len(ids) == 40 and all(len(i) == 32 for i in ids)  # content digests


def test_content_id_identifies_the_event_not_its_spelling(make_store: Any) -> None:
    """Without client ids, the same event re-sent in another timestamp spelling is a duplicate;
    an event that differs in any field is new."""
    store = make_store()
    base = {"camera_id": "cam", "event_type": "detection", "label": "person",
            "timestamp": "2026-03-29T01:30:00Z", "confidence": 0.5}
    first = ingest_payload(json.dumps(base).encode(), store.insert_events)
    assert first.accepted == 1
    same = [
        {**base, "timestamp": "2026-03-29T03:30:00+02:00"},
        {**base, "timestamp": 1774747800000},
        {**base, "timestamp": 1774747800},
        {**base, "label": " Person "},
        {**base, "confidence": 0.50, "zone": None},
    ]
    again = ingest_payload(json.dumps(same).encode(), store.insert_events)
    assert (again.accepted, again.duplicates, again.rejected) == (0, len(same), 0)
    different = [
        {**base, "confidence": 0.51},
        {**base, "timestamp": "2026-03-29T01:30:00.001Z"},
        {**base, "label": "car"},
        {**base, "camera_id": "cam2"},
        {**base, "zone": "yard"},
    ]
    new = ingest_payload(json.dumps(different).encode(), store.insert_events)
    assert (new.accepted, new.duplicates) == (len(different), 0)
    assert store.count_events() == 1 + len(different)


def test_duplicates_within_one_payload(make_store: Any) -> None:
    store = make_store()
    events = payload_events(with_ids=True)
    body = json.dumps(events + events[:7] + [{**events[0], "label": "other"}]).encode()
    result = ingest_payload(body, store.insert_events)
    assert (result.accepted, result.duplicates, result.rejected) == (40, 8, 0)
    first = next(e for e in all_events(store) if e["event_id"] == "client-0")
    assert first["labels"] == ["person"]  # the first occurrence wins


# -- synth ground truth ------------------------------------------------------------------------
def _sum_counts(counts: pa.Table, key: Any, label: str | None = "*") -> dict[str, dict[str, int]]:
    """event_count summed per source and ``key(row)`` over rows of ``label``
    (``None``: every label except the all-labels row)."""
    out: dict[str, Counter[str]] = {}
    for row in counts.to_pylist():
        if (label is None and row["label"] == "*") or (label is not None and row["label"] != label):
            continue
        out.setdefault(row["source_id"], Counter())[key(row)] += row["event_count"]
    return {source: dict(counter) for source, counter in out.items()}


def _nonzero(nested: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {k: {kk: vv for kk, vv in v.items() if vv} for k, v in nested.items()}


@pytest.mark.parametrize(
    ("fmt", "zones_first"),
    [("csv", True), ("csv", False), ("ndjson", True), ("parquet", True)],
    ids=["csv", "csv-zones-set-after-ingest", "ndjson", "parquet"],
)
def test_synth_ground_truth_matches_the_store(synth_run: SynthRun, make_store: Any, fmt: str,
                                              zones_first: bool) -> None:
    truth = synth_run.truth
    store = make_store()
    if zones_first:
        for camera, zone in truth["cameras"].items():
            store.set_source_timezone(camera, zone)
    report = ingest(store, synth_run.paths[fmt], block_bytes=128 * 1024)
    if not zones_first:
        for camera, zone in truth["cameras"].items():
            store.set_source_timezone(camera, zone)

    shift = FIRST_ROW_REF[fmt] - FIRST_ROW_REF["csv"]
    expected_lines = {reason: [line + shift for line in lines]
                      for reason, lines in truth["bad_rows"].items() if lines}
    assert all(len(lines) < 100 for lines in expected_lines.values())  # none truncated
    assert sum(map(len, expected_lines.values())) == truth["rows"] - truth["valid_rows"] > 0
    assert rejected_lines(report) == expected_lines
    assert report["accepted"] == truth["valid_rows"]
    assert report["per_source"] == truth["per_camera"]

    counts = store.hourly_counts()
    assert _sum_counts(counts, lambda r: "all") == {
        cam: {"all": n} for cam, n in truth["per_camera"].items() if n
    }
    assert _sum_counts(counts, lambda r: f"{r['local_hour']:02d}") == _nonzero(
        truth["per_camera_local_hour"])
    assert _sum_counts(counts, lambda r: r["local_date"].isoformat()) == _nonzero(
        truth["per_camera_local_date"])
    assert _sum_counts(counts, lambda r: str(r["local_date"].weekday())) == _nonzero(
        truth["per_camera_local_weekday"])
    assert _sum_counts(counts, lambda r: r["event_type"]) == truth["per_camera_event_type"]
    assert _sum_counts(counts, lambda r: r["label"], label=None) == truth["per_camera_label"]
    for source in store.list_sources():
        assert source.timezone == truth["cameras"][source.source_id]
        assert source.event_count == truth["per_camera"][source.source_id]
