"""The analytic queries over ``sessions`` and ``events``, written once as portable SQL.

Each function renders one statement that DuckDB and PostgreSQL both run unchanged (window
functions, ``FILTER``, ``percentile_cont(ARRAY[…]) WITHIN GROUP`` and 1-based array
subscripts, ``->>`` on JSON, ``UNION ALL``) and runs it on a
:class:`~vigil.dwell.reader.SqlReader`. Persons are counted with a ``GROUP BY`` per person
rather than ``count(DISTINCT …)`` (one hash table, not one per distinct count), on the
integer ``person_key`` (one per subject id), and the mean is the exact total over the
count. Definitions:

- **Dwell statistics** use complete sessions only (``duration_ms`` is null otherwise), so
  incomplete sessions never bias them; they are counted per status beside the statistics.
  Median and p90 interpolate linearly between ranks (``percentile_cont``).
- **Average dwell per person** is the total complete dwell divided by the persons with at
  least one complete session.
- **A visit day** is a local day on which a person has any session (any status). Unique
  visitors of a period count persons with a visit day in it; **repeat visitors** have visit
  days on 2 or more distinct local days in the selected range; a visitor is **new** in the
  period holding their first visit day ever (under the same non-time filters) and
  **returning** otherwise.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vigil.dwell.filters import (
    AnalyticsFilter,
    dimension_sql,
    event_where,
    period_condition,
    session_where,
)
from vigil.dwell.pairing import STATUSES
from vigil.dwell.reader import SqlReader

__all__ = [
    "SESSION_LIST_COLUMNS",
    "count_events",
    "count_sessions",
    "session_stats",
    "sessions_page",
    "status_counts",
    "visitor_counts",
]

SESSION_LIST_COLUMNS = (
    "subject_id", "source_id", "zone", "entry_ts", "exit_ts", "duration_ms", "status",
    "local_date", "entry_event_id", "exit_event_id", "attributes",
)
PERIODS = ("day", "week", "month")


def _select_dims(dims: tuple[str, ...]) -> tuple[str, str]:
    """``expr AS "dim", …`` for the SELECT list and the GROUP BY / ORDER BY positions."""
    if not dims:
        return "", ""
    select = "".join(f'{dimension_sql(d)} AS "{d}", ' for d in dims)
    positions = ", ".join(str(i + 1) for i in range(len(dims)))
    return select, positions


def session_stats(reader: SqlReader, flt: AnalyticsFilter, dims: tuple[str, ...] = (),
                  limit: int | None = None, offset: int = 0) -> pa.Table:
    """Per group of ``dims`` (one row overall when empty): sessions per status, persons,
    cameras and complete-session duration statistics in ms; ``groups`` is the number of
    groups before paging.

    Two aggregates over the filter's sessions: one per (group, person) for the persons
    (a GROUP BY is cheaper than two DISTINCT counts), and one per group for the rest. They
    meet in a UNION ALL regrouped by the dimensions (a NULL dimension value is one group
    there, as in any GROUP BY), so no join is needed."""
    where, params = session_where(flt)
    select, _ = _select_dims(dims)
    names = "".join(f'"{d}", ' for d in dims)
    group = f"GROUP BY {names.rstrip(', ')}" if dims else ""
    null_int, null_real = "CAST(NULL AS BIGINT)", "CAST(NULL AS DOUBLE PRECISION)"
    counts = "".join(f"count(*) FILTER (WHERE status = '{s}') AS {s}, " for s in STATUSES)
    totals = "".join(f"CAST(coalesce(sum({s}), 0) AS BIGINT) AS {s}, " for s in STATUSES)
    sql = f"""
        WITH parts ({names} persons, with_complete, sessions, {", ".join(STATUSES)},
                    n_complete, total, top, cameras, median, p90) AS (
            SELECT {names} count(*), count(*) FILTER (WHERE n_complete > 0),
                   {", ".join([null_int] * (len(STATUSES) + 5))}, {null_real}, {null_real}
            FROM (SELECT {select} count(duration_ms) AS n_complete
                  FROM sessions WHERE {where} GROUP BY {names} person_key) per_person
            {group}
            UNION ALL
            SELECT {names} {null_int}, {null_int}, sessions, {", ".join(STATUSES)},
                   n_complete, total, top, cameras, q[1], q[2]
            FROM (SELECT {select} count(*) AS sessions, {counts}
                         count(duration_ms) AS n_complete, sum(duration_ms) AS total,
                         max(duration_ms) AS top, count(DISTINCT source_id) AS cameras,
                         percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY duration_ms)
                             AS q
                  FROM sessions WHERE {where} {_positions(dims, "GROUP BY")}) spread
        )
        SELECT {names}
               CAST(coalesce(sum(sessions), 0) AS BIGINT) AS sessions, {totals}
               CAST(coalesce(sum(persons), 0) AS BIGINT) AS persons,
               CAST(coalesce(sum(with_complete), 0) AS BIGINT) AS persons_with_complete,
               CAST(coalesce(max(cameras), 0) AS BIGINT) AS cameras,
               CAST(sum(total) AS BIGINT) AS total_ms,
               CAST(sum(total) AS DOUBLE PRECISION) / nullif(sum(n_complete), 0) AS mean_ms,
               CAST(max(median) AS DOUBLE PRECISION) AS median_ms,
               CAST(max(p90) AS DOUBLE PRECISION) AS p90_ms,
               CAST(max(top) AS BIGINT) AS max_ms,
               count(*) OVER () AS groups
        FROM parts
        {f"{group} ORDER BY {names.rstrip(', ')}" if dims else ""}"""
    return reader.read_table(_paged(sql, limit, offset), [*params, *params])


def _positions(dims: tuple[str, ...], clause: str) -> str:
    """``GROUP BY 1, 2`` (``clause`` and the dimensions' positions), or nothing."""
    return f"{clause} {', '.join(str(i + 1) for i in range(len(dims)))}" if dims else ""


def status_counts(reader: SqlReader, flt: AnalyticsFilter,
                  statuses: tuple[str, ...] = STATUSES) -> dict[str, int]:
    """How many of the filter's sessions there are per status (each of ``statuses``; the
    others' rows are not read)."""
    where, params = session_where(flt)
    wanted = ", ".join(f"'{status}'" for status in statuses if status in STATUSES)
    table = reader.read_table(
        f"SELECT status, count(*) AS n FROM sessions WHERE {where} AND status IN ({wanted}) "
        "GROUP BY status", params)
    found = dict(zip(table.column("status").to_pylist(), table.column("n").to_pylist(),
                     strict=True))
    return {status: int(found.get(status, 0)) for status in statuses}


def count_events(reader: SqlReader, flt: AnalyticsFilter) -> int:
    """How many events the filter covers (all types)."""
    where, params = event_where(flt)
    table = reader.read_table(f"SELECT count(*) AS n FROM events WHERE {where}", params)
    return int(table.column("n")[0].as_py())


def visitor_counts(reader: SqlReader, flt: AnalyticsFilter, period: str,
                   dims: tuple[str, ...] = ()) -> tuple[pa.Table, pa.Table]:
    """Visitors per period (``day``, ``week`` or ``month``, by its first local day) and
    group: ``visitors``, ``new_visitors``, ``returning_visitors``; and per group how many
    persons visited on exactly ``visit_days`` distinct local days.

    One statement: the distinct visit days of each person (and group) under the filter
    without its period, each marked whether it lies in the period; per person the first
    period ever and the first in the selected period (a person is new in a period exactly
    when it is both: the first ever is never later than the first selected); then three
    counts in one UNION ALL (``part`` 0: visitors per period, 1: new visitors per period,
    2: persons per number of visit days)."""
    period_sql = dimension_sql(period, "period")
    where, params = session_where(flt.without_time())
    selected, selected_params = period_condition(flt)
    select, _ = _select_dims(dims)
    names = "".join(f'"{d}", ' for d in dims)
    # a day is its own period: each person then has one selected row per period
    visitors = "count(*)" if period == "day" else "count(DISTINCT person_key)"
    sql = f"""
        WITH days AS (
            SELECT DISTINCT {select} person_key, local_date, {period_sql} AS period,
                   CASE WHEN {selected} THEN 1 ELSE 0 END AS selected
            FROM sessions WHERE {where}
        ), per_person AS (
            SELECT {names} min(period) AS first_ever,
                   min(period) FILTER (WHERE selected = 1) AS first_selected,
                   count(*) FILTER (WHERE selected = 1) AS visit_days
            FROM days GROUP BY {names} person_key
        ), counts (part, period, {names} n, visit_days) AS (
            SELECT 0, period, {names} {visitors}, CAST(NULL AS BIGINT)
            FROM days WHERE selected = 1 GROUP BY {names} period
            UNION ALL
            SELECT 1, first_selected, {names} count(*), CAST(NULL AS BIGINT)
            FROM per_person WHERE first_selected = first_ever
            GROUP BY {names} first_selected
            UNION ALL
            SELECT 2, CAST(NULL AS DATE), {names} count(*), visit_days
            FROM per_person WHERE visit_days > 0 GROUP BY {names} visit_days
        )
        SELECT * FROM counts ORDER BY part, period, {names} visit_days"""
    table = reader.read_table(sql, [*selected_params, *params])
    return _period_rows(table, dims), _frequency_rows(table, dims)


def _period_rows(counts: pa.Table, dims: tuple[str, ...]) -> pa.Table:
    """Parts 0 and 1 of :func:`visitor_counts` as one row per period and group."""
    part = counts.column("part")
    keys = ["period", *dims]
    visits = counts.filter(pc.equal(part, 0)).select([*keys, "n"])
    new = counts.filter(pc.equal(part, 1)).select([*keys, "n"])
    found = {tuple(row[k] for k in keys): row["n"] for row in new.to_pylist()}
    new_counts = [int(found.get(tuple(row[k] for k in keys), 0)) for row in visits.to_pylist()]
    visitors = visits.column("n").cast(pa.int64())
    news = pa.array(new_counts, pa.int64())
    return visits.select(keys).append_column("visitors", visitors).append_column(
        "new_visitors", news).append_column("returning_visitors", pc.subtract(visitors, news))


def _frequency_rows(counts: pa.Table, dims: tuple[str, ...]) -> pa.Table:
    """Part 2 of :func:`visitor_counts`: persons per group and number of visit days."""
    rows = counts.filter(pc.equal(counts.column("part"), 2))
    return pa.table({**{d: rows.column(d) for d in dims},
                     "visit_days": rows.column("visit_days").cast(pa.int64()),
                     "persons": rows.column("n").cast(pa.int64())})


def sessions_page(reader: SqlReader, flt: AnalyticsFilter, limit: int,
                  offset: int = 0) -> pa.Table:
    """The filter's sessions by entry (or orphan exit) time, one page (a top-N: the
    engine keeps only ``offset + limit`` rows while it reads)."""
    where, params = session_where(flt)
    sql = f"""SELECT {", ".join(SESSION_LIST_COLUMNS)}
              FROM sessions WHERE {where}
              ORDER BY anchor_ts, subject_id, source_id, zone, status, entry_event_id,
                       exit_event_id"""
    return reader.read_table(_paged(sql, limit, offset), params)


def count_sessions(reader: SqlReader, flt: AnalyticsFilter) -> int:
    """How many sessions the filter selects."""
    where, params = session_where(flt)
    table = reader.read_table(f"SELECT count(*) AS n FROM sessions WHERE {where}", params)
    return int(table.column("n")[0].as_py())


def newest_event_time(reader: SqlReader) -> Any:
    """The newest event time of all data (open sessions last until then)."""
    return reader.read_table("SELECT max(ts) AS ts FROM events").column("ts")[0].as_py()


def _paged(sql: str, limit: int | None, offset: int) -> str:
    """``sql`` with LIMIT/OFFSET when a page size is given (values are checked ints)."""
    if limit is None:
        return sql
    return f"{sql}\nLIMIT {int(limit)} OFFSET {int(offset)}"
