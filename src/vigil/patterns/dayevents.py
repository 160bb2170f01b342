"""The events detectors read, and the activity starts most of them look at.

The daily job hands each detector one local day of raw events
(:data:`vigil.store.rollup_tables.DAY_EVENT_SCHEMA`): the event columns detectors use, then
``timezone`` (the source's IANA zone) and ``area`` (the source's area, else the event's
zone, else null), sorted by time and id.
:func:`activities` turns such a table into numpy columns of *activity starts*:

- a Home Assistant ``state_changed`` event whose new state is active (:data:`ACTIVE_STATES`)
  and whose old state (``attributes.old_state``) was not: the item is the entity id;
- an ``entry`` event: the item is ``<source>:entry``;
- any other event except ``exit`` and ``state_changed``: the item is
  ``<source>:<first label>`` (``<source>:<event type>`` without a label).

An ``exit`` or a change to an inactive state ends an activity; it never starts one.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.ingest.compute import compute_connection

__all__ = ["ACTIVE_STATES", "DAY_EVENT_EXTRA_COLUMNS", "STATE_CHANGED", "Activity",
           "activities", "local_minutes", "old_states"]

STATE_CHANGED = "state_changed"
ACTIVE_STATES = frozenset({
    "on", "open", "opening", "detected", "home", "playing", "unlocked", "occupied",
    "active", "heat", "cool", "heating", "cooling", "motion", "wet", "triggered", "running",
})
"""Home Assistant states that mean "something is going on" (lower case)."""
DAY_EVENT_EXTRA_COLUMNS = ("timezone", "area")
EPOCH_DAY = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class Activity:
    """Activity starts sorted by time (then event id): one entry per start, as numpy."""

    item: npt.NDArray[np.object_]
    source: npt.NDArray[np.object_]
    area: npt.NDArray[np.object_]
    """The area, or ``""`` when the source has none."""
    ts_ms: npt.NDArray[np.int64]
    local_date: npt.NDArray[np.datetime64]
    minute: npt.NDArray[np.int16]
    """Minute of the local day, 0..1439 (wall clock: a DST day skips or repeats some)."""
    weekday: npt.NDArray[np.int8]
    """Local weekday, 0 = Monday."""

    def __len__(self) -> int:
        return len(self.ts_ms)

    def days(self) -> list[dt.date]:
        """The distinct local dates, ascending."""
        return [d.astype(dt.date) for d in np.unique(self.local_date)]


def local_minutes(events: pa.Table) -> npt.NDArray[np.int16]:
    """Minute of the local day of each event, from ``ts`` in its row's ``timezone``."""
    out = np.zeros(events.num_rows, dtype=np.int16)
    if not events.num_rows:
        return out
    zones = events.column("timezone").combine_chunks()
    ts = events.column("ts").combine_chunks().cast(pa.timestamp("us", "UTC"))
    for zone in pc.unique(zones).to_pylist():
        mask = pc.equal(zones, zone)
        local = pc.filter(ts, mask).cast(pa.timestamp("us", zone))
        minutes = pc.add(pc.multiply(pc.hour(local), 60), pc.minute(local))
        out[np.asarray(mask.to_numpy(zero_copy_only=False))] = minutes.to_numpy()
    return out


def old_states(events: pa.Table) -> pa.Array:
    """``attributes.old_state`` of each ``state_changed`` event as lower-case text (null
    when absent, and for other events); attributes are JSON text, as the store reads them
    (:data:`vigil.store.rollup_tables.DAY_EVENT_SCHEMA`)."""
    attrs = events.column("attributes")
    if not pc.any(pc.equal(events.column("event_type"), STATE_CHANGED)).as_py():
        return pa.nulls(events.num_rows, pa.string())
    shown = pa.table({"event_type": events.column("event_type"), "attributes": attrs})
    with compute_connection() as con:
        con.register("day_attributes", shown)
        try:
            found = con.sql(
                "SELECT CASE WHEN event_type = ? AND json_valid(attributes) "
                "THEN lower(json_extract_string(attributes, '$.old_state')) END AS old "
                "FROM day_attributes", params=[STATE_CHANGED]).to_arrow_table()
        finally:
            con.unregister("day_attributes")
    return found.column("old").combine_chunks().cast(pa.string())


