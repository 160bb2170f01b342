"""The pure-Python twin of the SQL finalising step, for small batches in common shapes.

It returns ``None`` whenever a row falls outside what :func:`quick_timestamp` handles, and
the caller then runs the SQL path; when it answers, the answer is the SQL path's answer
(same timestamps, reasons and ids — a property test checks this).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import Counter
from typing import Any

import pyarrow as pa

from vigil.ingest.outcome import Finalised
from vigil.ingest.quickparse import quick_timestamp
from vigil.store.base import EVENT_INPUT_SCHEMA
from vigil.timeparse import EARLIEST, EPOCH, LATEST


def content_id(row: dict[str, Any], ts: dt.datetime) -> str:
    """The derived event id: MD5 over the event's content (mirrors the SQL ``_CONTENT``)."""
    confidence = row["confidence"]
    frame = row["frame_id"]
    parts = [
        row["source_id"], row["event_type"], str((ts - EPOCH) // dt.timedelta(microseconds=1)),
        "|".join(row["labels"] or []),
        "" if confidence is None else str(math.floor(confidence * 1000000 + 0.5)),
        row["model_id"] or "", "" if frame is None else str(frame), row["subject_id"] or "",
        row["zone"] or "", row["state"] or "", row["detections"] or "", row["attributes"] or "",
    ]
    return hashlib.md5("\x1f".join(parts).encode("utf-8")).hexdigest()


def finalise_quick(staged: pa.Table, timezone: str | None) -> Finalised | None:
    """Finalise ``staged`` in Python, or ``None`` when a row needs the SQL path."""
    events: list[dict[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    formats: Counter[str] = Counter()
    per_source: Counter[str] = Counter()
    times: list[dt.datetime] = []
    for row in staged.to_pylist():
        parsed = quick_timestamp(row["timestamp"], timezone) if row["timestamp"] else None
        if parsed is None:
            return None
        ts, fmt = parsed
        formats[fmt] += 1
        reason = row["pre_reason"] or (None if EARLIEST <= ts < LATEST
                                       else "timestamp_out_of_range")
        if reason:
            rejected.append((row["row_ref"], reason))
            continue
        per_source[row["source_id"]] += 1
        times.append(ts)
        event_id = row["event_id"] or content_id(row, ts)
        events.append({**row, "event_id": event_id, "ts": ts})
    table = pa.Table.from_pylist(
        [{name: e[name] for name in EVENT_INPUT_SCHEMA.names} for e in events],
        schema=EVENT_INPUT_SCHEMA,
    )
    return Finalised(
        events=table,
        rejected=rejected,
        formats=dict(formats),
        per_source=dict(per_source),
        first_ts=min(times) if times else None,
        last_ts=max(times) if times else None,
    )
