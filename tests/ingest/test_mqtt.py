"""MQTT ingest against a real Mosquitto: Frigate and Vigil topics, dead letters, shared
subscriptions, a broker restart, and acknowledgement only after commit.

The store-level tests run on DuckDB and PostgreSQL (``store`` / ``store_url``). Every test uses
its own topics, share group and client ids on the session's broker.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import select
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pyarrow as pa
import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from vigil.config import Settings, load_settings
from vigil.ingest.frigate import map_frigate_message
from vigil.ingest.mqtt import MqttIngestor, broker_address, default_client_id
from vigil.ingest.mqtt_batch import EXCERPT_CHARS, Received, excerpt, prepare_batch
from vigil.ingest.mqtt_client import BufferedSocket, decode_publish
from vigil.metrics import REGISTRY
from vigil.model import ALL_LABELS
from vigil.store import Store, open_store
from vigil.writer import Writer

from .helpers import all_events

DATA = Path(__file__).parent / "data" / "frigate"
WAIT = 20.0
NOW = dt.datetime(2026, 3, 22, 12, 0, tzinfo=dt.UTC)


# -- helpers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Topics:
    """This test's topics and share group."""

    frigate: str
    events: str
    group: str


@pytest.fixture
def topics() -> Topics:
    tag = uuid.uuid4().hex[:12]
    return Topics(f"test/{tag}/frigate/events", f"test/{tag}/vigil/events", f"g{tag}")


@pytest.fixture
def writer(store: Store) -> Iterator[Writer]:
    opened = Writer(store)
    try:
        yield opened
    finally:
        opened.close()


def mqtt_settings(server: Any, topics: Topics, client_id: str | None = None) -> Settings:
    return load_settings(mqtt_url=server.url, mqtt_frigate_topic=topics.frigate,
                         mqtt_events_topic=topics.events, mqtt_share_group=topics.group,
                         mqtt_client_id=client_id or f"ingest-{uuid.uuid4().hex[:12]}")


@contextmanager
def running(settings: Settings, writer: Writer, stop_timeout: float = 5.0,
            batch_max: int = 2000) -> Iterator[MqttIngestor]:
    """A started ingestor whose subscriptions the broker confirmed; stopped afterwards."""
    ingestor = MqttIngestor(settings, writer, batch_max=batch_max, batch_wait=0.01)
    ingestor.start()
    try:
        assert ingestor.wait_subscribed(WAIT), "the ingestor did not subscribe"
        yield ingestor
    finally:
        ingestor.stop(stop_timeout)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Publisher:
    """A paho MQTT 5 publisher; given a client id, its session is persistent (kept by the
    broker, across a restart too, for the next publisher with that id)."""

    def __init__(self, server: Any, client_id: str | None = None) -> None:
        persistent = client_id is not None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"pub-{uuid.uuid4().hex[:12]}",
                                  protocol=mqtt.MQTTv5)
        connected = threading.Event()
        self.client.on_connect = lambda *_args: connected.set()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 300 if persistent else 0
        self.client.connect("127.0.0.1", server.port, clean_start=not persistent,
                            properties=properties)
        self.client.loop_start()
        assert connected.wait(WAIT), "the publisher did not connect"
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def send(self, topic: str, payload: bytes | str | dict[str, Any] | list[Any]) -> None:
        """Publish at QoS 1 (dicts and lists as JSON)."""
        if isinstance(payload, dict | list):
            payload = json.dumps(payload)
        self.infos.append(self.client.publish(topic, payload, qos=1))

    def wait_sent(self) -> None:
        """Wait until the broker acknowledged everything sent so far."""
        for info in self.infos:
            info.wait_for_publish(WAIT)
            assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def publisher(server: Any, client_id: str | None = None) -> Iterator[Publisher]:
    opened = Publisher(server, client_id)
    try:
        yield opened
    finally:
        opened.close()


