"""The ``sessions`` table, kept in the insert transaction: the hard cases end to end.

Each test inserts batches through ``insert_events`` into a real store (DuckDB and
PostgreSQL) and reads the stored sessions back; most also check that a rebuild from the
event log leaves the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any, NamedTuple

import pyarrow as pa
import pytest

from vigil.dwell import GroupBy, pair_sessions
from vigil.store import EventFilter, Store, open_store, postgres
from vigil.store.base import EVENT_INPUT_SCHEMA

from .downgrade import run_statements

T0 = dt.datetime(2026, 5, 6, 9, 0, tzinfo=dt.UTC)


class Ev(NamedTuple):
    event_id: str
    event_type: str
    minutes: float
    subject_id: str | None = "p1"
    source_id: str = "cam1"
    zone: str | None = None
    attributes: dict[str, Any] | None = None


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def batch(*events: Ev) -> pa.Table:
    """A finalised batch (what ``insert_events`` takes) of the events."""
    rows = [{"event_id": e.event_id, "source_id": e.source_id, "event_type": e.event_type,
             "ts": at(e.minutes), "labels": ["person"], "subject_id": e.subject_id,
             "zone": e.zone,
             "attributes": json.dumps(e.attributes) if e.attributes is not None else None}
            for e in events]
    return pa.Table.from_pylist(rows, schema=EVENT_INPUT_SCHEMA)


def insert(store: Store, *events: Ev) -> int:
    return store.insert_events(batch(*events))


def brief(store: Store, grouping: GroupBy = "camera") -> list[tuple[Any, ...]]:
    """(subject, zone, status, entry id, exit id, duration ms) of each stored session."""
    return [(s["subject_id"], s["zone"], s["status"], s["entry_event_id"], s["exit_event_id"],
             s["duration_ms"]) for s in store.read_sessions(grouping).to_pylist()]


def full(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every stored session of both groupings, attributes decoded."""
    out = {}
    for grouping in ("camera", "zone"):
        rows = store.read_sessions(grouping).to_pylist()
        for row in rows:
            row["attributes"] = json.loads(row["attributes"]) if row["attributes"] else None
        out[grouping] = rows
    return out


def assert_rebuild_agrees(store: Store) -> None:
    """A rebuild from the event log leaves every stored row as it was."""
    before = full(store)
    counts = store.rebuild_sessions()
    assert full(store) == before
    assert counts == store.count_sessions()
    assert sum(counts.values()) == len(before["camera"])


def test_entry_then_exit_in_a_later_batch(store: Store) -> None:
    assert insert(store, Ev("a", "entry", 0)) == 1
    assert brief(store) == [("p1", None, "open", "a", None, None)]
    assert brief(store, "zone") == [("p1", "", "open", "a", None, None)]
    assert insert(store, Ev("b", "exit", 12.5)) == 1
    assert brief(store) == [("p1", None, "complete", "a", "b", 750_000)]
    assert store.count_sessions() == {"complete": 1, "open": 0, "timed_out": 0,
                                      "orphan_exit": 0}
    assert_rebuild_agrees(store)


def test_exit_arriving_before_its_entry(store: Store) -> None:
    insert(store, Ev("x", "exit", 30))
    assert brief(store) == [("p1", None, "orphan_exit", None, "x", None)]
    insert(store, Ev("n", "entry", 10))
    assert brief(store) == [("p1", None, "complete", "n", "x", 20 * 60_000)]
    assert_rebuild_agrees(store)


def test_two_entries_without_exit_then_an_orphan_exit(store: Store) -> None:
    insert(store, Ev("a", "entry", 0), Ev("b", "entry", 5))
    assert brief(store) == [("p1", None, "timed_out", "a", None, None),
                            ("p1", None, "open", "b", None, None)]
    insert(store, Ev("c", "exit", 6), Ev("d", "exit", 7))
    assert brief(store) == [("p1", None, "timed_out", "a", None, None),
                            ("p1", None, "complete", "b", "c", 60_000),
                            ("p1", None, "orphan_exit", None, "d", None)]
    assert_rebuild_agrees(store)


