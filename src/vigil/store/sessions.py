"""Visit sessions in the ``sessions`` table, kept in step with the event log.

Every session is stored once per grouping: ``camera`` (per person and source; ``zone`` is
null) and ``zone`` (per person, source and zone; ``''`` for events without one), as
:func:`vigil.dwell.pair_sessions` makes it, with the local date, hour, weekday and attributes
of its *anchor* event (the entry, or the exit of an orphan exit) and ``anchor_ts`` its time.

**Incremental maintenance** runs inside the ingest transaction for the groups (person, source,
zone key) a batch touches. The key invariant: pairing only looks at neighbouring events, an
entry always starts a new session and an orphan exit starts one too, so pairing a group's
events from the anchor of one of its sessions on reproduces what full pairing gives from
there. For a group whose batch events start at ``t0``, the sessions anchored before
``since`` (the group's last anchor in ``[t0 - max session, t0)``) cannot change; the others
are deleted and re-paired from the group's events at ``since`` or later. Three details keep
this exact:

- An exit at ``since`` itself can close a kept session (at one instant exits sort before
  entries); it is left out of the re-pairing.
- A group with no session anchored in that window is re-paired from ``t0``. Its sessions
  anchored earlier are final and end before ``t0``: an exit is paired only with an entry at
  most the maximum session before it, so such a session's exit (if any) is before ``t0``,
  and whatever follows its entry (an event at ``t0`` or later) cannot change its status
  (a superseded or too-late entry is ``timed_out`` either way; an ``open`` one is timed out
  by the data end, which is at least ``t0``). The window's lower end is inclusive: a session
  anchored exactly one maximum session before ``t0`` may end at ``t0`` itself.
- The look-up is therefore proportional to the batch's time span, not to the table: DuckDB
  prunes the sessions' row groups by the window, PostgreSQL reads an index. Every stored
  entry/exit with a person belongs to a session of each grouping, so a store upgraded from a
  schema without sessions is rebuilt once when opened.

A trailing entry is ``open`` while the newest event of the store (``data_end``) is at most
the maximum session after it; every insert moves ``data_end`` and times out the open
sessions it overtakes, in any group. :meth:`SessionTables.rebuild_sessions` recomputes
everything from the log; a property test checks that both ways give the same rows.
Each session also carries its subject's ``person_key``, an integer assigned once per subject
id in the ``persons`` table (so the analytics group and count persons on integers); a rebuild
keeps that table, so every subject keeps its key.
Entry/exit rows without a person (``subject_id``) have no session. Writers in several
processes (PostgreSQL) take turns: each holds a lock from its maintenance to its commit, so
each re-pairs over what the others committed.
"""

from __future__ import annotations

import datetime as dt
import logging
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vigil.dwell.pairing import STATUSES, GroupBy
from vigil.dwell.records import GROUPINGS, SESSION_TABLE_SCHEMA, session_records
from vigil.store.sql import local_time_assignments
from vigil.store.sqlaccess import SqlAccess

log = logging.getLogger(__name__)

SESSIONS_REVISION = "0004"
"""The schema revision that added the table: stores upgraded past it are rebuilt once."""
_TS = pa.timestamp("us", tz="UTC")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
PAIRING_INPUT = pa.schema([
    ("event_id", pa.string()), ("source_id", pa.string()), ("event_type", pa.string()),
    ("ts", _TS), ("subject_id", pa.string()), ("zone", pa.string()),
    ("local_date", pa.date32()), ("local_hour", pa.int16()), ("local_weekday", pa.int16()),
    ("attributes", pa.string()),
])
EVENT_SELECT = ("e.event_id, e.source_id, e.event_type, e.ts, e.subject_id, e.zone, "
                "e.local_date, e.local_hour, e.local_weekday, "
                "CAST(e.attributes AS TEXT) AS attributes")
ENTRY_EXIT = "e.event_type IN ('entry', 'exit')"  # as the PostgreSQL partial index says

KEYS_TABLE = "session_keys"
KEY_COLUMNS = ("grouping VARCHAR, subject_id VARCHAR, source_id VARCHAR, zone_key VARCHAR, "
               "t0 TIMESTAMPTZ, horizon TIMESTAMPTZ, since TIMESTAMPTZ, skip_exit VARCHAR")
