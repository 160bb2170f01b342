"""``WebhookSink``: POST each alert as JSON, signed with HMAC-SHA256 when a secret is set.

The request is ``POST <url>`` with ``Content-Type: application/json`` and the alert payload as
compact UTF-8 JSON. With a secret, two more headers::

    X-Vigil-Timestamp: 1709604600          (unix seconds when the request was signed)
    X-Vigil-Signature: sha256=<hex>        (HMAC-SHA256 with the secret over
                                            f"{timestamp}.".encode() + raw body bytes)

A receiver checks the signature over the *raw* body (before parsing the JSON) and refuses
stale timestamps so that a captured request cannot be replayed later::

    from vigil.anomaly.webhook import verify_signature

    timestamp = request.headers["X-Vigil-Timestamp"]
    if not verify_signature(SECRET, timestamp, raw_body, request.headers["X-Vigil-Signature"]):
        return 401
    if abs(time.time() - int(timestamp)) > 300:
        return 401  # too old: a replay

Outcomes: 2xx is delivered; 5xx, 408, 429, timeouts and connection errors are retryable
failures; other statuses (4xx, 3xx — redirects are not followed) are failures not worth
retrying. ``deliver`` never raises for a failed delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import httpx
import orjson

from vigil.anomaly.delivery import DeliveryAttempt, status_retryable

TIMESTAMP_HEADER = "X-Vigil-Timestamp"
SIGNATURE_HEADER = "X-Vigil-Signature"
SIGNATURE_PREFIX = "sha256="
USER_AGENT = "vigil-alerts/1"
MAX_ERROR_CHARS = 200


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Vigil-Signature`` value: ``sha256=`` + hex HMAC of ``f"{timestamp}." + body``."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(secret: str, timestamp: int | str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` sent at ``timestamp`` (constant time).

    Pass the ``X-Vigil-Timestamp`` header value as received and the raw body bytes. This
    checks authenticity only; also refuse timestamps far from your clock (replays).
    """
    expected = sign(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, header.strip().encode())


def describe_transport_error(error: httpx.TransportError) -> str:
    """A short, readable reason for a request that got no HTTP answer."""
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    detail = str(error) or type(error).__name__
    if isinstance(error, httpx.ConnectError):
        if "refused" in detail.lower():
            return "connection refused"
        kind = "connection failed"
    elif isinstance(error, httpx.ProtocolError):
        kind = "protocol error"
    elif isinstance(error, httpx.NetworkError):
        kind = "network error"
    else:
        kind = "transport error"
    return f"{kind}: {detail}"[:MAX_ERROR_CHARS]


class WebhookSink:
    """Deliver alerts to one HTTP(S) endpoint.

    ``clock`` gives the signing time in unix seconds (injectable for tests). Calls are
    serialised by a lock; one pooled connection is reused between deliveries.
    """

    def __init__(self, name: str, url: str, secret: str | None = None, timeout: float = 5.0,
                 headers: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise ValueError(f"invalid webhook url {url!r}: {error}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"webhook url must be http(s)://host/..., not {url!r}")
        if secret == "":
            raise ValueError("webhook secret must not be empty (use None to not sign)")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.name = name
        self.url = url
        self._secret = secret
        self._clock = clock
        self._lock = threading.Lock()
        base_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        self._client = httpx.Client(timeout=timeout, headers={**base_headers, **(headers or {})},
                                    follow_redirects=False)

    def deliver(self, payload: Mapping[str, Any]) -> DeliveryAttempt:
        """POST the payload as JSON; a failure is returned, not raised."""
        body = orjson.dumps(dict(payload))
        try:
            with self._lock:
                response = self._client.post(self.url, content=body,
                                             headers=self._signature_headers(body))
        except httpx.TransportError as error:
            return DeliveryAttempt.failure(describe_transport_error(error), retryable=True)
        code = response.status_code
        if 200 <= code < 300:
            return DeliveryAttempt.success(code)
        return DeliveryAttempt.failure(f"HTTP {code}", retryable=status_retryable(code),
                                       status_code=code)

    def _signature_headers(self, body: bytes) -> dict[str, str]:
        """Timestamp and signature headers, or none without a secret."""
        if self._secret is None:
            return {}
        timestamp = int(self._clock())
        return {TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(self._secret, timestamp, body)}

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def __enter__(self) -> WebhookSink:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
