"""Property tests of timestamp parsing (:mod:`vigil.timeparse`) through the finalising step.

Every rendering of an instant that the rules accept must come back as that instant (to the
precision of the rendering); zone-less local times must follow zoneinfo, with the DST rule
the module docstring states; and no input text may make the step raise.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.ingest.finalise import finalise
from vigil.ingest.payload import ingest_payload
from vigil.ingest.staging import staged_from_rows
from vigil.timeparse import ISO_NAIVE, ISO_ZONED, NUMERIC

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney")
US = dt.timedelta(microseconds=1)
SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

Parsed = tuple[dict[int, dt.datetime], dict[int, str], dict[str, int]]


def parse_all(texts: list[str], timezone: str | None = None,
              custom_format: str | None = None) -> Parsed:
    """Finalise one row per text; returns (row -> ts, row -> reason, format counts).

    Small batches may take the pure-Python path; both paths run and must agree.
    """
    rows = [
        {"row_ref": i, "event_id": f"e{i}", "source_id": "cam", "event_type": "motion",
         "timestamp": text, "labels": []}
        for i, text in enumerate(texts)
    ]
    answers = []
    for allow_quick in (True, False):
        result = finalise({"staged": staged_from_rows(rows)}, timezone=timezone,
                          custom_format=custom_format, allow_quick=allow_quick)
        ids = [int(e[1:]) for e in result.events.column("event_id").to_pylist()]
        stamps = result.events.column("ts").to_pylist()
        answers.append((dict(zip(ids, stamps, strict=True)), dict(result.rejected),
                        result.formats))
    assert answers[0] == answers[1], texts  # the quick path answers like the SQL path
    return answers[1]


def as_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(UTC)


# -- zoned ISO 8601 and unix numbers -----------------------------------------------------------
instants = st.datetimes(
    min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2099, 12, 31, 23, 59, 59, 999999)
).map(lambda d: d.replace(tzinfo=UTC))
PRECISIONS = {"minutes": dt.timedelta(minutes=1), "seconds": dt.timedelta(seconds=1),
              "millis": dt.timedelta(milliseconds=1), "micros": US}


def truncate(instant: dt.datetime, step: dt.timedelta) -> dt.datetime:
    return instant - (instant - EPOCH) % step


@st.composite
def iso_renderings(draw: st.DrawFn) -> tuple[str, dt.datetime]:
    """An ISO 8601 text with ``Z`` or an offset, and the instant it names."""
    precision = draw(st.sampled_from(sorted(PRECISIONS)))
    instant = truncate(draw(instants), PRECISIONS[precision])
    offset_minutes = draw(st.one_of(st.none(), st.integers(-14 * 60, 14 * 60)))
    local = instant + dt.timedelta(minutes=offset_minutes or 0)
    clock = {
        "minutes": local.strftime("%H:%M"),
        "seconds": local.strftime("%H:%M:%S"),
        "millis": local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}",
        "micros": local.strftime("%H:%M:%S.%f"),
    }[precision]
    if offset_minutes is None:
        zone = draw(st.sampled_from(["Z", "z", "+00:00", "-0000", "+00"]))
    else:
        sign = "+" if offset_minutes >= 0 else "-"
        hours, minutes = divmod(abs(offset_minutes), 60)
        style = draw(st.sampled_from(["colon", "compact", "hours"]))
        if style == "hours" and minutes == 0:
            zone = f"{sign}{hours:02d}"
        elif style == "compact":
            zone = f"{sign}{hours:02d}{minutes:02d}"
        else:
            zone = f"{sign}{hours:02d}:{minutes:02d}"
    sep = draw(st.sampled_from(["T", " ", "t"]))
    return f"{local:%Y-%m-%d}{sep}{clock}{zone}", instant


@SETTINGS
@given(st.lists(iso_renderings(), min_size=1, max_size=25))
def test_zoned_iso_gives_the_instant(cases: list[tuple[str, dt.datetime]]) -> None:
    stamps, rejected, formats = parse_all([text for text, _ in cases])
    assert rejected == {}
    assert formats == {"iso8601": len(cases)}
    for i, (text, instant) in enumerate(cases):
        assert stamps[i] == instant, text


@st.composite
def unix_renderings(draw: st.DrawFn) -> tuple[str, dt.datetime, str]:
    """A unix seconds (int or decimal) or milliseconds text, its instant and its format."""
    instant = draw(instants)
    micros = (instant - EPOCH) // US
    kind = draw(st.sampled_from(["s_int", "s_decimal", "ms_int"]))
    if kind == "s_int":
        seconds = micros // 1_000_000
        return str(seconds), EPOCH + dt.timedelta(seconds=seconds), "unix_s"
    if kind == "ms_int":
        millis = micros // 1000
        return str(millis), EPOCH + dt.timedelta(milliseconds=millis), "unix_ms"
    digits = draw(st.integers(1, 6))
    seconds, fraction = divmod(micros, 1_000_000)
    kept = f"{fraction:06d}"[:digits]
    expected = EPOCH + dt.timedelta(seconds=seconds, microseconds=int(kept.ljust(6, "0")))
    return f"{seconds}.{kept}", expected, "unix_s"


@SETTINGS
@given(st.lists(unix_renderings(), min_size=1, max_size=25))
def test_unix_numbers_give_the_instant(cases: list[tuple[str, dt.datetime, str]]) -> None:
    stamps, rejected, formats = parse_all([text for text, _, _ in cases])
    assert rejected == {}
    expected_formats: dict[str, int] = {}
    for _, _, fmt in cases:
        expected_formats[fmt] = expected_formats.get(fmt, 0) + 1
    assert formats == expected_formats
    for i, (text, instant, _) in enumerate(cases):
        assert stamps[i] == instant, text


@settings(max_examples=30, deadline=None, database=None)
@given(st.lists(instants.map(lambda d: truncate(d, dt.timedelta(milliseconds=1))),
                min_size=1, max_size=10, unique=True))
def test_json_numbers_through_the_payload_path(stamps: list[dt.datetime]) -> None:
    """JSON numbers (int seconds, float seconds, int ms) arrive as the same instants."""
    stored: list[dt.datetime] = []

    def insert(batch: pa.Table) -> int:
        stored.extend(batch.column("ts").to_pylist())
        return int(batch.num_rows)

    items = []
    for i, instant in enumerate(stamps):
        millis = (instant - EPOCH) // dt.timedelta(milliseconds=1)
        number: float = [millis // 1000, millis / 1000, millis][i % 3]
        items.append({"camera_id": "cam", "event_type": "motion", "timestamp": number})
    result = ingest_payload(json.dumps(items).encode(), insert)
    assert (result.accepted, result.rejected) == (len(stamps), 0)
    expected = []
    for i, instant in enumerate(stamps):
        whole = truncate(instant, dt.timedelta(seconds=1))
        expected.append(whole if i % 3 == 0 else instant)
    assert sorted(stored) == sorted(expected)


# -- zone-less local times ---------------------------------------------------------------------
@cache
def transitions(zone_name: str) -> tuple[dt.datetime, ...]:
    """UTC instants (to the quarter hour) where the zone's offset changes, 1990..2099."""
    zone = ZoneInfo(zone_name)
    found = []
    day = dt.timedelta(days=1)
    at = dt.datetime(1990, 1, 2, tzinfo=UTC)
    previous = at.astimezone(zone).utcoffset()
    while at < dt.datetime(2099, 12, 30, tzinfo=UTC):
        nxt = at + day
        offset = nxt.astimezone(zone).utcoffset()
        if offset != previous:
            low, high = at, nxt  # offset(low) == previous, offset(high) == offset
            while high - low > dt.timedelta(minutes=15):
                mid = truncate(low + (high - low) / 2, dt.timedelta(minutes=15))
                if mid.astimezone(zone).utcoffset() == previous:
                    low = mid
                else:
                    high = mid
            found.append(high)
            previous = offset
        at = nxt
    return tuple(found)


