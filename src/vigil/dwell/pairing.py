"""Pair person ``entry``/``exit`` events into visit sessions (pure: no clock, no I/O).

``pair_sessions(events, by=..., max_session=..., data_end=...)`` takes an Arrow table of
events and returns one row per session (schema :data:`SESSION_SCHEMA`). The rules:

1. **Scope.** Only ``event_type`` ``"entry"`` and ``"exit"`` rows are used; other types and
   other columns are ignored. A null ``event_id``, ``subject_id``, ``source_id`` or ``ts`` on
   such a row is an error (``ValueError``), never a silent drop.
2. **Grouping.** Events are paired per person (``subject_id``) and group key: ``by="camera"``
   groups by ``source_id`` (the output ``zone`` is then null); ``by="zone"`` groups by
   ``(source_id, zone)`` and a null zone groups (and is reported) as zone ``""``.
3. **Order.** Within a group, events are taken by ``ts``; at equal ``ts`` an **exit comes
   before an entry** (so "left and came back in the same instant" closes the old visit and
   opens a new one); remaining ties are broken by ``event_id``. The result therefore does not
   depend on the input order.
4. **Duplicates.** Rows repeating the ``event_id`` and ``ts`` of another row of the same
   person, group and type count once.
5. **Complete.** An entry immediately followed (in its group) by an exit at most
   ``max_session`` later is a ``complete`` session; ``duration_ms`` is the real elapsed time
   ``exit - entry`` in whole milliseconds (floored), so DST changes do not matter.
6. **Superseded entry.** An entry followed by another entry (no exit between) is closed as
   ``timed_out`` with no exit, whatever the gap; it is never paired with a later exit. The
   second entry starts a new session.
7. **Too-late exit.** An entry whose next event is an exit more than ``max_session`` later is
   ``timed_out`` (no exit) and that exit becomes an ``orphan_exit``.
8. **Orphan exit.** An exit with no open entry before it is an ``orphan_exit`` session:
   ``entry_ts``, ``entry_event_id`` and ``duration_ms`` are null.
9. **Trailing entry.** An entry with nothing after it in its group is ``open`` while
   ``data_end - entry_ts <= max_session`` and ``timed_out`` beyond. ``data_end`` (the newest
   event time of the data set) is passed in; the clock is never read.

Extra event columns named in ``carry`` are copied from each session's *anchor* event (its
entry, or the exit of an orphan exit) and appended after the session columns, e.g. the
stored local date and attributes.

So ``timed_out`` means "closed without a matching exit"; every entry yields exactly one
session and every exit is either the end of a ``complete`` session or an ``orphan_exit``.
Sessions are sorted by ``(subject_id, source_id, zone, entry_ts or exit_ts)`` with the
tie rules of rule 3. The work is two stable integer sorts (numpy) and one vectorised pass
over neighbouring rows; no per-row Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "DEFAULT_MAX_SESSION",
    "SESSION_SCHEMA",
    "STATUSES",
    "GroupBy",
    "pair_sessions",
]

GroupBy = Literal["camera", "zone"]
DEFAULT_MAX_SESSION = timedelta(hours=4)
STATUSES: tuple[str, ...] = ("complete", "open", "timed_out", "orphan_exit")
_COMPLETE, _OPEN, _TIMED_OUT, _ORPHAN = range(4)
_TS = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_REQUIRED = ("event_id", "source_id", "event_type", "ts", "subject_id", "zone")

SESSION_SCHEMA = pa.schema(
    [
        pa.field("subject_id", pa.string(), nullable=False),
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("zone", pa.string()),
        pa.field("entry_ts", _TS),
        pa.field("exit_ts", _TS),
        pa.field("duration_ms", pa.int64()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("entry_event_id", pa.string()),
        pa.field("exit_event_id", pa.string()),
    ]
)

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def pair_sessions(
    events: pa.Table,
    *,
    by: GroupBy = "camera",
    max_session: timedelta = DEFAULT_MAX_SESSION,
    data_end: datetime,
    carry: Sequence[str] = (),
) -> pa.Table:
    """Turn entry/exit events into sessions following the module's rules."""
    if by not in ("camera", "zone"):
        raise ValueError(f"by must be 'camera' or 'zone', not {by!r}")
    if max_session <= timedelta(0):
        raise ValueError("max_session must be positive")
    rows = _entry_exit_rows(events, by, carry)
    ts = rows.column("ts").to_numpy().astype(np.int64)
    is_entry = pc.equal(rows.column("event_type"), "entry").to_numpy(zero_copy_only=False)
    group = _group_codes(*(_codes(rows.column(c)) for c in ("subject_id", "source_id", "zone")))
    order = _sort_order(group, ts, is_entry, rows.column("event_id"))
    new_group = _group_starts(group[order])
    ts, is_entry = ts[order], is_entry[order]
    keep = ~_duplicates(new_group, ts, is_entry, rows.column("event_id").take(order))
    order, new_group, ts, is_entry = order[keep], new_group[keep], ts[keep], is_entry[keep]
    entry_pos, exit_pos, status, duration = _pair(
        new_group, ts, is_entry, _micros(max_session), _epoch_micros(data_end)
    )
    return _assemble(rows, order, entry_pos, exit_pos, status, duration, by, carry)


