"""Bucket starts and the runs ledger: which periods are pending (new or dirty)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.rollup.ledger import pending_periods
from vigil.rollup.periods import (
    bucket_end,
    bucket_start,
    complete_before,
    periods_overlapping,
)
from vigil.store import Store

from .test_jobs import at, ingest

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)


# -- bucket starts ---------------------------------------------------------------------------
@settings(deadline=None)
@given(st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)),
       st.sampled_from(["daily", "weekly", "monthly"]))
def test_a_bucket_holds_its_days_and_ends_where_the_next_starts(
        day: dt.date, job: str) -> None:
    start = bucket_start(job, day)
    end = bucket_end(job, start)
    assert start <= day < end
    assert bucket_start(job, end) == end and bucket_start(job, end - dt.timedelta(days=1)) == start
    if job == "weekly":
        assert start.weekday() == 0 and (end - start).days == 7
    if job == "monthly":
        assert start.day == 1 and 28 <= (end - start).days <= 31


def test_bucket_edges() -> None:
    assert bucket_start("weekly", dt.date(2026, 1, 1)) == dt.date(2025, 12, 29)  # ISO week 1
    assert bucket_end("monthly", dt.date(2024, 2, 1)) == dt.date(2024, 3, 1)
    assert bucket_end("monthly", dt.date(2025, 12, 1)) == dt.date(2026, 1, 1)
    assert periods_overlapping("monthly", dt.date(2026, 2, 10), dt.date(2026, 3, 2)) == (
        dt.date(2026, 2, 1), dt.date(2026, 3, 31))
    with pytest.raises(ValueError, match="job must be one of"):
        bucket_start("yearly", dt.date(2026, 1, 1))


def test_a_day_is_complete_once_it_ended_in_every_zone() -> None:
    now = dt.datetime(2026, 3, 11, 5, tzinfo=UTC)
    assert complete_before(now, ["UTC"]) == dt.date(2026, 3, 11)
    assert complete_before(now, ["UTC", "America/Los_Angeles"]) == dt.date(2026, 3, 10)
    assert complete_before(now, ["Asia/Tokyo"]) == dt.date(2026, 3, 11)
    assert complete_before(now, []) == dt.date(2026, 3, 11)
    with pytest.raises(ValueError, match="aware"):
        complete_before(dt.datetime(2026, 3, 11), ["UTC"])


# -- the ledger on real stores -----------------------------------------------------------------
def test_pending_periods_follow_events_and_the_ledger(store: Store) -> None:
    span = (dt.date(2026, 2, 1), dt.date(2026, 3, 31))
    assert pending_periods(store, "daily", *span) == []
    ingest(store, [("a", "cam", at("2026-03-03"), "detection", ["x"], None),
                   ("b", "cam", at("2026-03-03", 13), "detection", ["x"], None),
                   ("c", "cam", at("2026-02-27"), "detection", [], None)])
    assert pending_periods(store, "daily", *span) == [dt.date(2026, 2, 27),
                                                      dt.date(2026, 3, 3)]
    assert pending_periods(store, "weekly", *span) == [dt.date(2026, 2, 23),
                                                       dt.date(2026, 3, 2)]
    assert pending_periods(store, "monthly", *span) == [dt.date(2026, 2, 1),
                                                        dt.date(2026, 3, 1)]
    # a range touching a bucket anywhere includes the whole bucket
    assert pending_periods(store, "weekly", dt.date(2026, 3, 8), dt.date(2026, 3, 8)) == [
        dt.date(2026, 3, 2)]
    assert pending_periods(store, "daily", dt.date(2026, 3, 4), dt.date(2026, 3, 31)) == []
    assert pending_periods(store, "daily", dt.date(2026, 3, 4), dt.date(2026, 3, 1)) == []

    store.record_rollup_runs("weekly", [(dt.date(2026, 3, 2), 2, 1, T0, T0)])
    assert pending_periods(store, "weekly", *span) == [dt.date(2026, 2, 23)]
    ingest(store, [("late", "cam", at("2026-03-08", 23), "detection", [], None)])
    assert pending_periods(store, "weekly", *span) == [dt.date(2026, 2, 23),
                                                       dt.date(2026, 3, 2)]  # dirty
    store.record_rollup_runs("weekly", [(dt.date(2026, 3, 2), 3, 1, T0, T0),
                                        (dt.date(2026, 2, 23), 1, 1, T0, T0)])
    assert pending_periods(store, "weekly", *span) == []
    assert store.rollup_runs("weekly") == [(dt.date(2026, 2, 23), 1), (dt.date(2026, 3, 2), 3)]
    assert pending_periods(store, "daily", *span) == [dt.date(2026, 2, 27),
                                                      dt.date(2026, 3, 3),
                                                      dt.date(2026, 3, 8)]


def test_hourly_counts_that_shrank_do_not_make_a_period_pending(store: Store) -> None:
    ingest(store, [("a", "cam", at("2026-03-03"), "detection", [], None),
                   ("b", "cam", at("2026-03-04"), "detection", [], None)])
    store.record_rollup_runs("weekly", [(dt.date(2026, 3, 2), 2, 1, T0, T0)])
    with store.transaction():  # hourly counts of one day purged, as retention does
        store._write("DELETE FROM hourly_counts "  # type: ignore[attr-defined]
                     "WHERE local_date = ?", [dt.date(2026, 3, 3)])
    assert pending_periods(store, "weekly", dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == []
    with pytest.raises(ValueError, match="job must be one of"):
        pending_periods(store, "hourly", dt.date(2026, 3, 1), dt.date(2026, 3, 31))
