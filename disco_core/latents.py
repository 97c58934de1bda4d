"""Discrete latents: straight-through Gumbel-softmax for codebook and pointer latents, latent dropout
to a learned null, and classifier-free guidance.

Codebook latents: K latents x V codes, logits (B, K, V) -> one-hot z (B, K, V).
Pointer latents: each latent is a categorical over the nodes of one graph (V varies per example);
logits (N,) with a graph index per node -> a one-hot over each graph's nodes.
In both, the forward pass is hard (exact one-hot) and the backward pass is the softmax's gradient.
"""

from __future__ import annotations

import torch
from torch import nn

from .graph_ops import segment_argmax, segment_softmax


def sample_gumbel(shape: torch.Size, like: torch.Tensor, generator: torch.Generator | None = None,
                  device: torch.device | str | None = None) -> torch.Tensor:
    """Standard Gumbel noise of `like`'s dtype, drawn on `device` (default: the generator's device, else `like`'s)
    and returned on `like`'s: a seeded CPU generator gives the same noise whatever device the model runs on."""
    if device is None:
        device = generator.device if generator is not None else like.device
    uniform = torch.rand(shape, generator=generator, device=device, dtype=like.dtype)
    tiny = torch.finfo(like.dtype).tiny
    return -torch.log((-torch.log(uniform.clamp(min=tiny))).clamp(min=tiny)).to(like.device)


def gumbel_softmax_st(logits: torch.Tensor, tau: float = 1.0, hard: bool = True,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample one-hot codes along the last axis; gradients flow through softmax((logits + g) / tau)."""
    soft = torch.softmax((logits + sample_gumbel(logits.shape, logits, generator)) / tau, dim=-1)
    if not hard:
        return soft
    hard_codes = nn.functional.one_hot(soft.argmax(dim=-1), logits.shape[-1]).to(soft.dtype)
    return hard_codes + soft - soft.detach()


def segment_gumbel_softmax_st(logits: torch.Tensor, index: torch.Tensor, num_segments: int, tau: float = 1.0,
                              hard: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pointer latent: pick one node per graph. `logits` (N,) or (N, K) for K independent latents."""
    if logits.dim() == 2:
        columns = [segment_gumbel_softmax_st(logits[:, k], index, num_segments, tau, hard, generator)
                   for k in range(logits.shape[1])]
        return torch.stack(columns, dim=1)
    perturbed = (logits + sample_gumbel(logits.shape, logits, generator)) / tau
    soft = segment_softmax(perturbed, index, num_segments)
    if not hard:
        return soft
    hard_codes = torch.zeros_like(soft)
    hard_codes[segment_argmax(perturbed.detach(), index, num_segments)] = 1.0
    return hard_codes + soft - soft.detach()


class LatentDropout(nn.Module):
    """Replace a whole example's latent representation by a learned null with probability p.

    Training with it makes the denoiser also an unconditional model, which classifier-free guidance needs.
    `shape` is the per-example shape of the representation it acts on (e.g. (K, D) embeddings).
    """

    def __init__(self, shape: tuple[int, ...], p: float = 0.1):
        super().__init__()
        self.p = p
        self.null = nn.Parameter(torch.zeros(shape))

    def forward(self, latent: torch.Tensor, drop: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """`drop` (B,) bool forces which examples get the null; by default Bernoulli(p) in training."""
        if drop is None:
            if not self.training or self.p == 0:
                return latent
            drop = torch.rand(latent.shape[0], generator=generator, device=latent.device) < self.p
        mask = drop.view(-1, *([1] * (latent.dim() - 1)))
        return torch.where(mask, self.null.to(latent.dtype).expand_as(latent), latent)


def classifier_free_guidance(conditional: torch.Tensor, unconditional: torch.Tensor, weight: float) -> torch.Tensor:
    """D = D(z) + w (D(z) - D(null)); w = 0 is the plain conditional model."""
    return conditional + weight * (conditional - unconditional)


def bounded_logits(features: torch.Tensor, scale: float = 5.0) -> torch.Tensor:
    """Logits with a fixed norm (scale * unit vector). An encoder with unbounded logits can saturate its
    softmax before the denoiser has learned to use the codes, which freezes a collapsed codebook; bounded
    logits keep the straight-through gradient alive."""
    return scale * nn.functional.normalize(features, dim=-1)


def codebook_usage_kl(logits: torch.Tensor) -> torch.Tensor:
    """KL(batch-average code distribution || uniform), per latent, averaged. A small multiple of it added to
    the loss discourages codebook collapse without forcing any single example's code."""
    usage = torch.softmax(logits, dim=-1).flatten(0, -3).mean(0) if logits.dim() > 2 else torch.softmax(logits, -1).mean(0)
    return (usage * usage.clamp(min=1e-12).log()).sum(-1).mean() + torch.log(torch.tensor(float(logits.shape[-1])))