def _entry_exit_rows(events: pa.Table, by: GroupBy, carry: Sequence[str]) -> pa.Table:
    """The entry/exit rows with normalised types; zone is "" (by zone) or null (by camera);
    the ``carry`` columns follow unchanged."""
    clash = [name for name in carry if name in SESSION_SCHEMA.names or name in _REQUIRED]
    if clash:
        raise ValueError(f"cannot carry column(s) {', '.join(clash)}: they are session columns")
    missing = [name for name in (*_REQUIRED, *carry) if name not in events.column_names]
    if missing:
        raise ValueError(f"events lack column(s): {', '.join(missing)}")
    ts_type = events.schema.field("ts").type
    if not pa.types.is_timestamp(ts_type) or ts_type.tz is None:
        raise ValueError(f"ts must be a time-zone-aware timestamp, not {ts_type}")
    wanted = pc.fill_null(pc.is_in(events.column("event_type"), pa.array(["entry", "exit"])), False)
    rows = events.select([*_REQUIRED, *carry]).filter(wanted)
    for name in ("event_id", "subject_id", "source_id", "ts"):
        nulls = rows.column(name).null_count
        if nulls:
            raise ValueError(f"{nulls} entry/exit row(s) have a null {name}")
    zone = rows.column("zone").cast(pa.string())
    zone = pc.fill_null(zone, "") if by == "zone" else pa.nulls(len(rows), pa.string())
    return pa.table(
        {
            "event_id": rows.column("event_id").cast(pa.string()),
            "source_id": rows.column("source_id").cast(pa.string()),
            "event_type": rows.column("event_type").cast(pa.string()),
            "ts": rows.column("ts").cast(_TS),
            "subject_id": rows.column("subject_id").cast(pa.string()),
            "zone": zone,
            **{name: rows.column(name) for name in carry},
        }
    )


def _codes(column: pa.ChunkedArray) -> Ints:
    """Integer codes in the strings' order; no nulls, or all null (then all code 0)."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    if len(encoded.dictionary) == 0:
        return np.zeros(len(column), dtype=np.int64)
    rank = pc.rank(encoded.dictionary, sort_keys="ascending", tiebreaker="dense").to_numpy()
    indices = encoded.indices.to_numpy().astype(np.int64)
    codes: Ints = np.asarray(rank, dtype=np.int64)[indices]
    return codes


def _group_codes(subject: Ints, source: Ints, zone: Ints) -> Ints:
    """One integer per (subject, source, zone), in the order of that tuple."""
    pair = subject * (int(source.max(initial=0)) + 1) + source  # < rows**2: no overflow
    zones = int(zone.max(initial=0)) + 1
    if zones == 1:
        return pair
    dense: Ints = np.unique(pair, return_inverse=True)[1].astype(np.int64).reshape(-1)
    return dense * zones + zone


def _sort_order(group: Ints, ts: Ints, is_entry: Bools, event_id: pa.ChunkedArray) -> Ints:
    """Row order by (group, ts, exit-before-entry, event_id): two stable integer sorts."""
    key = ts * 2 + is_entry  # exit (0) before entry (1) at equal ts
    by_time = np.argsort(key, kind="stable")
    order: Ints = by_time[np.argsort(group[by_time], kind="stable")].astype(np.int64)
    same = np.zeros(len(order), dtype=bool)
    same[1:] = (group[order][1:] == group[order][:-1]) & (key[order][1:] == key[order][:-1])
    tied = same.copy()
    tied[:-1] |= same[1:]
    if not tied.any():
        return order
    positions = np.flatnonzero(tied)
    run = np.cumsum(~same[positions])
    rows = order[positions]
    eid_rank = pc.rank(event_id.take(pa.array(rows)), tiebreaker="dense").to_numpy()
    order[positions] = rows[np.lexsort((eid_rank, run))]
    return order


def _group_starts(sorted_group: Ints) -> Bools:
    """True where a row of the sorted group codes starts a new group."""
    starts = np.ones(len(sorted_group), dtype=bool)
    starts[1:] = sorted_group[1:] != sorted_group[:-1]
    return starts


def _duplicates(new_group: Bools, ts: Ints, is_entry: Bools, event_id: pa.ChunkedArray) -> Bools:
    """True for a sorted row repeating its predecessor's group, type, ts and event_id."""
    dup = np.zeros(len(ts), dtype=bool)
    if len(ts) > 1:
        eid = event_id.combine_chunks()
        same_id = pc.equal(eid.slice(1), eid.slice(0, len(eid) - 1)).to_numpy(zero_copy_only=False)
        dup[1:] = ~new_group[1:] & (ts[1:] == ts[:-1]) & (is_entry[1:] == is_entry[:-1]) & same_id
    return dup


