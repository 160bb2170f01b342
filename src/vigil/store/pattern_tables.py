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
    from vigil.store.sql import Dialect

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

    dialect: Dialect

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
                      min_confidence: float | None = None, limit: int | None = None,
                      offset: int = 0) -> list[dict[str, Any]]:
        """The stored patterns (of one type, naming one entity, at least this confident),
        most confident first, then by id; at most ``limit`` of them after the first
        ``offset``."""
        where, params = self._pattern_filters(type, entity, min_confidence)
        page = ""
        if limit is not None or offset:
            page = " LIMIT ? OFFSET ?" if limit is not None else " OFFSET ?"
            params = [*params, *([limit] if limit is not None else []), offset]
        rows = self._rows(f"SELECT {', '.join(PATTERN_COLUMNS)} FROM patterns WHERE {where} "
                          f"ORDER BY confidence DESC, pattern_id{page}", params)
        return [_pattern(row) for row in rows]

    def count_patterns(self, type: str | None = None, entity: str | None = None,
                       min_confidence: float | None = None) -> int:
        """How many stored patterns match the filters of :meth:`list_patterns`."""
        where, params = self._pattern_filters(type, entity, min_confidence)
        [(count,)] = self._rows(f"SELECT count(*) FROM patterns WHERE {where}", params)
        return int(count)

    def pattern_facets(self, min_confidence: float | None = None) -> dict[str, dict[str, int]]:
        """How many stored patterns (at least this confident) there are per type and per
        entity they involve, most first, then by name."""
        where, params = self._pattern_filters(None, None, min_confidence)
        types = self._rows(f"SELECT type, count(*) AS n FROM patterns WHERE {where} "
                           "GROUP BY type ORDER BY n DESC, type", params)
        unnest = _ENTITY_SQL[self.dialect.name][1]
        entities = self._rows(
            f"SELECT entity, count(DISTINCT pattern_id) AS n FROM (SELECT pattern_id, "
            f"{unnest} AS entity FROM patterns WHERE {where}) AS named "
            "GROUP BY entity ORDER BY n DESC, entity", params)
        return {"types": {str(t): int(n) for t, n in types},
                "entities": {str(e): int(n) for e, n in entities}}

    def _pattern_filters(self, type: str | None, entity: str | None,
                         min_confidence: float | None) -> tuple[str, list[Any]]:
        """The WHERE condition (``?`` placeholders) and values of the pattern filters."""
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if type is not None:
            clauses.append("type = ?")
            params.append(type)
        if entity is not None:
            clauses.append(_ENTITY_SQL[self.dialect.name][0])
            params.append(entity)
        if min_confidence is not None:
            clauses.append("confidence >= ?")
            params.append(min_confidence)
        return " AND ".join(clauses), params


# Per engine: the predicate "the JSON list ``entities`` holds the bound entity", and the
# entities of a row, one per row (a set-returning expression).
_ENTITY_SQL = {
    "duckdb": ("list_contains(from_json(entities, '[\"VARCHAR\"]'), ?)",
               "unnest(from_json(entities, '[\"VARCHAR\"]'))"),
    "postgresql": ("jsonb_exists(CAST(entities AS jsonb), ?)",
                   "jsonb_array_elements_text(CAST(entities AS jsonb))"),
}


def _pattern(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(PATTERN_COLUMNS, row, strict=True))
    record["entities"] = json.loads(record["entities"])
    record["evidence"] = json.loads(record["evidence"])
    record["confidence"] = float(record["confidence"])
    record["detected_at"] = record["detected_at"].astimezone(dt.UTC)
    return record