def vigil_event(n: int, camera: str | None = None) -> dict[str, Any]:
    """A valid Vigil event; ``n`` picks its id, camera and hour."""
    ts = dt.datetime(2026, 3, 22, tzinfo=dt.UTC) + dt.timedelta(minutes=17 * n)
    return {"event_id": f"ev-{n}", "camera_id": camera or f"cam{n % 3}",
            "event_type": "detection", "timestamp": ts.isoformat().replace("+00:00", "Z"),
            "labels": ["person" if n % 2 else "car"], "confidence": 0.5 + (n % 5) / 10}


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def assert_counts_consistent(store: Store, published: list[dict[str, Any]]) -> None:
    """Exactly the published events, and hourly counts equal to a rebuild from them."""
    assert store.count_events() == len(published)
    assert sorted(store.iter_event_ids()) == sorted(e["event_id"] for e in published)
    hourly = store.hourly_counts()
    assert hourly.to_pylist() == store.hourly_counts_from_events().to_pylist()
    counted: Counter[tuple[str, str]] = Counter()
    for row in hourly.to_pylist():
        counted[(row["source_id"], row["label"])] += row["event_count"]
    expected = Counter((e["camera_id"], label) for e in published
                       for label in [*e["labels"], ALL_LABELS])
    assert counted == expected


# -- preparing batches (no broker) ---------------------------------------------------------------
def is_frigate(topic: str) -> bool:
    return topic == "frigate/events"


def test_prepare_mixed_array_stores_the_valid_items_and_names_the_invalid() -> None:
    items = [vigil_event(1), {**vigil_event(2), "timestamp": "yesterday"},
             vigil_event(3), {**vigil_event(4), "confidence": 7}]
    batch = prepare_batch([Received("vigil/events", json.dumps(items).encode())], is_frigate,
                          NOW)
    assert sorted(batch.events.column("event_id").to_pylist()) == ["ev-1", "ev-3"]
    [letter] = batch.letters
    assert letter.reason == "timestamp_invalid"
    assert letter.message.startswith("2 of 4 events rejected (2 valid ones stored): [1] ")
    assert "[3] confidence_out_of_range" in letter.message
    assert (letter.transport, letter.topic, letter.received_at) == ("mqtt", "vigil/events", NOW)
    assert letter.payload_bytes == len(json.dumps(items).encode())
    assert batch.rejected_by_reason == {"timestamp_invalid": 1, "confidence_out_of_range": 1}


def test_prepare_unreadable_messages() -> None:
    frigate = json.loads((DATA / "person_lifecycle_v0_14.json").read_text())[0]
    del frigate["after"]["camera"]
    messages = [
        Received("vigil/events", b"{not json"),
        Received("vigil/events", b"\xff\xfe garbage"),
        Received("vigil/events", b""),
        Received("frigate/events", json.dumps(frigate).encode()),
        Received("frigate/events", b"[1, 2]"),
        Received("vigil/events", json.dumps(vigil_event(5)).encode()),
    ]
    batch = prepare_batch(messages, is_frigate, NOW)
    assert batch.events.column("event_id").to_pylist() == ["ev-5"]
    reasons = [(letter.topic, letter.reason) for letter in batch.letters]
    assert reasons == [("vigil/events", "invalid_json")] * 3 + [
        ("frigate/events", "frigate_missing_field"), ("frigate/events", "frigate_not_object")]
    assert "after.camera" in batch.letters[3].message
    assert batch.letters[1].payload == "\ufffd\ufffd garbage"  # replaced, not dropped
    assert batch.letters[1].payload_bytes == 10


def test_a_message_that_breaks_processing_is_isolated(caplog: pytest.LogCaptureFixture) -> None:
    def explosive(topic: str) -> bool:
        if topic == "boom":
            raise RuntimeError("bug")
        return False

    messages = [Received("vigil/events", json.dumps(vigil_event(1)).encode()),
                Received("boom", b"{}"),
                Received("vigil/events", json.dumps(vigil_event(2)).encode())]
    with caplog.at_level(logging.ERROR):
        batch = prepare_batch(messages, explosive, NOW)
    assert sorted(batch.events.column("event_id").to_pylist()) == ["ev-1", "ev-2"]
    assert [(letter.topic, letter.reason) for letter in batch.letters] == [
        ("boom", "internal_error")]
    assert "could not be processed" in caplog.text


