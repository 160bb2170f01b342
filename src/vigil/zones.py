"""IANA time-zone names, checked with the standard library only (no settings machinery)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["check_timezone"]


def check_timezone(name: str) -> str:
    """Return ``name`` if it is a known IANA zone, else raise ``ValueError``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name
