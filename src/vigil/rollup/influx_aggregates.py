"""The InfluxDB aggregate store: line protocol to ``/write``, InfluxQL to ``/query``.

This works with InfluxDB 1.x, and with 2.x/3.x through their v1-compatible endpoints.
A record is one point: measurement = detector; tags ``entity`` and ``layer``; time = the
bucket's date at 00:00 UTC; numbers, booleans and strings as native fields (every number as a
float, so a field never changes type), lists and dicts as JSON text in a ``name__json``
string field. Each layer is written to its own retention policy (``vigil_daily`` 90 days,
``vigil_weekly`` 365 days, ``vigil_monthly`` kept), created with the database on first use;
a policy that exists already keeps its duration, and that duration is the one honoured.

- Points older than their policy's duration (with an hour of margin, against the injected
  clock) are not sent: InfluxDB would drop them. They come back in
  :attr:`WriteResult.outside_retention`.
- InfluxDB merges the fields of a point written twice. So that a record written again
  *replaces* the stored one, a record lacking one of its measurement's field keys has its
  point deleted first (rare: a detector's records usually share their fields).
- Requests are retried with exponential backoff (connection errors, timeouts, 5xx and 429);
  a request that still fails raises :class:`AggregateStoreError`, so a caller's ledger is
  not advanced.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from vigil.rollup.aggregates import (
    LAYERS,
    AggregateRecord,
    AggregateStoreError,
    Clock,
    NotNumericError,
    WriteResult,
    aggregate_result,
    check_agg,
    check_query,
    decode_fields,
    encode_fields,
    last_of_each_key,
    sort_records,
    utc_now,
)
from vigil.rollup.influx_url import InfluxSettings
from vigil.rollup.lineprotocol import FieldValue, line, quote_ident, quote_literal

__all__ = ["DEFAULT_RETENTION_DAYS", "InfluxAggregateStore", "outside_retention",
           "parse_duration", "policy_name"]

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS: dict[str, int | None] = {"daily": 90, "weekly": 365, "monthly": None}
"""Duration of each layer's retention policy when this store creates it (None: kept)."""
SHARD_DURATIONS = {"daily": "7d", "weekly": "28d", "monthly": "52w"}
"""Shard group length of each policy created: a 30-day query then reads a few shards, not
30 (InfluxDB's default for a 90-day policy is one shard a day, five times slower)."""
POLICY_PREFIX = "vigil_"
BATCH_POINTS = 5_000
DELETES_PER_REQUEST = 500
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
RETENTION_MARGIN = dt.timedelta(hours=1)
"""Points this close to a policy's edge count as outside: the server's clock runs on."""
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
NUMERIC_TYPES = frozenset({"float", "integer", "unsigned"})
_EPOCH = dt.date(1970, 1, 1)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}
Durations = Mapping[str, dt.timedelta | None]
Encoded = tuple[AggregateRecord, dict[str, FieldValue]]


def policy_name(layer: str) -> str:
    """The retention policy a layer is written to."""
    return POLICY_PREFIX + layer


def parse_duration(text: str) -> dt.timedelta | None:
    """A Go duration as InfluxDB shows it (``2160h0m0s``); ``None`` for ``0s`` (infinite)."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise AggregateStoreError(f"unexpected retention policy duration {text!r}")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    return dt.timedelta(seconds=seconds) if seconds else None


def bucket_seconds(bucket: dt.date) -> int:
    """The bucket's date at 00:00 UTC, in seconds since the epoch."""
    return (bucket - _EPOCH).days * 86_400


def outside_retention(records: Iterable[AggregateRecord], durations: Durations,
                      now: dt.datetime) -> tuple[list[AggregateRecord], list[AggregateRecord]]:
    """``(kept, outside)``: outside are the records older than their layer's policy."""
    kept: list[AggregateRecord] = []
    outside: list[AggregateRecord] = []
    for record in records:
        duration = durations.get(record.layer)
        start = dt.datetime.combine(record.bucket, dt.time(), dt.UTC)
        too_old = duration is not None and start < now - duration + RETENTION_MARGIN
        (outside if too_old else kept).append(record)
    return kept, outside


