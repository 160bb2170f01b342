"""Map one Frigate ``frigate/events`` MQTT message to Vigil event dicts.

Frigate publishes ``{"type": "new"|"update"|"end", "before": {...}, "after": {...}}`` for each
tracked object whenever it changes. :func:`map_frigate_message` turns one such message into
a list of dicts in the JSON shape :class:`vigil.model.EventIn` validates. It is pure and keeps
no memory: every event is derived from the one message, with ids that a replay reproduces, so
several workers may each see part of the stream and the store's ``(event_id, timestamp)``
identity drops the repeats.

Mapping rules:

* A message whose ``after.false_positive`` is true gives no events (it is still checked). A
  ``before`` that was a false positive counts as having no zones, since nothing was emitted
  for it (Frigate never turns a true positive back into a false one).
* Every other message gives one ``detection`` event: ``event_id`` = Frigate's id,
  ``timestamp`` = ``after.start_time`` (constant over the object's life, so only the first
  copy is stored), ``labels`` = ``[label]``, ``confidence`` = ``top_score`` (else ``score``),
  and ``attributes`` with ``frigate_type``, ``sub_label`` and ``sub_label_score``,
  ``stationary``, ``has_snapshot``, ``has_clip`` and Frigate's own ``attributes`` dict as
  ``frigate_attributes`` (never the thumbnail). Unset values are left out.
* Zones are read from ``current_zones`` when ``after`` has them, else from ``entered_zones``
  (the same key on both sides). A ``new`` message's ``before`` has no zones.
* A zone in ``after`` but not in ``before`` gives an ``entry`` at ``after.frame_time`` (else
  ``start_time`` for a ``new`` message, else the latest time in ``after``). A zone in
  ``before`` but not in ``after`` gives an ``exit`` at ``after.frame_time`` (else
  ``end_time``, else the latest time). The latest time is the largest of ``start_time``,
  ``end_time``, ``frame_time``, ``snapshot_time`` and ``snapshot.frame_time``.
* On ``end``, every zone still in ``after`` gives an ``exit`` at ``end_time`` (else
  ``frame_time``, else the latest time), so a lifecycle's entries and exits pair up.
* Entry and exit events carry ``subject_id`` = Frigate's id (one tracked object is one visitor
  instance), ``zone``, ``labels`` = ``[label]`` and ``attributes.frigate_type``. Their ids are
  ``{id}:{zone}:{entry|exit}:{epoch ms}``. Without ``frame_time`` two entries into one zone
  may share a time, and so an id.
* An id longer than 128 characters keeps its first 63 and ends with ``#`` and the SHA-256 hex
  of the whole id; ``event_id`` and ``subject_id`` are shortened alike.
* Keys the mapper does not read are ignored. Keys it reads are checked: a message that is not
  a JSON object, lacks ``after`` (or ``before`` on update/end), or has a missing or invalid
  ``type``, ``id``, ``camera``, ``label`` or ``start_time`` (or a wrongly typed optional
  field) raises :class:`FrigateMessageError` naming the field. Times must be unix seconds
  in 1990-2099.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from vigil.model import MAX_ID_LENGTH
from vigil.timeparse import EARLIEST, LATEST

__all__ = ["MESSAGE_TYPES", "FrigateMessageError", "map_frigate_message"]

MESSAGE_TYPES = ("new", "update", "end")
ZONE_KEYS = ("current_zones", "entered_zones")
HASH_PREFIX_LENGTH = MAX_ID_LENGTH - 65  # prefix + "#" + 64 hex digits = MAX_ID_LENGTH
EARLIEST_S = EARLIEST.timestamp()
LATEST_S = LATEST.timestamp()

_REASON_TEXT = {
    "invalid_json": "is not valid JSON",
    "not_object": "is not a JSON object",
    "missing_field": "is missing",
    "wrong_type": "has the wrong type",
    "invalid_value": "has an invalid value",
}


class FrigateMessageError(ValueError):
    """A Frigate message that cannot be mapped; ``reason`` is a code, ``field`` a dotted path."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        text = _REASON_TEXT.get(reason, reason)
        super().__init__(f"frigate message: {field or 'message'} {text} ({reason})")

    def __reduce__(self) -> tuple[type[FrigateMessageError], tuple[str, str | None]]:
        return (type(self), (self.reason, self.field))


@dataclass(frozen=True)
class _Tracked:
    """The fields of one ``after`` object that the mapping uses."""

    id: str
    camera: str
    label: str
    start_time: float
    end_time: float | None
    frame_time: float | None
    latest_time: float
    confidence: float | None
    attributes: dict[str, Any]