def test_excerpt_is_short() -> None:
    assert excerpt("x" * 1000) == "x" * (EXCERPT_CHARS - 1) + "…"
    assert len(excerpt("x" * 1000)) == EXCERPT_CHARS
    assert excerpt("short") == "short"


def test_broker_address_and_client_id() -> None:
    assert broker_address("mqtt://10.0.0.2:1884").port == 1884
    address = broker_address("mqtt://u:p@broker")
    assert (address.host, address.port, address.username, address.password) == (
        "broker", 1883, "u", "p")
    for bad in ("http://broker:1883", "broker:1883", "mqtt://"):
        with pytest.raises(ValueError, match="mqtt://host:port"):
            broker_address(bad)
    assert default_client_id().endswith(f"-{os.getpid()}")


def publish_body(topic: str, payload: bytes, mid: int | None,
                 properties: Properties | None) -> bytes:
    """The body of a PUBLISH packet (what follows the fixed header)."""
    encoded = topic.encode()
    body = len(encoded).to_bytes(2, "big") + encoded
    if mid is not None:
        body += mid.to_bytes(2, "big")
    if properties is not None:
        body += properties.pack()
    return body + payload


@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.parametrize("with_properties", [False, True])
def test_decode_publish_agrees_with_paho(qos: int, with_properties: bool) -> None:
    properties = Properties(PacketTypes.PUBLISH)
    if with_properties:
        properties.UserProperty = ("k", "v" * 200)  # a property length over 127 bytes
        properties.MessageExpiryInterval = 60
    payload = json.dumps(vigil_event(1)).encode()
    body = publish_body("frigate/événements", payload, 777 if qos else None, properties)
    header = 0x30 | (qos << 1)
    theirs = _packet.decode_publish(header, bytearray(body), mqtt.MQTTv5)
    assert decode_publish(bytearray(body), qos, True) == (
        theirs.topic.decode(), theirs.mid, theirs.payload)
    v3_body = publish_body("a/b", payload, 5 if qos else None, None)
    assert decode_publish(v3_body, qos, False) == ("a/b", 5 if qos else 0, payload)


def test_decode_publish_refuses_a_short_packet() -> None:
    with pytest.raises(MalformedPacket):
        decode_publish(b"\x00\x09abc", 0, False)


def test_buffered_socket_hands_out_what_it_read() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        buffered = BufferedSocket(left)
        with pytest.raises(BlockingIOError):
            buffered.recv(1)
        right.sendall(b"\x30\x05hello\x40")
        wait_until(lambda: select_readable(left), "data to arrive")
        assert buffered.recv(1) == b"\x30"
        assert buffered.pending() == 7
        assert buffered.recv(1) == b"\x05"
        assert buffered.recv(10) == b"hello\x40"
        assert buffered.pending() == 0
        right.close()
        assert buffered.recv(1) == b""  # end of stream


def select_readable(sock: Any) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


# -- against the broker ------------------------------------------------------------------------
FRIGATE_EXPECTED = {
    "person_lifecycle_v0_14.json": [("entry", "driveway"), ("exit", "driveway"),
                                    ("entry", "porch"), ("exit", "porch")],
    "person_lifecycle_v0_11.json": [("entry", "yard"), ("entry", "porch"), ("exit", "yard"),
                                    ("exit", "porch")],
    "car_lifecycle_entered_zones_only.json": [("entry", "street_parking"),
                                              ("entry", "driveway"), ("exit", "driveway"),
                                              ("exit", "street_parking")],
    "false_positive_v0_11.json": [],
}


