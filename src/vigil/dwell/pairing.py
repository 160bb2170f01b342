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
tie rules of rule 3. The work is integer codes for the strings (one dictionary encoding per
column, ranked), stable integer sorts (numpy; 16-bit radix passes for the group codes), one
vectorised pass over neighbouring rows and gathers of the session columns; no per-row
Python loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
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
_GATHER_THREADS = 2
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
    rows = _EntryExit.of(events, by, carry)
    order = _sort_order(rows.group, rows.ts, rows.is_entry, rows.event_id, rows.positions)
    new_group = _group_starts(rows.group[order])
    ts, is_entry = rows.ts[order], rows.is_entry[order]
    keep = ~_duplicates(new_group, ts, is_entry, rows.event_id, rows.positions[order])
    order, new_group, ts, is_entry = order[keep], new_group[keep], ts[keep], is_entry[keep]
    entry_pos, exit_pos, status, duration = _pair(
        new_group, ts, is_entry, _micros(max_session), _epoch_micros(data_end)
    )
    return _assemble(rows, rows.positions[order], entry_pos, exit_pos, status, duration, carry)


@dataclass(frozen=True)
class _EntryExit:
    """The entry/exit rows of an events table, as numbers for sorting and pairing.

    ``positions`` are the rows' indices in ``columns`` (the event columns the sessions take
    values from, chunks combined, normalised: strings, UTC microseconds); ``keys`` hold
    subject_id, source_id and zone as codes into their sorted distinct values (zone: "" for
    null by zone, null by camera); ``group`` orders the rows by (subject_id, source_id,
    zone) as strings do."""

    columns: dict[str, pa.Array]
    keys: dict[str, _Codes]
    positions: Ints
    ts: Ints
    is_entry: Bools
    group: Ints

    @property
    def event_id(self) -> pa.Array:
        return self.columns["event_id"]

    @classmethod
    def of(cls, events: pa.Table, by: GroupBy, carry: Sequence[str]) -> _EntryExit:
        _check_columns(events, carry)
        kind = events.column("event_type").cast(pa.string())
        is_entry_all = _flags(pc.equal(kind, "entry"))
        positions = np.flatnonzero(is_entry_all | _flags(pc.equal(kind, "exit")))
        for name in ("event_id", "subject_id", "source_id", "ts"):
            column = events.column(name)
            nulls = int(np.count_nonzero(_flags(pc.is_null(column))[positions])) \
                if column.null_count else 0
            if nulls:
                raise ValueError(f"{nulls} entry/exit row(s) have a null {name}")
        columns = {"event_id": _combined(events.column("event_id").cast(pa.string())),
                   "ts": _combined(events.column("ts").cast(_TS)),
                   **{name: _combined(events.column(name)) for name in carry}}
        zone = events.column("zone").cast(pa.string())
        texts = {name: events.column(name).cast(pa.string())
                 for name in ("subject_id", "source_id")}
        if by == "zone":
            texts["zone"] = pc.fill_null(zone, "")
        with ThreadPoolExecutor(_GATHER_THREADS) as pool:  # Arrow's kernels release the GIL
            keys = dict(zip(texts, pool.map(_Codes.of, texts.values()), strict=True))
        if by != "zone":
            keys["zone"] = _Codes.null(len(events))
        ts_all = pc.fill_null(columns["ts"].cast(pa.int64()), 0).to_numpy()
        group = _group_codes(*(keys[name].codes[positions]
                               for name in ("subject_id", "source_id", "zone")))
        return cls(columns, keys, positions, np.asarray(ts_all[positions], dtype=np.int64),
                   is_entry_all[positions], group)


@dataclass(frozen=True)
class _Codes:
    """A string column as integer codes (nulls: 0, never used) into its distinct values in
    sorted order, so that codes compare as the strings do."""

    codes: Ints
    values: pa.Array

    @classmethod
    def of(cls, column: pa.ChunkedArray) -> _Codes:
        encoded = pc.dictionary_encode(_combined(column))
        dictionary = encoded.dictionary
        by_value = pc.sort_indices(dictionary).to_numpy().astype(np.int64)
        rank = np.empty(len(by_value), dtype=np.int64)
        rank[by_value] = np.arange(len(by_value), dtype=np.int64)
        indices = pc.fill_null(encoded.indices, 0).to_numpy().astype(np.int64)
        codes: Ints = rank[indices] if len(rank) else np.zeros(len(indices), dtype=np.int64)
        return cls(codes, dictionary.take(pa.array(by_value)))

    @classmethod
    def null(cls, rows: int) -> _Codes:
        """An all-null column: code 0 everywhere, a null value."""
        return cls(np.zeros(rows, dtype=np.int64), pa.nulls(1, pa.string()))

    def take(self, positions: Ints) -> pa.Array:
        """The strings at ``positions`` (cheap when their codes ascend)."""
        return self.values.take(pa.array(self.codes[positions]))


def _check_columns(events: pa.Table, carry: Sequence[str]) -> None:
    """The columns pairing needs are there, ``carry`` names none of the session columns and
    ``ts`` is time-zone-aware."""
    clash = [name for name in carry if name in SESSION_SCHEMA.names or name in _REQUIRED]
    if clash:
        raise ValueError(f"cannot carry column(s) {', '.join(clash)}: they are session columns")
    missing = [name for name in (*_REQUIRED, *carry) if name not in events.column_names]
    if missing:
        raise ValueError(f"events lack column(s): {', '.join(missing)}")
    ts_type = events.schema.field("ts").type
    if not pa.types.is_timestamp(ts_type) or ts_type.tz is None:
        raise ValueError(f"ts must be a time-zone-aware timestamp, not {ts_type}")


