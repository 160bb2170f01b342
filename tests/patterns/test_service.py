"""Pattern detection end to end on a real DuckDB store: the daily rollup job summarises each
day once, detection reads those summaries (not the raw events), stores the patterns, and
finds what a direct batch over the raw events finds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.patterns.base import DetectOptions, summary_detector_name
from vigil.patterns.registry import detectors
from vigil.patterns.service import PatternRun, detect_patterns, detect_patterns_raw
from vigil.rollup.jobs import run_rollup
from vigil.rollup.service_jobs import patterns_job
from vigil.rollup.sql_aggregates import SqlAggregateStore
from vigil.store import Store, open_store
from vigil.writer import Writer

from .planted import AFTER, DAYS, FAN, FIRST_DAY, LAST_DAY, LIGHT, SKIPPED, plant


@pytest.fixture(scope="module")
def summarised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DuckDB file holding the planted log and its 30 days of daily summaries."""
    path = tmp_path_factory.mktemp("service") / "vigil.duckdb"
    store = open_store(str(path))
    try:
        plant(store)
        report = run_rollup("daily", store, SqlAggregateStore(store), now=AFTER)
        assert list(report.periods) == DAYS
    finally:
        store.close()
    return path


@pytest.fixture
def store(summarised: Path, tmp_path: Path) -> Iterator[Store]:
    """A copy of the summarised store for one test."""
    copy = tmp_path / "vigil.duckdb"
    copy.write_bytes(summarised.read_bytes())
    opened = open_store(str(copy))
    try:
        yield opened
    finally:
        opened.close()


def kitchen_morning(run: PatternRun) -> list[str]:
    return [p.pattern_id for p in run.patterns
            if p.type == "time_of_day" and LIGHT in p.entities]


def test_the_daily_job_wrote_every_detectors_summaries_once(store: Store) -> None:
    aggregates = SqlAggregateStore(store)
    names = {summary_detector_name(d.name) for d in detectors()}
    written = {r.detector for r in aggregates.query(FIRST_DAY, LAST_DAY)}
    assert summary_detector_name("time_of_day") in written
    assert written <= names | {"activity"}
    mornings = aggregates.query(FIRST_DAY, LAST_DAY, detector="patterns_time_of_day",
                                entity=LIGHT)
    assert len({r.bucket for r in mornings}) == 25  # the light's 25 mornings, none else
    assert run_rollup("daily", store, aggregates, now=AFTER).periods == ()  # each day once


def test_the_planted_routine_is_found_from_summaries_and_stored(store: Store) -> None:
    aggregates = SqlAggregateStore(store)
    now = AFTER + dt.timedelta(hours=2)
    run = detect_patterns(store, aggregates, LAST_DAY, now)
    assert run.source == "summaries" and run.read > 0 and run.end == LAST_DAY
    found = kitchen_morning(run)
    assert len(found) >= 1, [p.pattern_id for p in run.patterns]
    assert run.stored == len(run.patterns) and run.counts["time_of_day"] >= 1
    assert set(run.counts) == {d.name for d in detectors()}
    assert not [p for p in run.patterns if p.type == "time_of_day" and FAN in p.entities]

    stored = store.list_patterns(type="time_of_day", entity=LIGHT)
    assert [p["pattern_id"] for p in stored] == sorted(found, key=lambda i: (
        -next(p.confidence for p in run.patterns if p.pattern_id == i), i))
    best = stored[0]
    assert best["evidence"]["days_observed"] == 25
    assert best["first_seen"] == FIRST_DAY and best["last_seen"] == LAST_DAY
    assert best["window_end"] == LAST_DAY and best["detected_at"] == now
    assert "06:4" in best["description"] or "06:3" in best["description"]


def test_raw_detection_finds_the_same_patterns(store: Store) -> None:
    from_summaries = detect_patterns(store, SqlAggregateStore(store), LAST_DAY, AFTER)
    raw = detect_patterns_raw(store, LAST_DAY)
    assert raw.source == "raw" and raw.read == store.count_events()
    assert raw.stored is None  # checking only: nothing stored
    assert [p.pattern_id for p in raw.patterns] == [p.pattern_id
                                                    for p in from_summaries.patterns]
    for mine, direct in zip(from_summaries.patterns, raw.patterns, strict=True):
        assert abs(mine.confidence - direct.confidence) <= 0.05, mine.pattern_id


