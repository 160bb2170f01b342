"""The sessions kept in the insert transaction equal a rebuild and a full pairing.

Random entry/exit events (a few persons, two cameras, zones including none, timestamps on a
coarse grid so that instants tie, out of order, repeated within and across batches, some
without a person, motion events that only move the data end) are split into random batches
and inserted one by one into a real store (DuckDB and PostgreSQL), with a maximum session
short enough that visits time out. After every batch the ``sessions`` table must equal
:func:`vigil.dwell.pair_sessions` over the stored events; at the end it must equal
``rebuild_sessions()`` and a pairing of an independent model of what was stored.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.dwell import GroupBy, pair_sessions
from vigil.store import EventFilter, Store, open_store, postgres
from vigil.store.base import EVENT_INPUT_SCHEMA

T0 = dt.datetime(2026, 3, 28, 22, 30, tzinfo=dt.UTC)  # visits straddle midnight in Berlin
MAX_SESSION = dt.timedelta(minutes=30)
GROUPINGS: tuple[GroupBy, ...] = ("camera", "zone")
SESSION_KEY = ("subject_id", "source_id", "zone", "entry_ts", "exit_ts", "duration_ms",
               "status", "entry_event_id", "exit_event_id")
CARRIED = ("local_date", "local_hour", "local_weekday", "attributes")
Row = dict[str, Any]


# -- strategies --------------------------------------------------------------------------------
ids = st.integers(0, 60).map(lambda n: f"e{n}")  # a small pool: an id can repeat elsewhen
attributes = st.one_of(st.none(), st.integers(0, 3).map(lambda n: json.dumps({"n": n})))


def at(step: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=5 * step)


@st.composite
def events(draw: st.DrawFn) -> Row:
    """One loose event: entry, exit (maybe without a person) or motion far later."""
    event_type = draw(st.sampled_from(["entry", "exit", "motion"]))
    motion = event_type == "motion"
    return {
        "event_id": draw(ids), "source_id": draw(st.sampled_from(["cam1", "cam2"])),
        "event_type": event_type, "ts": at(draw(st.integers(0, 30 if motion else 12))),
        "labels": ["person"],
        "subject_id": None if motion else draw(st.sampled_from(["p1", "p2", None])),
        "zone": draw(st.sampled_from([None, "door", "hall"])),
        "attributes": draw(attributes),
    }


@st.composite
def visits(draw: st.DrawFn) -> list[Row]:
    """A person's comings and goings at one camera: mostly alternating, sometimes twice the
    same way, steps of 0 to 20 minutes (0: the same instant, as "left and came back")."""
    person = draw(st.sampled_from(["p1", "p2"]))
    source = draw(st.sampled_from(["cam1", "cam2"]))
    step = draw(st.integers(0, 12))
    kind = "entry"
    out: list[Row] = []
    for _ in range(draw(st.integers(1, 6))):
        out.append({"event_id": draw(ids), "source_id": source, "event_type": kind,
                    "ts": at(step), "labels": ["person"], "subject_id": person,
                    "zone": draw(st.sampled_from([None, "door", "door"])),
                    "attributes": draw(attributes)})
        step += draw(st.sampled_from([0, 0, 1, 2, 3, 4]))
        flip = draw(st.integers(0, 3)) > 0
        kind = ("exit" if kind == "entry" else "entry") if flip else kind
    return out


@st.composite
def batch_lists(draw: st.DrawFn) -> list[list[Row]]:
    """Visits and loose events, some repeated later, cut into batches: in time order with a
    few swapped (as streams arrive), or shuffled."""
    pool = [event for visit in draw(st.lists(visits(), min_size=1, max_size=5))
            for event in visit]
    pool += draw(st.lists(events(), max_size=10))
    pool += draw(st.lists(st.sampled_from(pool), max_size=6))  # repeats
    if draw(st.booleans()):
        order = draw(st.permutations(pool))
    else:
        order = sorted(pool, key=lambda event: event["ts"])
        for a, b in draw(st.lists(st.tuples(*[st.integers(0, len(order) - 1)] * 2),
                                  max_size=4)):
            order[a], order[b] = order[b], order[a]
    if len(order) < 2:
        return [order]
    cuts = sorted(draw(st.lists(st.integers(1, len(order) - 1), min_size=1, max_size=12)))
    bounds = [0, *cuts, len(order)]
    return [order[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


# -- expectations ------------------------------------------------------------------------------
def comparable(rows: list[Row]) -> list[tuple[Any, ...]]:
    """Session rows as sorted tuples of the session columns and the carried ones."""
    out = []
    for row in rows:
        attributes = row["attributes"]
        if isinstance(attributes, str):
            attributes = json.loads(attributes)
        out.append((*(row[k] for k in SESSION_KEY), *(row[k] for k in CARRIED[:3]),
                    json.dumps(attributes, sort_keys=True)))
    return sorted(out, key=repr)


def stored_events(store: Store) -> pa.Table:
    events = store.list_events(EventFilter(), None, 10_000).events
    return pa.Table.from_pylist([{k: e[k] for k in ("event_id", "source_id", "event_type",
                                                   "ts", "subject_id", "zone", *CARRIED)}
                                 for e in events])


def paired(events: pa.Table, grouping: GroupBy, carry: tuple[str, ...] = CARRIED
           ) -> list[Row]:
    """Full pairing of the entry/exit events that have a person."""
    if not events.num_rows:
        return []
    data_end = max(events.column("ts").to_pylist())
    keep = [row["subject_id"] is not None for row in events.to_pylist()]
    return pair_sessions(events.filter(pa.array(keep)), by=grouping,
                         max_session=MAX_SESSION, data_end=data_end, carry=carry).to_pylist()


def model_events(batches: list[list[Row]]) -> pa.Table:
    """What the store must hold: the first event of each (id, instant), in insert order."""
    firsts: dict[tuple[str, dt.datetime], Row] = {}
    for batch in batches:
        for event in batch:
            firsts.setdefault((event["event_id"], event["ts"]), event)
    return pa.Table.from_pylist(list(firsts.values())).select(
        ["event_id", "source_id", "event_type", "ts", "subject_id", "zone"])


def check(store: Store) -> None:
    events = stored_events(store)
    for grouping in GROUPINGS:
        assert comparable(store.read_sessions(grouping).to_pylist()) == \
            comparable(paired(events, grouping)), grouping


def person_keys(store: Store) -> dict[str, int]:
    """Each session's subject id and person key; one key per subject and subject per key."""
    rows = store.read_analytics("SELECT DISTINCT subject_id, person_key FROM sessions")
    keys = {r["subject_id"]: r["person_key"] for r in rows.to_pylist()}
    assert len(keys) == rows.num_rows and len(set(keys.values())) == len(keys)
    assert None not in keys.values()
    return keys


