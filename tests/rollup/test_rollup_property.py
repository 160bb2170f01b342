"""Exactness of the rollup jobs.

- For random events of sources in several zones across two DST changes, the daily, weekly
  and monthly records equal the same statistics computed from the raw events; processing
  in two steps (late events between) equals a full rebuild; running again changes nothing.
- The SQL stores (DuckDB, PostgreSQL) and InfluxDB give the same answers for the same data.
- InfluxDB: a crash after the points were written cannot double count; a backfill older
  than a retention policy says so in its notes instead of failing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.rollup import InfluxAggregateStore, SqlAggregateStore
from vigil.rollup.aggregates import AggregateStore
from vigil.rollup.jobs import backfill, run_rollup
from vigil.store import Store, open_store

from .conftest import drop_influx_database, influx_store, new_database_name
from .test_jobs import EventSpec, brute_force, ingest, run_all, stored

UTC = dt.UTC
ZONES = {"ny": "America/New_York", "berlin": "Europe/Berlin", "kolkata": "Asia/Kolkata",
         "plain": "UTC"}
WINDOW_START = dt.datetime(2026, 2, 20, tzinfo=UTC)  # US DST starts 8 March, EU 29 March
WINDOW_SECONDS = 45 * 86_400
NOW = dt.datetime(2026, 5, 10, tzinfo=UTC)
SPAN = (dt.date(2026, 2, 1), dt.date(2026, 4, 30))
LAYERS = ("daily", "weekly", "monthly")
WIPE = ("events", "hourly_counts", "aggregates", "rollup_runs")

event_st = st.tuples(
    st.sampled_from(sorted(ZONES)),
    st.integers(0, WINDOW_SECONDS - 1),
    st.sampled_from(["detection", "alert"]),
    st.lists(st.sampled_from(["person", "car", "dog"]), max_size=2, unique=True),
    st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
    st.booleans(),  # arrives late
)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One DuckDB store for every example (emptied by each)."""
    store = open_store(str(tmp_path_factory.mktemp("prop") / "p.duckdb"))
    try:
        yield store
    finally:
        store.close()


def wipe(store: Store, tables: tuple[str, ...]) -> None:
    with store.transaction():
        for table in tables:
            store._write(f"DELETE FROM {table}")  # type: ignore[attr-defined]


def snapshot(aggregates: AggregateStore) -> dict[str, Any]:
    return {layer: aggregates.query(*SPAN, layer=layer) for layer in LAYERS}


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(event_st, max_size=40))
def test_rollups_equal_raw_statistics_incrementally_and_rebuilt(
        shared_store: Store, drawn: list[tuple[Any, ...]]) -> None:
    store = shared_store
    wipe(store, WIPE)
    for source, zone in ZONES.items():
        store.set_source_timezone(source, zone)
    specs: list[EventSpec] = [
        (f"e{i}", source, WINDOW_START + dt.timedelta(seconds=offset), event_type, labels,
         confidence)
        for i, (source, offset, event_type, labels, confidence, _) in enumerate(drawn)]
    late = {f"e{i}" for i, item in enumerate(drawn) if item[-1]}
    aggregates = SqlAggregateStore(store)

    ingest(store, [s for s in specs if s[0] not in late])
    run_all(store, aggregates, NOW)
    ingest(store, [s for s in specs if s[0] in late])
    run_all(store, aggregates, NOW)
    incremental = snapshot(aggregates)
    for layer in LAYERS:
        assert stored(aggregates, layer, *SPAN) == brute_force(layer, specs, ZONES), layer

    for job in LAYERS:  # running again changes nothing
        assert run_rollup(job, store, aggregates, now=NOW).periods == ()
    assert snapshot(aggregates) == incremental

    wipe(store, ("aggregates", "rollup_runs"))
    run_all(store, aggregates, NOW)
    assert snapshot(aggregates) == incremental


# -- SQL and InfluxDB alike --------------------------------------------------------------------
TODAY = dt.datetime.now(UTC).date()
"""InfluxDB applies retention by its own clock: these tests place data near the real date."""