def resolve_local(naive: dt.datetime, zone_name: str) -> dt.datetime:
    """The instant of a wall-clock time by the rule of :mod:`vigil.timeparse`.

    A time that exists once is read with its offset. In a gap (clocks go forward) the time
    "moves forward by the gap": the wall time plus the gap, read with the offset after the
    change. In a fold (clocks go back) the ambiguous time "takes the later offset", the one
    in force after the change.
    """
    zone = ZoneInfo(zone_name)
    offsets = {naive.replace(tzinfo=zone, fold=f).utcoffset() for f in (0, 1)}
    assert all(o is not None for o in offsets)
    if len(offsets) == 1:
        (offset,) = offsets
        return (naive - offset).replace(tzinfo=UTC)  # type: ignore[operator]
    small, large = sorted(offsets)  # type: ignore[type-var]
    exists = as_utc(naive.replace(tzinfo=zone)).astimezone(zone).replace(tzinfo=None) == naive
    if exists:  # a fold: after the change the offset is the smaller one
        return (naive - small).replace(tzinfo=UTC)
    gap = large - small  # a gap: after the change the offset is the larger one
    return (naive + gap - large).replace(tzinfo=UTC)


naive_anywhere = st.datetimes(min_value=dt.datetime(1990, 1, 2),
                              max_value=dt.datetime(2099, 12, 30))