def _combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array (takes from it are cheaper than from many chunks)."""
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    return column


def _flags(mask: pa.ChunkedArray | pa.Array) -> Bools:
    """A boolean Arrow array as numpy, null as False."""
    flags: Bools = np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False),
                              dtype=bool)
    return flags


def _group_codes(subject: Ints, source: Ints, zone: Ints) -> Ints:
    """One integer per (subject, source, zone), in the order of that tuple."""
    pair = subject * (int(source.max(initial=0)) + 1) + source  # < rows**2: no overflow
    zones = int(zone.max(initial=0)) + 1
    if zones == 1:
        return pair
    dense: Ints = np.unique(pair, return_inverse=True)[1].astype(np.int64).reshape(-1)
    return dense * zones + zone


def _stable_order_by(values: Ints, order: Ints) -> Ints:
    """``order`` stably re-sorted by ``values[order]`` (non-negative): a radix sort over
    16-bit digits while there are at most two, else a merge sort."""
    top = int(values.max(initial=0))
    if top >= 1 << 32:
        return order[np.argsort(values[order], kind="stable")]
    for shift in (0, 16) if top >= 1 << 16 else (0,):
        digit = ((values[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
    return order


def _sort_order(group: Ints, ts: Ints, is_entry: Bools, event_id: pa.Array,
                positions: Ints) -> Ints:
    """Row order by (group, ts, exit-before-entry, event_id, input order): stable integer
    sorts, then the event ids of the rows still tied."""
    key = ts * 2 + is_entry  # exit (0) before entry (1) at equal ts
    by_time = np.argsort(key, kind="stable").astype(np.int64)
    order = _stable_order_by(group, by_time)
    same = np.zeros(len(order), dtype=bool)
    same[1:] = (group[order][1:] == group[order][:-1]) & (key[order][1:] == key[order][:-1])
    tied = same.copy()
    tied[:-1] |= same[1:]
    if not tied.any():
        return order
    at = np.flatnonzero(tied)
    run = np.cumsum(~same[at])
    rows = order[at]
    eid_rank = pc.rank(event_id.take(pa.array(positions[rows])), tiebreaker="dense").to_numpy()
    order[at] = rows[np.lexsort((eid_rank, run))]
    return order


def _group_starts(sorted_group: Ints) -> Bools:
    """True where a row of the sorted group codes starts a new group."""
    starts = np.ones(len(sorted_group), dtype=bool)
    starts[1:] = sorted_group[1:] != sorted_group[:-1]
    return starts


def _duplicates(new_group: Bools, ts: Ints, is_entry: Bools, event_id: pa.Array,
                sorted_positions: Ints) -> Bools:
    """True for a sorted row repeating its predecessor's group, type, ts and event_id (ids
    are compared only where all the rest repeats)."""
    dup = np.zeros(len(ts), dtype=bool)
    if len(ts) > 1:
        alike = ~new_group[1:] & (ts[1:] == ts[:-1]) & (is_entry[1:] == is_entry[:-1])
        at = np.flatnonzero(alike) + 1
        if len(at):
            same_id = pc.equal(event_id.take(pa.array(sorted_positions[at])),
                               event_id.take(pa.array(sorted_positions[at - 1])))
            dup[at] = _flags(same_id)
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
    rows: _EntryExit,
    sorted_positions: Ints,
    entry_pos: Ints,
    exit_pos: Ints,
    status: npt.NDArray[np.int8],
    duration_us: Ints,
    carry: Sequence[str],
) -> pa.Table:
    """Gather the session columns from the event rows (null where a position is -1)."""
    any_pos = np.where(entry_pos >= 0, entry_pos, exit_pos)
    entry_idx = pa.array(sorted_positions[np.maximum(entry_pos, 0)], mask=entry_pos < 0)
    exit_idx = pa.array(sorted_positions[np.maximum(exit_pos, 0)], mask=exit_pos < 0)
    anchors = sorted_positions[any_pos]
    first = pa.array(anchors)
    complete = status == _COMPLETE
    columns = rows.columns
    gathers: list[Callable[[], pa.Array]] = [
        lambda: rows.keys["subject_id"].take(anchors),
        lambda: rows.keys["source_id"].take(anchors),
        lambda: rows.keys["zone"].take(anchors),
        lambda: columns["ts"].take(entry_idx),
        lambda: columns["ts"].take(exit_idx),
        lambda: pa.array(duration_us // 1000, mask=~complete),
        lambda: pa.array(STATUSES).take(pa.array(status)),
        lambda: columns["event_id"].take(entry_idx),
        lambda: columns["event_id"].take(exit_idx),
        *(partial(columns[name].take, first) for name in carry),
    ]
    with ThreadPoolExecutor(_GATHER_THREADS) as pool:  # Arrow's take releases the GIL
        arrays = list(pool.map(lambda gather: gather(), gathers))
    sessions = pa.Table.from_arrays(arrays[:len(SESSION_SCHEMA)], schema=SESSION_SCHEMA)
    for name, array in zip(carry, arrays[len(SESSION_SCHEMA):], strict=True):
        sessions = sessions.append_column(name, array)
    return sessions


def _micros(delta: timedelta) -> int:
    """A timedelta in whole microseconds (exact)."""
    return delta // timedelta(microseconds=1)


def _epoch_micros(moment: datetime) -> int:
    """A time-zone-aware datetime as microseconds since the Unix epoch."""
    if moment.tzinfo is None:
        raise ValueError("data_end must be time-zone-aware")
    return _micros(moment - _EPOCH)
