"""The data quality report of one ingest run."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from vigil.ingest.outcome import Finalised
from vigil.ingest.reasons import reason_field, reason_message

LINES_KEPT_PER_REASON = 100


@dataclass
class QualityReport:
    """What a file (or upload) contained and what became of each row."""

    source: str
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    blank_lines: int = 0
    padded_rows: int = 0
    bytes_read: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_lines: dict[str, list[int]] = field(default_factory=dict)
    null_counts: Counter[str] = field(default_factory=Counter)
    timestamp_formats: Counter[str] = field(default_factory=Counter)
    per_source: Counter[str] = field(default_factory=Counter)
    first_timestamp: dt.datetime | None = None
    last_timestamp: dt.datetime | None = None

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def reject(self, rows: list[tuple[int, str]]) -> None:
        """Record rejected ``(line, reason)`` pairs."""
        for line, reason in rows:
            self.rejected[reason] += 1
            kept = self.rejected_lines.setdefault(reason, [])
            if len(kept) < LINES_KEPT_PER_REASON:
                kept.append(line)

    def add_finalised(self, result: Finalised) -> None:
        """Fold in what finalising one block found (rejections, formats, sources, span)."""
        self.reject(result.rejected)
        self.timestamp_formats.update(result.formats)
        self.per_source.update(result.per_source)
        self._widen(result.first_ts, result.last_ts)

    def add_stored(self, valid: int, inserted: int) -> None:
        """``valid`` rows were handed to the store and ``inserted`` of them were new."""
        self.accepted += inserted
        self.duplicates += valid - inserted

    def _widen(self, first: dt.datetime | None, last: dt.datetime | None) -> None:
        if first is not None and (self.first_timestamp is None or first < self.first_timestamp):
            self.first_timestamp = first
        if last is not None and (self.last_timestamp is None or last > self.last_timestamp):
            self.last_timestamp = last

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, rejected reasons sorted by count."""
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected_total,
            "rejected_by_reason": {
                reason: {
                    "count": count,
                    "field": reason_field(reason),
                    "message": reason_message(reason),
                    "lines": sorted(self.rejected_lines.get(reason, [])),
                }
                for reason, count in self.rejected.most_common()
            },
            "blank_lines": self.blank_lines,
            "padded_rows": self.padded_rows,
            "bytes_read": self.bytes_read,
            "null_counts": dict(sorted(self.null_counts.items())),
            "timestamp_formats": dict(self.timestamp_formats.most_common()),
            "time_range": {
                "first": _iso(self.first_timestamp),
                "last": _iso(self.last_timestamp),
            },
            "per_source": dict(sorted(self.per_source.items())),
        }


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None
