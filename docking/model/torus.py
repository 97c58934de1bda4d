"""The wrapped normal distribution on the circle, the torsion part of pose diffusion.

Brownian motion on the circle for time sigma^2 has the density of a normal wrapped onto (-pi, pi]:

    p(x; sigma) = sum_k N(x + 2 pi k; 0, sigma^2),

and its score is d/dx log p = sum_k w_k(x) * (-(x + 2 pi k) / sigma^2) with w_k the posterior weight of
image k. Images |k| <= 6 are exact to float64 for sigma <= 4 (the schedule ends at pi). Density, score
and CDF are computed directly, a dozen exponentials per angle, in log space so small sigma does not
underflow. Only the expected squared score norm, an integral, is tabulated over sigma (once per process).
"""

from __future__ import annotations

import functools
import math

import torch

_IMAGES = torch.arange(-6, 7, dtype=torch.float64)
_QUADRATURE_POINTS = 512  # spacing < sigma / 4 for sigma >= 0.05: error < exp(-300)


def wrap_angle(x: torch.Tensor) -> torch.Tensor:
    """Map angles to [-pi, pi)."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


def _image_offsets(x: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x + 2 pi k) for every image k (last dim) and sigma broadcast alongside, in float64."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device)
    x, sigma = torch.broadcast_tensors(x.to(torch.float64), sigma)
    images = _IMAGES.to(x.device)
    return wrap_angle(x)[..., None] + 2 * math.pi * images, sigma[..., None]


def log_density(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """log p(x; sigma) of the wrapped normal with mean 0, w.r.t. arc length on (-pi, pi]."""
    shifted, s = _image_offsets(x, sigma)
    log_terms = -0.5 * (shifted / s) ** 2 - torch.log(s) - 0.5 * math.log(2 * math.pi)
    return torch.logsumexp(log_terms, -1).to(x.dtype)


def score(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """d/dx log p(x; sigma)."""
    shifted, s = _image_offsets(x, sigma)
    weights = torch.softmax(-0.5 * (shifted / s) ** 2, -1)
    return (weights * (-shifted / s ** 2)).sum(-1).to(x.dtype)


def cdf(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """P(X <= x) for X wrapped normal on [-pi, pi) and x in [-pi, pi]: sum over images of normal-CDF
    differences."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device)
    x64, s = torch.broadcast_tensors(x.to(torch.float64), sigma)
    shifted, s = x64.clamp(-math.pi, math.pi)[..., None] + 2 * math.pi * _IMAGES.to(x.device), s[..., None]
    lower = (-math.pi + 2 * math.pi * _IMAGES.to(x.device)) / s
    normal_cdf = lambda z: 0.5 * torch.erfc(-z / math.sqrt(2))  # noqa: E731
    return (normal_cdf(shifted / s) - normal_cdf(lower)).sum(-1).to(x.dtype)


def sample(sigma: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Samples wrapped onto [-pi, pi), one per entry of sigma."""
    sigma = torch.as_tensor(sigma)
    noise = torch.randn(sigma.shape, generator=generator, dtype=torch.float64,
                        device=generator.device if generator is not None else "cpu")
    return wrap_angle(noise.to(sigma.device) * sigma.to(torch.float64)).to(sigma.dtype)


def _score_norm_sq_by_quadrature(sigma: torch.Tensor) -> torch.Tensor:
    """E[score(X)^2] = integral of p'^2 / p for sigma (S,) >= 0.05, float64. The integrand is smooth and
    periodic, so the trapezoid rule on a uniform grid converges exponentially fast. Plain (not log-space)
    sums: where p underflows, so does the integrand."""
    grid = torch.linspace(-math.pi, math.pi, _QUADRATURE_POINTS + 1, dtype=torch.float64)[:-1]
    shifted = grid[:, None] + 2 * math.pi * _IMAGES  # (X, K)
    values = []
    for s in sigma.to(torch.float64).reshape(-1, 1, 1).split(128):
        gauss = torch.exp(-0.5 * (shifted / s) ** 2)  # unnormalised; the constant cancels in p'^2 / p
        p = gauss.sum(-1)
        dp = (-shifted / s ** 2 * gauss).sum(-1)
        integrand = torch.where(p > 0, dp ** 2 / p.clamp_min(1e-300), torch.zeros_like(p))
        values.append(integrand.sum(-1) * (2 * math.pi / _QUADRATURE_POINTS) / (s[:, 0, 0] * math.sqrt(2 * math.pi)))
    return torch.cat(values)


@functools.lru_cache(maxsize=1)
def _score_norm_table() -> tuple[torch.Tensor, torch.Tensor]:
    """(log sigma grid, log E[score^2]) on 1024 log-spaced sigmas in [0.05, 4] (a fraction of a second,
    once). Below 0.05 the images k != 0 weigh less than exp(-2000): the value is the unwrapped 1/sigma^2."""
    sigma = torch.logspace(math.log10(0.05), math.log10(4.0), 1024, dtype=torch.float64)
    return sigma.log(), _score_norm_sq_by_quadrature(sigma).log()


def expected_score_norm_sq(sigma: torch.Tensor) -> torch.Tensor:
    """E[score(X)^2] for X ~ p(.; sigma): the torsion loss normaliser (-> 1/sigma^2 for small sigma).

    Interpolated linearly in (log sigma, log value) from a table computed once; below the table it is
    the unwrapped 1/sigma^2, above it is held at the last value (the distribution is uniform there)."""
    sigma = torch.as_tensor(sigma)
    log_grid, log_norm = _score_norm_table()
    x = sigma.detach().to(torch.float64).cpu().log().clamp(max=float(log_grid[-1])).reshape(-1)
    step = float(log_grid[1] - log_grid[0])
    col = ((x - log_grid[0]) / step).floor().long().clamp(0, len(log_grid) - 2)
    weight = (x - log_grid[col]) / step
    values = (log_norm[col] * (1 - weight) + log_norm[col + 1] * weight).exp()
    values = torch.where(x < log_grid[0], (-2 * x).exp(), values).reshape(sigma.shape)
    return values.to(dtype=sigma.dtype if sigma.is_floating_point() else torch.float32, device=sigma.device)
