"""MQTT ingest: a throwaway Mosquitto, a publisher process, the ingestor into a DuckDB file.

Each run uses a fresh broker and a fresh DuckDB store; ``messages`` synthetic Vigil events
(one per message, QoS 1) come from a separate process (``python -m benchmarks.mqtt_ingest
publish ...``): a minimal MQTT 3.1.1 publisher on a plain socket with a persistent session,
pre-encoded packets and up to 1000 unacknowledged, that connects again and re-sends what was
not acknowledged when the broker goes away — paho's own per-message cost made it, not the
ingestor, the limit on a 2-core machine. Three runs:

* ``mqtt_ingest`` (live): the ingestor is subscribed before the publisher starts; the rate is
  the messages over the time from the first message received to the last one committed and
  acknowledged. The publisher's own rate is recorded beside it.
* ``mqtt_ingest_backlog``: the ingestor's session (with its shared subscription) exists but
  is offline while everything is published; then the ingestor starts and the rate is the
  messages over the time from its start until all are committed — the consumer alone.
* ``mqtt_ingest_restart``: the live run, with the publisher paced at 10,000 messages/s so it
  is still publishing, and the broker stopped (SIGTERM, which saves its persistence file) and
  started again on the same port once half of the messages have been received.

Every run is ``correct`` when the store holds exactly ``messages`` events, no dead letters,
and hourly counts equal to a rebuild from the events.

Broker facts this relies on (Mosquitto 2.0.11): ``max_queued_messages`` is raised from its
default of 1000 (beyond which a consumer that is offline or behind loses messages at the
broker; ``0`` = "no limit" stops delivery altogether in this version); and a restart restores
sessions and their queued messages but not shared subscriptions — until the ingestor has
reconnected and subscribed again the broker drops what is published. The restart run
therefore holds the publisher (SIGSTOP) from the broker's stop until the ingestor has
subscribed again, then lets it go on (SIGCONT); its unacknowledged messages are re-sent.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.procs import LOOPBACK, free_port

TOPIC = "vigil/events"
CLIENT_ID = "bench-ingestor"
READY_TIMEOUT_S = 20.0
RUN_TIMEOUT_S = 900.0
POLL_S = 0.005
PUBLISH_WINDOW = 1000  # unacknowledged PUBLISH packets the publisher allows itself
RECONNECT_PAUSE_S = 0.5
CONNECT_TIMEOUT_S = 5.0
KEEPALIVE_S = 60
PACE_POLL_S = 0.005
RESTART_RUN_RATE = 10_000.0  # messages/s: the publisher is still at it when the broker restarts
SESSION_EXPIRY_S = 3600
MAX_QUEUED = 10_000_000
Log = Callable[[str], None]


class Broker:
    """Mosquitto on a free loopback port with persistence in a temp dir."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"mqtt://{LOOPBACK}:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._config = workdir / "mosquitto.conf"
        self._config.write_text(
            f"listener {self.port} {LOOPBACK}\nallow_anonymous true\n"
            f"persistence true\npersistence_location {workdir}/\n"
            f"max_queued_messages {MAX_QUEUED}\n"
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\nlog_dest stderr\n")

    def start(self) -> None:
        binary = shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
        if binary is None:
            raise RuntimeError("mosquitto not found (apt-get install mosquitto)")
        with (self.workdir / "broker.log").open("ab") as log:
            self._proc = subprocess.Popen([binary, "-c", str(self._config)], stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _port_open(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def _paho_client(client_id: str) -> Any:
    """A paho MQTT 5 client."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)


def _session_properties() -> Any:
    """CONNECT properties asking the broker to keep the session an hour."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = SESSION_EXPIRY_S
    return properties


# -- the publisher process ---------------------------------------------------------------------
def publish_main(argv: list[str]) -> int:
    """``publish --port P --count N``: publish N synthetic events at QoS 1, then print JSON."""
    from benchmarks.http_ingest import synth_events

    parser = argparse.ArgumentParser(prog="benchmarks.mqtt_ingest publish")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s (0: no limit)")
    args = parser.parse_args(argv)
    packets = [_publish_packet(TOPIC, n % 65535 + 1, json.dumps(event).encode())
               for n, event in enumerate(synth_events(args.count, args.seed))]
    client_id = f"bench-publisher-{os.getpid()}".encode()
    started = time.perf_counter()
    progress = [0]  # packets acknowledged, in order
    while progress[0] < len(packets):
        try:
            with _connect(args.port, client_id) as sock:
                _pump(sock, packets, progress, Pace(args.rate, started))
        except OSError:  # the broker restarts: connect again, re-send what is unacknowledged
            time.sleep(RECONNECT_PAUSE_S)
    wall = time.perf_counter() - started
    print(json.dumps({"published": progress[0], "wall_s": round(wall, 3)}))
    return 0


def _varint(n: int) -> bytes:
    """MQTT's variable byte integer."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish_packet(topic: str, packet_id: int, payload: bytes) -> bytes:
    """An MQTT 3.1.1 PUBLISH at QoS 1."""
    body = len(topic).to_bytes(2, "big") + topic.encode() + packet_id.to_bytes(2, "big") + payload
    return b"\x32" + _varint(len(body)) + body


def _connect(port: int, client_id: bytes) -> socket.socket:
    """A TCP connection with an MQTT 3.1.1 session that the broker keeps (clean session 0)."""
    sock = socket.create_connection((LOOPBACK, port), timeout=CONNECT_TIMEOUT_S)
    body = (b"\x00\x04MQTT\x04\x00" + KEEPALIVE_S.to_bytes(2, "big")
            + len(client_id).to_bytes(2, "big") + client_id)
    sock.sendall(b"\x10" + _varint(len(body)) + body)
    connack = _read_exactly(sock, 4)
    if connack[0] != 0x20 or connack[3] != 0:
        sock.close()
        raise ConnectionError(f"CONNACK refused: {connack!r}")
    sock.settimeout(None)
    return sock


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data


class Pace:
    """How many messages may have been sent by now at ``rate`` per second (0: all)."""

    def __init__(self, rate: float, started: float) -> None:
        self.rate = rate
        self.started = started

    def allowed(self, total: int) -> int:
        if self.rate <= 0:
            return total
        return min(total, int((time.perf_counter() - self.started) * self.rate) + 1)


def _pump(sock: socket.socket, packets: list[bytes], progress: list[int], pace: Pace) -> None:
    """Send from ``progress[0]`` on with at most ``PUBLISH_WINDOW`` unacknowledged, counting
    the PUBACKs (they come in order) into ``progress[0]``, until all are acknowledged."""
    sent, pending = progress[0], b""
    sock.settimeout(PACE_POLL_S if pace.rate > 0 else None)
    while progress[0] < len(packets):
        if sent - progress[0] < PUBLISH_WINDOW // 2:
            upto = min(pace.allowed(len(packets)), progress[0] + PUBLISH_WINDOW)
            if upto > sent:
                sock.sendall(b"".join(packets[sent:upto]))
                sent = upto
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        if not data:
            raise ConnectionError("the broker closed the connection")
        pending += data
        count = len(pending) // 4
        for offset in range(0, count * 4, 4):
            if pending[offset] != 0x40:
                raise RuntimeError(f"expected a PUBACK, got {pending[offset:offset + 4]!r}")
        progress[0] += count
        pending = pending[count * 4:]
    sock.sendall(b"\xe0\x00")  # DISCONNECT


class Publisher:
    """The publisher process, its output in ``workdir``."""

    def __init__(self, port: int, count: int, workdir: Path, rate: float = 0.0) -> None:
        root = Path(__file__).resolve().parent.parent
        argv = [sys.executable, "-m", "benchmarks.mqtt_ingest", "publish", "--port",
                str(port), "--count", str(count), "--rate", str(rate)]
        self._out, self._err = workdir / "publisher.out", workdir / "publisher.err"
        with self._out.open("wb") as out, self._err.open("wb") as err:
            self.proc = subprocess.Popen(argv, cwd=root, stdout=out, stderr=err)

    def pause(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def result(self) -> dict[str, Any]:
        """Wait for the publisher and read its JSON line."""
        code = self.proc.wait(timeout=RUN_TIMEOUT_S)
        if code != 0:
            raise RuntimeError(f"publisher exited with {code}: "
                               f"{self._err.read_text(errors='replace')[-2000:]}")
        result: dict[str, Any] = json.loads(self._out.read_text())
        return result

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.resume()
            self.proc.kill()
            self.proc.wait(timeout=10)


# -- the consumer ------------------------------------------------------------------------------
class Consumer:
    """A DuckDB store, its writer and an MQTT ingestor (client id ``CLIENT_ID``)."""

    def __init__(self, broker: Broker, workdir: Path) -> None:
        from vigil.config import load_settings
        from vigil.ingest.mqtt import MqttIngestor
        from vigil.store import open_store
        from vigil.writer import Writer

        db = str(workdir / "vigil.duckdb")
        self.store = open_store(db)
        self.writer = Writer(self.store)
        settings = load_settings(db=db, mqtt_url=broker.url, mqtt_client_id=CLIENT_ID)
        self.ingestor = MqttIngestor(settings, self.writer)

    def start(self) -> None:
        self.ingestor.start()
        self.wait_subscribed()

    def wait_subscribed(self) -> None:
        if not self.ingestor.wait_subscribed(READY_TIMEOUT_S):
            raise RuntimeError("the ingestor did not subscribe")

    def stored(self) -> int:
        return int(self.store.count_events())

    def close(self) -> None:
        try:
            self.ingestor.stop(30.0)
        finally:
            self.writer.close()
            self.store.close()


def _create_session(broker: Broker) -> None:
    """The ingestor's persistent session with its shared subscription, left offline."""
    client = _paho_client(CLIENT_ID)
    client.connect(LOOPBACK, broker.port, clean_start=True, properties=_session_properties())
    client.loop_start()
    acked: list[int] = []
    client.on_subscribe = lambda _c, _u, m, *_rest: acked.append(m)
    try:
        _, mid = client.subscribe(f"$share/vigil/{TOPIC}", qos=1)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while mid not in acked:
            if time.monotonic() > deadline:
                raise RuntimeError("no SUBACK for the benchmark session")
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()


def _wait_stored(consumer: Consumer, messages: int, publisher: Publisher | None = None
                 ) -> None:
    """Poll until ``messages`` events are committed (failing early if the publisher did)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while consumer.ingestor.stats.stored < messages or consumer.stored() < messages:
        _check(publisher)
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {consumer.stored():,} of {messages:,} events stored in "
                               f"{RUN_TIMEOUT_S:.0f} s")
        time.sleep(POLL_S)


def _check(publisher: Publisher | None) -> None:
    """Raise with the publisher's error output if it failed."""
    if publisher is not None and publisher.proc.poll() not in (None, 0):
        publisher.result()


def _wait_received(consumer: Consumer, count: int, publisher: Publisher) -> float:
    """Poll until ``count`` messages arrived; when that was (perf_counter)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while consumer.ingestor.stats.received < count:
        _check(publisher)
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count:,} messages arrived")
        time.sleep(POLL_S)
    return time.perf_counter()


def _restart_broker(broker: Broker, consumer: Consumer, publisher: Publisher) -> float:
    """Stop and start the broker with the publisher held until the ingestor is back."""
    started = time.perf_counter()
    connects = consumer.ingestor.connects
    publisher.pause()
    try:
        broker.restart()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while consumer.ingestor.connects <= connects:
            if time.monotonic() > deadline:
                raise RuntimeError("the ingestor did not reconnect")
            time.sleep(POLL_S)
        consumer.wait_subscribed()
    finally:
        publisher.resume()
    return time.perf_counter() - started


def _live(broker: Broker, consumer: Consumer, messages: int, workdir: Path, log: Log,
          restart: bool) -> dict[str, Any]:
    consumer.start()
    publisher = Publisher(broker.port, messages, workdir, RESTART_RUN_RATE if restart else 0.0)
    try:
        first = _wait_received(consumer, 1, publisher)
        restart_s = 0.0
        if restart:
            _wait_received(consumer, messages // 2, publisher)
            log(f"MQTT: restarting the broker after {consumer.ingestor.stats.received:,} "
                "messages")
            restart_s = _restart_broker(broker, consumer, publisher)
        _wait_stored(consumer, messages, publisher)
        wall = time.perf_counter() - first
        published = publisher.result()
    finally:
        publisher.kill()
    return {"wall_s": wall, "publisher": published, "broker_restart_s": restart_s}


def _backlog(broker: Broker, consumer: Consumer, messages: int, workdir: Path
             ) -> dict[str, Any]:
    _create_session(broker)
    publisher = Publisher(broker.port, messages, workdir)
    try:
        published = publisher.result()
    finally:
        publisher.kill()
    started = time.perf_counter()
    consumer.start()
    _wait_stored(consumer, messages)
    return {"wall_s": time.perf_counter() - started, "publisher": published,
            "broker_restart_s": 0.0}


def _figures(consumer: Consumer, messages: int, timing: dict[str, Any]) -> dict[str, Any]:
    store, ingestor = consumer.store, consumer.ingestor
    stats = ingestor.stats
    stored = consumer.stored()
    hourly_ok = (store.hourly_counts().to_pylist()
                 == store.hourly_counts_from_events().to_pylist())
    dead = store.count_dead_letters()
    publisher = timing["publisher"]
    return {
        "messages": messages,
        "stored": stored,
        "lost": messages - stored,
        "wall_s": round(timing["wall_s"], 3),
        "messages_per_s": round(messages / timing["wall_s"]),
        "publisher_wall_s": publisher["wall_s"],
        "publisher_messages_per_s": round(messages / publisher["wall_s"]),
        "received": stats.received,
        "redelivered": stats.redelivered,
        "duplicates": stats.duplicates,
        "batches": stats.batches,
        "dead_letters": dead,
        "reconnects": max(0, ingestor.connects - 1),
        "broker_restart_s": round(timing["broker_restart_s"], 3),
        "hourly_counts_match_events": hourly_ok,
        "correct": stored == messages and hourly_ok and dead == 0,
    }


def run_one(mode: str, messages: int, workdir: Path, log: Log) -> dict[str, Any]:
    """One run: ``live``, ``backlog`` or ``restart``."""
    workdir.mkdir(parents=True)
    with Broker(workdir) as broker:
        consumer = Consumer(broker, workdir)
        try:
            if mode == "backlog":
                timing = _backlog(broker, consumer, messages, workdir)
            else:
                timing = _live(broker, consumer, messages, workdir, log, mode == "restart")
            return _figures(consumer, messages, timing)
        finally:
            consumer.close()


RUNS = (("mqtt_ingest", "live"), ("mqtt_ingest_backlog", "backlog"),
        ("mqtt_ingest_restart", "restart"))


def run_mqtt_benchmarks(messages: int, tmp: Path, log: Log) -> dict[str, Any]:
    """All three runs, keyed as in :data:`RUNS`."""
    root = Path(tempfile.mkdtemp(prefix="mqtt-", dir=tmp))
    results: dict[str, Any] = {}
    try:
        for key, mode in RUNS:
            figures = run_one(mode, messages, root / key, log)
            results[key] = figures
            log(f"MQTT {mode}: {figures['messages_per_s']:,} messages/s "
                f"(publisher {figures['publisher_messages_per_s']:,}/s), "
                f"lost {figures['lost']}, correct {figures['correct']}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


def main(argv: list[str]) -> int:
    """``publish ...`` runs the publisher; otherwise all runs, printed as JSON."""
    if argv[:1] == ["publish"]:
        return publish_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mqtt_ingest")
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        results = run_mqtt_benchmarks(args.messages, Path(tmp),
                                      lambda m: print(f"[bench] {m}", file=sys.stderr))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
