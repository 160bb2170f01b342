"""Dwell, occupancy, visitor and KPI answers as JSON-ready dictionaries.

:class:`DwellAnalytics` runs the portable queries of :mod:`vigil.dwell.queries` on any
:class:`~vigil.dwell.reader.SqlReader` (a store, or Arrow tables in memory) and shapes the
results for the API, the CLI and the HTML report: tables as lists of rows, and chart-ready
``series`` (x values and y values per metric). Durations are milliseconds; local dates are
``datetime.date`` values, instants are time-zone-aware datetimes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from vigil.dwell.buckets import bucket_edges, local_midnight_ms
from vigil.dwell.filters import (
    ATTRIBUTE_PREFIX,
    TIME_DIMENSIONS,
    AnalyticsError,
    AnalyticsFilter,
    check_dimensions,
    dimension_sql,
    session_where,
)
from vigil.dwell.occupancy import occupancy
from vigil.dwell.pairing import STATUSES
from vigil.dwell.queries import (
    PERIODS,
    count_events,
    count_sessions,
    newest_event_time,
    session_stats,
    sessions_page,
    status_counts,
    visitor_counts,
)
from vigil.dwell.reader import SqlReader

__all__ = ["DwellAnalytics", "GROUP_DIMENSIONS", "STAT_COLUMNS"]

GROUP_DIMENSIONS = ("camera", "zone", ATTRIBUTE_PREFIX)
STAT_COLUMNS = ("mean_ms", "median_ms", "p90_ms", "max_ms", "total_ms")
_UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)


class DwellAnalytics:
    """The analytics of one data set; ``timezones`` maps camera ids to IANA zones.

    A statistics query asked again of the same object (e.g. the overall row behind both the
    KPIs and the overall dwell) is answered from the first run: use one object per request
    or report, and a new one to see data stored since (:func:`~vigil.dwell.service.
    store_analytics` makes one per call)."""

    def __init__(self, reader: SqlReader, timezones: Mapping[str, str],
                 default_timezone: str = "UTC") -> None:
        self.reader = reader
        self.timezones = dict(timezones)
        self.default_timezone = default_timezone
        self._stats_memo: dict[tuple[Any, ...], pa.Table] = {}

    def _stats(self, flt: AnalyticsFilter, dims: tuple[str, ...] = (),
               limit: int | None = None, offset: int = 0) -> pa.Table:
        """:func:`session_stats`, run once per filter, dimensions and page."""
        key = (repr(flt), dims, limit, offset)
        if key not in self._stats_memo:
            self._stats_memo[key] = session_stats(self.reader, flt, dims, limit, offset)
        return self._stats_memo[key]

    def _status_counts(self, flt: AnalyticsFilter,
                       statuses: tuple[str, ...] = STATUSES) -> dict[str, int]:
        """Sessions per status (of ``statuses``): from the overall statistics when they
        were computed."""
        overall = self._stats_memo.get((repr(flt), (), None, 0))
        if overall is None:
            return status_counts(self.reader, flt, statuses)
        row = overall.to_pylist()[0]
        return {status: int(row[status]) for status in statuses}

    # -- KPIs and dwell ----------------------------------------------------------------------
    def kpis(self, flt: AnalyticsFilter, group_by: tuple[str, ...] = ()) -> dict[str, Any]:
        """Headline figures overall (and per group of camera, zone or attribute)."""
        flt = _zone_grouping(flt, group_by)
        check_dimensions(group_by, GROUP_DIMENSIONS)
        overall = _kpi_row(self._stats(flt).to_pylist()[0])
        overall["events_processed"] = count_events(self.reader, flt)
        result: dict[str, Any] = {"filter": describe_filter(flt), "kpis": overall}
        if group_by:
            rows = self._stats(flt, group_by).to_pylist()
            result["groups"] = [{**{d: row[d] for d in group_by}, **_kpi_row(row)}
                                for row in rows]
        return result

    def dwell(self, flt: AnalyticsFilter, group_by: tuple[str, ...] = (),
              limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        """Dwell statistics per group of person, camera, zone, hour, weekday, day, week,
        month or attribute (overall when ``group_by`` is empty); one page of groups."""
        flt = _zone_grouping(flt, group_by)
        check_dimensions(group_by)
        if group_by:
            table = page = self._stats(flt, group_by, limit, offset)
        else:  # one row: the same as the KPIs', paged here
            table = self._stats(flt)
            page = table.slice(offset, table.num_rows if limit is None else limit)
        rows = [_dwell_row(row, group_by) for row in page.to_pylist()]
        if table.num_rows:
            groups = int(table.column("groups")[0].as_py())
        else:  # past the last page: count the groups on their own
            first = self._stats(flt, group_by, 1, 0)
            groups = int(first.column("groups")[0].as_py()) if first.num_rows else 0
        result: dict[str, Any] = {"filter": describe_filter(flt), "group_by": list(group_by),
                                  "rows": rows, "total_groups": groups,
                                  "series": _series(rows, group_by,
                                                    ("complete", "mean_ms", "median_ms",
                                                     "p90_ms"))}
        return result

    def histogram(self, flt: AnalyticsFilter, edges_ms: tuple[int, ...]) -> dict[str, Any]:
        """Complete sessions per dwell-time bin ``[edges[i], edges[i + 1])`` (the last bin
        is open-ended). Counted in the overall statistics' scan: asked before
        :meth:`dwell` or :meth:`kpis` of the same filter, both share one query."""
        where, params = session_where(flt)
        cases = " ".join(f"WHEN duration_ms >= {int(edge)} THEN {i}"
                         for i, edge in reversed(list(enumerate(edges_ms))))
        table = self.reader.read_table(
            f"SELECT CASE {cases} ELSE -1 END AS bin, count(*) AS n FROM sessions "
            f"WHERE {where} AND duration_ms IS NOT NULL GROUP BY 1 ORDER BY 1", params)
        counts = dict(zip(table.column("bin").to_pylist(), table.column("n").to_pylist(),
                          strict=True))
        return {"edges_ms": list(edges_ms),
                "counts": [int(counts.get(i, 0)) for i in range(len(edges_ms))]}

    # -- visitors ----------------------------------------------------------------------------
    def visitors(self, flt: AnalyticsFilter, period: str = "day",
                 group_by: tuple[str, ...] = ()) -> dict[str, Any]:
        """Unique, new and returning visitors per period; repeat visitors and the
        visit-frequency distribution over the whole selection."""
        if period not in PERIODS:
            raise AnalyticsError("period", f"period must be one of {', '.join(PERIODS)}")
        flt = _zone_grouping(flt, group_by)
        check_dimensions(group_by, GROUP_DIMENSIONS)
        period_table, frequency_table = visitor_counts(self.reader, flt, period, group_by)
        periods, frequency = period_table.to_pylist(), frequency_table.to_pylist()
        totals: dict[tuple[Any, ...], dict[str, int]] = {}
        for row in frequency:
            key = tuple(row[d] for d in group_by)
            entry = totals.setdefault(key, {"unique_visitors": 0, "repeat_visitors": 0})
            entry["unique_visitors"] += row["persons"]
            entry["repeat_visitors"] += row["persons"] if row["visit_days"] >= 2 else 0
        overall = _frequency_totals(frequency)
        return {
            "filter": describe_filter(flt), "period": period, "group_by": list(group_by),
            **overall,
            "groups": [{**dict(zip(group_by, key, strict=True)), **counts}
                       for key, counts in totals.items()] if group_by else [],
            "periods": periods,
            "frequency": frequency,
            "series": _series(periods, ("period", *group_by),
                              ("visitors", "new_visitors", "returning_visitors"),
                              x="period"),
        }

    # -- occupancy ---------------------------------------------------------------------------
    def occupancy(self, flt: AnalyticsFilter, bucket: str = "hour",
                  group_by: tuple[str, ...] = (), timezone: str | None = None
                  ) -> dict[str, Any]:
        """Maximum and time-weighted mean presence per bucket, overall and per group.

        Without a period the buckets cover the data; with one, they cover exactly the
        period (the first and last bucket may be cut short). ``x`` holds the bucket starts
        and ``end`` the end of the last bucket, in local time."""
        flt = _zone_grouping(flt, group_by)
        check_dimensions(group_by, GROUP_DIMENSIONS)
        zone_name = timezone or self._timezone_of(flt)
        data_end = newest_event_time(self.reader)
        intervals = self._intervals(flt, group_by, data_end)
        skipped = self._status_counts(flt, ("timed_out", "orphan_exit"))
        first, last = self._range_ms(flt, intervals, zone_name)
        result: dict[str, Any] = {"filter": describe_filter(flt), "bucket": bucket,
                                  "timezone": zone_name, "group_by": list(group_by),
                                  "sessions_left_out": skipped, "series": []}
        if first is None or last is None:
            return result
        edges = bucket_edges(bucket, first, last, zone_name)
        if _has_period(flt):  # buckets cut at the requested period's bounds
            edges = np.unique(np.clip(edges, first, max(last, first + 1)))
        labels = [_local_iso(ms, zone_name) for ms in edges[:-1]]
        result["end"] = _local_iso(int(edges[-1]), zone_name)
        starts = intervals.column("start_ms").to_numpy()
        ends = intervals.column("end_ms").to_numpy()
        overlapping = (starts < ends) & (starts < edges[-1]) & (ends > edges[0])
        if not overlapping.all():
            starts, ends = starts[overlapping], ends[overlapping]
        groups: list[tuple[dict[str, Any], np.ndarray[Any, Any] | None]] = [({}, None)]
        if group_by:
            intervals = intervals.filter(pa.array(overlapping))
            codes = _group_codes(intervals, group_by)
            found = []
            for code in np.unique(codes):
                mask = codes == code
                row = intervals.filter(pa.array(mask)).slice(0, 1).to_pylist()[0]
                found.append(({d: row[d] for d in group_by}, mask))
            groups.extend(sorted(found, key=lambda g: tuple(str(g[0][d]) for d in group_by)))
        for key, mask in groups:
            series = (occupancy(starts, ends, edges) if mask is None
                      else occupancy(starts[mask], ends[mask], edges))
            result["series"].append({"key": key, "x": labels,
                                     "max": series.max.tolist(),
                                     "mean": [round(v, 6) for v in series.mean.tolist()]})
        return result

    def _intervals(self, flt: AnalyticsFilter, group_by: tuple[str, ...],
                   data_end: dt.datetime | None) -> pa.Table:
        """Presence intervals (ms) of complete and open sessions that may overlap the
        filter's range."""
        where, params = session_where(flt.without_time())
        overlap, overlap_params = _overlap(flt)
        select = "".join(f'{dimension_sql(d)} AS "{d}", ' for d in group_by)
        end = data_end or _EPOCH
        table = self.reader.read_table(
            f"""SELECT {select} entry_ts,
                       CASE WHEN status = 'open' THEN CAST(? AS TIMESTAMPTZ) ELSE exit_ts END
                           AS end_ts
                FROM sessions
                WHERE {where} AND {overlap} AND status IN ('complete', 'open')""",
            [end, *params, *overlap_params])
        starts = _ms(table.column("entry_ts"))
        ends = _ms(table.column("end_ts"))
        columns = {d: table.column(d) for d in group_by}
        return pa.table({**columns, "start_ms": starts, "end_ms": ends})

    def _range_ms(self, flt: AnalyticsFilter, intervals: pa.Table,
                  zone_name: str) -> tuple[int | None, int | None]:
        """The covered range: the filter's bounds where given, else the data's."""
        first = last = None
        if intervals.num_rows:
            first = int(pc.min(intervals.column("start_ms")).as_py())
            last = int(pc.max(intervals.column("end_ms")).as_py())
        if flt.start_date is not None:
            first = local_midnight_ms(flt.start_date, zone_name)
        if flt.end_date is not None:
            last = local_midnight_ms(flt.end_date + dt.timedelta(days=1), zone_name)
        if flt.start is not None:
            first = _instant_ms(flt.start)
        if flt.end is not None:
            last = _instant_ms(flt.end)
        return first, last

    def _timezone_of(self, flt: AnalyticsFilter) -> str:
        """The selected cameras' zone when they share one; else the default zone."""
        cameras = flt.cameras or tuple(self.timezones)
        zones = {self.timezones.get(c, self.default_timezone) for c in cameras}
        return zones.pop() if len(zones) == 1 else self.default_timezone

    # -- sessions ----------------------------------------------------------------------------
    def sessions(self, flt: AnalyticsFilter, limit: int, offset: int = 0) -> dict[str, Any]:
        """One page of sessions, oldest first, with the total."""
        rows = sessions_page(self.reader, flt, limit, offset).to_pylist()
        for row in rows:
            if isinstance(row["attributes"], str):
                row["attributes"] = orjson.loads(row["attributes"])
        if rows and len(rows) < limit or not rows and not offset:  # the last page
            total = offset + len(rows)
        else:
            total = count_sessions(self.reader, flt)
        next_offset = offset + len(rows) if offset + len(rows) < total else None
        return {"filter": describe_filter(flt), "sessions": rows, "total": total,
                "next_offset": next_offset}


