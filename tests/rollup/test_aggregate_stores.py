"""The aggregate stores on real backends: SQL on DuckDB and PostgreSQL, and InfluxDB.

The same tests run on each; InfluxDB's own behaviour (retention policies, retries, batching,
escaping on the wire) has tests of its own, and a property test checks that the SQL and the
InfluxDB store give the same answers to the same queries.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from servers import free_port
from vigil.config import Settings
from vigil.rollup import (
    AggregateRecord,
    AggregateStoreError,
    InfluxSettings,
    NotNumericError,
    SqlAggregateStore,
)
from vigil.rollup.aggregates import configured_aggregate_store, sort_records
from vigil.rollup.influx_aggregates import InfluxAggregateStore
from vigil.rollup.lineprotocol import LineProtocolError, check_name
from vigil.store import open_store

from .conftest import (
    TODAY,
    Backend,
    drop_influx_database,
    influx_store,
    new_database_name,
)


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def monday(weeks_ago: int) -> dt.date:
    return TODAY - dt.timedelta(days=TODAY.weekday() + 7 * weeks_ago)


def rec(detector: str, entity: str, bucket: dt.date, layer: str = "daily",
        **fields: Any) -> AggregateRecord:
    return AggregateRecord(layer, detector, entity, bucket, fields)


# -- the same behaviour on every backend -------------------------------------------------------
def test_write_and_query_by_range_detector_entity_and_layer(agg_backend: Backend) -> None:
    store = agg_backend.store
    counts = [rec("hourly_counts", cam, ago(d), n=d * 10 + i, hist=[d, i])
              for i, cam in enumerate(("cam1", "cam2")) for d in range(1, 11)]
    sequence = rec("sequences", "cam1", ago(3), top="door>hall", support=0.25)
    weekly = rec("hourly_counts", "cam1", monday(2), layer="weekly", n=70)
    result = store.write_batch([*counts, sequence, weekly])
    assert (result.written, result.outside_retention) == (22, ())

    assert store.query(ago(10), ago(1)) == sort_records([*counts, sequence])
    assert [r.bucket for r in store.query(ago(3), ago(2), "hourly_counts", "cam1")] == [
        ago(3), ago(2)]
    assert store.query(ago(3), ago(3), detector="sequences") == [sequence]
    assert [(r.detector, r.entity) for r in store.query(ago(3), ago(3))] == [
        ("hourly_counts", "cam1"), ("hourly_counts", "cam2"), ("sequences", "cam1")]
    assert store.query(ago(3), ago(3), entity="cam2") == [counts[12]]
    assert store.query(ago(30), ago(11)) == []
    assert store.query(ago(1), ago(2)) == []
    assert store.query(monday(2), monday(2), layer="weekly") == [weekly]
    assert weekly not in store.query(monday(2), monday(2))


def test_rewriting_a_key_replaces_the_record(agg_backend: Backend) -> None:
    store = agg_backend.store
    store.write(rec("hourly_counts", "cam1", ago(2), n=5, note="first", hist=[1]))
    store.write(rec("hourly_counts", "cam2", ago(2), n=1, note="other"))
    again = rec("hourly_counts", "cam1", ago(2), n=7)
    assert store.write_batch([again, again]).written == 1
    assert store.query(ago(2), ago(2), entity="cam1") == [again]
    assert store.aggregate(ago(2), ago(2), "note", "count") == 1
    store.write_batch([rec("hourly_counts", "cam1", ago(2), n=1),
                       rec("hourly_counts", "cam1", ago(2), n=2, hist=[2])])
    assert store.query(ago(2), ago(2), entity="cam1")[0].fields == {"n": 2, "hist": [2]}
    assert store.aggregate(ago(2), ago(2), "n", "sum") == 3.0


def test_sum_mean_and_count(agg_backend: Backend) -> None:
    store = agg_backend.store
    store.write_batch([rec("hourly_counts", cam, ago(d), n=d, m=d / 4, label="x")
                       for cam in ("cam1", "cam2") for d in range(1, 31)]
                      + [rec("sequences", "cam1", ago(5), n=1000, only_here=2.5)])
    start, end = ago(30), ago(1)
    assert store.aggregate(start, end, "n", "sum", "hourly_counts") == 930.0
    assert store.aggregate(start, end, "n", "mean", "hourly_counts", "cam2") == 15.5
    assert store.aggregate(start, end, "n", "count", "hourly_counts", "cam2") == 30
    assert store.aggregate(start, end, "n", "sum") == 1930.0  # every detector
    assert store.aggregate(start, end, "n", "count") == 61
    assert store.aggregate(ago(10), ago(6), "m", "sum", entity="cam1") == pytest.approx(10.0)
    assert store.aggregate(start, end, "only_here", "mean") == 2.5
    assert store.aggregate(start, end, "label", "count") == 60
    assert store.aggregate(start, end, "missing", "sum") is None
    assert store.aggregate(start, end, "missing", "count") == 0
    assert store.aggregate(ago(60), ago(40), "n", "mean") is None
    with pytest.raises(NotNumericError, match="label"):
        store.aggregate(start, end, "label", "sum")
    with pytest.raises(ValueError, match="agg must be one of"):
        store.aggregate(start, end, "n", "median")
    with pytest.raises(ValueError, match="layer must be one of"):
        store.query(start, end, layer="yearly")


def test_json_fields_round_trip(agg_backend: Backend) -> None:
    fields = {"hist": list(range(24)), "nested": {"a": [1, {"b": None, "c": "ü\"\\"}]},
              "empty": [], "looks_like_json": "[1, 2]", "ok": True, "off": False,
              "text": "line\nbreak, \"quoted\" = \\ end \x85\u2028\x1c",  # not line ends
              "big": 2**53, "neg": -0.125}
    record = rec("hourly_counts", "cam 1,x=y", ago(1), **fields)
    agg_backend.store.write(record)
    assert agg_backend.store.query(ago(1), ago(1)) == [record]


def test_malformed_stored_json_is_a_warning(agg_backend: Backend,
                                            caplog: pytest.LogCaptureFixture) -> None:
    agg_backend.store.write(rec("hourly_counts", "cam1", ago(1), n=1, hist=[1, 2]))
    agg_backend.write_corrupt("hourly_counts", "cam1", ago(1), "hist", "[1, 2")
    with caplog.at_level(logging.WARNING, logger="vigil.rollup.aggregates"):
        found = agg_backend.store.query(ago(1), ago(1))
    assert [r.fields for r in found] == [{"n": 1, "hist": "[1, 2"}]
    assert "malformed JSON in aggregate field 'hist'" in caplog.text


def test_points_outside_retention_are_reported_not_failed(agg_backend: Backend) -> None:
    old = rec("hourly_counts", "cam1", ago(200), n=1)
    recent = rec("hourly_counts", "cam1", ago(1), n=2)
    old_week = rec("hourly_counts", "cam1", monday(60), layer="weekly", n=3)
    long_ago = rec("hourly_counts", "cam1", dt.date(2015, 1, 1), layer="monthly", n=4)
    result = agg_backend.store.write_batch([old, recent, old_week, long_ago])
    if agg_backend.kind == "influxdb":  # daily 90 days, weekly 365 days, monthly kept
        assert (result.written, result.outside_retention) == (2, (old, old_week))
        assert agg_backend.store.query(ago(300), ago(0)) == [recent]
    else:  # SQL keeps what it is given: its retention is the purge job's
        assert (result.written, result.outside_retention) == (4, ())
    assert agg_backend.store.query(long_ago.bucket, long_ago.bucket, layer="monthly") == [
        long_ago]


# -- InfluxDB on its own ------------------------------------------------------------------------
def test_influx_creates_database_and_a_policy_per_layer(influx_server: Any) -> None:
    database = new_database_name()
    store = influx_store(influx_server.url, database)
    try:
        assert store.query(ago(1), ago(0)) == []  # first use creates everything
        body = httpx.post(f"{influx_server.url}/query",
                          data={"q": f'SHOW RETENTION POLICIES ON "{database}"'}).json()
        policies = {row[0]: (row[1], row[2])
                    for row in body["results"][0]["series"][0]["values"]}
        assert policies["vigil_daily"] == ("2160h0m0s", "168h0m0s")
        assert policies["vigil_weekly"] == ("8760h0m0s", "672h0m0s")
        assert policies["vigil_monthly"] == ("0s", "8736h0m0s")
    finally:
        store.close()
        drop_influx_database(influx_server.url, database)


def test_influx_policies_follow_the_retention_settings(influx_server: Any,
                                                        tmp_path: Path) -> None:
    database = new_database_name()
    url = influx_server.url.replace("http", "influxdb", 1)
    configured = Settings(db=str(tmp_path / "unused.duckdb"), aggregates=f"{url}/{database}",
                          retention_daily_days=10, retention_weekly_days=500,
                          retention_monthly_days=0)
    main = open_store(configured.db)
    store = configured_aggregate_store(configured, main)
    try:
        assert store.query(ago(1), ago(0)) == []
        body = httpx.post(f"{influx_server.url}/query",
                          data={"q": f'SHOW RETENTION POLICIES ON "{database}"'}).json()
        durations = {row[0]: row[1] for row in body["results"][0]["series"][0]["values"]}
        assert (durations["vigil_daily"], durations["vigil_weekly"],
                durations["vigil_monthly"]) == ("240h0m0s", "12000h0m0s", "0s")
    finally:
        store.close()
        main.close()
        drop_influx_database(influx_server.url, database)


def test_influx_honours_an_existing_policy(influx_server: Any) -> None:
    database = new_database_name()
    httpx.post(f"{influx_server.url}/query", data={
        "q": f'CREATE DATABASE "{database}"; CREATE RETENTION POLICY "vigil_daily" '
             f'ON "{database}" DURATION 30d REPLICATION 1'}).raise_for_status()
    store = influx_store(influx_server.url, database)
    try:
        result = store.write_batch([rec("d", "e", ago(45), n=1), rec("d", "e", ago(5), n=2)])
        assert [r.bucket for r in result.outside_retention] == [ago(45)]
    finally:
        store.close()
        drop_influx_database(influx_server.url, database)


class CountingTransport(httpx.HTTPTransport):
    """The real transport, remembering each request."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


