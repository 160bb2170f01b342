"""``WebhookSink`` against a real local HTTP receiver: body, signature and failure outcomes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from servers import free_port
from vigil.anomaly.delivery import AlertSink
from vigil.anomaly.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSink,
    sign,
    verify_signature,
)

SECRET = "s3cret"
SENT_AT = 1_709_604_600
PAYLOAD: dict[str, Any] = {
    "anomaly_id": 17, "source_id": "backyard", "type": "rare_time", "label": "person",
    "severity": "high", "score": 0.993, "explanation": "person at 03:00 on Tuesday — rare",
    "event_id": "abc", "window_start": "2024-03-05T02:00:00+00:00",
    "window_end": "2024-03-05T03:00:00+00:00", "detected_at": "2024-03-05T02:10:00+00:00",
    "local_hour": 3, "local_weekday": 1, "status": "open", "components": {"rate": 0.2},
    "rule": {"rule_id": "night", "name": "Night watch"},
}


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes


class Receiver:
    """A tiny webhook receiver on 127.0.0.1 that records requests.

    ``status`` is what it answers; with ``hang`` set it never answers (until teardown).
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 204
        self.hang = False
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/vigil"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(Received(self.path, self.headers, body))
                if receiver.hang:
                    receiver.release.wait(10)
                    return
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output quiet."""

        return Handler

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    opened = Receiver()
    try:
        yield opened
    finally:
        opened.close()




def test_posts_compact_json_signed_with_hmac(receiver: Receiver) -> None:
    with WebhookSink("hook", receiver.url, secret=SECRET, headers={"Authorization": "Bearer t"},
                     clock=lambda: SENT_AT + 0.7) as sink:
        attempt = sink.deliver(PAYLOAD)
    assert (attempt.ok, attempt.status_code, attempt.error) == (True, 204, None)
    [request] = receiver.requests
    assert request.path == "/hooks/vigil"
    assert json.loads(request.body) == PAYLOAD
    assert b", " not in request.body and b": " not in request.body  # compact
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer t"
    timestamp, signature = request.headers[TIMESTAMP_HEADER], request.headers[SIGNATURE_HEADER]
    assert timestamp == str(SENT_AT)
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert verify_signature(SECRET, timestamp, request.body, signature)
    assert verify_signature(SECRET, SENT_AT, request.body, signature)
    assert not verify_signature("wrong", timestamp, request.body, signature)
    assert not verify_signature(SECRET, str(SENT_AT + 1), request.body, signature)
    assert not verify_signature(SECRET, timestamp, request.body + b" ", signature)
    assert not verify_signature(SECRET, timestamp, request.body, "sha256=" + "0" * 64)


def test_signature_is_the_documented_hmac() -> None:
    # printf '1.{}' | openssl dgst -sha256 -hmac key
    assert sign("key", 1, b"{}") == (
        "sha256=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224")


def test_unsigned_without_a_secret(receiver: Receiver) -> None:
    sink: AlertSink = WebhookSink("hook", receiver.url)  # mypy: a WebhookSink is an AlertSink
    try:
        assert sink.name == "hook"
        assert sink.deliver({"anomaly_id": 1}).ok
    finally:
        sink.close()
    [request] = receiver.requests
    assert request.headers[SIGNATURE_HEADER] is None
    assert request.headers[TIMESTAMP_HEADER] is None
    assert json.loads(request.body) == {"anomaly_id": 1}


@pytest.mark.parametrize(("status", "retryable"), [
    (500, True), (503, True), (429, True), (408, True), (400, False), (404, False),
    (301, False),
])
def test_error_statuses(receiver: Receiver, status: int, retryable: bool) -> None:
    receiver.status = status
    with WebhookSink("hook", receiver.url, secret=SECRET) as sink:
        attempt = sink.deliver(PAYLOAD)
    assert not attempt.ok
    assert (attempt.status_code, attempt.error, attempt.retryable) == (
        status, f"HTTP {status}", retryable)
    assert len(receiver.requests) == 1


def test_connection_refused_is_a_retryable_failure() -> None:
    with WebhookSink("hook", f"http://127.0.0.1:{free_port()}/x", timeout=2.0) as sink:
        started = time.monotonic()
        attempt = sink.deliver(PAYLOAD)
    assert time.monotonic() - started < 2.0
    assert (attempt.ok, attempt.status_code, attempt.retryable) == (False, None, True)
    assert attempt.error == "connection refused"


def test_a_receiver_that_hangs_times_out_retryably(receiver: Receiver) -> None:
    receiver.hang = True
    with WebhookSink("hook", receiver.url, timeout=0.3) as sink:
        started = time.monotonic()
        attempt = sink.deliver(PAYLOAD)
    assert time.monotonic() - started < 2.0
    assert (attempt.ok, attempt.error, attempt.retryable) == (False, "timeout", True)
    assert len(receiver.requests) == 1


def test_recovers_after_failures(receiver: Receiver) -> None:
    receiver.status = 502
    with WebhookSink("hook", receiver.url) as sink:
        assert not sink.deliver(PAYLOAD).ok
        receiver.status = 200
        assert sink.deliver(PAYLOAD).ok
    assert len(receiver.requests) == 2


def test_configuration_errors_raise() -> None:
    for url in ("ftp://example.org/x", "http:///nohost", "not a url"):
        with pytest.raises(ValueError):
            WebhookSink("hook", url)
    with pytest.raises(ValueError, match="secret"):
        WebhookSink("hook", "http://127.0.0.1/x", secret="")
    with WebhookSink("hook", "http://127.0.0.1:9/x") as sink, pytest.raises(TypeError):
        sink.deliver({"not json": object()})  # a programming error, not a delivery failure