def test_frigate_replay_old_and_new_shapes(mosquitto_server: Any, store: Store, writer: Writer,
                                           topics: Topics) -> None:
    lifecycles = {name: json.loads((DATA / name).read_text()) for name in FRIGATE_EXPECTED}
    messages = [message for lifecycle in lifecycles.values() for message in lifecycle]
    with running(mqtt_settings(mosquitto_server, topics), writer) as ingestor, \
            publisher(mosquitto_server) as pub:
        for _ in range(2):  # replayed: the second pass stores nothing new
            for message in messages:
                pub.send(topics.frigate, message)
        pub.wait_sent()
        wait_until(lambda: ingestor.stats.acked == 2 * len(messages), "every message acked")
    events = all_events(store)
    for name, zones in FRIGATE_EXPECTED.items():
        object_id = lifecycles[name][0]["after"]["id"]
        mine = [e for e in events if e["event_id"] == object_id or e["subject_id"] == object_id]
        detections = [e for e in mine if e["event_type"] == "detection"]
        assert len(detections) == (1 if zones else 0), name
        assert [(e["event_type"], e["zone"]) for e in mine if e["zone"]] == zones, name
    expected_ids = {event["event_id"] for message in messages
                    for event in map_frigate_message(message)}
    assert {e["event_id"] for e in events} == expected_ids
    assert len(events) == 15
    assert store.count_dead_letters() == 0
    assert ingestor.stats.stored == 15
    assert store.hourly_counts().to_pylist() == store.hourly_counts_from_events().to_pylist()


def test_generic_topic_objects_and_arrays(mosquitto_server: Any, store: Store, writer: Writer,
                                          topics: Topics) -> None:
    without_id = {key: value for key, value in vigil_event(9).items() if key != "event_id"}
    with running(mqtt_settings(mosquitto_server, topics), writer) as ingestor, \
            publisher(mosquitto_server) as pub:
        pub.send(topics.events, vigil_event(1))
        pub.send(topics.events, [vigil_event(2), vigil_event(3), vigil_event(4)])
        pub.send(topics.events, without_id)
        pub.send(topics.events, without_id)  # the same content: a duplicate
        pub.send(topics.events, vigil_event(1))  # the same id: a duplicate
        pub.wait_sent()
        wait_until(lambda: ingestor.stats.acked == 5, "every message acked")
    events = {e["event_id"]: e for e in all_events(store)}
    assert len(events) == 5
    assert {"ev-1", "ev-2", "ev-3", "ev-4"} <= set(events)
    first = events["ev-1"]
    assert (first["source_id"], first["event_type"], first["labels"], first["confidence"]) == (
        "cam1", "detection", ["person"], 0.6)
    assert first["ts"] == dt.datetime(2026, 3, 22, 0, 17, tzinfo=dt.UTC)
    assert ingestor.stats.duplicates == 2
    assert store.count_dead_letters() == 0


