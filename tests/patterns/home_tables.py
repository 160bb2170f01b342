"""Day-event tables built in memory, shaped like ``Store.events_of_local_day`` returns them.

A source whose id holds a dot (``light.kitchen``) is a Home Assistant entity: its events are
``state_changed`` (``on`` from ``off`` unless another kind is given); any other source is a
camera sending ``detection`` events labelled ``person``. Local date, hour and weekday are
derived from each source's zone, as the store derives them at ingest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.patterns.base import DaySummary, PatternDetector

from .builders import local_columns

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("source_id", pa.string()), ("event_type", pa.string()),
    ("ts", pa.timestamp("us", "UTC")), ("labels", pa.list_(pa.field("l", pa.string()))),
    ("confidence", pa.float64()), ("model_id", pa.string()), ("frame_id", pa.int64()),
    ("subject_id", pa.string()), ("zone", pa.string()), ("state", pa.string()),
    ("detections", pa.string()), ("attributes", pa.string()), ("local_date", pa.date32()),
    ("local_hour", pa.int16()), ("local_weekday", pa.int16()),
    ("ingested_at", pa.timestamp("us", "UTC")), ("timezone", pa.string()), ("area", pa.string()),
])
KINDS = ("on", "off", "detection", "entry", "exit")


@dataclass(frozen=True)
class Home:
    """Sources with their zone (default ``zone``) and area (none unless given)."""

    zone: str = "Europe/Berlin"
    areas: Mapping[str, str] = field(default_factory=dict)
    zones: Mapping[str, str] = field(default_factory=dict)

    def zone_of(self, source: str) -> str:
        return self.zones.get(source, self.zone)


def local_ms(day: dt.date, minute: float, zone: str) -> int:
    """Epoch milliseconds of wall-clock ``minute`` (may be fractional, and past midnight:
    1450 is 00:10 of the next day) of ``day`` in ``zone``."""
    shift, minute = divmod(minute, 1440)
    day += dt.timedelta(days=int(shift))
    whole = int(minute)
    at = dt.datetime.combine(day, dt.time(whole // 60, whole % 60), ZoneInfo(zone))
    return int(at.timestamp() * 1000) + int(round((minute - whole) * 60_000))


def build(sources: Sequence[str], ts_ms: Iterable[int], home: Home,
          kinds: Sequence[str] | None = None) -> pa.Table:
    """A day-event table of the given events, sorted by time and id."""
    source = np.asarray(list(sources), dtype=object)
    ts = np.asarray(list(ts_ms), dtype=np.int64)
    kind = np.asarray(list(kinds) if kinds is not None else _default_kinds(source), dtype=object)
    order = np.lexsort((source.astype(str), ts))
    source, ts, kind = source[order], ts[order], kind[order]
    n = len(ts)
    is_ha = np.isin(kind, ["on", "off"])
    zones = np.asarray([home.zone_of(s) for s in source], dtype=object)
    areas = [home.areas.get(s) for s in source]
    ts_arr = pa.array(ts * 1000, pa.int64()).cast(pa.timestamp("us", "UTC"))
    local_date, local_hour, local_weekday = local_columns(ts_arr, zones)
    event_type = np.where(is_ha, "state_changed", kind)
    pairs = list(zip(kind, is_ha, strict=True))
    state = [("on" if k == "on" else "off") if h else None for k, h in pairs]
    old = [json.dumps({"old_state": "off" if k == "on" else "on"}) if h else None
           for k, h in pairs]
    labels = [[str(s).split(".")[0]] if h else ["person"]
              for s, h in zip(source, is_ha, strict=True)]
    columns: dict[str, Any] = {
        "event_id": [f"e{i:08d}" for i in range(n)], "source_id": source.tolist(),
        "event_type": event_type.tolist(), "ts": ts_arr, "labels": labels,
        "confidence": [None if h else 0.9 for h in is_ha], "model_id": [None] * n,
        "frame_id": [None] * n, "subject_id": [None] * n, "zone": [None] * n,
        "state": state, "detections": [None] * n, "attributes": old,
        "local_date": local_date, "local_hour": local_hour, "local_weekday": local_weekday,
        "ingested_at": ts_arr, "timezone": zones.tolist(), "area": areas,
    }
    return pa.table({name: pa.array(columns[name], EVENT_SCHEMA.field(name).type)
                     if not isinstance(columns[name], pa.Array) else columns[name]
                     for name in EVENT_SCHEMA.names}, schema=EVENT_SCHEMA)


def _default_kinds(source: npt.NDArray[np.object_]) -> list[str]:
    return ["on" if "." in str(s) else "detection" for s in source]


def day_tables(events: pa.Table) -> dict[dt.date, pa.Table]:
    """The table split by local date, as the daily job reads it day by day."""
    found: dict[dt.date, pa.Table] = {}
    for day in sorted(set(events.column("local_date").to_pylist())):
        found[day] = events.filter(pc.equal(events.column("local_date"), pa.scalar(day)))
    return found


def stored_summaries(detector: PatternDetector, events: pa.Table,
                     days: Iterable[dt.date] = ()) -> list[DaySummary]:
    """Each day's summaries after a JSON round trip (also for ``days`` without events)."""
    tables = day_tables(events)
    empty = events.slice(0, 0)
    found: list[DaySummary] = []
    for day in sorted(set(tables) | set(days)):
        summary = detector.summarize(day, tables.get(day, empty))
        for entity, fields in json.loads(json.dumps(summary, allow_nan=False)).items():
            assert fields, f"{detector.name}: empty summary for {entity} on {day}"
            found.append(DaySummary(day, entity, fields))
    return sorted(found, key=lambda s: (s.day, s.entity))


