"""Analytics straight from a file: read events with the ingest parser, pair them in memory.

Nothing is stored. The file goes through the same validation and quality report as
``vigil ingest`` (bad rows are reported with their line numbers; a simple CSV file is read
whole in one pass, see :mod:`vigil.ingest.wholefile`), repeats of an event count
once, local time is derived in each camera's zone, and the sessions are paired exactly as
the store pairs them. The result serves the same analytic queries through an
:class:`~vigil.dwell.reader.ArrowReader`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from vigil.dwell.pairing import DEFAULT_MAX_SESSION
from vigil.dwell.reader import ArrowReader
from vigil.dwell.records import all_session_records
from vigil.ingest.files import FileOptions, Progress, ingest_file
from vigil.ingest.quality import QualityReport
from vigil.ingest.wholefile import read_simple_csv
from vigil.store.arrowderive import local_time_columns
from vigil.store.base import EVENT_INPUT_SCHEMA
from vigil.store.batches import first_of_each_event

__all__ = ["FileData", "load_file"]

_EMPTY_TS = pa.scalar(0, pa.timestamp("us", tz="UTC"))


@dataclass
class FileData:
    """A file's events and sessions, ready for the analytic queries."""

    events: pa.Table
    sessions: pa.Table
    report: QualityReport
    timezones: dict[str, str]

    def reader(self) -> ArrowReader:
        """An in-memory engine over the events and sessions."""
        return ArrowReader(self.events, self.sessions)


def load_file(path: Path, options: FileOptions, timezones: dict[str, str],
              default_timezone: str = "UTC", max_session: timedelta = DEFAULT_MAX_SESSION,
              progress: Progress | None = None) -> FileData:
    """Read ``path`` and pair its sessions; ``timezones`` gives known cameras' zones (the
    others get ``default_timezone``)."""
    events, report = _read_events(path, options, progress)
    events = first_of_each_event(events)
    cameras = pc.unique(events.column("source_id")).to_pylist()
    zones = {camera: timezones.get(camera, default_timezone) for camera in cameras}
    for name, column in local_time_columns(events, zones).items():
        events = events.append_column(name, column)
    data_end = pc.max(events.column("ts")).as_py() or _EMPTY_TS.as_py()
    sessions = all_session_records(events, data_end, max_session)
    return FileData(events, sessions, report, zones)


def _read_events(path: Path, options: FileOptions,
                 progress: Progress | None) -> tuple[pa.Table, QualityReport]:
    """All valid events of the file: a simple CSV file in one pass, anything else block by
    block (same rules either way)."""
    simple = read_simple_csv(path, options)
    if simple is not None:
        if progress:
            progress(simple[1].bytes_read, simple[1].rows_read)
        return simple
    parts: list[pa.Table] = []

    def collect(events: pa.Table) -> int:
        parts.append(events.select(EVENT_INPUT_SCHEMA.names).cast(EVENT_INPUT_SCHEMA))
        return int(events.num_rows)

    report = ingest_file(path, collect, options, progress)
    return (pa.concat_tables(parts) if parts else EVENT_INPUT_SCHEMA.empty_table()), report