def test_malformed_messages_become_dead_letters_and_ingest_goes_on(
        mosquitto_server: Any, store: Store, writer: Writer, topics: Topics,
        caplog: pytest.LogCaptureFixture) -> None:
    frigate = json.loads((DATA / "person_lifecycle_v0_14.json").read_text())[0]
    frigate["type"] = "restart"
    long_garbage = "{" + "x" * 5000
    before = counter("vigil_mqtt_dead_letters_total", reason="invalid_json")
    caplog.set_level(logging.WARNING, logger="vigil.ingest.mqtt")
    with running(mqtt_settings(mosquitto_server, topics), writer) as ingestor, \
            publisher(mosquitto_server) as pub:
        pub.send(topics.events, long_garbage)
        pub.send(topics.frigate, frigate)
        pub.send(topics.events, [vigil_event(1), {"camera_id": "cam1"}, vigil_event(2)])
        pub.send(topics.events, b"\xc3\x28")
        pub.send(topics.events, vigil_event(3))  # still consumed after all that
        pub.wait_sent()
        wait_until(lambda: ingestor.stats.acked == 5, "every message acked")
    assert sorted(store.iter_event_ids()) == ["ev-1", "ev-2", "ev-3"]
    letters = {letter.reason: letter for letter in store.list_dead_letters(10)}
    assert set(letters) == {"invalid_json", "frigate_invalid_value", "event_type_missing"}
    assert store.count_dead_letters() == 4
    assert letters["frigate_invalid_value"].topic == topics.frigate
    assert "type" in letters["frigate_invalid_value"].message
    mixed = letters["event_type_missing"]
    assert mixed.topic == topics.events
    assert mixed.message.startswith("1 of 3 events rejected (2 valid ones stored): [1] ")
    garbage = next(letter for letter in store.list_dead_letters(10)
                   if letter.payload == long_garbage)
    assert garbage.payload_bytes == len(long_garbage)
    assert counter("vigil_mqtt_dead_letters_total", reason="invalid_json") - before == 2
    assert ingestor.stats.dead_lettered == 4
    logged = [r.getMessage() for r in caplog.records if "dead letter" in r.getMessage()]
    assert len(logged) == 4
    assert all(topics.events in m or topics.frigate in m for m in logged)
    long_line = next(m for m in logged if "xxxx" in m)
    assert "x" * (EXCERPT_CHARS - 2) in long_line and "x" * EXCERPT_CHARS not in long_line


@contextmanager
def second_writer(writer: Writer, store_url: str, backend: str) -> Iterator[Writer]:
    """Another worker's writer with its own store on PostgreSQL; on DuckDB (one writing
    process per file) the same writer."""
    if backend == "duckdb":
        yield writer
        return
    other = open_store(store_url)
    writer = Writer(other)
    try:
        yield writer
    finally:
        writer.close()
        other.close()


def test_two_ingestors_in_a_share_group_store_each_event_once(
        mosquitto_server: Any, store: Store, store_url: str, backend: str, writer: Writer,
        topics: Topics) -> None:
    published = [vigil_event(n) for n in range(300)]
    with second_writer(writer, store_url, backend) as other_writer, \
            running(mqtt_settings(mosquitto_server, topics), writer) as one, \
            running(mqtt_settings(mosquitto_server, topics), other_writer) as two, \
            publisher(mosquitto_server) as pub:
        for event in published:
            pub.send(topics.events, event)
        pub.wait_sent()
        wait_until(lambda: one.stats.acked + two.stats.acked == len(published),
                   "every message acked")
    assert one.stats.received > 0 and two.stats.received > 0
    assert one.stats.received + two.stats.received == len(published)
    assert_counts_consistent(store, published)


def test_a_stopped_ingestor_leaves_the_group(mosquitto_server: Any, store: Store,
                                             writer: Writer, topics: Topics) -> None:
    with running(mqtt_settings(mosquitto_server, topics), writer) as staying, \
            publisher(mosquitto_server) as pub:
        with running(mqtt_settings(mosquitto_server, topics), writer):
            pass  # subscribed, then stopped: it must not keep a share of the stream
        published = [vigil_event(n) for n in range(20)]
        for event in published:
            pub.send(topics.events, event)
        pub.wait_sent()
        wait_until(lambda: staying.stats.acked == len(published), "every message acked")
    assert_counts_consistent(store, published)


