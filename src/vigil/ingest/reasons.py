"""Why an input row can be rejected: a stable code, the field it concerns, a message."""

from __future__ import annotations

REASONS: dict[str, tuple[str, str]] = {
    "timestamp_missing": ("timestamp", "timestamp is missing"),
    "timestamp_invalid": (
        "timestamp",
        "timestamp is not ISO 8601 with a zone, unix seconds/milliseconds or --timestamp-format",
    ),
    "timestamp_no_zone": (
        "timestamp",
        "timestamp has no time zone; state one with --timezone (or ?timezone=)",
    ),
    "timestamp_out_of_range": ("timestamp", "timestamp is before 1990 or after 2099"),
    "source_id_missing": ("source_id", "camera_id/source_id is missing"),
    "source_id_too_long": ("source_id", "camera_id/source_id is longer than 128 characters"),
    "event_type_missing": ("event_type", "event_type is missing"),
    "event_type_invalid": (
        "event_type",
        "event_type must be a lower-case word (detection, entry, exit, state, motion, ...)",
    ),
    "event_id_too_long": ("event_id", "event_id is longer than 128 characters"),
    "model_id_too_long": ("model_id", "model_id is longer than 128 characters"),
    "person_id_missing": ("person_id", "person_id is required for entry/exit events"),
    "confidence_invalid": ("confidence", "confidence is not a number"),
    "confidence_out_of_range": ("confidence", "confidence must be between 0.0 and 1.0"),
    "frame_id_invalid": ("frame_id", "frame_id is not an integer"),
    "detections_invalid": ("detections", "detections is not valid JSON"),
    "too_many_fields": ("row", "row has more fields than the header"),
    "unterminated_quote": ("row", "a quoted field is never closed; the rest of the file is "
                                  "this one record"),
    "invalid_json": ("row", "line is not a JSON object"),
    "text_has_nul": ("row", "text contains a NUL character (U+0000), which cannot be stored"),
    "ha_not_state_changed": (
        "row", "not a Home Assistant state_changed event or its data object"),
    "ha_entity_id_invalid": (
        "entity_id",
        "entity_id is missing, not text, over 128 characters or not domain.name"),
    "ha_state_invalid": (
        "new_state",
        "old_state/new_state is not an object with a text state and an attributes object, "
        "or both are missing"),
}


def reason_field(code: str) -> str:
    """The field a reason concerns."""
    return REASONS.get(code, ("row", ""))[0]


def reason_message(code: str) -> str:
    """A human sentence for a reason code."""
    return REASONS.get(code, ("row", code))[1]
