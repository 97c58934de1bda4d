"""Toy networks: a 4-layer MLP denoiser (optionally conditioned on one codebook latent) and a 3-layer MLP
encoder that maps a clean point to the latent's logits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..edm import EDMPrecond, edm_loss
from ..latents import LatentDropout, bounded_logits, codebook_usage_kl, gumbel_softmax_st


@dataclass
class ToyConfig:
    hidden: int = 256           # denoiser width
    encoder_hidden: int = 256   # the encoder's own width, so that a width sweep changes the denoiser alone
    noise_dim: int = 64
    codebook_size: int = 8      # V; one latent (K = 1)
    use_latents: bool = True
    latent_dropout: float = 0.1
    gumbel_tau: float = 1.0
    sigma_data: float = 2.1     # std of the data per coordinate (radius 3 circle)
    P_mean: float = 0.3         # log-normal training sigmas, shifted from EDM's image default (-1.2)
    P_std: float = 1.2          # by ln(2.1 / 0.5) because this data is 4x wider than EDM's sigma_data
    logit_scale: float = 5.0    # bounded encoder logits (see disco_core.latents.bounded_logits)
    usage_weight: float = 1.0   # codebook-usage regulariser (disco_core.latents.codebook_usage_kl)


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())   # SiLU stalls on this data's angular structure; ReLU learns it at once
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
            self.encoder = mlp([2, cfg.encoder_hidden, cfg.encoder_hidden, cfg.codebook_size])
            self.latent_dropout = LatentDropout((1, cfg.codebook_size), cfg.latent_dropout)

    def encoder_logits(self, x: torch.Tensor) -> torch.Tensor:
        return bounded_logits(self.encoder(x), self.cfg.logit_scale)[:, None]      # (B, K=1, V)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if not cfg.use_latents:
            return edm_loss(self.denoiser, x, cfg.sigma_data, cfg.P_mean, cfg.P_std).mean()
        logits = self.encoder_logits(x)
        z = self.latent_dropout(gumbel_softmax_st(logits, cfg.gumbel_tau))
        denoising = edm_loss(self.denoiser, x, cfg.sigma_data, cfg.P_mean, cfg.P_std, z=z).mean()
        return denoising + cfg.usage_weight * codebook_usage_kl(logits)

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return self.denoiser(x, sigma, z=z) if self.cfg.use_latents else self.denoiser(x, sigma)