def test_history_is_answered_from_summaries_after_raw_events_expire(store: Store) -> None:
    aggregates = SqlAggregateStore(store)
    before = detect_patterns(store, aggregates, LAST_DAY, AFTER)
    while store.purge_events(LAST_DAY + dt.timedelta(days=1), [], 10_000):
        pass
    assert store.count_events() == 0
    after = detect_patterns(store, aggregates, LAST_DAY, AFTER)
    assert [p.pattern_id for p in after.patterns] == [p.pattern_id for p in before.patterns]
    assert kitchen_morning(after)
    assert detect_patterns_raw(store, LAST_DAY).patterns == ()  # the raw path has nothing


def test_a_later_window_keeps_first_seen_and_drops_what_faded(store: Store) -> None:
    aggregates = SqlAggregateStore(store)
    detect_patterns(store, aggregates, LAST_DAY, AFTER)
    first = {p["pattern_id"]: p for p in store.list_patterns()}
    # 10 days on, with nothing new: the 30-day window now holds 20 planted days
    later = LAST_DAY + dt.timedelta(days=10)
    run = detect_patterns(store, aggregates, later, AFTER + dt.timedelta(days=10))
    now_stored = {p["pattern_id"]: p for p in store.list_patterns()}
    assert set(now_stored) == {p.pattern_id for p in run.patterns}
    for pattern_id in set(now_stored) & set(first):
        assert now_stored[pattern_id]["first_seen"] <= first[pattern_id]["first_seen"]
    kept = [i for i in kitchen_morning(run) if i in first]
    assert kept and all(now_stored[i]["first_seen"] == FIRST_DAY for i in kept)
    # 40 days on, the routine has left the window: nothing about the light remains
    gone = LAST_DAY + dt.timedelta(days=40)
    detect_patterns(store, aggregates, gone, AFTER + dt.timedelta(days=40))
    assert store.list_patterns(entity=LIGHT) == []


def test_a_shorter_window_reads_fewer_days(store: Store) -> None:
    aggregates = SqlAggregateStore(store)
    whole = detect_patterns(store, aggregates, LAST_DAY, AFTER)
    week = detect_patterns(store, aggregates, LAST_DAY, AFTER, DetectOptions(window_days=7))
    assert week.read < whole.read
    [morning] = [p for p in week.patterns if p.type == "time_of_day" and LIGHT in p.entities]
    assert morning.evidence["days_observed"] == 6  # 24-30 March, the 28th skipped


def test_the_patterns_job_detects_through_the_writer(store: Store) -> None:
    aggregates = SqlAggregateStore(store)
    writer = Writer(store)
    try:
        report = patterns_job(store, aggregates, writer.run)(AFTER)
    finally:
        writer.close()
    # AFTER is 2 April 03:00 in Berlin: 1 April is the last day complete everywhere, but
    # the newest day with events (and so with summaries) is the last planted day
    end = LAST_DAY
    assert report.job == "patterns" and report.periods == (end,) and report.done
    stored = store.list_patterns()
    assert report.rows_written == len(stored) > 0
    assert {p["window_end"] for p in stored} == {end}
    light = store.list_patterns(type="time_of_day", entity=LIGHT)
    in_window = [d for d in DAYS if d > end - dt.timedelta(days=30) and d not in SKIPPED]
    assert light and light[0]["evidence"]["days_observed"] == len(in_window)
    assert "pattern(s) from" in report.notes[0]


def test_microsecond_timestamps_are_summarised(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "us.duckdb"))
    try:
        plant(store, whole_ms=False)
        report = run_rollup("daily", store, SqlAggregateStore(store), now=AFTER)
        assert list(report.periods) == DAYS
        assert kitchen_morning(detect_patterns(store, SqlAggregateStore(store), LAST_DAY,
                                               AFTER))
    finally:
        store.close()


def test_the_window_ends_with_the_newest_rolled_up_day_when_history_is_older(
        store: Store) -> None:
    from vigil.rollup.service_jobs import patterns_window_end

    assert patterns_window_end(store, AFTER) == LAST_DAY
    months_later = AFTER + dt.timedelta(days=200)
    assert patterns_window_end(store, months_later) == LAST_DAY  # imported history
    before_the_end = dt.datetime.combine(LAST_DAY - dt.timedelta(days=3), dt.time(12),
                                         dt.UTC)
    assert patterns_window_end(store, before_the_end) == dt.date(2026, 3, 26)  # last ended
