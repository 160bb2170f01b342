"""Any text survives the trip through ``COPY``: labels, ids and JSON come back as sent."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.ingest.payload import ingest_payload
from vigil.store import EventFilter, Store
from vigil.store.base import EVENT_INPUT_SCHEMA

# PostgreSQL text cannot hold NUL; everything else must round-trip.
texts = st.text(st.characters(exclude_characters="\x00", codec="utf-8"), max_size=12)
labels = st.lists(texts, max_size=4)
rows = st.lists(st.tuples(texts.filter(bool), labels, st.none() | texts,
                          st.none() | st.dictionaries(texts, texts, max_size=2)),
                min_size=1, max_size=8, unique_by=lambda row: row[0])


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=rows)
def test_text_round_trips(batch: list[tuple[str, list[str], str | None, dict[str, str] | None]],
                          store_factory: Callable[[], Store]) -> None:
    store = store_factory()
    try:
        ts = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
        table = pa.table({
            "event_id": [row[0] for row in batch], "source_id": ["cam"] * len(batch),
            "event_type": ["detection"] * len(batch), "ts": [ts] * len(batch),
            "labels": [row[1] for row in batch], "confidence": [None] * len(batch),
            "model_id": [None] * len(batch), "frame_id": [None] * len(batch),
            "subject_id": [row[2] for row in batch], "zone": [None] * len(batch),
            "state": [None] * len(batch), "detections": [None] * len(batch),
            "attributes": [json.dumps(row[3]) if row[3] is not None else None
                           for row in batch],
        }, schema=EVENT_INPUT_SCHEMA)
        assert store.insert_events(table) == len(batch)
        stored = {e["event_id"]: e for e in store.list_events(EventFilter(), None, 100).events}
        for event_id, sent_labels, subject, attributes in batch:
            assert stored[event_id]["labels"] == sent_labels
            assert stored[event_id]["subject_id"] == subject
            assert stored[event_id]["attributes"] == attributes
    finally:
        store.close()


def test_nul_characters_are_rejected_by_name_and_lose_nothing(store: Store) -> None:
    body = json.dumps([
        {"camera_id": "cam", "event_type": "detection", "timestamp": 1767225600,
         "label": "a\x00b"},
        {"camera_id": "cam", "event_type": "detection", "timestamp": 1767225601,
         "extra": {"note": "x\x00"}},
        {"camera_id": "cam", "event_type": "detection", "timestamp": 1767225602,
         "zone": "back\\u0000slash text is fine"},
    ]).encode()
    result = ingest_payload(body, store.insert_events)
    assert (result.accepted, result.rejected) == (1, 2)
    assert [(e.index, e.field, e.reason) for e in result.errors] == [
        (0, "labels", "text_has_nul"), (1, "attributes", "text_has_nul")]
    assert store.count_events() == 1