def recent_events(days: int = 50) -> list[EventSpec]:
    start = dt.datetime.combine(TODAY - dt.timedelta(days=days), dt.time(), UTC)
    return [(f"r{i}", ("ny", "berlin", "plain")[i % 3], start + dt.timedelta(hours=7 * i + i % 5),
             ("detection", "alert")[i % 2], [("person", "car", "dog")[i % 3]][: i % 2 + 1],
             (i % 10) / 10 if i % 4 else None)
            for i in range(days * 24 // 7)]


@pytest.fixture
def influx(influx_server: Any) -> Iterator[InfluxAggregateStore]:
    database = new_database_name()
    store = influx_store(influx_server.url, database)
    try:
        yield store
    finally:
        store.close()
        drop_influx_database(influx_server.url, database)


def prepared(url: str, specs: list[EventSpec]) -> Store:
    store = open_store(url)
    for source, zone in ZONES.items():
        store.set_source_timezone(source, zone)
    ingest(store, specs)
    return store


def test_sql_and_influxdb_give_the_same_answers(tmp_path: Path, pg_url: str,
                                                influx: InfluxAggregateStore) -> None:
    specs = recent_events()
    now = dt.datetime.combine(TODAY, dt.time(6), UTC)
    start, end = TODAY - dt.timedelta(days=60), TODAY
    duck, pg = prepared(str(tmp_path / "d.duckdb"), specs), prepared(pg_url, specs)
    try:
        answers = []
        for main, aggregates in ((duck, SqlAggregateStore(duck)), (pg, SqlAggregateStore(pg)),
                                 (duck, influx)):
            reports = backfill(main, aggregates, start, end, now=now)
            assert all(not r.notes or "not ended" in " ".join(r.notes) for r in reports)
            answers.append({
                "records": {layer: [(r.entity, r.bucket, r.fields) for r in
                                    aggregates.query(start - dt.timedelta(days=31), end,
                                                     layer=layer)] for layer in LAYERS},
                "sums": [aggregates.aggregate(start - dt.timedelta(days=31), end, field, agg,
                                              entity=entity, layer=layer)
                         for layer in LAYERS for field in ("events", "confidence_micros")
                         for agg in ("sum", "mean", "count") for entity in (None, "ny")],
            })
        assert answers[0] == answers[1] == answers[2]
        assert answers[0]["records"]["weekly"]  # something was compared
        weekly = {(e, b): f for e, b, f in answers[2]["records"]["weekly"]}
        expected = brute_force("weekly", specs, ZONES)
        assert {k: weekly[k] for k in weekly} == {k: expected[k] for k in weekly}
    finally:
        duck.close()
        pg.close()


def test_influx_crash_after_points_cannot_double_count(
        tmp_path: Path, influx: InfluxAggregateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store = prepared(str(tmp_path / "c.duckdb"), recent_events(20))
    now = dt.datetime.combine(TODAY, dt.time(6), UTC)
    try:
        run_all(store, influx, now)
        before = snapshot_recent(influx)
        week = max(key for key in before["weekly"] if key[0] == "ny")
        ingest(store, [("late", "ny", dt.datetime.combine(week[1], dt.time(18), UTC),
                        "detection", ["person"], None)])

        def crash(job: str, runs: object) -> None:
            raise RuntimeError("killed after the points were written")

        monkeypatch.setattr(store, "record_rollup_runs", crash)
        with pytest.raises(RuntimeError, match="killed"):
            run_rollup("weekly", store, influx, now=now)
        monkeypatch.undo()
        assert dict(store.rollup_runs("weekly"))  # the old rows, untouched
        report = run_rollup("weekly", store, influx, now=now)
        assert week[1] in report.periods
        after = snapshot_recent(influx)
        assert after["weekly"][week]["events"] == before["weekly"][week]["events"] + 1
        assert run_rollup("weekly", store, influx, now=now).periods == ()
        assert snapshot_recent(influx) == after
    finally:
        store.close()


def snapshot_recent(aggregates: AggregateStore) -> dict[str, dict[tuple[str, dt.date], Any]]:
    return {layer: {(r.entity, r.bucket): r.fields for r in
                    aggregates.query(TODAY - dt.timedelta(days=80), TODAY, layer=layer)}
            for layer in LAYERS}


def test_influx_backfill_older_than_retention_is_reported_not_failed(
        tmp_path: Path, influx: InfluxAggregateStore) -> None:
    old = dt.datetime.combine(TODAY - dt.timedelta(days=200), dt.time(12), UTC)
    recent = dt.datetime.combine(TODAY - dt.timedelta(days=10), dt.time(12), UTC)
    store = prepared(str(tmp_path / "r.duckdb"), [
        ("old", "plain", old, "detection", ["person"], None),
        ("new", "plain", recent, "detection", ["person"], None)])
    try:
        reports = backfill(store, influx, old.date(), recent.date(),
                           now=dt.datetime.combine(TODAY, dt.time(6), UTC))
        daily = reports[0]
        kept = influx.query(old.date(), recent.date())  # activity and pattern summaries
        assert daily.periods == (old.date(), recent.date()) and daily.rows_written == len(kept)
        assert [r.bucket for r in kept if r.detector == "activity"] == [recent.date()]
        assert any(str(old.date()) in n and "retention" in n for n in daily.notes)
        assert not any("retention" in n for r in reports[1:] for n in r.notes)  # 365 days
        assert {r.bucket for r in kept} == {recent.date()}
        assert dict(store.rollup_runs("daily"))[old.date()] == 1  # done: nothing to retry
    finally:
        store.close()
