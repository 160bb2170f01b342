"""A store refuses what it cannot use, and a failed write reports its real cause."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest

from vigil.ingest.payload import ingest_payload
from vigil.store import Store
from vigil.store.base import EVENT_INPUT_SCHEMA

EVENT = {"event_id": "a", "camera_id": "cam", "event_type": "motion",
         "timestamp": "2026-01-01T00:00:00Z"}


def batch(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({n: [r.get(n) for r in rows] for n in EVENT_INPUT_SCHEMA.names},
                    schema=EVENT_INPUT_SCHEMA)


def test_unknown_zone_is_refused_and_changes_nothing(store: Store) -> None:
    store.set_source_timezone("cam", "Europe/Berlin")
    assert ingest_payload(json.dumps(EVENT).encode(), store.insert_events).accepted == 1
    with pytest.raises(ValueError, match="Mars/Base"):
        store.set_source_timezone("cam", "Mars/Base")
    with pytest.raises(ValueError, match="Mars/Base"):
        store.set_source_timezone("new_cam", "Mars/Base")
    assert store.source_timezones() == {"cam": "Europe/Berlin"}
    later = {**EVENT, "event_id": "b", "timestamp": "2026-01-01T01:00:00Z"}
    assert ingest_payload(json.dumps(later).encode(), store.insert_events).accepted == 1
    assert store.hourly_counts().to_pylist() == store.hourly_counts_from_events().to_pylist()


def test_failed_insert_reports_its_cause_and_rolls_back(store: Store) -> None:
    row = {"event_id": "a", "source_id": "cam", "event_type": "motion",
           "ts": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "labels": []}
    broken = {**row, "event_id": "b", "labels": None}  # labels may not be NULL
    with pytest.raises((duckdb.Error, psycopg.Error)) as raised:
        store.insert_events(batch([row, broken]))
    assert "transaction is aborted" not in str(raised.value)
    assert "labels" in str(raised.value)  # the constraint error names the column
    assert store.count_events() == 0
    assert store.hourly_counts().num_rows == 0
    assert store.insert_events(batch([row])) == 1  # the store is usable afterwards
    assert store.count_events() == 1


def test_repeats_within_a_batch_are_stored_once(store: Store) -> None:
    row = {"event_id": "dup", "source_id": "cam", "event_type": "motion",
           "ts": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "labels": []}
    later = {**row, "ts": dt.datetime(2026, 1, 1, 0, 5, tzinfo=dt.UTC)}
    assert store.insert_events(batch([row, row, later])) == 2  # same id, another instant
    assert store.insert_events(batch([later, row])) == 0
    assert store.count_events() == 2
    assert store.hourly_counts().to_pylist() == store.hourly_counts_from_events().to_pylist()
