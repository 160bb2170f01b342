"""Helpers shared by the ingest tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vigil.store import EventFilter, Store

Report = dict[str, Any]
IngestText = Callable[..., Report]


def all_events(store: Store) -> list[dict[str, Any]]:
    """Every stored event, paging through the listing."""
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = store.list_events(EventFilter(), cursor, 5000)
        events.extend(page.events)
        cursor = page.next_cursor
        if cursor is None:
            return events


def events_by_id(store: Store) -> dict[str, dict[str, Any]]:
    """Every stored event keyed by its id."""
    return {event["event_id"]: event for event in all_events(store)}


def rejected_lines(report: Report) -> dict[str, list[int]]:
    """Reason code -> the 1-based lines the report names for it."""
    return {reason: entry["lines"] for reason, entry in report["rejected_by_reason"].items()}
