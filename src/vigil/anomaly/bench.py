"""A self-contained throughput probe of :class:`~vigil.anomaly.events.EventScorer`.

The benchmark suite calls :func:`benchmark_scoring`; nothing here runs at import time. The
timer is the only clock read and it measures, never feeds, the computation.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta

from vigil.anomaly.events import EventScorer

_LABELS = ("person", "car", "dog", "cat", "bicycle")


def _trained_scorer(sources: int, rng: random.Random) -> EventScorer:
    scorer = EventScorer()
    start = date(2024, 1, 1)
    for s in range(sources):
        for day in range(56):
            for _ in range(40):
                hour = min(23, max(0, int(rng.gauss(14, 4))))
                scorer.learn(f"cam{s}", rng.choice(_LABELS), 0, hour,
                             local_date=start + timedelta(days=day))
    return scorer


def benchmark_scoring(n: int = 200_000, *, sources: int = 4, seed: int = 0) -> float:
    """Events scored per second by ``EventScorer.score`` (full results) in a plain loop."""
    rng = random.Random(seed)
    scorer = _trained_scorer(sources, rng)
    events = [(f"cam{rng.randrange(sources)}", rng.choice(_LABELS), rng.randrange(7),
               rng.randrange(24), rng.random()) for _ in range(min(n, 10_000))]
    score = scorer.score
    m = len(events)
    begin = time.perf_counter()
    for i in range(n):
        source, label, weekday, hour, confidence = events[i % m]
        score(source, label, weekday, hour, confidence)
    elapsed = time.perf_counter() - begin
    return n / elapsed if elapsed > 0 else float("inf")