class SlowStore:
    """A real store whose inserts take a while, so a stream is still in flight later."""

    def __init__(self, store: Store, seconds: float) -> None:
        self.store = store
        self.seconds = seconds

    def insert_events(self, batch: pa.Table) -> int:
        time.sleep(self.seconds)
        return self.store.insert_events(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_broker_restart_mid_stream_loses_and_doubles_nothing(
        mosquitto_server: Any, store: Store, topics: Topics) -> None:
    published = [vigil_event(n) for n in range(600)]
    publisher_id = f"pub-{uuid.uuid4().hex[:12]}"
    slow = Writer(SlowStore(store, 0.02))  # type: ignore[arg-type]
    try:
        with running(mqtt_settings(mosquitto_server, topics), slow, batch_max=20) as ingestor:
            with publisher(mosquitto_server, publisher_id) as pub:
                for event in published[:300]:
                    pub.send(topics.events, event)
                pub.wait_sent()
            assert ingestor.stats.acked < 300  # the restart comes in the middle
            connects = ingestor.connects
            mosquitto_server.restart()
            # Mosquitto 2.0 restores sessions but not shared subscriptions: until the ingestor
            # has subscribed again the broker would drop what is published, so the publisher
            # comes back after that.
            wait_until(lambda: ingestor.connects > connects, "the ingestor to reconnect")
            assert ingestor.wait_subscribed(WAIT)
            with publisher(mosquitto_server, publisher_id) as pub:
                for event in published[300:]:
                    pub.send(topics.events, event)
                pub.wait_sent()
            wait_until(lambda: store.count_events() == len(published), "every event stored")
            wait_until(lambda: ingestor.stats.stored == len(published), "the last commit")
    finally:
        slow.close()
    assert ingestor.stats.redelivered > 0
    assert ingestor.stats.duplicates > 0  # committed before the restart, then sent again
    assert_counts_consistent(store, published)
    assert store.count_dead_letters() == 0


class FailingStore:
    """A real store whose ``insert_events`` raises the next ``failures`` times."""

    def __init__(self, store: Store, failures: int) -> None:
        self.store = store
        self.failures = failures
        self.attempts = 0

    def insert_events(self, batch: pa.Table) -> int:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("the disk is on fire")
        return self.store.insert_events(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_message_whose_write_fails_is_not_acked_and_comes_again(
        mosquitto_server: Any, store: Store, topics: Topics,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = mqtt_settings(mosquitto_server, topics, client_id=f"worker-{uuid.uuid4().hex}")
    failing = FailingStore(store, failures=10**9)
    broken = Writer(failing)  # type: ignore[arg-type]
    with publisher(mosquitto_server) as pub:
        with running(settings, broken, stop_timeout=1.0) as first:
            pub.send(topics.events, vigil_event(1))
            pub.wait_sent()
            wait_until(lambda: first.stats.write_failures >= 2, "the write to fail twice")
        broken.close()
        assert first.stats.acked == 0
        assert store.count_events() == 0
        assert "stay unacknowledged" in caplog.text
        working = Writer(store)
        try:  # the same client id: the broker sends the unacknowledged message again
            with running(settings, working) as second:
                wait_until(lambda: store.count_events() == 1, "the message to be stored")
                wait_until(lambda: second.stats.acked == 1, "the message to be acked")
        finally:
            working.close()
    assert second.stats.received == 1 and second.stats.redelivered == 1
    assert list(store.iter_event_ids()) == ["ev-1"]


def test_a_write_failing_once_is_retried_then_acked(mosquitto_server: Any, store: Store,
                                                    topics: Topics) -> None:
    settings = mqtt_settings(mosquitto_server, topics, client_id=f"worker-{uuid.uuid4().hex}")
    flaky = FailingStore(store, failures=1)
    writer = Writer(flaky)  # type: ignore[arg-type]
    try:
        with publisher(mosquitto_server) as pub:
            with running(settings, writer) as first:
                pub.send(topics.events, vigil_event(1))
                pub.wait_sent()
                wait_until(lambda: first.stats.acked == 1, "the retried write to be acked")
            assert (first.stats.write_failures, flaky.attempts) == (1, 2)
            with running(settings, writer) as second:  # same session: nothing comes again
                pub.send(topics.events, vigil_event(2))
                pub.wait_sent()
                wait_until(lambda: second.stats.acked == 1, "the next message")
            assert second.stats.received == 1
    finally:
        writer.close()
    assert sorted(store.iter_event_ids()) == ["ev-1", "ev-2"]
