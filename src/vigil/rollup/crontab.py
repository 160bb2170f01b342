"""Crontab strings for the job schedules, read as cron reads them, as APScheduler triggers."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

__all__ = ["check_crontab", "cron_trigger"]

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Crontab weekday numbers (0 and 7: Sunday) as names, which APScheduler 3 reads unambiguously
(its own numbers start at Monday)."""


def check_crontab(expr: str) -> str:
    """``expr`` if it is a valid five-field crontab string, else ValueError saying why."""
    cron_trigger(expr, "UTC")
    return expr


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """An APScheduler trigger firing when the crontab string ``expr`` says, in ``timezone``.

    Weekdays are read as crontab reads them (0 or 7 = Sunday). Restricting both the day of
    the month and the weekday is refused: cron fires when either matches, APScheduler only
    when both do.
    """
    if not isinstance(expr, str):
        raise ValueError(f"a crontab string is expected, got {expr!r}")
    parts = expr.split()
    if len(parts) != 5:
        raise ValueError(f"a crontab string has 5 fields (minute hour day month weekday), "
                         f"got {len(parts)} in {expr!r}")
    minute, hour, day, month, weekday = parts
    if day not in ("*", "?") and weekday not in ("*", "?"):
        raise ValueError(f"{expr!r} restricts both the day of the month and the weekday "
                         "(cron runs when either matches); restrict one of them")
    try:
        return CronTrigger(minute=minute, hour=hour, day=day.replace("?", "*"), month=month,
                           day_of_week=_weekdays(weekday), timezone=ZoneInfo(timezone))
    except ValueError as exc:
        raise ValueError(f"invalid crontab string {expr!r}: {exc}") from exc


def _weekdays(text: str) -> str:
    """A crontab weekday field as APScheduler weekday names."""
    if text in ("*", "?"):
        return "*"
    names: list[str] = []
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            first, last = span.split("-", 1)
            low, high = _weekday(first), _weekday(last)
        else:
            low = _weekday(span)
            high = 6 if step_text else low
        step = int(step_text) if step_text.isdigit() else 0
        if step_text and step < 1 or high < low:
            raise ValueError(f"invalid weekday field {text!r}")
        names.extend(_WEEKDAYS[n] for n in range(low, high + 1, step or 1))
    return ",".join(dict.fromkeys(names))


def _weekday(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    name = token.lower()
    if name in _WEEKDAYS:
        return _WEEKDAYS.index(name)
    raise ValueError(f"invalid weekday {token!r} (0-7 or sun..sat)")
