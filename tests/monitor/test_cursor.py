"""The detector's batch cursor: exact with one writer, patient with gaps of several."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from vigil.monitor.cursor import BatchCursor


def test_consecutive_batches_move_the_cursor() -> None:
    cursor = BatchCursor(0)
    assert cursor.unseen([1, 2, 3]) == [1, 2, 3]
    cursor.mark_done([1, 2, 3], now=0.0)
    assert cursor.value == 3
    assert cursor.unseen([2, 3, 4]) == [4]


def test_a_gap_holds_the_cursor_until_it_settles() -> None:
    cursor = BatchCursor(10, settle_seconds=30.0)
    cursor.mark_done([11, 13, 14], now=100.0)
    assert cursor.value == 11  # 12 may still commit
    assert cursor.pending_gaps == 1
    assert cursor.unseen([12, 13, 14, 15]) == [12, 15]  # 13 and 14 are not read twice
    cursor.mark_done([], now=120.0)
    assert cursor.value == 11
    cursor.mark_done([], now=130.0)  # 30 s after the gap was first seen: skip it
    assert cursor.value == 14
    assert cursor.pending_gaps == 0


def test_a_late_batch_fills_its_gap() -> None:
    cursor = BatchCursor(0, settle_seconds=30.0)
    cursor.mark_done([2, 3], now=0.0)
    assert cursor.value == 0
    assert cursor.unseen([1, 2, 3]) == [1]
    cursor.mark_done([1], now=5.0)
    assert cursor.value == 3


def test_without_settling_gaps_are_skipped_at_once() -> None:
    cursor = BatchCursor(0)
    cursor.mark_done([5, 9], now=0.0)
    assert cursor.value == 9


@given(st.lists(st.integers(1, 60), unique=True, max_size=40), st.randoms())
def test_every_batch_is_read_once_whatever_the_commit_order(batches: list[int],
                                                             rnd: random.Random) -> None:
    """Batches committing in any order (each within the settle time) are each handed out
    exactly once, the cursor never passes a batch that was not read, and it reaches the
    newest batch once the gaps (numbers never used) have settled."""
    order = batches[:]
    rnd.shuffle(order)
    cursor = BatchCursor(0, settle_seconds=100.0)
    visible: set[int] = set()
    handed: list[int] = []
    now = 0.0
    for batch in order:
        visible.add(batch)
        now += rnd.choice([0.0, 1.0])
        unseen = cursor.unseen(visible)
        handed.extend(unseen)
        cursor.mark_done(unseen, now)
        assert all(b in handed for b in range(1, cursor.value + 1) if b in batches)
    assert sorted(handed) == sorted(batches)
    cursor.mark_done([], now + 1000.0)
    assert cursor.value == max(batches, default=0)
