"""Analytics straight from a file: read events with the ingest parser, pair them in memory.

Nothing is stored. The file goes through the same validation and quality report as
``vigil ingest`` (bad rows are reported with their line numbers; a simple CSV file is read
whole in one pass, see :mod:`vigil.ingest.wholefile`), repeats of an event count
once, local time is derived in each camera's zone, and the sessions are paired exactly as
the store pairs them. The result serves the same analytic queries through
:meth:`FileData.reader`.

Sessions are paired per grouping (``camera``, ``zone``) when first needed: ``load_file``
pairs the groupings it is given, and the reader pairs any other one the first time a query
names it (every analytic query selects its grouping with ``grouping = ?``, see
:func:`vigil.dwell.filters.session_where`). A query over ``sessions`` that names no
grouping gets them all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.duck import arrow
from vigil.dwell.pairing import DEFAULT_MAX_SESSION, GroupBy
from vigil.dwell.reader import SESSIONS_VIEW
from vigil.dwell.records import GROUPINGS, SESSION_TABLE_SCHEMA, session_records
from vigil.ingest.files import FileOptions, Progress, ingest_file
from vigil.ingest.quality import QualityReport
from vigil.ingest.wholefile import read_simple_csv
from vigil.store.arrowderive import local_time_columns
from vigil.store.base import EVENT_INPUT_SCHEMA
from vigil.store.batches import first_of_each_event

__all__ = ["ANALYTIC_COLUMNS", "FileData", "FileReader", "load_file"]

_EMPTY_TS = pa.scalar(0, pa.timestamp("us", tz="UTC"))
_SESSIONS = re.compile(r"\bsessions\b")
ANALYTIC_COLUMNS = ("event_id", "source_id", "event_type", "ts", "subject_id", "zone",
                    "attributes")
"""The event columns the analytics read (the others are validated, then left out)."""
_ANALYTIC_SCHEMA = pa.schema([EVENT_INPUT_SCHEMA.field(name) for name in ANALYTIC_COLUMNS])


@dataclass
class FileData:
    """A file's events and sessions, ready for the analytic queries."""

    events: pa.Table
    report: QualityReport
    timezones: dict[str, str]
    data_end: datetime
    max_session: timedelta = DEFAULT_MAX_SESSION
    paired: dict[GroupBy, pa.Table] = field(default_factory=dict)

    def sessions_of(self, grouping: GroupBy) -> pa.Table:
        """The sessions of one grouping (paired now if they were not yet)."""
        if grouping not in self.paired:
            self.paired[grouping] = session_records(self.events, grouping, self.data_end,
                                                    self.max_session)
        return self.paired[grouping]

    @property
    def sessions(self) -> pa.Table:
        """The sessions of every grouping, shaped as the stored ``sessions`` table."""
        parts = [self.sessions_of(g) for g in GROUPINGS]
        return pa.concat_tables(parts) if parts else SESSION_TABLE_SCHEMA.empty_table()

    def reader(self) -> FileReader:
        """An in-memory engine over the events and sessions."""
        return FileReader(self)


class FileReader:
    """A :class:`~vigil.dwell.reader.SqlReader` (an in-memory DuckDB over the Arrow tables)
    whose ``sessions`` hold the groupings paired so far; a query naming another grouping has
    it paired first."""

    def __init__(self, data: FileData) -> None:
        self.data = data
        self._shown: tuple[GroupBy, ...] | None = None
        self._con = duckdb.connect(":memory:")
        self._con.register("events", data.events)
        self._con.register("session_rows", SESSION_TABLE_SCHEMA.empty_table())
        self._con.execute(SESSIONS_VIEW)
        self._show(tuple(g for g in GROUPINGS if g in data.paired))

    def read_table(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """The query's result, once the groupings it names are paired."""
        if _SESSIONS.search(sql):
            named = tuple(g for g in GROUPINGS if g in params or f"'{g}'" in sql)
            self._show((*(self._shown or ()), *(named or GROUPINGS)))
        return arrow(self._con, sql, params)

    def close(self) -> None:
        """Release the connection."""
        self._con.close()

    def _show(self, groupings: tuple[GroupBy, ...]) -> None:
        """Make ``sessions`` hold these groupings (in :data:`GROUPINGS` order)."""
        ordered = tuple(g for g in GROUPINGS if g in groupings)
        if ordered == self._shown:
            return
        parts = [self.data.sessions_of(g) for g in ordered]
        self._con.register("session_rows", pa.concat_tables(parts) if parts
                           else SESSION_TABLE_SCHEMA.empty_table())
        self._shown = ordered


def load_file(path: Path, options: FileOptions, timezones: dict[str, str],
              default_timezone: str = "UTC", max_session: timedelta = DEFAULT_MAX_SESSION,
              progress: Progress | None = None,
              groupings: tuple[GroupBy, ...] = ("camera",)) -> FileData:
    """Read ``path`` and pair the sessions of ``groupings`` (the others when first asked
    for); ``timezones`` gives known cameras' zones (the others get ``default_timezone``)."""
    events, report = _read_events(path, options, progress)
    events = _first_of_each_event(events)
    cameras = pc.unique(events.column("source_id")).to_pylist()
    zones = {camera: timezones.get(camera, default_timezone) for camera in cameras}
    for name, column in local_time_columns(events, zones).items():
        events = events.append_column(name, column)
    data_end = pc.max(events.column("ts")).as_py() or _EMPTY_TS.as_py()
    data = FileData(events, report, zones, data_end, max_session)
    for grouping in groupings:
        data.sessions_of(grouping)
    return data


def _read_events(path: Path, options: FileOptions,
                 progress: Progress | None) -> tuple[pa.Table, QualityReport]:
    """The valid events of the file (the analytic columns): a simple CSV file in one pass,
    anything else block by block (same rules either way)."""
    simple = read_simple_csv(path, options, ANALYTIC_COLUMNS)
    if simple is not None:
        if progress:
            progress(simple[1].bytes_read, simple[1].rows_read)
        return simple
    parts: list[pa.Table] = []

    def collect(events: pa.Table) -> int:
        parts.append(events.select(ANALYTIC_COLUMNS).cast(_ANALYTIC_SCHEMA))
        return int(events.num_rows)

    report = ingest_file(path, collect, options, progress)
    return (pa.concat_tables(parts) if parts else _ANALYTIC_SCHEMA.empty_table()), report



def _first_of_each_event(events: pa.Table) -> pa.Table:
    """:func:`~vigil.store.batches.first_of_each_event`, skipped when a 64-bit hash of
    (event_id, ts) already differs on every row (then no event can repeat)."""
    if events.num_rows < 2:
        return events
    connection = duckdb.connect(":memory:")
    try:
        connection.register("events", events.select(["event_id", "ts"]))
        hashes = arrow(connection, "SELECT hash(event_id, ts) AS h FROM events")
    finally:
        connection.close()
    values = np.sort(hashes.column("h").to_numpy())
    if not np.any(values[1:] == values[:-1]):
        return events
    return first_of_each_event(events)
