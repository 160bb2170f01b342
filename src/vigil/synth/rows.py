"""Event rows as parallel numpy arrays (codes instead of strings) before they become Arrow."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

Int64s = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

DETECTION, ENTRY, EXIT = 0, 1, 2
"""Codes of ``event_type`` (indexes into :data:`vigil.synth.profiles.EVENT_TYPES`)."""


@dataclass(frozen=True)
class Rows:
    """Columnar rows; ``-1`` marks a null code and ``nan`` a null confidence.

    ``person`` indexes the generator's list of person ids, ``age`` and ``gender`` index
    :data:`~vigil.synth.profiles.AGE_GROUPS` and :data:`~vigil.synth.profiles.GENDERS`.
    """

    ts_ms: Int64s
    camera: Int64s
    event_type: Int64s
    label: Int64s
    confidence: Floats
    person: Int64s
    frame: Int64s
    age: Int64s
    gender: Int64s

    def __len__(self) -> int:
        return int(self.ts_ms.size)

    def take(self, order: Int64s) -> Rows:
        """The rows in the given order (or subset)."""
        return Rows(**{f.name: getattr(self, f.name)[order] for f in fields(self)})


def concat_rows(parts: list[Rows]) -> Rows:
    """All parts, one after another."""
    return Rows(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Rows)}
    )


def sort_rows(rows: Rows) -> Rows:
    """Rows sorted by time; ties by event type (entry before exit), then input order."""
    order = np.lexsort((rows.event_type, rows.ts_ms)).astype(np.int64)
    return rows.take(order)


def nulls(n: int) -> Int64s:
    """``n`` null codes."""
    return np.full(n, -1, dtype=np.int64)
