"""The store reads behind a baseline, on both backends: a source's zone and hourly counts in
one read, and its first and last event looked for near the hours of those counts."""

from __future__ import annotations

import datetime as dt
import json

from vigil.baseline import BaselineConfig, baseline_for
from vigil.baseline.compute import HourlyCounts, utc_range
from vigil.ingest.payload import ingest_payload
from vigil.store import Store
from vigil.store.sqlstore import SqlStore

UTC = dt.UTC
ZONE = "Europe/Berlin"
# 25 October 2026: Berlin's clocks go back at 01:00 UTC, so local 02:xx happens twice.
SENT = [dt.datetime(2026, 10, 25, 0, 40, tzinfo=UTC),  # 02:40 CEST, the first event
        dt.datetime(2026, 10, 25, 1, 10, tzinfo=UTC),  # 02:10 CET: same local hour, later
        dt.datetime(2026, 10, 27, 9, 0, tzinfo=UTC),
        dt.datetime(2026, 10, 30, 22, 50, tzinfo=UTC)]  # 23:50 CET, the last event
AS_OF = dt.datetime(2026, 11, 1, 12, tzinfo=UTC)


def ingest(store: Store, source: str, times: list[dt.datetime]) -> None:
    events = [{"camera_id": source, "event_type": "detection", "label": label,
               "timestamp": at.isoformat().replace("+00:00", "Z")}
              for at in times for label in ("person", "car")]
    result = ingest_payload(json.dumps(events).encode(), store.insert_events)
    assert result.rejected == 0 and result.accepted == len(events)


def delete_events_before(store: Store, source: str, before: dt.datetime) -> None:
    """Raw events expiring while their hourly counts stay (as retention does)."""
    assert isinstance(store, SqlStore)
    with store.transaction():
        store._write("DELETE FROM events WHERE source_id = ? AND ts < ?", [source, before])


def test_zone_and_hourly_counts_in_one_read(store: Store) -> None:
    store.set_source_timezone("porch", ZONE)
    ingest(store, "porch", SENT)
    zone, table = store.source_hourly_counts("porch") or ("", None)
    assert zone == ZONE
    counts = HourlyCounts(table)
    assert counts.span() == (8, dt.datetime(2026, 10, 25, 2), dt.datetime(2026, 10, 30, 23))
    assert store.source_hourly_counts("nope") is None
    store.set_source_timezone("empty", "Asia/Tokyo")
    empty = store.source_hourly_counts("empty")
    assert empty is not None and empty[0] == "Asia/Tokyo" and empty[1].num_rows == 0


def test_first_and_last_event_near_the_hours_of_the_counts(store: Store) -> None:
    store.set_source_timezone("porch", ZONE)
    ingest(store, "porch", SENT)
    ingest(store, "other", [SENT[0] - dt.timedelta(days=3), SENT[-1] + dt.timedelta(days=3)])
    near = (utc_range(dt.datetime(2026, 10, 25, 2), ZONE),
            utc_range(dt.datetime(2026, 10, 30, 23), ZONE))
    assert store.source_event_span("porch", *near) == (SENT[0], SENT[-1])
    assert store.source_event_span("porch") == (SENT[0], SENT[-1])
    assert store.source_span("porch") == (8, SENT[0], SENT[-1])
    assert store.source_event_span("nope") == (None, None)


def test_an_expired_first_hour_is_looked_up_in_the_whole_log(store: Store) -> None:
    store.set_source_timezone("porch", ZONE)
    ingest(store, "porch", SENT)
    delete_events_before(store, "porch", SENT[2])
    near = (utc_range(dt.datetime(2026, 10, 25, 2), ZONE),
            utc_range(dt.datetime(2026, 10, 30, 23), ZONE))
    assert store.source_event_span("porch", *near) == (SENT[2], SENT[-1])
    assert store.source_span("porch") == (8, SENT[2], SENT[-1])
    baseline = baseline_for(store, "porch", AS_OF, BaselineConfig())
    assert baseline is not None
    assert (baseline["first_event_at"], baseline["last_event_at"]) == (SENT[2], SENT[-1])
    assert baseline["total_events"] == 8  # the hourly counts keep the expired events


def test_baseline_of_a_source_without_events(store: Store) -> None:
    store.set_source_timezone("empty", "Asia/Tokyo")
    baseline = baseline_for(store, "empty", AS_OF, BaselineConfig())
    assert baseline is not None and baseline["timezone"] == "Asia/Tokyo"
    assert baseline["total_events"] == 0 and baseline["first_event_at"] is None
    assert baseline["status"] == "learning" and baseline["average_events_per_day"] == 0
    assert baseline_for(store, "nope", AS_OF, BaselineConfig()) is None
