"""The real test servers start, answer their protocol and stop cleanly."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psycopg
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from servers import (
    InfluxServer,
    MosquittoServer,
    PostgresServer,
    RedisServer,
    SetupError,
    create_database,
    drop_database,
    pid_alive,
    start_mosquitto,
    start_redis,
)

WAIT = 10.0


def test_postgres_answers(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        version = conn.execute("SHOW server_version").fetchone()
    assert version is not None and version[0].startswith("15")


def test_pg_url_is_a_database_of_its_own(pg_url: str, postgres_server: PostgresServer) -> None:
    assert f":{postgres_server.port}/" in pg_url
    with psycopg.connect(pg_url) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
    assert name is not None and name[0] != "postgres"


def test_create_and_drop_database(postgres_server: PostgresServer) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = create_database(postgres_server.url, name)
    with psycopg.connect(url) as conn:
        tables = conn.execute("SELECT count(*) FROM information_schema.tables "
                              "WHERE table_schema = 'public'").fetchone()
        conn.execute("CREATE TABLE t (x int)")
    assert tables == (0,)
    drop_database(postgres_server.url, name)
    with psycopg.connect(postgres_server.url) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    assert found is None


def test_redis_answers_ping(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_influx_ping_write_and_query(influx_server: InfluxServer) -> None:
    db = f"t_{uuid.uuid4().hex[:12]}"
    with httpx.Client(base_url=influx_server.url, timeout=WAIT) as http:
        assert http.get("/ping").status_code == 204
        assert http.post("/query", params={"q": f'CREATE DATABASE "{db}"'}).status_code == 200
        written = http.post("/write", params={"db": db, "precision": "s"},
                            content=b"hourly,camera=front count=3i 1700000000\n")
        assert written.status_code == 204, written.text
        answer = http.get("/query", params={"db": db, "q": "SELECT count FROM hourly"}).json()
    series = answer["results"][0]["series"][0]
    assert series["values"] == [["2023-11-14T22:13:20Z", 3]]


@dataclass
class Inbox:
    """What an MQTT test client has been told by the broker."""

    connected: threading.Event = field(default_factory=threading.Event)
    session_present: bool = False
    messages: queue.Queue[mqtt.MQTTMessage] = field(default_factory=queue.Queue)


@contextmanager
def mqtt_client(server: MosquittoServer, client_id: str, *, persistent: bool = False
                ) -> Iterator[tuple[mqtt.Client, Inbox]]:
    """A connected MQTT v5 client; ``persistent`` keeps its session for 5 minutes offline."""
    inbox = Inbox()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)

    def on_connect(_c: mqtt.Client, _u: Any, flags: mqtt.ConnectFlags, reason: ReasonCode,
                   _p: Properties | None) -> None:
        inbox.session_present = flags.session_present
        if not reason.is_failure:
            inbox.connected.set()

    client.on_connect = on_connect
    client.on_message = lambda _c, _u, message: inbox.messages.put(message)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 300 if persistent else 0
    client.connect("127.0.0.1", server.port, clean_start=not persistent, properties=properties)
    client.loop_start()
    try:
        assert inbox.connected.wait(WAIT), "no CONNACK from mosquitto"
        yield client, inbox
    finally:
        client.disconnect()
        client.loop_stop()


def test_mqtt_publish_subscribe_round_trip(mosquitto_server: MosquittoServer) -> None:
    topic = f"vigil/test/{uuid.uuid4().hex}"
    with mqtt_client(mosquitto_server, f"sub-{uuid.uuid4().hex}") as (sub, inbox):
        wait_subscribed(sub, topic)
        with mqtt_client(mosquitto_server, f"pub-{uuid.uuid4().hex}") as (pub, _):
            pub.publish(topic, b"hello", qos=1).wait_for_publish(WAIT)
        message = inbox.messages.get(timeout=WAIT)
    assert (message.topic, message.payload) == (topic, b"hello")


def wait_subscribed(client: mqtt.Client, topic: str) -> None:
    """Subscribe at QoS 1 and wait for the broker's SUBACK."""
    done = threading.Event()
    client.on_subscribe = lambda *_args: done.set()
    client.subscribe(topic, qos=1)
    assert done.wait(WAIT), "no SUBACK from mosquitto"


def test_mosquitto_restart_keeps_queued_qos1_message() -> None:
    broker = start_mosquitto()
    topic, sub_id = f"vigil/test/{uuid.uuid4().hex}", f"sub-{uuid.uuid4().hex}"
    try:
        with mqtt_client(broker, sub_id, persistent=True) as (sub, _):
            wait_subscribed(sub, topic)
        with mqtt_client(broker, f"pub-{uuid.uuid4().hex}") as (pub, _):
            pub.publish(topic, b"queued", qos=1).wait_for_publish(WAIT)
        port = broker.port
        broker.restart()
        assert broker.port == port
        with mqtt_client(broker, sub_id, persistent=True) as (_, inbox):
            message = inbox.messages.get(timeout=WAIT)
            assert inbox.session_present
    finally:
        broker.stop()
    assert (message.topic, message.payload, message.qos) == (topic, b"queued", 1)


def test_stop_ends_the_process_and_removes_the_dir() -> None:
    server = start_redis()
    pid, workdir = server.pid, server.workdir
    assert pid is not None and pid_alive(pid)
    server.stop()
    assert not pid_alive(pid)
    assert not workdir.exists()


def test_missing_binary_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SetupError, match="redis-server not found"):
        start_redis()
