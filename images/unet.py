"""The denoiser network F of EDM for images: an ADM-style U-Net (Dhariwal & Nichol 2021, as configured in
EDM) conditioned on the noise level, an optional class label and the DisCo latents.

Conditioning, as in DisCo-Diff:
  emb    = MLP(positional(c_noise)) + class_embed(y) + MLP(flatten(latent tokens))      (added, per block)
  tokens = z W + position_k          z: K one-hot codes (B, K, V) -> K latent tokens (B, K, D)
Every residual block modulates its normalised features with emb (adaptive scale and shift); at the
`cross_attention_resolutions` the image features also attend to the K latent tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class UNetConfig:
    model_channels: int = 32                           # channels at the input resolution
    channel_mult: tuple[int, ...] = (1, 2, 2)          # per resolution level; each level halves the size
    num_blocks: int = 1                                # residual blocks per level (the decoder has one more)
    attention_resolutions: tuple[int, ...] = (7,)      # self-attention at these feature-map sizes
    cross_attention_resolutions: tuple[int, ...] = (14, 7)   # attend to the latent tokens at these sizes
    head_channels: int = 32                            # channels per attention head
    latent_dim: int = 64                               # width of a latent token
    dropout: float = 0.0


def group_norm(channels: int) -> nn.GroupNorm:
    """Up to 32 groups of at least 4 channels each."""
    groups = max(min(32, channels // 4), 1)
    while channels % groups:
        groups -= 1
    return nn.GroupNorm(groups, channels, eps=1e-6)


def zero_init(module: nn.Module) -> nn.Module:
    """Residual branches start as the identity, which keeps early training stable."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class NoiseEmbedding(nn.Module):
    """Sinusoidal embedding of c_noise = ln(sigma) / 4, which spans about [-1.6, 1.1] for sigma in
    [0.002, 80]; geometric frequencies from 1 to `max_frequency` resolve it from coarse to fine."""

    def __init__(self, channels: int, max_frequency: float = 200.0):
        super().__init__()
        exponents = torch.arange(channels // 2, dtype=torch.float32) / max(channels // 2 - 1, 1)
        self.register_buffer("freqs", max_frequency ** exponents, persistent=False)

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        phase = c_noise.float()[:, None] * self.freqs[None]
        return torch.cat([phase.cos(), phase.sin()], dim=1)


class Attention(nn.Module):
    """Multi-head attention from image positions (queries) to a context: the image itself (self-attention)
    or the latent tokens (cross-attention). Added residually; the output projection starts at zero."""

    def __init__(self, channels: int, head_channels: int, context_dim: int | None = None):
        super().__init__()
        self.heads = max(channels // head_channels, 1)
        self.norm = group_norm(channels)
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(context_dim or channels, 2 * channels)
        self.out = zero_init(nn.Linear(channels, channels))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        B, C, H, W = x.shape
        h = self.norm(x).flatten(2).transpose(1, 2)                       # (B, HW, C)
        context = h if context is None else context                      # (B, T, D)
        q = self.q(h).view(B, H * W, self.heads, -1).transpose(1, 2)
        k, v = self.kv(context).view(B, context.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, H * W, C)
        return x + self.out(attended).transpose(1, 2).view(B, C, H, W)


class ResBlock(nn.Module):
    """GN-SiLU-conv, then GN modulated by emb: h * (1 + scale) + shift, SiLU-dropout-conv; plus the skip.
    Optionally followed by self-attention and cross-attention to the latent tokens."""

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, dropout: float, head_channels: int,
                 self_attention: bool = False, latent_dim: int | None = None):
        super().__init__()
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.affine = nn.Linear(emb_dim, 2 * out_channels)
        self.norm2 = group_norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        self.self_attention = Attention(out_channels, head_channels) if self_attention else None
        self.cross_attention = Attention(out_channels, head_channels, latent_dim) if latent_dim else None

    def forward(self, x: torch.Tensor, emb: torch.Tensor, latent_tokens: torch.Tensor | None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.affine(emb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(self.norm2(h) * (1 + scale) + shift)
        x = self.skip(x) + self.conv2(self.dropout(h))
        if self.self_attention is not None:
            x = self.self_attention(x)
        if self.cross_attention is not None and latent_tokens is not None:
            x = self.cross_attention(x, latent_tokens)
        return x


class UNet(nn.Module):
    """F(x_in, c_noise, class_labels=None, z=None) for images of `image_size` with `in_channels`.

    `num_classes` > 0 adds a class embedding; `num_latents` K > 0 with `codebook_size` V adds the latent
    conditioning (z: (B, K, V) one-hot codes, or the learned null of latent dropout)."""

    def __init__(self, cfg: UNetConfig, image_size: int, in_channels: int, num_classes: int = 0,
                 num_latents: int = 0, codebook_size: int = 0):
        super().__init__()
        levels = len(cfg.channel_mult)
        if image_size % 2 ** (levels - 1):
            raise ValueError(f"image size {image_size} is not divisible by 2^{levels - 1} for {levels} levels")
        self.cfg, self.num_classes, self.num_latents = cfg, num_classes, num_latents
        ch = cfg.model_channels
        emb_dim = 4 * ch
        self.noise_embed = NoiseEmbedding(ch)
        self.noise_mlp = nn.Sequential(nn.Linear(ch, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_embed = nn.Embedding(num_classes, emb_dim) if num_classes else None
        latent_dim = None
        if num_latents:
            latent_dim = cfg.latent_dim
            self.code_embed = nn.Linear(codebook_size, latent_dim, bias=False)
            self.latent_position = nn.Parameter(torch.randn(num_latents, latent_dim) / math.sqrt(latent_dim))
            self.latent_mlp = nn.Sequential(nn.Linear(num_latents * latent_dim, emb_dim), nn.SiLU(),
                                            nn.Linear(emb_dim, emb_dim))

        def block(c_in: int, c_out: int, resolution: int) -> ResBlock:
            cross = latent_dim if resolution in cfg.cross_attention_resolutions else None
            return ResBlock(c_in, c_out, emb_dim, cfg.dropout, cfg.head_channels,
                            resolution in cfg.attention_resolutions, cross)

        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)
        self.encoder = nn.ModuleList()
        skip_channels = [ch]
        c, resolution = ch, image_size
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_blocks):
                self.encoder.append(block(c, ch * mult, resolution))
                c = ch * mult
                skip_channels.append(c)
            if level < levels - 1:
                self.encoder.append(nn.Conv2d(c, c, 3, stride=2, padding=1))     # downsample
                resolution //= 2
                skip_channels.append(c)
        self.middle = nn.ModuleList([ResBlock(c, c, emb_dim, cfg.dropout, cfg.head_channels, True, latent_dim),
                                     ResBlock(c, c, emb_dim, cfg.dropout, cfg.head_channels, False, None)])
        self.decoder = nn.ModuleList()
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            for _ in range(cfg.num_blocks + 1):
                self.decoder.append(block(c + skip_channels.pop(), ch * mult, resolution))
                c = ch * mult
            if level > 0:
                self.decoder.append(nn.Upsample(scale_factor=2, mode="nearest"))   # next blocks convolve
                resolution *= 2
        self.out = nn.Sequential(group_norm(c), nn.SiLU(), zero_init(nn.Conv2d(c, in_channels, 3, padding=1)))

    def latent_tokens(self, z: torch.Tensor) -> torch.Tensor:
        """K one-hot codes (B, K, V) -> K latent tokens (B, K, D)."""
        return self.code_embed(z) + self.latent_position

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, class_labels: torch.Tensor | None = None,
                z: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.noise_mlp(self.noise_embed(c_noise))
        if self.class_embed is not None:
            if class_labels is None:
                raise ValueError("this U-Net is class-conditional: pass class_labels")
            emb = emb + self.class_embed(class_labels)
        tokens = None
        if self.num_latents:
            if z is None:
                raise ValueError("this U-Net is conditioned on latents: pass z (codes or the learned null)")
            tokens = self.latent_tokens(z.to(x.dtype))
            emb = emb + self.latent_mlp(tokens.flatten(1))
        emb = F.silu(emb)

        h = self.conv_in(x)
        skips = [h]
        for layer in self.encoder:
            h = layer(h, emb, tokens) if isinstance(layer, ResBlock) else layer(h)
            skips.append(h)
        for layer in self.middle:
            h = layer(h, emb, tokens)
        for layer in self.decoder:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, skips.pop()], dim=1), emb, tokens)
            else:
                h = layer(h)
        return self.out(h)
