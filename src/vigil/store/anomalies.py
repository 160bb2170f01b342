"""SQL of anomalies, remembered false positives and the detector's cursor.

A mixin of :class:`vigil.store.sqlstore.SqlStore`: it needs the store's transaction and its
``_rows``/``_write`` helpers, nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from vigil.store.sqlaccess import SqlAccess

ANOMALY_STATUSES = ("open", "acknowledged", "false_positive")
SEVERITY_ORDER = {"low": 1, "medium": 2, "high": 3}
ANOMALY_COLUMNS = (
    "anomaly_id", "source_id", "anomaly_type", "label", "event_id", "window_start",
    "window_end", "local_date", "local_weekday", "local_hour", "score", "severity",
    "explanation", "components", "pattern_key", "run_id", "status", "detected_at",
    "updated_at",
)
DETECTOR_EVENT_COLUMNS = ("event_id, source_id, event_type, ts, labels, confidence, "
                          "local_date, local_hour, local_weekday, ingest_batch")


@dataclass(frozen=True)
class NewAnomaly:
    """An anomaly to store; one with a ``run_id`` updates the stored one of the same run."""

    source_id: str
    anomaly_type: str
    label: str | None
    event_id: str | None
    window_start: dt.datetime
    window_end: dt.datetime
    local_date: dt.date
    local_weekday: int
    local_hour: int
    score: float
    severity: str
    explanation: str
    components: dict[str, Any]
    pattern_key: str
    run_id: str | None = None


@dataclass(frozen=True)
class AnomalyFilter:
    """Filters of the anomaly listing; every field is optional. ``sources`` keeps the
    anomalies of any of those sources (empty: every source)."""

    sources: tuple[str, ...] = ()
    anomaly_type: str | None = None
    label: str | None = None
    min_severity: str | None = None
    status: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@dataclass(frozen=True)
class SavedAnomaly:
    """What saving did: the id, and whether it is new or its severity went up."""

    anomaly_id: int
    new: bool
    escalated: bool


class AnomalyTables(SqlAccess):
    """Anomaly storage shared by the SQL stores."""

    # -- writing ---------------------------------------------------------------------------
    def save_anomalies(self, items: Sequence[NewAnomaly], now: dt.datetime
                       ) -> list[SavedAnomaly]:
        """Insert new anomalies; an item whose run is stored already updates that row (the
        window grows, the score and severity keep the worst seen)."""
        saved: list[SavedAnomaly] = []
        with self.transaction():
            for item in items:
                existing = (self._write("SELECT anomaly_id, severity, score FROM anomalies "
                                        "WHERE run_id = ?", [item.run_id])
                            if item.run_id else [])
                if existing:
                    saved.append(self._grow(item, existing[0], now))
                else:
                    saved.append(SavedAnomaly(self._insert(item, now), True, False))
        return saved

    def _insert(self, item: NewAnomaly, now: dt.datetime) -> int:
        rows = self._write(
            f"INSERT INTO anomalies ({', '.join(ANOMALY_COLUMNS[1:])}) VALUES "
            f"({', '.join('?' * (len(ANOMALY_COLUMNS) - 1))}) RETURNING anomaly_id",
            [item.source_id, item.anomaly_type, item.label, item.event_id, item.window_start,
             item.window_end, item.local_date, item.local_weekday, item.local_hour, item.score,
             item.severity, item.explanation, json.dumps(item.components), item.pattern_key,
             item.run_id, "open", now, now],
        )
        return int(rows[0][0])

    def _grow(self, item: NewAnomaly, stored: tuple[Any, ...], now: dt.datetime
              ) -> SavedAnomaly:
        anomaly_id, severity, score = stored
        worse = item.score > float(score)
        escalated = SEVERITY_ORDER[item.severity] > SEVERITY_ORDER.get(str(severity), 0)
        self._write(
            "UPDATE anomalies SET window_end = ?, updated_at = ?, components = ?, "
            "explanation = ?, score = ?, severity = ? WHERE anomaly_id = ?",
            [item.window_end, now, json.dumps(item.components), item.explanation,
             item.score if worse else float(score), item.severity if worse else severity,
             anomaly_id],
        )
        return SavedAnomaly(int(anomaly_id), False, escalated and worse)

    def set_anomaly_status(self, anomaly_id: int, status: str, now: dt.datetime
                           ) -> dict[str, Any] | None:
        """Set an anomaly's status; ``false_positive`` also remembers its pattern at its
        source (so the same pattern is not flagged again at that severity or lower).

        Returns the updated anomaly, or ``None`` if there is none with that id.
        """
        if status not in ANOMALY_STATUSES:
            raise ValueError(f"status must be one of {', '.join(ANOMALY_STATUSES)}")
        with self.transaction():
            found = self._write("SELECT source_id, pattern_key, severity FROM anomalies "
                                "WHERE anomaly_id = ?", [anomaly_id])
            if not found:
                return None
            source_id, pattern_key, severity = found[0]
            self._write("UPDATE anomalies SET status = ?, updated_at = ? WHERE anomaly_id = ?",
                        [status, now, anomaly_id])
            if status == "false_positive":
                self._write(
                    "INSERT INTO false_positives VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (source_id, pattern_key) DO UPDATE SET "
                    "severity = excluded.severity, anomaly_id = excluded.anomaly_id, "
                    "marked_at = excluded.marked_at",
                    [source_id, pattern_key, severity, anomaly_id, now])
            else:
                self._write("DELETE FROM false_positives WHERE anomaly_id = ?", [anomaly_id])
            rows = self._write(f"SELECT {', '.join(ANOMALY_COLUMNS)} FROM anomalies "
                               "WHERE anomaly_id = ?", [anomaly_id])
        return _anomaly(rows[0])

    def save_detector_cursor(self, name: str, ingest_batch: int, now: dt.datetime) -> None:
        """Remember the last event batch the detector has seen."""
        with self.transaction():
            self._write("INSERT INTO detector_cursor VALUES (?, ?, ?) ON CONFLICT (name) "
                        "DO UPDATE SET ingest_batch = excluded.ingest_batch, "
                        "updated_at = excluded.updated_at", [name, ingest_batch, now])

    # -- reading -----------------------------------------------------------------------------
    def list_anomalies(self, flt: AnomalyFilter, limit: int, before_id: int | None = None
                       ) -> list[dict[str, Any]]:
        """The newest anomalies first (by id), older than ``before_id`` when given."""
        rows = self._newest_first("anomalies", ANOMALY_COLUMNS, "anomaly_id",
                                  _anomaly_conditions(flt), limit, before_id)
        return [_anomaly(row) for row in rows]

    def get_anomaly(self, anomaly_id: int) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT {', '.join(ANOMALY_COLUMNS)} FROM anomalies "
                          "WHERE anomaly_id = ?", [anomaly_id])
        return _anomaly(rows[0]) if rows else None

    def count_anomalies(self, flt: AnomalyFilter | None = None) -> dict[str, int]:
        """How many anomalies there are per status (of those ``flt`` selects, when given);
        statuses without any are left out."""
        if flt is None:
            return self._count_by_status("anomalies")
        conditions = _anomaly_conditions(flt)
        where = " AND ".join(["TRUE", *(condition for condition, _ in conditions)])
        params = [value for _, values in conditions for value in values]
        rows = self._rows(f"SELECT status, count(*) FROM anomalies WHERE {where} "
                          "GROUP BY status", params)
        return {str(status): int(n) for status, n in rows}

    def false_positive_patterns(self) -> dict[tuple[str, str], str]:
        """``(source_id, pattern_key) -> severity`` of every remembered false positive."""
        rows = self._rows("SELECT source_id, pattern_key, severity FROM false_positives")
        return {(str(s), str(k)): str(sev) for s, k, sev in rows}

    def list_false_positive_anomalies(self, source_id: str, pattern_key: str
                                      ) -> list[dict[str, Any]]:
        """The anomalies marked false positive with this pattern at this source."""
        rows = self._rows(f"SELECT {', '.join(ANOMALY_COLUMNS)} FROM anomalies WHERE "
                          "source_id = ? AND pattern_key = ? AND status = 'false_positive'",
                          [source_id, pattern_key])
        return [_anomaly(row) for row in rows]

    def unlearned_event_anomalies(self) -> list[tuple[str, str, dt.date, int, int]]:
        """``(source_id, label, local_date, local_hour, count)`` of flagged events that are
        not false positives: the detector leaves them out of what it learns."""
        rows = self._rows(
            "SELECT source_id, label, local_date, local_hour, count(*) FROM anomalies "
            "WHERE event_id IS NOT NULL AND label IS NOT NULL AND status <> 'false_positive' "
            "GROUP BY source_id, label, local_date, local_hour")
        return [(str(s), str(lb), d, int(h), int(n)) for s, lb, d, h, n in rows]

    def label_hourly_counts(self, event_types: Sequence[str], since: dt.date | None
                            ) -> list[tuple[str, str, dt.date, int, int]]:
        """``(source_id, label, local_date, local_hour, count)`` of the given event types,
        summed over them, from local day ``since`` on (the all-labels rows left out)."""
        types = list(event_types)
        clauses = [f"event_type IN ({', '.join('?' * len(types))})", "label <> '*'"]
        params: list[Any] = [*types]
        if since is not None:
            clauses.append("local_date >= ?")
            params.append(since)
        rows = self._rows(
            "SELECT source_id, label, local_date, local_hour, CAST(sum(event_count) AS BIGINT) "
            f"FROM hourly_counts WHERE {' AND '.join(clauses)} "
            "GROUP BY source_id, label, local_date, local_hour "
            "ORDER BY source_id, local_date, local_hour, label", params)
        return [(str(s), str(lb), d, int(h), int(n)) for s, lb, d, h, n in rows]

    def detector_cursor(self, name: str) -> int | None:
        """The last event batch the detector ``name`` has seen (``None``: never ran)."""
        rows = self._rows("SELECT ingest_batch FROM detector_cursor WHERE name = ?", [name])
        return int(rows[0][0]) if rows else None

    def event_batches_after(self, ingest_batch: int) -> list[tuple[int, int]]:
        """``(ingest_batch, events)`` of every batch after ``ingest_batch``, in order."""
        rows = self._rows("SELECT ingest_batch, count(*) FROM events WHERE ingest_batch > ? "
                          "GROUP BY ingest_batch ORDER BY ingest_batch", [ingest_batch])
        return [(int(b), int(n)) for b, n in rows]

    def events_of_batches(self, first: int, last: int) -> pa.Table:
        """The detector's columns of the events of batches ``first`` to ``last``, in ingest
        order (batch, then time)."""
        return self._read_table(
            f"SELECT {DETECTOR_EVENT_COLUMNS} FROM events "
            "WHERE ingest_batch BETWEEN ? AND ? ORDER BY ingest_batch, ts, event_id",
            [first, last])

    def newest_event_times(self, up_to_batch: int | None = None) -> dict[str, dt.datetime]:
        """Each source's newest event time (among batches up to ``up_to_batch``)."""
        where, params = ("ingest_batch <= ?", [up_to_batch]) if up_to_batch is not None \
            else ("TRUE", [])
        return {str(s): ts for s, ts in self._rows(
            f"SELECT source_id, max(ts) FROM events WHERE {where} GROUP BY source_id", params)}

    def label_hourly_counts_after(self, ingest_batch: int, event_types: Sequence[str]
                                  ) -> list[tuple[str, str, dt.date, int, int]]:
        """Like :meth:`label_hourly_counts`, of the events of batches after ``ingest_batch``
        only (counted from the log)."""
        types = list(event_types)
        rows = self._rows(
            "SELECT source_id, label, local_date, local_hour, count(*) FROM ("
            "SELECT source_id, unnest(labels) AS label, local_date, local_hour FROM events "
            f"WHERE ingest_batch > ? AND event_type IN ({', '.join('?' * len(types))})) x "
            "GROUP BY source_id, label, local_date, local_hour", [ingest_batch, *types])
        return [(str(s), str(lb), d, int(h), int(n)) for s, lb, d, h, n in rows]

    def newest_ingest_batch(self) -> int:
        return int(self._rows("SELECT coalesce(max(ingest_batch), 0) FROM events")[0][0])


