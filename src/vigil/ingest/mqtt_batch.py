"""Turn a batch of MQTT messages into rows to insert and dead letters (no I/O, no clock).

A message on the Frigate topic is mapped by :func:`vigil.ingest.frigate.map_frigate_message`;
any other message holds Vigil event JSON (one object, an array, or NDJSON lines). The items
of every message in the batch are validated and finalised together, as one table. A message
that cannot be read, or any of whose items is invalid, becomes one :class:`DeadLetter` whose
``message`` names each rejected item; its valid items are stored all the same.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from vigil.ingest.finalise import finalise
from vigil.ingest.frigate import FrigateMessageError, map_frigate_message
from vigil.ingest.jsonitems import PayloadError, parse_payload, validate_items
from vigil.ingest.reasons import reason_field, reason_message
from vigil.model import RejectedItem
from vigil.store import DeadLetter
from vigil.store.base import EVENT_INPUT_SCHEMA

__all__ = ["PreparedBatch", "Received", "excerpt", "prepare_batch"]

log = logging.getLogger(__name__)
TRANSPORT = "mqtt"
EXCERPT_CHARS = 200
MAX_LISTED_ITEMS = 20
MAX_PAYLOAD_CHARS = 1024 * 1024  # a dead letter keeps at most this much of the payload text
IsFrigate = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class Received:
    """One message as the network thread handed it over.

    ``epoch`` numbers the connection it came on: an acknowledgement is only sent on that
    same connection (after a reconnect the broker sends the message again).
    """

    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 1
    epoch: int = 0
    dup: bool = False


@dataclass
class PreparedBatch:
    """What one writer call stores for a batch."""

    events: pa.Table
    letters: list[DeadLetter] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass
class _Items:
    """The event items of a batch with, per item, the message and position it came from."""

    items: list[tuple[int, Any]] = field(default_factory=list)
    owners: list[tuple[int, int]] = field(default_factory=list)
    counts: Counter[int] = field(default_factory=Counter)

    def add(self, message: int, position: int, item: Any) -> None:
        self.items.append((len(self.items), item))
        self.owners.append((message, position))
        self.counts[message] += 1


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of ``text``, at most ``limit`` characters (``…`` marks a cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def prepare_batch(messages: Sequence[Received], is_frigate: IsFrigate,
                  received_at: dt.datetime) -> PreparedBatch:
    """Rows and dead letters of ``messages``; a failure of one message cannot sink the rest."""
    try:
        return _prepare(messages, is_frigate, received_at)
    except Exception:
        if len(messages) == 1:
            log.exception("MQTT message on %s could not be processed", messages[0].topic)
            return _internal_error(messages[0], received_at)
        log.exception("MQTT batch could not be processed; processing its messages one by one")
    return _merge([prepare_batch([m], is_frigate, received_at) for m in messages])


def _prepare(messages: Sequence[Received], is_frigate: IsFrigate,
             received_at: dt.datetime) -> PreparedBatch:
    collected = _Items()
    failed: dict[int, tuple[str, str]] = {}
    for index, message in enumerate(messages):
        failure = _collect(index, message, is_frigate(message.topic), collected)
        if failure is not None:
            failed[index] = failure
    events, rejected = _finalised(collected.items)
    per_message: dict[int, list[tuple[int, RejectedItem]]] = defaultdict(list)
    for item in rejected:
        owner, position = collected.owners[item.index]
        per_message[owner].append((position, item))
    reasons = Counter(item.reason for item in rejected) + Counter(r for r, _ in failed.values())
    for index, items in per_message.items():
        failed[index] = _item_failure(sorted(items, key=lambda pair: pair[0]),
                                      collected.counts[index])
    letters = [_letter(messages[i], *failed[i], received_at) for i in sorted(failed)]
    return PreparedBatch(events=events, letters=letters, rejected_by_reason=dict(reasons))


def _collect(index: int, message: Received, frigate: bool,
             collected: _Items) -> tuple[str, str] | None:
    """Add the message's event items; ``(reason, message)`` when it cannot be read at all."""
    if frigate:
        try:
            mapped = map_frigate_message(message.payload)
        except FrigateMessageError as exc:
            return f"frigate_{exc.reason}", str(exc)
        for position, event in enumerate(mapped):
            collected.add(index, position, event)
        return None
    try:
        items = parse_payload(message.payload)
    except PayloadError as exc:
        return "invalid_json", f"not Vigil event JSON: {exc}"
    except UnicodeDecodeError as exc:
        return "invalid_json", f"not UTF-8 text: {exc.reason} at byte {exc.start}"
    for position, item in items:
        collected.add(index, position, item)
    return None


def _finalised(items: list[tuple[int, Any]]) -> tuple[pa.Table, list[RejectedItem]]:
    """Validate and finalise every item at once: the rows to store and the rejections."""
    if not items:
        return EVENT_INPUT_SCHEMA.empty_table(), []
    staged, rejected = validate_items(items)
    if staged.num_rows == 0:
        return EVENT_INPUT_SCHEMA.empty_table(), rejected
    result = finalise({"staged": staged})
    rejected += [RejectedItem(index=ref, field=reason_field(code), reason=code,
                              message=reason_message(code)) for ref, code in result.rejected]
    return result.events, rejected


def _item_failure(items: list[tuple[int, RejectedItem]], total: int) -> tuple[str, str]:
    """The reason (the first rejected item's) and a text naming every rejected item."""
    listed = [f"[{position}] {item.reason}: {item.message}"
              for position, item in items[:MAX_LISTED_ITEMS]]
    if len(items) > MAX_LISTED_ITEMS:
        listed.append(f"... and {len(items) - MAX_LISTED_ITEMS} more")
    head = f"{len(items)} of {total} events rejected ({total - len(items)} valid ones stored)"
    return items[0][1].reason, f"{head}: " + "; ".join(listed)


def _letter(message: Received, reason: str, text: str, received_at: dt.datetime) -> DeadLetter:
    """The dead letter of a message."""
    payload = message.payload.decode("utf-8", errors="replace")
    return DeadLetter(dead_letter_id=None, received_at=received_at, transport=TRANSPORT,
                      topic=message.topic, reason=reason, message=text,
                      payload=payload[:MAX_PAYLOAD_CHARS], payload_bytes=len(message.payload))


def _internal_error(message: Received, received_at: dt.datetime) -> PreparedBatch:
    """A message whose processing raised: kept as a dead letter, nothing stored."""
    letter = _letter(message, "internal_error", "processing the message raised an error "
                     "(see the service log)", received_at)
    return PreparedBatch(events=EVENT_INPUT_SCHEMA.empty_table(), letters=[letter],
                         rejected_by_reason={"internal_error": 1})


def _merge(parts: list[PreparedBatch]) -> PreparedBatch:
    """One batch of several prepared ones."""
    reasons: Counter[str] = Counter()
    for part in parts:
        reasons.update(part.rejected_by_reason)
    return PreparedBatch(
        events=pa.concat_tables([part.events for part in parts]),
        letters=[letter for part in parts for letter in part.letters],
        rejected_by_reason=dict(reasons),
    )
