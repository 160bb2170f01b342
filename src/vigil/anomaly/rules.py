"""Alert rules: which anomalies become alerts, when, and how often (pure: no clock, no I/O).

An :class:`AlertRule` matches an anomaly (the stored anomaly as a plain dict) when its
``severity`` is at least ``min_severity`` and its ``source_id``, ``label`` and ``type`` are in
the rule's sets (an empty set means "all"). Its :class:`Schedule` limits it to local weekdays
× hours at the anomaly's source (``local_weekday`` 0=Monday, ``local_hour``). The
:class:`AlertGate` then applies a cooldown per (rule, source, type) and an optional cap of
``cap_count`` alerts per rule in any ``cap_period_seconds`` window, with ``now`` passed in.

Rules come from JSON through :func:`rule_from_dict`; every error is a :class:`RuleError`
naming the offending field (``err.field``, e.g. ``"schedule.hours"``)::

    rule = rule_from_dict({"rule_id": "night", "name": "People at night",
                           "labels": ["person"], "min_severity": "medium",
                           "schedule": {"weekdays": [0, 1, 2, 3, 4], "hours": "22-6"}})
    gate = AlertGate([rule])
    fired = gate.decide(anomaly, now)  # the rules that alert; cooldown and cap recorded

Hours and weekdays are lists of ints or compact range strings: ``"22-6"`` (inclusive, wraps
past midnight: 22, 23, 0 … 6), ``"0-23"``, ``"8-12,14-18"``, ``"5"``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast, get_args

from vigil.anomaly.result import SEVERITY_RANK, AnomalyType, Severity

ANOMALY_TYPES: frozenset[str] = frozenset(get_args(AnomalyType))
SEVERITIES: tuple[str, ...] = get_args(Severity)
ALL_WEEKDAYS = frozenset(range(7))
ALL_HOURS = frozenset(range(24))
RANKS: dict[str, int] = {str(level): rank for level, rank in SEVERITY_RANK.items() if level}
SUPPRESSION_REASONS = ("schedule", "cooldown", "cap")
RULE_FIELDS = frozenset({
    "rule_id", "name", "min_severity", "sources", "labels", "types", "schedule",
    "cooldown_seconds", "cap_count", "cap_period_seconds", "sinks", "enabled",
})
SCHEDULE_FIELDS = frozenset({"weekdays", "hours"})


class RuleError(ValueError):
    """An invalid rule; ``field`` names what is wrong (``"schedule.hours"``, ``"types"``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- small validators ----------------------------------------------------------------------------
def _is_int(value: object) -> bool:
    """An int that is not a bool (JSON ``true`` is not a number)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: object, name: str, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``, or a RuleError."""
    if not _is_int(value):
        raise RuleError(name, f"must be an integer, not {value!r}")
    number = cast(int, value)
    if number < minimum:
        raise RuleError(name, f"must be at least {minimum}, not {number}")
    return number


def _check_text(value: object, name: str) -> str:
    """A non-blank string, or a RuleError."""
    if not isinstance(value, str) or not value.strip():
        raise RuleError(name, f"must be a non-empty string, not {value!r}")
    return value


def _text_list(value: object, name: str) -> list[str]:
    """A JSON list of non-blank strings (a lone string is refused, not split into letters)."""
    if not isinstance(value, list | tuple | set | frozenset):
        raise RuleError(name, f"must be a list of strings, not {value!r}")
    items = list(value)
    for index, item in enumerate(items):
        _check_text(item, f"{name}[{index}]")
    return cast(list[str], items)


def _range_part(part: str, name: str, low: int, high: int) -> set[int]:
    """One ``"a"`` or ``"a-b"`` item (inclusive; ``a > b`` wraps past ``high``)."""
    start_text, dash, end_text = part.partition("-")
    try:
        start = int(start_text)
        end = int(end_text) if dash else start
    except ValueError:
        raise RuleError(name, f"{part!r} is not a number or a range like 22-6") from None
    for number in (start, end):
        if not low <= number <= high:
            raise RuleError(name, f"{part!r}: {number} is outside {low}..{high}")
    if start <= end:
        return set(range(start, end + 1))
    return set(range(start, high + 1)) | set(range(low, end + 1))


def parse_ranges(value: object, name: str, low: int, high: int) -> frozenset[int]:
    """Ints from a list of ints or a range string like ``"22-6"`` / ``"8-12,14-18"``."""
    found: set[int] = set()
    if isinstance(value, str):
        for part in value.split(","):
            if not part.strip():
                raise RuleError(name, f"{value!r} has an empty item")
            found |= _range_part(part.strip(), name, low, high)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            if not _is_int(item) or not low <= item <= high:
                raise RuleError(name, f"{item!r} is not an integer in {low}..{high}")
            found.add(item)
    else:
        raise RuleError(name, f"must be a list of integers or a range string, not {value!r}")
    if not found:
        raise RuleError(name, "must not be empty (disable the rule instead)")
    return frozenset(found)


# -- schedule ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Schedule:
    """Local weekdays (0=Monday..6) × hours (0..23) when a rule is active; default always."""

    weekdays: frozenset[int] = ALL_WEEKDAYS
    hours: frozenset[int] = ALL_HOURS

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekdays", parse_ranges(self.weekdays, "schedule.weekdays",
                                                          0, 6))
        object.__setattr__(self, "hours", parse_ranges(self.hours, "schedule.hours", 0, 23))

    @property
    def always(self) -> bool:
        """Whether every hour of every weekday is allowed."""
        return self.weekdays == ALL_WEEKDAYS and self.hours == ALL_HOURS

    def allows(self, weekday: int, hour: int) -> bool:
        """Whether local ``weekday`` (0=Monday) at local ``hour`` is in the schedule."""
        return weekday in self.weekdays and hour in self.hours

    @classmethod
    def from_dict(cls, data: object) -> Schedule:
        """Parse ``{"weekdays": [0, 1, 2, 3, 4], "hours": "22-6"}`` (both keys optional)."""
        if not isinstance(data, Mapping):
            raise RuleError("schedule", f"must be an object, not {data!r}")
        for key in data:
            if key not in SCHEDULE_FIELDS:
                raise RuleError(f"schedule.{key}", "unknown field")
        return cls(weekdays=parse_ranges(data.get("weekdays", "0-6"), "schedule.weekdays", 0, 6),
                   hours=parse_ranges(data.get("hours", "0-23"), "schedule.hours", 0, 23))

    def to_dict(self) -> dict[str, list[int]]:
        """The schedule as sorted lists (what :meth:`from_dict` reads back)."""
        return {"weekdays": sorted(self.weekdays), "hours": sorted(self.hours)}


