"""JSON output of the CLI: datetimes as ISO 8601 in UTC with ``Z``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any


def _default(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def to_json(value: Any) -> str:
    """``value`` as indented JSON."""
    return json.dumps(value, indent=2, default=_default)
