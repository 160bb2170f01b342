"""Dwell, occupancy and visitor analytics over the stored sessions: KPIs, dwell statistics
(with a dwell-time histogram), occupancy per time bucket, new and returning visitors, the
sessions themselves and the attributes they can be grouped by. Answers are cached until the
next commit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from pydantic_core import to_jsonable_python

from vigil.api.auth import require
from vigil.api.errors import ApiError
from vigil.api.params import checked_zone
from vigil.api.state import AppState, app_state
from vigil.dwell.analytics import DwellAnalytics
from vigil.dwell.attributes import TOP_VALUES, attribute_answer
from vigil.dwell.filters import ATTRIBUTE_PREFIX, AnalyticsError, AnalyticsFilter, attribute_name
from vigil.dwell.service import store_analytics

__all__ = ["HISTOGRAM_EDGES_MS", "router"]

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
MAX_PAGE = 1000
MAX_TOP_VALUES = 100
_MINUTE_MS = 60_000
HISTOGRAM_EDGES_MS = tuple(m * _MINUTE_MS for m in (0, 1, 5, 15, 30, 60, 120, 240))
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The filter's own names for what the request calls ``from``, ``to`` and ``attr``.
_FIELD_NAMES = {"start": "from", "end": "to", "start_date": "from", "end_date": "to",
                "attributes": "attr"}
Bucket = Literal["5min", "15min", "30min", "hour", "day"]
Period = Literal["day", "week", "month"]
By = Literal["camera", "zone"]


def _moment(value: str | None, field: str) -> dt.date | dt.datetime | None:
    """A local date (``2026-03-01``) or a time-zone-aware ISO 8601 instant."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if _DATE.match(text):
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ApiError(422, f"{field} must be a date (2026-03-01) or an ISO 8601 instant "
                            f"with a time zone, not {value!r}", field) from exc
    if moment.tzinfo is None:
        raise ApiError(422, f"{field} needs a time zone, e.g. 2026-03-01T12:00:00Z", field)
    return moment


def _attributes(values: list[str]) -> dict[str, str]:
    """``name:value`` (or ``name=value``, as on the command line) pairs as a dict; a 422
    naming ``attr`` for anything else."""
    found: dict[str, str] = {}
    for item in values:
        cut = min((i for i in (item.find(":"), item.find("=")) if i >= 0), default=-1)
        name, value = item[:cut].strip(), item[cut + 1:]
        if cut < 0 or not name:
            raise ApiError(422, f"attr must be name:value (e.g. age_group:25-34), not {item!r}",
                           "attr")
        try:
            attribute_name(ATTRIBUTE_PREFIX + name, "attr")
        except AnalyticsError as exc:
            raise ApiError(422, str(exc), exc.field) from exc
        if name in found and found[name] != value:
            raise ApiError(422, f"attr {name!r} is given twice with different values", "attr")
        found[name] = value
    return found


def _api_error(exc: AnalyticsError) -> ApiError:
    """An analytics error as a 422 naming the request's parameter."""
    field = _FIELD_NAMES.get(exc.field, exc.field)
    return ApiError(422, str(exc), field)


class AnalyticsQuery:
    """Query parameters shared by every analytics endpoint: what the answer covers."""

    def __init__(
        self,
        start: str | None = Query(None, alias="from", description="first local day "
                                  "(2026-03-01, inclusive) or instant with zone (inclusive)"),
        end: str | None = Query(None, alias="to", description="last local day (inclusive) "
                                "or instant with zone (exclusive)"),
        camera: list[str] = Query([], description="only these cameras (repeatable)"),
        zone: str | None = Query(None, description="only this zone (implies by=zone)"),
        person: str | None = Query(None, description="only this person (subject id)"),
        attr: list[str] = Query([], description="attribute filter name:value (repeatable), "
                                "e.g. age_group:25-34"),
        by: By = Query("camera", description="pair sessions per camera or per zone"),
    ) -> None:
        first, last = _moment(start, "from"), _moment(end, "to")
        window: dict[str, Any] = {}
        for (date_key, instant_key), moment in ((("start_date", "start"), first),
                                                (("end_date", "end"), last)):
            if isinstance(moment, dt.datetime):
                window[instant_key] = moment
            elif moment is not None:
                window[date_key] = moment
        try:
            self.filter = AnalyticsFilter(**window, cameras=tuple(sorted(set(camera))),
                                          zone=zone, person=person,
                                          attributes=_attributes(attr), by=by)
        except AnalyticsError as exc:
            raise _api_error(exc) from exc

    def key(self, endpoint: str, default_timezone: str, **extra: Any) -> str:
        """The cache key: the endpoint and every normalised parameter."""
        described = {**dataclasses.asdict(self.filter), **extra, "tz": default_timezone}
        for name in ("start", "end"):  # one instant, one key, whatever offset it was given in
            if described[name] is not None:
                described[name] = described[name].astimezone(dt.UTC)
        text = orjson.dumps(to_jsonable_python(described), option=orjson.OPT_SORT_KEYS)
        return f"analytics:{endpoint}:{text.decode()}"