def test_influx_batches_writes_and_sends_the_token(influx_server: Any) -> None:
    database = new_database_name()
    transport = CountingTransport()
    store = InfluxAggregateStore(InfluxSettings(influx_server.url, database, token="t0k"),
                                 batch_points=4, transport=transport)
    try:
        records = [rec("d", f"cam{i}", ago(1), n=i) for i in range(10)]
        assert store.write_batch(records).written == 10
        writes = [r for r in transport.requests if r.url.path == "/write"]
        assert len(writes) == 3
        assert {r.headers["authorization"] for r in transport.requests} == {"Token t0k"}
        assert store.query(ago(1), ago(1)) == records
    finally:
        store.close()
        drop_influx_database(influx_server.url, database)


def test_unreachable_influx_fails_after_three_attempts() -> None:
    waits: list[float] = []
    store = InfluxAggregateStore(InfluxSettings(f"http://127.0.0.1:{free_port()}", "x"),
                                 sleep=waits.append, timeout=2.0)
    try:
        with pytest.raises(AggregateStoreError, match="failed after 3 attempts"):
            store.write_batch([rec("d", "e", ago(1), n=1)])
        assert waits == [0.5, 1.0]
        with pytest.raises(AggregateStoreError, match="ConnectError"):
            store.query(ago(1), ago(1))
    finally:
        store.close()


