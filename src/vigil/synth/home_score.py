"""How well detected patterns recover a home's ground truth: recall and precision.

A found :class:`~vigil.patterns.base.Pattern` matches an :class:`Expected` one when the
type, the variant (read from the key: ``busy`` / ``next`` for areas, the part after ``|``
for day types and seasonal drifts) and the entities agree (in order for sequences and area
transitions, as a set otherwise), and every expected number is within its tolerance of the
number the pattern's evidence gives (:func:`pattern_numbers`). Minutes of the day are
compared round the clock.

Recall counts the required expectations found; precision the found patterns that match an
expectation, required or optional. Optional expectations that are not found cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vigil.patterns.base import Pattern
from vigil.synth.home_truth import Expected

__all__ = ["Score", "matches", "pattern_numbers", "pattern_variant", "score"]

DAY_MINUTES = 1440
ORDERED_TYPES = frozenset({"sequence"})
MINUTE_NUMBERS = frozenset({"minute", "start_minute"})
RELATIVE_NUMBERS = frozenset({"median_s"})


def pattern_variant(pattern: Pattern) -> str:
    """The variant of a found pattern (empty for types that have none)."""
    parts = pattern.key.split("|")
    if pattern.type == "area" and len(parts) > 1:
        return parts[1]
    if pattern.type in ("day_type", "seasonal") and len(parts) > 1:
        return parts[-1]
    return ""


def pattern_numbers(pattern: Pattern) -> dict[str, float]:
    """The key numbers a found pattern reports, named as in :class:`Expected`."""
    evidence = pattern.evidence
    names = {"time_of_day": {"minute": "mean_minute"},
             "sequence": {"median_gap_s": "median_gap_s",
                          "median_second_gap_s": "median_second_gap_s"},
             "duration": {"median_s": "median_s"},
             "session": {"start_minute": "start_minute"},
             "seasonal": {"shift_min_per_month": "shift_min_per_month"}}.get(pattern.type, {})
    found = {ours: float(evidence[theirs]) for ours, theirs in names.items()
             if theirs in evidence}
    if pattern.type == "area" and "hours" in evidence:
        hours = [int(h) for h in evidence["hours"]]
        found.update(first_hour=float(hours[0]), hours=float(len(hours)))
    return found


def _close(name: str, expected: float, found: float, tolerance: float) -> bool:
    if name in MINUTE_NUMBERS:
        diff = abs(found - expected) % DAY_MINUTES
        return min(diff, DAY_MINUTES - diff) <= tolerance
    if name in RELATIVE_NUMBERS:
        return abs(found - expected) <= tolerance * abs(expected)
    return abs(found - expected) <= tolerance


def matches(expected: Expected, pattern: Pattern) -> bool:
    """Whether ``pattern`` is the one ``expected`` describes (module docstring)."""
    if expected.type != pattern.type or expected.variant != pattern_variant(pattern):
        return False
    ordered = expected.type in ORDERED_TYPES or expected.variant == "next"
    if ordered and tuple(pattern.entities) != expected.entities:
        return False
    if not ordered and sorted(pattern.entities) != sorted(expected.entities):
        return False
    numbers = pattern_numbers(pattern)
    return all(name in numbers and _close(name, value, numbers[name],
                                          expected.tolerance(name))
               for name, value in expected.numbers.items())


@dataclass(frozen=True)
class Score:
    """Recall and precision of found patterns against the expectations."""

    required: int
    found: int
    recalled: int
    """Required expectations matched by a found pattern."""
    correct: int
    """Found patterns matching some expectation."""
    missed: tuple[Expected, ...]
    false: tuple[Pattern, ...]

    @property
    def recall(self) -> float:
        return self.recalled / self.required if self.required else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else 1.0


def score(expected: Sequence[Expected], found: Sequence[Pattern]) -> Score:
    """Recall and precision of ``found`` against ``expected`` (module docstring)."""
    required = [e for e in expected if not e.optional]
    missed = tuple(e for e in required if not any(matches(e, p) for p in found))
    false = tuple(p for p in found if not any(matches(e, p) for e in expected))
    return Score(required=len(required), found=len(found),
                 recalled=len(required) - len(missed), correct=len(found) - len(false),
                 missed=missed, false=false)