def _zone_grouping(flt: AnalyticsFilter, group_by: tuple[str, ...]) -> AnalyticsFilter:
    """Grouping by zone reads the sessions paired per zone."""
    if "zone" in group_by and flt.by != "zone":
        return AnalyticsFilter(**{**flt.__dict__, "by": "zone"})
    return flt


def _has_period(flt: AnalyticsFilter) -> bool:
    """Whether the filter bounds time."""
    return any(v is not None for v in (flt.start_date, flt.end_date, flt.start, flt.end))


def _kpi_row(row: dict[str, Any]) -> dict[str, Any]:
    """The KPI fields of a statistics row."""
    complete = int(row["complete"])
    persons = int(row["persons_with_complete"])
    return {
        "unique_visitors": int(row["persons"]),
        "cameras_with_activity": int(row["cameras"]),
        "sessions": {status: int(row[status]) for status in STATUSES},
        "complete_sessions": complete,
        "incomplete_sessions": int(row["sessions"]) - complete,
        "average_dwell_per_person_ms": (int(row["total_ms"]) / persons) if persons else None,
        "mean_dwell_ms": row["mean_ms"],
        "median_dwell_ms": row["median_ms"],
        "max_dwell_ms": row["max_ms"],
        "total_dwell_ms": int(row["total_ms"] or 0),
    }