def map_frigate_message(payload: bytes | str | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Vigil events for one ``frigate/events`` message (JSON text/bytes or a decoded dict)."""
    message = _decode(payload)
    kind = _message_type(message)
    after = _object(message, "after", required=True)
    tracked = _tracked(after, kind)
    if _flag(after, "false_positive", "after") is True:
        return []
    zone_key = _zone_key(after)
    before_zones = _before_zones(message, kind, zone_key)
    after_zones = _zones(after, zone_key, "after")
    events = [_detection(tracked)]
    events += _transitions(tracked, kind, before_zones, after_zones)
    if kind == "end":
        end = _first_time(tracked.end_time, tracked.frame_time, tracked.latest_time)
        events += [_zone_event(tracked, kind, "exit", zone, end) for zone in after_zones]
    return events


def _decode(payload: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    """The message as a mapping; JSON text is parsed (NaN and Infinity are not JSON)."""
    if isinstance(payload, bytes | bytearray | memoryview | str):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise FrigateMessageError("invalid_json", None) from exc
    if not isinstance(payload, Mapping):
        raise FrigateMessageError("not_object", None)
    return payload


def _message_type(message: Mapping[str, Any]) -> str:
    """The message ``type``: one of :data:`MESSAGE_TYPES`."""
    kind = _require(message, "type", "type")
    if not isinstance(kind, str):
        raise FrigateMessageError("wrong_type", "type")
    if kind not in MESSAGE_TYPES:
        raise FrigateMessageError("invalid_value", "type")
    return kind


def _require(obj: Mapping[str, Any], key: str, path: str) -> Any:
    """``obj[key]``, which must be present and not null."""
    value = obj.get(key)
    if value is None:
        raise FrigateMessageError("missing_field", path)
    return value


def _object(obj: Mapping[str, Any], key: str, required: bool) -> Mapping[str, Any]:
    """A nested JSON object (empty when optional and absent)."""
    value = _require(obj, key, key) if required else obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FrigateMessageError("wrong_type", key)
    return value


def _text(obj: Mapping[str, Any], key: str, where: str) -> str:
    """A required non-blank string, stripped."""
    path = f"{where}.{key}"
    value = _require(obj, key, path)
    if not isinstance(value, str):
        raise FrigateMessageError("wrong_type", path)
    if not value.strip():
        raise FrigateMessageError("invalid_value", path)
    return value.strip()


def _finite(value: Any, path: str) -> float | None:
    """An optional finite number (``None`` stays ``None``; booleans are not numbers)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FrigateMessageError("wrong_type", path)
    if not math.isfinite(value):
        raise FrigateMessageError("invalid_value", path)
    return float(value)


def _time(obj: Mapping[str, Any], key: str, where: str) -> float | None:
    """An optional time in unix seconds, within the range the store accepts."""
    path = f"{where}.{key}"
    value = _finite(obj.get(key), path)
    if value is not None and not EARLIEST_S <= value < LATEST_S:
        raise FrigateMessageError("invalid_value", path)
    return value


def _score(value: Any, path: str) -> float | None:
    """An optional score between 0 and 1."""
    score = _finite(value, path)
    if score is not None and not 0.0 <= score <= 1.0:
        raise FrigateMessageError("invalid_value", path)
    return score


def _flag(obj: Mapping[str, Any], key: str, where: str) -> bool | None:
    """An optional boolean."""
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise FrigateMessageError("wrong_type", f"{where}.{key}")
    return value


def _tracked(after: Mapping[str, Any], kind: str) -> _Tracked:
    """Read and check the ``after`` fields the mapping uses."""
    object_id = _text(after, "id", "after")
    camera = _camera(after)
    label = _text(after, "label", "after")
    start = _time(after, "start_time", "after")
    if start is None:
        raise FrigateMessageError("missing_field", "after.start_time")
    end = _time(after, "end_time", "after")
    frame = _time(after, "frame_time", "after")
    times = (start, end, frame, *_snapshot_times(after))
    return _Tracked(
        id=object_id,
        camera=camera,
        label=label,
        start_time=start,
        end_time=end,
        frame_time=frame,
        latest_time=max(t for t in times if t is not None),
        confidence=_confidence(after),
        attributes=_detection_attributes(after, kind),
    )


def _confidence(after: Mapping[str, Any]) -> float | None:
    """``top_score`` when set, else ``score``."""
    top_score = _score(after.get("top_score"), "after.top_score")
    return top_score if top_score is not None else _score(after.get("score"), "after.score")


def _camera(after: Mapping[str, Any]) -> str:
    """The camera name, which becomes the source id (at most 128 characters)."""
    camera = _text(after, "camera", "after")
    if len(camera) > MAX_ID_LENGTH:
        raise FrigateMessageError("invalid_value", "after.camera")
    return camera


def _snapshot_times(after: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The best snapshot's time: ``snapshot_time`` (old) and ``snapshot.frame_time`` (new)."""
    snapshot = after.get("snapshot")
    if snapshot is not None and not isinstance(snapshot, Mapping):
        raise FrigateMessageError("wrong_type", "after.snapshot")
    new_time = _time(snapshot, "frame_time", "after.snapshot") if snapshot else None
    return _time(after, "snapshot_time", "after"), new_time


def _sub_label(after: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """``sub_label`` as (name, score): null, a string, or ``[name, score]``."""
    value = after.get("sub_label")
    name, score = value, None
    if isinstance(value, list) and 1 <= len(value) <= 2:
        name, score = value[0], (value[1] if len(value) == 2 else None)
    if name is not None and not isinstance(name, str):
        raise FrigateMessageError("wrong_type", "after.sub_label")
    return (name.strip() or None) if name else None, _score(score, "after.sub_label")


def _frigate_attributes(after: Mapping[str, Any]) -> dict[str, float] | None:
    """Frigate's ``attributes`` (e.g. ``{"face": 0.86}``), when a non-empty object."""
    value = after.get("attributes")
    if value is None or value == []:  # some versions send an empty list
        return None
    if not isinstance(value, Mapping):
        raise FrigateMessageError("wrong_type", "after.attributes")
    scores = {str(key): _finite(score, "after.attributes") for key, score in value.items()}
    return {key: score for key, score in scores.items() if score is not None} or None


def _detection_attributes(after: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The small selection of Frigate fields kept on a detection (unset ones left out)."""
    name, score = _sub_label(after)
    chosen: dict[str, Any] = {
        "frigate_type": kind,
        "sub_label": name,
        "sub_label_score": score,
        "stationary": _flag(after, "stationary", "after"),
        "has_snapshot": _flag(after, "has_snapshot", "after"),
        "has_clip": _flag(after, "has_clip", "after"),
        "frigate_attributes": _frigate_attributes(after),
    }
    return {key: value for key, value in chosen.items() if value is not None}


def _zone_key(after: Mapping[str, Any]) -> str:
    """``current_zones`` when ``after`` has them, else ``entered_zones``."""
    return ZONE_KEYS[0] if after.get(ZONE_KEYS[0]) is not None else ZONE_KEYS[1]


def _zones(obj: Mapping[str, Any], key: str, where: str) -> list[str]:
    """The distinct zone names under ``key``, stripped and sorted (none when absent)."""
    value = obj.get(key)
    if value is None:
        return []
    path = f"{where}.{key}"
    if not isinstance(value, list) or not all(isinstance(zone, str) for zone in value):
        raise FrigateMessageError("wrong_type", path)
    zones = {zone.strip() for zone in value}
    if "" in zones:
        raise FrigateMessageError("invalid_value", path)
    return sorted(zones)


def _before_zones(message: Mapping[str, Any], kind: str, key: str) -> list[str]:
    """Zones of ``before``: none for ``new`` or a false positive."""
    if kind == "new":
        return []
    before = _object(message, "before", required=True)
    if _flag(before, "false_positive", "before") is True:
        return []
    return _zones(before, key, "before")


def _first_time(*times: float | None) -> float:
    """The first time that is set (the last argument always is)."""
    return next(t for t in times if t is not None)


def _transitions(
    tracked: _Tracked, kind: str, before: list[str], after: list[str]
) -> list[dict[str, Any]]:
    """Entries for zones only in ``after``, exits for zones only in ``before``."""
    new_start = tracked.start_time if kind == "new" else None
    entered = _first_time(tracked.frame_time, new_start, tracked.latest_time)
    left = _first_time(tracked.frame_time, tracked.end_time, tracked.latest_time)
    exits = [_zone_event(tracked, kind, "exit", z, left) for z in before if z not in after]
    entries = [_zone_event(tracked, kind, "entry", z, entered) for z in after if z not in before]
    return exits + entries


def _bounded_id(text: str) -> str:
    """``text`` when short enough, else a prefix, ``#`` and the SHA-256 hex of the whole."""
    if len(text) <= MAX_ID_LENGTH:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{text[:HASH_PREFIX_LENGTH]}#{digest}"


def _detection(tracked: _Tracked) -> dict[str, Any]:
    """The one detection event of a tracked object (same id and timestamp on every message)."""
    event: dict[str, Any] = {
        "event_id": _bounded_id(tracked.id),
        "camera_id": tracked.camera,
        "event_type": "detection",
        "timestamp": tracked.start_time,
        "labels": [tracked.label],
        "attributes": tracked.attributes,
    }
    if tracked.confidence is not None:
        event["confidence"] = tracked.confidence
    return event


def _zone_event(
    tracked: _Tracked, kind: str, event_type: str, zone: str, at: float
) -> dict[str, Any]:
    """An ``entry`` or ``exit`` of the tracked object into or out of ``zone`` at ``at``."""
    event_id = f"{tracked.id}:{zone}:{event_type}:{round(at * 1000)}"
    return {
        "event_id": _bounded_id(event_id),
        "camera_id": tracked.camera,
        "event_type": event_type,
        "timestamp": at,
        "labels": [tracked.label],
        "subject_id": _bounded_id(tracked.id),
        "zone": zone,
        "attributes": {"frigate_type": kind},
    }