def _answer(state: AppState, query: AnalyticsQuery, endpoint: str,
            compute: Callable[[DwellAnalytics], dict[str, Any]], **params: Any
            ) -> dict[str, Any]:
    """The cached answer of ``compute`` over the stored sessions; 422 on analytics errors."""
    zone = state.settings.default_timezone

    def run() -> dict[str, Any]:
        try:
            result = compute(store_analytics(state.store, zone))
        except AnalyticsError as exc:
            raise _api_error(exc) from exc
        return dict(to_jsonable_python(result))

    return state.cache.get_or_compute(query.key(endpoint, zone, **params), run,
                                      state.settings.cache_ttl_seconds)


@router.get("/kpis", dependencies=[Depends(require("read"))])
def kpis(
    query: AnalyticsQuery = Depends(),
    group_by: list[str] = Query([], description="camera, zone or attributes.<name> "
                                "(repeatable)"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Unique visitors, sessions per status, mean / median / max / total dwell and events
    processed; per group too when ``group_by`` is given."""
    dims = tuple(group_by)
    return _answer(state, query, "kpis", lambda a: a.kpis(query.filter, dims), group_by=dims)


@router.get("/dwell", dependencies=[Depends(require("read"))])
def dwell(
    query: AnalyticsQuery = Depends(),
    group_by: list[str] = Query([], description="camera, zone, person, hour, weekday, day, "
                                "week, month or attributes.<name> (repeatable)"),
    limit: int = Query(100, ge=1, le=MAX_PAGE, description="groups per page"),
    offset: int = Query(0, ge=0, description="groups to skip"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Dwell statistics of complete sessions per group (one page of groups) and the
    dwell-time histogram (bins from 0, 1, 5, 15, 30, 60, 120 and 240 minutes)."""
    dims = tuple(group_by)

    def compute(analytics: DwellAnalytics) -> dict[str, Any]:
        result = analytics.dwell(query.filter, dims, limit, offset)
        flt = query.filter
        if "zone" in dims and flt.by != "zone":  # the same sessions as the groups
            flt = dataclasses.replace(flt, by="zone")
        return {**result, "histogram": analytics.histogram(flt, HISTOGRAM_EDGES_MS)}

    return _answer(state, query, "dwell", compute, group_by=dims, limit=limit, offset=offset)


@router.get("/occupancy", dependencies=[Depends(require("read"))])
def occupancy(
    query: AnalyticsQuery = Depends(),
    bucket: Bucket = Query("hour", description="bucket width"),
    group_by: list[str] = Query([], description="camera, zone or attributes.<name> "
                                "(repeatable)"),
    timezone: str | None = Query(None, description="zone of the buckets (default: the "
                                 "cameras' shared zone, else the default zone)"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Maximum and time-weighted mean presence per bucket, overall and per group."""
    dims, zone = tuple(group_by), checked_zone(timezone)
    return _answer(state, query, "occupancy",
                   lambda a: a.occupancy(query.filter, bucket, dims, zone),
                   bucket=bucket, group_by=dims, timezone=zone)


@router.get("/visitors", dependencies=[Depends(require("read"))])
def visitors(
    query: AnalyticsQuery = Depends(),
    period: Period = Query("day", description="period of the new / returning counts"),
    group_by: list[str] = Query([], description="camera, zone or attributes.<name> "
                                "(repeatable)"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Unique, new and returning visitors per period; repeat visitors and the
    visit-frequency distribution."""
    dims = tuple(group_by)
    return _answer(state, query, "visitors",
                   lambda a: a.visitors(query.filter, period, dims),
                   period=period, group_by=dims)


@router.get("/sessions", dependencies=[Depends(require("read"))])
def sessions(
    query: AnalyticsQuery = Depends(),
    limit: int = Query(100, ge=1, le=MAX_PAGE, description="sessions per page"),
    offset: int = Query(0, ge=0, description="sessions to skip (pass next_offset)"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Sessions oldest first with the total; ``next_offset`` is null on the last page."""
    return _answer(state, query, "sessions",
                   lambda a: a.sessions(query.filter, limit, offset),
                   limit=limit, offset=offset)


@router.get("/attributes", dependencies=[Depends(require("read"))])
def attributes(
    query: AnalyticsQuery = Depends(),
    top: int = Query(TOP_VALUES, ge=1, le=MAX_TOP_VALUES, description="most common values "
                     "listed per attribute"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """The attribute names the selected sessions carry (from their entry, or orphan exit,
    events), usable as ``group_by=attributes.<name>``: per name the number of distinct
    values, the sessions with a value and the most common values with their session
    counts."""
    return _answer(state, query, "attributes",
                   lambda a: attribute_answer(a.reader, query.filter, top), top=top)
