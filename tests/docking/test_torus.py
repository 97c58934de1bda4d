"""Wrapped normal on the circle: normalisation, score (finite differences), sampling (KS), score norm."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from docking.model import torus

SIGMAS = [0.0314, 0.3, 1.0, math.pi]


@pytest.mark.parametrize("sigma", SIGMAS)
def test_density_is_normalised_and_periodic(sigma):
    x = torch.linspace(-math.pi, math.pi, 20001, dtype=torch.float64)
    density = torus.log_density(x, sigma).exp()
    assert abs(torch.trapezoid(density, x).item() - 1) < 1e-6
    assert torch.allclose(torus.log_density(x, sigma), torus.log_density(x + 2 * math.pi, sigma), atol=1e-9)
    assert torch.allclose(torus.cdf(x[-1:], sigma), torch.ones(1, dtype=torch.float64))


@pytest.mark.parametrize("sigma", SIGMAS)
def test_score_matches_finite_differences(sigma):
    x = torch.linspace(-math.pi + 0.01, math.pi - 0.01, 97, dtype=torch.float64)
    h = 1e-6
    finite_diff = (torus.log_density(x + h, sigma) - torus.log_density(x - h, sigma)) / (2 * h)
    assert torch.allclose(torus.score(x, sigma), finite_diff, rtol=1e-5, atol=1e-4)


def test_small_sigma_limit_is_the_gaussian_score():
    x = torch.linspace(-0.1, 0.1, 11, dtype=torch.float64)
    assert torch.allclose(torus.score(x, 0.0314), -x / 0.0314 ** 2)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_sampling_matches_the_wrapped_normal(sigma):
    g = torch.Generator().manual_seed(4)
    samples = torus.sample(torch.full((4000,), sigma, dtype=torch.float64), g)
    assert samples.min() >= -math.pi and samples.max() < math.pi
    wrapped_cdf = lambda v: torus.cdf(torch.from_numpy(np.asarray(v)), sigma).numpy()  # noqa: E731
    assert stats.kstest(samples.numpy(), wrapped_cdf).pvalue > 0.01


@pytest.mark.parametrize("sigma", SIGMAS)
def test_expected_score_norm_matches_monte_carlo(sigma):
    g = torch.Generator().manual_seed(8)
    samples = torus.sample(torch.full((40000,), sigma, dtype=torch.float64), g)
    monte_carlo = (torus.score(samples, sigma) ** 2).mean()
    expected = torus.expected_score_norm_sq(torch.tensor(sigma, dtype=torch.float64))
    assert torch.isclose(monte_carlo, expected, rtol=0.05, atol=1e-4)


def test_expected_score_norm_limits_and_batching():
    sigma = torch.tensor([0.0314, 0.1, math.pi], dtype=torch.float64)
    norms = torus.expected_score_norm_sq(sigma)
    assert torch.allclose(norms[:2], 1 / sigma[:2] ** 2, rtol=1e-6)  # no wrapping at small sigma
    assert norms[2] < 0.01  # nearly uniform at sigma = pi
    assert torus.expected_score_norm_sq(sigma.float()).dtype == torch.float32
    off_grid = torch.tensor([0.0314, 0.2718, 1.234, math.pi], dtype=torch.float64)  # table vs direct quadrature
    direct = torus._score_norm_sq_by_quadrature(off_grid)
    assert torch.allclose(torus.expected_score_norm_sq(off_grid), direct, rtol=1e-4)
