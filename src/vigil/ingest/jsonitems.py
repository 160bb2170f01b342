"""JSON events (HTTP bodies, NDJSON lines) validated into staging rows."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow as pa
from pydantic import ValidationError

from vigil.ingest.reasons import REASONS, reason_field, reason_message
from vigil.ingest.staging import staged_from_rows
from vigil.model import EventIn, RejectedItem

_ERROR_SUFFIX = {
    "missing": "missing",
    "less_than_equal": "out_of_range",
    "greater_than_equal": "out_of_range",
    "string_pattern_mismatch": "invalid",
    "string_too_long": "too_long",
}
_FIELD_NAMES = {"subject_id": "person_id"}


class PayloadError(ValueError):
    """A request body that is neither JSON nor NDJSON."""


def parse_payload(body: bytes) -> list[tuple[int, Any]]:
    """Items of a body holding one event, a JSON array, or NDJSON; ``(index, item)`` pairs.

    NDJSON lines that are not JSON come back as ``(index, PayloadError)``.
    """
    text = body.decode("utf-8-sig", errors="strict").strip()
    if not text:
        raise PayloadError("the request body is empty")
    try:
        whole = _loads(text)
    except json.JSONDecodeError as exc:
        items = list(_ndjson_items(text.splitlines()))
        if all(isinstance(item, PayloadError) for item in items):
            raise PayloadError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
        return list(enumerate(items))
    return list(enumerate(whole if isinstance(whole, list) else [whole]))


def _loads(text: str) -> Any:
    """Parse JSON quickly; what the fast parser refuses (huge integers, NaN) gets the
    standard library's verdict."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def parse_json_line(line: str) -> Any:
    """One NDJSON line: its value, or a :class:`PayloadError` saying why it is not JSON."""
    try:
        return _loads(line)
    except json.JSONDecodeError as exc:
        return PayloadError(f"not JSON: {exc.msg} at column {exc.colno}")


def _ndjson_items(lines: Iterable[str]) -> Iterable[Any]:
    return (parse_json_line(line) for line in lines if line.strip())


def validate_items(items: list[tuple[int, Any]]) -> tuple[pa.Table, list[RejectedItem]]:
    """Staging rows of the valid items, and a rejection for each invalid one."""
    rows: list[dict[str, Any]] = []
    rejected: list[RejectedItem] = []
    may_hold_nul = _any_nul(items)
    for ref, item in items:
        if isinstance(item, PayloadError):
            rejected.append(RejectedItem(index=ref, field="row", reason="invalid_json",
                                         message=str(item)))
            continue
        if not isinstance(item, dict):
            rejected.append(RejectedItem(index=ref, field="row", reason="invalid_json",
                                         message=reason_message("invalid_json")))
            continue
        try:
            event = EventIn.model_validate(item)
        except ValidationError as exc:
            rejected.append(_rejection(ref, exc))
            continue
        row = event.staged_row()
        field = field_with_nul(row) if may_hold_nul else None
        if field is not None:
            rejected.append(RejectedItem(index=ref, field=field, reason="text_has_nul",
                                         message=f"{field}: {reason_message('text_has_nul')}"))
            continue
        row["row_ref"] = ref
        rows.append(row)
    return staged_from_rows(rows), rejected


def _any_nul(items: list[tuple[int, Any]]) -> bool:
    """Whether any item holds a NUL character anywhere: one fast serialisation of them all
    (orjson writes NUL as ``\\u0000``) instead of a walk through every field of every item."""
    values = [item for _, item in items if isinstance(item, dict)]
    try:
        return b"\\u0000" in orjson.dumps(values)
    except (TypeError, orjson.JSONEncodeError):  # not plain JSON values: look at each field
        return True


def field_with_nul(row: dict[str, Any]) -> str | None:
    """The first field whose text holds a NUL character (raw, or escaped inside JSON text),
    which no store can keep as text; ``None`` when there is none."""
    for key, value in row.items():
        values = value if isinstance(value, list) else [value]
        marker = "\\u0000" if key in JSON_TEXT_FIELDS else "\x00"
        if any(isinstance(v, str) and marker in v for v in values):
            return key
    return None


JSON_TEXT_FIELDS = ("detections", "attributes")  # canonical JSON text: NUL appears escaped


def _rejection(ref: int, exc: ValidationError) -> RejectedItem:
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] in REASONS:  # a rule of the model that names its own reason
        return RejectedItem(index=ref, field=reason_field(error["type"]), reason=error["type"],
                            message=message)
    field = _FIELD_NAMES.get(loc[0], loc[0]) if loc else "row"
    code = f"{field}_{_ERROR_SUFFIX.get(error['type'], 'invalid')}"
    where = ".".join(loc) if loc else "event"
    if code in REASONS:
        message = f"{message} ({reason_message(code)})"
    return RejectedItem(index=ref, field=field, reason=code, message=f"{where}: {message}")
