"""``MqttSink`` against a real Mosquitto broker, with a real paho subscriber."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from servers import free_port
from vigil.anomaly.delivery import AlertSink
from vigil.anomaly.mqtt_sink import MqttSink, ha_payload, parse_broker_url, render_topic

WAIT = 5.0
PAYLOAD: dict[str, Any] = {
    "anomaly_id": 17, "source_id": "backyard", "type": "rare_time", "label": "person",
    "severity": "high", "score": 0.99349, "explanation": "person at 03:00 on Tuesday",
    "event_id": "abc", "window_start": "2024-03-05T02:00:00+00:00",
    "window_end": "2024-03-05T03:00:00+00:00", "detected_at": "2024-03-05T02:10:00+00:00",
    "local_hour": 3, "local_weekday": 1, "status": "open", "components": {"rate": 0.2},
    "rule": {"rule_id": "night", "name": "Night watch"},
}
EXPECTED_HA = {
    "event_type": "vigil_anomaly", "anomaly_id": 17, "source_id": "backyard",
    "camera": "backyard", "type": "rare_time", "severity": "high", "score": 0.993,
    "label": "person", "message": "person at 03:00 on Tuesday",
    "started_at": "2024-03-05T02:00:00+00:00", "ended_at": "2024-03-05T03:00:00+00:00",
    "detected_at": "2024-03-05T02:10:00+00:00", "event_id": "abc", "rule": "Night watch",
}


class Subscriber:
    """A paho client subscribed (SUBACK received) to ``filter``; messages land in a queue."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"sub-{uuid.uuid4().hex[:12]}")
        subscribed = threading.Event()
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.on_connect = lambda client, *_args: client.subscribe(topic_filter, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(WAIT), "the subscriber did not subscribe"

    def next(self) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=WAIT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def base() -> str:
    """A topic prefix of this test alone."""
    return f"vigil-test/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def subscriber(mosquitto_server: Any, base: str) -> Iterator[Subscriber]:
    opened = Subscriber(mosquitto_server.port, f"{base}/#")
    try:
        yield opened
    finally:
        opened.close()




def test_alert_arrives_on_the_source_topic_with_ha_fields(
        mosquitto_server: Any, base: str, subscriber: Subscriber) -> None:
    with MqttSink("ha", mosquitto_server.url, topic=base + "/{source_id}") as sink:
        attempt = sink.deliver(PAYLOAD)
        assert (attempt.ok, attempt.error) == (True, None)
        assert sink.connected
        message = subscriber.next()
        assert sink.deliver({**PAYLOAD, "anomaly_id": 18, "source_id": "garage"}).ok
        second = subscriber.next()
    assert message.topic == f"{base}/backyard"
    assert json.loads(message.payload) == EXPECTED_HA
    assert (message.qos, message.retain) == (1, False)
    assert second.topic == f"{base}/garage"
    assert json.loads(second.payload)["anomaly_id"] == 18
    assert not sink.connected


def test_topic_values_cannot_add_levels_or_wildcards(
        mosquitto_server: Any, base: str, subscriber: Subscriber) -> None:
    with MqttSink("ha", mosquitto_server.url,
                  topic=base + "/{severity}/{type}/{source_id}") as sink:
        assert sink.deliver({**PAYLOAD, "source_id": "front/door+#"}).ok
    assert subscriber.next().topic == f"{base}/high/rare_time/front_door__"
    assert render_topic("a/{label}", {"label": None}) == "a/unknown"


def test_retained_alerts_reach_later_subscribers(mosquitto_server: Any, base: str) -> None:
    with MqttSink("ha", mosquitto_server.url, topic=base + "/{source_id}", retain=True) as sink:
        assert sink.deliver(PAYLOAD).ok
    late = Subscriber(mosquitto_server.port, f"{base}/#")
    try:
        message = late.next()
        assert message.topic == f"{base}/backyard"
        assert message.retain and json.loads(message.payload)["camera"] == "backyard"
    finally:  # an empty retained message clears it on the broker
        late.client.publish(f"{base}/backyard", b"", qos=1, retain=True).wait_for_publish(WAIT)
        late.close()


def test_reconnects_after_losing_the_connection(
        mosquitto_server: Any, base: str, subscriber: Subscriber) -> None:
    client_id = f"sink-{uuid.uuid4().hex[:12]}"
    with MqttSink("ha", mosquitto_server.url, topic=base + "/{source_id}",
                  client_id=client_id) as sink:
        assert sink.deliver(PAYLOAD).ok
        subscriber.next()
        # a second client with the same id makes the broker drop the sink's connection
        intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        intruder.connect("127.0.0.1", mosquitto_server.port)
        intruder.loop_start()
        deadline = time.monotonic() + WAIT
        while sink.connected:
            assert time.monotonic() < deadline, "the broker did not drop the sink"
            time.sleep(0.02)
        intruder.disconnect()
        intruder.loop_stop()
        attempt = sink.deliver({**PAYLOAD, "anomaly_id": 99})
        assert attempt.ok, attempt.error
    assert json.loads(subscriber.next().payload)["anomaly_id"] == 99


def test_unreachable_broker_fails_fast_and_retryably() -> None:
    sink: AlertSink = MqttSink("ha", f"mqtt://127.0.0.1:{free_port()}", timeout=2.0)
    try:
        started = time.monotonic()
        attempt = sink.deliver(PAYLOAD)
        assert time.monotonic() - started < 2.0
        again = sink.deliver(PAYLOAD)  # still a clean failure on the next try
    finally:
        sink.close()
    assert (attempt.ok, attempt.retryable, attempt.error) == (False, True, "connection refused")
    assert again == attempt


def test_a_broker_that_never_answers_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # accepts TCP connections (backlog), never speaks MQTT
        port = silent.getsockname()[1]
        with MqttSink("ha", f"mqtt://127.0.0.1:{port}", timeout=0.4) as sink:
            started = time.monotonic()
            attempt = sink.deliver(PAYLOAD)
            elapsed = time.monotonic() - started
    assert 0.3 < elapsed < 2.0
    assert not attempt.ok and attempt.retryable
    assert attempt.error is not None and "timeout" in attempt.error


def test_ha_payload_shapes_values() -> None:
    detected = datetime(2024, 3, 5, 2, 10, tzinfo=UTC)
    shaped = ha_payload({"source_id": "cam", "score": 1, "detected_at": detected,
                         "rule": "Plain name"})
    assert shaped["score"] == 1.0 and shaped["camera"] == "cam"
    assert shaped["detected_at"] == "2024-03-05T02:10:00+00:00"
    assert shaped["rule"] == "Plain name"
    assert ha_payload({"score": None})["rule"] is None
    assert ha_payload({"score": None})["score"] is None
    assert set(ha_payload({})) == set(EXPECTED_HA)


def test_configuration_errors() -> None:
    assert parse_broker_url("mqtt://u:p@broker:1884") == parse_broker_url(
        "mqtt://u:p@broker:1884")
    broker = parse_broker_url("mqtt://u:p@broker")
    assert (broker.host, broker.port, broker.username, broker.password) == (
        "broker", 1883, "u", "p")
    for url in ("http://broker:1883", "mqtt://", "mqtt://broker:notaport"):
        with pytest.raises(ValueError):
            MqttSink("ha", url)
    for topic in ("alerts/{camera}", "alerts/+/{source_id}", "alerts/#", ""):
        with pytest.raises(ValueError):
            MqttSink("ha", "mqtt://127.0.0.1:1883", topic=topic)
