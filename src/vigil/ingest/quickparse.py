"""Timestamps of the common shapes parsed in Python, exactly as the SQL rules would.

Small HTTP batches would spend most of their time compiling the vectorised SQL of
:mod:`vigil.timeparse`; for them :func:`quick_timestamp` handles the everyday shapes
(ISO 8601 with ``Z`` or an offset and at most microseconds; unix seconds or milliseconds;
zone-less ISO 8601 with a stated zone) and answers ``None`` for anything else, in which case
the caller uses the SQL path. A property test holds both paths to the same answers.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from vigil.timeparse import EPOCH, NUMERIC, UNIX_MS_LIMIT, UNIX_MS_THRESHOLD

UTC = dt.UTC
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([01][0-9]|2[0-3]):([0-5][0-9])"
    r"(?::([0-5][0-9])(?:\.([0-9]{1,6}))?)?)?([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_NUMBER = re.compile(NUMERIC)


def quick_timestamp(text: str, timezone: str | None) -> tuple[dt.datetime, str] | None:
    """``(UTC datetime, format name)`` for a common, valid timestamp; ``None`` otherwise."""
    if _NUMBER.fullmatch(text):
        return _from_number(text)
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    zone_text = match.group(8)
    if match.group(4) is None or (zone_text is None and timezone is None):
        return None
    try:
        local = _wall_time(match)
        if zone_text is None:
            assert timezone is not None
            return _localize(local, ZoneInfo(timezone)), "iso8601_naive"
        return local.replace(tzinfo=_offset(zone_text)).astimezone(UTC), "iso8601"
    except (ValueError, OverflowError):  # impossible dates, offsets of a day or more
        return None


def _from_number(text: str) -> tuple[dt.datetime, str] | None:
    value = float(text)
    if abs(value) >= UNIX_MS_LIMIT:
        return None
    if abs(value) >= UNIX_MS_THRESHOLD:
        seconds, name = value / 1000, "unix_ms"
    else:
        seconds, name = value, "unix_s"
    try:
        return EPOCH + dt.timedelta(microseconds=round(seconds * 1_000_000)), name
    except OverflowError:
        return None


def _wall_time(match: re.Match[str]) -> dt.datetime:
    year, month, day, hour, minute, second, fraction = match.groups()[:7]
    micro = int((fraction or "0").ljust(6, "0"))
    return dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                       int(second or 0), micro)


def _offset(text: str) -> dt.timezone:
    if text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def _localize(local: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A wall time in ``zone`` as UTC: a time in a gap moves forward by the gap, a repeated
    time takes the later offset (DuckDB's ICU rules)."""
    early = local.replace(tzinfo=zone, fold=0)
    late = local.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early.astimezone(UTC)
    exists = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local
    return (late if exists else early).astimezone(UTC)