def test_an_orphan_exit_alone(store: Store) -> None:
    insert(store, Ev("x", "exit", 0, attributes={"gate": 3}))
    sessions = store.read_sessions().to_pylist()
    assert len(sessions) == 1
    assert sessions[0]["status"] == "orphan_exit"
    assert sessions[0]["entry_ts"] is None and sessions[0]["anchor_ts"] == at(0)
    assert json.loads(sessions[0]["attributes"]) == {"gate": 3}  # the anchor's attributes
    assert_rebuild_agrees(store)


def test_a_duplicate_re_insert_changes_nothing(store: Store) -> None:
    first = (Ev("a", "entry", 0), Ev("b", "exit", 3), Ev("c", "entry", 9))
    assert insert(store, *first) == 3
    before = full(store)
    assert insert(store, *first) == 0
    assert full(store) == before
    assert insert(store, first[1], Ev("d", "exit", 10), first[0]) == 1  # partly stored
    assert brief(store) == [("p1", None, "complete", "a", "b", 180_000),
                            ("p1", None, "complete", "c", "d", 60_000)]
    assert_rebuild_agrees(store)


def test_open_session_times_out_when_unrelated_events_move_data_end(store: Store) -> None:
    insert(store, Ev("a", "entry", 0, "p1", "cam1"))
    insert(store, Ev("m", "motion", 4 * 60, None, "cam2"))  # exactly 4 h later: still open
    assert brief(store) == [("p1", None, "open", "a", None, None)]
    insert(store, Ev("n", "motion", 4 * 60 + 0.001, None, "cam2"))  # the end moves past
    assert brief(store) == [("p1", None, "timed_out", "a", None, None)]
    assert [s["status"] for s in store.read_sessions("zone").to_pylist()] == ["timed_out"]
    assert_rebuild_agrees(store)


def test_zone_grouping_with_a_null_zone(store: Store) -> None:
    insert(store, Ev("a", "entry", 0, zone="door"), Ev("b", "exit", 5, zone=None),
           Ev("c", "entry", 10, zone=None), Ev("d", "exit", 11, zone=None))
    assert brief(store) == [("p1", None, "complete", "a", "b", 300_000),
                            ("p1", None, "complete", "c", "d", 60_000)]
    assert brief(store, "zone") == [("p1", "", "orphan_exit", None, "b", None),
                                    ("p1", "", "complete", "c", "d", 60_000),
                                    ("p1", "door", "open", "a", None, None)]
    assert_rebuild_agrees(store)


def test_local_date_of_a_session_across_local_midnight(store: Store) -> None:
    store.set_source_timezone("cam1", "Europe/Berlin")
    # 2026-01-10 is a Saturday; 22:50 UTC is 23:50 in Berlin, the exit 00:20 on Sunday
    start = dt.datetime(2026, 1, 10, 22, 50, tzinfo=dt.UTC)
    minutes = (start - T0) / dt.timedelta(minutes=1)
    insert(store, Ev("a", "entry", minutes), Ev("b", "exit", minutes + 30))
    session = store.read_sessions().to_pylist()[0]
    assert session["status"] == "complete"
    assert (session["local_date"], session["local_hour"], session["local_weekday"]) == (
        dt.date(2026, 1, 10), 23, 5)
    assert_rebuild_agrees(store)
    store.set_source_timezone("cam1", "Asia/Tokyo")  # 07:50 on Sunday there
    for grouping in ("camera", "zone"):
        session = store.read_sessions(grouping).to_pylist()[0]
        assert (session["local_date"], session["local_hour"], session["local_weekday"]) == (
            dt.date(2026, 1, 11), 7, 6)
    assert_rebuild_agrees(store)


def test_an_exit_at_the_instant_of_the_next_entry(store: Store) -> None:
    """The last anchor before a new event is an entry at the instant of an exit that closes
    the visit before it: re-pairing from there must leave that exit to its visit."""
    insert(store, Ev("a", "entry", 0), Ev("b", "exit", 5), Ev("c", "entry", 5))
    insert(store, Ev("d", "exit", 8))
    assert brief(store) == [("p1", None, "complete", "a", "b", 300_000),
                            ("p1", None, "complete", "c", "d", 180_000)]
    assert_rebuild_agrees(store)


