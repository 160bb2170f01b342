"""``MqttSink``: publish alerts to an MQTT broker, shaped for Home Assistant.

Each alert is published at QoS 1 to a topic filled from the anomaly — the default
``vigil/alerts/{source_id}``; ``{type}``, ``{severity}`` and ``{label}`` can be used too, and
``+``, ``#`` and ``/`` inside a value become ``_`` so a value cannot add topic levels. The
delivery counts only once the broker's PUBACK arrives within ``timeout``. The sink connects on
the first delivery and again after any failure (plain paho-mqtt 2, its own network thread).

The message is :func:`ha_payload`, flat JSON::

    {"event_type": "vigil_anomaly", "anomaly_id": 17, "source_id": "backyard",
     "camera": "backyard", "type": "rare_time", "severity": "high", "score": 0.993,
     "label": "person", "message": "person at 03:00 on Tuesday; ...",
     "started_at": "2024-03-05T02:00:00+00:00", "ended_at": "2024-03-05T03:00:00+00:00",
     "detected_at": "2024-03-05T02:10:00+00:00", "event_id": "abc", "rule": "Night watch"}

A Home Assistant automation that notifies on high-severity anomalies from any camera::

    automation:
      - alias: "Vigil: unusual activity"
        trigger:
          - platform: mqtt
            topic: "vigil/alerts/#"
            value_template: "{{ value_json.severity }}"
            payload: "high"
        action:
          - service: notify.mobile_app_my_phone
            data:
              title: "Unusual at {{ trigger.payload_json.camera }}"
              message: "{{ trigger.payload_json.message }}"
"""

from __future__ import annotations

import socket
import string
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from vigil.anomaly.delivery import DeliveryAttempt

DEFAULT_TOPIC = "vigil/alerts/{source_id}"
TOPIC_FIELDS = ("source_id", "type", "severity", "label")
TOPIC_UNSAFE = ("+", "#", "/", "\x00")
DEFAULT_PORT = 1883
EVENT_TYPE = "vigil_anomaly"


@dataclass(frozen=True, slots=True)
class Broker:
    """Where to connect: from ``mqtt://[user[:password]@]host[:port]``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None


def parse_broker_url(url: str) -> Broker:
    """Parse an ``mqtt://`` (or ``tcp://``) URL; ``ValueError`` says what is wrong."""
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"invalid port in MQTT url {url!r}") from None
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"MQTT url must look like mqtt://host:port, not {url!r}")
    return Broker(parts.hostname, port, parts.username, parts.password)


def check_topic_template(template: str) -> None:
    """Refuse templates with unknown ``{fields}``, wildcards or no text."""
    if not template or any(char in template for char in "+#\x00"):
        raise ValueError(f"topic {template!r} must be non-empty and free of + and #")
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None and field not in TOPIC_FIELDS:
            raise ValueError(f"topic {template!r}: unknown field {{{field}}}; "
                             f"use {', '.join(TOPIC_FIELDS)}")


def topic_segment(value: object) -> str:
    """A payload value made safe as (part of) one topic level."""
    text = "unknown" if value is None or value == "" else str(value)
    for char in TOPIC_UNSAFE:
        text = text.replace(char, "_")
    return text


def render_topic(template: str, payload: Mapping[str, Any]) -> str:
    """The topic for one alert: the template filled with sanitised payload values."""
    return template.format_map({name: topic_segment(payload.get(name)) for name in TOPIC_FIELDS})


def _iso(value: object) -> object:
    """Datetimes as ISO strings; stored strings (and ``None``) unchanged."""
    return value.isoformat() if isinstance(value, datetime) else value


def _rounded(score: object) -> float | None:
    """The score to 3 decimals; ``None`` when it is not a number."""
    if isinstance(score, int | float) and not isinstance(score, bool):
        return round(float(score), 3)
    return None


def _rule_name(rule: object) -> object:
    """The rule's name from a rule dict (or a plain name); ``None`` when absent."""
    if isinstance(rule, Mapping):
        return rule.get("name")
    return rule


