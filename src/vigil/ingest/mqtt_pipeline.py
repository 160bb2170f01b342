"""The batching half of the MQTT ingestor: collect, store through the writer, then acknowledge.

One thread takes messages from an inbox (filled by the network thread), gathers up to
``batch_max`` of them or whatever arrives within ``batch_wait`` seconds of the first, prepares
them (:func:`vigil.ingest.mqtt_batch.prepare_batch`) and submits one write to the
:class:`vigil.writer.Writer` — events and dead letters in one transaction. While that commits
it gathers the next batch. Batches are settled in arrival order: once a batch's transaction
has committed its messages are handed to ``ack``; a batch whose write failed is written again
after a growing pause and its messages stay unacknowledged until it succeeds (or the pipeline
halts, in which case the broker delivers them again later).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass

from vigil.ingest.mqtt_batch import IsFrigate, PreparedBatch, Received, excerpt, prepare_batch
from vigil.metrics import count_outcome
from vigil.store import Store
from vigil.writer import Writer, WriterClosedError

__all__ = ["BatchPipeline", "PipelineStats"]

log = logging.getLogger("vigil.ingest.mqtt")
MAX_PENDING_BATCHES = 3
IDLE_POLL_S = 0.1
DRAIN_QUIET_S = 0.2
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 5.0
TRANSPORT_PATH = "mqtt"
_WAKE = object()
Ack = Callable[[Sequence[Received]], int]
Hook = Callable[[str, int], None]


@dataclass
class PipelineStats:
    """Running totals of one pipeline (for tests, benchmarks and logs)."""

    received: int = 0
    redelivered: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    acked: int = 0
    not_acked: int = 0  # committed, but QoS 0 or the connection they came on was gone
    write_failures: int = 0
    batches: int = 0


@dataclass
class _Pending:
    """A submitted batch waiting for its commit."""

    messages: list[Received]
    prepared: PreparedBatch
    future: Future[int]
    attempts: int = 1


def store_batch(store: Store, prepared: PreparedBatch) -> int:
    """Insert a batch's events and keep its dead letters (one transaction, the writer's)."""
    inserted = store.insert_events(prepared.events) if prepared.events.num_rows else 0
    for letter in prepared.letters:
        store.add_dead_letter(letter)
    return inserted


class BatchPipeline:
    """Batches received messages into writer calls and acknowledges them after commit.

    ``on_count(name, n)`` is told about ``received:<kind>``, ``dead_letter:<reason>``,
    ``acked``, ``held`` (messages taken in, minus those let go) and ``write_failure``, so the
    owner can keep its metrics.
    """

    def __init__(self, writer: Writer, is_frigate: IsFrigate, ack: Ack, *, batch_max: int,
                 batch_wait: float, on_count: Hook) -> None:
        self.stats = PipelineStats()
        self._writer = writer
        self._is_frigate = is_frigate
        self._ack = ack
        self._batch_max = batch_max
        self._batch_wait = batch_wait
        self._count = on_count
        self._inbox: queue.Queue[object] = queue.Queue()
        self._pending: deque[_Pending] = deque()
        self._draining = threading.Event()
        self._halted = threading.Event()
        self._last_arrival = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="vigil-mqtt-batches",
                                        daemon=True)

    # -- what other threads call -------------------------------------------------------------
    def put(self, message: Received) -> None:
        """Hand over one received message (from the network thread)."""
        self._inbox.put(message)

    def start(self) -> None:
        """Start the batching thread."""
        self._thread.start()

    def drain(self, timeout: float) -> bool:
        """Store and acknowledge what has arrived, until nothing more comes for a moment;
        then stop. False when ``timeout`` passed first (the rest is left unacknowledged)."""
        self._draining.set()
        self._inbox.put(_WAKE)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            return True
        self._halted.set()
        self._inbox.put(_WAKE)
        self._thread.join(IDLE_POLL_S * 10)
        return False

    @property
    def uncommitted(self) -> int:
        """Messages in batches submitted but not yet committed and acknowledged."""
        return sum(len(pending.messages) for pending in list(self._pending))

    # -- the batching thread ---------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._halted.is_set():
                messages = self._collect()
                if messages:
                    self._submit(messages)
                self._settle(block=len(self._pending) >= MAX_PENDING_BATCHES)
                if self._drained():
                    return
        finally:
            self._count("held", -self.uncommitted)

    def _collect(self) -> list[Received]:
        """The next batch: up to ``batch_max`` messages within ``batch_wait`` of the first."""
        first = self._next(IDLE_POLL_S)
        if first is None:
            return []
        batch = [first]
        deadline = time.monotonic() + self._batch_wait
        while len(batch) < self._batch_max:
            message = self._next(deadline - time.monotonic())
            if message is None:
                break
            batch.append(message)
        self._took(batch)
        return batch

    def _next(self, timeout: float) -> Received | None:
        """One message within ``timeout``; wake-ups on the way settle finished batches."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                item = self._inbox.get(timeout=remaining) if remaining > 0 else \
                    self._inbox.get_nowait()
            except queue.Empty:
                return None
            if isinstance(item, Received):
                return item
            self._settle(block=False)
            if self._halted.is_set() or remaining <= 0:
                return None

    def _took(self, batch: list[Received]) -> None:
        """Count a batch in."""
        self._last_arrival = time.monotonic()
        self.stats.received += len(batch)
        self.stats.redelivered += sum(message.dup for message in batch)
        kinds = Counter("frigate" if self._is_frigate(m.topic) else "events" for m in batch)
        for kind, n in kinds.items():
            self._count(f"received:{kind}", n)
        self._count("held", len(batch))

    def _submit(self, messages: list[Received]) -> None:
        """Prepare a batch and hand its write to the writer."""
        received_at = dt.datetime.now(dt.UTC)  # the edge: one clock read per batch
        prepared = prepare_batch(messages, self._is_frigate, received_at)
        try:
            future = self._write(prepared)
        except WriterClosedError:
            log.error("the writer is closed; %d MQTT message(s) stay unacknowledged",
                      len(messages))
            self._halted.set()
            return
        self._pending.append(_Pending(messages, prepared, future))

    def _write(self, prepared: PreparedBatch) -> Future[int]:
        future = self._writer.submit(lambda store: store_batch(store, prepared))
        future.add_done_callback(lambda _: self._inbox.put(_WAKE))
        return future

    def _settle(self, block: bool) -> None:
        """Finish committed batches in order; with ``block``, wait until the oldest is done."""
        while self._pending and not self._halted.is_set():
            head = self._pending[0]
            if not head.future.done():
                if not block:
                    return
                wait([head.future], timeout=IDLE_POLL_S)
                continue
            error = head.future.exception()
            if error is not None:
                self._retry(head, error)
                continue
            self._pending.popleft()
            self._committed(head, head.future.result())
            block = False

    def _retry(self, pending: _Pending, error: BaseException) -> None:
        """Write a failed batch again after a pause that doubles with each attempt."""
        self.stats.write_failures += 1
        self._count("write_failure", 1)
        pause = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (pending.attempts - 1))
        log.warning("storing %d MQTT message(s) failed (attempt %d), retrying in %.2f s; "
                    "they stay unacknowledged: %s", len(pending.messages), pending.attempts,
                    pause, error)
        if self._halted.wait(pause):
            return
        try:
            pending.future = self._write(pending.prepared)
        except WriterClosedError:
            log.error("the writer is closed; %d MQTT message(s) stay unacknowledged",
                      len(pending.messages))
            self._halted.set()
            return
        pending.attempts += 1

    def _committed(self, pending: _Pending, inserted: int) -> None:
        """Count and log a committed batch, then acknowledge its messages."""
        prepared = pending.prepared
        valid = prepared.events.num_rows
        count_outcome(TRANSPORT_PATH, inserted, valid - inserted, prepared.rejected_by_reason)
        self._log_letters(prepared)
        acked = self._ack(pending.messages)
        self._count("acked", acked)
        self._count("held", -len(pending.messages))
        stats = self.stats
        stats.batches += 1
        stats.stored += inserted
        stats.duplicates += valid - inserted
        stats.dead_lettered += len(prepared.letters)
        stats.acked += acked
        stats.not_acked += len(pending.messages) - acked

    def _log_letters(self, prepared: PreparedBatch) -> None:
        """Log each stored dead letter with its topic and the start of its payload."""
        for letter in prepared.letters:
            log.warning("MQTT message on %s stored as a dead letter (%s): %s; payload: %r",
                        letter.topic, letter.reason, excerpt(letter.message, 500),
                        excerpt(letter.payload))
            self._count(f"dead_letter:{letter.reason}", 1)

    def _drained(self) -> bool:
        """Whether a drain is complete: nothing pending and nothing arriving any more."""
        if not self._draining.is_set() or self._pending or not self._inbox.empty():
            return False
        return time.monotonic() - self._last_arrival >= DRAIN_QUIET_S