def _dwell_row(row: dict[str, Any], group_by: tuple[str, ...]) -> dict[str, Any]:
    """One group's dwell statistics."""
    return {
        **{d: row[d] for d in group_by},
        **{status: int(row[status]) for status in STATUSES},
        "persons": int(row["persons"]),
        "mean_ms": row["mean_ms"],
        "median_ms": row["median_ms"],
        "p90_ms": row["p90_ms"],
        "max_ms": row["max_ms"],
        "total_ms": int(row["total_ms"] or 0),
    }


def _frequency_totals(frequency: list[dict[str, Any]]) -> dict[str, int]:
    """Unique and repeat visitors over all groups' rows (a person counts once per group)."""
    return {"unique_visitors": sum(int(r["persons"]) for r in frequency),
            "repeat_visitors": sum(int(r["persons"]) for r in frequency
                                   if r["visit_days"] >= 2)}


def _series(rows: list[dict[str, Any]], dims: tuple[str, ...], metrics: tuple[str, ...],
            x: str | None = None) -> list[dict[str, Any]]:
    """Chart-ready series: with a time dimension as x, one series per value of the other
    dimensions, each ``{"key", "x", <metric>: [...]}``."""
    x = x or next((d for d in dims if d in TIME_DIMENSIONS), None)
    if x is None:
        return []
    others = tuple(d for d in dims if d != x)
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[d] for d in others)
        series = grouped.setdefault(key, {"key": dict(zip(others, key, strict=True)), "x": [],
                                          **{m: [] for m in metrics}})
        series["x"].append(row[x])
        for metric in metrics:
            series[metric].append(row[metric])
    return list(grouped.values())