def ha_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The flat Home Assistant message for one anomaly alert (see the module docstring)."""
    score = payload.get("score")
    return {
        "event_type": EVENT_TYPE,
        "anomaly_id": payload.get("anomaly_id"),
        "source_id": payload.get("source_id"),
        "camera": payload.get("source_id"),
        "type": payload.get("type"),
        "severity": payload.get("severity"),
        "score": _rounded(score),
        "label": payload.get("label"),
        "message": payload.get("explanation"),
        "started_at": _iso(payload.get("window_start")),
        "ended_at": _iso(payload.get("window_end")),
        "detected_at": _iso(payload.get("detected_at")),
        "event_id": payload.get("event_id"),
        "rule": _rule_name(payload.get("rule")),
    }


def describe_connect_error(error: OSError) -> str:
    """A short reason for a failed TCP connection to the broker."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError | socket.timeout):
        return "timeout connecting to the broker"
    return f"connection failed: {error}"[:200]


class MqttSink:
    """Publish alerts (QoS 1, PUBACK awaited) to one broker; reconnects after failures.

    Calls are serialised by a lock. ``client_id`` must be unique on the broker: two clients
    with the same id keep disconnecting each other (default: a random ``vigil-alerts-…``).
    """

    def __init__(self, name: str, url: str, topic: str = DEFAULT_TOPIC, retain: bool = False,
                 client_id: str | None = None, timeout: float = 5.0,
                 keepalive: int = 60) -> None:
        check_topic_template(topic)
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.name = name
        self.broker = parse_broker_url(url)
        self.topic = topic
        self.retain = retain
        self.client_id = client_id or f"vigil-alerts-{uuid.uuid4().hex[:12]}"
        self.timeout = timeout
        self.keepalive = keepalive
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        """Whether a connection to the broker is up right now."""
        client = self._client
        return client is not None and client.is_connected()

    def deliver(self, payload: Mapping[str, Any]) -> DeliveryAttempt:
        """Publish one alert and wait for the PUBACK; a failure is returned, not raised."""
        topic = render_topic(self.topic, payload)
        body = orjson.dumps(ha_payload(payload))
        with self._lock:
            deadline = time.monotonic() + self.timeout
            if not self.connected:
                self._drop()
                error = self._connect(deadline)
                if error is not None:
                    self._drop()
                    return DeliveryAttempt.failure(error, retryable=True)
            attempt = self._publish(topic, body, deadline)
            if not attempt.ok:
                self._drop()  # start afresh next time
            return attempt

    def _connect(self, deadline: float) -> str | None:
        """Open a connection and wait for the CONNACK; the reason when that fails."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=mqtt.MQTTv311, clean_session=True,
                             reconnect_on_failure=False)
        client.connect_timeout = max(deadline - time.monotonic(), 0.01)
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        answers: list[ReasonCode] = []
        answered = threading.Event()

        def on_connect(_client: mqtt.Client, _userdata: Any, _flags: mqtt.ConnectFlags,
                       reason: ReasonCode, _properties: Any) -> None:
            answers.append(reason)
            answered.set()

        client.on_connect = on_connect
        try:
            client.connect(self.broker.host, self.broker.port, keepalive=self.keepalive)
        except OSError as error:
            return describe_connect_error(error)
        self._client = client
        client.loop_start()
        if not answered.wait(max(deadline - time.monotonic(), 0.0)):
            return "timeout waiting for the broker to accept the connection"
        if answers[0].is_failure:
            return f"broker refused the connection: {answers[0]}"
        return None

    def _publish(self, topic: str, body: bytes, deadline: float) -> DeliveryAttempt:
        """Publish at QoS 1 on the open connection and wait for the PUBACK."""
        assert self._client is not None
        info = self._client.publish(topic, body, qos=1, retain=self.retain)
        try:
            info.wait_for_publish(max(deadline - time.monotonic(), 0.01))
            published = info.is_published()
        except (RuntimeError, ValueError) as error:  # paho: not queued or connection lost
            return DeliveryAttempt.failure(f"publish failed: {error}", retryable=True)
        if not published:
            return DeliveryAttempt.failure("timeout waiting for the broker's PUBACK",
                                           retryable=True)
        return DeliveryAttempt.success()

    def _drop(self) -> None:
        """Disconnect and stop the network thread of the current client, if any."""
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def close(self) -> None:
        """Disconnect from the broker."""
        with self._lock:
            self._drop()

    def __enter__(self) -> MqttSink:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
