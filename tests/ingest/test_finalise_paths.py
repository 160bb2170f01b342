"""The quick (Python) and SQL finalising paths agree on every input the quick path takes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.ingest.finalise import finalise
from vigil.ingest.finalise_quick import finalise_quick
from vigil.ingest.quickparse import quick_timestamp
from vigil.ingest.staging import staged_from_rows

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _row(timestamp: str, **extra: Any) -> dict[str, Any]:
    base = {"row_ref": 0, "source_id": "cam", "event_type": "detection",
            "timestamp": timestamp, "labels": ["person"]}
    return {**base, **extra}


def _both(rows: list[dict[str, Any]], zone: str | None) -> tuple[Any, Any]:
    staged = staged_from_rows(rows)
    return (finalise_quick(staged, zone),
            finalise({"staged": staged}, timezone=zone, allow_quick=False))


def _render_offset(offset_minutes: int, style: str) -> str:
    if offset_minutes == 0 and style == "Z":
        return "Z"
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    if style == "colon":
        return f"{sign}{hours:02d}:{minutes:02d}"
    if style == "compact":
        return f"{sign}{hours:02d}{minutes:02d}"
    return f"{sign}{hours:02d}:{minutes:02d}"


aware_iso = st.builds(
    lambda moment, offset, style, sep, digits: (
        (moment + dt.timedelta(minutes=offset)).strftime(f"%Y-%m-%d{sep}%H:%M:%S")
        + ("." + f"{moment.microsecond:06d}"[:digits] if digits else "")
        + _render_offset(offset, style)
    ),
    st.datetimes(min_value=dt.datetime(1991, 1, 1), max_value=dt.datetime(2098, 12, 31)),
    st.integers(-14 * 60, 14 * 60).map(lambda m: m - m % 15),
    st.sampled_from(["Z", "colon", "compact"]),
    st.sampled_from(["T", " ", "t"]),
    st.integers(0, 6),
)
unix_values = st.one_of(
    st.integers(631152000, 4102444799).map(str),
    st.integers(631152000000, 4102444799999).map(str),
    st.floats(631152000, 4102444799, allow_nan=False).map(lambda f: f"{f:.6f}"),
    st.floats(631152000, 4102444799, allow_nan=False).map(repr),
)
naive_near_dst = st.builds(
    lambda day, minutes: (dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes))
    .strftime("%Y-%m-%dT%H:%M:%S"),
    st.sampled_from([dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2026, 3, 8),
                     dt.date(2026, 11, 1), dt.date(2026, 4, 5), dt.date(2026, 10, 4),
                     dt.date(2026, 6, 1)]),
    st.integers(0, 24 * 60 - 1),
)


def _assert_quick_matches_sql(text: str, zone: str | None) -> None:
    quick, sql = _both([_row(text)], zone)
    assert quick is not None, text
    assert quick.events.column("ts").to_pylist() == sql.events.column("ts").to_pylist(), \
        (text, zone)
    assert quick.formats == sql.formats


@SETTINGS
@given(aware_iso)
def test_iso_with_offset_agrees(text: str) -> None:
    _assert_quick_matches_sql(text, None)


@SETTINGS
@given(unix_values)
def test_unix_values_agree(text: str) -> None:
    _assert_quick_matches_sql(text, None)


@SETTINGS
@given(naive_near_dst, st.sampled_from(ZONES))
def test_naive_local_times_agree_around_dst(text: str, zone: str) -> None:
    _assert_quick_matches_sql(text, zone)


# Text shaped like timestamps, valid or not (month 13, hour 29, offset +99, 9 digits...).
timestamp_like = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}"
                  r"(\.[0-9]{1,9})?)?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?", fullmatch=True),
    st.from_regex(r"[+-]?[0-9]{1,17}(\.[0-9]{1,8})?", fullmatch=True),
)


@SETTINGS
@given(timestamp_like, st.sampled_from([None, *ZONES]))
def test_any_text_either_defers_or_agrees(text: str, zone: str | None) -> None:
    if quick_timestamp(text, zone) is None:
        return
    quick, sql = _both([_row(text)], zone)
    assert quick is not None
    assert quick.events.column("ts").to_pylist() == sql.events.column("ts").to_pylist()
    assert quick.rejected == sql.rejected


@SETTINGS
@given(
    st.lists(st.fixed_dictionaries({
        "timestamp": st.integers(631152000, 4102444799).map(str),
        "source_id": st.sampled_from(["a", "b", "çam"]),
        "labels": st.lists(st.sampled_from(["person", "car", "dog"]), unique=True),
        "confidence": st.one_of(st.none(), st.floats(0, 1)),
        "frame_id": st.one_of(st.none(), st.integers(0, 10**12)),
        "subject_id": st.one_of(st.none(), st.text(max_size=5)),
        "zone": st.one_of(st.none(), st.text(max_size=5)),
        "attributes": st.one_of(st.none(), st.just('{"age_group":"25-34"}')),
    }), min_size=1, max_size=8),
)
def test_derived_ids_and_stats_agree(rows: list[dict[str, Any]]) -> None:
    prepared = [_row(**{**r, "labels": sorted(r["labels"])}) | {"row_ref": i}
                for i, r in enumerate(rows)]
    quick, sql = _both(prepared, None)
    assert quick is not None
    assert quick.events.column("event_id").to_pylist() == \
        sql.events.column("event_id").to_pylist()
    assert quick.per_source == sql.per_source
    assert (quick.first_ts, quick.last_ts) == (sql.first_ts, sql.last_ts)


def test_out_of_range_is_rejected_by_both_paths() -> None:
    quick, sql = _both([_row("0"), _row("2100-01-01T00:00:00Z") | {"row_ref": 1}], None)
    assert quick is not None
    assert quick.rejected == sql.rejected == [(0, "timestamp_out_of_range"),
                                              (1, "timestamp_out_of_range")]


def test_shapes_outside_the_quick_path_defer_to_sql() -> None:
    for text in ["2024-01-01T10:00:00.1234567Z", "2024-01-01T24:00:00Z", "2024-01-01Z",
                 "2024-01-01T10:00:00 Z", "21/11/2026", "2024-01-01"]:
        assert quick_timestamp(text, "Europe/Berlin" if "Z" not in text else None) is None, text
