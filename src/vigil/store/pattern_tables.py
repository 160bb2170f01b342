"""SQL of the ``patterns`` table: the latest detection, one row per pattern.

A mixin of :class:`vigil.store.sqlstore.SqlStore`. :meth:`PatternTables.replace_patterns`
swaps one detection's patterns in for the previous ones in one transaction: a pattern found
again keeps the earlier of its two ``first_seen`` dates, a pattern not found again is gone.
``entities`` and ``evidence`` are JSON text, read back as a list and an object.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from vigil.store.sqlaccess import SqlAccess

if TYPE_CHECKING:
    from vigil.patterns.base import Pattern

__all__ = ["PATTERN_COLUMNS", "PatternTables"]

PATTERN_COLUMNS = ("pattern_id", "type", "entities", "confidence", "description", "evidence",
                   "first_seen", "last_seen", "window_end", "detected_at")
STAGED = "pattern_rows"
_STAGED_SCHEMA = pa.schema([
    ("pattern_id", pa.string()), ("type", pa.string()), ("entities", pa.string()),
    ("confidence", pa.float64()), ("description", pa.string()), ("evidence", pa.string()),
    ("first_seen", pa.date32()), ("last_seen", pa.date32()),
])
_STAGED_COLUMNS = ("pattern_id VARCHAR, type VARCHAR, entities VARCHAR, "
                   "confidence DOUBLE PRECISION, description VARCHAR, evidence VARCHAR, "
                   "first_seen DATE, last_seen DATE")


def _json_text(value: Any) -> str:
    """Stable JSON text: sorted keys, no NaN, dates as ISO strings."""
    def iso(item: object) -> str:
        if isinstance(item, dt.date):
            return item.isoformat()
        raise TypeError(f"{type(item).__name__} is not JSON-able")

    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, default=iso)


def _staged(patterns: Sequence[Pattern], window_end: dt.date) -> pa.Table:
    """The rows to store; a pattern without dates was seen up to ``window_end``."""
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for p in patterns:
        if p.pattern_id in seen:
            raise ValueError(f"pattern {p.pattern_id!r} is given twice")
        seen.add(p.pattern_id)
        last = p.last_seen or window_end
        first = p.first_seen or last
        if first > last:
            raise ValueError(f"pattern {p.pattern_id!r}: first_seen {first} is after "
                             f"last_seen {last}")
        rows.append({"pattern_id": p.pattern_id, "type": p.type,
                     "entities": _json_text(list(p.entities)), "confidence": p.confidence,
                     "description": p.description, "evidence": _json_text(p.evidence),
                     "first_seen": first, "last_seen": last})
    return pa.Table.from_pylist(rows, schema=_STAGED_SCHEMA)


class PatternTables(SqlAccess):
    """The patterns table, shared by the SQL stores; see the module docstring."""

    @abstractmethod
    def _load_temp_table(self, name: str, columns: str, data: pa.Table) -> None:
        """Make temp table ``name`` hold just ``data``, in the current transaction."""

    def replace_patterns(self, patterns: Sequence[Pattern], window_end: dt.date,
                         now: dt.datetime) -> int:
        """Make ``patterns`` (one detection over the window ending ``window_end``, made at
        ``now``) the stored ones, in one transaction; returns how many are stored.

        A pattern stored before keeps its earlier ``first_seen``; stored patterns missing
        from ``patterns`` are removed. Pattern ids must be distinct (ValueError).
        """
        staged = _staged(patterns, window_end)
        names = ", ".join(_STAGED_SCHEMA.names)
        with self.transaction():
            self._load_temp_table(STAGED, _STAGED_COLUMNS, staged)
            self._write(f"UPDATE {STAGED} SET first_seen = p.first_seen FROM patterns p "
                        f"WHERE p.pattern_id = {STAGED}.pattern_id "
                        f"AND p.first_seen < {STAGED}.first_seen")
            self._write("DELETE FROM patterns")
            self._write(f"INSERT INTO patterns ({names}, window_end, detected_at) "
                        f"SELECT {names}, ?, ? FROM {STAGED}", [window_end, now])
        return int(staged.num_rows)

    def list_patterns(self, type: str | None = None, entity: str | None = None,
                      min_confidence: float | None = None) -> list[dict[str, Any]]:
        """The stored patterns (of one type, naming one entity, at least this confident),
        most confident first, then by id."""
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if type is not None:
            clauses.append("type = ?")
            params.append(type)
        if min_confidence is not None:
            clauses.append("confidence >= ?")
            params.append(min_confidence)
        rows = self._rows(f"SELECT {', '.join(PATTERN_COLUMNS)} FROM patterns "
                          f"WHERE {' AND '.join(clauses)} "
                          "ORDER BY confidence DESC, pattern_id", params)
        found = [_pattern(row) for row in rows]
        # Entities are a JSON list, which the two engines search differently; the table
        # holds one detection (hundreds of rows), so the match is made here.
        return [p for p in found if entity is None or entity in p["entities"]]


def _pattern(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(PATTERN_COLUMNS, row, strict=True))
    record["entities"] = json.loads(record["entities"])
    record["evidence"] = json.loads(record["evidence"])
    record["confidence"] = float(record["confidence"])
    record["detected_at"] = record["detected_at"].astimezone(dt.UTC)
    return record
