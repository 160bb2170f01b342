"""The attributes visits carry: which names can split the analytics (``attributes.<name>``),
how many distinct values each has and its most common values.

A session carries the attributes of its anchor event (the entry, or the exit of an orphan
exit), so these are the names and values the person entry/exit events bring to the
sessions a filter selects, counted in sessions: a value's count is the number of sessions a
``group_by=attributes.<name>`` would put in its group. One portable statement (DuckDB and
PostgreSQL) splits each session's JSON object into its members (``json_each``) and counts
them per key and JSON value; only then (over a few rows) it keeps the keys that are valid
grouping names, reads each value as text exactly as the grouping's ``->>`` does (a JSON
null counts as no value; ``3`` and ``"3"`` are one value, as in the grouping) and ranks the
values per name by count, ties by value in binary (``"C"``) order so both engines agree.
"""

from __future__ import annotations

from typing import Any

from vigil.dwell.analytics import describe_filter
from vigil.dwell.filters import AnalyticsFilter, session_where
from vigil.dwell.reader import SqlReader

__all__ = ["TOP_VALUES", "attribute_answer", "attribute_summary"]

TOP_VALUES = 10
# The SQL (SIMILAR TO) form of the grouping names that vigil.dwell.filters accepts.
_NAME_PATTERN = "[A-Za-z_][A-Za-z0-9_]*"
_NAME_MAX = 64


def attribute_summary(reader: SqlReader, flt: AnalyticsFilter,
                      top: int = TOP_VALUES) -> list[dict[str, Any]]:
    """Per attribute name (sorted): ``distinct`` values, ``sessions`` carrying a value and
    the ``top`` most common ``values`` (``{"value", "count"}``, most sessions first)."""
    where, params = session_where(flt)
    sql = f"""
        WITH selected AS (
            SELECT CAST(attributes AS JSON) AS doc FROM sessions
            WHERE {where} AND attributes IS NOT NULL
        ), raw AS (
            SELECT kv.key AS name, CAST(kv.value AS VARCHAR) AS json_value, count(*) AS n
            FROM selected, json_each(selected.doc) AS kv
            GROUP BY 1, 2
        ), counted AS (
            SELECT name, CAST('{{"v":' || json_value || '}}' AS JSON) ->> 'v' AS value,
                   sum(n) AS n
            FROM raw
            WHERE name SIMILAR TO '{_NAME_PATTERN}' AND length(name) <= {_NAME_MAX}
            GROUP BY 1, 2
        ), ranked AS (
            SELECT name, value, n,
                   row_number() OVER (PARTITION BY name
                                      ORDER BY n DESC, value COLLATE "C") AS place,
                   count(*) OVER (PARTITION BY name) AS distinct_values,
                   sum(n) OVER (PARTITION BY name) AS sessions
            FROM counted WHERE value IS NOT NULL
        )
        SELECT name, value, CAST(n AS BIGINT) AS n,
               CAST(distinct_values AS BIGINT) AS distinct_values,
               CAST(sessions AS BIGINT) AS sessions
        FROM ranked WHERE place <= {int(top)}
        ORDER BY name COLLATE "C", place"""
    found: dict[str, dict[str, Any]] = {}
    for row in reader.read_table(sql, params).to_pylist():
        entry = found.setdefault(row["name"], {
            "name": row["name"], "distinct": int(row["distinct_values"]),
            "sessions": int(row["sessions"]), "values": []})
        entry["values"].append({"value": row["value"], "count": int(row["n"])})
    return list(found.values())


def attribute_answer(reader: SqlReader, flt: AnalyticsFilter,
                     top: int = TOP_VALUES) -> dict[str, Any]:
    """The filter as given and :func:`attribute_summary`, as the API answers."""
    return {"filter": describe_filter(flt), "attributes": attribute_summary(reader, flt, top)}
