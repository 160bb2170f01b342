"""The outcome of finalising one staging batch."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pyarrow as pa


@dataclass
class Finalised:
    """Rows ready to store, rejections ``(row_ref, reason)``, and statistics for the report.

    ``events`` may still hold repeats of one event; the store keeps the first.
    """

    events: pa.Table
    rejected: list[tuple[int, str]]
    formats: dict[str, int] = field(default_factory=dict)
    per_source: dict[str, int] = field(default_factory=dict)
    first_ts: dt.datetime | None = None
    last_ts: dt.datetime | None = None
