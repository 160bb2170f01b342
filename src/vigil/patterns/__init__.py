"""Behaviour patterns: routines mined from daily summaries of the event log.

Eight detectors (one module each) summarise every local day once, in the daily rollup job,
and detect patterns from the last N days of those summaries: time of day, co-occurrence,
sequence, duration, session, area, day type and seasonal. See :mod:`vigil.patterns.base`;
:func:`detect_patterns` runs them over the stored summaries and stores what they find.
"""

from __future__ import annotations

from vigil.patterns.base import (
    HOME_ENTITY,
    DaySummary,
    DetectOptions,
    Pattern,
    PatternDetector,
    summary_detector_name,
)
from vigil.patterns.service import PatternRun, detect_patterns, detect_patterns_raw

__all__ = ["HOME_ENTITY", "DaySummary", "DetectOptions", "Pattern", "PatternDetector",
           "PatternRun", "detect_patterns", "detect_patterns_raw", "summary_detector_name"]