def activities(events: pa.Table) -> Activity:
    """The activity starts in ``events`` (a day or a window), in the table's order.

    Every detector asks for the activities of the same day in turn: the answer for the
    last table asked about is kept (tables are immutable, so it stays right)."""
    with _LAST_LOCK:
        if _LAST and _LAST[0][0] is events:
            return _LAST[0][1]
    found = _activities(events)
    for column in (found.item, found.source, found.area, found.ts_ms, found.local_date,
                   found.minute, found.weekday):
        column.flags.writeable = False  # shared by every detector: nobody may change it
    with _LAST_LOCK:
        _LAST[:] = [(events, found)]
    return found


_LAST: list[tuple[pa.Table, Activity]] = []
_LAST_LOCK = threading.Lock()


def _activities(events: pa.Table) -> Activity:
    event_type = events.column("event_type").combine_chunks()
    state = pc.utf8_lower(events.column("state").combine_chunks().cast(pa.string()))
    is_change = pc.equal(event_type, STATE_CHANGED)
    active_set = pa.array(sorted(ACTIVE_STATES))
    now_active = pc.fill_null(pc.is_in(state, value_set=active_set), False)
    was_active = pc.fill_null(pc.is_in(old_states(events), value_set=active_set), False)
    ha_start = pc.and_(pc.and_(is_change, now_active), pc.invert(was_active))
    other_start = pc.invert(pc.is_in(event_type, value_set=pa.array([STATE_CHANGED, "exit"])))
    keep = pc.or_(ha_start, other_start)
    chosen = events.filter(keep)
    minutes = local_minutes(chosen)
    return Activity(
        item=_items(chosen),
        source=_objects(chosen.column("source_id")),
        area=_objects(pc.fill_null(chosen.column("area").cast(pa.string()), "")),
        ts_ms=_epoch_ms(chosen.column("ts")),
        local_date=_dates(chosen.column("local_date")),
        minute=minutes,
        weekday=np.asarray(chosen.column("local_weekday").to_numpy(), dtype=np.int8),
    )


def _items(events: pa.Table) -> npt.NDArray[np.object_]:
    if not events.num_rows:
        return np.empty(0, dtype=object)
    source = events.column("source_id").combine_chunks().cast(pa.string())
    event_type = events.column("event_type").combine_chunks()
    no_label = pa.scalar([""], pa.list_(pa.string()))
    labels = pc.fill_null(events.column("labels").combine_chunks(), no_label)
    labels = pc.if_else(pc.equal(pc.list_value_length(labels), 0), no_label, labels)
    first_label = pc.list_element(labels, 0)
    has_label = pc.fill_null(pc.greater(pc.utf8_length(first_label), 0), False)
    label = pc.if_else(has_label, first_label, event_type)
    suffix = pc.if_else(pc.equal(event_type, "entry"), "entry", label)
    item = pc.if_else(pc.equal(event_type, STATE_CHANGED), source,
                      pc.binary_join_element_wise(source, suffix, ":"))
    return _objects(item)


def _objects(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.object_]:
    """Text as an object array whose equal values share one ``str`` (a few distinct names
    repeat over a day's events: one object each, not one per event)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    names = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    codes = encoded.indices
    if codes.null_count:
        names = np.append(names, np.array([None], dtype=object))
        codes = pc.fill_null(codes, len(names) - 1)
    picked: npt.NDArray[np.object_] = names[np.asarray(codes.to_numpy(), dtype=np.int64)]
    return picked


def _epoch_ms(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    ts = column.combine_chunks().cast(pa.timestamp("ms", "UTC"), safe=False)  # floors
    return np.asarray(ts.cast(pa.int64()).to_numpy(), dtype=np.int64)


def _dates(column: pa.ChunkedArray) -> npt.NDArray[np.datetime64]:
    days = column.combine_chunks().cast(pa.date32()).cast(pa.int32()).to_numpy()
    return EPOCH_DAY + np.asarray(days, dtype="timedelta64[D]")
