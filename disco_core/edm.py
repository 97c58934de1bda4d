"""EDM diffusion for Euclidean data (Karras et al. 2022), conditioned on DisCo latents.

The raw network F sees c_in * x and c_noise(sigma); the denoiser is
    D(x; sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x; c_noise(sigma)).
Training draws ln(sigma) ~ N(P_mean, P_std^2) and weights the squared error by
lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2, so every sigma contributes equally.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _expand(sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return sigma.reshape(-1, *([1] * (x.dim() - 1)))


class EDMPrecond(nn.Module):
    """Wraps a raw network `net(x_in, c_noise, **conditioning)` into the EDM denoiser D(x; sigma)."""

    def __init__(self, net: nn.Module, sigma_data: float = 0.5):
        super().__init__()
        self.net = net
        self.sigma_data = sigma_data

    def coefficients(self, sigma: torch.Tensor):
        sd = self.sigma_data
        c_skip = sd ** 2 / (sigma ** 2 + sd ** 2)
        c_out = sigma * sd / (sigma ** 2 + sd ** 2).sqrt()
        c_in = 1 / (sd ** 2 + sigma ** 2).sqrt()
        c_noise = sigma.log() / 4
        return c_skip, c_out, c_in, c_noise

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, **conditioning) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand(x.shape[0])
        c_skip, c_out, c_in, c_noise = self.coefficients(sigma)
        F_x = self.net(_expand(c_in, x) * x, c_noise, **conditioning)
        return _expand(c_skip, x) * x + _expand(c_out, x) * F_x.to(x.dtype)


def edm_loss(denoiser: Callable[..., torch.Tensor], x: torch.Tensor, sigma_data: float = 0.5,
             P_mean: float = -1.2, P_std: float = 1.2, generator: torch.Generator | None = None,
             **conditioning) -> torch.Tensor:
    """Per-example weighted denoising loss (mean over data dimensions)."""
    rnd_normal = torch.randn(x.shape[0], device=x.device, generator=generator)
    sigma = (rnd_normal * P_std + P_mean).exp()
    weight = (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2
    noise = torch.randn(x.shape, device=x.device, generator=generator) * _expand(sigma, x)
    D_yn = denoiser(x + noise, sigma, **conditioning)
    return weight * ((D_yn - x) ** 2).flatten(1).mean(dim=1)


def edm_sigma_steps(num_steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0,
                    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, then sigma_N = 0."""
    i = torch.arange(num_steps, dtype=dtype, device=device)
    t = (sigma_max ** (1 / rho) + i / max(num_steps - 1, 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([t, torch.zeros_like(t[:1])])


@torch.no_grad()
def edm_sampler(denoiser: Denoiser, latents: torch.Tensor, num_steps: int = 18, sigma_min: float = 0.002,
                sigma_max: float = 80.0, rho: float = 7.0, heun: bool = True, S_churn: float = 0.0,
                S_min: float = 0.0, S_max: float = float("inf"), S_noise: float = 1.0,
                generator: torch.Generator | None = None, return_trajectory: bool = False):
    """EDM Algorithm 2: the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma, solved with Euler or
    Heun steps on the rho-spaced sigma grid; S_churn > 0 adds the stochastic churn.

    `latents` is unit Gaussian noise; it is scaled by sigma_max here. `denoiser(x, sigma)` takes sigma of shape
    (B,). Returns x_0, or (x_0, trajectory (num_steps+1, *x.shape), sigmas) with `return_trajectory`.
    """
    t_steps = edm_sigma_steps(num_steps, sigma_min, sigma_max, rho, device=latents.device)
    x_next = latents.to(torch.float64) * t_steps[0]
    trajectory = [x_next]

    def D(x, t):
        return denoiser(x.to(latents.dtype), t.to(latents.dtype).expand(x.shape[0])).to(torch.float64)

    for i, (t_cur, t_next) in enumerate(zip(t_steps[:-1], t_steps[1:])):
        x_cur = x_next
        gamma = min(S_churn / num_steps, 2 ** 0.5 - 1) if S_min <= t_cur <= S_max else 0.0
        t_hat = t_cur + gamma * t_cur
        if gamma > 0:
            noise = torch.randn(x_cur.shape, generator=generator, device=x_cur.device, dtype=x_cur.dtype)
            x_hat = x_cur + (t_hat ** 2 - t_cur ** 2).sqrt() * S_noise * noise
        else:
            x_hat = x_cur
        d_cur = (x_hat - D(x_hat, t_hat)) / t_hat          # Euler step
        x_next = x_hat + (t_next - t_hat) * d_cur
        if heun and i < num_steps - 1:                      # 2nd-order correction
            d_prime = (x_next - D(x_next, t_next)) / t_next
            x_next = x_hat + (t_next - t_hat) * (0.5 * d_cur + 0.5 * d_prime)
        trajectory.append(x_next)
    x_out = x_next.to(latents.dtype)
    if return_trajectory:
        return x_out, torch.stack(trajectory).to(latents.dtype), t_steps.to(latents.dtype)
    return x_out
