"""SQL of the ``aggregates`` table behind :class:`vigil.rollup.SqlAggregateStore`.

A mixin of :class:`vigil.store.sqlstore.SqlStore`. Rows are ``(layer, detector, entity,
bucket, fields)`` with ``fields`` a JSON object as text; the key is the first four. A batch
is upserted in one transaction through a temp table, so writing a key again replaces it.
Field lookups are the few expressions that differ between DuckDB (JSON pointer paths) and
PostgreSQL (``jsonb`` operators).
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from vigil.store.sql import Dialect
from vigil.store.sqlaccess import SqlAccess

AggregateRow = tuple[str, str, str, dt.date, str]
"""``(layer, detector, entity, bucket, fields as JSON text)``."""
STAGED = "aggregate_rows"
STAGED_COLUMNS = "layer VARCHAR, detector VARCHAR, entity VARCHAR, bucket DATE, fields VARCHAR"
_STAGED_SCHEMA = pa.schema([("layer", pa.string()), ("detector", pa.string()),
                            ("entity", pa.string()), ("bucket", pa.date32()),
                            ("fields", pa.string())])


@dataclass(frozen=True)
class _JsonSql:
    """How one engine reads a top-level field of the ``fields`` column (``?``: its key)."""

    json_type: str
    present: str  # not NULL when the field exists
    numeric: str  # true when the field is a JSON number
    number: str  # the field as a double


_JSON_SQL = {
    "duckdb": _JsonSql(
        json_type="JSON",
        present="json_type(fields, CAST(? AS VARCHAR))",
        numeric="json_type(fields, CAST(? AS VARCHAR)) IN ('BIGINT', 'UBIGINT', 'HUGEINT', "
                "'DOUBLE')",
        number="CAST(fields->>CAST(? AS VARCHAR) AS DOUBLE)",
    ),
    "postgresql": _JsonSql(
        json_type="JSONB",
        present="fields->CAST(? AS TEXT)",
        numeric="jsonb_typeof(fields->CAST(? AS TEXT)) = 'number'",
        number="CAST(fields->>CAST(? AS TEXT) AS DOUBLE PRECISION)",
    ),
}


def json_pointer(key: str) -> str:
    """RFC 6901 pointer to a top-level key (DuckDB reads any key exactly this way)."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


class AggregateTables(SqlAccess):
    """The aggregates table, shared by the SQL stores."""

    dialect: Dialect

    @abstractmethod
    def _load_temp_table(self, name: str, columns: str, data: pa.Table) -> None:
        """Make temp table ``name`` hold just ``data``, in the current transaction."""

    def write_aggregate_rows(self, rows: Sequence[AggregateRow], now: dt.datetime) -> int:
        """Insert or replace rows (keys must be distinct) in one transaction; their count."""
        if not rows:
            return 0
        staged = pa.table([list(column) for column in zip(*rows, strict=True)],
                          schema=_STAGED_SCHEMA)
        json_type = _JSON_SQL[self.dialect.name].json_type
        with self.transaction():
            self._load_temp_table(STAGED, STAGED_COLUMNS, staged)
            self._write(
                "INSERT INTO aggregates (layer, detector, entity, bucket, fields, written_at) "
                f"SELECT layer, detector, entity, bucket, CAST(fields AS {json_type}), ? "
                f"FROM {STAGED} ON CONFLICT (layer, detector, entity, bucket) DO UPDATE "
                "SET fields = excluded.fields, written_at = excluded.written_at", [now])
        return len(rows)

    def read_aggregate_rows(self, layer: str, start: dt.date, end: dt.date,
                            detector: str | None = None, entity: str | None = None
                            ) -> list[AggregateRow]:
        """The rows of a layer with buckets from ``start`` to ``end`` (unordered)."""
        where, params = _where(layer, start, end, detector, entity)
        rows = self._rows("SELECT layer, detector, entity, bucket, CAST(fields AS TEXT) "
                          f"FROM aggregates WHERE {where}", params)
        return [(str(a), str(d), str(e), b, str(f)) for a, d, e, b, f in rows]

    def aggregate_field(self, layer: str, start: dt.date, end: dt.date, field: str,
                        detector: str | None = None, entity: str | None = None
                        ) -> tuple[float | None, int, int]:
        """Over the matching rows: the sum of ``field``'s numeric values, how many are
        numeric, and how many rows have the field at all."""
        sql = _JSON_SQL[self.dialect.name]
        key = json_pointer(field) if self.dialect.name == "duckdb" else field
        where, params = _where(layer, start, end, detector, entity)
        total, numeric, present = self._rows(
            f"SELECT sum(CASE WHEN {sql.numeric} THEN {sql.number} END), "
            f"count(CASE WHEN {sql.numeric} THEN 1 END), count({sql.present}) "
            f"FROM aggregates WHERE {where}", [key, key, key, key, *params])[0]
        return (None if total is None else float(total)), int(numeric), int(present)


def _where(layer: str, start: dt.date, end: dt.date, detector: str | None,
           entity: str | None) -> tuple[str, list[Any]]:
    clauses = ["layer = ?", "bucket BETWEEN ? AND ?"]
    params: list[Any] = [layer, start, end]
    for column, value in (("detector", detector), ("entity", entity)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses), params
