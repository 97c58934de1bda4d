"""Mixture of 8 Gaussians: means on the circle of radius 3 at multiples of 45 degrees, std 0.2."""

import math

import torch


def eight_gaussians(points_per_mode: int = 1000, radius: float = 3.0, std: float = 0.2,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (points (8n, 2), mode index (8n,))."""
    angles = torch.arange(8) * (2 * math.pi / 8)
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    modes = torch.arange(8).repeat_interleave(points_per_mode)
    points = means[modes] + std * torch.randn(len(modes), 2, generator=generator)
    return points, modes


def sample_eight_gaussians(n: int, radius: float = 3.0, std: float = 0.2,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """n i.i.d. draws (random mode counts, as any generative model produces them)."""
    modes = torch.randint(0, 8, (n,), generator=generator)
    angles = modes * (2 * math.pi / 8)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1) + std * torch.randn(n, 2, generator=generator)
