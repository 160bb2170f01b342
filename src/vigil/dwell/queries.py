"""The analytic queries over ``sessions`` and ``events``, written once as portable SQL.

Each function renders one statement that DuckDB and PostgreSQL both run unchanged (window
functions, ``FILTER``, ``percentile_cont … WITHIN GROUP``, ``->>`` on JSON) and runs it on a
:class:`~vigil.dwell.reader.SqlReader`. Definitions:

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

from vigil.dwell.filters import AnalyticsFilter, dimension_sql, event_where, session_where
from vigil.dwell.pairing import STATUSES
from vigil.dwell.reader import SqlReader

__all__ = [
    "SESSION_LIST_COLUMNS",
    "count_events",
    "session_stats",
    "sessions_page",
    "status_counts",
    "visit_frequency",
    "visitors_by_period",
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
    groups before paging."""
    where, params = session_where(flt)
    select, positions = _select_dims(dims)
    status_counts = "".join(
        f"count(*) FILTER (WHERE status = '{status}') AS {status}, " for status in STATUSES)
    sql = f"""
        SELECT {select}
               count(*) AS sessions, {status_counts}
               count(DISTINCT subject_id) AS persons,
               count(DISTINCT subject_id) FILTER (WHERE duration_ms IS NOT NULL)
                   AS persons_with_complete,
               count(DISTINCT source_id) AS cameras,
               CAST(sum(duration_ms) AS BIGINT) AS total_ms,
               CAST(avg(duration_ms) AS DOUBLE PRECISION) AS mean_ms,
               CAST(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
                    AS DOUBLE PRECISION) AS median_ms,
               CAST(percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms)
                    AS DOUBLE PRECISION) AS p90_ms,
               max(duration_ms) AS max_ms,
               count(*) OVER () AS groups
        FROM sessions WHERE {where}
        {f"GROUP BY {positions} ORDER BY {positions}" if dims else ""}"""
    return reader.read_table(_paged(sql, limit, offset), params)


def status_counts(reader: SqlReader, flt: AnalyticsFilter) -> dict[str, int]:
    """How many of the filter's sessions there are per status (every status present)."""
    where, params = session_where(flt)
    table = reader.read_table(
        f"SELECT status, count(*) AS n FROM sessions WHERE {where} GROUP BY status", params)
    found = dict(zip(table.column("status").to_pylist(), table.column("n").to_pylist(),
                     strict=True))
    return {status: int(found.get(status, 0)) for status in STATUSES}


def count_events(reader: SqlReader, flt: AnalyticsFilter) -> int:
    """How many events the filter covers (all types)."""
    where, params = event_where(flt)
    table = reader.read_table(f"SELECT count(*) AS n FROM events WHERE {where}", params)
    return int(table.column("n")[0].as_py())


def visitors_by_period(reader: SqlReader, flt: AnalyticsFilter, period: str,
                       dims: tuple[str, ...] = ()) -> pa.Table:
    """Per period (``day``, ``week`` or ``month``, by its first local day) and group:
    unique, new and returning visitors."""
    period_sql = dimension_sql(period, "period")
    where, params = session_where(flt)
    all_time, all_time_params = session_where(flt.without_time())
    select, _ = _select_dims(dims)
    group = "".join(f', "{d}"' for d in dims)
    same_group = "".join(f' AND v."{d}" IS NOT DISTINCT FROM f."{d}"' for d in dims)
    sql = f"""
        WITH visits AS (
            SELECT DISTINCT {select} subject_id, {period_sql} AS period
            FROM sessions WHERE {where}
        ), first_seen AS (
            SELECT {select} subject_id, min(local_date) AS first_day
            FROM sessions WHERE {all_time} GROUP BY subject_id{group}
        )
        SELECT v.period{"".join(f', v."{d}"' for d in dims)},
               count(*) AS visitors,
               count(*) FILTER (WHERE f.first_day >= v.period) AS new_visitors,
               count(*) FILTER (WHERE f.first_day < v.period) AS returning_visitors
        FROM visits v JOIN first_seen f ON v.subject_id = f.subject_id{same_group}
        GROUP BY v.period{"".join(f', v."{d}"' for d in dims)}
        ORDER BY v.period{"".join(f', v."{d}"' for d in dims)}"""
    return reader.read_table(sql, [*params, *all_time_params])


def visit_frequency(reader: SqlReader, flt: AnalyticsFilter,
                    dims: tuple[str, ...] = ()) -> pa.Table:
    """Per group: how many persons visited on exactly ``visit_days`` distinct local days."""
    where, params = session_where(flt)
    select, _ = _select_dims(dims)
    group = "".join(f', "{d}"' for d in dims)
    sql = f"""
        WITH per_person AS (
            SELECT {select} subject_id, count(DISTINCT local_date) AS visit_days
            FROM sessions WHERE {where} GROUP BY subject_id{group}
        )
        SELECT {"".join(f'"{d}", ' for d in dims)}visit_days, count(*) AS persons
        FROM per_person GROUP BY visit_days{group} ORDER BY {"".join(f'"{d}", ' for d in dims)}
        visit_days"""
    return reader.read_table(sql, params)


def sessions_page(reader: SqlReader, flt: AnalyticsFilter, limit: int,
                  offset: int = 0) -> pa.Table:
    """The filter's sessions by entry (or orphan exit) time, one page; ``total`` is the
    number of matching sessions."""
    where, params = session_where(flt)
    sql = f"""SELECT {", ".join(SESSION_LIST_COLUMNS)}, count(*) OVER () AS total
              FROM sessions WHERE {where}
              ORDER BY anchor_ts, subject_id, source_id, zone, status"""
    return reader.read_table(_paged(sql, limit, offset), params)


def newest_event_time(reader: SqlReader) -> Any:
    """The newest event time of all data (open sessions last until then)."""
    return reader.read_table("SELECT max(ts) AS ts FROM events").column("ts")[0].as_py()


def _paged(sql: str, limit: int | None, offset: int) -> str:
    """``sql`` with LIMIT/OFFSET when a page size is given (values are checked ints)."""
    if limit is None:
        return sql
    return f"{sql}\nLIMIT {int(limit)} OFFSET {int(offset)}"