def run(batches: list[list[Row]], fresh: Callable[[], Store]) -> None:
    store = fresh()
    try:
        store.set_source_timezone("cam1", "Europe/Berlin")
        for batch in batches:
            store.insert_events(pa.Table.from_pylist(batch, schema=EVENT_INPUT_SCHEMA))
            check(store)
        incremental = {g: store.read_sessions(g).to_pylist() for g in GROUPINGS}
        keys = person_keys(store)
        counts = store.rebuild_sessions()
        assert {g: store.read_sessions(g).to_pylist() for g in GROUPINGS} == incremental
        assert person_keys(store) == keys
        assert counts == store.count_sessions()
        model = model_events(batches)
        for grouping in GROUPINGS:
            assert sorted(map(repr, (tuple(r[k] for k in SESSION_KEY)
                                     for r in incremental[grouping]))) == \
                sorted(map(repr, (tuple(r[k] for k in SESSION_KEY)
                                  for r in paired(model, grouping, ()))))
    finally:
        store.close()


def duckdb_stores(folder: Path) -> Callable[[], Store]:
    """A new DuckDB file each call: a copy of one migrated once (migrating takes longer)."""
    template = folder / "template.duckdb"
    if not template.exists():
        open_store(str(template)).close()
    made = iter(range(1_000_000))

    def fresh() -> Store:
        path = folder / f"{next(made)}.duckdb"
        shutil.copyfile(template, path)
        return open_store(str(path), max_session=MAX_SESSION)

    return fresh


def postgres_stores(url: str) -> Callable[[], Store]:
    def fresh() -> Store:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("TRUNCATE events, hourly_counts, sources, sessions")
        return open_store(url, max_session=MAX_SESSION)

    return fresh


COMMON = settings(deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])


@settings(COMMON, max_examples=50)
@given(batches=batch_lists())
def test_duckdb_sessions_equal_pairing_and_rebuild(batches: list[list[Row]],
                                                   tmp_path: Path) -> None:
    run(batches, duckdb_stores(tmp_path))


@settings(COMMON, max_examples=25)
@given(batches=batch_lists())
def test_postgres_sessions_equal_pairing_and_rebuild(batches: list[list[Row]],
                                                     pg_url: str) -> None:
    run(batches, postgres_stores(pg_url))


@settings(COMMON, max_examples=10)
@given(batches=batch_lists())
def test_postgres_bulk_path_sessions_equal_pairing_and_rebuild(
        batches: list[list[Row]], pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "BULK_PATH_MIN_ROWS", 1)  # every batch tries COPY first
    run(batches, postgres_stores(pg_url))
