"""Anomaly results and severity thresholds shared by every scorer.

A result is a small frozen value: what kind of anomaly (``type``), how anomalous on a 0..1
scale (``score``), how bad (``severity``: ``None`` when the score is below the lowest
threshold, else ``"low"``, ``"medium"`` or ``"high"``), one human-readable sentence and the
numbers the score was computed from (``components``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["low", "medium", "high"]
AnomalyType = Literal["rare_time", "novel_object", "spike", "silence"]

SEVERITY_RANK: dict[Severity | None, int] = {None: 0, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True, slots=True)
class SeverityThresholds:
    """Score cut-offs: ``score >= high`` is high, ``>= medium`` medium, ``>= low`` low."""

    low: float
    medium: float
    high: float

    def __post_init__(self) -> None:
        if not 0.0 < self.low <= self.medium <= self.high <= 1.0:
            raise ValueError("thresholds must satisfy 0 < low <= medium <= high <= 1")

    def classify(self, score: float) -> Severity | None:
        """The severity of ``score`` (``None`` below ``low``)."""
        if score >= self.high:
            return "high"
        if score >= self.medium:
            return "medium"
        if score >= self.low:
            return "low"
        return None


@dataclass(frozen=True, slots=True)
class AnomalyResult:
    """One scored observation (an event or a closed hour)."""

    type: AnomalyType
    score: float
    severity: Severity | None
    explanation: str
    components: dict[str, float | int | bool | str | None]

    @property
    def is_anomaly(self) -> bool:
        """True when the score reached at least the ``low`` threshold."""
        return self.severity is not None

    def at_least(self, severity: Severity) -> bool:
        """True when this result's severity is ``severity`` or worse."""
        return SEVERITY_RANK[self.severity] >= SEVERITY_RANK[severity]
