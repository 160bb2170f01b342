"""Map one Home Assistant ``state_changed`` event to a Vigil event dict.

Accepted shapes: the event object ``{"event_type": "state_changed", "data": {...},
"time_fired": ...}`` and its bare ``data`` object ``{"entity_id", "old_state",
"new_state"}``; either state may be null or absent (not both). :func:`map_state_change`
returns a dict in the JSON shape :class:`vigil.model.EventIn` validates:

* ``event_type`` = ``state_changed``; ``source_id`` = ``entity_id``; ``labels`` =
  ``[domain]`` (the part of ``entity_id`` before the first dot);
* ``state`` = ``new_state.state`` as given (``None`` when the entity was removed);
* ``zone`` = the ``area`` (else ``area_id``, else ``room``) attribute of ``new_state``, else
  the entity's area from the mapping given, else ``None``;
* ``timestamp`` = ``new_state.last_changed``, else the event's ``time_fired``, else (entity
  removed) ``old_state.last_changed``;
* ``attributes`` = ``new_state.attributes`` plus ``old_state`` (the old state's text or
  ``None``) and ``domain``, and ``removed: true`` when ``new_state`` is missing.

The event id is not set here: it is derived from entity, time and state (see
:mod:`vigil.ingest.ha_staging`), so an attribute-only update of a state and any re-sent copy
are recognised as the same event. Anything else raises :class:`HaEventError` with a reason
code and the dotted path of the offending field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from vigil.ingest.reasons import REASONS
from vigil.model import MAX_ID_LENGTH

__all__ = ["AREA_KEYS", "DOMAIN_PATTERN", "EVENT_TYPE", "HA_REASONS", "HaEventError",
           "map_state_change", "map_state_change_at"]

EVENT_TYPE = "state_changed"
DOMAIN_PATTERN = r"[A-Za-z0-9_]+"
ENTITY_ID = re.compile(rf"({DOMAIN_PATTERN})\..+", re.DOTALL)
AREA_KEYS = ("area", "area_id", "room")

HA_REASONS: dict[str, tuple[str, str]] = {
    code: REASONS[code] for code in ("ha_not_state_changed", "ha_entity_id_invalid",
                                     "ha_state_invalid")}
"""Rejection reasons of Home Assistant input: ``code -> (field, message)``."""


class HaEventError(ValueError):
    """An item that is not a usable state change; ``reason`` is a code, ``field`` a path."""

    def __init__(self, reason: str, field: str, detail: str) -> None:
        self.reason = reason
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}")

    def __reduce__(self) -> tuple[type[HaEventError], tuple[str, str, str]]:
        return (type(self), (self.reason, self.field, self.detail))


def map_state_change(item: Any, areas: Mapping[str, str | None] | None = None
                     ) -> dict[str, Any]:
    """The Vigil event (an ``EventIn``-shaped dict) of one state change."""
    return map_state_change_at(item, areas)[0]


def map_state_change_at(item: Any, areas: Mapping[str, str | None] | None = None
                        ) -> tuple[dict[str, Any], str]:
    """The Vigil event of one state change, and the path of the field its time came from
    (e.g. ``data.new_state.last_changed``), to name it if the time is then rejected."""
    data, prefix, fired = _unwrap(item)
    old = _state(data, "old_state", prefix)
    new = _state(data, "new_state", prefix)
    if old is None and new is None:
        raise HaEventError("ha_state_invalid", f"{prefix}new_state",
                           "old_state and new_state are both missing")
    entity_id = _entity_id(data, prefix, new or old or {})
    domain = entity_id.split(".", 1)[0]
    attributes = _attributes(new, f"{prefix}new_state") if new is not None else {}
    attributes |= {"old_state": _state_text(old, f"{prefix}old_state"), "domain": domain}
    if new is None:
        attributes["removed"] = True
    timestamp, time_field = _timestamp(new, old, fired, prefix)
    event = {
        "source_id": entity_id,
        "event_type": EVENT_TYPE,
        "timestamp": timestamp,
        "labels": [domain.lower()],
        "zone": _area(attributes) or (areas or {}).get(entity_id),
        "state": _state_text(new, f"{prefix}new_state"),
        "attributes": attributes,
    }
    return event, time_field


def _unwrap(item: Any) -> tuple[Mapping[str, Any], str, Any]:
    """The ``data`` object, the path prefix of its fields, and ``time_fired``."""
    if not isinstance(item, Mapping):
        raise HaEventError("ha_not_state_changed", "row", "expected a JSON object")
    if "data" not in item:
        if "entity_id" not in item:
            raise HaEventError("ha_not_state_changed", "entity_id",
                               "expected a state_changed event {event_type, data, time_fired} "
                               "or its data {entity_id, old_state, new_state}")
        return item, "", None
    kind = item.get("event_type", EVENT_TYPE)
    if kind != EVENT_TYPE:
        raise HaEventError("ha_not_state_changed", "event_type",
                           f"expected {EVENT_TYPE!r}, got {kind!r}")
    data = item["data"]
    if not isinstance(data, Mapping):
        raise HaEventError("ha_not_state_changed", "data", "expected a JSON object")
    return data, "data.", item.get("time_fired")


def _state(data: Mapping[str, Any], key: str, prefix: str) -> Mapping[str, Any] | None:
    """``old_state`` or ``new_state``: an object, or ``None`` when null or absent."""
    value = data.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise HaEventError("ha_state_invalid", f"{prefix}{key}", "expected an object or null")
    return value


def _entity_id(data: Mapping[str, Any], prefix: str, state: Mapping[str, Any]) -> str:
    """``entity_id`` (else the state object's own), stripped and checked."""
    field = f"{prefix}entity_id"
    value = data.get("entity_id", state.get("entity_id"))
    if not isinstance(value, str) or not value.strip():
        raise HaEventError("ha_entity_id_invalid", field, "expected a non-empty string")
    value = value.strip()
    if len(value) > MAX_ID_LENGTH:
        raise HaEventError("ha_entity_id_invalid", field,
                           f"longer than {MAX_ID_LENGTH} characters")
    if not ENTITY_ID.fullmatch(value):
        raise HaEventError("ha_entity_id_invalid", field,
                           f"{value!r} is not domain.name (e.g. light.kitchen)")
    return value


def _state_text(state: Mapping[str, Any] | None, where: str) -> str | None:
    """The ``state`` text of a state object (``None`` for a missing object)."""
    if state is None:
        return None
    value = state.get("state")
    if not isinstance(value, str):
        raise HaEventError("ha_state_invalid", f"{where}.state", "expected a string")
    return value


def _attributes(state: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A copy of the state's ``attributes`` (none when absent)."""
    value = state.get("attributes")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise HaEventError("ha_state_invalid", f"{where}.attributes", "expected an object")
    return {str(key): item for key, item in value.items()}


def _area(attributes: Mapping[str, Any]) -> str | None:
    """The first non-blank area attribute (``area``, ``area_id``, ``room``)."""
    for key in AREA_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _timestamp(new: Mapping[str, Any] | None, old: Mapping[str, Any] | None, fired: Any,
               prefix: str) -> tuple[str | int | float, str]:
    """``new_state.last_changed``, else ``time_fired``, else ``old_state.last_changed``
    (only when ``new_state`` is missing)."""
    candidates: list[tuple[Mapping[str, Any] | None, str]] = []
    if new is not None:
        candidates.append((new, f"{prefix}new_state.last_changed"))
    candidates.append(({"last_changed": fired}, "time_fired"))
    if new is None:
        candidates.append((old, f"{prefix}old_state.last_changed"))
    for holder, field in candidates:
        value = holder.get("last_changed") if holder is not None else None
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise HaEventError("timestamp_invalid", field, "expected an ISO 8601 string")
        if isinstance(value, float) and not math.isfinite(value):
            raise HaEventError("timestamp_invalid", field, "expected a finite number")
        return value, field
    raise HaEventError("timestamp_missing", candidates[0][1],
                       "no last_changed (nor time_fired) to date the change")
