"""The wrapped normal distribution on the circle, the torsion part of pose diffusion.

Brownian motion on the circle for time sigma^2 has the density of a normal wrapped onto (-pi, pi]:

    p(x; sigma) = sum_k N(x + 2 pi k; 0, sigma^2),

and its score is d/dx log p = sum_k w_k(x) * (-(x + 2 pi k) / sigma^2) with w_k the posterior weight of
image k. Images |k| <= 6 are exact to float64 for sigma <= pi. Everything is computed directly (no
tables): it is a dozen exponentials per angle, done in log space so small sigma does not underflow.
"""

from __future__ import annotations

import math

import torch

_IMAGES = torch.arange(-6, 7, dtype=torch.float64)
_QUADRATURE_POINTS = 2048


def wrap_angle(x: torch.Tensor) -> torch.Tensor:
    """Map angles to [-pi, pi)."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


def _image_offsets(x: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x + 2 pi k) for every image k (last dim) and sigma broadcast alongside, in float64."""
    x, sigma = torch.broadcast_tensors(x.to(torch.float64), torch.as_tensor(sigma, dtype=torch.float64, device=x.device))
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
    x64, s = torch.broadcast_tensors(x.to(torch.float64), torch.as_tensor(sigma, dtype=torch.float64, device=x.device))
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


def expected_score_norm_sq(sigma: torch.Tensor) -> torch.Tensor:
    """E[score(X)^2] for X ~ p(.; sigma): the torsion loss normaliser (-> 1/sigma^2 for small sigma).

    The integrand is smooth and periodic, so the trapezoid rule on a uniform grid converges
    exponentially fast."""
    sigma = torch.as_tensor(sigma)
    grid = torch.linspace(-math.pi, math.pi, _QUADRATURE_POINTS + 1, dtype=torch.float64, device=sigma.device)[:-1]
    s = sigma.to(torch.float64).reshape(-1, 1)
    density = log_density(grid, s).exp()
    values = (density * score(grid, s) ** 2).sum(-1) * (2 * math.pi / _QUADRATURE_POINTS)
    return values.reshape(sigma.shape).to(sigma.dtype if sigma.is_floating_point() else torch.float32)
