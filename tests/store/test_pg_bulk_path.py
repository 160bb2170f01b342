"""PostgreSQL's bulk path: taken for large batches of new events, abandoned cleanly (nothing
half-written) when the copy meets an event that is stored already."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from vigil.store import EventFilter, open_store, postgres
from vigil.store.base import EVENT_INPUT_SCHEMA

START = dt.datetime(2026, 3, 28, 20, tzinfo=dt.UTC)  # across Berlin's spring-forward night


def batch(ids: range) -> pa.Table:
    rows: list[dict[str, Any]] = [
        {"event_id": f"e{i}", "source_id": f"cam{i % 2}", "event_type": "detection",
         "ts": START + dt.timedelta(seconds=7 * i), "labels": ["person"] if i % 3 else [],
         "confidence": (i % 10) / 10 if i % 4 else None}
        for i in ids
    ]
    return pa.Table.from_pylist(rows, schema=EVENT_INPUT_SCHEMA)


def test_bulk_copy_then_fallback_on_a_stored_event(pg_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "PROBE_SAMPLE", 1)  # the probe sees only the first event
    taken: list[int | None] = []
    original = postgres.PostgresStore._copy_all_new

    def spy(self: postgres.PostgresStore, staged: pa.Table) -> int | None:
        result = original(self, staged)
        taken.append(result)
        return result

    monkeypatch.setattr(postgres.PostgresStore, "_copy_all_new", spy)
    store = open_store(pg_url)
    try:
        store.set_source_timezone("cam0", "Europe/Berlin")
        assert store.insert_events(batch(range(0, 3000))) == 3000
        assert taken == [3000]  # copied straight in
        # new events first (the probe passes), then 500 that are stored: the copy fails
        mixed = pa.concat_tables([batch(range(3000, 5500)), batch(range(2500, 3000))])
        assert store.insert_events(mixed) == 2500
        assert taken == [3000, None]  # abandoned, then the general path
        assert store.count_events() == 5500
        assert store.hourly_counts().to_pylist() == store.hourly_counts_from_events().to_pylist()
        before = store.list_events(EventFilter(source_id="cam0"), None, 3000).events
        store.set_source_timezone("cam0", "Europe/Berlin")  # re-derived in SQL: no change
        after = store.list_events(EventFilter(source_id="cam0"), None, 3000).events
        assert [(e["local_date"], e["local_hour"], e["local_weekday"]) for e in before] == \
            [(e["local_date"], e["local_hour"], e["local_weekday"]) for e in after]
        assert {e["local_hour"] for e in before} >= {21, 23, 0, 1, 3}  # 02:00 never happens
        assert 2 not in {e["local_hour"] for e in before if e["local_date"].day == 29}
    finally:
        store.close()
