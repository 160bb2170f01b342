"""A file ingest killed with SIGKILL mid-way resumes: every row ends up stored exactly once.

A child process ingests a synth CSV in small blocks and prints a line after each committed
block; the test kills it after a few blocks, checks what survived, and runs the ingest again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from vigil.ingest.files import FileOptions, ingest_file
from vigil.store import Store, open_store
from vigil.synth import SynthConfig, generate_events, write_dataset

ROWS = 200_000
BLOCK_BYTES = 256 * 1024
KILL_AFTER_BLOCKS = 3

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from vigil.ingest.files import FileOptions, ingest_file
    from vigil.store import open_store

    store = open_store(sys.argv[1])
    print("open", flush=True)

    def progress(done, rows):
        print(f"block {done} {rows} {store.count_events()}", flush=True)

    report = ingest_file(Path(sys.argv[2]), store.insert_events,
                         FileOptions(block_bytes=int(sys.argv[3]), group_rows=1), progress)
    store.close()
    print(f"done {report.accepted}", flush=True)
    """
)


@pytest.fixture(scope="module")
def synth_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = generate_events(SynthConfig(rows=ROWS, seed=11))
    return write_dataset(table, tmp_path_factory.mktemp("crash"), formats=("csv",))["csv"]


def run_and_kill(db: Path, csv: Path) -> list[str]:
    """Start the child, SIGKILL it after ``KILL_AFTER_BLOCKS`` committed blocks."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(csv), str(BLOCK_BYTES)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line.strip())
            if sum(item.startswith("block") for item in lines) >= KILL_AFTER_BLOCKS:
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=60)
        stderr = child.stderr.read() if child.stderr else ""
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL, (lines, stderr)
    return lines


def test_killed_ingest_resumes_without_loss_or_doubles(synth_csv: Path, tmp_path: Path) -> None:
    db = tmp_path / "crash.duckdb"
    lines = run_and_kill(db, synth_csv)
    assert not any(line.startswith("done") for line in lines)
    committed = int([line for line in lines if line.startswith("block")][-1].split()[3])
    assert 0 < committed < ROWS

    ids = pacsv.read_csv(synth_csv).column("event_id").to_pylist()
    assert len(set(ids)) == ROWS

    store = open_store(str(db))
    try:
        survived = store.count_events()
        assert committed <= survived < ROWS  # every acknowledged block survived the kill
        assert set(store.iter_event_ids()) <= set(ids)
        assert_counts_match(store)

        report = ingest_file(synth_csv, store.insert_events,
                             FileOptions(block_bytes=BLOCK_BYTES, group_rows=1)).to_dict()
        assert report["rows_read"] == ROWS
        assert report["rejected"] == 0
        assert report["accepted"] == ROWS - survived
        assert report["duplicates"] == survived

        stored = list(store.iter_event_ids())
        assert len(stored) == store.count_events() == ROWS
        assert set(stored) == set(ids)
        assert_counts_match(store)
        per_source = {s.source_id: s.event_count for s in store.list_sources()}
        assert sum(per_source.values()) == ROWS
    finally:
        store.close()


def assert_counts_match(store: Store) -> None:
    """Hourly counts equal the GROUP BY over the events, exactly."""
    incremental = store.hourly_counts().to_pylist()
    rebuilt = store.hourly_counts_from_events().to_pylist()
    assert sum(r["event_count"] for r in incremental if r["label"] == "*") == store.count_events()
    assert incremental == rebuilt