_SAME_GROUP = ("s.grouping = k.grouping AND s.subject_id = k.subject_id "
               "AND s.source_id = k.source_id AND coalesce(s.zone, '') = k.zone_key")
SET_SINCE = (f"UPDATE {KEYS_TABLE} AS k SET since = (SELECT max(s.anchor_ts) FROM sessions s "
             f"WHERE {_SAME_GROUP} AND s.anchor_ts >= k.horizon AND s.anchor_ts < k.t0 "
             "AND s.anchor_ts >= ? AND s.anchor_ts < ?)")
"""Each group's last anchor in ``[t0 - max session, t0)``; the ``?`` are the keys' earliest
horizon and latest ``t0`` (DuckDB prunes the sessions' row groups by them)."""
SET_SKIP_EXIT = (f"UPDATE {KEYS_TABLE} AS k SET skip_exit = (SELECT max(s.exit_event_id) "
                 f"FROM sessions s WHERE {_SAME_GROUP} AND s.anchor_ts < k.since "
                 "AND s.exit_ts = k.since AND s.anchor_ts >= ? AND s.anchor_ts < ?) "
                 "WHERE k.since IS NOT NULL")
"""The exit at ``since`` of a session anchored before it (at most a maximum session
before, so at or after the earliest horizon less one maximum session: the first ``?``)."""
DELETE_REPAIRED = (f"DELETE FROM sessions AS s USING {KEYS_TABLE} k WHERE {_SAME_GROUP} "
                   "AND s.anchor_ts >= coalesce(k.since, k.t0) AND s.anchor_ts >= ?")
"""Delete the sessions to re-pair; ``?`` is the earliest bound (DuckDB prunes by it)."""
GROUP_EVENTS = f"""
    SELECT k.grouping, {EVENT_SELECT}
    FROM {KEYS_TABLE} k JOIN events e
      ON e.subject_id = k.subject_id AND e.source_id = k.source_id
     AND e.ts >= coalesce(k.since, k.t0)
     AND (k.grouping = 'camera' OR coalesce(e.zone, '') = k.zone_key)
     AND (k.skip_exit IS NULL OR e.ts <> k.since OR e.event_id <> k.skip_exit)
    WHERE {ENTRY_EXIT}
"""
"""The events to re-pair, per grouping."""
GROUP_EVENTS_SCHEMA = pa.schema([("grouping", pa.string()), *PAIRING_INPUT])

SUBJECTS_TABLE = "session_subjects"
ADD_PERSONS = f"""
    INSERT INTO persons (subject_id, person_key)
    SELECT t.subject_id, (SELECT coalesce(max(person_key), 0) FROM persons)
                         + row_number() OVER (ORDER BY t.subject_id)
    FROM {SUBJECTS_TABLE} t
    WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.subject_id = t.subject_id)
"""
"""Give each new subject id of the sessions being stored the next free person key."""
SUBJECT_KEYS = (f"SELECT p.subject_id, p.person_key FROM persons p JOIN {SUBJECTS_TABLE} t "
                "ON t.subject_id = p.subject_id")
SUBJECT_KEYS_SCHEMA = pa.schema([("subject_id", pa.string()), ("person_key", pa.int64())])


