"""The rolling rate meter: window sums, rates over the window or the uptime, threads."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.ratemeter import WINDOW_S, RateMeter

steps = st.lists(st.tuples(st.floats(0, 120, allow_nan=False), st.integers(0, 1000)),
                 max_size=60)


@given(steps=steps, tail=st.floats(0, 400, allow_nan=False), seconds=st.integers(0, 400))
def test_last_sums_the_adds_within_the_window(steps: list[tuple[float, int]], tail: float,
                                              seconds: int) -> None:
    meter = RateMeter(started=0.0)
    clock, added = 0.0, []
    for delta, count in steps:
        clock += delta
        meter.add(count, clock)
        added.append((clock, count))
    now = clock + tail
    window_first = math.floor(now) - WINDOW_S + 1
    assert meter.last(WINDOW_S, now) == sum(c for t, c in added
                                            if math.floor(t) >= window_first)
    first = math.floor(now) - min(seconds, WINDOW_S) + 1
    assert meter.last(seconds, now) == sum(c for t, c in added if math.floor(t) >= first)


def test_expiry_at_the_window_edge() -> None:
    meter = RateMeter(started=0.0)
    meter.add(7, 0.2)
    assert meter.last(WINDOW_S, 299.99) == 7
    assert meter.last(WINDOW_S, 300.0) == 0
    assert meter.last(60, 59.5) == 7 and meter.last(60, 60.0) == 0
    assert meter.last(0, 0.5) == 0 and meter.last(1, 0.5) == 7


def test_a_reused_bucket_forgets_its_old_second() -> None:
    meter = RateMeter(started=0.0, window_s=10)
    meter.add(3, 1.0)
    meter.add(4, 11.0)  # the same slot, ten seconds later
    assert meter.last(10, 11.5) == 4
    meter.add(5, 1.5)  # a clock value read long ago: its second has left the window
    assert meter.last(10, 11.5) == 4
    meter.add(2, 10.5)  # late but still inside the window
    assert meter.last(10, 11.5) == 6


def test_rate_over_the_uptime_while_it_is_shorter_than_the_window() -> None:
    meter = RateMeter(started=100.0)
    meter.add(30, 102.0)
    meter.add(12, 110.0)
    assert meter.rate_per_minute(112.0) == pytest.approx(42 * 60 / 12.0)
    assert meter.rate_per_minute(100.0) == 0.0


def test_rate_of_a_first_burst_is_over_at_least_one_second() -> None:
    meter = RateMeter(started=5.0)
    meter.add(10, 5.01)
    assert meter.rate_per_minute(5.02) == pytest.approx(600.0)


def test_rate_over_a_full_window_of_steady_traffic() -> None:
    meter = RateMeter(started=0.0)
    for second in range(2000):
        meter.add(2, second + 0.5)  # 120 events a minute
    assert meter.rate_per_minute(1999.9) == pytest.approx(120.0, rel=0.01)
    assert meter.last(60, 1999.9) == 120
    assert meter.rate_per_minute(1999.9 + WINDOW_S) == 0.0


def test_zero_and_negative_counts_are_ignored() -> None:
    meter = RateMeter(started=0.0)
    meter.add(0, 1.0)
    meter.add(-3, 1.0)
    assert meter.last(WINDOW_S, 1.0) == 0


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_s"):
        RateMeter(started=0.0, window_s=0)


def test_concurrent_adds_are_all_counted() -> None:
    meter = RateMeter(started=0.0)

    def work(offset: float) -> None:
        for i in range(2000):
            meter.add(1, offset + i * 0.01)

    threads = [threading.Thread(target=work, args=(n * 0.001,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert meter.last(WINDOW_S, 20.5) == 8000
