"""Line protocol and InfluxQL quoting, checked against reference decoders written from
InfluxDB 1.x's parser rules (the real-server round trip is in test_aggregate_stores.py)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.rollup.lineprotocol import (
    LineProtocolError,
    check_name,
    escape_field_key,
    escape_measurement,
    escape_tag,
    format_field_value,
    line,
    quote_ident,
    quote_literal,
    quote_string,
)

# Any text, weighted towards the characters line protocol treats specially.
TEXT = st.text(st.one_of(st.sampled_from(list('\\ ,="\'#\n\t')), st.characters()),
               max_size=20)


def unescape(escaped: str, specials: str) -> str:
    """What InfluxDB reads from a name: a backslash before a special character drops."""
    return re.sub(r"\\([" + re.escape(specials) + "])", r"\1", escaped)


def unescaped_special(escaped: str, specials: str) -> bool:
    """Whether a special character appears without a backslash right before it (the
    parser's rule for where a name ends)."""
    return any(ch in specials and (i == 0 or escaped[i - 1] != "\\")
               for i, ch in enumerate(escaped))


def unquote_influxql(quoted: str, quote: str) -> str:
    """InfluxQL's string/identifier scanner: ``\\n``, ``\\\\``, ``\\"`` and ``\\'``."""
    assert quoted[0] == quote and quoted[-1] == quote
    body, out, i = quoted[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            out.append({"n": "\n", "\\": "\\", '"': '"', "'": "'"}[body[i + 1]])
            i += 2
        else:
            assert body[i] != quote, "an unescaped quote would end the token"
            out.append(body[i])
            i += 1
    return "".join(out)


def acceptable(text: str) -> bool:
    """The names check_name should take: no control character or lone surrogate, no
    backslash that the parser would read as an escape or that ends the name."""
    return (bool(text) and not re.search("[\x00-\x1f\x7f\ud800-\udfff]", text)
            and not re.search(r'\\([\\ ,="]|$)', text))


@settings(max_examples=2000)
@given(TEXT)
def test_check_name_accepts_exactly_the_faithful_names(text: str) -> None:
    if acceptable(text):
        assert check_name(text, "name") == text
    else:
        with pytest.raises(LineProtocolError):
            check_name(text, "name")


@settings(max_examples=2000)
@given(TEXT)
def test_escaped_names_split_only_where_meant_and_decode_back(text: str) -> None:
    if not acceptable(text):
        return
    for escape, specials in ((escape_measurement, ", "), (escape_tag, ", ="),
                             (escape_field_key, ', ="')):
        escaped = escape(text)
        assert not unescaped_special(escaped, specials)
        assert unescape(escaped, specials) == text


@settings(max_examples=1000)
@given(st.text())
def test_string_values_round_trip(value: str) -> None:
    quoted = quote_string(value)
    assert quoted[0] == quoted[-1] == '"'
    decoded = re.sub(r'\\([\\"])', r"\1", quoted[1:-1])
    assert decoded == value
    assert not re.search(r'(?<!\\)(\\\\)*"', quoted[1:-1]), "a quote would end the value"


@settings(max_examples=1000)
@given(st.text())
def test_influxql_quoting_round_trips(text: str) -> None:
    assert unquote_influxql(quote_ident(text), '"') == text
    assert unquote_influxql(quote_literal(text), "'") == text


@given(st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=False,
                                                          allow_infinity=False)))
def test_numbers_are_written_as_floats_that_parse_back(value: float) -> None:
    written = format_field_value(value)
    assert not written.endswith("i")
    assert float(written) == float(value)


def test_field_value_kinds() -> None:
    assert format_field_value(True) == "true"
    assert format_field_value(False) == "false"
    assert format_field_value(3) == "3.0"
    assert format_field_value('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    for bad in (math.nan, math.inf):
        with pytest.raises(LineProtocolError):
            format_field_value(bad)


def test_a_whole_line() -> None:
    text = line("hourly counts", {"layer": "daily", "entity": "cam,1=a b"},
                {"n": 5, "hist__json": "[1,2]", "ok": True}, 86_400)
    assert text == ('hourly\\ counts,entity=cam\\,1\\=a\\ b,layer=daily '
                    'n=5.0,hist__json="[1,2]",ok=true 86400')


def test_names_line_protocol_cannot_carry_are_refused() -> None:
    for bad in ("", "a\\", "a\\,b", "a\\ b", "a\\=b", 'a\\"b', "a\\\\b", "new\nline", "\t"):
        with pytest.raises(LineProtocolError):
            check_name(bad, "name")
    with pytest.raises(LineProtocolError, match="'#'"):
        check_name("#comment", "detector", measurement=True)
    assert check_name("#fine-as-a-tag", "entity") == "#fine-as-a-tag"
    assert check_name("a\\b ü 😀 'q' \"d\" =,", "entity") == "a\\b ü 😀 'q' \"d\" =,"
