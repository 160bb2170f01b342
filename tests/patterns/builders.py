"""Day-event tables in memory, shaped like ``Store.events_of_local_day`` returns them.

Events are written as :class:`Ev` rows (epoch milliseconds and the source's zone) or, for
large tables, as numpy columns (:func:`bulk`). :func:`table` derives ``local_date``,
``local_hour`` and ``local_weekday`` from each row's zone as the store does at ingest and
sorts by time and id. :func:`stored` runs a detector's ``summarize`` day by day and passes
the summaries through the aggregate-record checks and a JSON round trip, as the daily
rollup job and the aggregate store do.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.patterns.base import DaySummary, PatternDetector
from vigil.patterns.registry import summary_records

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("source_id", pa.string()), ("event_type", pa.string()),
    ("ts", pa.timestamp("us", "UTC")), ("labels", pa.list_(pa.string())),
    ("confidence", pa.float64()), ("model_id", pa.string()), ("frame_id", pa.int64()),
    ("subject_id", pa.string()), ("zone", pa.string()), ("state", pa.string()),
    ("detections", pa.string()), ("attributes", pa.string()), ("local_date", pa.date32()),
    ("local_hour", pa.int16()), ("local_weekday", pa.int16()),
    ("ingested_at", pa.timestamp("us", "UTC")), ("timezone", pa.string()),
    ("area", pa.string()),
])
START = dt.date(2024, 3, 1)


@dataclass(frozen=True)
class Ev:
    """One event: source, epoch milliseconds, type and the optional fields detectors read."""

    source: str
    ts_ms: int
    event_type: str = "detection"
    label: str | None = "person"
    state: str | None = None
    old_state: str | None = None
    subject: str | None = None
    zone: str = "UTC"


def days(count: int, start: dt.date = START) -> list[dt.date]:
    """``count`` consecutive dates from ``start``."""
    return [start + dt.timedelta(days=i) for i in range(count)]


def at(day: dt.date, hour: int, minute: float = 0.0, zone: str = "UTC") -> int:
    """Epoch milliseconds of local wall-clock ``hour:minute`` (fractional) of ``day``."""
    whole = int(minute // 1)
    local = dt.datetime.combine(day, dt.time(), ZoneInfo(zone))
    local += dt.timedelta(minutes=hour * 60 + whole)  # wall-clock arithmetic
    return int(local.timestamp() * 1000) + int(round((minute - whole) * 60_000))


def ha(entity: str, ts_ms: int, state: str = "on", old: str | None = None,
       zone: str = "UTC") -> Ev:
    """A Home Assistant ``state_changed`` event (old state ``off``/``on`` by default)."""
    if old is None:
        old = "off" if state == "on" else "on"
    return Ev(entity, ts_ms, "state_changed", entity.split(".")[0], state, old, zone=zone)


def detection(source: str, ts_ms: int, label: str = "person", zone: str = "UTC") -> Ev:
    """A camera detection of ``label``."""
    return Ev(source, ts_ms, "detection", label, zone=zone)


def entry(source: str, ts_ms: int, subject: str, zone: str = "UTC") -> Ev:
    """A person entering at ``source``."""
    return Ev(source, ts_ms, "entry", "person", subject=subject, zone=zone)


def exit_(source: str, ts_ms: int, subject: str, zone: str = "UTC") -> Ev:
    """A person leaving at ``source``."""
    return Ev(source, ts_ms, "exit", "person", subject=subject, zone=zone)


def table(events: Iterable[Ev], areas: dict[str, str] | None = None) -> pa.Table:
    """A day-event table of ``events``, sorted by time (ties keep the given order)."""
    rows = list(events)
    areas = areas or {}
    order = sorted(range(len(rows)), key=lambda i: (rows[i].ts_ms, i))
    rows = [rows[i] for i in order]
    ts = pa.array([r.ts_ms * 1000 for r in rows], pa.int64()).cast(pa.timestamp("us", "UTC"))
    zones = np.asarray([r.zone for r in rows], dtype=object)
    local_date, local_hour, local_weekday = local_columns(ts, zones)
    attrs = [json.dumps({"old_state": r.old_state}) if r.old_state is not None else None
             for r in rows]
    columns: dict[str, Any] = {
        "event_id": [f"e{i:07d}" for i in range(len(rows))],
        "source_id": [r.source for r in rows], "event_type": [r.event_type for r in rows],
        "ts": ts, "labels": [[r.label] if r.label else [] for r in rows],
        "confidence": [None if r.event_type == "state_changed" else 0.9 for r in rows],
        "model_id": [None] * len(rows), "frame_id": [None] * len(rows),
        "subject_id": [r.subject for r in rows], "zone": [None] * len(rows),
        "state": [r.state for r in rows], "detections": [None] * len(rows),
        "attributes": attrs, "local_date": local_date, "local_hour": local_hour,
        "local_weekday": local_weekday, "ingested_at": ts, "timezone": zones.tolist(),
        "area": [areas.get(r.source) for r in rows],
    }
    return _assemble(columns)


def bulk(sources: npt.NDArray[np.object_], ts_ms: npt.NDArray[np.int64],
         zone: str = "UTC", event_type: str = "detection") -> pa.Table:
    """A large table of one event type (camera ``person`` detections by default; for
    ``state_changed`` the states alternate ``on``/``off`` per source), built vectorised."""
    order = np.argsort(ts_ms, kind="stable")
    source, stamp = sources[order], ts_ms[order]
    n = len(stamp)
    ts = pa.array(stamp * 1000, pa.int64()).cast(pa.timestamp("us", "UTC"))
    zones = np.full(n, zone, dtype=object)
    local_date, local_hour, local_weekday = local_columns(ts, zones)
    nulls = pa.nulls(n, pa.string())
    state: pa.Array = nulls
    attrs: pa.Array = nulls
    if event_type == "state_changed":
        flips = np.zeros(n, dtype=bool)
        for name in np.unique(source):
            mask = source == name
            flips[mask] = np.arange(int(mask.sum())) % 2 == 0
        state = pa.array(np.where(flips, "on", "off").tolist(), pa.string())
        attrs = pa.array(np.where(flips, '{"old_state": "off"}', '{"old_state": "on"}')
                         .tolist(), pa.string())
    labels = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)),
                                      pa.array(np.full(n, "person", dtype=object)))
    columns: dict[str, Any] = {
        "event_id": pa.array(np.char.add("e", np.arange(n).astype(str)).tolist()),
        "source_id": pa.array(source.tolist(), pa.string()),
        "event_type": pa.array([event_type] * n, pa.string()), "ts": ts, "labels": labels,
        "confidence": pa.nulls(n, pa.float64()), "model_id": nulls,
        "frame_id": pa.nulls(n, pa.int64()), "subject_id": nulls, "zone": nulls,
        "state": state, "detections": nulls, "attributes": attrs, "local_date": local_date,
        "local_hour": local_hour, "local_weekday": local_weekday, "ingested_at": ts,
        "timezone": pa.array(zones.tolist(), pa.string()), "area": nulls,
    }
    return _assemble(columns)


def _assemble(columns: dict[str, Any]) -> pa.Table:
    arrays = [columns[f.name] if isinstance(columns[f.name], pa.Array)
              else pa.array(columns[f.name], f.type) for f in EVENT_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def local_columns(ts: pa.Array, zones: npt.NDArray[np.object_]
                  ) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Local date, hour and weekday (0 = Monday) of each UTC time in its row's zone, as the
    store derives them at ingest."""
    n = len(ts)
    dates = np.zeros(n, dtype=np.int32)
    hours = np.zeros(n, dtype=np.int16)
    weekdays = np.zeros(n, dtype=np.int16)
    for zone in sorted(set(zones.tolist())):
        mask = zones == zone
        local = pc.filter(ts, pa.array(mask)).cast(pa.timestamp("us", zone))
        naive = pc.local_timestamp(local)
        dates[mask] = naive.cast(pa.date32()).cast(pa.int32()).to_numpy()
        hours[mask] = pc.hour(local).to_numpy()
        weekdays[mask] = pc.day_of_week(local).to_numpy()
    return (pa.array(dates, pa.int32()).cast(pa.date32()), pa.array(hours, pa.int16()),
            pa.array(weekdays, pa.int16()))


