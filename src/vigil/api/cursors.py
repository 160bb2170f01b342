"""Opaque page cursors: a (time, id) pair as URL-safe base64 of a JSON array."""

from __future__ import annotations

import base64
import datetime as dt
import json

from vigil.api.errors import ApiError


def encode_cursor(at: dt.datetime, key: str) -> str:
    """The cursor of the row at ``(at, key)``."""
    raw = json.dumps([at.isoformat(), key]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(text: str | None, field: str, hint: str = "",
                  need_zone: bool = False) -> tuple[dt.datetime, str] | None:
    """The ``(time, id)`` of a cursor this server issued (``None`` for none); anything else is
    a 422 naming ``field``. ``need_zone``: the time must carry its zone."""
    if not text:
        return None
    try:
        at_text, key = json.loads(base64.urlsafe_b64decode(text.encode()))
        at = dt.datetime.fromisoformat(at_text)
        if (need_zone and at.tzinfo is None) or not isinstance(key, str | int):
            raise ValueError("not a (time, id) pair")
    except (ValueError, TypeError) as exc:
        raise ApiError(422, f"{field} is not a cursor this server issued{hint}", field) from exc
    return at, str(key)
