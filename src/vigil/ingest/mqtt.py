"""Ingest events from an MQTT broker: Frigate's topic and Vigil's own event topic.

:class:`MqttIngestor` subscribes with MQTT 5 shared subscriptions
(``$share/<group>/<topic>``, QoS 1), so several workers split one stream. Two threads run:

* paho's network thread receives messages and hands each, tagged with the number of the
  connection it came on, to the batching thread (:mod:`vigil.ingest.mqtt_pipeline`);
* the batching thread stores batches through the :class:`vigil.writer.Writer` and only then
  acknowledges their messages (manual PUBACK), so a message is acknowledged after its events
  — or its dead letter — are committed, never before.

The session outlives a connection (``clean_start=False`` and a session expiry interval): when
the broker restarts, paho reconnects by itself and the broker sends every unacknowledged QoS 1
message again. An acknowledgement is sent only on the connection its message came on — after
a reconnect the broker reuses packet ids, so a late PUBACK could confirm another message; the
redelivered copy is stored again instead and the store's ``(event_id, timestamp)`` identity
drops it as a duplicate. (A message dead-lettered just before a connection drop may so be
dead-lettered twice.) The subscriptions are made again on every connect: Mosquitto 2.0
restores a persisted session and its queued messages after a restart, but not its shared
subscriptions — what is published before the ingestor is back has no subscriber, and the
broker drops it.

``stop`` first unsubscribes, so the broker routes no more of the group's messages to this
session, then stores and acknowledges what has arrived. Mosquitto keeps routing a shared
subscription's messages to a member that went away without unsubscribing; they wait in its
session until a client with the same id returns, so a worker should have a stable
``mqtt_client_id`` if it may crash. The broker's ``max_queued_messages`` (1000 by default)
bounds what it keeps for a consumer that is behind or offline; raise it.

The client is paho's, read faster (:mod:`vigil.ingest.mqtt_client`).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import Counter, Gauge

from vigil.config import Settings
from vigil.ingest.mqtt_batch import Received
from vigil.ingest.mqtt_client import BufferedClient
from vigil.ingest.mqtt_pipeline import BatchPipeline, PipelineStats
from vigil.metrics import REGISTRY
from vigil.writer import Writer

__all__ = ["BrokerAddress", "MqttIngestor", "PipelineStats", "broker_address",
           "default_client_id"]

log = logging.getLogger(__name__)
DEFAULT_PORT = 1883
BATCH_MAX = 2000
BATCH_WAIT_S = 0.05
SESSION_EXPIRY_S = 3600
RECEIVE_MAXIMUM = 10_000  # unacknowledged messages the broker may have in flight to us
KEEPALIVE_S = 30
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
UNSUBSCRIBE_WAIT_S = 2.0

MESSAGES_RECEIVED = Counter("vigil_mqtt_messages_received", "MQTT messages received",
                            ["topic_kind"], registry=REGISTRY)
DEAD_LETTERS = Counter("vigil_mqtt_dead_letters", "MQTT messages stored as dead letters",
                       ["reason"], registry=REGISTRY)
MESSAGES_ACKED = Counter("vigil_mqtt_messages_acked",
                         "MQTT messages acknowledged after their commit", registry=REGISTRY)
RECONNECTS = Counter("vigil_mqtt_reconnects", "MQTT connections made after the first",
                     registry=REGISTRY)
WRITE_FAILURES = Counter("vigil_mqtt_write_failures",
                         "MQTT batch writes that failed (the batch is written again)",
                         registry=REGISTRY)
UNACKED = Gauge("vigil_mqtt_unacked_messages",
                "MQTT messages taken in and not yet acknowledged", registry=REGISTRY)


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is, from ``mqtt://[user[:password]@]host[:port]``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None


def broker_address(url: str) -> BrokerAddress:
    """Parse ``mqtt_url``; ``ValueError`` names what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"mqtt_url must look like mqtt://host:port, not {url!r}")
    return BrokerAddress(parts.hostname, parts.port or DEFAULT_PORT, parts.username,
                         parts.password)


def default_client_id() -> str:
    """``vigil-<host>-<pid>``: unique per worker process."""
    return f"vigil-{socket.gethostname()}-{os.getpid()}"


def _count(name: str, n: int) -> None:
    """Keep the pipeline's counts in the Prometheus metrics."""
    kind, _, label = name.partition(":")
    if kind == "received":
        MESSAGES_RECEIVED.labels(label).inc(n)
    elif kind == "dead_letter":
        DEAD_LETTERS.labels(label).inc(n)
    elif kind == "acked":
        MESSAGES_ACKED.inc(n)
    elif kind == "write_failure":
        WRITE_FAILURES.inc(n)
    elif kind == "held":
        UNACKED.inc(n)


