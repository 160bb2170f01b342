"""Dwell analytics: visit sessions from person entry/exit events, and their summaries.

``pair_sessions`` (pure, vectorised) turns a table of ``entry``/``exit`` events into
sessions with a status (``complete``, ``open``, ``timed_out``, ``orphan_exit``); the pairing
rules are documented in :mod:`vigil.dwell.pairing`. ``summarize_sessions`` counts sessions
per status and computes duration statistics from complete sessions only.

Usage::

    from vigil.dwell import pair_sessions, summarize_sessions

    sessions = pair_sessions(events, by="zone", data_end=newest_event_ts)
    summary = summarize_sessions(sessions)
"""

from vigil.dwell.pairing import (
    DEFAULT_MAX_SESSION,
    SESSION_SCHEMA,
    STATUSES,
    GroupBy,
    pair_sessions,
)
from vigil.dwell.summary import DurationStats, SessionSummary, summarize_sessions

__all__ = [
    "DEFAULT_MAX_SESSION",
    "SESSION_SCHEMA",
    "STATUSES",
    "DurationStats",
    "GroupBy",
    "SessionSummary",
    "pair_sessions",
    "summarize_sessions",
]