def test_persons_and_groups_are_kept_apart(store: Store) -> None:
    insert(store, Ev("a", "entry", 0, "p1"), Ev("b", "entry", 1, "p2"),
           Ev("c", "entry", 2, "p1", "cam2"))
    insert(store, Ev("d", "exit", 3, "p2"), Ev("e", "exit", 4, "p1"))
    assert brief(store) == [("p1", None, "complete", "a", "e", 240_000),
                            ("p1", None, "open", "c", None, None),
                            ("p2", None, "complete", "b", "d", 120_000)]
    assert_rebuild_agrees(store)


def test_entries_and_exits_without_a_person_have_no_session(store: Store) -> None:
    assert insert(store, Ev("a", "entry", 0, None), Ev("b", "exit", 1, None),
                  Ev("c", "entry", 2)) == 3
    assert brief(store) == [("p1", None, "open", "c", None, None)]
    assert store.rebuild_sessions() == {"complete": 0, "open": 1, "timed_out": 0,
                                        "orphan_exit": 0}


def test_rebuild_of_one_source_and_counts(store: Store) -> None:
    insert(store, Ev("a", "entry", 0, "p1", "cam1"), Ev("b", "exit", 1, "p1", "cam1"),
           Ev("c", "entry", 0, "p1", "cam2"))
    assert store.count_sessions() == {"complete": 1, "open": 1, "timed_out": 0,
                                      "orphan_exit": 0}
    assert store.rebuild_sessions("cam2") == {"complete": 0, "open": 1, "timed_out": 0,
                                              "orphan_exit": 0}
    assert len(brief(store)) == 2
    assert_rebuild_agrees(store)


def test_sessions_equal_pairing_of_the_stored_events(store: Store) -> None:
    insert(store, Ev("a", "entry", 0, zone="z1"), Ev("b", "exit", 500, zone="z1"),
           Ev("c", "entry", 501, zone="z2"), Ev("d", "exit", 502, zone="z1"))
    stored = store.list_events(EventFilter(), None, 100).events
    events = pa.Table.from_pylist(
        [{k: e[k] for k in ("event_id", "source_id", "event_type", "ts", "subject_id", "zone")}
         for e in stored])
    for grouping in ("camera", "zone"):
        expected = pair_sessions(events, by=grouping, data_end=at(502)).to_pylist()
        got = store.read_sessions(grouping).select(
            ["subject_id", "source_id", "zone", "entry_ts", "exit_ts", "duration_ms", "status",
             "entry_event_id", "exit_event_id"]).to_pylist()
        assert sorted(got, key=repr) == sorted(expected, key=repr)


def test_max_session_is_the_stores_setting(store_url: str) -> None:
    store = open_store(store_url, max_session=dt.timedelta(minutes=10))
    try:
        insert(store, Ev("a", "entry", 0), Ev("b", "exit", 11), Ev("c", "entry", 20))
        assert brief(store) == [("p1", None, "timed_out", "a", None, None),
                                ("p1", None, "orphan_exit", None, "b", None),
                                ("p1", None, "open", "c", None, None)]
        insert(store, Ev("m", "motion", 31, None))
        assert brief(store)[-1] == ("p1", None, "timed_out", "c", None, None)
        assert_rebuild_agrees(store)
    finally:
        store.close()
    with pytest.raises(ValueError, match="positive"):
        open_store(store_url, max_session=dt.timedelta(0))