class MqttIngestor:
    """Consumes the Frigate and Vigil event topics into the store through ``writer``."""

    def __init__(self, settings: Settings, writer: Writer, *, batch_max: int = BATCH_MAX,
                 batch_wait: float = BATCH_WAIT_S) -> None:
        if not settings.mqtt_url:
            raise ValueError("mqtt_url is not set")
        self.address = broker_address(settings.mqtt_url)
        self.client_id = settings.mqtt_client_id or default_client_id()
        self.topics = [t for t in (settings.mqtt_frigate_topic, settings.mqtt_events_topic) if t]
        self.filters = [f"$share/{settings.mqtt_share_group}/{t}" for t in self.topics]
        self.connects = 0
        self._frigate_topic = settings.mqtt_frigate_topic
        self._epoch = 0
        self._epoch_lock = threading.Lock()
        self._subscribed = threading.Event()
        self._unsubscribed = threading.Event()
        self._stopping = threading.Event()
        self._started = False
        self._is_frigate = functools.lru_cache(maxsize=1024)(self._matches_frigate)
        self._pipeline = BatchPipeline(writer, self._is_frigate, self._ack, batch_max=batch_max,
                                       batch_wait=batch_wait, on_count=_count)
        self._client = self._new_client()

    @property
    def stats(self) -> PipelineStats:
        """Running totals: received, stored, acked, dead-lettered, ..."""
        return self._pipeline.stats

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers) and start consuming."""
        if self._started:
            return
        self._started = True
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self._pipeline.start()
        self._client.connect_async(self.address.host, self.address.port, KEEPALIVE_S,
                                   clean_start=False, properties=properties)
        self._client.loop_start()
        log.info("MQTT ingest from %s:%d as %s: %s", self.address.host, self.address.port,
                 self.client_id, ", ".join(self.filters))

    def wait_subscribed(self, timeout: float) -> bool:
        """Whether the broker confirmed the subscriptions within ``timeout`` seconds."""
        return self._subscribed.wait(timeout)

    def stop(self, timeout: float) -> None:
        """Unsubscribe, store and acknowledge what arrived (for at most ``timeout`` seconds),
        then disconnect. Messages not committed by then stay unacknowledged in the session."""
        if not self._started or self._stopping.is_set():
            return
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._unsubscribe(min(UNSUBSCRIBE_WAIT_S, timeout / 2))
        if not self._pipeline.drain(max(0.0, deadline - time.monotonic())):
            log.warning("MQTT ingest stopped with %d message(s) uncommitted; the broker "
                        "delivers them again when %s reconnects", self._pipeline.uncommitted,
                        self.client_id)
        self._client.disconnect()
        self._client.loop_stop()
        log.info("MQTT ingest stopped (%s)", self.client_id)

    # -- paho client and callbacks (network thread) ------------------------------------------
    def _new_client(self) -> BufferedClient:
        client = BufferedClient(callback_api_version=CallbackAPIVersion.VERSION2,
                                client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.suppress_exceptions = True  # a failing callback is logged, the loop goes on
        client.enable_logger(logging.getLogger(f"{__name__}.paho"))
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_message = self._on_message  # QoS 2 or topic aliases, which we never ask for
        client.on_raw_message = self._on_raw_message
        return client

    def _new_epoch(self) -> None:
        """A connection ends or begins: acknowledgements for earlier messages are void."""
        with self._epoch_lock:
            self._epoch += 1

    def _on_pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        self._new_epoch()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                    reason: ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s:%d refused the connection: %s", self.address.host,
                      self.address.port, reason)
            return
        self.connects += 1
        if self.connects > 1:
            RECONNECTS.inc()
        log.info("MQTT connected to %s:%d (session present: %s)", self.address.host,
                 self.address.port, flags.session_present)
        if not self._stopping.is_set():
            options = SubscribeOptions(qos=1)
            client.subscribe([(topic_filter, options) for topic_filter in self.filters])

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: mqtt.DisconnectFlags,
                       reason: ReasonCode, properties: Properties | None) -> None:
        self._new_epoch()
        self._subscribed.clear()
        if not self._stopping.is_set():
            log.warning("MQTT connection to %s:%d lost (%s); reconnecting", self.address.host,
                        self.address.port, reason)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                      reasons: list[ReasonCode], properties: Properties | None) -> None:
        refused = [f"{f}: {r}" for f, r in zip(self.filters, reasons, strict=False)
                   if r.is_failure]
        if refused:
            log.error("MQTT broker refused subscriptions: %s", "; ".join(refused))
            return
        self._subscribed.set()

    def _on_unsubscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                        reasons: list[ReasonCode], properties: Properties | None) -> None:
        self._unsubscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
                    ) -> None:
        self._on_raw_message(message.topic, bytes(message.payload), message.mid, message.qos,
                             bool(message.dup))

    def _on_raw_message(self, topic: str, payload: bytes, mid: int, qos: int, dup: bool
                        ) -> None:
        self._pipeline.put(Received(topic, payload, mid, qos, self._epoch, dup))

    # -- called from the batching thread and stop() ------------------------------------------
    def _matches_frigate(self, topic: str) -> bool:
        """Whether a message's topic is Frigate's (the setting may hold wildcards)."""
        return bool(self._frigate_topic) and mqtt.topic_matches_sub(self._frigate_topic, topic)

    def _ack(self, messages: Sequence[Received]) -> int:
        """Acknowledge committed messages that came on the current connection; how many."""
        with self._epoch_lock:
            mids = [m.mid for m in messages if m.epoch == self._epoch and m.qos == 1]
            self._client.ack_many(mids)
        return len(mids)

    def _unsubscribe(self, timeout: float) -> None:
        """Leave the share group so the broker sends this session nothing new."""
        if not self._client.is_connected():
            return
        self._unsubscribed.clear()
        self._client.unsubscribe(self.filters)
        if not self._unsubscribed.wait(timeout):
            log.warning("MQTT broker did not confirm the unsubscribe within %.1f s", timeout)