# -- rule ----------------------------------------------------------------------------------------
def _member(allowed: frozenset[str], value: object) -> bool:
    """An empty set allows everything; otherwise the value must be one of the set."""
    return not allowed or (isinstance(value, str) and value in allowed)


@dataclass(frozen=True, slots=True)
class AlertRule:
    """Which anomalies alert, when, how often and to which sinks (empty sets mean all)."""

    rule_id: str
    name: str
    min_severity: Severity = "medium"
    sources: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    schedule: Schedule = field(default_factory=Schedule)
    cooldown_seconds: int = 900
    cap_count: int | None = None
    cap_period_seconds: int = 3600
    sinks: tuple[str, ...] = ()
    enabled: bool = True

    def __post_init__(self) -> None:
        _check_text(self.rule_id, "rule_id")
        _check_text(self.name, "name")
        if self.min_severity not in SEVERITIES:
            raise RuleError("min_severity", f"must be one of {', '.join(SEVERITIES)}, "
                                            f"not {self.min_severity!r}")
        for name in ("sources", "labels", "types"):
            object.__setattr__(self, name, frozenset(_text_list(getattr(self, name), name)))
        unknown = sorted(self.types - ANOMALY_TYPES)
        if unknown:
            raise RuleError("types", f"unknown anomaly type {unknown[0]!r}; expected one of "
                                     f"{', '.join(sorted(ANOMALY_TYPES))}")
        if not isinstance(self.schedule, Schedule):
            raise RuleError("schedule", "must be a Schedule")
        _check_int(self.cooldown_seconds, "cooldown_seconds", 0)
        if self.cap_count is not None:
            _check_int(self.cap_count, "cap_count", 1)
        _check_int(self.cap_period_seconds, "cap_period_seconds", 1)
        object.__setattr__(self, "sinks", tuple(dict.fromkeys(_text_list(self.sinks, "sinks"))))
        if not isinstance(self.enabled, bool):
            raise RuleError("enabled", f"must be true or false, not {self.enabled!r}")

    def matches(self, anomaly: Mapping[str, Any]) -> bool:
        """Severity, source, label and type match (the schedule is checked separately)."""
        severity = anomaly.get("severity")
        rank = RANKS.get(severity, 0) if isinstance(severity, str) else 0
        return (rank >= RANKS[self.min_severity]
                and _member(self.sources, anomaly.get("source_id"))
                and _member(self.labels, anomaly.get("label"))
                and _member(self.types, anomaly.get("type")))

    def active_for(self, anomaly: Mapping[str, Any]) -> bool:
        """Whether the anomaly's local weekday and hour are in the schedule.

        An anomaly without ``local_weekday``/``local_hour`` passes only an always-on schedule.
        """
        if self.schedule.always:
            return True
        weekday, hour = anomaly.get("local_weekday"), anomaly.get("local_hour")
        if not _is_int(weekday) or not _is_int(hour):
            return False
        return self.schedule.allows(cast(int, weekday), cast(int, hour))

    def targets(self, configured: Iterable[str]) -> tuple[str, ...]:
        """The sink names to deliver to: the rule's own, or every configured sink."""
        return self.sinks or tuple(configured)