def test_stopped_influx_fails_and_a_restarted_one_works(influx_server: Any) -> None:
    database = new_database_name()
    store = influx_store(influx_server.url, database)
    try:
        store.write(rec("d", "e", ago(2), n=1))
        influx_server.halt()
        try:
            with pytest.raises(AggregateStoreError, match="failed after 3 attempts"):
                store.write(rec("d", "e", ago(1), n=2))
        finally:
            influx_server.start()
        assert [r.fields["n"] for r in store.query(ago(2), ago(1))] == [1]
    finally:
        store.close()
        drop_influx_database(influx_server.url, database)


class FailingInflux(BaseHTTPRequestHandler):
    """Answers every request with the status in the server's ``status`` attribute."""

    def do_POST(self) -> None:  # noqa: N802 (the http.server API)
        self.server.hits += 1  # type: ignore[attr-defined]
        body = json.dumps({"error": "deliberate"}).encode()
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def failing_influx() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingInflux)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(("status", "attempts"), [(503, 3), (400, 1)])
def test_server_errors_are_retried_and_client_errors_are_not(
        failing_influx: ThreadingHTTPServer, status: int, attempts: int) -> None:
    failing_influx.status = status  # type: ignore[attr-defined]
    failing_influx.hits = 0  # type: ignore[attr-defined]
    store = influx_store(f"http://127.0.0.1:{failing_influx.server_address[1]}", "x")
    try:
        with pytest.raises(AggregateStoreError, match="deliberate"):
            store.write(rec("d", "e", ago(1), n=1))
    finally:
        store.close()
    assert failing_influx.hits == attempts  # type: ignore[attr-defined]


NAMES = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12)
STORABLE = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
"""Characters of string values: anything but lone surrogates and NUL."""


def writable(text: str, measurement: bool = False) -> bool:
    try:
        check_name(text, "name", measurement=measurement)
    except LineProtocolError:
        return False
    return True


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(detector=NAMES.filter(lambda t: writable(t, measurement=True)),
       entity=NAMES.filter(writable),
       field=NAMES.filter(lambda t: writable(t) and t not in ("time", "entity", "layer")
                          and not t.endswith("__json")),
       value=st.text(STORABLE))
