"""How likely a count is by chance alone: the test detectors use to tell routine from noise."""

from __future__ import annotations

import math

__all__ = ["chance_tail"]


def chance_tail(hits: float, trials: int, chance: float) -> float:
    """Chernoff bound on the probability of at least ``hits`` successes in ``trials``
    independent trials of mean success chance ``chance`` (it also bounds trials of unequal
    chances with that mean)."""
    if trials <= 0 or hits <= trials * chance:
        return 1.0
    if chance <= 0.0:
        return 0.0
    share = min(1.0, hits / trials)
    kl = share * math.log(share / chance)
    if share < 1.0:
        kl += (1.0 - share) * math.log((1.0 - share) / (1.0 - chance))
    return math.exp(-trials * kl)