class SessionTables(SqlAccess):
    """Session storage shared by the SQL stores; see the module docstring."""

    session_max: dt.timedelta
    _prune_by_time = True
    """Whether to bound the scan of the groups' events by their earliest time (DuckDB
    prunes row groups by it; PostgreSQL's planner would take it for a range scan of every
    group's events instead of looking each group up in its index)."""
    _sessions_data_end: dt.datetime | None = None
    """The data end the sessions were last brought to in this process (``None``: unknown).
    Data ends only move forward, so it is a floor; a rollback must forget it."""

    # -- what a backend provides ---------------------------------------------------------
    @abstractmethod
    def _load_temp_table(self, name: str, columns: str, data: pa.Table) -> None:
        """Make temp table ``name`` (``columns`` as in CREATE TABLE) hold just ``data``
        (some of its columns), in the current transaction."""

    @abstractmethod
    def _read_in_transaction(self, sql: str, params: Sequence[Any], schema: pa.Schema
                             ) -> pa.Table:
        """A read's result as an Arrow table of ``schema`` (its columns, in order), seeing
        the current transaction's writes."""

    @abstractmethod
    def append_rows(self, table: str, data: pa.Table) -> None:
        """Bulk-append rows (columns named as in the table)."""

    def _lock_sessions(self) -> None:
        """Serialise session maintenance between writing processes (none by default)."""

    # -- maintenance ---------------------------------------------------------------------------
    def _maintain_sessions(self, staged: pa.Table) -> None:
        """Bring the sessions in line with a batch just inserted, in its transaction."""
        self._lock_sessions()
        newest = pc.max(staged.column("ts")).as_py()
        data_end = self._write("SELECT max(ts) FROM events WHERE ts >= ?", [newest])[0][0]
        if data_end is None:
            return
        self._time_out(data_end)
        keys = affected_groups(staged, self.session_max)
        if not keys.num_rows:
            return
        self._load_temp_table(KEYS_TABLE, KEY_COLUMNS, keys)
        earliest = pc.min(keys.column("horizon")).as_py()
        latest = pc.max(keys.column("t0")).as_py()
        self._write(SET_SINCE, [earliest, latest])
        self._write(SET_SKIP_EXIT, [earliest - self.session_max, latest])
        lower = self._write(f"SELECT min(coalesce(since, t0)) FROM {KEYS_TABLE}")[0][0]
        self._write(DELETE_REPAIRED, [lower])
        bound, params = (" AND e.ts >= ?", [lower]) if self._prune_by_time else ("", [])
        events = self._read_in_transaction(GROUP_EVENTS + bound, params, GROUP_EVENTS_SCHEMA)
        self._add_sessions({g: events.filter(pc.equal(events.column("grouping"), g))
                            .drop_columns(["grouping"]) for g in GROUPINGS}, data_end)

    def _time_out(self, data_end: dt.datetime) -> None:
        """Close the open sessions that ``data_end`` leaves more than the longest visit
        behind. None is open before the data end of the last maintenance minus the longest
        visit, so only the sessions anchored since are looked at (DuckDB prunes by that)."""
        seen = self._sessions_data_end
        if seen is not None and data_end <= seen:
            return
        floor = seen - self.session_max if seen is not None else _EPOCH
        self._write("UPDATE sessions SET status = 'timed_out' WHERE status = 'open' "
                    "AND anchor_ts >= ? AND entry_ts < ?", [floor, data_end - self.session_max])
        self._sessions_data_end = data_end

    def rebuild_sessions(self, source_id: str | None = None) -> dict[str, int]:
        """Delete the sessions (of one source) and pair them again from the event log, in
        one transaction; returns how many there are per status (grouping ``camera``)."""
        where, params = ("source_id = ?", [source_id]) if source_id else ("TRUE", [])
        of_source = "e.source_id = ?" if source_id else "TRUE"
        with self.transaction():
            self._lock_sessions()
            self._write(f"DELETE FROM sessions WHERE {where}", params)
            data_end = self._write("SELECT max(ts) FROM events")[0][0]
            if data_end is not None:
                events = self._read_in_transaction(
                    f"SELECT {EVENT_SELECT} FROM events e WHERE {ENTRY_EXIT} "
                    f"AND e.subject_id IS NOT NULL AND {of_source}", params, PAIRING_INPUT)
                self._add_sessions({g: events for g in GROUPINGS}, data_end)
            rows = self._write("SELECT status, count(*) FROM sessions "
                               f"WHERE grouping = 'camera' AND {where} GROUP BY status", params)
        return _per_status(rows)

    def _add_sessions(self, events: dict[GroupBy, pa.Table], data_end: dt.datetime) -> None:
        """Pair the events of each grouping (whole groups, each from a session anchor on)
        and store the sessions."""
        parts = [session_records(table, grouping, data_end, self.session_max)
                 for grouping, table in events.items() if table.num_rows]
        if parts:
            self.append_rows("sessions", self._with_person_keys(pa.concat_tables(parts)))

    def _with_person_keys(self, sessions: pa.Table) -> pa.Table:
        """``sessions`` with the ``person_key`` of each subject id, new ones assigned the
        next free keys in ``persons`` (in the same transaction, so incremental upkeep and
        a rebuild give every subject the same key)."""
        subjects = pc.unique(sessions.column("subject_id"))
        self._load_temp_table(SUBJECTS_TABLE, "subject_id VARCHAR",
                              pa.table({"subject_id": subjects}))
        self._write(ADD_PERSONS)
        found = self._read_in_transaction(SUBJECT_KEYS, [], SUBJECT_KEYS_SCHEMA)
        positions = pc.index_in(sessions.column("subject_id"), found.column("subject_id"))
        keys = pc.take(found.column("person_key"), positions)
        if keys.null_count:
            raise RuntimeError("a session's subject id has no person key")
        return sessions.append_column("person_key", keys)

    def _relocalise_sessions(self, source_id: str, timezone: str) -> None:
        """Re-derive the local time of a source's sessions in its new zone (as its events'
        local time is re-derived: the anchor event's local time stays the session's)."""
        self._write(
            f"UPDATE sessions SET {local_time_assignments('anchor_ts', 'CAST(? AS TEXT)')} "
            "WHERE source_id = ?", [timezone, timezone, timezone, source_id])

    # -- reading -------------------------------------------------------------------------------
    def read_sessions(self, grouping: GroupBy = "camera", source_id: str | None = None
                      ) -> pa.Table:
        """The stored sessions of a grouping (of one source), sorted (schema
        :data:`SESSION_TABLE_SCHEMA`)."""
        where, params = ("AND source_id = ?", [source_id]) if source_id else ("", [])
        columns = ", ".join("CAST(attributes AS TEXT) AS attributes" if name == "attributes"
                            else name for name in SESSION_TABLE_SCHEMA.names)
        table = self._read_table(
            f"SELECT {columns} FROM sessions WHERE grouping = ? {where} ORDER BY subject_id, "
            "source_id, zone, anchor_ts, entry_event_id, exit_event_id", [grouping, *params])
        return table.cast(SESSION_TABLE_SCHEMA)

    def count_sessions(self) -> dict[str, int]:
        """How many sessions there are per status (grouping ``camera``)."""
        return _per_status(self._rows("SELECT status, count(*) FROM sessions "
                                      "WHERE grouping = 'camera' GROUP BY status"))