def _anomaly_conditions(flt: AnomalyFilter) -> list[tuple[str, list[Any]]]:
    """The filter as ``(condition with ? placeholders, values)`` pairs: source(s), type,
    label, status, at least the severity, and windows overlapping ``[start, end)``."""
    conditions: list[tuple[str, list[Any]]] = [
        (f"{column} = ?", [value])
        for column, value in (("anomaly_type", flt.anomaly_type), ("label", flt.label),
                              ("status", flt.status))
        if value is not None]
    if flt.sources:
        conditions.append((f"source_id IN ({', '.join('?' * len(flt.sources))})",
                           list(flt.sources)))
    if flt.min_severity is not None:
        allowed = [s for s, rank in SEVERITY_ORDER.items()
                   if rank >= SEVERITY_ORDER[flt.min_severity]]
        conditions.append((f"severity IN ({', '.join('?' * len(allowed))})", allowed))
    if flt.start is not None:
        conditions.append(("window_end >= ?", [flt.start]))
    if flt.end is not None:
        conditions.append(("window_start < ?", [flt.end]))
    return conditions


def _anomaly(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(ANOMALY_COLUMNS, row, strict=True))
    components = record["components"]
    record["components"] = json.loads(components) if isinstance(components, str) else components
    record["type"] = record.pop("anomaly_type")
    return record
