"""The retention purge on real stores (DuckDB and PostgreSQL): each layer, bounded batches,
keep-forever, and never a raw event or hourly count whose rollup is not done."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from vigil.config import Settings
from vigil.rollup import InfluxAggregateStore, InfluxSettings, SqlAggregateStore
from vigil.rollup.aggregates import AggregateRecord
from vigil.rollup.jobs import run_rollup
from vigil.rollup.retention import RetentionPolicy, hourly_cutoff, run_retention
from vigil.store import Store, open_store
from vigil.store.base import EVENT_INPUT_SCHEMA

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
KEEP_ALL = RetentionPolicy(raw_days=0, hourly_days=0, daily_days=0, weekly_days=0,
                           monthly_days=0)


def day_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def events_on(day: dt.date, count: int, prefix: str = "e", **extra: Any
              ) -> list[dict[str, Any]]:
    """``count`` detections on ``day`` (UTC, the stores' default zone), a minute apart."""
    noon = dt.datetime.combine(day, dt.time(10), dt.UTC)
    return [{"event_id": f"{prefix}-{day}-{i}", "source_id": "cam1",
             "event_type": "detection", "ts": noon + dt.timedelta(minutes=i),
             "labels": ["person"], "confidence": 0.5, **extra} for i in range(count)]


def insert(store: Store, rows: Iterable[dict[str, Any]]) -> int:
    table = pa.Table.from_pylist(list(rows), schema=EVENT_INPUT_SCHEMA)
    return store.insert_events(table) if table.num_rows else 0


def events_per_day(store: Store) -> dict[dt.date, int]:
    table = store.read_analytics("SELECT local_date, count(*) AS n FROM events "
                                 "GROUP BY local_date")
    return {day: int(n) for day, n in zip(table.column("local_date").to_pylist(),
                                          table.column("n").to_pylist(), strict=True)}


def hourly_days(store: Store) -> set[dt.date]:
    return set(store.hourly_counts().column("local_date").to_pylist())


def roll_up(store: Store, aggregates: SqlAggregateStore, job: str,
            days: Iterable[dt.date]) -> None:
    for day in days:
        run_rollup(job, store, aggregates, now=NOW, period=day)


def test_raw_events_past_retention_go_once_their_day_is_rolled_up(store: Store) -> None:
    days = [day_ago(n) for n in range(1, 41)]
    insert(store, (row for day in days for row in events_on(day, 5)))
    aggregates = SqlAggregateStore(store)
    roll_up(store, aggregates, "daily", [d for d in days if d != day_ago(35)])

    report = run_retention(store, aggregates, RetentionPolicy(raw_days=30), now=NOW)

    kept = events_per_day(store)
    assert set(kept) == {d for d in days if d >= day_ago(30)} | {day_ago(35)}
    assert all(n == 5 for n in kept.values())
    assert report.job == "retention" and report.done and report.rows_deleted == 9 * 5
    assert "raw events: 45 row(s) deleted (before 2026-05-11); 1 older day(s) kept: their " \
           "rollup is not done" in report.notes
    assert hourly_days(store) == set(days)  # hourly counts outlive raw events
    assert report.rows_written == 0 and report.periods == ()


def test_a_dirty_day_keeps_its_raw_events_until_rolled_up_again(store: Store) -> None:
    old = day_ago(40)
    insert(store, events_on(old, 3))
    aggregates = SqlAggregateStore(store)
    roll_up(store, aggregates, "daily", [old])
    insert(store, events_on(old, 1, prefix="late"))  # late: the day is dirty
    policy = RetentionPolicy(raw_days=30)

    assert run_retention(store, aggregates, policy, now=NOW).rows_deleted == 0
    assert events_per_day(store) == {old: 4}
    roll_up(store, aggregates, "daily", [old])
    assert run_retention(store, aggregates, policy, now=NOW).rows_deleted == 4
    assert events_per_day(store) == {}


def test_bounded_batches_report_not_done_then_the_next_run_finishes(store: Store) -> None:
    days = [day_ago(n) for n in range(40, 50)]
    insert(store, (row for day in days for row in events_on(day, 10)))
    aggregates = SqlAggregateStore(store)
    assert run_rollup("daily", store, aggregates, now=NOW).periods == tuple(sorted(days))
    policy = RetentionPolicy(raw_days=30)

    first = run_retention(store, aggregates, policy, now=NOW, batch_size=30, max_batches=2)
    assert (first.done, first.rows_deleted) == (False, 60)
    assert "hourly counts: not purged yet" in first.notes
    assert "stopped after 2 batch(es); the next run goes on" in first.notes
    assert sum(events_per_day(store).values()) == 40

    second = run_retention(store, aggregates, policy, now=NOW, batch_size=30)
    assert (second.done, second.rows_deleted) == (True, 40)
    assert events_per_day(store) == {}


def test_zero_days_keeps_every_layer_forever(store: Store) -> None:
    old = day_ago(5000)
    insert(store, events_on(old, 3))
    aggregates = SqlAggregateStore(store)
    for job in ("daily", "weekly", "monthly"):
        roll_up(store, aggregates, job, [old])
    before = {layer: len(aggregates.query(old - dt.timedelta(days=40), old, layer=layer))
              for layer in ("daily", "weekly", "monthly")}

    report = run_retention(store, aggregates, KEEP_ALL, now=NOW)

    assert report.rows_deleted == 0 and report.done
    assert events_per_day(store) == {old: 3} and hourly_days(store) == {old}
    assert {layer: len(aggregates.query(old - dt.timedelta(days=40), old, layer=layer))
            for layer in before} == before
    assert before["weekly"] == before["monthly"] == 1
    activity = aggregates.query(old - dt.timedelta(days=40), old, detector="activity")
    assert len(activity) == 1 and before["daily"] > 1  # with the day's pattern summaries
    assert [n for n in report.notes if "kept forever" in n] == [
        "raw events: kept forever", "hourly counts: kept forever",
        "daily aggregates: kept forever", "weekly aggregates: kept forever",
        "monthly aggregates: kept forever"]


def test_hourly_counts_go_by_whole_rolled_up_weeks_and_months(store: Store) -> None:
    policy = RetentionPolicy(raw_days=0, hourly_days=400)
    cutoff = hourly_cutoff(TODAY, 400)
    assert cutoff.day == 1 or cutoff.weekday() == 0
    assert cutoff <= TODAY - dt.timedelta(days=400)
    days = [cutoff - dt.timedelta(days=n) for n in range(1, 70)] + [cutoff]
    insert(store, (row for day in days for row in events_on(day, 2)))
    aggregates = SqlAggregateStore(store)
    pending_month = (cutoff - dt.timedelta(days=45)).replace(day=1)
    for job in ("daily", "weekly", "monthly"):
        assert run_rollup(job, store, aggregates, now=NOW).done  # catch up: every period
    insert(store, events_on(pending_month + dt.timedelta(days=3), 1, prefix="late"))

    report = run_retention(store, aggregates, policy, now=NOW)

    month_end = (pending_month + dt.timedelta(days=32)).replace(day=1)
    late_week = pending_month + dt.timedelta(days=3)
    late_week -= dt.timedelta(days=late_week.weekday())
    expected = {d for d in days if d >= cutoff or pending_month <= d < month_end
                or late_week <= d < late_week + dt.timedelta(days=7)}
    assert hourly_days(store) == expected
    assert report.done and report.rows_deleted > 0
    assert events_per_day(store)  # raw events are kept forever by this policy


def test_aggregate_layers_expire_by_their_own_retention(store: Store) -> None:
    aggregates = SqlAggregateStore(store)
    records = [AggregateRecord(layer, "activity", "cam1", bucket, {"events": 1})
               for layer, buckets in (
                   ("daily", [day_ago(n) for n in (1, 9, 10, 11, 100)]),
                   ("weekly", [day_ago(n) - dt.timedelta(days=day_ago(n).weekday())
                               for n in (7, 30, 60, 1200)]),
                   ("monthly", [day_ago(n).replace(day=1) for n in (0, 100, 400, 4000)]))
               for bucket in buckets]
    aggregates.write_batch(records)
    policy = RetentionPolicy(raw_days=0, hourly_days=0, daily_days=10, weekly_days=30,
                             monthly_days=100)

    report = run_retention(store, aggregates, policy, now=NOW, batch_size=1)

    def left(layer: str) -> list[dt.date]:
        return [r.bucket for r in aggregates.query(dt.date(2000, 1, 1), TODAY, layer=layer)]

    assert left("daily") == [day_ago(10), day_ago(9), day_ago(1)]
    week_30 = day_ago(30) - dt.timedelta(days=day_ago(30).weekday())
    assert left("weekly") == sorted(b for b in {r.bucket for r in records
                                                if r.layer == "weekly"} if b >= week_30)
    assert left("monthly") == [day_ago(100).replace(day=1), TODAY.replace(day=1)]
    assert report.rows_deleted == len(records) - 7 and report.done


def test_sessions_are_kept_and_stay_exact_after_a_purge(store: Store, tmp_path: Path) -> None:
    reference = open_store(str(tmp_path / "reference.duckdb"))
    try:
        visits = [day_ago(n) for n in (45, 40, 35, 2)]
        history = [row for i, day in enumerate(visits) for row in visit(day, f"v{i}")]
        for target in (store, reference):
            insert(target, history)
        aggregates = SqlAggregateStore(store)
        roll_up(store, aggregates, "daily", visits)
        sessions_before = store.read_sessions().to_pylist()

        report = run_retention(store, aggregates, RetentionPolicy(raw_days=30), now=NOW)

        assert report.rows_deleted > 0
        assert store.read_sessions().to_pylist() == sessions_before
        newer = visit(day_ago(1), "new") + visit(day_ago(2), "late", hour=20)
        for target in (store, reference):
            insert(target, newer)
        for grouping in ("camera", "zone"):
            assert (store.read_sessions(grouping).to_pylist()
                    == reference.read_sessions(grouping).to_pylist())
    finally:
        reference.close()


def visit(day: dt.date, prefix: str, hour: int = 9) -> list[dict[str, Any]]:
    """An entry and an exit of person p1 in zone ``door``, and a detection between."""
    start = dt.datetime.combine(day, dt.time(hour), dt.UTC)
    person = {"source_id": "cam1", "labels": ["person"], "subject_id": "p1", "zone": "door"}
    return [{"event_id": f"{prefix}-in", "event_type": "entry", "ts": start, **person},
            {"event_id": f"{prefix}-seen", "event_type": "detection",
             "ts": start + dt.timedelta(minutes=5), "labels": ["person"], "source_id": "cam1"},
            {"event_id": f"{prefix}-out", "event_type": "exit",
             "ts": start + dt.timedelta(minutes=30), **person}]


def test_influxdb_aggregates_are_left_to_its_retention_policies(store: Store) -> None:
    influx = InfluxAggregateStore(InfluxSettings("http://127.0.0.1:9", "unused"))
    try:
        report = run_retention(store, influx, RetentionPolicy(), now=NOW)
    finally:
        influx.close()
    assert report.done
    assert any(n.startswith("aggregates: InfluxAggregateStore expires records by its own "
                            "retention policies") for n in report.notes)


def test_policy_from_settings_and_its_checks() -> None:
    settings = Settings(retention_raw_days=7, retention_hourly_days=20,
                        retention_daily_days=0, retention_weekly_days=50,
                        retention_monthly_days=3000, baseline_window_weeks=8)
    policy = RetentionPolicy.from_settings(settings)
    assert policy == RetentionPolicy(raw_days=7, hourly_days=56, daily_days=0,
                                     weekly_days=50, monthly_days=3000)  # baseline window
    assert RetentionPolicy.from_settings(Settings()) == RetentionPolicy()
    with pytest.raises(ValueError, match="raw_days must be a whole number of days >= 0"):
        RetentionPolicy(raw_days=-1)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        run_retention(None, None, RetentionPolicy(), now=NOW, batch_size=0)  # type: ignore[arg-type]


def test_retention_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_RETENTION_RAW_DAYS", "14")
    monkeypatch.setenv("VIGIL_RETENTION_MONTHLY_DAYS", "0")
    settings = Settings()
    assert (settings.retention_raw_days, settings.retention_hourly_days,
            settings.retention_daily_days, settings.retention_weekly_days,
            settings.retention_monthly_days) == (14, 400, 90, 1096, 0)
    monkeypatch.setenv("VIGIL_RETENTION_RAW_DAYS", "-3")
    with pytest.raises(ValueError, match="retention_raw_days"):
        Settings()


# -- the property: retention never removes raw data whose day is not rolled up ------------
DAYS = st.sets(st.integers(min_value=1, max_value=20), min_size=1, max_size=10)


@hsettings(max_examples=15, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_retention_never_removes_raw_events_of_a_day_not_rolled_up(store: Store,
                                                                    data: st.DataObject) -> None:
    empty(store)
    offsets = data.draw(DAYS, label="days with events")
    counts = {day_ago(n): data.draw(st.integers(1, 3)) for n in sorted(offsets)}
    rolled = data.draw(st.sets(st.sampled_from(sorted(counts))), label="rolled up")
    dirty = data.draw(st.sets(st.sampled_from(sorted(counts))), label="late events") & rolled
    raw_days = data.draw(st.integers(1, 15), label="raw_days")
    batch_size = data.draw(st.integers(1, 7), label="batch_size")
    insert(store, (row for day, n in counts.items() for row in events_on(day, n)))
    aggregates = SqlAggregateStore(store)
    roll_up(store, aggregates, "daily", sorted(rolled))
    insert(store, (row for day in dirty for row in events_on(day, 1, prefix="late")))
    expected = Counter({day: n + (day in dirty) for day, n in counts.items()})

    report = run_retention(store, aggregates, RetentionPolicy(raw_days=raw_days), now=NOW,
                           batch_size=batch_size)

    before = day_ago(raw_days)
    gone = {day for day in counts if day < before and day in rolled and day not in dirty}
    assert events_per_day(store) == {d: n for d, n in expected.items() if d not in gone}
    assert report.rows_deleted == sum(expected[d] for d in gone) and report.done


def empty(store: Store) -> None:
    """Start an example afresh on the same store."""
    with store.transaction():
        for table in ("events", "hourly_counts", "rollup_runs", "aggregates", "sessions"):
            store._write(f"DELETE FROM {table}")  # type: ignore[attr-defined]


def hourly_totals_by_day(store: Store) -> dict[dt.date, int]:
    """Events counted per local day (the ``*`` label rows of the hourly counts)."""
    counts = store.hourly_counts().to_pylist()
    totals: Counter[dt.date] = Counter()
    for row in counts:
        if row["label"] == "*":
            totals[row["local_date"]] += row["event_count"]
    return dict(totals)


def test_a_new_time_zone_after_a_purge_keeps_the_counts_of_purged_days(store: Store) -> None:
    days = [day_ago(n) for n in range(1, 41)]
    insert(store, (row for day in days for row in events_on(day, 5)))
    aggregates = SqlAggregateStore(store)
    roll_up(store, aggregates, "daily", days)
    run_retention(store, aggregates, RetentionPolicy(raw_days=30), now=NOW)
    purged_days = {d: 5 for d in days if d < day_ago(30)}
    assert purged_days and set(events_per_day(store)).isdisjoint(purged_days)

    # UTC+14: the kept events (10:00-10:04 UTC) move to the next local day
    store.set_source_timezone("cam1", "Pacific/Kiritimati")

    totals = hourly_totals_by_day(store)
    assert {d: n for d, n in totals.items() if d in purged_days} == purged_days
    assert sum(totals.values()) == 5 * len(days)
    stored = events_per_day(store)
    assert {d: n for d, n in totals.items() if d not in purged_days} == stored
    assert set(stored) == {d + dt.timedelta(days=1) for d in days if d >= day_ago(30)}


def test_rebuilding_the_counts_after_a_purge_keeps_the_counts_of_purged_days(
        store: Store) -> None:
    days = [day_ago(n) for n in range(1, 41)]
    insert(store, (row for day in days for row in events_on(day, 5)))
    aggregates = SqlAggregateStore(store)
    roll_up(store, aggregates, "daily", days)
    run_retention(store, aggregates, RetentionPolicy(raw_days=30), now=NOW)
    before = store.hourly_counts().to_pylist()

    store.rebuild_hourly_counts()
    store.rebuild_hourly_counts("cam1")

    assert store.hourly_counts().to_pylist() == before
    assert hourly_totals_by_day(store) == {day: 5 for day in days}


def test_an_entry_just_before_the_horizon_still_pairs_with_a_later_exit(
        store: Store, tmp_path: Path) -> None:
    reference = open_store(str(tmp_path / "reference.duckdb"))
    try:
        late_entry = dt.datetime.combine(day_ago(31), dt.time(23), dt.UTC)
        person = {"source_id": "cam1", "labels": ["person"], "subject_id": "p1"}
        history = [*visit(day_ago(40), "old"),
                   {"event_id": "in", "event_type": "entry", "ts": late_entry, **person}]
        for target in (store, reference):
            insert(target, history)
        aggregates = SqlAggregateStore(store)
        roll_up(store, aggregates, "daily", [day_ago(40), day_ago(31)])

        run_retention(store, aggregates, RetentionPolicy(raw_days=30), now=NOW)

        kept = store.read_analytics("SELECT event_id FROM events").column("event_id")
        assert sorted(kept.to_pylist()) == ["in"]  # the old visit went, the open entry stays
        exit_row = {"event_id": "out", "event_type": "exit",
                    "ts": late_entry + dt.timedelta(hours=1), **person}
        for target in (store, reference):
            insert(target, [exit_row])
        mine = store.read_sessions("camera").to_pylist()
        assert mine == reference.read_sessions("camera").to_pylist()
        assert [s["status"] for s in mine if s["entry_event_id"] == "in"] == ["complete"]
    finally:
        reference.close()


def test_rebuilding_the_counts_mends_days_whose_counts_are_missing(store: Store) -> None:
    days = [day_ago(n) for n in range(1, 41)]
    insert(store, (row for day in days for row in events_on(day, 5)))
    aggregates = SqlAggregateStore(store)
    roll_up(store, aggregates, "daily", days)
    run_retention(store, aggregates, RetentionPolicy(raw_days=30), now=NOW)
    purged = [day for day in days if day < day_ago(30)]
    with store.transaction():  # counts of days 21-30 ago lost, their events still there
        store.purge_hourly_counts(day_ago(20), purged, 1_000_000)
    assert not any(day_ago(30) <= day < day_ago(20) for day in hourly_totals_by_day(store))

    store.rebuild_hourly_counts()

    assert hourly_totals_by_day(store) == {day: 5 for day in days}
