"""A source's events per local day or hour with the band the previous weeks lead one to
expect (see :mod:`vigil.baseline.activity` for its definition)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query

from vigil.api.auth import require
from vigil.api.errors import ApiError
from vigil.api.state import AppState, app_state
from vigil.baseline.activity import Activity, Bucket, compute_activity, history_start
from vigil.model import ALL_LABELS
from vigil.store import Store

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "router"]

router = APIRouter(prefix="/api/v1", tags=["baselines"])
DEFAULT_DAYS = 14  # the range when ``from`` is not given, ``to`` included
MAX_DAYS = 366
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIRST_DAY = (f"SELECT min(local_date) AS first_day FROM hourly_counts "
              f"WHERE source_id = ? AND label = '{ALL_LABELS}'")


def _local_date(value: str | None, field: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` date; a 422 naming ``field`` for anything else."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ApiError(422, f"{field} must be a local date like 2026-03-01, not {value!r}",
                       field) from exc


def date_range(start: str | None, end: str | None, timezone: str, now: dt.datetime
               ) -> tuple[dt.date, dt.date]:
    """The local days asked for: ``to`` defaults to today in ``timezone`` (at ``now``),
    ``from`` to the 14 days ending there; a 422 naming the field for a reversed or too long
    range."""
    first, last = _local_date(start, "from"), _local_date(end, "to")
    last = last or now.astimezone(ZoneInfo(timezone)).date()
    first = first or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        field = "to" if end else "from"
        raise ApiError(422, f"from ({first}) is after to ({last})", field)
    if (last - first).days + 1 > MAX_DAYS:
        raise ApiError(422, f"the range from {first} to {last} is over {MAX_DAYS} days", "from")
    return first, last


def _first_day(store: Store, source_id: str) -> dt.date | None:
    """The source's first local day with hourly counts."""
    found = store.read_analytics(_FIRST_DAY, [source_id]).column("first_day")[0].as_py()
    return found if isinstance(found, dt.date) else None


def _utc(instant: dt.datetime) -> str:
    """An instant as ISO 8601 in UTC with ``Z``."""
    return instant.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _body(source_id: str, timezone: str, bucket: Bucket, first: dt.date, last: dt.date,
          weeks: int, activity: Activity) -> dict[str, Any]:
    """The JSON answer."""
    points = [{"start": p.start.isoformat(), "utc": _utc(p.utc), "count": p.count,
               "expected": p.expected, "low": p.low, "high": p.high,
               "weeks_seen": p.weeks_seen} for p in activity.points]
    return {"source_id": source_id, "timezone": timezone, "bucket": bucket,
            "from": first.isoformat(), "to": last.isoformat(), "weeks": weeks,
            "points": points, "labels": activity.labels, "total": activity.total}


@router.get("/cameras/{source_id}/activity", dependencies=[Depends(require("read"))])
@router.get("/sources/{source_id}/activity", dependencies=[Depends(require("read"))])
def source_activity(
    source_id: str,
    start: str | None = Query(None, alias="from", description="first local day (2026-03-01, "
                              "inclusive; default: 13 days before to)"),
    end: str | None = Query(None, alias="to", description="last local day (inclusive; "
                            "default: today in the source's zone)"),
    bucket: Bucket = Query("day", description="points per local day or per local hour"),
    weeks: int = Query(4, ge=1, le=52, description="previous weeks the expectation uses"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Events per bucket in the source's local time, each with the expected value and band
    from the same weekday (and hour) of the previous ``weeks`` weeks (``null`` while fewer
    than two of them lie on or after the source's first day), the events per label and in
    all over the range."""
    timezone = state.store.source_timezones().get(source_id)
    if timezone is None:
        raise ApiError(404, f"no source {source_id!r}", "source_id")
    first, last = date_range(start, end, timezone, dt.datetime.now(dt.UTC))

    def compute() -> dict[str, Any]:
        rows = state.store.hourly_totals(source_id, history_start(first, weeks), last)
        activity = compute_activity(rows, timezone, first, last, bucket, weeks,
                                    _first_day(state.store, source_id))
        return _body(source_id, timezone, bucket, first, last, weeks, activity)

    key = f"activity:{source_id}|{timezone}|{first}|{last}|{bucket}|{weeks}"
    return state.cache.get_or_compute(key, compute, state.settings.cache_ttl_seconds)


_TODAY_TOTALS = (f"SELECT source_id, local_date, local_hour, "
                 f"CAST(sum(event_count) AS BIGINT) AS events FROM hourly_counts "
                 f"WHERE label = '{ALL_LABELS}' AND local_date BETWEEN ? AND ? "
                 f"GROUP BY source_id, local_date, local_hour")
_FIRST_DAYS = (f"SELECT source_id, min(local_date) AS first_day FROM hourly_counts "
               f"WHERE label = '{ALL_LABELS}' GROUP BY source_id")


def _rows_by_source(store: Store, start: dt.date, end: dt.date
                    ) -> dict[str, list[tuple[Any, ...]]]:
    """The all-labels hourly totals of local days ``start``-``end``, per source, in the
    ``(local_date, local_hour, label, events)`` form of :func:`compute_activity`."""
    table = store.read_analytics(_TODAY_TOTALS, [start, end])
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    columns = [table.column(name).to_pylist()
               for name in ("source_id", "local_date", "local_hour", "events")]
    for source_id, local_date, local_hour, events in zip(*columns, strict=True):
        grouped.setdefault(source_id, []).append((local_date, local_hour, ALL_LABELS, events))
    return grouped


@router.get("/activity", dependencies=[Depends(require("read"))])
def activity_today(
    day: str | None = Query(None, alias="date", description="local day of every source "
                            "(default: today in each source's own zone)"),
    weeks: int = Query(4, ge=1, le=52, description="previous weeks the expectation uses"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """One local day of every source in one answer (the overview's "today against
    expected"): its events and the expected value and band, as in ``/cameras/{id}/activity``."""
    given = _local_date(day, "date")
    now = dt.datetime.now(dt.UTC)  # the edge: one clock read per request
    zones = state.store.source_timezones()
    days = {source: given or now.astimezone(ZoneInfo(zone)).date()
            for source, zone in zones.items()}

    def compute() -> dict[str, Any]:
        if not days:
            return {"weeks": weeks, "sources": []}
        first, last = min(days.values()), max(days.values())
        rows = _rows_by_source(state.store, history_start(first, weeks), last)
        first_days = dict(zip(*(state.store.read_analytics(_FIRST_DAYS).column(name)
                                .to_pylist() for name in ("source_id", "first_day")),
                              strict=True))
        listed = []
        for source, zone in sorted(zones.items()):
            local_day = days[source]
            found = compute_activity(rows.get(source, []), zone, local_day, local_day, "day",
                                     weeks, first_days.get(source))
            point = found.points[0]
            listed.append({"source_id": source, "timezone": zone, "date": local_day.isoformat(),
                           "count": point.count, "expected": point.expected, "low": point.low,
                           "high": point.high, "weeks_seen": point.weeks_seen})
        return {"weeks": weeks, "sources": listed}

    chosen = hashlib.sha1(repr(sorted(days.items())).encode(), usedforsecurity=False)
    key = f"activity-day:{chosen.hexdigest()}|{weeks}"
    return state.cache.get_or_compute(key, compute, state.settings.cache_ttl_seconds)
