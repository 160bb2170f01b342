"""What an analytics request selects, and how that becomes SQL over ``sessions``/``events``.

Every analytic query reads a relation named ``sessions`` (the stored sessions table, or an
in-memory table of the same shape) and, for the event count, ``events``. The filter and the
grouping dimensions are rendered here once, as SQL that DuckDB and PostgreSQL both run, with
``?`` placeholders.

Time filters: ``start_date``/``end_date`` select by the *local day of the session's entry*
(inclusive, the camera's calendar); ``start``/``end`` select by instant (``start`` inclusive,
``end`` exclusive). A session belongs to the local day of its entry (or of its exit, for an
orphan exit), also when it runs past midnight or over a DST change.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from vigil.dwell.pairing import GroupBy

__all__ = [
    "ATTRIBUTE_PREFIX",
    "AnalyticsError",
    "AnalyticsFilter",
    "check_dimensions",
    "attribute_name",
    "dimension_sql",
    "event_where",
    "period_condition",
    "session_where",
]

ATTRIBUTE_PREFIX = "attributes."
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DIMENSIONS = {
    "camera": "source_id",
    "zone": "zone",
    "person": "subject_id",
    "hour": "local_hour",
    "weekday": "local_weekday",
    "day": "local_date",
    "week": "local_date - CAST(local_weekday AS INTEGER)",
    "month": "CAST(date_trunc('month', local_date) AS DATE)",
}
TIME_DIMENSIONS = ("hour", "weekday", "day", "week", "month")


class AnalyticsError(ValueError):
    """A request that cannot be answered; ``field`` names the offending parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AnalyticsFilter:
    """Which sessions (and events) an analytic covers; every field is optional."""

    start_date: dt.date | None = None
    end_date: dt.date | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    cameras: tuple[str, ...] = ()
    zone: str | None = None  # implies by="zone"
    person: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    by: GroupBy = "camera"

    def __post_init__(self) -> None:
        if self.zone is not None:
            object.__setattr__(self, "by", "zone")  # zones exist only in zone sessions
        if self.by not in ("camera", "zone"):
            raise AnalyticsError("by", f"by must be 'camera' or 'zone', not {self.by!r}")
        for name, moment in (("start", self.start), ("end", self.end)):
            if moment is not None and moment.tzinfo is None:
                raise AnalyticsError(name, f"{name} needs a time zone, e.g. 2026-03-01T12:00Z")
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise AnalyticsError("to", "the end date is before the start date")
        if self.start and self.end and self.start >= self.end:
            raise AnalyticsError("to", "the end is not after the start")
        for name in self.attributes:
            attribute_name(ATTRIBUTE_PREFIX + name, "attributes")

    def without_time(self) -> AnalyticsFilter:
        """The same filter over all of time (e.g. to find a person's first visit)."""
        return AnalyticsFilter(cameras=self.cameras, zone=self.zone, person=self.person,
                               attributes=self.attributes, by=self.by)


def attribute_name(dimension: str, field_name: str) -> str:
    """The attribute key of ``attributes.<key>``; a clear error for anything else."""
    name = dimension.removeprefix(ATTRIBUTE_PREFIX)
    if not dimension.startswith(ATTRIBUTE_PREFIX) or not _ATTRIBUTE_NAME.match(name):
        raise AnalyticsError(field_name, f"{dimension!r} is not a valid attributes.<name>")
    return name


def dimension_sql(dimension: str, field_name: str = "group_by") -> str:
    """The SQL expression of a grouping dimension: camera, zone, person, hour, weekday,
    day, week (its Monday), month (its first day) or ``attributes.<name>``."""
    if dimension in _DIMENSIONS:
        return _DIMENSIONS[dimension]
    if dimension.startswith(ATTRIBUTE_PREFIX):
        return f"(attributes->>'{attribute_name(dimension, field_name)}')"
    known = ", ".join([*_DIMENSIONS, "attributes.<name>"])
    raise AnalyticsError(field_name, f"unknown dimension {dimension!r}; use one of {known}")


def check_dimensions(dimensions: tuple[str, ...], allowed: tuple[str, ...] | None = None,
                     field_name: str = "group_by") -> tuple[str, ...]:
    """``dimensions`` if each is known (and in ``allowed`` when given) and none repeats."""
    for dimension in dimensions:
        dimension_sql(dimension, field_name)
        if allowed is not None and dimension not in allowed and not (
                dimension.startswith(ATTRIBUTE_PREFIX) and ATTRIBUTE_PREFIX in allowed):
            raise AnalyticsError(field_name, f"cannot group by {dimension!r} here; use one of "
                                             f"{', '.join(allowed)}")
    if len(set(dimensions)) != len(dimensions):
        raise AnalyticsError(field_name, "a dimension is repeated")
    return dimensions


def session_where(flt: AnalyticsFilter) -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword) selecting the filter's sessions."""
    return _where(flt, ["grouping = ?"], [flt.by], ts_sql="anchor_ts", zone_sql="zone")


def event_where(flt: AnalyticsFilter) -> tuple[str, list[Any]]:
    """The WHERE clause selecting the events the filter covers (the same cameras, zone,
    person, attributes and period, by the event's own time)."""
    return _where(flt, ["TRUE"], [], ts_sql="ts", zone_sql="coalesce(zone, '')")


def period_condition(flt: AnalyticsFilter, ts_sql: str = "anchor_ts") -> tuple[str, list[Any]]:
    """The filter's period alone (local days and instants, the latter on ``ts_sql``) as a
    condition; ``TRUE`` when it has none."""
    conditions: list[str] = ["TRUE"]
    params: list[Any] = []
    _period(flt, conditions, params, ts_sql)
    return " AND ".join(conditions), params


def _where(flt: AnalyticsFilter, conditions: list[str], params: list[Any], ts_sql: str,
           zone_sql: str) -> tuple[str, list[Any]]:
    """``conditions`` and the filter's own, joined: the period, then :func:`_common`."""
    _period(flt, conditions, params, ts_sql)
    _common(flt, conditions, params, zone_sql)
    return " AND ".join(conditions), params


def _period(flt: AnalyticsFilter, conditions: list[str], params: list[Any],
            ts_sql: str) -> None:
    """Conditions of the period: local days, and instants on ``ts_sql``."""
    for condition, value in (("local_date >= ?", flt.start_date),
                             ("local_date <= ?", flt.end_date),
                             (f"{ts_sql} >= ?", flt.start), (f"{ts_sql} < ?", flt.end)):
        if value is not None:
            conditions.append(condition)
            params.append(value)


def _common(flt: AnalyticsFilter, conditions: list[str], params: list[Any],
            zone_sql: str) -> None:
    """Conditions shared by sessions and events: cameras, zone, person, attributes."""
    if flt.cameras:
        conditions.append(f"source_id IN ({', '.join('?' for _ in flt.cameras)})")
        params.extend(flt.cameras)
    if flt.zone is not None:
        conditions.append(f"{zone_sql} = ?")
        params.append(flt.zone)
    if flt.person is not None:
        conditions.append("subject_id = ?")
        params.append(flt.person)
    for name, value in sorted(flt.attributes.items()):
        key = attribute_name(ATTRIBUTE_PREFIX + name, "attributes")
        conditions.append(f"(attributes->>'{key}') = ?")
        params.append(value)