def days_from(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(count)]


def noise(rng: np.random.Generator, days: Sequence[dt.date], home: Home,
          sources: Sequence[str], per_day: int) -> pa.Table:
    """``per_day`` events a day (Poisson) at uniformly random times on random sources."""
    chosen: list[str] = []
    stamps: list[int] = []
    for day in days:
        count = int(rng.poisson(per_day))
        picks = rng.integers(0, len(sources), count)
        minutes = rng.uniform(0, 1440, count)
        for pick, minute in zip(picks, minutes, strict=True):
            source = sources[int(pick)]
            chosen.append(source)
            stamps.append(local_ms(day, float(minute), home.zone_of(source)))
    return build(chosen, stamps, home)


def concat(*tables: pa.Table) -> pa.Table:
    """Tables joined and re-sorted by time and id (ids made unique again)."""
    joined = pa.concat_tables(tables)
    ts = joined.column("ts").cast(pa.int64()).to_numpy() // 1000
    return build(joined.column("source_id").to_pylist(), ts.tolist(),
                 _home_of(joined), _kinds_of(joined))


def _home_of(table: pa.Table) -> Home:
    sources = table.column("source_id").to_pylist()
    zones = dict(zip(sources, table.column("timezone").to_pylist(), strict=True))
    areas = {s: a for s, a in zip(sources, table.column("area").to_pylist(), strict=True)
             if a is not None}
    return Home(areas=areas, zones=zones)


def _kinds_of(table: pa.Table) -> list[str]:
    kinds = []
    for event_type, state in zip(table.column("event_type").to_pylist(),
                                 table.column("state").to_pylist(), strict=True):
        kinds.append(str(state) if event_type == "state_changed" else str(event_type))
    return kinds


def assert_same_patterns(stored: Sequence[Any], raw: Sequence[Any]) -> None:
    """The summary path and the direct batch agree: same keys, confidences within 0.05,
    same days observed and first/last seen."""
    assert [p.key for p in stored] == [p.key for p in raw]
    for a, b in zip(stored, raw, strict=True):
        assert abs(a.confidence - b.confidence) <= 0.05, (a.key, a.confidence, b.confidence)
        assert a.evidence["days_observed"] == b.evidence["days_observed"], a.key
        assert (a.first_seen, a.last_seen) == (b.first_seen, b.last_seen), a.key


def check_pattern_shape(patterns: Sequence[Any], name: str, min_days: int = 5,
                        min_confidence: float = 0.5) -> None:
    """What every returned pattern must satisfy, and that evidence is JSON-able."""
    keys = [p.key for p in patterns]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for p in patterns:
        assert p.type == name and p.entities and p.description
        assert min_confidence <= p.confidence <= 1.0
        assert p.evidence["days_observed"] >= min_days
        assert p.first_seen is not None and p.last_seen is not None
        assert p.first_seen <= p.last_seen
        json.dumps(p.evidence, allow_nan=False)


def summaries_through_store(detector: PatternDetector, events: pa.Table,
                            days: Iterable[dt.date], path: Path) -> list[DaySummary]:
    """Each day's summaries written to and read back from a real DuckDB aggregate store."""
    from vigil.patterns.base import summary_detector_name
    from vigil.patterns.registry import summaries_from_records, summary_records
    from vigil.rollup import SqlAggregateStore
    from vigil.store import open_store

    tables = day_tables(events)
    chosen = sorted(set(tables) | set(days))
    store = open_store(str(path))
    try:
        aggregates = SqlAggregateStore(store)
        for day in chosen:
            summary = detector.summarize(day, tables.get(day, events.slice(0, 0)))
            aggregates.write_batch(summary_records(detector, day, summary))
        records = aggregates.query(chosen[0], chosen[-1],
                                   detector=summary_detector_name(detector.name))
    finally:
        store.close()
    return summaries_from_records(records)
