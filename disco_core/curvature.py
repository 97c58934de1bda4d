"""The paper's two measures of how hard the diffusion ODE is to integrate.

- Trajectory curvature: how fast the unit tangent of the ODE trajectory turns. With the trajectory stored
  on a sigma grid, the tangent of step i is u_i = (x_{i+1} - x_i) / |x_{i+1} - x_i| and the turning at
  sigma_{i+1} is the angle between u_i and u_{i+1} (radians per solver step). A straight trajectory has 0.
  Compare models on the same sigma grid.
- Denoiser Jacobian: ||dD(x; sigma)/dx||_F^2, exactly for small dimensions, otherwise by Hutchinson probes
  E_v ||J v||^2 with v ~ N(0, I).
"""

from __future__ import annotations

from typing import Callable

import torch


def trajectory_turning(trajectory: torch.Tensor, sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """trajectory (T, B, ...) on sigmas (T,) -> (angles (T-2, B), sigma at which each turn happens (T-2,))."""
    steps = (trajectory[1:] - trajectory[:-1]).flatten(2).double()
    unit = steps / steps.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    cosine = (unit[1:] * unit[:-1]).sum(-1).clamp(-1.0, 1.0)
    return torch.arccos(cosine).to(trajectory.dtype), sigmas[1:-1]


def mean_curvature(trajectory: torch.Tensor, sigmas: torch.Tensor) -> float:
    """Mean turning angle per step over trajectories and time (the scalar the toy and image reports use)."""
    angles, _ = trajectory_turning(trajectory, sigmas)
    return float(angles.mean())


def jacobian_frobenius(denoiser: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
                       sigma: float, num_probes: int = 8, generator: torch.Generator | None = None) -> torch.Tensor:
    """||dD/dx||_F^2 per example, (B,). Exact when the data dimension is <= num_probes (basis probes)."""
    dim = x[0].numel()
    sigma_t = torch.full((x.shape[0],), float(sigma), dtype=x.dtype, device=x.device)

    def f(inp):
        return denoiser(inp, sigma_t)

    exact = dim <= num_probes
    probes = (torch.eye(dim, dtype=x.dtype, device=x.device) if exact else
              torch.randn(num_probes, dim, dtype=x.dtype, device=x.device, generator=generator))
    total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for v in probes:
        tangent = v.view(1, *x.shape[1:]).expand_as(x).contiguous()
        _, jv = torch.func.jvp(f, (x,), (tangent,))
        total += jv.flatten(1).pow(2).sum(1)
    return total if exact else total / num_probes
