"""Alert rules: matching, schedules, cooldown, caps, strict parsing and the round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.anomaly.delivery import DeliveryAttempt, RetryPolicy, status_retryable
from vigil.anomaly.rules import (
    AlertGate,
    AlertRule,
    RuleError,
    Schedule,
    parse_ranges,
    rule_from_dict,
    rule_to_dict,
)

T0 = datetime(2024, 3, 5, 2, 10, tzinfo=UTC)


def anomaly(**changes: Any) -> dict[str, Any]:
    """A stored anomaly as the dispatcher hands it over (Tuesday 03:00 local)."""
    base: dict[str, Any] = {
        "anomaly_id": 17, "source_id": "backyard", "type": "rare_time", "label": "person",
        "severity": "high", "score": 0.993, "explanation": "person at 03:00 on Tuesday",
        "event_id": "abc", "window_start": "2024-03-05T02:00:00+00:00",
        "window_end": "2024-03-05T03:00:00+00:00", "detected_at": "2024-03-05T02:10:00+00:00",
        "local_hour": 3, "local_weekday": 1, "status": "open", "components": {},
    }
    return {**base, **changes}


def fired_ids(gate: AlertGate, item: dict[str, Any], now: datetime = T0) -> list[str]:
    return [rule.rule_id for rule in gate.decide(item, now)]


# -- matching ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("minimum", "severity", "fires"), [
    ("medium", "high", True), ("medium", "medium", True), ("medium", "low", False),
    ("high", "medium", False), ("low", "low", True), ("low", None, False),
    ("low", "bogus", False),
])
def test_severity_threshold(minimum: Any, severity: Any, fires: bool) -> None:
    rule = AlertRule("r", "R", min_severity=minimum)
    assert rule.matches(anomaly(severity=severity)) is fires


def test_sources_labels_and_types_filter_and_empty_means_all() -> None:
    rule = AlertRule("r", "R", sources=frozenset({"backyard", "garage"}),
                     labels=frozenset({"person"}), types=frozenset({"rare_time", "spike"}))
    assert rule.matches(anomaly())
    assert rule.matches(anomaly(source_id="garage", type="spike"))
    assert not rule.matches(anomaly(source_id="front"))
    assert not rule.matches(anomaly(label="cat"))
    assert not rule.matches(anomaly(label=None))
    assert not rule.matches(anomaly(type="silence"))
    anything = AlertRule("all", "All", min_severity="low")
    assert anything.matches(anomaly(source_id="front", label=None, type="silence",
                                    severity="low"))


def test_gate_returns_every_firing_rule_in_order_and_skips_disabled() -> None:
    rules = [AlertRule("b", "B"), AlertRule("a", "A", labels=frozenset({"car"})),
             AlertRule("c", "C", enabled=False), AlertRule("d", "D", min_severity="low")]
    assert fired_ids(AlertGate(rules), anomaly()) == ["b", "d"]


# -- schedules -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("22-6", {22, 23, 0, 1, 2, 3, 4, 5, 6}),
    ("0-23", set(range(24))),
    ("8-12,14-18", {8, 9, 10, 11, 12, 14, 15, 16, 17, 18}),
    ("5", {5}),
    (" 23 - 0 ", {23, 0}),
])
def test_hour_range_strings(text: str, expected: set[int]) -> None:
    assert parse_ranges(text, "schedule.hours", 0, 23) == expected


def test_wrap_around_night_schedule_on_weekdays_only() -> None:
    rule = rule_from_dict({"rule_id": "night", "name": "Night",
                           "schedule": {"weekdays": [0, 1, 2, 3, 4], "hours": "22-6"}})
    assert rule.active_for(anomaly(local_weekday=1, local_hour=3))
    assert rule.active_for(anomaly(local_weekday=4, local_hour=23))
    assert rule.active_for(anomaly(local_weekday=0, local_hour=6))
    assert not rule.active_for(anomaly(local_weekday=1, local_hour=7))
    assert not rule.active_for(anomaly(local_weekday=1, local_hour=21))
    assert not rule.active_for(anomaly(local_weekday=5, local_hour=3))  # Saturday
    assert not rule.active_for(anomaly(local_weekday=None, local_hour=None))
    assert AlertRule("always", "A").active_for(anomaly(local_weekday=None))


def test_weekday_ranges_wrap_too() -> None:
    weekend = Schedule.from_dict({"weekdays": "5-0"})
    assert weekend.weekdays == {5, 6, 0}
    assert weekend.hours == set(range(24))
    assert weekend.allows(6, 12) and not weekend.allows(2, 12)


def test_gate_counts_schedule_suppressions() -> None:
    gate = AlertGate([AlertRule("day", "Day", schedule=Schedule(hours=frozenset(range(8, 18))))])
    assert fired_ids(gate, anomaly(local_hour=3)) == []
    assert gate.suppressed["schedule"] == 1
    assert fired_ids(gate, anomaly(local_hour=9)) == ["day"]


# -- cooldown and cap ----------------------------------------------------------------------------
def test_cooldown_is_per_rule_source_and_type() -> None:
    gate = AlertGate([AlertRule("r", "R", cooldown_seconds=600), AlertRule("s", "S")])
    assert fired_ids(gate, anomaly()) == ["r", "s"]
    assert fired_ids(gate, anomaly(), T0 + timedelta(seconds=599)) == []
    assert gate.suppressed["cooldown"] == 2
    # another source or another type is not held back by the first one's cooldown
    assert fired_ids(gate, anomaly(source_id="garage"), T0 + timedelta(seconds=1)) == ["r", "s"]
    assert fired_ids(gate, anomaly(type="spike"), T0 + timedelta(seconds=2)) == ["r", "s"]
    # rule r cools down after 600 s, rule s only after its default 900 s
    assert fired_ids(gate, anomaly(), T0 + timedelta(seconds=600)) == ["r"]
    assert fired_ids(gate, anomaly(), T0 + timedelta(seconds=900)) == ["s"]


def test_suppressed_anomalies_do_not_extend_the_cooldown() -> None:
    gate = AlertGate([AlertRule("r", "R", cooldown_seconds=100)])
    assert fired_ids(gate, anomaly(), T0)
    assert not fired_ids(gate, anomaly(), T0 + timedelta(seconds=90))
    assert fired_ids(gate, anomaly(), T0 + timedelta(seconds=100))


def test_cap_is_a_sliding_window_per_rule() -> None:
    rule = AlertRule("r", "R", cooldown_seconds=0, cap_count=2, cap_period_seconds=3600)
    gate = AlertGate([rule])
    minutes = [0, 10, 20, 59, 61, 65, 71]
    fired = [bool(gate.decide(anomaly(source_id=f"cam{m}"), T0 + timedelta(minutes=m)))
             for m in minutes]
    # 0 and 10 fire; 20 and 59 are capped; at 61 the alert of minute 0 left the window,
    # at 65 the window (5..65] holds 10 and 61; at 71 the one of minute 10 has left.
    assert fired == [True, True, False, False, True, False, True]
    assert gate.suppressed == {"schedule": 0, "cooldown": 0, "cap": 3}


def test_replace_rules_keeps_state_only_for_remaining_rules() -> None:
    gate = AlertGate([AlertRule("keep", "K"), AlertRule("drop", "D")])
    assert fired_ids(gate, anomaly()) == ["keep", "drop"]
    gate.replace_rules([AlertRule("keep", "K2", min_severity="low"), AlertRule("new", "N")])
    assert fired_ids(gate, anomaly(), T0 + timedelta(seconds=60)) == ["new"]
    gate.replace_rules([AlertRule("keep", "K"), AlertRule("drop", "D")])
    assert fired_ids(gate, anomaly(), T0 + timedelta(seconds=120)) == ["drop"]
    assert [rule.name for rule in gate.rules] == ["K", "D"]


def test_gate_refuses_naive_times_and_duplicate_ids() -> None:
    gate = AlertGate([AlertRule("r", "R")])
    with pytest.raises(ValueError, match="aware"):
        gate.decide(anomaly(), datetime(2024, 3, 5, 2, 10))
    with pytest.raises(RuleError) as caught:
        gate.replace_rules([AlertRule("r", "R"), AlertRule("r", "again")])
    assert caught.value.field == "rule_id"
    assert [rule.name for rule in gate.rules] == ["R"]


# -- parsing -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "field"), [
    ({"min_severity": "critical"}, "min_severity"),
    ({"min_severity": None}, "min_severity"),
    ({"types": ["rare_time", "meteor"]}, "types"),
    ({"sources": "backyard"}, "sources"),
    ({"labels": ["person", ""]}, "labels[1]"),
    ({"schedule": {"hours": "22-25"}}, "schedule.hours"),
    ({"schedule": {"hours": "night"}}, "schedule.hours"),
    ({"schedule": {"hours": "1,,2"}}, "schedule.hours"),
    ({"schedule": {"hours": []}}, "schedule.hours"),
    ({"schedule": {"hours": [True]}}, "schedule.hours"),
    ({"schedule": {"weekdays": [7]}}, "schedule.weekdays"),
    ({"schedule": {"days": [1]}}, "schedule.days"),
    ({"schedule": "nights"}, "schedule"),
    ({"cooldown_seconds": -1}, "cooldown_seconds"),
    ({"cooldown_seconds": 1.5}, "cooldown_seconds"),
    ({"cap_count": 0}, "cap_count"),
    ({"cap_period_seconds": True}, "cap_period_seconds"),
    ({"sinks": [3]}, "sinks[0]"),
    ({"enabled": "yes"}, "enabled"),
    ({"name": "  "}, "name"),
    ({"colour": "red"}, "colour"),
])
def test_parse_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleError) as caught:
        rule_from_dict({"rule_id": "r", "name": "R", **changes})
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, ValueError)


def test_missing_required_fields_and_non_objects() -> None:
    for data, field in [({"name": "R"}, "rule_id"), ({"rule_id": "r"}, "name"),
                        (["r"], "rule")]:
        with pytest.raises(RuleError) as caught:
            rule_from_dict(data)
        assert caught.value.field == field


def test_parse_defaults_and_round_trip() -> None:
    rule = rule_from_dict({"rule_id": "r", "name": "R"})
    assert rule == AlertRule("r", "R")
    assert (rule.min_severity, rule.cooldown_seconds, rule.cap_count) == ("medium", 900, None)
    assert rule.schedule.always and rule.sinks == () and rule.enabled
    full = {"rule_id": "night", "name": "Night", "min_severity": "high",
            "sources": ["garage", "backyard"], "labels": ["person"], "types": ["rare_time"],
            "schedule": {"weekdays": [0, 1, 2, 3, 4], "hours": "22-6"},
            "cooldown_seconds": 60, "cap_count": 5, "cap_period_seconds": 600,
            "sinks": ["phone", "ha"], "enabled": False}
    parsed = rule_from_dict(full)
    data = rule_to_dict(parsed)
    assert data["sources"] == ["backyard", "garage"]
    assert data["schedule"] == {"weekdays": [0, 1, 2, 3, 4], "hours": [0, 1, 2, 3, 4, 5, 6, 22, 23]}
    assert data["sinks"] == ["phone", "ha"]
    assert rule_from_dict(data) == parsed


def test_targets_default_to_every_sink() -> None:
    assert AlertRule("r", "R").targets(["hook", "mqtt"]) == ("hook", "mqtt")
    assert AlertRule("r", "R", sinks=("mqtt",)).targets(["hook", "mqtt"]) == ("mqtt",)


# -- properties ----------------------------------------------------------------------------------
hour_ranges = st.lists(st.tuples(st.integers(0, 23), st.integers(0, 23)), min_size=1,
                       max_size=5)


def in_range(hour: int, start: int, end: int) -> bool:
    """Inclusive, wrapping past midnight when start > end."""
    if start <= end:
        return start <= hour <= end
    return hour >= start or hour <= end


@given(hour_ranges)
def test_hour_strings_equal_a_plain_set_construction(ranges: list[tuple[int, int]]) -> None:
    text = ",".join(f"{a}-{b}" for a, b in ranges)
    expected = {h for h in range(24) for a, b in ranges if in_range(h, a, b)}
    assert parse_ranges(text, "schedule.hours", 0, 23) == expected


names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8).filter(str.strip)
valid_rules = st.fixed_dictionaries(
    {"rule_id": names, "name": names},
    optional={
        "min_severity": st.sampled_from(["low", "medium", "high"]),
        "sources": st.lists(names, max_size=3),
        "labels": st.lists(names, max_size=3),
        "types": st.lists(st.sampled_from(["rare_time", "novel_object", "spike", "silence"])),
        "schedule": st.fixed_dictionaries({}, optional={
            "weekdays": st.lists(st.integers(0, 6), min_size=1),
            "hours": st.lists(st.integers(0, 23), min_size=1)}),
        "cooldown_seconds": st.integers(0, 10**6),
        "cap_count": st.none() | st.integers(1, 100),
        "cap_period_seconds": st.integers(1, 10**6),
        "sinks": st.lists(names, max_size=3, unique=True),
        "enabled": st.booleans(),
    })


@given(valid_rules)
def test_round_trip_of_random_valid_rules(data: dict[str, Any]) -> None:
    rule = rule_from_dict(data)
    assert rule_from_dict(rule_to_dict(rule)) == rule
    if "schedule" in data and "hours" in data["schedule"]:
        assert rule.schedule.hours == set(data["schedule"]["hours"])


# -- retry schedule (delivery.py) ----------------------------------------------------------------
def test_retry_policy_backs_off_exponentially_caps_and_gives_up() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=2.0, max_seconds=60.0)
    assert [policy.next_delay(n) for n in range(1, 9)] == [2, 4, 8, 16, 32, 60, 60, None]
    assert RetryPolicy(max_attempts=1).next_delay(1) is None
    assert RetryPolicy(max_attempts=10**6).next_delay(10**5) == 600.0
    with pytest.raises(ValueError):
        policy.next_delay(0)
    with pytest.raises(ValueError):
        RetryPolicy(base_seconds=10.0, max_seconds=5.0)


def test_status_retryability() -> None:
    assert [status_retryable(c) for c in (500, 503, 408, 429, 400, 401, 404, 301)] == [
        True, True, True, True, False, False, False, False]
    failed = DeliveryAttempt.failure("HTTP 500", retryable=True, status_code=500)
    assert (failed.ok, failed.error, failed.retryable) == (False, "HTTP 500", True)
    assert DeliveryAttempt.success(204) == DeliveryAttempt(True, 204, None, False)
