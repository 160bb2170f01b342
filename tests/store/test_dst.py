"""Local hours on DST days: a 23-hour day has no 02:xx hour, a 25-hour day counts one hour twice.

One event every 15 minutes (UTC) from two hours before the local day to two hours after it;
the local day's bounds in UTC are written out by hand, not derived with the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from vigil.ingest.payload import ingest_payload
from vigil.store import EventFilter, Store, open_store

UTC = dt.UTC
QUARTER = dt.timedelta(minutes=15)
SUNDAY, SATURDAY, MONDAY = 6, 5, 0


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# zone, local date, [start, end) of that local date in UTC, missing hour, doubled hour
DST_DAYS = [
    ("Europe/Berlin", dt.date(2026, 3, 29), utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), 2, None),
    ("Europe/Berlin", dt.date(2026, 10, 25), utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), None, 2),
    ("America/New_York", dt.date(2026, 3, 8), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4), 2, None),
    ("America/New_York", dt.date(2026, 11, 1), utc(2026, 11, 1, 4), utc(2026, 11, 2, 5), None, 1),
    ("Europe/Berlin", dt.date(2026, 3, 28), utc(2026, 3, 27, 23), utc(2026, 3, 28, 23), None, None),
]
DAY_IDS = ["berlin-spring", "berlin-fall", "new-york-spring", "new-york-fall", "berlin-normal"]
MODES = ["zone-set-first", "zone-set-after-ingest", "store-default-zone"]


def quarter_hours(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    count = (end - start) // QUARTER
    return [start + i * QUARTER for i in range(count)]


def ingest_quarters(store: Store, source: str, start: dt.datetime, end: dt.datetime) -> int:
    events = [
        {"camera_id": source, "event_type": "detection", "label": "person",
         "timestamp": at.isoformat().replace("+00:00", "Z"), "confidence": 0.5}
        for at in quarter_hours(start - dt.timedelta(hours=2), end + dt.timedelta(hours=2))
    ]
    result = ingest_payload(json.dumps(events).encode(), store.insert_events)
    assert result.rejected == 0
    return result.accepted


def open_for(mode: str, zone: str, tmp_path: Path) -> Store:
    default = zone if mode == "store-default-zone" else "UTC"
    return open_store(str(tmp_path / "dst.duckdb"), default_timezone=default)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("zone", "day", "start", "end", "missing", "doubled"), DST_DAYS,
                         ids=DAY_IDS)
def test_local_hours_of_a_dst_day(tmp_path: Path, mode: str, zone: str, day: dt.date,
                                  start: dt.datetime, end: dt.datetime, missing: int | None,
                                  doubled: int | None) -> None:
    store = open_for(mode, zone, tmp_path)
    try:
        source = f"cam-{zone}"
        if mode == "zone-set-first":
            store.set_source_timezone(source, zone)
        accepted = ingest_quarters(store, source, start, end)
        if mode == "zone-set-after-ingest":
            store.set_source_timezone(source, zone)
        assert store.get_source(source).timezone == zone  # type: ignore[union-attr]

        hours_in_day = (end - start) // dt.timedelta(hours=1)
        assert hours_in_day == 24 - (missing is not None) + (doubled is not None)
        assert accepted == 4 * (hours_in_day + 4)

        counts = store.hourly_counts(source).to_pylist()
        for label in ("*", "person"):
            per_hour = {r["local_hour"]: r["event_count"] for r in counts
                        if r["label"] == label and r["local_date"] == day}
            expected = {h: 4 for h in range(24) if h != missing}
            if doubled is not None:
                expected[doubled] = 8
            assert per_hour == expected
            assert sum(per_hour.values()) == 4 * hours_in_day
        before = {r["local_hour"]: r["event_count"] for r in counts
                  if r["label"] == "*" and r["local_date"] == day - dt.timedelta(days=1)}
        after = {r["local_hour"]: r["event_count"] for r in counts
                 if r["label"] == "*" and r["local_date"] == day + dt.timedelta(days=1)}
        assert before == {22: 4, 23: 4}
        assert after == {0: 4, 1: 4}
        assert counts == store.hourly_counts_from_events(source).to_pylist()

        events = store.list_events(EventFilter(source_id=source), None, 1000).events
        assert len(events) == accepted
        weekdays = Counter((e["local_date"], e["local_weekday"]) for e in events)
        previous, following = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
        assert weekdays == {
            (previous, previous.weekday()): 8,  # 0 = Monday, like date.weekday()
            (day, day.weekday()): 4 * hours_in_day,
            (following, following.weekday()): 8,
        }
        if missing is not None or doubled is not None:  # these DST changes fall on Sundays
            assert {e["local_weekday"] for e in events if e["local_date"] == day} == {SUNDAY}
            assert {e["local_weekday"] for e in events if e["local_date"] == previous} == {
                SATURDAY}
            assert {e["local_weekday"] for e in events if e["local_date"] == following} == {
                MONDAY}
        local_zone = ZoneInfo(zone)
        for event in events:
            local = event["ts"].astimezone(local_zone)
            assert (event["local_date"], event["local_hour"]) == (local.date(), local.hour)
    finally:
        store.close()


def test_hour_two_of_berlin_fall_back_holds_both_passes(store: Store) -> None:
    store.set_source_timezone("cam", "Europe/Berlin")
    body = json.dumps([
        {"event_id": "cest", "camera_id": "cam", "event_type": "motion",
         "timestamp": "2026-10-25T00:30:00Z"},  # 02:30 CEST
        {"event_id": "cet", "camera_id": "cam", "event_type": "motion",
         "timestamp": "2026-10-25T01:30:00Z"},  # 02:30 CET
        {"event_id": "three", "camera_id": "cam", "event_type": "motion",
         "timestamp": "2026-10-25T02:00:00Z"},  # 03:00 CET
    ]).encode()
    assert ingest_payload(body, store.insert_events).accepted == 3
    events = {e["event_id"]: e for e in store.list_events(EventFilter(), None, 10).events}
    assert events["cest"]["local_hour"] == events["cet"]["local_hour"] == 2
    assert events["three"]["local_hour"] == 3
    rows = [(r["local_hour"], r["event_count"]) for r in store.hourly_counts().to_pylist()]
    assert rows == [(2, 2), (3, 1)]


def test_changing_the_zone_moves_events_between_local_days(store: Store) -> None:
    body = json.dumps([
        {"event_id": "late", "camera_id": "cam", "event_type": "motion",
         "timestamp": "2026-03-29T23:30:00Z"},
    ]).encode()
    ingest_payload(body, store.insert_events)
    (row,) = store.hourly_counts().to_pylist()
    assert (row["local_date"], row["local_hour"]) == (dt.date(2026, 3, 29), 23)  # UTC
    store.set_source_timezone("cam", "Europe/Berlin")
    (row,) = store.hourly_counts().to_pylist()
    assert (row["local_date"], row["local_hour"]) == (dt.date(2026, 3, 30), 1)  # CEST
    store.set_source_timezone("cam", "America/New_York")
    (row,) = store.hourly_counts().to_pylist()
    assert (row["local_date"], row["local_hour"]) == (dt.date(2026, 3, 29), 19)  # EDT
    (event,) = store.list_events(EventFilter(), None, 10).events
    assert (event["local_date"], event["local_hour"], event["local_weekday"]) == (
        dt.date(2026, 3, 29), 19, SUNDAY)
