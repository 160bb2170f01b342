"""The activity points and their expected band: against a direct re-computation, the
first-day rule, a spike above its band and local hours across DST."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.baseline.activity import (
    Activity,
    ActivityPoint,
    Bucket,
    compute_activity,
    history_start,
)

Row = tuple[dt.date, int, str, int]
MONDAY = dt.date(2026, 3, 2)
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe")
CLOCK_CHANGES = tuple(dt.date.fromisoformat(day) for day in (
    "2026-03-08", "2026-03-29", "2026-04-05", "2026-10-04", "2026-10-25", "2026-11-01"))


def hour_exists(day: dt.date, hour: int, zone: ZoneInfo) -> bool:
    """Whether a clock in ``zone`` shows ``hour`` on ``day`` (at its start or later)."""
    shown = dt.datetime.combine(day, dt.time(hour), zone).astimezone(dt.UTC).astimezone(zone)
    return (shown.date(), shown.hour) == (day, hour)


def reference(rows: list[Row], timezone: str, start: dt.date, end: dt.date, bucket: Bucket,
              weeks: int, first_day: dt.date | None) -> list[dict[str, Any]]:
    """The points computed directly from a dict of counts, one point at a time."""
    zone = ZoneInfo(timezone)
    totals: dict[tuple[dt.date, int], int] = defaultdict(int)
    for row_day, row_hour, label, n in rows:
        if label == "*":
            totals[row_day, row_hour] += n
    found = []
    day = start
    while day <= end:
        for hour in ([None] if bucket == "day" else range(24)):
            if hour is not None and not hour_exists(day, hour, zone):
                continue
            seen = []
            for k in range(1, weeks + 1):
                past = day - dt.timedelta(days=7 * k)
                if first_day is None or past < first_day:
                    continue
                if hour is None:
                    seen.append(sum(totals[past, h] for h in range(24)))
                elif hour_exists(past, hour, zone):
                    seen.append(totals[past, hour])
            count = (sum(totals[day, h] for h in range(24)) if hour is None
                     else totals[day, hour])
            point: dict[str, Any] = {"count": count, "weeks_seen": len(seen), "expected": None,
                                     "low": None, "high": None}
            if len(seen) >= 2:
                mean, sd = statistics.fmean(seen), statistics.stdev(seen)
                point.update(expected=mean, low=max(mean - 2 * sd, 0.0), high=mean + 2 * sd)
            found.append(point)
        day += dt.timedelta(days=1)
    return found


def as_dict(point: ActivityPoint) -> dict[str, Any]:
    return {"count": point.count, "weeks_seen": point.weeks_seen, "expected": point.expected,
            "low": point.low, "high": point.high}


def close(got: dict[str, Any], want: dict[str, Any]) -> bool:
    return all(want[k] == got[k] if want[k] is None or got[k] is None
               else got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-9) for k in want)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Row], str, dt.date, dt.date, Bucket, int,
                                    dt.date | None]:
    timezone = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(timezone)
    # near a clock change, in the range or in the weeks before it
    start = draw(st.sampled_from(CLOCK_CHANGES)) + dt.timedelta(days=draw(st.integers(-20, 45)))
    end = start + dt.timedelta(days=draw(st.integers(0, 16)))
    weeks = draw(st.integers(1, 6))
    origin = history_start(start, weeks)
    span = (end - origin).days + 1
    keys = st.tuples(st.integers(-3, span + 3), st.integers(0, 23),
                     st.sampled_from(["*", "person", "car"]), st.integers(0, 30))
    rows = []
    for offset, hour, label, n in draw(st.lists(keys, max_size=120)):
        day = origin + dt.timedelta(days=offset)
        if hour_exists(day, hour, zone):
            rows.append((day, hour, label, n))
    first = draw(st.none() | st.integers(-10, span).map(lambda i: origin + dt.timedelta(days=i)))
    return rows, timezone, start, end, draw(st.sampled_from(["day", "hour"])), weeks, first


@settings(max_examples=150, deadline=None)
@given(cases())
def test_points_equal_a_direct_recomputation(
        case: tuple[list[Row], str, dt.date, dt.date, Bucket, int, dt.date | None]) -> None:
    rows, timezone, start, end, bucket, weeks, first = case
    got = compute_activity(rows, timezone, start, end, bucket, weeks, first)
    want = reference(rows, timezone, start, end, bucket, weeks, first)
    assert len(got.points) == len(want)
    for point, expected in zip(got.points, want, strict=True):
        assert close(as_dict(point), expected), (point, expected)
    inside = [r for r in rows if start <= r[0] <= end]
    assert got.total == sum(n for _, _, label, n in inside if label == "*")
    assert got.total == sum(p.count for p in got.points)
    for label in ("person", "car"):
        n = sum(c for _, _, name, c in inside if name == label)
        assert got.labels.get(label, 0) == n
    assert "*" not in got.labels
    starts = [p.utc for p in got.points]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def day_rows(counts: dict[dt.date, int], hour: int = 12) -> list[Row]:
    return [(day, hour, "*", n) for day, n in counts.items()]


def one_day(rows: list[Row], day: dt.date, weeks: int = 4,
            first: dt.date | None = None) -> ActivityPoint:
    found = compute_activity(rows, "UTC", day, day, "day", weeks, first or dt.date(2000, 1, 1))
    assert len(found.points) == 1
    return found.points[0]


def test_weeks_before_the_first_day_are_not_zeros() -> None:
    day = MONDAY + dt.timedelta(weeks=4)
    rows = day_rows({MONDAY + dt.timedelta(weeks=2): 12, MONDAY + dt.timedelta(weeks=3): 10})
    learned = one_day(rows, day, first=MONDAY + dt.timedelta(weeks=2))
    assert (learned.weeks_seen, learned.expected) == (2, 11.0)
    assert learned.low == pytest.approx(11 - 2 * statistics.stdev([10, 12]))
    assert learned.high == pytest.approx(11 + 2 * statistics.stdev([10, 12]))
    quiet_before = one_day(rows, day, first=MONDAY)  # it existed: two silent weeks count
    assert (quiet_before.weeks_seen, quiet_before.expected) == (4, 5.5)
    learning = one_day(rows, day, first=MONDAY + dt.timedelta(weeks=3))
    assert (learning.weeks_seen, learning.expected, learning.low, learning.high) == (
        1, None, None, None)
    never = compute_activity(rows, "UTC", day, day, "day", 4, None).points[0]
    assert (never.weeks_seen, never.expected) == (0, None)


def test_a_spike_lies_above_its_band_and_does_not_move_it() -> None:
    history = {MONDAY + dt.timedelta(weeks=k): n for k, n in enumerate([10, 12, 11, 9])}
    spike_day = MONDAY + dt.timedelta(weeks=4)
    calm = one_day(day_rows(history), spike_day)
    spike = one_day(day_rows({**history, spike_day: 40}), spike_day)
    assert calm.high is not None and calm.low is not None and calm.low <= 10.5 <= calm.high
    assert spike.count == 40 and spike.high is not None and spike.count > spike.high
    assert (spike.expected, spike.low, spike.high) == (calm.expected, calm.low, calm.high)
    usual = one_day(day_rows({**history, spike_day: 11}), spike_day)
    assert usual.low is not None and usual.high is not None
    assert usual.low <= usual.count <= usual.high


def test_low_is_clipped_at_zero() -> None:
    rows = day_rows({MONDAY: 0, MONDAY + dt.timedelta(weeks=1): 20})
    point = one_day(rows, MONDAY + dt.timedelta(weeks=2), weeks=2)
    assert point.expected == 10.0 and point.low == 0.0
    assert point.high == pytest.approx(10 + 2 * statistics.stdev([0, 20]))


def berlin(rows: list[Row], start: dt.date, end: dt.date, weeks: int = 2) -> Activity:
    return compute_activity(rows, "Europe/Berlin", start, end, "hour", weeks,
                            dt.date(2026, 1, 1))


def test_berlin_spring_forward_has_23_hours() -> None:
    day = dt.date(2026, 3, 29)  # 02:00 CET jumps to 03:00 CEST
    rows = [(day, 1, "*", 1), (day, 3, "*", 2), (day, 3, "person", 2)]
    points = berlin(rows, day, day).points
    assert len(points) == 23
    assert dt.datetime(2026, 3, 29, 2) not in [p.start for p in points]
    by_start = {p.start: p for p in points}
    assert by_start[dt.datetime(2026, 3, 29, 1)].utc == dt.datetime(2026, 3, 29, 0,
                                                                     tzinfo=dt.UTC)
    three = by_start[dt.datetime(2026, 3, 29, 3)]
    assert (three.utc, three.count) == (dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC), 2)
    assert [p.utc for p in points] == [dt.datetime(2026, 3, 28, 23, tzinfo=dt.UTC)
                                       + dt.timedelta(hours=h) for h in range(23)]


def test_a_week_whose_hour_did_not_exist_is_left_out() -> None:
    day = dt.date(2026, 4, 5)  # a week after spring forward
    rows = [(dt.date(2026, 3, 22), 2, "*", 6), (day, 2, "*", 1)]
    two = {p.start: p for p in berlin(rows, day, day).points}[dt.datetime(2026, 4, 5, 2)]
    assert (two.count, two.weeks_seen, two.expected) == (1, 1, None)
    three = {p.start: p for p in berlin(rows, day, day, weeks=3).points}[
        dt.datetime(2026, 4, 5, 2)]
    assert (three.weeks_seen, three.expected) == (2, 3.0)  # 22 March: 6, 15 March: 0


def test_berlin_fall_back_repeated_hour_is_one_point() -> None:
    day = dt.date(2026, 10, 25)  # 03:00 CEST goes back to 02:00 CET
    rows = [(day, 2, "*", 5), (day, 3, "*", 1)]
    found = berlin(rows, day, day)
    assert len(found.points) == 24 and found.total == 6
    by_start = {p.start: p for p in found.points}
    two, three = by_start[dt.datetime(2026, 10, 25, 2)], by_start[dt.datetime(2026, 10, 25, 3)]
    assert (two.count, two.utc) == (5, dt.datetime(2026, 10, 25, 0, tzinfo=dt.UTC))
    assert three.utc == dt.datetime(2026, 10, 25, 2, tzinfo=dt.UTC)  # 02:00 covers 2 hours


def test_day_points_start_at_local_midnight() -> None:
    start, end = dt.date(2026, 3, 28), dt.date(2026, 3, 30)
    found = compute_activity([], "Europe/Berlin", start, end, "day", 1, None)
    assert [(p.start, p.utc) for p in found.points] == [
        (dt.date(2026, 3, 28), dt.datetime(2026, 3, 27, 23, tzinfo=dt.UTC)),
        (dt.date(2026, 3, 29), dt.datetime(2026, 3, 28, 23, tzinfo=dt.UTC)),
        (dt.date(2026, 3, 30), dt.datetime(2026, 3, 29, 22, tzinfo=dt.UTC))]
    assert found.total == 0 and found.labels == {}


def test_labels_are_counted_over_the_range_only() -> None:
    before, day = dt.date(2026, 3, 1), dt.date(2026, 3, 8)
    rows: list[Row] = [(before, 9, "*", 7), (before, 9, "dog", 7), (day, 9, "*", 3),
                       (day, 9, "person", 2), (day, 9, "car", 2), (day, 10, "car", 1)]
    found = compute_activity(rows, "UTC", day, day, "day", 1, before)
    assert found.labels == {"car": 3, "person": 2}  # an event may carry several labels
    assert list(found.labels) == ["car", "person"] and found.total == 3
