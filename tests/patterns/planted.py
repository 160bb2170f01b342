"""A stored event log with a planted routine, for the end-to-end pattern tests.

``light.kitchen`` (Home Assistant, zone Europe/Berlin) turns on at 06:40 local ± 5 min on
25 of 30 days (1–30 March 2026, across the change to summer time on the 29th) and off about
50 minutes later; ``switch.fan`` turns on at seeded random times, a routine of nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from zoneinfo import ZoneInfo

import pyarrow as pa

from vigil.store.base import EVENT_INPUT_SCHEMA, Store

FIRST_DAY = dt.date(2026, 3, 1)
DAYS = [FIRST_DAY + dt.timedelta(days=n) for n in range(30)]
LAST_DAY = DAYS[-1]
SKIPPED = {DAYS[n] for n in (3, 9, 15, 21, 27)}
"""The 5 days the kitchen light stays off in the morning."""
AFTER = dt.datetime(2026, 4, 2, 1, 0, tzinfo=dt.UTC)
"""An instant when every planted day has ended everywhere."""
ZONE = "Europe/Berlin"
LIGHT = "light.kitchen"
FAN = "switch.fan"


def _change(source: str, at: dt.datetime, state: str, old: str, n: int,
            whole_ms: bool) -> dict[str, object]:
    domain = source.split(".", 1)[0]
    if whole_ms:
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    return {"event_id": f"{source}-{n}-{state}", "source_id": source,
            "event_type": "state_changed", "ts": at.astimezone(dt.UTC), "labels": [domain],
            "confidence": None, "model_id": None, "frame_id": None, "subject_id": None,
            "zone": None, "state": state, "detections": None,
            "attributes": json.dumps({"old_state": old, "domain": domain})}


def planted_events(seed: int = 7, whole_ms: bool = True) -> pa.Table:
    """The planted log as a batch for ``Store.insert_events``; timestamps in whole
    milliseconds unless ``whole_ms`` is False (microseconds, as Home Assistant sends)."""
    rng = random.Random(seed)
    zone = ZoneInfo(ZONE)
    rows = []
    for n, day in enumerate(DAYS):
        if day not in SKIPPED:
            on = dt.datetime.combine(day, dt.time(6, 40), zone) + dt.timedelta(
                minutes=rng.uniform(-5, 5))
            rows.append(_change(LIGHT, on, "on", "off", n, whole_ms))
            rows.append(_change(LIGHT, on + dt.timedelta(minutes=rng.uniform(40, 60)),
                                "off", "on", n, whole_ms))
        fan_on = dt.datetime.combine(day, dt.time(), zone) + dt.timedelta(
            minutes=rng.uniform(0, 1380))
        rows.append(_change(FAN, fan_on, "on", "off", n, whole_ms))
        rows.append(_change(FAN, fan_on + dt.timedelta(minutes=rng.uniform(5, 50)), "off",
                            "on", n, whole_ms))
    return pa.Table.from_pylist(rows, schema=EVENT_INPUT_SCHEMA)


def plant(store: Store, whole_ms: bool = True) -> int:
    """Store the planted log (the sources in their zone first); the events inserted."""
    for source in (LIGHT, FAN):
        store.set_source_timezone(source, ZONE)
    return store.insert_events(planted_events(whole_ms=whole_ms))
