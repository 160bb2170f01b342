"""Sessions in the stored shape: both groupings, the anchor time and the anchor's local day.

The ``sessions`` table (and the in-memory table a file report builds) holds every session
once per grouping (``camera`` and ``zone``), with ``anchor_ts`` (the entry, or the exit of
an orphan exit), the anchor event's ``local_date``/``local_hour``/``local_weekday`` and its
``attributes``. :func:`session_records` builds that shape from events that carry those
columns.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.dwell.pairing import DEFAULT_MAX_SESSION, GroupBy, pair_sessions

__all__ = ["CARRIED", "GROUPINGS", "SESSION_TABLE_SCHEMA", "all_session_records",
           "session_records"]

GROUPINGS: tuple[GroupBy, ...] = ("camera", "zone")
CARRIED = ("local_date", "local_hour", "local_weekday", "attributes")
_TS = pa.timestamp("us", tz="UTC")
SESSION_TABLE_SCHEMA = pa.schema([
    ("grouping", pa.string()), ("subject_id", pa.string()), ("source_id", pa.string()),
    ("zone", pa.string()), ("anchor_ts", _TS), ("entry_ts", _TS), ("exit_ts", _TS),
    ("duration_ms", pa.int64()), ("status", pa.string()), ("entry_event_id", pa.string()),
    ("exit_event_id", pa.string()), ("local_date", pa.date32()), ("local_hour", pa.int16()),
    ("local_weekday", pa.int16()), ("attributes", pa.string()),
])
"""The ``sessions`` table's columns, in order (``attributes`` as JSON text)."""


def session_records(events: pa.Table, grouping: GroupBy, data_end: datetime,
                    max_session: timedelta = DEFAULT_MAX_SESSION) -> pa.Table:
    """The sessions of ``events`` for one grouping, shaped as :data:`SESSION_TABLE_SCHEMA`."""
    sessions = pair_sessions(events, by=grouping, max_session=max_session, data_end=data_end,
                             carry=CARRIED)
    anchor = pc.coalesce(sessions.column("entry_ts"), sessions.column("exit_ts"))
    sessions = sessions.append_column("grouping", _repeated(grouping, sessions.num_rows))
    sessions = sessions.append_column("anchor_ts", anchor)
    return sessions.select(SESSION_TABLE_SCHEMA.names).cast(SESSION_TABLE_SCHEMA)


def _repeated(text: str, rows: int) -> pa.Array:
    """``text`` ``rows`` times, as a string array built from its buffers."""
    data = text.encode("utf-8")
    if rows * len(data) >= 1 << 31:
        return pa.array([text] * rows, pa.string())
    offsets = np.arange(rows + 1, dtype=np.int32) * len(data)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data * rows))


def all_session_records(events: pa.Table, data_end: datetime,
                        max_session: timedelta = DEFAULT_MAX_SESSION) -> pa.Table:
    """The sessions of ``events`` for both groupings."""
    return pa.concat_tables([session_records(events, g, data_end, max_session)
                             for g in GROUPINGS])