@st.composite
def naive_near_transition(draw: st.DrawFn, zone_name: str) -> dt.datetime:
    changes = transitions(zone_name)
    change = draw(st.sampled_from(changes))
    wall = change.astimezone(ZoneInfo(zone_name)).replace(tzinfo=None)
    seconds = draw(st.integers(-3 * 3600, 3 * 3600))
    return wall + dt.timedelta(seconds=seconds, microseconds=draw(st.integers(0, 999_999)))


def render_naive(naive: dt.datetime, style: str) -> tuple[str, dt.datetime]:
    """A zone-less ISO text of ``naive`` in ``style`` and the wall time it names."""
    if style == "date":
        day = naive.replace(hour=0, minute=0, second=0, microsecond=0)
        return f"{day:%Y-%m-%d}", day
    if style == "minutes":
        shown = naive.replace(second=0, microsecond=0)
        return f"{shown:%Y-%m-%d %H:%M}", shown
    if style == "seconds":
        shown = naive.replace(microsecond=0)
        return shown.isoformat(), shown
    return naive.isoformat(timespec="microseconds"), naive


@st.composite
def local_cases(draw: st.DrawFn) -> tuple[str, list[tuple[str, dt.datetime]]]:
    """A zone, and zone-less texts with the wall time each names (many near DST changes)."""
    zone_name = draw(st.sampled_from(ZONES))
    cases = []
    for _ in range(draw(st.integers(1, 20))):
        naive = draw(st.one_of(naive_anywhere, naive_near_transition(zone_name)))
        style = draw(st.sampled_from(["date", "minutes", "seconds", "micros"]))
        cases.append(render_naive(naive, style))
    return zone_name, cases


@SETTINGS
@given(local_cases())
def test_zoneless_local_times_follow_zoneinfo(
        case: tuple[str, list[tuple[str, dt.datetime]]]) -> None:
    zone_name, cases = case
    texts = [text for text, _ in cases]
    stamps, rejected, formats = parse_all(texts, timezone=zone_name)
    assert rejected == {}
    assert formats == {"iso8601_naive": len(cases)}
    for i, (text, shown) in enumerate(cases):
        assert stamps[i] == resolve_local(shown, zone_name), (zone_name, text)
    stamps, rejected, _ = parse_all(texts)  # without a stated zone: rejected, not guessed
    assert stamps == {}
    assert set(rejected.values()) == {"timestamp_no_zone"}


def test_transitions_were_found() -> None:
    """The DST strategy really samples around changes (two a year in each zone)."""
    for zone_name in ZONES:
        changes = transitions(zone_name)
        assert len(changes) >= 200, zone_name
        assert dt.datetime(2026, 3, 29, 1, tzinfo=UTC) in transitions("Europe/Berlin")