def rule_from_dict(data: object) -> AlertRule:
    """Parse and validate a rule from JSON; :class:`RuleError` names the offending field."""
    if not isinstance(data, Mapping):
        raise RuleError("rule", f"must be an object, not {type(data).__name__}")
    for key in data:
        if key not in RULE_FIELDS:
            raise RuleError(str(key), "unknown field")
    for key in ("rule_id", "name"):
        if key not in data:
            raise RuleError(key, "is required")
    values: dict[str, Any] = dict(data)
    for name in ("sources", "labels", "types"):
        if name in values:
            values[name] = frozenset(_text_list(values[name], name))
    if "sinks" in values:
        values["sinks"] = tuple(_text_list(values["sinks"], "sinks"))
    if "schedule" in values:
        values["schedule"] = Schedule.from_dict(values["schedule"])
    return AlertRule(**values)


def rule_to_dict(rule: AlertRule) -> dict[str, Any]:
    """The rule as JSON-able data that :func:`rule_from_dict` reads back unchanged."""
    return {
        "rule_id": rule.rule_id,
        "name": rule.name,
        "min_severity": rule.min_severity,
        "sources": sorted(rule.sources),
        "labels": sorted(rule.labels),
        "types": sorted(rule.types),
        "schedule": rule.schedule.to_dict(),
        "cooldown_seconds": rule.cooldown_seconds,
        "cap_count": rule.cap_count,
        "cap_period_seconds": rule.cap_period_seconds,
        "sinks": list(rule.sinks),
        "enabled": rule.enabled,
    }


# -- gate ----------------------------------------------------------------------------------------
class AlertGate:
    """Rules plus their cooldown and cap state; ``decide`` says which rules fire now.

    Calls are serialised by a lock, so the dispatcher may ``decide`` while another thread
    calls ``replace_rules``. ``suppressed`` counts matching anomalies held back, by reason.
    """

    def __init__(self, rules: Iterable[AlertRule] = ()) -> None:
        self._lock = threading.Lock()
        self._rules: tuple[AlertRule, ...] = ()
        self._last_fired: dict[tuple[str, str, str], datetime] = {}
        self._recent: dict[str, deque[datetime]] = {}
        self.suppressed: dict[str, int] = dict.fromkeys(SUPPRESSION_REASONS, 0)
        self.replace_rules(rules)

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        """The current rules, in order."""
        return self._rules

    def replace_rules(self, rules: Iterable[AlertRule]) -> None:
        """Use these rules; cooldown and cap state is kept for rule ids that remain."""
        new = tuple(rules)
        ids = [rule.rule_id for rule in new]
        duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicates:
            raise RuleError("rule_id", f"duplicate rule id {duplicates[0]!r}")
        keep = set(ids)
        with self._lock:
            self._rules = new
            self._last_fired = {key: at for key, at in self._last_fired.items()
                                if key[0] in keep}
            self._recent = {rule_id: at for rule_id, at in self._recent.items()
                            if rule_id in keep}

    def decide(self, anomaly: Mapping[str, Any], now: datetime) -> list[AlertRule]:
        """The enabled rules that alert for ``anomaly`` at ``now`` (UTC-aware); recorded."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be a time-zone-aware datetime")
        with self._lock:
            return [rule for rule in self._rules
                    if rule.enabled and rule.matches(anomaly) and self._admit(rule, anomaly, now)]

    def _admit(self, rule: AlertRule, anomaly: Mapping[str, Any], now: datetime) -> bool:
        """Apply schedule, cooldown and cap to a matching rule; record it when it fires."""
        key = (rule.rule_id, str(anomaly.get("source_id")), str(anomaly.get("type")))
        reason = self._suppression(rule, anomaly, key, now)
        if reason is not None:
            self.suppressed[reason] += 1
            return False
        self._last_fired[key] = now
        if rule.cap_count is not None:
            self._recent.setdefault(rule.rule_id, deque()).append(now)
        return True

    def _suppression(self, rule: AlertRule, anomaly: Mapping[str, Any],
                     key: tuple[str, str, str], now: datetime) -> str | None:
        """Why a matching rule must not fire now, or ``None``."""
        if not rule.active_for(anomaly):
            return "schedule"
        last = self._last_fired.get(key)
        if last is not None and now - last < timedelta(seconds=rule.cooldown_seconds):
            return "cooldown"
        if rule.cap_count is not None:
            recent = self._recent.setdefault(rule.rule_id, deque())
            window_start = now - timedelta(seconds=rule.cap_period_seconds)
            while recent and recent[0] <= window_start:
                recent.popleft()
            if len(recent) >= rule.cap_count:
                return "cap"
        return None
