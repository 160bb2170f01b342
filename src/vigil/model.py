"""Event schemas: what clients send, and what ingest answers."""

from __future__ import annotations

import json
from typing import Any

import orjson
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MAX_ID_LENGTH = 128
LABEL_KEYS = ("label", "class")


ALL_LABELS = "*"  # reserved: the all-labels row of the hourly counts


def normalise_labels(values: list[str]) -> list[str]:
    """Lower-case, strip, drop empties and the reserved ``*``, de-duplicate and sort."""
    cleaned = {v.strip().lower() for v in values if v and v.strip()}
    return sorted(cleaned - {ALL_LABELS})


def labels_from_detections(detections: Any) -> list[str]:
    """Labels named by a detections payload: a list (or one object) with ``label``/``class``."""
    items = detections if isinstance(detections, list) else [detections]
    found: list[str] = []
    for item in items:
        if isinstance(item, dict):
            found.extend(str(item[k]) for k in LABEL_KEYS if item.get(k) is not None)
    return found


def canonical_json(value: Any) -> str | None:
    """Compact, key-sorted JSON text (``None`` stays ``None``)."""
    if value is None:
        return None
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):  # e.g. integers beyond 64 bits
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class EventIn(BaseModel):
    """One event as a client sends it over HTTP or in NDJSON.

    The timestamp stays raw here: it is parsed with the same rules as file input, in the
    shared finalising step (see :mod:`vigil.ingest.finalise`). Unknown top-level fields are
    kept in ``attributes``.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True)

    event_id: str | None = Field(None, min_length=1, max_length=MAX_ID_LENGTH)
    source_id: str = Field(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        validation_alias=AliasChoices("source_id", "camera_id", "entity_id"),
    )
    event_type: str = Field(pattern=EVENT_TYPE_PATTERN)
    timestamp: str | int | float
    label: str | None = None
    labels: list[str] | None = None
    confidence: float | None = Field(None, ge=0.0, le=1.0)
    model_id: str | None = Field(None, max_length=MAX_ID_LENGTH)
    frame_id: int | None = None
    subject_id: str | None = Field(
        None, max_length=MAX_ID_LENGTH, validation_alias=AliasChoices("subject_id", "person_id")
    )
    zone: str | None = Field(None, validation_alias=AliasChoices("zone", "area", "room"))
    state: str | None = None
    detections: Any = None
    attributes: dict[str, Any] | None = None

    @field_validator("subject_id", mode="before")
    @classmethod
    def _subject_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp_present(cls, value: Any) -> Any:
        if isinstance(value, bool) or value is None or value == "":
            raise ValueError("timestamp is required (ISO 8601 with zone, or unix s/ms)")
        return value

    @model_validator(mode="after")
    def _entry_exit_need_subject(self) -> EventIn:
        if self.event_type in ("entry", "exit") and not self.subject_id:
            raise PydanticCustomError(
                "person_id_missing", "person_id (subject_id) is required for entry/exit events"
            )
        return self

    def all_labels(self) -> list[str]:
        """The distinct labels from ``label``, ``labels`` and the detections payload."""
        found = list(self.labels or [])
        if self.label:
            found.append(self.label)
        found.extend(labels_from_detections(self.detections))
        return normalise_labels(found)

    def all_attributes(self) -> dict[str, Any] | None:
        """Declared attributes merged with unknown top-level fields."""
        merged = dict(self.attributes or {})
        merged.update(self.model_extra or {})
        return merged or None

    def staged_row(self) -> dict[str, Any]:
        """The event as a row of the staging schema shared with file input."""
        return {
            "event_id": self.event_id,
            "source_id": self.source_id,
            "event_type": self.event_type,
            "timestamp": str(self.timestamp),
            "labels": self.all_labels(),
            "confidence": self.confidence,
            "model_id": self.model_id,
            "frame_id": self.frame_id,
            "subject_id": self.subject_id,
            "zone": self.zone,
            "state": self.state,
            "detections": canonical_json(self.detections),
            "attributes": canonical_json(self.all_attributes()),
        }


class RejectedItem(BaseModel):
    """An input item that was not stored, with where it was and why."""

    index: int = Field(description="0-based item index (HTTP) or 1-based line number (files)")
    field: str | None = None
    reason: str
    message: str


class IngestResult(BaseModel):
    """What happened to a batch: every item is accepted, a duplicate, or rejected."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[RejectedItem] = Field(default_factory=list)
