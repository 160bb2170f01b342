"""The aggregate store: one interface, a SQL and an InfluxDB implementation.

An :class:`AggregateRecord` is one bucket of one layer (``daily``, ``weekly``, ``monthly``)
of one detector (the InfluxDB measurement, e.g. ``hourly_counts``) for one entity (source).
Its fields are numbers, strings, booleans and JSON values (lists and dicts, e.g. an hourly
histogram); JSON values are stored as text under the field name plus ``__json`` and parsed
back on read. Writing a record whose key (layer, detector, entity, bucket) is stored
already replaces it, so re-running a rollup changes nothing.

Both stores take every name line protocol can carry (see
:func:`vigil.rollup.lineprotocol.check_name`): a record valid for one is valid for the other.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

from vigil.rollup.lineprotocol import FieldValue, check_name

if TYPE_CHECKING:
    from vigil.config import Settings
    from vigil.store.base import Store

__all__ = [
    "AGGREGATIONS",
    "JSON_SUFFIX",
    "LAYERS",
    "AggName",
    "AggregateRecord",
    "AggregateStore",
    "AggregateStoreError",
    "Clock",
    "LayerName",
    "NotNumericError",
    "WriteResult",
    "aggregate_result",
    "configured_aggregate_store",
    "decode_fields",
    "encode_fields",
    "layer_retention_days",
    "open_aggregate_store",
    "sort_records",
]

log = logging.getLogger(__name__)

LayerName = Literal["daily", "weekly", "monthly"]
AggName = Literal["sum", "mean", "count"]
LAYERS: tuple[str, ...] = get_args(LayerName)
AGGREGATIONS: tuple[str, ...] = get_args(AggName)
JSON_SUFFIX = "__json"
RESERVED_FIELDS = ("time", "entity", "layer")
"""Names InfluxDB gives the time column and our two tags: no field may take them."""
MAX_EXACT_INT = 2**53
"""InfluxDB keeps numbers as floats, exact for integers up to this size."""
Clock = Callable[[], dt.datetime]


class AggregateStoreError(RuntimeError):
    """The aggregate store could not do what was asked (unreachable, refused, bad data)."""


class NotNumericError(AggregateStoreError):
    """A sum or mean over a field with values that are not numbers."""


@dataclass(frozen=True)
class AggregateRecord:
    """One bucket of one layer, detector and entity; checked when made."""

    layer: str
    detector: str
    entity: str
    bucket: dt.date
    fields: dict[str, Any]

    def __post_init__(self) -> None:
        check_layer(self.layer)
        check_bucket(self.layer, self.bucket)
        check_name(self.detector, "detector", measurement=True)
        check_name(self.entity, "entity")
        if not isinstance(self.fields, dict) or not self.fields:
            raise ValueError("an aggregate record needs at least one field")
        for name, value in self.fields.items():
            check_field(name, value)

    @classmethod
    def from_store(cls, layer: str, detector: str, entity: str, bucket: dt.date,
                   fields: dict[str, Any]) -> AggregateRecord:
        """A record as a store returns it, unchecked: reading never fails on old data."""
        record = object.__new__(cls)
        for name, value in (("layer", layer), ("detector", detector), ("entity", entity),
                            ("bucket", bucket), ("fields", fields)):
            object.__setattr__(record, name, value)
        return record

    @property
    def key(self) -> tuple[str, str, str, dt.date]:
        """What identifies the record: writing the same key again replaces it."""
        return self.layer, self.detector, self.entity, self.bucket


@dataclass(frozen=True)
class WriteResult:
    """What a batch write did: records written, and those refused as outside retention."""

    written: int
    outside_retention: tuple[AggregateRecord, ...] = field(default_factory=tuple)


class AggregateStore(Protocol):
    """Where aggregate records live (SQL on the main store, or InfluxDB)."""

    def write(self, record: AggregateRecord) -> WriteResult:
        """Write (or replace) one record."""
        ...

    def write_batch(self, records: Iterable[AggregateRecord]) -> WriteResult:
        """Write (or replace) records; those outside their layer's retention are returned,
        not written, and raise nothing. A repeated key in the batch: the last one wins."""
        ...

    def query(self, start: dt.date, end: dt.date, detector: str | None = None,
              entity: str | None = None, layer: str = "daily") -> list[AggregateRecord]:
        """Records with buckets from ``start`` to ``end`` (inclusive), sorted by bucket,
        detector and entity."""
        ...

    def aggregate(self, start: dt.date, end: dt.date, field: str, agg: str,
                  detector: str | None = None, entity: str | None = None,
                  layer: str = "daily") -> float | int | None:
        """``sum`` or ``mean`` of a numeric field over the range (``None`` if no record has
        it), or ``count``: how many records have the field."""
        ...

    def close(self) -> None: ...


# -- checks ------------------------------------------------------------------------------
def check_layer(layer: str) -> str:
    """``layer`` if it is a known layer, else ValueError."""
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
    return layer


def check_agg(agg: str) -> str:
    """``agg`` if it is a known aggregation, else ValueError."""
    if agg not in AGGREGATIONS:
        raise ValueError(f"agg must be one of {', '.join(AGGREGATIONS)}, got {agg!r}")
    return agg


def check_bucket(layer: str, bucket: dt.date) -> None:
    """A bucket is a date: any day, a Monday (weekly) or a 1st (monthly)."""
    if isinstance(bucket, dt.datetime) or not isinstance(bucket, dt.date):
        raise ValueError(f"bucket must be a date, got {bucket!r}")
    if layer == "weekly" and bucket.weekday() != 0:
        raise ValueError(f"a weekly bucket starts on a Monday, {bucket} is not one")
    if layer == "monthly" and bucket.day != 1:
        raise ValueError(f"a monthly bucket starts on the 1st, not {bucket}")


def check_field(name: str, value: Any) -> None:
    """A field name that both stores keep apart from time and tags, and a storable value."""
    if not isinstance(name, str):
        raise ValueError(f"field names are strings, got {name!r}")
    check_name(name, "field name")
    if name in RESERVED_FIELDS or name.endswith(JSON_SUFFIX):
        raise ValueError(f"field name {name!r} is reserved (time, entity, layer, *{JSON_SUFFIX})")
    if isinstance(value, bool):
        return
    if isinstance(value, str):
        check_text(value, f"field {name!r}")
        return
    if isinstance(value, int):
        if abs(value) > MAX_EXACT_INT:
            raise ValueError(f"field {name!r}: {value} exceeds 2**53 (stored as a float)")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"field {name!r}: {value} is not a finite number")
        return
    if isinstance(value, list | dict):
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"field {name!r} is not JSON: {exc}") from exc
        for text in _json_strings(value):
            check_text(text, f"field {name!r}")
        return
    raise ValueError(f"field {name!r}: {type(value).__name__} values cannot be stored "
                     "(numbers, strings, booleans, lists and dicts can)")


def check_text(text: str, what: str) -> None:
    """Text every store keeps: UTF-8 without NUL (PostgreSQL's JSON cannot hold it)."""
    if "\x00" in text:
        raise ValueError(f"{what}: NUL characters cannot be stored")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{what} is not valid Unicode text: {exc}") from exc


def _json_strings(value: Any) -> Iterator[str]:
    """Every string (keys too) inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _json_strings(key)
            yield from _json_strings(item)


# -- the shared field codec ----------------------------------------------------------------
def encode_fields(fields: Mapping[str, Any]) -> dict[str, FieldValue]:
    """Scalars as they are, lists and dicts as JSON text under ``name__json``."""
    encoded: dict[str, FieldValue] = {}
    for name, value in fields.items():
        if isinstance(value, list | dict):
            encoded[name + JSON_SUFFIX] = json.dumps(value, separators=(",", ":"),
                                                     ensure_ascii=False, allow_nan=False)
        else:
            encoded[name] = value
    return encoded


def decode_fields(stored: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """The inverse of :func:`encode_fields`; JSON text that does not parse is logged and
    returned as the raw string (``where`` names the record in the warning)."""
    fields: dict[str, Any] = {}
    for name, value in stored.items():
        if value is None:
            continue
        if name.endswith(JSON_SUFFIX) and isinstance(value, str):
            plain = name[: -len(JSON_SUFFIX)]
            try:
                fields[plain] = json.loads(value)
            except ValueError as exc:
                log.warning("malformed JSON in aggregate field %r%s: %s; returned as text",
                            plain, f" of {where}" if where else "", exc)
                fields[plain] = value
        else:
            fields[name] = value
    return fields


def sort_records(records: Iterable[AggregateRecord]) -> list[AggregateRecord]:
    """Records by bucket, detector and entity."""
    return sorted(records, key=lambda r: (r.bucket, r.detector, r.entity))


def last_of_each_key(records: Iterable[AggregateRecord]) -> list[AggregateRecord]:
    """The records with repeated keys reduced to the last of each (as a write keeps it)."""
    return list({record.key: record for record in records}.values())


def aggregate_result(agg: str, total: float | None, numeric: int, present: int
                     ) -> float | int | None:
    """The answer to ``agg`` from a field's sum, numeric values and values present."""
    if agg == "count":
        return present
    if numeric == 0 or total is None:
        return None
    return float(total) if agg == "sum" else float(total) / numeric


def check_query(start: dt.date, end: dt.date, layer: str,
                detector: str | None = None, entity: str | None = None) -> None:
    """The arguments of a query, checked alike by every store."""
    check_layer(layer)
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise ValueError(f"{name} must be a date, got {value!r}")
    for name, text in (("detector", detector), ("entity", entity)):
        if text is not None and not isinstance(text, str):
            raise ValueError(f"{name} must be a string, got {text!r}")


def utc_now() -> dt.datetime:
    """The wall clock; stores take it as their default ``clock`` (the edge of the system)."""
    return dt.datetime.now(dt.UTC)


def open_aggregate_store(setting: str | None, store: Store, clock: Clock = utc_now,
                         **influx_options: Any) -> AggregateStore:
    """The aggregate store a setting names: ``None``, ``''`` or ``'sql'`` for the SQL one
    on ``store``; ``influxdb://host:port/db[?token=…]`` for InfluxDB."""
    from vigil.rollup.influx_url import is_sql_setting, parse_influx_url

    if is_sql_setting(setting):
        from vigil.rollup.sql_aggregates import SqlAggregateStore

        return SqlAggregateStore(store, clock=clock)
    from vigil.rollup.influx_aggregates import InfluxAggregateStore

    assert setting is not None
    return InfluxAggregateStore(parse_influx_url(setting), clock=clock, **influx_options)


def layer_retention_days(settings: Settings) -> dict[str, int | None]:
    """Days each aggregate layer is kept according to the settings (``None``: forever)."""
    days = {"daily": settings.retention_daily_days, "weekly": settings.retention_weekly_days,
            "monthly": settings.retention_monthly_days}
    return {layer: value or None for layer, value in days.items()}


def configured_aggregate_store(settings: Settings, store: Store) -> AggregateStore:
    """The aggregate store of ``VIGIL_AGGREGATES``; an InfluxDB one creates its retention
    policies with the layer retentions of the settings (``VIGIL_RETENTION_*_DAYS``)."""
    from vigil.rollup.influx_url import is_sql_setting

    if is_sql_setting(settings.aggregates):
        return open_aggregate_store(settings.aggregates, store)
    return open_aggregate_store(settings.aggregates, store,
                                retention_days=layer_retention_days(settings))