def test_any_printable_names_round_trip_through_influx(
        influx_server: Any, detector: str, entity: str, field: str, value: str) -> None:
    database = new_database_name()
    store = influx_store(influx_server.url, database)
    try:
        record = rec(detector, entity, ago(1), **{field: value, "n": 1.5})
        store.write(record)
        assert store.query(ago(1), ago(1), detector=detector, entity=entity) == [record]
        assert store.query(ago(1), ago(1)) == [record]
    finally:
        store.close()
        drop_influx_database(influx_server.url, database)


# -- SQL and InfluxDB agree -----------------------------------------------------------------------
DETECTORS = ("hourly_counts", "seq uences", "co,occ=urrences")
ENTITIES = ("cam1", "cam 2", "door=front")
FIELDS = st.fixed_dictionaries(
    {"n": st.integers(0, 10_000)},
    optional={"m": st.floats(-1e6, 1e6, allow_nan=False),
              "hist": st.lists(st.integers(0, 50), max_size=24),
              "s": st.text(STORABLE, max_size=8), "ok": st.booleans()})


@st.composite
def records(draw: st.DrawFn) -> AggregateRecord:
    layer = draw(st.sampled_from(("daily", "weekly", "monthly")))
    if layer == "daily":
        bucket = ago(draw(st.integers(0, 60)))
    elif layer == "weekly":
        bucket = monday(draw(st.integers(0, 40)))
    else:
        bucket = dt.date(draw(st.integers(2020, 2025)), draw(st.integers(1, 12)), 1)
    return AggregateRecord(layer, draw(st.sampled_from(DETECTORS)),
                           draw(st.sampled_from(ENTITIES)), bucket, draw(FIELDS))


Query = tuple[dt.date, dt.date, str | None, str | None, str]


@st.composite
def queries_near(draw: st.DrawFn, written: list[AggregateRecord]) -> Query:
    """A query around a written record (so most find something), or anywhere."""
    if written and draw(st.integers(0, 4)):
        record = draw(st.sampled_from(written))
        start = record.bucket - dt.timedelta(days=draw(st.integers(0, 60)))
        end = record.bucket + dt.timedelta(days=draw(st.integers(0, 60)))
        return (start, end, draw(st.sampled_from((None, record.detector))),
                draw(st.sampled_from((None, record.entity))), record.layer)
    start = draw(st.dates(dt.date(2019, 12, 1), TODAY))
    return (start, start + dt.timedelta(days=draw(st.integers(0, 400))),
            draw(st.sampled_from((None, *DETECTORS))), draw(st.sampled_from((None, *ENTITIES))),
            draw(st.sampled_from(("daily", "weekly", "monthly"))))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(batches=st.lists(st.lists(records(), max_size=25), min_size=1, max_size=3),
       field=st.sampled_from(("n", "m", "s", "hist")), data=st.data())
def test_sql_and_influx_give_the_same_answers(
        influx_server: Any, tmp_path: Path, batches: list[list[AggregateRecord]], field: str,
        data: st.DataObject) -> None:
    main = open_store(str(tmp_path / "agree.duckdb"))
    database = new_database_name()
    sql, influx = SqlAggregateStore(main), influx_store(influx_server.url, database)
    written = [record for batch in batches for record in batch]
    try:
        for batch in batches:  # later batches rewrite some keys with other fields
            assert sql.write_batch(batch).written == influx.write_batch(batch).written
        for start, end, detector, entity, layer in data.draw(
                st.lists(queries_near(written), min_size=1, max_size=6)):
            found = sql.query(start, end, detector, entity, layer)
            assert found == influx.query(start, end, detector, entity, layer)
            event("query found records" if found else "query found nothing")
            for agg in ("sum", "mean", "count"):
                assert_same(sql, influx, start, end, field, agg, detector, entity, layer)
    finally:
        with main.transaction():
            main._write("DELETE FROM aggregates")  # type: ignore[attr-defined]
        main.close()
        influx.close()
        drop_influx_database(influx_server.url, database)


def assert_same(sql: SqlAggregateStore, influx: InfluxAggregateStore, *query: Any) -> None:
    """Both stores give the same aggregate, or both refuse it (a sum of strings)."""
    answers: list[Any] = []
    for store in (sql, influx):
        try:
            answers.append(store.aggregate(*query))
        except NotNumericError:
            answers.append("not numeric")
    left, right = answers
    if isinstance(left, float) and isinstance(right, float):
        assert math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-6)
    else:
        assert left == right
