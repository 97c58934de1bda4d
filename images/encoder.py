"""The DisCo image encoder: a small ViT with a convolutional stem and K classification tokens. The clean
image becomes a grid of patch tokens; K learned query tokens are prepended, a transformer mixes all of
them, and each classification token is read out as the logits of one latent over V codes (B, K, V)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class EncoderConfig:
    dim: int = 64        # token width
    depth: int = 2       # transformer layers
    heads: int = 4


def _halved(size: int) -> int:
    return (size + 1) // 2          # a 3x3 stride-2 convolution with padding 1


class LatentEncoder(nn.Module):
    """images (B, C, H, W) in [-1, 1] -> logits (B, K, V) of K codebook latents."""

    def __init__(self, cfg: EncoderConfig, image_size: int, in_channels: int, num_latents: int, codebook_size: int):
        super().__init__()
        self.num_latents = num_latents
        d = cfg.dim
        self.stem = nn.Sequential(                      # 4x downsampling: 28 -> 7 patch grid
            nn.Conv2d(in_channels, d // 2, 3, padding=1), nn.SiLU(),
            nn.Conv2d(d // 2, d, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(d, d, 3, stride=2, padding=1))
        grid = _halved(_halved(image_size))
        self.patch_position = nn.Parameter(torch.randn(grid * grid, d) / math.sqrt(d))
        self.class_tokens = nn.Parameter(torch.randn(num_latents, d) / math.sqrt(d))
        layer = nn.TransformerEncoderLayer(d, cfg.heads, dim_feedforward=4 * d, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.to_logits = nn.Linear(d, codebook_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        patches = self.stem(images).flatten(2).transpose(1, 2) + self.patch_position      # (B, P, D)
        queries = self.class_tokens.expand(images.shape[0], -1, -1)                     # (B, K, D)
        h = self.transformer(torch.cat([queries, patches], dim=1))
        return self.to_logits(self.norm(h[:, : self.num_latents]))