def merge(*tables: pa.Table) -> pa.Table:
    """Tables joined and sorted by time and id (ids made unique again)."""
    joined = pa.concat_tables(tables)
    idx = np.argsort(joined.column("ts").cast(pa.int64()).to_numpy(), kind="stable")
    joined = joined.take(pa.array(idx))
    ids = pa.array([f"e{i:07d}" for i in range(joined.num_rows)], pa.string())
    return joined.set_column(0, "event_id", ids)


def by_day(events: pa.Table) -> dict[dt.date, pa.Table]:
    """The table split by local date, as the daily job reads it."""
    found: dict[dt.date, pa.Table] = {}
    dates = events.column("local_date")
    for day in sorted(set(dates.to_pylist())):
        found[day] = events.filter(pc.equal(dates, pa.scalar(day, pa.date32())))
    return found


def stored(detector: PatternDetector, events: pa.Table,
           extra_days: Sequence[dt.date] = ()) -> list[DaySummary]:
    """Each day's summaries as the aggregate store gives them back: checked as aggregate
    records, then through JSON (also for ``extra_days`` without events)."""
    tables = by_day(events)
    empty = events.slice(0, 0)
    found: list[DaySummary] = []
    for day in sorted(set(tables) | set(extra_days)):
        summaries = detector.summarize(day, tables.get(day, empty))
        for record in summary_records(detector, day, summaries):
            text = json.dumps(record.fields, allow_nan=False)
            found.append(DaySummary(day, record.entity, json.loads(text)))
    return sorted(found, key=lambda s: (s.day, s.entity))


def empty_table() -> pa.Table:
    """A day-event table without rows."""
    return EVENT_SCHEMA.empty_table()


def noise(rng: np.random.Generator, day_list: Sequence[dt.date], items: Sequence[str],
          per_day: float, zone: str = "UTC") -> list[Ev]:
    """About ``per_day`` activity starts a day per item at uniformly random times: a
    dotted item is a Home Assistant entity (switched on, off again 1 to 30 min later),
    any other a camera detecting a person."""
    found: list[Ev] = []
    for day in day_list:
        for item in items:
            for minute in rng.uniform(0, 1440, int(rng.poisson(per_day))):
                stamp = at(day, 0, float(minute), zone)
                if "." in item:
                    found.append(ha(item, stamp, zone=zone))
                    off = stamp + int(rng.uniform(60_000, 1_800_000))
                    found.append(ha(item, off, "off", zone=zone))
                else:
                    found.append(detection(item, stamp, zone=zone))
    return found


def assert_agree(from_summaries: Sequence[Any], from_raw: Sequence[Any],
                 tolerance: float = 0.05) -> None:
    """The two detection paths found the same patterns with close confidences."""
    ids = [p.pattern_id for p in from_summaries]
    assert ids == [p.pattern_id for p in from_raw]
    for mine, theirs in zip(from_summaries, from_raw, strict=True):
        assert abs(mine.confidence - theirs.confidence) <= tolerance, mine.pattern_id
        assert mine.evidence["days_observed"] == theirs.evidence["days_observed"]
        assert (mine.first_seen, mine.last_seen) == (theirs.first_seen, theirs.last_seen)
