"""Sends queued alerts to their sinks on a thread of its own, with retries and backoff.

A failing or hanging sink delays only its own deliveries: ingestion and scoring never wait
for it. Each attempt's outcome is written back (through the writer), so
``GET /api/v1/alerts/deliveries`` shows what was sent, what waits for a retry and what gave
up, and queued alerts survive a restart.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from vigil.anomaly.delivery import DeliveryAttempt, RetryPolicy
from vigil.metrics import ALERT_ATTEMPTS
from vigil.store import Store
from vigil.store.alerts import DeliveryOutcome

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
WriteFn = Callable[[Callable[[Store], Any]], Any]
DUE_PER_PASS = 100
IDLE_WAIT_SECONDS = 30.0


class Sink(Protocol):
    """Something that delivers an alert payload (webhook, MQTT)."""

    name: str

    def deliver(self, payload: Mapping[str, Any]) -> DeliveryAttempt: ...


class AlertDispatcher:
    """Delivers due alerts; see the module docstring."""

    def __init__(self, store: Store, sinks: Mapping[str, Sink], *, clock: Clock,
                 write: WriteFn | None = None, policy: RetryPolicy | None = None) -> None:
        self.store = store
        self.sinks = dict(sinks)
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self._write: WriteFn = write or (lambda fn: fn(store))
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vigil-alerts", daemon=True)

    def deliver_due(self) -> int:
        """Attempt every due delivery once; returns how many were attempted."""
        attempted = 0
        while not self._stop.is_set():
            due = self.store.due_deliveries(self.clock(), DUE_PER_PASS)
            if not due:
                break
            for delivery in due:
                if self._stop.is_set():
                    break
                self._attempt(delivery)
                attempted += 1
            if len(due) < DUE_PER_PASS:
                break
        return attempted

    def _attempt(self, delivery: dict[str, Any]) -> None:
        sink = self.sinks.get(delivery["sink"])
        if sink is None:
            attempt = DeliveryAttempt(ok=False, status_code=None, retryable=False,
                                      error=f"sink {delivery['sink']!r} is not configured")
        else:
            attempt = sink.deliver(delivery["payload"])
        number = int(delivery["attempts"]) + 1
        delay = self.policy.next_delay(number) if attempt.retryable and not attempt.ok else None
        now = self.clock()
        outcome = DeliveryOutcome(
            delivery_id=int(delivery["delivery_id"]), ok=attempt.ok,
            status_code=attempt.status_code, error=attempt.error,
            next_attempt_at=None if delay is None else now + dt.timedelta(seconds=delay))
        ALERT_ATTEMPTS.labels(delivery["sink"], "delivered" if attempt.ok else "failed").inc()
        if not attempt.ok:
            log.warning("alert %s to %s failed (attempt %d): %s%s", delivery["delivery_id"],
                        delivery["sink"], number, attempt.error,
                        "" if delay is not None else "; giving up")
        self._write(lambda store: store.record_delivery(outcome, now))

    # -- thread ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """Alerts were queued: look now."""
        self._wake.set()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for sink in self.sinks.values():
            close = getattr(sink, "close", None)
            if callable(close):
                close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
                wait = self._seconds_to_next()
            except Exception:
                log.exception("alert dispatch failed; trying again shortly")
                wait = 5.0
            self._wake.wait(wait)
            self._wake.clear()

    def _seconds_to_next(self) -> float:
        due = self.store.next_delivery_due()
        if due is None:
            return IDLE_WAIT_SECONDS
        return min(IDLE_WAIT_SECONDS, max(0.05, (due - self.clock()).total_seconds()))
