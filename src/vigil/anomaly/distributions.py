"""Poisson and negative-binomial tail probabilities, in pure Python (no scipy).

The negative binomial is parametrised by its mean and variance (method of moments):
``p = mean / var`` and ``r = mean**2 / (var - mean)``; when ``var <= mean`` it falls back to
the Poisson distribution with the same mean (also when ``r`` is huge). Tails are computed
through the regularised incomplete beta and gamma functions (continued fractions, as in
Numerical Recipes), so even very small tail probabilities keep their relative precision:

- Poisson: ``P(X <= k) = Q(k + 1, mean)``, ``P(X >= k) = P(k, mean)``;
- negative binomial: ``P(X <= k) = I_p(r, k + 1)``, ``P(X >= k) = I_(1-p)(k, r)``.
"""

from __future__ import annotations

import math

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 100_000
MAX_SHAPE = 1e6  # beyond this r the negative binomial is the Poisson to within ~mean/r


def _gamma_series(a: float, x: float) -> float:
    """Regularised lower incomplete gamma ``P(a, x)`` by its series (good for x < a + 1)."""
    term = total = 1.0 / a
    ap = a
    for _ in range(_MAX_ITER):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return min(1.0, total * math.exp(-x + a * math.log(x) - math.lgamma(a)))


def _gamma_cf(a: float, x: float) -> float:
    """Regularised upper incomplete gamma ``Q(a, x)`` by a continued fraction (x >= a + 1)."""
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d, c, delta = _lentz_step(d, c, an, b)
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - math.lgamma(a)) * h)


def _lentz_step(d: float, c: float, a_term: float, b_term: float
                ) -> tuple[float, float, float]:
    """One step of the modified Lentz method: the new ``d`` and ``c`` and the factor by
    which the continued fraction's value changes."""
    d = b_term + a_term * d
    d = _TINY if abs(d) < _TINY else d
    c = b_term + a_term / c
    c = _TINY if abs(c) < _TINY else c
    d = 1.0 / d
    return d, c, d * c


def gamma_lower(a: float, x: float) -> float:
    """Regularised lower incomplete gamma function ``P(a, x)``, for ``a > 0``, ``x >= 0``."""
    if x <= 0.0:
        return 0.0
    return _gamma_series(a, x) if x < a + 1.0 else 1.0 - _gamma_cf(a, x)


def gamma_upper(a: float, x: float) -> float:
    """Regularised upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``."""
    if x <= 0.0:
        return 1.0
    return 1.0 - _gamma_series(a, x) if x < a + 1.0 else _gamma_cf(a, x)


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = _TINY if abs(d) < _TINY else d
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_ITER):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d, c, even = _lentz_step(d, c, aa, 1.0)
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d, c, delta = _lentz_step(d, c, aa, 1.0)
        h *= even * delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def beta_inc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function ``I_x(a, b)``, for ``a, b > 0``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return min(1.0, math.exp(log_front) * _beta_cf(a, b, x) / a)
    return max(0.0, 1.0 - math.exp(log_front) * _beta_cf(b, a, 1.0 - x) / b)


def poisson_cdf(k: int, mean: float) -> float:
    """``P(X <= k)`` for ``X ~ Poisson(mean)``."""
    if k < 0:
        return 0.0
    if mean <= 0.0:
        return 1.0
    return gamma_upper(k + 1.0, mean)


def poisson_sf(k: int, mean: float) -> float:
    """``P(X >= k)`` for ``X ~ Poisson(mean)`` (note: *at least* k, not more than k)."""
    if k <= 0:
        return 1.0
    if mean <= 0.0:
        return 0.0
    return gamma_lower(float(k), mean)


def nb_params(mean: float, var: float) -> tuple[float, float] | None:
    """``(r, p)`` of the negative binomial with this mean and variance; ``None`` if Poisson.

    Poisson also when ``r`` would exceed :data:`MAX_SHAPE` (``var`` above ``mean`` only by
    rounding noise), where the two distributions coincide for practical purposes.
    """
    if mean <= 0.0 or var <= mean:
        return None
    r = mean * mean / (var - mean)
    return None if r > MAX_SHAPE else (r, mean / var)


def nb_cdf(k: int, mean: float, var: float) -> float:
    """``P(X <= k)`` for the negative binomial with ``mean`` and ``var`` (Poisson if var<=mean)."""
    params = nb_params(mean, var)
    if params is None:
        return poisson_cdf(k, mean)
    if k < 0:
        return 0.0
    r, p = params
    return beta_inc(r, k + 1.0, p)


def nb_sf(k: int, mean: float, var: float) -> float:
    """``P(X >= k)`` for the negative binomial with ``mean`` and ``var`` (Poisson if var<=mean)."""
    params = nb_params(mean, var)
    if params is None:
        return poisson_sf(k, mean)
    if k <= 0:
        return 1.0
    r, p = params
    return beta_inc(float(k), r, 1.0 - p)


def nb_pmf(k: int, mean: float, var: float) -> float:
    """``P(X = k)`` for the negative binomial with ``mean`` and ``var`` (Poisson if var<=mean).

    A cheap lower bound of both tails at ``k`` (used to skip exact tails that cannot be small).
    """
    if k < 0:
        return 0.0
    if mean <= 0.0:
        return 1.0 if k == 0 else 0.0
    params = nb_params(mean, var)
    if params is None:
        return math.exp(k * math.log(mean) - mean - math.lgamma(k + 1.0))
    r, p = params
    log_pmf = (math.lgamma(k + r) - math.lgamma(r) - math.lgamma(k + 1.0)
               + r * math.log(p) + k * math.log1p(-p))
    return math.exp(log_pmf)
