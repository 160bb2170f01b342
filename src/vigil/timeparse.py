"""Timestamp formats accepted at ingest, as vectorised SQL over a column of text.

One definition serves every path (files and HTTP): ISO 8601 with ``Z`` or an offset; unix
seconds or milliseconds, decided per value (``|v| >= 1e11`` means milliseconds); zone-less
ISO 8601 or a custom strftime format, both only when a time zone is stated. Values are
returned as UTC ``TIMESTAMPTZ``; zone-less local times are resolved like DuckDB's ICU does
(a non-existent time moves forward by the gap, an ambiguous one takes the later offset).
"""

from __future__ import annotations

import datetime as dt

from vigil.config import check_timezone

ISO_ZONED = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)"
)
ISO_NAIVE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
NUMERIC = r"[+-]?[0-9]{1,16}(\.[0-9]+)?"
UNIX_MS_THRESHOLD = 1e11
UNIX_MS_LIMIT = 1e15  # larger millisecond values are far outside any valid range
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)  # valid timestamps: EARLIEST <= ts < LATEST
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)

FORMATS = ("iso8601", "iso8601_naive", "unix_s", "unix_ms", "custom", "unknown")


def sql_literal(text: str) -> str:
    """``text`` as a quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def format_sql(col: str, custom_format: str | None) -> str:
    """SQL naming the format of each value of text column ``col`` (see ``FORMATS``)."""
    custom = ""
    if custom_format:
        parsed = f"try_strptime({col}, {sql_literal(custom_format)})"
        custom = f"WHEN {parsed} IS NOT NULL THEN 'custom' "
    return (
        f"CASE WHEN {col} IS NULL THEN NULL {custom}"
        f"WHEN regexp_full_match({col}, {sql_literal(ISO_ZONED)}) THEN 'iso8601' "
        f"WHEN regexp_full_match({col}, {sql_literal(ISO_NAIVE)}) THEN 'iso8601_naive' "
        f"WHEN regexp_full_match({col}, {sql_literal(NUMERIC)}) THEN "
        f"CASE WHEN abs(CAST({col} AS DOUBLE)) >= {UNIX_MS_THRESHOLD} THEN 'unix_ms' "
        "ELSE 'unix_s' END "
        "ELSE 'unknown' END"
    )


def parse_sql(col: str, fmt_col: str, custom_format: str | None, timezone: str | None) -> str:
    """SQL giving the UTC ``TIMESTAMPTZ`` of ``col`` or NULL; ``fmt_col`` holds its format."""
    zone = sql_literal(check_timezone(timezone)) if timezone else None
    naive_iso = f"timezone({zone}, try_cast(upper({col}) AS TIMESTAMP))" if zone \
        else "NULL"
    custom = "NULL"
    if custom_format:
        parsed = f"try_strptime({col}, {sql_literal(custom_format)})"
        if _format_has_zone(custom_format):
            custom = parsed
        elif zone:
            custom = f"timezone({zone}, {parsed})"
    return (
        f"CASE {fmt_col} "
        f"WHEN 'iso8601' THEN try_cast(upper({col}) AS TIMESTAMPTZ) "
        f"WHEN 'iso8601_naive' THEN {naive_iso} "
        f"WHEN 'unix_s' THEN to_timestamp(CAST({col} AS DOUBLE)) "
        f"WHEN 'unix_ms' THEN CASE WHEN abs(CAST({col} AS DOUBLE)) < {UNIX_MS_LIMIT} "
        f"THEN to_timestamp(CAST({col} AS DOUBLE) / 1000) END "
        f"WHEN 'custom' THEN CAST({custom} AS TIMESTAMPTZ) "
        "ELSE NULL END"
    )


def reason_sql(ts_col: str, fmt_col: str, custom_format: str | None,
               timezone: str | None) -> str:
    """SQL naming why a timestamp was rejected (NULL when it is fine)."""
    naive_custom = bool(custom_format) and not _format_has_zone(custom_format or "")
    no_zone_formats = ["'iso8601_naive'"] + (["'custom'"] if naive_custom else [])
    no_zone = "FALSE" if timezone else f"{fmt_col} IN ({', '.join(no_zone_formats)})"
    return (
        f"CASE WHEN {fmt_col} IS NULL THEN 'timestamp_missing' "
        f"WHEN {no_zone} THEN 'timestamp_no_zone' "
        f"WHEN {fmt_col} = 'unix_ms' AND {ts_col} IS NULL THEN 'timestamp_out_of_range' "
        f"WHEN {fmt_col} = 'unknown' OR {ts_col} IS NULL THEN 'timestamp_invalid' "
        f"WHEN {ts_col} < TIMESTAMPTZ '{EARLIEST.isoformat()}' "
        f"OR {ts_col} >= TIMESTAMPTZ '{LATEST.isoformat()}' "
        "THEN 'timestamp_out_of_range' "
        "ELSE NULL END"
    )


def _format_has_zone(custom_format: str) -> bool:
    return "%z" in custom_format or "%Z" in custom_format