class InfluxAggregateStore:
    """Aggregate records in InfluxDB; see the module docstring.

    ``clock`` decides which points are outside retention; ``sleep`` waits between attempts
    (tests pass a no-op); ``transport`` replaces httpx's (tests).
    """

    def __init__(self, settings: InfluxSettings, clock: Clock = utc_now,
                 retention_days: Mapping[str, int | None] | None = None,
                 sleep: Callable[[float], None] = time.sleep, attempts: int = ATTEMPTS,
                 backoff: float = BACKOFF_SECONDS, batch_points: int = BATCH_POINTS,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        if attempts < 1 or batch_points < 1:
            raise ValueError("attempts and batch_points must be at least 1")
        self.settings = settings
        self.database = settings.database
        self._clock = clock
        self._retention_days = {**DEFAULT_RETENTION_DAYS, **(retention_days or {})}
        self._sleep = sleep
        self._attempts = attempts
        self._backoff = backoff
        self._batch_points = batch_points
        headers = {"Authorization": f"Token {settings.token}"} if settings.token else {}
        self._client = httpx.Client(base_url=settings.base_url, headers=headers,
                                    timeout=timeout, transport=transport)
        self._durations: dict[str, dt.timedelta | None] | None = None
        self._setup_lock = threading.Lock()

    # -- the protocol ------------------------------------------------------------------------
    def write(self, record: AggregateRecord) -> WriteResult:
        return self.write_batch([record])

    def write_batch(self, records: Iterable[AggregateRecord]) -> WriteResult:
        batch = last_of_each_key(records)
        if not batch:
            return WriteResult(0)
        kept, outside = outside_retention(batch, self._ready(), self._clock())
        if outside:
            log.info("%d aggregate record(s) are older than their InfluxDB retention policy; "
                     "not written", len(outside))
        encoded = [(record, encode_fields(record.fields)) for record in kept]
        self._delete_stale(encoded)
        for layer, points in _by_layer(encoded).items():
            for start in range(0, len(points), self._batch_points):
                self._write_lines(layer, points[start:start + self._batch_points])
        return WriteResult(len(kept), tuple(outside))

    def query(self, start: dt.date, end: dt.date, detector: str | None = None,
              entity: str | None = None, layer: str = "daily") -> list[AggregateRecord]:
        check_query(start, end, layer, detector, entity)
        if start > end:
            return []
        self._ready()
        where = _where(start, end, layer, entity)
        series = self._select(f"SELECT * FROM {self._source(layer, detector)} "
                              f"WHERE {where} GROUP BY *")
        return sort_records(_records(layer, series))

    def aggregate(self, start: dt.date, end: dt.date, field: str, agg: str,
                  detector: str | None = None, entity: str | None = None,
                  layer: str = "daily") -> float | int | None:
        check_agg(agg)
        check_query(start, end, layer, detector, entity)
        if start > end:
            return aggregate_result(agg, None, 0, 0)
        self._ready()
        where = _where(start, end, layer, entity)
        if agg == "count":
            present = self._sum_columns([f"count({quote_ident(field)})"],
                                        [self._source(layer, detector)], where)[0]
            return aggregate_result(agg, None, int(present), int(present))
        numeric, other = self._measurements_by_type(layer, detector, field)
        if other and self._sum_columns([f"count({quote_ident(field)})"],
                                       [self._source(layer, m) for m in other], where)[0]:
            raise NotNumericError(f"cannot {agg} field {field!r}: some of its values are "
                                  "not numbers")
        if not numeric:
            return aggregate_result(agg, None, 0, 0)
        total, count = self._sum_columns(
            [f"sum({quote_ident(field)})", f"count({quote_ident(field)})"],
            [self._source(layer, m) for m in numeric], where)
        return aggregate_result(agg, total if count else None, int(count), int(count))

    def close(self) -> None:
        self._client.close()

    # -- setup -----------------------------------------------------------------------------
    def _ready(self) -> dict[str, dt.timedelta | None]:
        """Create the database and the missing policies once; the layers' durations."""
        with self._setup_lock:
            if self._durations is None:
                self._durations = self._create_policies()
            return self._durations

    def _create_policies(self) -> dict[str, dt.timedelta | None]:
        db = quote_ident(self.database)
        self._statements([f"CREATE DATABASE {db}"], "create database")
        existing = self._policies()
        missing = [layer for layer in LAYERS if policy_name(layer) not in existing]
        if missing:
            self._statements([
                f"CREATE RETENTION POLICY {quote_ident(policy_name(layer))} ON {db} "
                f"DURATION {_duration_literal(self._retention_days.get(layer))} REPLICATION 1 "
                f"SHARD DURATION {SHARD_DURATIONS[layer]}"
                for layer in missing], "create retention policies")
            existing = self._policies()
        return {layer: existing[policy_name(layer)] for layer in LAYERS}

    def _policies(self) -> dict[str, dt.timedelta | None]:
        results = self._statements(
            [f"SHOW RETENTION POLICIES ON {quote_ident(self.database)}"], "read policies")
        rows = [row for s in results[0].get("series", []) for row in s["values"]]
        return {str(row[0]): parse_duration(str(row[1])) for row in rows}

    # -- writing -----------------------------------------------------------------------------
    def _write_lines(self, layer: str, points: Sequence[Encoded]) -> None:
        body = "\n".join(
            line(record.detector, {"entity": record.entity, "layer": record.layer}, fields,
                 bucket_seconds(record.bucket))
            for record, fields in points)
        params = {"db": self.database, "rp": policy_name(layer), "precision": "s"}
        try:
            self._request("/write", params, body.encode(), f"write of {len(points)} point(s)")
        except AggregateStoreError as exc:
            if "database not found" in str(exc):
                with self._setup_lock:
                    self._durations = None  # dropped behind our back: create it again
            raise

    def _delete_stale(self, encoded: Sequence[Encoded]) -> None:
        """Delete the stored points a record would not fully overwrite (see module doc)."""
        layers = sorted({record.layer for record, _ in encoded})
        if not layers:
            return
        results = self._statements(
            [f"SHOW FIELD KEYS ON {quote_ident(self.database)} FROM {_in_policy(layer, None)}"
             for layer in layers],
            "read field keys")
        known = {(layer, s["name"]): {str(row[0]) for row in s["values"]}
                 for layer, result in zip(layers, results, strict=True)
                 for s in result.get("series", [])}
        stale = [_delete_statement(record) for record, fields in encoded
                 if not known.get((record.layer, record.detector), set()) <= set(fields)]
        for start in range(0, len(stale), DELETES_PER_REQUEST):
            self._statements(stale[start:start + DELETES_PER_REQUEST], "delete replaced points")

    # -- reading -----------------------------------------------------------------------------
    def _source(self, layer: str, detector: str | None) -> str:
        """``"db"."policy"."detector"`` (every detector: a regex)."""
        return f"{quote_ident(self.database)}.{_in_policy(layer, detector)}"

    def _measurements_by_type(self, layer: str, detector: str | None, field: str
                              ) -> tuple[list[str], list[str]]:
        """The measurements holding ``field`` as a number, and those holding it otherwise
        (summing those would fail: InfluxDB 1.6 may even panic on it)."""
        results = self._statements(
            [f"SHOW FIELD KEYS ON {quote_ident(self.database)} FROM "
             f"{_in_policy(layer, detector)}"], "read field keys")
        types: dict[str, set[str]] = defaultdict(set)
        for s in results[0].get("series", []):
            for key, kind in s["values"]:
                if key == field:
                    types[str(s["name"])].add(str(kind))
        numeric = [m for m, kinds in types.items() if kinds <= NUMERIC_TYPES]
        return numeric, [m for m in types if m not in numeric]

    def _sum_columns(self, columns: Sequence[str], sources: Sequence[str], where: str
                     ) -> list[float]:
        """Each selected aggregate added up over the series of every source (the sums and
        counts of several measurements)."""
        series = self._select(f"SELECT {', '.join(columns)} FROM {', '.join(sources)} "
                              f"WHERE {where}")
        totals = [0.0] * len(columns)
        for row in (row for s in series for row in s["values"]):
            for i in range(len(columns)):
                totals[i] += float(row[i + 1] or 0)
        return totals

    def _select(self, statement: str) -> list[dict[str, Any]]:
        """The series of one SELECT, read in chunks and joined again."""
        response = self._request("/query", {"db": self.database, "epoch": "s",
                                            "chunked": "true", "chunk_size": "10000"},
                                 {"q": statement}, "query")
        merged: dict[str, dict[str, Any]] = {}
        for text in response.text.split("\n"):  # not splitlines: values may hold U+0085
            if not text.strip():
                continue
            for result in _checked_results(json.loads(text), statement):
                for series in result.get("series", []):
                    key = json.dumps([series.get("name"), series.get("tags")], sort_keys=True)
                    if key in merged:
                        merged[key]["values"].extend(series.get("values", []))
                    else:
                        merged[key] = {**series, "values": list(series.get("values", []))}
        return list(merged.values())

    def _statements(self, statements: Sequence[str], what: str) -> list[dict[str, Any]]:
        """Run InfluxQL statements in one request; their results (any error raises)."""
        text = "; ".join(statements)
        response = self._request("/query", {"db": self.database, "epoch": "s"}, {"q": text},
                                 what)
        return _checked_results(response.json(), text)

    # -- HTTP with retries ---------------------------------------------------------------------
    def _request(self, path: str, params: Mapping[str, str], body: bytes | Mapping[str, str],
                 what: str) -> httpx.Response:
        """POST with retries; the response of the first attempt that succeeds."""
        reason = ""
        for attempt in range(1, self._attempts + 1):
            try:
                if isinstance(body, bytes):
                    response = self._client.post(path, params=params, content=body)
                else:
                    response = self._client.post(path, params=params, data=dict(body))
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return response
                reason = f"HTTP {response.status_code}: {_error_text(response)}"
                if response.status_code not in RETRYABLE_STATUS:
                    raise AggregateStoreError(f"InfluxDB at {self.settings.base_url} refused "
                                              f"the {what}: {reason}")
            if attempt < self._attempts:
                delay = self._backoff * 2 ** (attempt - 1)
                log.warning("InfluxDB %s failed (attempt %d of %d, retrying in %.1f s): %s",
                            what, attempt, self._attempts, delay, reason)
                self._sleep(delay)
        raise AggregateStoreError(f"InfluxDB {what} at {self.settings.base_url} failed after "
                                  f"{self._attempts} attempts: {reason}")


# -- helpers ---------------------------------------------------------------------------------
def _by_layer(encoded: Sequence[Encoded]) -> dict[str, list[Encoded]]:
    grouped: dict[str, list[Encoded]] = defaultdict(list)
    for item in encoded:
        grouped[item[0].layer].append(item)
    return grouped


def _in_policy(layer: str, detector: str | None) -> str:
    """``"policy"."detector"`` (every detector: a regex)."""
    measurement = quote_ident(detector) if detector is not None else "/.*/"
    return f"{quote_ident(policy_name(layer))}.{measurement}"


def _duration_literal(days: int | None) -> str:
    return "INF" if not days else f"{int(days)}d"


def _where(start: dt.date, end: dt.date, layer: str, entity: str | None) -> str:
    clauses = [f"time >= {bucket_seconds(start)}s", f"time <= {bucket_seconds(end)}s",
               f'"layer" = {quote_literal(layer)}']
    if entity is not None:
        clauses.append(f'"entity" = {quote_literal(entity)}')
    return " AND ".join(clauses)


def _delete_statement(record: AggregateRecord) -> str:
    return (f"DELETE FROM {quote_ident(record.detector)} WHERE "
            f'"entity" = {quote_literal(record.entity)} AND '
            f'"layer" = {quote_literal(record.layer)} AND time = {bucket_seconds(record.bucket)}s')


def _records(layer: str, series: Iterable[dict[str, Any]]) -> Iterator[AggregateRecord]:
    """The records in SELECT * … GROUP BY * series (null columns are other points' fields)."""
    for s in series:
        columns = s["columns"][1:]
        entity = str((s.get("tags") or {}).get("entity", ""))
        for row in s.get("values", []):
            stored = {c: v for c, v in zip(columns, row[1:], strict=True) if v is not None}
            if not stored:
                continue
            bucket = _EPOCH + dt.timedelta(days=int(row[0]) // 86_400)
            where = f"{layer}/{s['name']}/{entity}/{bucket}"
            yield AggregateRecord.from_store(layer, str(s["name"]), entity, bucket,
                                             decode_fields(stored, where))


def _checked_results(body: Any, statement: str) -> list[dict[str, Any]]:
    """The ``results`` of a /query answer, or AggregateStoreError with the server's error."""
    if not isinstance(body, dict):
        raise AggregateStoreError(f"InfluxDB answered {body!r} to {statement[:200]!r}")
    if "error" in body:
        raise AggregateStoreError(f"InfluxDB: {body['error']} (in {statement[:200]!r})")
    results: list[dict[str, Any]] = body.get("results", [])
    for result in results:
        if "error" in result:
            raise AggregateStoreError(f"InfluxDB: {result['error']} (in {statement[:200]!r})")
    return results


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("error", body))[:300] if isinstance(body, dict) else str(body)[:300]
