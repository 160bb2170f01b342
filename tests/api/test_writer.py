"""The single writer: group commit, isolation of failing writes, commit-before-result, drain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from vigil.metrics import REGISTRY
from vigil.store import DuckDBStore, Store
from vigil.writer import Writer, WriterClosedError


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    opened = DuckDBStore(tmp_path / "w.duckdb")
    try:
        yield opened
    finally:
        opened.close()


def commits() -> float:
    return REGISTRY.get_sample_value("vigil_write_seconds_count") or 0.0


class Gate:
    """A write function that holds the writer thread until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, store: Store) -> str:
        self.started.set()
        assert self.release.wait(10), "gate never released"
        return "gate"

    def hold(self, writer: Writer) -> Future[str]:
        future = writer.submit(self)
        assert self.started.wait(10)
        return future


def add_key(key_id: str) -> Any:
    def write(store: Store) -> str:
        store.add_api_key(key_id, f"hash-{key_id}", "read", None)
        return key_id

    return write


def key_ids(store: DuckDBStore) -> set[str]:
    return {k["key_id"] for k in store.list_api_keys()}


def txid(store: Any) -> int:
    return int(store._con.execute("SELECT txid_current()").fetchone()[0])


def test_queued_writes_are_committed_together(store: DuckDBStore) -> None:
    writer = Writer(store, max_group=64)
    try:
        gate = Gate()
        held = gate.hold(writer)
        before = commits()
        futures = [writer.submit(txid) for _ in range(10)]
        gate.release.set()
        assert held.result(10) == "gate"
        ids = {f.result(10) for f in futures}
        assert len(ids) == 1, "the ten queued writes ran in more than one transaction"
        assert commits() - before == 2  # the gate's group, then one group of ten
    finally:
        writer.close()


def test_group_size_is_bounded(store: DuckDBStore) -> None:
    writer = Writer(store, max_group=4)
    try:
        gate = Gate()
        gate.hold(writer)
        futures = [writer.submit(txid) for _ in range(10)]
        gate.release.set()
        results = [f.result(10) for f in futures]
        assert len(set(results)) == 3  # groups of 4, 4 and 2
        assert results[0] == results[3] != results[4] == results[7] != results[8] == results[9]
    finally:
        writer.close()


def test_failing_write_does_not_sink_the_others(store: DuckDBStore) -> None:
    writer = Writer(store)
    failures = REGISTRY.get_sample_value("vigil_write_failures_total") or 0.0

    def bad(s: Store) -> None:
        s.add_api_key("bad", "hash-bad", "read", None)  # written, then rolled back
        raise ValueError("boom")

    try:
        gate = Gate()
        gate.hold(writer)
        good1 = writer.submit(add_key("k1"))
        failing = writer.submit(bad)
        good2 = writer.submit(add_key("k2"))
        gate.release.set()
        assert good1.result(10) == "k1"
        assert good2.result(10) == "k2"
        with pytest.raises(ValueError, match="boom"):
            failing.result(10)
        assert key_ids(store) == {"k1", "k2"}
        assert (REGISTRY.get_sample_value("vigil_write_failures_total") or 0.0) - failures == 1
        assert writer.run(add_key("k3"), timeout=10) == "k3"  # the writer still works
    finally:
        writer.close()
    assert key_ids(store) == {"k1", "k2", "k3"}


def test_result_only_after_commit(store: DuckDBStore) -> None:
    writer = Writer(store)
    seen_at_resolution: list[set[str]] = []
    try:
        gate = Gate()
        gate.hold(writer)
        futures = [writer.submit(add_key(f"k{i}")) for i in range(5)]
        for future in futures:
            # runs on the writer thread the moment the result is set
            future.add_done_callback(lambda _f: seen_at_resolution.append(key_ids(store)))
        assert not any(f.done() for f in futures)
        assert key_ids(store) == set()
        gate.release.set()
        for i, future in enumerate(futures):
            assert future.result(10) == f"k{i}"
            # a second cursor (a new read) sees the write once the future resolved
            assert f"k{i}" in key_ids(store)
    finally:
        writer.close()
    expected = {f"k{i}" for i in range(5)}
    assert seen_at_resolution == [expected] * 5


def test_close_drains_the_queue(store: DuckDBStore) -> None:
    writer = Writer(store, max_group=3)
    gate = Gate()
    gate.hold(writer)
    futures = [writer.submit(add_key(f"k{i:02d}")) for i in range(20)]
    releaser = threading.Timer(0.2, gate.release.set)
    releaser.start()
    writer.close()  # returns only once everything queued is written
    releaser.join()
    assert all(f.done() for f in futures)
    assert [f.result(0) for f in futures] == [f"k{i:02d}" for i in range(20)]
    assert key_ids(store) == {f"k{i:02d}" for i in range(20)}
    with pytest.raises(WriterClosedError):
        writer.submit(add_key("late"))
    writer.close()  # a second close is harmless


def test_lone_failing_write_runs_once(store: DuckDBStore) -> None:
    writer = Writer(store)
    calls: list[int] = []

    def bad(s: Store) -> None:
        calls.append(1)
        raise ValueError("boom")

    try:
        with pytest.raises(ValueError, match="boom"):
            writer.run(bad, timeout=10)
    finally:
        writer.close()
    assert len(calls) == 1, f"a write submitted alone was executed {len(calls)} times"