def _pair(
    new_group: Bools, ts: Ints, is_entry: Bools, max_us: int, end_us: int
) -> tuple[Ints, Ints, npt.NDArray[np.int8], Ints]:
    """Session rows as sorted positions: (entry or -1, exit or -1, status code, duration us)."""
    n = len(ts)
    has_next = np.zeros(n, dtype=bool)
    has_next[:-1] = ~new_group[1:]
    gap = np.zeros(n, dtype=np.int64)
    gap[:-1] = ts[1:] - ts[:-1]
    next_is_exit = np.zeros(n, dtype=bool)
    next_is_exit[:-1] = ~is_entry[1:]
    paired = is_entry & has_next & next_is_exit & (gap <= max_us)
    closes = np.zeros(n, dtype=bool)
    closes[1:] = paired[:-1]
    starts = np.flatnonzero(is_entry | ~closes)
    entry = is_entry[starts]
    status = np.full(len(starts), _ORPHAN, dtype=np.int8)
    trailing_open = ~has_next[starts] & (end_us - ts[starts] <= max_us)
    status[entry] = np.where(trailing_open[entry], _OPEN, _TIMED_OUT)
    status[paired[starts]] = _COMPLETE
    entry_pos = np.where(entry, starts, -1)
    exit_pos = np.where(paired[starts], starts + 1, np.where(entry, -1, starts))
    return entry_pos, exit_pos, status, np.where(paired[starts], gap[starts], 0)


def _assemble(
    rows: pa.Table,
    order: Ints,
    entry_pos: Ints,
    exit_pos: Ints,
    status: npt.NDArray[np.int8],
    duration_us: Ints,
    by: GroupBy,
    carry: Sequence[str],
) -> pa.Table:
    """Gather the session columns from the event rows (null where a position is -1)."""
    any_pos = np.where(entry_pos >= 0, entry_pos, exit_pos)
    entry_idx = pa.array(order[np.maximum(entry_pos, 0)], mask=entry_pos < 0)
    exit_idx = pa.array(order[np.maximum(exit_pos, 0)], mask=exit_pos < 0)
    first = pa.array(order[any_pos])
    complete = status == _COMPLETE
    zone = rows.column("zone").take(first) if by == "zone" else pa.nulls(len(status), pa.string())
    columns = [
        rows.column("subject_id").take(first),
        rows.column("source_id").take(first),
        zone,
        rows.column("ts").take(entry_idx),
        rows.column("ts").take(exit_idx),
        pa.array(duration_us // 1000, mask=~complete),
        pa.array(STATUSES).take(pa.array(status)),
        rows.column("event_id").take(entry_idx),
        rows.column("event_id").take(exit_idx),
    ]
    sessions = pa.Table.from_arrays(columns, schema=SESSION_SCHEMA)
    for name in carry:
        sessions = sessions.append_column(name, rows.column(name).take(first))
    return sessions


def _micros(delta: timedelta) -> int:
    """A timedelta in whole microseconds (exact)."""
    return delta // timedelta(microseconds=1)


def _epoch_micros(moment: datetime) -> int:
    """A time-zone-aware datetime as microseconds since the Unix epoch."""
    if moment.tzinfo is None:
        raise ValueError("data_end must be time-zone-aware")
    return _micros(moment - _EPOCH)