@pytest.mark.parametrize(
    ("zone_name", "text", "expected"),
    [
        # spring forward: the wall time does not exist and moves forward by the gap
        ("Europe/Berlin", "2026-03-29T02:30:00", dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        ("America/New_York", "2026-03-08 02:30", dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),
        ("Australia/Sydney", "2026-10-04T02:30:00", dt.datetime(2026, 10, 3, 16, 30, tzinfo=UTC)),
        # fall back: the wall time exists twice and takes the later offset
        ("Europe/Berlin", "2026-10-25T02:30:00", dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
        ("America/New_York", "2026-11-01T01:30:00", dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
        ("Australia/Sydney", "2026-04-05T02:30:00", dt.datetime(2026, 4, 4, 16, 30, tzinfo=UTC)),
        # just around the changes
        ("Europe/Berlin", "2026-03-29T01:59:59", dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)),
        ("Europe/Berlin", "2026-03-29T03:00:00", dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        ("Europe/Berlin", "2026-10-25T01:59:59", dt.datetime(2026, 10, 24, 23, 59, 59, tzinfo=UTC)),
        ("Europe/Berlin", "2026-10-25T03:00:00", dt.datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
    ],
)
def test_documented_dst_rule(zone_name: str, text: str, expected: dt.datetime) -> None:
    stamps, rejected, _ = parse_all([text], timezone=zone_name)
    assert rejected == {}
    assert stamps[0] == expected
    naive = dt.datetime.fromisoformat(text)
    assert resolve_local(naive, zone_name) == expected  # the oracle agrees with the docstring


# -- garbage -----------------------------------------------------------------------------------
GRAMMARS = [re.compile(p, re.ASCII) for p in (ISO_ZONED, ISO_NAIVE, NUMERIC)]
LOOSE_CUSTOM = re.compile(r"\s*\d{1,2}/\d{1,2}/\d{1,4}\s+\d{1,2}:\d{1,2}", re.ASCII)


def grammatical(text: str) -> bool:
    """Whether ``text`` is in one of the accepted grammars (then acceptance is legitimate)."""
    return any(g.fullmatch(text) for g in GRAMMARS) or bool(LOOSE_CUSTOM.match(text))


@settings(max_examples=100, deadline=None, database=None)
@given(
    texts=st.lists(st.text(max_size=40), min_size=1, max_size=20),
    timezone=st.sampled_from([None, *ZONES]),
    custom_format=st.sampled_from([None, "%d/%m/%Y %H:%M", "%Y%m%d %H%M%S %z"]),
)
def test_garbage_never_raises(texts: list[str], timezone: str | None,
                              custom_format: str | None) -> None:
    stamps, rejected, _ = parse_all(texts, timezone=timezone, custom_format=custom_format)
    assert set(stamps) | set(rejected) == set(range(len(texts)))
    assert not set(stamps) & set(rejected)
    for i, reason in rejected.items():
        assert reason.startswith("timestamp_"), (texts[i], reason)
    for i, stamp in stamps.items():
        assert grammatical(texts[i]), texts[i]
        assert dt.datetime(1990, 1, 1, tzinfo=UTC) <= stamp < dt.datetime(2100, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00-2400",
                                  "2026-01-01T12:00:00+23:60", "2026-01-01T12:00:00+99"])
def test_offsets_of_a_day_or_more_do_not_raise(text: str) -> None:
    """Not a real UTC offset: whatever the verdict, it is a verdict on the row, the same on
    both finalising paths, and never an exception."""
    stamps, rejected, _ = parse_all([text, "2026-01-01T00:00:00Z"])
    assert stamps[1] == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert (0 in stamps) != (0 in rejected)
    if 0 in rejected:
        assert rejected[0].startswith("timestamp_")


@pytest.mark.parametrize("text", ["9999999999999999", "-9999999999999999", "9300000000000000",
                                  "1e400", "99999999999999.5"])
def test_huge_numbers_are_rejected_not_raised(text: str) -> None:
    """Numbers that are far out of range are a rejected row, like any other bad timestamp."""
    stamps, rejected, _ = parse_all([text, "2026-01-01T00:00:00Z"])
    assert stamps == {1: dt.datetime(2026, 1, 1, tzinfo=UTC)}
    assert rejected[0] in ("timestamp_out_of_range", "timestamp_invalid")


def test_huge_number_in_a_payload_is_rejected_not_raised() -> None:
    body = json.dumps([
        {"camera_id": "cam", "event_type": "motion", "timestamp": 9999999999999999},
        {"camera_id": "cam", "event_type": "motion", "timestamp": "2026-01-01T00:00:00Z"},
    ]).encode()
    result = ingest_payload(body, lambda batch: batch.num_rows)
    assert (result.accepted, result.rejected) == (1, 1)
    assert result.errors[0].index == 0
    assert result.errors[0].field == "timestamp"
