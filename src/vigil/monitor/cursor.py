"""Which event batches the detector has seen: a cursor plus the batches just above it.

Every committed insert stamps its events with a batch number from an increasing sequence.
With one writer (a DuckDB file) batches become visible in number order, so "everything up
to the highest batch seen" is exact. With several PostgreSQL workers a lower number can
commit after a higher one, and some numbers never appear at all (a batch of duplicates
only, a rolled-back insert). So the cursor only moves past a missing number once that gap
has stayed open for ``settle_seconds``; batches above the cursor that were seen already
are remembered and skipped. Pure: the caller passes the (monotonic) time in.
"""

from __future__ import annotations

from collections.abc import Iterable


class BatchCursor:
    """Tracks processed batch numbers; :attr:`value` is safe to persist and resume from."""

    def __init__(self, start: int, settle_seconds: float = 0.0) -> None:
        self.value = start
        self.settle_seconds = settle_seconds
        self._done: set[int] = set()  # processed batches above the cursor
        self._gaps: dict[int, float] = {}  # first missing batch of a gap -> when first seen

    def unseen(self, batches: Iterable[int]) -> list[int]:
        """The batches (numbers above the cursor) not processed yet, in order."""
        return sorted(b for b in batches if b > self.value and b not in self._done)

    def mark_done(self, batches: Iterable[int], now: float) -> None:
        """Note batches as processed, then move the cursor as far as it may go."""
        self._done.update(b for b in batches if b > self.value)
        self._advance(now)

    def _advance(self, now: float) -> None:
        if self._done and self.settle_seconds > 0:  # every missing number waits from now on
            for missing in range(self.value + 1, max(self._done)):
                if missing not in self._done:
                    self._gaps.setdefault(missing, now)
        while self._done:
            nxt = self.value + 1
            if nxt in self._done:
                self._done.discard(nxt)
                self.value = nxt
                self._gaps.pop(nxt, None)
                continue
            since = self._gaps.setdefault(nxt, now)
            if now - since < self.settle_seconds:
                return
            # The gap has settled: skip the missing number.
            del self._gaps[nxt]
            self.value = nxt
        self._gaps.clear()

    @property
    def pending_gaps(self) -> int:
        """Gaps below processed batches that are still waiting to settle."""
        return len(self._gaps)