def test_re_pairing_looks_back_one_maximum_session(store_url: str) -> None:
    """A batch re-pairs a group from its last anchor at most one maximum session before the
    batch's first event (that bound included); an older session is final."""
    store = open_store(store_url, max_session=dt.timedelta(minutes=10))
    try:
        insert(store, Ev("a", "entry", 0), Ev("b", "exit", 10))  # exactly the maximum
        insert(store, Ev("c", "entry", 10))  # anchor a is exactly one maximum before
        assert brief(store) == [("p1", None, "complete", "a", "b", 600_000),
                                ("p1", None, "open", "c", None, None)]
        insert(store, Ev("d", "exit", 20.5))  # too late for c
        assert brief(store)[1:] == [("p1", None, "timed_out", "c", None, None),
                                    ("p1", None, "orphan_exit", None, "d", None)]
        insert(store, Ev("e", "entry", 15))  # late: c is superseded, e ends at d
        assert brief(store)[1:] == [("p1", None, "timed_out", "c", None, None),
                                    ("p1", None, "complete", "e", "d", 330_000)]
        insert(store, Ev("f", "entry", 40), Ev("g", "exit", 65))
        insert(store, Ev("h", "entry", 60))  # f lies more than a maximum before: final
        assert brief(store)[3:] == [("p1", None, "timed_out", "f", None, None),
                                    ("p1", None, "complete", "h", "g", 300_000)]
        insert(store, Ev("i", "exit", 50.001))  # after f's maximum, before h: orphan
        assert brief(store)[3:] == [("p1", None, "timed_out", "f", None, None),
                                    ("p1", None, "orphan_exit", None, "i", None),
                                    ("p1", None, "complete", "h", "g", 300_000)]
        assert_rebuild_agrees(store)
    finally:
        store.close()


def test_postgres_bulk_path_keeps_sessions(pg_url: str, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setattr(postgres, "BULK_PATH_MIN_ROWS", 1)
    store = open_store(pg_url)
    try:
        insert(store, Ev("a", "entry", 0), Ev("b", "entry", 1, "p2"))
        insert(store, Ev("c", "exit", 2), Ev("b", "entry", 1, "p2"))  # falls back: b stored
        insert(store, Ev("d", "exit", 3, "p2"))
        assert brief(store) == [("p1", None, "complete", "a", "c", 120_000),
                                ("p2", None, "complete", "b", "d", 120_000)]
        assert_rebuild_agrees(store)
    finally:
        store.close()


def test_a_store_upgraded_from_0003_gets_its_sessions(store_url: str, backend: str) -> None:
    store = open_store(store_url)
    insert(store, Ev("a", "entry", 0), Ev("b", "exit", 2), Ev("c", "entry", 3, "p2"))
    expected = full(store)
    store.close()
    downgrade = ["DROP TABLE sessions", "UPDATE alembic_version SET version_num = '0003'"]
    if backend == "postgres":
        downgrade.insert(0, "DROP INDEX events_subject_ts")
    run_statements(store_url, backend, downgrade)
    upgraded = open_store(store_url)
    try:
        assert full(upgraded) == expected
        assert upgraded.count_sessions()["complete"] == 1
    finally:
        upgraded.close()


def test_a_rolled_back_insert_does_not_hold_back_time_outs(store: Store) -> None:
    insert(store, Ev("a", "entry", 0))
    with pytest.raises(RuntimeError), store.transaction():
        insert(store, Ev("m", "motion", 5 * 60, None, "cam2"))
        raise RuntimeError("rolled back")
    assert brief(store) == [("p1", None, "open", "a", None, None)]
    insert(store, Ev("n", "motion", 4 * 60 + 1, None, "cam2"))  # earlier than the lost one
    assert brief(store) == [("p1", None, "timed_out", "a", None, None)]


def test_concurrent_postgres_writers_see_each_others_events(pg_url: str) -> None:
    """The second writer re-pairs only after the first has committed its entry."""
    first, second = open_store(pg_url), open_store(pg_url)
    try:
        first.set_source_timezone("cam1", "UTC")
        started = threading.Event()

        def insert_exit() -> None:
            started.wait()
            insert(second, Ev("x", "exit", 5))

        thread = threading.Thread(target=insert_exit)
        thread.start()
        with first.transaction():
            insert(first, Ev("n", "entry", 0))
            started.set()
            time.sleep(0.3)  # the exit is inserted meanwhile; its sessions wait
        thread.join()
        assert brief(first) == [("p1", None, "complete", "n", "x", 300_000)]
        assert_rebuild_agrees(first)
    finally:
        first.close()
        second.close()
