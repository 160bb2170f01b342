"""The pure baseline computation: exact figures for small, hand-checked inputs."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from vigil.baseline import BaselineConfig, HourlyRow, SourceHistory, compute_baseline
from vigil.baseline.compute import (
    CLOCK_SHIFT_MARGIN,
    HourlyCounts,
    hourly_table,
    peak_hours,
    quiet_hours,
    utc_range,
    window_dates,
)

UTC = dt.UTC
AS_OF = dt.datetime(2026, 3, 31, 12, tzinfo=UTC)  # a Tuesday


def history(count: int = 100, first: dt.datetime | None = None,
            zone: str = "UTC") -> SourceHistory:
    first = first or dt.datetime(2026, 3, 1, tzinfo=UTC)
    return SourceHistory("cam", zone, count, first, AS_OF - dt.timedelta(hours=1))


def rows(day: dt.date, hour: int, **labels: int) -> list[HourlyRow]:
    total = sum(labels.values())
    return [HourlyRow(day, hour, "*", total)] + [
        HourlyRow(day, hour, label, n) for label, n in labels.items()]


def test_distributions_and_totals() -> None:
    monday, tuesday = dt.date(2026, 3, 30), dt.date(2026, 3, 31)
    data = rows(monday, 8, person=3, car=1) + rows(tuesday, 8, person=2) + rows(monday, 22,
                                                                             dog=1)
    b = compute_baseline(history(), data, AS_OF, BaselineConfig())
    assert b["hourly_distribution"]["08"] == 6 and b["hourly_distribution"]["22"] == 1
    assert set(b["hourly_distribution"]) == {f"{h:02d}" for h in range(24)}
    assert b["daily_distribution"] == {"0": 5, "1": 2, "2": 0, "3": 0, "4": 0, "5": 0, "6": 0}
    assert b["hour_weekday_matrix"][0][8] == 4 and b["hour_weekday_matrix"][1][8] == 2
    assert b["object_type_distribution"] == {"car": 1, "dog": 1, "person": 5}
    assert b["dominant_object_type"] == "person"
    assert b["total_events"] == 7
    assert b["average_events_per_day"] == round(7 / 31, 3)  # 1 March .. 31 March
    assert b["status"] == "ready"
    assert b["last_calculated_at"] == AS_OF


def test_average_divides_by_days_covered_not_a_fixed_month() -> None:
    first = dt.datetime(2026, 3, 29, 9, tzinfo=UTC)  # three local days of history
    b = compute_baseline(history(first=first), rows(dt.date(2026, 3, 29), 9, person=9),
                         AS_OF, BaselineConfig())
    assert b["average_events_per_day"] == 3.0


def test_window_excludes_older_days_and_is_local() -> None:
    start, end = window_dates(AS_OF, "Pacific/Auckland", BaselineConfig(window_weeks=1))
    assert end == dt.date(2026, 4, 1)  # already Wednesday in Auckland
    assert start == dt.date(2026, 3, 26)
    old = rows(dt.date(2026, 3, 1), 10, person=5)
    b = compute_baseline(history(), old, AS_OF, BaselineConfig(window_weeks=1))
    assert b["total_events"] == 0 and b["peak_hours"] == [] and b["quiet_hours"] == []


def test_half_life_weighs_older_hours_down() -> None:
    recent = rows(dt.date(2026, 3, 31), 10, person=4)  # ended 1 h before as_of
    week_ago = rows(dt.date(2026, 3, 24), 11, person=4)  # 7 days older
    b = compute_baseline(history(), recent + week_ago, AS_OF, BaselineConfig(half_life_days=7))
    assert b["hourly_distribution"]["11"] == 2  # exactly one half-life old
    assert b["hourly_distribution"]["10"] == round(4 * 0.5 ** (1 / 24 / 7), 3)


def test_learning_until_days_and_events_are_enough() -> None:
    config = BaselineConfig(min_days=7, min_events=50)
    young = history(count=500, first=AS_OF - dt.timedelta(days=6))
    few = history(count=49, first=AS_OF - dt.timedelta(days=30))
    assert compute_baseline(young, [], AS_OF, config)["status"] == "learning"
    assert compute_baseline(few, [], AS_OF, config)["status"] == "learning"
    assert compute_baseline(history(count=50), [], AS_OF, config)["status"] == "ready"


def test_peak_and_quiet_hour_rules() -> None:
    hourly = [0.0] * 24
    hourly[7], hourly[8], hourly[18] = 10.0, 30.0, 20.0  # mean 2.5
    hourly[12] = 3.0
    assert peak_hours(hourly) == [8, 18, 7]
    assert 12 not in quiet_hours(hourly) and 0 in quiet_hours(hourly)
    assert peak_hours([1.0] * 24) == [] and quiet_hours([1.0] * 24) == []


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="window_weeks"):
        BaselineConfig(window_weeks=0)
    with pytest.raises(ValueError, match="half_life_days"):
        BaselineConfig(half_life_days=0)


def test_a_table_of_rows_gives_the_same_baseline_and_repeats_add_up() -> None:
    monday = dt.date(2026, 3, 30)
    data = rows(monday, 8, person=3, car=1) + rows(monday, 22, dog=1)
    split = [HourlyRow(r.local_date, r.local_hour, r.label, n)  # one row per event type
             for r in data for n in (r.event_count - 1, 1) if n]
    config = BaselineConfig(half_life_days=3)
    expected = compute_baseline(history(), data, AS_OF, config)
    assert compute_baseline(history(), hourly_table(split), AS_OF, config) == expected
    assert compute_baseline(history(), HourlyCounts(split), AS_OF, config) == expected
    assert HourlyCounts(split).span() == (5, dt.datetime(2026, 3, 30, 8),
                                          dt.datetime(2026, 3, 30, 22))
    assert HourlyCounts([]).span() == (0, None, None)


@pytest.mark.parametrize("day, hour", [(dt.date(2026, 10, 25), 2),  # Berlin: twice
                                       (dt.date(2026, 10, 25), 1), (dt.date(2026, 3, 29), 1),
                                       (dt.date(2026, 3, 29), 3)])
def test_decay_ages_a_dst_hour_from_its_wall_clock_end(day: dt.date, hour: int) -> None:
    zone, as_of = "Europe/Berlin", dt.datetime(2026, 11, 1, tzinfo=UTC)
    config = BaselineConfig(window_weeks=52, half_life_days=2)
    end = dt.datetime.combine(day, dt.time(hour), ZoneInfo(zone)) + dt.timedelta(hours=1)
    weight = 0.5 ** ((as_of - end).total_seconds() / 86400 / 2)
    b = compute_baseline(history(zone=zone), rows(day, hour, person=1000), as_of, config)
    assert b["hourly_distribution"][f"{hour:02d}"] == round(1000 * weight, 3)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Australia/Lord_Howe", "Pacific/Kiritimati",
                                  "Etc/GMT+12"])
def test_utc_range_holds_every_instant_of_the_local_hour(zone: str) -> None:
    tz = ZoneInfo(zone)
    instant = dt.datetime(2026, 1, 1, tzinfo=UTC)
    while instant < dt.datetime(2027, 1, 1, tzinfo=UTC):
        local = instant.astimezone(tz).replace(minute=0, second=0, tzinfo=None)
        start, end = utc_range(local, zone)
        assert start + CLOCK_SHIFT_MARGIN <= instant < end - CLOCK_SHIFT_MARGIN
        instant += dt.timedelta(minutes=30)
