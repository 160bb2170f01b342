"""What every alert sink returns, and when to try a failed delivery again (pure).

A sink's ``deliver(payload)`` never raises for a delivery failure: it returns a
:class:`DeliveryAttempt` saying whether it worked and, if not, whether trying again can help.
:class:`RetryPolicy` turns the number of attempts made so far into the wait before the next
one (exponential backoff, capped), or ``None`` when the alert should be given up on::

    policy = RetryPolicy(max_attempts=8, base_seconds=2.0, max_seconds=600.0)
    policy.next_delay(1)  # 2.0 seconds after the first failed attempt
    policy.next_delay(3)  # 8.0
    policy.next_delay(8)  # None: eight attempts made, give up
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

RETRYABLE_4XX = frozenset({408, 429})  # request timeout, too many requests
MAX_EXPONENT = 64  # 2.0 ** 64 is far beyond any cap; larger exponents only risk overflow


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """The outcome of one delivery: ``error`` is short ("HTTP 500", "timeout", ...)."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    retryable: bool = False

    @classmethod
    def success(cls, status_code: int | None = None) -> DeliveryAttempt:
        """A delivery the receiver acknowledged."""
        return cls(ok=True, status_code=status_code)

    @classmethod
    def failure(cls, error: str, *, retryable: bool,
                status_code: int | None = None) -> DeliveryAttempt:
        """A delivery that did not arrive (or was refused)."""
        return cls(ok=False, status_code=status_code, error=error, retryable=retryable)


def status_retryable(status_code: int) -> bool:
    """Whether an HTTP error status is worth retrying: 5xx, 408 and 429 are; others are not."""
    return status_code >= 500 or status_code in RETRYABLE_4XX


class AlertSink(Protocol):
    """What a dispatcher needs from a sink (``WebhookSink``, ``MqttSink``)."""

    @property
    def name(self) -> str:
        """The sink's configured name (what ``AlertRule.sinks`` refers to)."""
        ...

    def deliver(self, payload: Mapping[str, Any]) -> DeliveryAttempt:
        """Send one alert; never raises for a delivery failure."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``base * 2**(n-1)`` seconds after attempt ``n``, capped."""

    max_attempts: int = 8
    base_seconds: float = 2.0
    max_seconds: float = 600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < self.base_seconds <= self.max_seconds:
            raise ValueError("retry delays must satisfy 0 < base_seconds <= max_seconds")

    def next_delay(self, attempt_number: int) -> float | None:
        """Seconds to wait after failed attempt ``attempt_number`` (1 = the first).

        ``None`` when ``max_attempts`` attempts have been made: give up.
        """
        if attempt_number < 1:
            raise ValueError("attempt_number counts from 1")
        if attempt_number >= self.max_attempts:
            return None
        exponent = min(attempt_number - 1, MAX_EXPONENT)
        return min(self.max_seconds, self.base_seconds * 2.0**exponent)
