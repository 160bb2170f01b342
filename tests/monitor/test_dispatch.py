"""Delivering queued alerts: a real webhook receiver and a real Mosquitto broker; retries
with backoff, giving up, unconfigured sinks; every attempt in the delivery log."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from vigil.anomaly.delivery import RetryPolicy
from vigil.anomaly.mqtt_sink import MqttSink
from vigil.anomaly.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSink, verify_signature
from vigil.monitor.dispatch import AlertDispatcher, Sink
from vigil.store import Store
from vigil.store.alerts import NewDelivery
from vigil.store.anomalies import NewAnomaly

from .receiver import Receiver

T0 = dt.datetime(2024, 3, 5, 3, 0, tzinfo=dt.UTC)
SECRET = "s3cret"


class Clock:
    """A settable clock for the dispatcher (the edge's time source)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    opened = Receiver()
    yield opened
    opened.close()


def queue_alert(store: Store, sinks: list[str]) -> int:
    (saved,) = store.save_anomalies([NewAnomaly(
        source_id="yard", anomaly_type="rare_time", label="person", event_id="e1",
        window_start=T0, window_end=T0, local_date=T0.date(), local_weekday=1, local_hour=3,
        score=0.99, severity="high", explanation="person at 03:00 on Tuesday",
        components={}, pattern_key="rare_time:person:how=27")], T0)
    payload = {"anomaly_id": saved.anomaly_id, "source_id": "yard", "type": "rare_time",
               "severity": "high", "score": 0.99, "label": "person",
               "explanation": "person at 03:00 on Tuesday", "window_start": T0.isoformat(),
               "window_end": T0.isoformat(), "detected_at": T0.isoformat(),
               "rule": {"rule_id": "night", "name": "night watch"}}
    store.enqueue_deliveries([NewDelivery(saved.anomaly_id, "night", sink, payload)
                              for sink in sinks], T0)
    return saved.anomaly_id


def test_webhook_and_mqtt_deliveries(store: Store, receiver: Receiver,
                                     mosquitto_server: Any) -> None:
    got: list[mqtt.MQTTMessage] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dispatch-test-sub")
    sub.on_message = lambda _c, _u, message: got.append(message)
    sub.connect("127.0.0.1", mosquitto_server.port)
    sub.subscribe("vigil/alerts/#", qos=1)
    sub.loop_start()
    mqtt_sink = MqttSink("mqtt", mosquitto_server.url)
    sinks: dict[str, Sink] = {"webhook": WebhookSink("webhook", receiver.url, secret=SECRET),
                              "mqtt": mqtt_sink}
    try:
        anomaly_id = queue_alert(store, ["webhook", "mqtt"])
        dispatcher = AlertDispatcher(store, sinks, clock=Clock())
        assert dispatcher.deliver_due() == 2
        headers, body, data = receiver.next()
        assert data["anomaly_id"] == anomaly_id and data["rule"]["name"] == "night watch"
        assert verify_signature(SECRET, headers[TIMESTAMP_HEADER], body,
                                headers[SIGNATURE_HEADER])
        for _ in range(100):
            if got:
                break
            time.sleep(0.05)
        assert got and got[0].topic == "vigil/alerts/yard"
        ha = json.loads(got[0].payload)
        assert ha["event_type"] == "vigil_anomaly" and ha["camera"] == "yard"
        assert {d["status"] for d in store.list_deliveries(None, 10)} == {"delivered"}
    finally:
        mqtt_sink.close()
        sub.loop_stop()
        sub.disconnect()


def test_failures_are_retried_with_backoff_then_given_up(store: Store,
                                                         receiver: Receiver) -> None:
    receiver.status = 503
    clock = Clock()
    queue_alert(store, ["webhook", "pager"])  # "pager" is not configured
    dispatcher = AlertDispatcher(store, {"webhook": WebhookSink("webhook", receiver.url)},
                                 clock=clock, policy=RetryPolicy(max_attempts=3,
                                                                 base_seconds=2.0))
    assert dispatcher.deliver_due() == 2
    log = {d["sink"]: d for d in store.list_deliveries(None, 10)}
    assert log["pager"]["status"] == "failed"
    assert "not configured" in log["pager"]["last_error"]
    webhook = log["webhook"]
    assert webhook["status"] == "pending" and webhook["attempts"] == 1
    assert webhook["last_status_code"] == 503
    assert webhook["next_attempt_at"] == T0 + dt.timedelta(seconds=2)
    assert dispatcher.deliver_due() == 0  # not due yet
    clock.now = T0 + dt.timedelta(seconds=2)
    assert dispatcher.deliver_due() == 1
    (webhook,) = store.list_deliveries("pending", 10)
    assert webhook["next_attempt_at"] == clock.now + dt.timedelta(seconds=4)
    receiver.status = 204  # the receiver recovers: the third attempt gets through
    clock.now += dt.timedelta(seconds=4)
    assert dispatcher.deliver_due() == 1
    (done,) = store.list_deliveries("delivered", 10)
    assert done["attempts"] == 3 and done["delivered_at"] == clock.now
    assert receiver.received.qsize() == 3


def test_a_receiver_that_keeps_failing_is_given_up(store: Store, receiver: Receiver) -> None:
    receiver.status = 500
    clock = Clock()
    queue_alert(store, ["webhook"])
    dispatcher = AlertDispatcher(store, {"webhook": WebhookSink("webhook", receiver.url)},
                                 clock=clock, policy=RetryPolicy(max_attempts=2,
                                                                 base_seconds=1.0))
    dispatcher.deliver_due()
    clock.now += dt.timedelta(seconds=1)
    dispatcher.deliver_due()
    (failed,) = store.list_deliveries("failed", 10)
    assert failed["attempts"] == 2 and failed["last_error"] == "HTTP 500"
