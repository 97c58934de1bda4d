"""Toy networks: a 4-layer MLP denoiser (optionally conditioned on one codebook latent) and a 3-layer MLP
encoder that maps a clean point to the latent's logits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..edm import EDMPrecond, edm_loss
from ..latents import LatentDropout, gumbel_softmax_st


@dataclass
class ToyConfig:
    hidden: int = 256
    noise_dim: int = 64
    codebook_size: int = 8      # V; one latent (K = 1)
    use_latents: bool = True
    latent_dropout: float = 0.1
    gumbel_tau: float = 1.0
    sigma_data: float = 2.1     # std of the data per coordinate (radius 3 circle)


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class FourierNoiseEmbedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("freqs", torch.randn(dim // 2) * 4.0)

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        phase = 2 * torch.pi * c_noise[:, None] * self.freqs[None]
        return torch.cat([phase.cos(), phase.sin()], dim=1)


class ToyDenoiserNet(nn.Module):
    """F(c_in x, c_noise, z): 4 linear layers; z is a one-hot code (B, 1, V) or a learned null."""

    def __init__(self, cfg: ToyConfig):
        super().__init__()
        self.noise_embed = FourierNoiseEmbedding(cfg.noise_dim)
        latent_dim = cfg.codebook_size if cfg.use_latents else 0
        self.body = mlp([2 + cfg.noise_dim + latent_dim] + [cfg.hidden] * 3 + [2])

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        parts = [x, self.noise_embed(c_noise)] + ([z.flatten(1)] if z is not None else [])
        return self.body(torch.cat(parts, dim=1))


class ToyDisco(nn.Module):
    """Encoder + EDM-preconditioned denoiser; with `use_latents=False` it is the plain EDM baseline."""

    def __init__(self, cfg: ToyConfig):
        super().__init__()
        self.cfg = cfg
        self.denoiser = EDMPrecond(ToyDenoiserNet(cfg), cfg.sigma_data)
        if cfg.use_latents:
            self.encoder = mlp([2, cfg.hidden, cfg.hidden, cfg.codebook_size])
            self.latent_dropout = LatentDropout((1, cfg.codebook_size), cfg.latent_dropout)

    def encode(self, x: torch.Tensor, tau: float | None = None, hard: bool = True) -> torch.Tensor:
        logits = self.encoder(x)[:, None]                            # (B, K=1, V)
        return gumbel_softmax_st(logits, self.cfg.gumbel_tau if tau is None else tau, hard)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        if not self.cfg.use_latents:
            return edm_loss(self.denoiser, x, self.cfg.sigma_data).mean()
        z = self.latent_dropout(self.encode(x))
        return edm_loss(self.denoiser, x, self.cfg.sigma_data, z=z).mean()

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return self.denoiser(x, sigma, z=z) if self.cfg.use_latents else self.denoiser(x, sigma)
