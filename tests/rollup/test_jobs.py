"""The rollup jobs on real stores (DuckDB and PostgreSQL): records, ledger, dirty periods,
catch-up, backfill, failures and the daily summarizer hook.

The helpers at the top are shared with the other rollup job tests.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from vigil.rollup import SqlAggregateStore
from vigil.rollup.aggregates import AggregateRecord, AggregateStore
from vigil.rollup.jobs import backfill, run_rollup
from vigil.rollup.ledger import pending_periods
from vigil.rollup.summaries import SummaryError, temporarily_registered
from vigil.store import Store
from vigil.store.base import EVENT_INPUT_SCHEMA

UTC = dt.UTC
EventSpec = tuple[str, str, dt.datetime, str, Sequence[str], float | None]
"""``(event_id, source_id, ts, event_type, labels, confidence)``."""


# -- helpers shared with the other rollup job tests ---------------------------------------
def event_table(specs: Iterable[EventSpec]) -> pa.Table:
    """A batch for ``Store.insert_events`` from short event descriptions."""
    rows = list(specs)
    n = len(rows)
    nulls = pa.nulls(n, pa.string())
    return pa.table({
        "event_id": [r[0] for r in rows], "source_id": [r[1] for r in rows],
        "event_type": [r[3] for r in rows],
        "ts": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
        "labels": pa.array([list(r[4]) for r in rows], pa.list_(pa.string())),
        "confidence": pa.array([r[5] for r in rows], pa.float64()),
        "model_id": nulls, "frame_id": pa.nulls(n, pa.int64()), "subject_id": nulls,
        "zone": nulls, "state": nulls, "detections": nulls, "attributes": nulls,
    }, schema=EVENT_INPUT_SCHEMA)


def ingest(store: Store, specs: Iterable[EventSpec]) -> int:
    table = event_table(specs)
    return store.insert_events(table) if table.num_rows else 0


def local(ts: dt.datetime, zone: str) -> dt.datetime:
    return ts.astimezone(ZoneInfo(zone))


def bucket_of(layer: str, day: dt.date) -> dt.date:
    if layer == "weekly":
        return day - dt.timedelta(days=day.weekday())
    if layer == "monthly":
        return day.replace(day=1)
    return day


def brute_force(layer: str, specs: Iterable[EventSpec], zones: dict[str, str]
                ) -> dict[tuple[str, dt.date], dict[str, Any]]:
    """The activity fields of ``layer`` per (source, bucket), straight from the events."""
    out: dict[tuple[str, dt.date], dict[str, Any]] = {}
    days: dict[tuple[str, dt.date], set[dt.date]] = {}
    for _, source, ts, event_type, labels, confidence in specs:
        moment = local(ts, zones.get(source, "UTC"))
        key = (source, bucket_of(layer, moment.date()))
        f = out.setdefault(key, {"events": 0, "active_days": 0, "hours": [0] * 24,
                                 "weekdays": [0] * 7, "event_types": {}, "labels": {},
                                 "confidence_micros": 0, "confidence_count": 0})
        days.setdefault(key, set()).add(moment.date())
        f["events"] += 1
        f["hours"][moment.hour] += 1
        f["weekdays"][moment.weekday()] += 1
        f["event_types"][event_type] = f["event_types"].get(event_type, 0) + 1
        for label in sorted(set(labels)):
            f["labels"][label] = f["labels"].get(label, 0) + 1
        if confidence is not None:
            f["confidence_micros"] += int(confidence * 1_000_000 + 0.5)
            f["confidence_count"] += 1
    for key, f in out.items():
        f["active_days"] = len(days[key])
    return out


def stored(aggregates: AggregateStore, layer: str, start: dt.date, end: dt.date,
           detector: str = "activity") -> dict[tuple[str, dt.date], dict[str, Any]]:
    return {(r.entity, r.bucket): r.fields
            for r in aggregates.query(start, end, detector=detector, layer=layer)}


def written_by(aggregates: AggregateStore, start: dt.date, end: dt.date,
               layer: str = "daily") -> Counter[str]:
    """Stored records of ``layer`` per detector; the pattern detectors' daily summaries
    (detectors ``patterns_*``, written by the daily job too) count together as
    ``patterns``."""
    return Counter("patterns" if r.detector.startswith("patterns_") else r.detector
                   for r in aggregates.query(start, end, layer=layer))


def run_all(store: Store, aggregates: AggregateStore, now: dt.datetime) -> None:
    for job in ("daily", "weekly", "monthly"):
        report = run_rollup(job, store, aggregates, now=now)
        assert report.done


def ledger(store: Store, job: str) -> list[tuple[dt.date, int]]:
    return store.rollup_runs(job)


def at(day: str, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


NOW = at("2026-04-06", 12)
MID_MARCH = at("2026-03-20", 12)


# -- the records ----------------------------------------------------------------------------
def test_daily_weekly_monthly_records_hold_the_counts(store: Store) -> None:
    store.set_source_timezone("porch", "America/New_York")
    specs: list[EventSpec] = [
        ("a", "porch", at("2026-03-02", 3), "detection", ["person"], 0.5),  # local 1 Mar 22:00
        ("b", "porch", at("2026-03-02", 14), "detection", ["person", "car"], 0.25),
        ("c", "porch", at("2026-03-02", 15), "entry", [], None),
        ("d", "yard", at("2026-03-09", 1), "detection", ["cat"], 0.125),
    ]
    assert ingest(store, specs) == 4
    aggregates = SqlAggregateStore(store)
    run_all(store, aggregates, NOW)
    zones = {"porch": "America/New_York"}
    for layer in ("daily", "weekly", "monthly"):
        got = stored(aggregates, layer, dt.date(2026, 2, 1), dt.date(2026, 3, 31))
        assert got == brute_force(layer, specs, zones), layer
    daily = stored(aggregates, "daily", dt.date(2026, 3, 1), dt.date(2026, 3, 1))
    assert daily == {("porch", dt.date(2026, 3, 1)): {
        "events": 1, "active_days": 1, "hours": [0] * 22 + [1, 0], "weekdays": [0] * 6 + [1],
        "event_types": {"detection": 1}, "labels": {"person": 1},
        "confidence_micros": 500_000, "confidence_count": 1}}
    monthly = stored(aggregates, "monthly", dt.date(2026, 3, 1), dt.date(2026, 3, 1))
    assert monthly[("porch", dt.date(2026, 3, 1))]["labels"] == {"car": 1, "person": 2}
    assert monthly[("porch", dt.date(2026, 3, 1))]["active_days"] == 2
    # 2 March 03:00 UTC is Sunday 1 March in New York: the week of 23 February
    assert [p for p, _ in ledger(store, "weekly")] == [dt.date(2026, 2, 23),
                                                       dt.date(2026, 3, 2),
                                                       dt.date(2026, 3, 9)]


def test_rerunning_a_period_replaces_and_never_doubles(store: Store) -> None:
    ingest(store, [(f"e{i}", "cam", at("2026-03-03", i), "detection", ["person"], 0.9)
                   for i in range(10)])
    aggregates = SqlAggregateStore(store)
    first = run_rollup("weekly", store, aggregates, now=NOW, period=dt.date(2026, 3, 5))
    assert first.periods == (dt.date(2026, 3, 2),) and first.rows_written == 1
    before = aggregates.query(dt.date(2026, 3, 2), dt.date(2026, 3, 2), layer="weekly")
    again = run_rollup("weekly", store, aggregates, now=NOW, period=dt.date(2026, 3, 2))
    assert again.rows_written == 1
    assert aggregates.query(dt.date(2026, 3, 2), dt.date(2026, 3, 2), layer="weekly") == before
    assert before[0].fields["events"] == 10
    assert ledger(store, "weekly") == [(dt.date(2026, 3, 2), 10)]
    catch_up = run_rollup("weekly", store, aggregates, now=NOW)
    assert catch_up.periods == () and catch_up.rows_written == 0 and catch_up.done


def test_late_events_make_a_period_dirty_and_the_next_run_redoes_it(store: Store) -> None:
    ingest(store, [(f"e{d}", "cam", at(f"2026-03-0{d}"), "detection", ["dog"], None)
                   for d in range(2, 6)])
    aggregates = SqlAggregateStore(store)
    run_all(store, aggregates, NOW)
    assert pending_periods(store, "daily", dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == []
    ingest(store, [("late", "cam", at("2026-03-04", 20), "detection", ["cat"], None)])
    for job, period in (("daily", dt.date(2026, 3, 4)), ("weekly", dt.date(2026, 3, 2)),
                        ("monthly", dt.date(2026, 3, 1))):
        assert pending_periods(store, job, dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == [
            period]
        report = run_rollup(job, store, aggregates, now=NOW)
        assert report.periods == (period,)
    week = stored(aggregates, "weekly", dt.date(2026, 3, 2), dt.date(2026, 3, 2))
    assert week[("cam", dt.date(2026, 3, 2))]["labels"] == {"cat": 1, "dog": 4}
    assert stored(aggregates, "daily", dt.date(2026, 3, 4), dt.date(2026, 3, 4))[
        ("cam", dt.date(2026, 3, 4))]["events"] == 2
    assert ledger(store, "monthly") == [(dt.date(2026, 3, 1), 5)]


def test_catch_up_after_downtime_is_bounded_and_processes_every_missed_period(
        store: Store) -> None:
    start = dt.date(2026, 1, 1)
    ingest(store, [(f"e{d}", "cam", at((start + dt.timedelta(days=d)).isoformat(), 10),
                    "detection", ["person"], None) for d in range(60)])
    aggregates = SqlAggregateStore(store)
    now = at("2026-02-20", 12)  # 1 Jan .. 19 Feb are complete; 20 Feb is not
    first = run_rollup("daily", store, aggregates, now=now, max_periods=20)
    assert not first.done and len(first.periods) == 20
    assert first.periods[0] == start and list(first.periods) == sorted(first.periods)
    assert any("30 more daily" in note for note in first.notes)
    second = run_rollup("daily", store, aggregates, now=now, max_periods=20)
    third = run_rollup("daily", store, aggregates, now=now, max_periods=20)
    assert not second.done and third.done and len(third.periods) == 10
    assert third.periods[-1] == dt.date(2026, 2, 19)
    assert len({*first.periods, *second.periods, *third.periods}) == 50
    assert run_rollup("daily", store, aggregates, now=now).periods == ()
    monthly = run_rollup("monthly", store, aggregates, now=now)
    assert monthly.periods == (dt.date(2026, 1, 1),)  # February has not ended
    later = run_rollup("daily", store, aggregates, now=at("2026-03-02", 12))
    assert later.periods == tuple(dt.date(2026, 2, 20) + dt.timedelta(days=d)
                                  for d in range(10))


def test_a_period_is_due_once_it_ended_in_every_sources_zone(store: Store) -> None:
    store.set_source_timezone("west", "America/Los_Angeles")
    ingest(store, [("a", "west", at("2026-03-10", 12), "detection", [], None),
                   ("b", "east", at("2026-03-10", 12), "detection", [], None)])
    aggregates = SqlAggregateStore(store)
    # 11 March 05:00 UTC: the day is over in UTC, not in Los Angeles (still 10 March 22:00)
    early = run_rollup("daily", store, aggregates, now=at("2026-03-11", 5))
    assert early.periods == ()
    forced = run_rollup("daily", store, aggregates, now=at("2026-03-11", 5),
                        period=dt.date(2026, 3, 10))
    day = dt.date(2026, 3, 10)
    written = written_by(aggregates, day, day)
    assert forced.periods == (day,) and written["activity"] == 2 and written["patterns"] > 0
    assert forced.rows_written == sum(written.values())
    assert any("has not ended" in note for note in forced.notes)
    store.set_source_timezone("west", "UTC")  # both sources now finish the day at 00:00 UTC
    assert run_rollup("daily", store, aggregates, now=at("2026-03-11", 5)).periods == ()


def test_a_failed_ledger_write_rolls_the_rollup_back(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(store, [(f"e{i}", "cam", at("2026-03-03", i), "detection", ["person"], None)
                   for i in range(5)])
    aggregates = SqlAggregateStore(store)
    run_all(store, aggregates, NOW)
    ingest(store, [("late", "cam", at("2026-03-03", 20), "detection", ["person"], None)])

    def crash(job: str, runs: object) -> None:
        raise RuntimeError("power cut between rollup and ledger")

    monkeypatch.setattr(store, "record_rollup_runs", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        run_rollup("weekly", store, aggregates, now=NOW)
    week = (dt.date(2026, 3, 2), dt.date(2026, 3, 2))
    assert stored(aggregates, "weekly", *week)[("cam", week[0])]["events"] == 5  # unchanged
    monkeypatch.undo()
    assert ledger(store, "weekly") == [(week[0], 5)]
    assert run_rollup("weekly", store, aggregates, now=NOW).periods == (week[0],)
    assert stored(aggregates, "weekly", *week)[("cam", week[0])]["events"] == 6
    assert run_rollup("weekly", store, aggregates, now=NOW).periods == ()


def test_bad_arguments_are_refused(store: Store) -> None:
    aggregates = SqlAggregateStore(store)
    with pytest.raises(ValueError, match="job must be one of"):
        run_rollup("hourly", store, aggregates, now=NOW)
    with pytest.raises(ValueError, match="max_periods"):
        run_rollup("daily", store, aggregates, now=NOW, max_periods=0)
    with pytest.raises(ValueError, match="aware"):
        run_rollup("daily", store, aggregates, now=dt.datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="after end"):
        backfill(store, aggregates, dt.date(2026, 3, 2), dt.date(2026, 3, 1), now=NOW)


# -- backfill -------------------------------------------------------------------------------
def test_backfill_builds_every_layer_and_reports_progress(store: Store) -> None:
    specs = [(f"e{d}", "cam", at("2026-01-05", 9) + dt.timedelta(days=d), "detection",
              ["person"], 0.5) for d in range(70)]  # 5 Jan .. 15 Mar
    ingest(store, specs)
    aggregates = SqlAggregateStore(store)
    calls: list[tuple[str, int, int]] = []
    reports = backfill(store, aggregates, dt.date(2026, 1, 1), dt.date(2026, 3, 31),
                       now=MID_MARCH,
                       progress=lambda job, done, total: calls.append((job, done, total)))
    assert [r.job for r in reports] == ["daily", "weekly", "monthly"]
    daily = written_by(aggregates, dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert len(reports[0].periods) == 70 and daily["activity"] == 70
    assert reports[0].rows_written == sum(daily.values())
    assert reports[1].periods[0] == dt.date(2026, 1, 5)
    assert reports[2].periods == (dt.date(2026, 1, 1), dt.date(2026, 2, 1))
    assert any("2026-03-01" in note for note in reports[2].notes)  # March is not over
    assert calls[-1] == ("monthly", 2, 2) and ("daily", 70, 70) in calls
    assert [c for c in calls if c[0] == "daily"][0][1] < 70  # in several chunks
    for layer in ("weekly", "monthly"):
        complete_before = dt.date(2026, 3, 16 if layer == "weekly" else 1)
        assert stored(aggregates, layer, dt.date(2026, 1, 1), dt.date(2026, 3, 31)) == {
            k: v for k, v in brute_force(layer, specs, {}).items() if k[1] < complete_before}
    assert pending_periods(store, "weekly", dt.date(2026, 1, 1), dt.date(2026, 3, 8)) == []
    again = backfill(store, aggregates, dt.date(2026, 1, 1), dt.date(2026, 3, 31),
                     now=MID_MARCH)
    assert [r.rows_written for r in again] == [r.rows_written for r in reports]


# -- daily detector summaries ----------------------------------------------------------------
class EventsPerSource:
    """A tiny summarizer: events and distinct labels per source of one day."""

    name = "test_events_per_source"

    def __init__(self, wrong_bucket: bool = False) -> None:
        self.wrong_bucket = wrong_bucket
        self.days: list[dt.date] = []

    def summarize(self, day: dt.date, events: pa.Table) -> list[AggregateRecord]:
        self.days.append(day)
        bucket = day + dt.timedelta(days=1) if self.wrong_bucket else day
        out = []
        for source in sorted(set(events.column("source_id").to_pylist())):
            mine = events.filter(pc.equal(events.column("source_id"), source))
            first = mine.column("event_id")[0].as_py()
            out.append(AggregateRecord("daily", self.name, source, bucket,
                                       {"n": mine.num_rows, "first": first}))
        return out


def test_registered_summarizers_run_on_each_processed_day(store: Store) -> None:
    ingest(store, [("a", "cam", at("2026-03-03", 8), "detection", ["x"], None),
                   ("b", "cam", at("2026-03-03", 7), "detection", ["y"], None),
                   ("c", "door", at("2026-03-04", 7), "detection", ["y"], None)])
    aggregates = SqlAggregateStore(store)
    summarizer = EventsPerSource()
    with temporarily_registered(summarizer):
        report = run_rollup("daily", store, aggregates, now=NOW)
        run_rollup("weekly", store, aggregates, now=NOW)
    assert summarizer.days == [dt.date(2026, 3, 3), dt.date(2026, 3, 4)]  # not for weekly
    written = written_by(aggregates, dt.date(2026, 3, 3), dt.date(2026, 3, 4))
    assert written["activity"] == 2 and written[summarizer.name] == 2
    assert report.rows_written == sum(written.values())  # and the pattern summaries
    got = stored(aggregates, "daily", dt.date(2026, 3, 1), dt.date(2026, 3, 31),
                 detector=summarizer.name)
    assert got == {("cam", dt.date(2026, 3, 3)): {"n": 2, "first": "b"},
                   ("door", dt.date(2026, 3, 4)): {"n": 1, "first": "c"}}


def test_a_failing_summarizer_fails_the_job_and_leaves_the_ledger(store: Store) -> None:
    ingest(store, [("a", "cam", at("2026-03-03", 8), "detection", ["x"], None)])
    aggregates = SqlAggregateStore(store)
    with temporarily_registered(EventsPerSource(wrong_bucket=True)), \
            pytest.raises(SummaryError, match="test_events_per_source"):
        run_rollup("daily", store, aggregates, now=NOW)
    assert ledger(store, "daily") == []
    assert aggregates.query(dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == []


def test_summaries_are_kept_when_raw_events_of_the_day_are_gone(store: Store) -> None:
    ingest(store, [("a", "cam", at("2026-03-03", 8), "detection", ["x"], None),
                   ("b", "cam", at("2026-03-03", 9), "detection", ["x"], None)])
    aggregates = SqlAggregateStore(store)
    summarizer = EventsPerSource()
    with temporarily_registered(summarizer):
        run_rollup("daily", store, aggregates, now=NOW)
        with store.transaction():  # raw events purged, as retention does
            store._write("DELETE FROM events")  # type: ignore[attr-defined]
        ingest(store, [("late", "cam", at("2026-03-03", 10), "detection", ["x"], None)])
        report = run_rollup("daily", store, aggregates, now=NOW)
    assert report.periods == (dt.date(2026, 3, 3),)
    assert any("only 1 of 3 raw events" in note for note in report.notes)
    day = (dt.date(2026, 3, 3), dt.date(2026, 3, 3))
    assert stored(aggregates, "daily", *day, detector=summarizer.name)[
        ("cam", day[0])]["n"] == 2  # kept, not replaced by a summary of the late event
    assert stored(aggregates, "daily", *day)[("cam", day[0])]["events"] == 3


# -- the public entry points others code against -------------------------------------------
def test_public_names_and_signatures() -> None:
    import inspect

    import vigil.rollup as rollup

    assert [name for name in rollup.__all__ if not hasattr(rollup, name)] == []
    assert str(inspect.signature(rollup.pending_periods)) == (
        "(store: 'Store', job: 'str', start: 'dt.date', end: 'dt.date') -> 'list[dt.date]'")
    assert str(inspect.signature(rollup.run_rollup)) == (
        "(job: 'str', store: 'Store', aggregates: 'AggregateStore', *, now: 'dt.datetime', "
        "period: 'dt.date | None' = None, max_periods: 'int' = 400) -> 'JobReport'")
    assert list(inspect.signature(rollup.backfill).parameters) == [
        "store", "aggregates", "start", "end", "now", "progress"]