def describe_filter(flt: AnalyticsFilter) -> dict[str, Any]:
    """The filter as given, for the response."""
    return {"from": flt.start_date or flt.start, "to": flt.end_date or flt.end,
            "cameras": list(flt.cameras), "zone": flt.zone, "person": flt.person,
            "attributes": dict(flt.attributes), "by": flt.by}


def _overlap(flt: AnalyticsFilter) -> tuple[str, list[Any]]:
    """Sessions whose presence may overlap the filter's period: anchored up to two days
    before its first local date (sessions last at most a day), before its end."""
    conditions, params = ["TRUE"], []
    if flt.start_date is not None:
        conditions.append("local_date >= ?")
        params.append(flt.start_date - dt.timedelta(days=2))
    if flt.end_date is not None:
        conditions.append("local_date <= ?")
        params.append(flt.end_date)
    if flt.end is not None:
        conditions.append("anchor_ts < ?")
        params.append(flt.end)
    return " AND ".join(conditions), params


def _ms(column: pa.ChunkedArray) -> pa.Array:
    """Timestamps as whole milliseconds since the epoch (floored)."""
    micros = pc.cast(column, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
    return pa.array(np.floor_divide(micros, 1000))


def _group_codes(table: pa.Table, dims: tuple[str, ...]) -> np.ndarray[Any, Any]:
    """One integer per row for its combination of the ``dims`` values."""
    codes = np.zeros(table.num_rows, dtype=np.int64)
    for dim in dims:
        encoded = pc.dictionary_encode(table.column(dim).combine_chunks())
        indices = pc.fill_null(encoded.indices, -1).to_numpy() + 1
        codes = codes * (len(encoded.dictionary) + 1) + indices
    return codes


def _instant_ms(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def _local_iso(ms: int, timezone: str) -> str:
    """An instant (ms since the epoch) as ISO 8601 local time in ``timezone``."""
    return (_EPOCH + dt.timedelta(milliseconds=int(ms))).astimezone(ZoneInfo(timezone)
                                                                     ).isoformat()
