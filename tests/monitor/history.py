"""A camera with a steady rhythm, as ingest payloads: people by day, cars at rush hours."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # a Monday
DAYS = 21


def event(source: str, ts: dt.datetime, label: str, event_id: str,
          confidence: float = 0.9) -> dict[str, Any]:
    return {"event_id": event_id, "camera_id": source, "event_type": "detection",
            "timestamp": ts.isoformat(), "label": label, "confidence": confidence}


def history(source: str = "yard", days: int = DAYS) -> list[dict[str, Any]]:
    """``days`` days of people (2 an hour, 09-17) and cars (08 and 18)."""
    items = []
    for day in range(days):
        base = START + dt.timedelta(days=day)
        for hour in range(9, 18):
            for minute in (10, 40):
                ts = base + dt.timedelta(hours=hour, minutes=minute)
                items.append(event(source, ts, "person", f"{source}-p-{day}-{hour}-{minute}"))
        for hour in (8, 18):
            ts = base + dt.timedelta(hours=hour, minutes=20)
            items.append(event(source, ts, "car", f"{source}-c-{day}-{hour}"))
    return items


def after_history(days: int = DAYS, hours: float = 0.0) -> dt.datetime:
    """An instant after the history: ``hours`` into the day after it."""
    return START + dt.timedelta(days=days, hours=hours)


def payload(items: list[dict[str, Any]]) -> bytes:
    return json.dumps(items).encode()


def night_visit(at: dt.datetime, prefix: str, people: int = 3,
                source: str = "yard") -> list[dict[str, Any]]:
    """``people`` detections of a person a few minutes apart from ``at`` (a burst in one
    hour: a single event at a dead hour is only a weak, ``low`` signal)."""
    return [event(source, at + dt.timedelta(minutes=3 * n), "person", f"{prefix}-{n}")
            for n in range(people)]
