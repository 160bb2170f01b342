"""Pairing entry/exit events into sessions: each rule, DST, grouping, determinism, reference."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.dwell import DEFAULT_MAX_SESSION, SESSION_SCHEMA, GroupBy, pair_sessions

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
GROUPINGS: tuple[GroupBy, ...] = ("camera", "zone")
SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("source_id", pa.string()),
        ("event_type", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("subject_id", pa.string()),
        ("zone", pa.string()),
    ]
)


class Ev(NamedTuple):
    event_id: str
    event_type: str
    ts: datetime
    subject_id: str = "p1"
    source_id: str = "cam1"
    zone: str | None = None


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def table(events: list[Ev]) -> pa.Table:
    return pa.Table.from_pylist([e._asdict() for e in events], schema=SCHEMA)


def sessions(events: list[Ev], **kwargs: Any) -> list[tuple[Any, ...]]:
    """(status, entry id, exit id, duration ms) per session, in output order."""
    kwargs.setdefault("data_end", max(e.ts for e in events))
    out = pair_sessions(table(events), **kwargs).to_pylist()
    return [(s["status"], s["entry_event_id"], s["exit_event_id"], s["duration_ms"]) for s in out]


def test_entry_then_exit_is_complete() -> None:
    result = pair_sessions(
        table([Ev("a", "entry", at(0)), Ev("b", "exit", at(12.5))]), data_end=at(12.5)
    ).to_pylist()
    assert result == [
        {
            "subject_id": "p1",
            "source_id": "cam1",
            "zone": None,
            "entry_ts": at(0),
            "exit_ts": at(12.5),
            "duration_ms": 750_000,
            "status": "complete",
            "entry_event_id": "a",
            "exit_event_id": "b",
        }
    ]


def test_output_schema_is_fixed_even_when_empty() -> None:
    empty = pair_sessions(table([]), data_end=T0)
    assert empty.schema == SESSION_SCHEMA
    assert empty.num_rows == 0


def test_second_entry_closes_the_first_as_timed_out_whatever_the_gap() -> None:
    close = [Ev("a", "entry", at(0)), Ev("b", "entry", at(5)), Ev("c", "exit", at(10))]
    far = [Ev("a", "entry", at(0)), Ev("b", "entry", at(300)), Ev("c", "exit", at(310))]
    expected = [("timed_out", "a", None, None), ("complete", "b", "c", 300_000)]
    assert sessions(close) == expected
    assert sessions(far) == [("timed_out", "a", None, None), ("complete", "b", "c", 600_000)]


def test_exit_without_open_entry_is_orphan() -> None:
    events = [
        Ev("x0", "exit", at(0)),
        Ev("a", "entry", at(1)),
        Ev("b", "exit", at(2)),
        Ev("x1", "exit", at(3)),
    ]
    assert sessions(events) == [
        ("orphan_exit", None, "x0", None),
        ("complete", "a", "b", 60_000),
        ("orphan_exit", None, "x1", None),
    ]
    orphan = pair_sessions(table(events), data_end=at(3)).to_pylist()[0]
    assert orphan["entry_ts"] is None and orphan["exit_ts"] == at(0)


def test_trailing_entry_is_open_up_to_max_session_then_timed_out() -> None:
    events = [Ev("a", "entry", at(0))]
    limit = timedelta(minutes=30)
    assert sessions(events, max_session=limit, data_end=at(30)) == [("open", "a", None, None)]
    assert sessions(events, max_session=limit, data_end=at(30.001)) == [
        ("timed_out", "a", None, None)
    ]
    assert DEFAULT_MAX_SESSION == timedelta(hours=4)
    assert sessions(events, data_end=at(240)) == [("open", "a", None, None)]


def test_exit_later_than_max_session_is_orphan_and_entry_timed_out() -> None:
    limit = timedelta(minutes=30)
    late = [Ev("a", "entry", at(0)), Ev("b", "exit", at(31))]
    on_time = [Ev("a", "entry", at(0)), Ev("b", "exit", at(30))]
    assert sessions(late, max_session=limit) == [
        ("timed_out", "a", None, None),
        ("orphan_exit", None, "b", None),
    ]
    assert sessions(on_time, max_session=limit) == [("complete", "a", "b", 1_800_000)]


def test_exit_sorts_before_entry_at_the_same_instant() -> None:
    events = [Ev("a", "entry", at(0)), Ev("z-in", "entry", at(10)), Ev("b-out", "exit", at(10))]
    assert sessions(events) == [("complete", "a", "b-out", 600_000), ("open", "z-in", None, None)]


def test_event_id_breaks_remaining_ties() -> None:
    events = [Ev("e2", "entry", at(0)), Ev("e1", "entry", at(0)), Ev("x", "exit", at(1))]
    assert sessions(events) == [("timed_out", "e1", None, None), ("complete", "e2", "x", 60_000)]


def test_duration_across_a_dst_change_is_real_elapsed_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # 2024-03-31 02:00 CET jumps to 03:00 CEST
    entry = datetime(2024, 3, 31, 1, 30, tzinfo=berlin)
    exit_ = datetime(2024, 3, 31, 3, 30, tzinfo=berlin)  # 2 h on the wall, 1 h elapsed
    events = [Ev("a", "entry", entry.astimezone(UTC)), Ev("b", "exit", exit_.astimezone(UTC))]
    assert sessions(events) == [("complete", "a", "b", 3_600_000)]


def test_session_across_midnight_is_ordinary() -> None:
    entry = datetime(2024, 5, 6, 23, 50, tzinfo=UTC)
    events = [Ev("a", "entry", entry), Ev("b", "exit", entry + timedelta(minutes=20))]
    assert sessions(events) == [("complete", "a", "b", 1_200_000)]


def test_by_zone_pairs_within_each_zone_and_null_zone_is_empty_string() -> None:
    events = [
        Ev("a", "entry", at(0), zone="hall"),
        Ev("b", "entry", at(1), zone="shop"),
        Ev("c", "exit", at(2), zone="hall"),
        Ev("d", "exit", at(3), zone="shop"),
        Ev("e", "entry", at(4), zone=None),
        Ev("f", "exit", at(5), zone=None),
    ]
    out = pair_sessions(table(events), by="zone", data_end=at(5)).to_pylist()
    assert [(s["zone"], s["status"], s["entry_event_id"], s["exit_event_id"]) for s in out] == [
        ("", "complete", "e", "f"),
        ("hall", "complete", "a", "c"),
        ("shop", "complete", "b", "d"),
    ]
    by_camera = sessions(events, by="camera")
    assert by_camera == [
        ("timed_out", "a", None, None),
        ("complete", "b", "c", 60_000),
        ("orphan_exit", None, "d", None),
        ("complete", "e", "f", 60_000),
    ]


def test_people_and_cameras_are_paired_separately_and_sorted() -> None:
    events = [
        Ev("a", "entry", at(0), subject_id="p2", source_id="cam1"),
        Ev("b", "entry", at(1), subject_id="p1", source_id="cam2"),
        Ev("c", "exit", at(2), subject_id="p2", source_id="cam1"),
        Ev("d", "exit", at(3), subject_id="p1", source_id="cam1"),
        Ev("e", "exit", at(4), subject_id="p1", source_id="cam2"),
    ]
    out = pair_sessions(table(events), data_end=at(4)).to_pylist()
    assert [(s["subject_id"], s["source_id"], s["status"]) for s in out] == [
        ("p1", "cam1", "orphan_exit"),
        ("p1", "cam2", "complete"),
        ("p2", "cam1", "complete"),
    ]


def test_duplicates_count_once_and_input_order_does_not_matter() -> None:
    events = [
        Ev("a", "entry", at(0)),
        Ev("b", "exit", at(5)),
        Ev("c", "entry", at(5)),
        Ev("d", "entry", at(5)),
        Ev("x", "exit", at(9), subject_id="p2"),
    ]
    expected = pair_sessions(table(events), data_end=at(9))
    noisy = [events[3], events[1], events[4], events[0], events[1], events[3], events[2]]
    assert pair_sessions(table(noisy), data_end=at(9)).equals(expected)
    assert expected.num_rows == 4


def test_other_event_types_and_columns_are_ignored() -> None:
    base = table([Ev("a", "entry", at(0)), Ev("b", "exit", at(1))])
    extra = pa.concat_tables([base, table([Ev("m", "motion", at(0.5))])])
    extra = extra.append_column("label", pa.array(["person"] * 3))
    assert pair_sessions(extra, data_end=at(1)).equals(pair_sessions(base, data_end=at(1)))


@pytest.mark.parametrize(
    ("events", "kwargs", "message"),
    [
        ([Ev("a", "entry", at(0))], {"by": "room"}, "by must be"),
        ([Ev("a", "entry", at(0))], {"max_session": timedelta(0)}, "positive"),
        ([Ev("a", "entry", at(0))], {"data_end": datetime(2024, 1, 1)}, "time-zone-aware"),
    ],
)
def test_bad_arguments_raise(events: list[Ev], kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("data_end", T0)
    with pytest.raises(ValueError, match=message):
        pair_sessions(table(events), **kwargs)


def test_null_subject_or_naive_ts_or_missing_column_raise() -> None:
    bad = pa.Table.from_pylist(
        [
            {
                "event_id": "a",
                "source_id": "c",
                "event_type": "entry",
                "ts": T0,
                "subject_id": None,
                "zone": None,
            }
        ],
        schema=SCHEMA,
    )
    with pytest.raises(ValueError, match="null subject_id"):
        pair_sessions(bad, data_end=T0)
    naive = bad.set_column(3, "ts", pa.array([datetime(2024, 1, 1)], pa.timestamp("us")))
    with pytest.raises(ValueError, match="time-zone-aware timestamp"):
        pair_sessions(naive, data_end=T0)
    with pytest.raises(ValueError, match="lack column"):
        pair_sessions(bad.drop_columns(["zone"]), data_end=T0)


# --- the property: vectorised implementation == plain event-by-event reference ------------


def reference(
    events: list[Ev], by: str, max_session: timedelta, data_end: datetime
) -> list[dict[str, Any]]:
    """The documented rules, one person/group and one event at a time."""
    groups: dict[tuple[str, str, str | None], list[Ev]] = defaultdict(list)
    seen: set[tuple[Any, ...]] = set()
    for e in events:
        if e.event_type not in ("entry", "exit"):
            continue
        zone = (e.zone or "") if by == "zone" else None
        key = (e.subject_id, e.source_id, zone)
        if (key, e.event_type, e.ts, e.event_id) in seen:
            continue
        seen.add((key, e.event_type, e.ts, e.event_id))
        groups[key].append(e)

    out: list[dict[str, Any]] = []

    def emit(
        key: tuple[str, str, str | None], entry: Ev | None, exit_: Ev | None, status: str
    ) -> None:
        duration = None
        if status == "complete" and entry and exit_:
            duration = (exit_.ts - entry.ts) // timedelta(milliseconds=1)
        out.append(
            {
                "subject_id": key[0],
                "source_id": key[1],
                "zone": key[2],
                "entry_ts": entry.ts if entry else None,
                "exit_ts": exit_.ts if exit_ else None,
                "duration_ms": duration,
                "status": status,
                "entry_event_id": entry.event_id if entry else None,
                "exit_event_id": exit_.event_id if exit_ else None,
            }
        )

    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2] or "")):
        timeline = sorted(groups[key], key=lambda e: (e.ts, e.event_type == "entry", e.event_id))
        open_entry: Ev | None = None
        for e in timeline:
            if e.event_type == "entry":
                if open_entry is not None:
                    emit(key, open_entry, None, "timed_out")
                open_entry = e
            elif open_entry is not None and e.ts - open_entry.ts <= max_session:
                emit(key, open_entry, e, "complete")
                open_entry = None
            else:
                if open_entry is not None:
                    emit(key, open_entry, None, "timed_out")
                emit(key, None, e, "orphan_exit")
                open_entry = None
        if open_entry is not None:
            fresh = data_end - open_entry.ts <= max_session
            emit(key, open_entry, None, "open" if fresh else "timed_out")
    return out


@st.composite
def event_sets(draw: st.DrawFn) -> tuple[list[Ev], GroupBy, timedelta, datetime]:
    n = draw(st.integers(0, 40))
    ids = draw(st.permutations([f"e{i:03d}" for i in range(n)]))
    events = [
        Ev(
            event_id=ids[i],
            event_type=draw(st.sampled_from(["entry", "exit", "entry", "exit", "motion"])),
            ts=at(draw(st.integers(0, 120)) + draw(st.sampled_from([0, 0, 0.5, 0.001]))),
            subject_id=draw(st.sampled_from(["p1", "p2"])),
            source_id=draw(st.sampled_from(["cam1", "cam2"])),
            zone=draw(st.sampled_from([None, "a", "b"])),
        )
        for i in range(n)
    ]
    copies = draw(st.lists(st.sampled_from(events), max_size=5)) if events else []
    shuffled = draw(st.permutations(events + copies))
    by = draw(st.sampled_from(GROUPINGS))
    max_session = timedelta(minutes=draw(st.sampled_from([1, 10, 30, 200])))
    data_end = at(120 + draw(st.integers(0, 60)))
    return shuffled, by, max_session, data_end


@settings(max_examples=300, deadline=None)
@given(event_sets())
def test_matches_event_by_event_reference(
    case: tuple[list[Ev], GroupBy, timedelta, datetime],
) -> None:
    events, by, max_session, data_end = case
    got = pair_sessions(table(events), by=by, max_session=max_session, data_end=data_end)
    assert got.to_pylist() == reference(events, by, max_session, data_end)


def test_carried_columns_come_from_the_anchor_event() -> None:
    events = table([Ev("a", "entry", at(0)), Ev("b", "exit", at(5)), Ev("c", "exit", at(9))])
    events = events.append_column("note", pa.array(["in", "out", "stray"]))
    result = pair_sessions(events, data_end=at(9), carry=["note"]).to_pylist()
    assert [(s["status"], s["note"]) for s in result] == [
        ("complete", "in"),
        ("orphan_exit", "stray"),
    ]
    with pytest.raises(ValueError, match="session columns"):
        pair_sessions(events, data_end=at(9), carry=["status"])


# --- the fast paths: chunked input, wide group codes --------------------------------------


@settings(max_examples=60, deadline=None)
@given(event_sets(), st.integers(1, 4), st.integers(0, 6))
def test_chunked_input_with_other_rows_pairs_as_one_clean_table(
    case: tuple[list[Ev], GroupBy, timedelta, datetime], chunks: int, detections: int,
) -> None:
    """Several chunks, and detection rows with no person between them, change nothing."""
    events, by, max_session, data_end = case
    plain = pair_sessions(table(events), by=by, max_session=max_session, data_end=data_end)
    noise = [{"event_id": f"d{i}", "source_id": "cam9", "event_type": "detection",
              "ts": at(i), "subject_id": None, "zone": None} for i in range(detections)]
    rows = [e._asdict() for e in events] + noise
    size = max(1, -(-len(rows) // chunks))
    parts = [pa.Table.from_pylist(rows[i:i + size], schema=SCHEMA)
             for i in range(0, len(rows), size)] or [table([])]
    chunked = pa.concat_tables(parts)
    got = pair_sessions(chunked, by=by, max_session=max_session, data_end=data_end)
    assert got.equals(plain)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 7, 65_535, 65_536, 65_537, 1 << 20, (1 << 32) - 1,
                                 1 << 32, 1 << 40]), max_size=60),
       st.integers(0, 1000))
def test_stable_regrouping_equals_a_stable_argsort(values: list[int], seed: int) -> None:
    from vigil.dwell.pairing import _stable_order_by

    rng = np.random.default_rng(seed)
    keys = np.array(values, dtype=np.int64)
    start = rng.permutation(len(keys)).astype(np.int64)
    expected = start[np.argsort(keys[start], kind="stable")]
    assert _stable_order_by(keys, start).tolist() == expected.tolist()


def test_many_groups_pair_as_the_reference() -> None:
    """More than 65,536 person/camera groups: the group sort takes a second radix pass."""
    rng = np.random.default_rng(5)
    people = 70_000
    events = [Ev(f"e{i}", "entry" if i % 2 == 0 else "exit", at(int(rng.integers(0, 200))),
                 subject_id=f"p{int(rng.integers(0, people))}") for i in range(2 * people)]
    got = pair_sessions(table(events), data_end=at(200))
    assert got.to_pylist() == reference(events, "camera", DEFAULT_MAX_SESSION, at(200))
