"""Request values checked the same way by every router."""

from __future__ import annotations

from vigil.api.errors import ApiError
from vigil.config import check_timezone


def checked_zone(timezone: str | None) -> str | None:
    """``timezone`` if it is a known IANA zone (or absent); else a 422 naming ``timezone``."""
    if not timezone:
        return None
    try:
        return check_timezone(timezone)
    except ValueError as exc:
        raise ApiError(422, str(exc), "timezone") from exc
