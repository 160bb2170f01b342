"""Storing one group while the next is parsed (the server-store mode of file ingest)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from vigil.ingest.files import FileOptions, ingest_file
from vigil.store import Store


def write_csv(path: Path, rows: int) -> None:
    lines = ["event_id,camera_id,event_type,timestamp,label"]
    lines += [f"e{i},cam{i % 3},detection,{1767225600 + i},person" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_overlapped_groups_store_every_row_once(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    write_csv(path, 5000)
    options = FileOptions(block_bytes=16 * 1024, group_rows=700, overlap_inserts=True)
    report = ingest_file(path, store.insert_events, options)
    assert (report.accepted, report.duplicates) == (5000, 0)
    again = ingest_file(path, store.insert_events, options)
    assert (again.accepted, again.duplicates) == (0, 5000)
    assert store.count_events() == 5000
    assert store.hourly_counts().to_pylist() == store.hourly_counts_from_events().to_pylist()


def test_a_failing_store_in_flight_surfaces_its_error(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    write_csv(path, 3000)
    calls: list[int] = []

    def insert(batch: pa.Table) -> int:
        calls.append(batch.num_rows)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return batch.num_rows

    options = FileOptions(block_bytes=16 * 1024, group_rows=500, overlap_inserts=True)
    with pytest.raises(RuntimeError, match="database went away"):
        ingest_file(path, insert, options)
    assert len(calls) <= 3  # stopped at the failure, at most one group beyond it in flight
