"""The hourly counts kept in the insert transaction equal a rebuild from the event log.

Random sequences of JSON batches (with duplicates within and across batches, re-sent batches,
out-of-order timestamps around DST changes, several sources and zones, several labels or none)
go through :func:`vigil.ingest.payload.ingest_payload` into a real store (DuckDB and
PostgreSQL). After every
step the incremental table must equal the ``GROUP BY`` over the events exactly, and both must
equal an independent Python model of what was stored (first occurrence of each id wins).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from vigil.ingest.payload import ingest_payload
from vigil.model import normalise_labels
from vigil.store import Store, open_store, postgres

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
SOURCES = ("cam_berlin", "cam_new_york", "cam_sydney", "cam_utc")
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC")
DST_CHANGES = (
    dt.datetime(2026, 3, 29, 1, tzinfo=UTC),  # Berlin forward
    dt.datetime(2026, 10, 25, 1, tzinfo=UTC),  # Berlin back
    dt.datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York forward
    dt.datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York back
    dt.datetime(2026, 4, 4, 16, tzinfo=UTC),  # Sydney back
    dt.datetime(2026, 10, 3, 16, tzinfo=UTC),  # Sydney forward
)
COUNT_COLUMNS = ("event_count", "confidence_count")

# -- strategies --------------------------------------------------------------------------------
HOT_HOURS = (dt.datetime(2026, 6, 1, 12, tzinfo=UTC), dt.datetime(2026, 10, 25, 0, tzinfo=UTC))
"""Hours many events fall into, so that counts and sums of one key grow across batches."""


def _shifted(start: dt.datetime, seconds: int) -> dt.datetime:
    return start + dt.timedelta(seconds=seconds)


instants = st.one_of(
    st.builds(_shifted, st.sampled_from(DST_CHANGES), st.integers(-3 * 3600, 3 * 3600)),
    st.builds(_shifted, st.sampled_from(HOT_HOURS), st.integers(0, 3599)),
    st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 31))
    .map(lambda d: d.replace(tzinfo=UTC, microsecond=d.microsecond // 1000 * 1000)),
)
LABEL_SETS = ([], ["person"], ["car"], ["person", "car"], ["dog", "person"])
dyadic_confidences = st.one_of(st.none(), st.integers(0, 8).map(lambda k: k / 8))
decimal_confidences = st.integers(0, 100).map(lambda k: k / 100)


hot_instants = st.builds(_shifted, st.sampled_from(HOT_HOURS), st.integers(0, 3599))


@st.composite
def events(draw: st.DrawFn, confidences: st.SearchStrategy[float | None],
           dense: bool) -> dict[str, Any]:
    """One valid JSON event; ids come from a small pool so they repeat.

    ``dense`` events share few keys (two sources, two hours, detections), so one hourly row
    collects many events from several batches.
    """
    instant = draw(hot_instants if dense else instants)
    kinds = ["detection"] if dense else ["detection", "motion", "entry"]
    event_type = draw(st.sampled_from(kinds))
    event: dict[str, Any] = {
        "camera_id": draw(st.sampled_from(SOURCES[:2] if dense else SOURCES)),
        "event_type": event_type,
        "timestamp": draw(st.sampled_from(["iso_z", "offset", "unix_ms"])),
    }
    event["timestamp"] = render(instant, event["timestamp"])
    labels = draw(st.sampled_from(LABEL_SETS))
    style = draw(st.sampled_from(["label", "labels", "detections"]))
    if len(labels) == 1 and style == "label":
        event["label"] = labels[0].upper() if draw(st.booleans()) else labels[0]
    elif labels and style == "detections":
        event["detections"] = [{"label": label, "box": [0, 0, 1, 1]} for label in labels]
    elif labels:
        event["labels"] = labels
    confidence = draw(confidences)
    if confidence is not None:
        event["confidence"] = confidence
    if event_type == "entry":
        event["person_id"] = draw(st.sampled_from(["p1", "p2"]))
    if draw(st.booleans()):
        event["event_id"] = f"e{draw(st.integers(0, 12))}"
    return event


def render(instant: dt.datetime, style: str) -> str | int:
    if style == "unix_ms":
        return (instant - EPOCH) // dt.timedelta(milliseconds=1)
    if style == "offset":
        return instant.astimezone(ZoneInfo("Asia/Kolkata")).isoformat()
    return instant.isoformat().replace("+00:00", "Z")


@dataclass
class Scenario:
    zones_first: dict[str, str]  # zones set before any ingest
    sends: list[tuple[list[dict[str, Any]], bool]]  # (batch, as NDJSON) in order
    rezone: tuple[str, str]  # a source and its new zone, set after ingest


@st.composite
def scenarios(draw: st.DrawFn, confidences: st.SearchStrategy[float | None],
              dense: bool = False) -> Scenario:
    batches = draw(st.lists(st.lists(events(confidences, dense), max_size=10),
                            min_size=1, max_size=5))
    resend = draw(st.lists(st.integers(0, len(batches) - 1), max_size=3))
    order = batches + [batches[i] for i in resend]
    sends = [(batch, draw(st.booleans())) for batch in order]
    zones_first = draw(st.dictionaries(st.sampled_from(SOURCES), st.sampled_from(ZONES)))
    rezone = (draw(st.sampled_from(SOURCES)), draw(st.sampled_from(ZONES)))
    return Scenario(zones_first, sends, rezone)


# -- an independent model of the store ---------------------------------------------------------
def parse_instant(value: str | int) -> dt.datetime:
    if isinstance(value, int):
        return EPOCH + dt.timedelta(milliseconds=value)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def model_labels(event: dict[str, Any]) -> list[str]:
    found = list(event.get("labels", []))
    if "label" in event:
        found.append(event["label"])
    found += [d["label"] for d in event.get("detections", [])]
    return normalise_labels(found)


def identity(event: dict[str, Any]) -> tuple[Any, ...]:
    """The event id and instant, or for id-less events every content field (what the
    digest covers)."""
    if "event_id" in event:
        return ("id", event["event_id"], parse_instant(event["timestamp"]))
    return ("content", event["camera_id"], event["event_type"],
            parse_instant(event["timestamp"]), tuple(model_labels(event)),
            event.get("confidence"), event.get("person_id"),
            json.dumps(event.get("detections"), sort_keys=True))


class Model:
    """What the store must hold: the first occurrence of each identity."""

    def __init__(self) -> None:
        self.stored: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.zones: dict[str, str] = {}

    def send(self, batch: list[dict[str, Any]]) -> tuple[int, int]:
        before = len(self.stored)
        firsts: dict[tuple[Any, ...], dict[str, Any]] = {}
        for event in batch:  # repeats within a batch are dropped before the store sees them
            firsts.setdefault(identity(event), event)
        for key, event in firsts.items():
            self.stored.setdefault(key, event)
            self.zones.setdefault(event["camera_id"], "UTC")  # a new source: default zone
        accepted = len(self.stored) - before
        return accepted, len(batch) - accepted

    def hourly(self) -> dict[tuple[Any, ...], tuple[int, int]]:
        """(source, type, label, local date, local hour) -> (event count, confidence count)."""
        counts: Counter[tuple[Any, ...]] = Counter()
        with_confidence: Counter[tuple[Any, ...]] = Counter()
        for event in self.stored.values():
            local = parse_instant(event["timestamp"]).astimezone(
                ZoneInfo(self.zones[event["camera_id"]]))
            for label in [*model_labels(event), "*"]:
                key = (event["camera_id"], event["event_type"], label, local.date(), local.hour)
                counts[key] += 1
                with_confidence[key] += "confidence" in event
        return {key: (counts[key], with_confidence[key]) for key in counts}


# -- checks ------------------------------------------------------------------------------------
def as_dict(table: pa.Table) -> dict[tuple[Any, ...], tuple[int, int]]:
    return {
        (r["source_id"], r["event_type"], r["label"], r["local_date"], r["local_hour"]):
            tuple(r[c] for c in COUNT_COLUMNS)
        for r in table.to_pylist()
    }


def check(store: Store, model: Model) -> None:
    incremental, rebuilt = store.hourly_counts(), store.hourly_counts_from_events()
    assert as_dict(incremental) == model.hourly()  # counts are right (independent model)
    assert as_dict(rebuilt) == model.hourly()
    assert store.count_events() == len(model.stored)
    client_ids = {key[1] for key in model.stored if key[0] == "id"}
    stored_ids = list(store.iter_event_ids())
    assert len(stored_ids) == len(model.stored)
    assert client_ids <= set(stored_ids)
    assert {s.source_id: s.timezone for s in store.list_sources()} == model.zones
    # and exactly the same rows, the float sums included
    assert incremental.to_pylist() == rebuilt.to_pylist()


def run_scenario(scenario: Scenario, fresh_store: Callable[[], Store]) -> None:
    store = fresh_store()
    try:
        model = Model()
        for source, zone in scenario.zones_first.items():
            store.set_source_timezone(source, zone)
            model.zones[source] = zone
        for batch, as_ndjson in scenario.sends:
            if not batch:
                continue
            body = ("\n".join(json.dumps(e) for e in batch) if as_ndjson
                    else json.dumps(batch)).encode()
            result = ingest_payload(body, store.insert_events)
            assert result.rejected == 0, result.errors
            assert (result.accepted, result.duplicates) == model.send(batch)
        check(store, model)

        source, zone = scenario.rezone
        store.set_source_timezone(source, zone)
        model.zones[source] = zone
        check(store, model)

        store.rebuild_hourly_counts()
        check(store, model)
        store.rebuild_hourly_counts(source)
        check(store, model)
    finally:
        store.close()


STORE_SETTINGS = settings(max_examples=25, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large,
                                                 HealthCheck.function_scoped_fixture])


@STORE_SETTINGS
@given(scenario=scenarios(dyadic_confidences))
def test_incremental_counts_equal_rebuild(scenario: Scenario,
                                         store_factory: Callable[[], Store]) -> None:
    """Confidences are multiples of 1/8 here, so their float sums do not depend on order."""
    run_scenario(scenario, store_factory)


@settings(STORE_SETTINGS, max_examples=20, derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(scenario=scenarios(decimal_confidences, dense=True))  # each example opens a database
def test_incremental_counts_equal_rebuild_with_decimal_confidences(
        scenario: Scenario, store_factory: Callable[[], Store]) -> None:
    """Confidences as clients send them (0.01 steps), many per hourly row: the sums must
    match exactly too (shrinking is off: each example opens a database)."""
    run_scenario(scenario, store_factory)


def test_confidence_sum_does_not_depend_on_batching(store: Store) -> None:
    """The smallest case: one hour, a batch of one event, then a batch of two."""
    for batch in ([("a", 0.1)], [("b", 0.2), ("c", 0.7)]):
        body = json.dumps([
            {"event_id": event_id, "camera_id": "cam", "event_type": "detection",
             "timestamp": "2026-01-01T00:10:00Z", "confidence": confidence}
            for event_id, confidence in batch
        ])
        assert ingest_payload(body.encode(), store.insert_events).accepted == len(batch)
    incremental = store.hourly_counts().to_pylist()
    rebuilt = store.hourly_counts_from_events().to_pylist()
    assert [r["event_count"] for r in incremental] == [3]
    assert incremental == rebuilt
    store.rebuild_hourly_counts()
    assert store.hourly_counts().to_pylist() == incremental


@STORE_SETTINGS
@given(scenario=scenarios(decimal_confidences, dense=True))
def test_postgres_bulk_path_counts_equal_rebuild(scenario: Scenario, pg_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL's bulk path (local time and counts computed in Arrow, rows copied straight
    into the table) is taken for every batch here; it must agree with the SQL exactly, and
    fall back to the general path when a batch holds stored events."""
    monkeypatch.setattr(postgres, "BULK_PATH_MIN_ROWS", 1)
    monkeypatch.setattr(postgres, "PROBE_SAMPLE", 2)  # so the copy itself meets repeats

    def fresh() -> Store:
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute("TRUNCATE events, hourly_counts, sources")
        return open_store(pg_url)

    run_scenario(scenario, fresh)
