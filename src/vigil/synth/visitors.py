"""The visitor pool: who comes back how often (a capped Zipf law) and what they look like."""

from __future__ import annotations

import math

import numpy as np

from vigil.synth.profiles import (
    AGE_WEIGHTS,
    GENDER_WEIGHTS,
    VISITS_PER_PERSON_DAY_CAP,
    ZIPF_EXPONENT,
)
from vigil.synth.slots import Floats, Int64s


def capped_zipf(size: int, visits: int, cap: float) -> Floats:
    """Visit probabilities of ``size`` persons: Zipf, but nobody expects more than ``cap``.

    The top persons are clipped at ``cap`` expected visits and the rest keeps its Zipf
    proportions (water filling), so regulars come often and most people come once or twice.
    """
    if visits <= 0:
        return np.full(size, 1.0 / size)
    weights = 1.0 / np.arange(1, size + 1, dtype=np.float64) ** ZIPF_EXPONENT
    tail = np.cumsum(weights[::-1])[::-1]  # tail[m] = sum(weights[m:])
    clipped = np.arange(size, dtype=np.float64) * cap
    expected_m = (visits - clipped) * weights / tail
    m = int(np.argmax(expected_m <= cap))
    expected = np.empty(size)
    expected[:m] = cap
    expected[m:] = (visits - m * cap) * weights[m:] / tail[m]
    p: Floats = expected / expected.sum()
    return p


def pool_size(visits: int, pool_ratio: float, days: int) -> int:
    """Persons in a camera's pool: ``pool_ratio`` of visits, enough to honour the cap."""
    cap = VISITS_PER_PERSON_DAY_CAP * days
    return max(1, math.ceil(visits * pool_ratio), math.ceil(1.25 * visits / cap))


def draw_persons(visits: int, pool_ratio: float, days: int, rng: np.random.Generator) -> Int64s:
    """A pool-local person number per visit."""
    size = pool_size(visits, pool_ratio, days)
    p = capped_zipf(size, visits, VISITS_PER_PERSON_DAY_CAP * days)
    persons: Int64s = rng.choice(size, size=visits, p=p).astype(np.int64)
    return persons


def draw_demographics(n: int, rng: np.random.Generator) -> tuple[Int64s, Int64s]:
    """Age-group and gender codes for ``n`` persons."""
    ages = rng.choice(len(AGE_WEIGHTS), size=n, p=np.array(AGE_WEIGHTS) / sum(AGE_WEIGHTS))
    genders = rng.choice(
        len(GENDER_WEIGHTS), size=n, p=np.array(GENDER_WEIGHTS) / sum(GENDER_WEIGHTS)
    )
    return ages.astype(np.int64), genders.astype(np.int64)
