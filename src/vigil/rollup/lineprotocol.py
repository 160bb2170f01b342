"""InfluxDB line protocol and InfluxQL quoting, as InfluxDB 1.x parses them.

Line protocol escapes a few characters with a backslash, differently per element:
measurement names escape comma and space; tag keys and values comma, space and ``=``; field
keys comma, space, ``=`` and ``"``; string field values ``"`` and the backslash itself.
A backslash is *not* escaped in names, so a backslash right before one of those characters
(or at the end of a name) cannot be written faithfully: :func:`check_name` refuses such
names, and control characters, and a measurement starting with ``#`` (a comment line).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

__all__ = [
    "FieldValue",
    "LineProtocolError",
    "check_name",
    "escape_field_key",
    "escape_measurement",
    "escape_tag",
    "format_field_value",
    "line",
    "quote_ident",
    "quote_literal",
    "quote_string",
]

FieldValue = bool | int | float | str

_MEASUREMENT_SPECIAL = re.compile(r"([, ])")
_TAG_SPECIAL = re.compile(r"([, =])")
_FIELD_KEY_SPECIAL = re.compile(r'([, ="])')
_BAD_BACKSLASH = re.compile(r'\\(?:[\\ ,="]|$)')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class LineProtocolError(ValueError):
    """A name or value that line protocol cannot carry faithfully."""


def check_name(text: str, what: str, *, measurement: bool = False) -> str:
    """``text`` if it can be a measurement, tag or field key; else LineProtocolError."""
    if not text:
        raise LineProtocolError(f"{what} must not be empty")
    if _CONTROL.search(text):
        raise LineProtocolError(f"{what} {text!r} contains a control character")
    if _SURROGATE.search(text):
        raise LineProtocolError(f"{what} {text!r} is not valid Unicode text")
    if _BAD_BACKSLASH.search(text):
        raise LineProtocolError(f"{what} {text!r}: a backslash may not end it or precede "
                                "a backslash, space, comma, '=' or '\"'")
    if measurement and text.startswith("#"):
        raise LineProtocolError(f"{what} {text!r} must not start with '#'")
    return text


def escape_measurement(name: str) -> str:
    """A measurement name for line protocol."""
    return _MEASUREMENT_SPECIAL.sub(r"\\\1", name)


def escape_tag(text: str) -> str:
    """A tag key or tag value for line protocol."""
    return _TAG_SPECIAL.sub(r"\\\1", text)


def escape_field_key(text: str) -> str:
    """A field key for line protocol."""
    return _FIELD_KEY_SPECIAL.sub(r"\\\1", text)


def quote_string(value: str) -> str:
    """A string field value: double quotes, with ``\\`` and ``"`` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_field_value(value: FieldValue) -> str:
    """A field value: booleans as ``true``/``false``, every number as a float (so a field
    never changes type between points), strings quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise LineProtocolError(f"{value!r} is not a finite number")
        return repr(number)
    return quote_string(value)


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue],
         seconds: int) -> str:
    """One point: ``measurement,tag=v field=v seconds`` (names must pass check_name)."""
    key = escape_measurement(measurement) + "".join(
        f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items()))
    body = ",".join(f"{escape_field_key(k)}={format_field_value(v)}" for k, v in fields.items())
    return f"{key} {body} {seconds}"


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + _influxql_escape(name).replace('"', '\\"') + '"'


def quote_literal(value: str) -> str:
    """An InfluxQL string literal in single quotes."""
    return "'" + _influxql_escape(value).replace("'", "\\'") + "'"


def _influxql_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
