"""Poisson / negative-binomial tails: exact values, monotonicity, the Poisson limit."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from vigil.anomaly import nb_cdf, nb_params, nb_sf, poisson_cdf, poisson_sf

means = st.floats(min_value=0.05, max_value=200.0)
counts = st.integers(min_value=0, max_value=400)


def _poisson_pmf(k: int, mean: float) -> float:
    return math.exp(k * math.log(mean) - mean - math.lgamma(k + 1))


def test_poisson_exact_values() -> None:
    assert math.isclose(poisson_cdf(1, 2.0), 3 * math.exp(-2), rel_tol=1e-12)
    assert math.isclose(poisson_sf(2, 2.0), 1 - 3 * math.exp(-2), rel_tol=1e-12)
    assert poisson_sf(0, 5.0) == 1.0 and poisson_cdf(-1, 5.0) == 0.0


def test_geometric_is_nb_with_r_one() -> None:
    p = 0.3
    mean, var = (1 - p) / p, (1 - p) / p**2
    r, q = nb_params(mean, var) or (0.0, 0.0)
    assert math.isclose(r, 1.0) and math.isclose(q, p)
    assert math.isclose(nb_cdf(4, mean, var), 1 - (1 - p) ** 5, rel_tol=1e-12)
    assert math.isclose(nb_sf(5, mean, var), (1 - p) ** 5, rel_tol=1e-12)


def test_tiny_tails_keep_precision() -> None:
    expected = sum(_poisson_pmf(k, 10.0) for k in range(100, 200))
    assert math.isclose(poisson_sf(100, 10.0), expected, rel_tol=1e-9)


def test_rounding_noise_in_variance_is_poisson() -> None:
    mean = 1 / 7
    assert nb_params(mean, mean * (1 + 1e-15)) is None
    assert math.isclose(nb_cdf(0, mean, mean * (1 + 1e-15)), math.exp(-mean), rel_tol=1e-12)


@given(means, st.floats(min_value=1.0, max_value=50.0), counts)
def test_tails_in_unit_interval_and_complementary(mean: float, ratio: float, k: int) -> None:
    var = mean * ratio
    low, high = nb_cdf(k, mean, var), nb_sf(k + 1, mean, var)
    assert 0.0 <= low <= 1.0 and 0.0 <= high <= 1.0
    assert math.isclose(low + high, 1.0, abs_tol=1e-9)


@given(means, st.floats(min_value=1.0, max_value=50.0), counts)
def test_tails_monotone_in_k(mean: float, ratio: float, k: int) -> None:
    var = mean * ratio
    assert nb_cdf(k, mean, var) <= nb_cdf(k + 1, mean, var) + 1e-12
    assert nb_sf(k + 1, mean, var) <= nb_sf(k, mean, var) + 1e-12


@given(means, counts)
def test_nb_is_poisson_when_variance_equals_mean(mean: float, k: int) -> None:
    assert nb_cdf(k, mean, mean) == poisson_cdf(k, mean)
    assert nb_sf(k, mean, mean) == poisson_sf(k, mean)
    near = nb_cdf(k, mean, mean * (1 + 1e-7))  # continuity: a hair of over-dispersion
    assert math.isclose(near, poisson_cdf(k, mean), rel_tol=1e-4, abs_tol=1e-12)


@given(st.floats(min_value=0.5, max_value=50.0), st.integers(min_value=0, max_value=60))
def test_nb_cdf_matches_pmf_sum(mean: float, k: int) -> None:
    var = 2.5 * mean
    r, p = nb_params(mean, var) or (0.0, 0.0)
    pmf = [math.exp(math.lgamma(j + r) - math.lgamma(r) - math.lgamma(j + 1)
                    + r * math.log(p) + j * math.log1p(-p)) for j in range(k + 1)]
    assert math.isclose(nb_cdf(k, mean, var), sum(pmf), rel_tol=1e-8, abs_tol=1e-14)