def affected_groups(staged: pa.Table, max_session: dt.timedelta) -> pa.Table:
    """``grouping, subject_id, source_id, zone_key, t0, horizon`` of each group the batch's
    entry/exit rows fall in (``t0``: their earliest time; ``horizon``: ``t0`` less the
    longest visit); rows without a person are left out."""
    wanted = pc.fill_null(pc.is_in(staged.column("event_type"), pa.array(["entry", "exit"])),
                          False)
    rows = staged.filter(wanted)
    anonymous = rows.column("subject_id").null_count
    if anonymous:
        log.debug("%d entry/exit event(s) without a person: no session", anonymous)
        rows = rows.filter(pc.is_valid(rows.column("subject_id")))
    base = pa.table({"subject_id": rows.column("subject_id"),
                     "source_id": rows.column("source_id"),
                     "zone_key": pc.fill_null(rows.column("zone"), ""),
                     "ts": rows.column("ts")})
    parts = []
    for grouping, key in (("camera", ["subject_id", "source_id"]),
                          ("zone", ["subject_id", "source_id", "zone_key"])):
        found = base.group_by(key, use_threads=False).aggregate([("ts", "min")])
        zone_key = (found.column("zone_key") if grouping == "zone"
                    else pa.array([""] * found.num_rows, pa.string()))
        parts.append(pa.table({
            "grouping": pa.array([grouping] * found.num_rows, pa.string()),
            "subject_id": found.column("subject_id"), "source_id": found.column("source_id"),
            "zone_key": zone_key, "t0": found.column("ts_min"),
            "horizon": pc.subtract(found.column("ts_min"), pa.scalar(max_session)),
        }))
    return pa.concat_tables(parts)


def sessions_need_rebuild(previous_revision: str | None) -> bool:
    """Whether a schema just upgraded from ``previous_revision`` lacks its sessions."""
    return previous_revision is not None and previous_revision < SESSIONS_REVISION


def _per_status(rows: Sequence[tuple[Any, ...]]) -> dict[str, int]:
    counts = {str(status): int(n) for status, n in rows}
    return {status: counts.get(status, 0) for status in STATUSES}
