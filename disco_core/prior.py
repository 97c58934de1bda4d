"""Autoregressive priors over discrete latents and the one sampling loop they share.

A prior predicts latent k from a condition and the latents before it:
    logits_k = prior.next_logits(condition, previous)      previous: picks 0..k-1 or None
For codebook latents the logits are (B, V) and picks stack to (B, K, V); for pointer latents the logits are
(N,) over the nodes of a batch of graphs (`segments=(index, num_graphs)`) and picks stack to (N, K).
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .graph_ops import segment_argmax
from .latents import sample_gumbel


class AutoregressivePrior(Protocol):
    def next_logits(self, condition, previous: torch.Tensor | None) -> torch.Tensor: ...


def _segment_rank(logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rank (0 = largest) of each logit within its segment."""
    by_value = torch.argsort(logits, descending=True, stable=True)
    order = by_value[torch.argsort(index[by_value], stable=True)]
    counts = torch.bincount(index)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(index)
    rank[order] = torch.arange(len(index), device=index.device) - starts[index[order]]
    return rank


def sample_categorical(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                       generator: torch.Generator | None = None,
                       segments: tuple[torch.Tensor, int] | None = None) -> torch.Tensor:
    """One-hot sample from softmax(logits / T) (Gumbel-max), over the last axis or within each segment.
    temperature = 0 picks the mode. The Gumbel noise is drawn on the generator's device (the logits' device
    without one) and then moved to the logits, so a seeded CPU generator gives the same picks whether the
    model runs on the CPU or an accelerator."""
    logits = logits.detach().float()
    if top_k is not None:
        if segments is None:
            kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        else:
            logits = logits.masked_fill(_segment_rank(logits, segments[0]) >= top_k, float("-inf"))
    if temperature == 0:
        scores = logits
    else:
        noise_device = logits.device if generator is None else generator.device
        gumbel = sample_gumbel(logits.shape, logits, generator, device=noise_device).to(logits.device)
        scores = logits / temperature + gumbel
    if segments is None:
        return F.one_hot(scores.argmax(dim=-1), logits.shape[-1]).float()
    picks = torch.zeros_like(logits)
    picks[segment_argmax(scores, *segments)] = 1.0
    return picks


@torch.no_grad()
def sample_autoregressive(prior: AutoregressivePrior, condition, num_latents: int, temperature: float = 1.0,
                          top_k: int | None = None, generator: torch.Generator | None = None,
                          segments: tuple[torch.Tensor, int] | None = None) -> torch.Tensor:
    """Draw z_1..z_K one after another: z_k ~ softmax(prior(condition, z_<k) / T). Randomness comes from
    `generator` on its own device (see `sample_categorical`)."""
    picks: list[torch.Tensor] = []
    for _ in range(num_latents):
        previous = torch.stack(picks, dim=1) if picks else None
        logits = prior.next_logits(condition, previous)
        picks.append(sample_categorical(logits, temperature, top_k, generator, segments))
    return torch.stack(picks, dim=1)


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), CausalSelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TransformerPrior(nn.Module):
    """Causal transformer over K codebook tokens. Position 0 holds the condition (a class embedding, or a
    learned start token when unconditional); position k predicts latent k from latents < k."""

    def __init__(self, num_latents: int, codebook_size: int, num_classes: int = 0, dim: int = 128,
                 depth: int = 4, heads: int = 4):
        super().__init__()
        self.num_latents, self.codebook_size, self.num_classes = num_latents, codebook_size, num_classes
        self.start = nn.Embedding(max(num_classes, 1), dim)
        self.code_embed = nn.Linear(codebook_size, dim, bias=False)   # accepts one-hot or soft codes
        self.position = nn.Parameter(torch.randn(num_latents, dim) / math.sqrt(dim))
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, codebook_size)

    def _start_tokens(self, condition: torch.Tensor | None, batch: int, device) -> torch.Tensor:
        if self.num_classes and condition is None:
            raise ValueError("this prior is class-conditional: pass a label per example")
        labels = condition if self.num_classes else torch.zeros(batch, dtype=torch.long, device=device)
        return self.start(labels)[:, None]

    def forward(self, condition: torch.Tensor | None, codes: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: codes (B, K, V) -> logits (B, K, V), position k seeing only codes < k."""
        B = codes.shape[0]
        tokens = torch.cat([self._start_tokens(condition, B, codes.device), self.code_embed(codes[:, :-1])], dim=1)
        h = self.blocks(tokens + self.position[: tokens.shape[1]])
        return self.head(self.norm(h))

    def next_logits(self, condition, previous: torch.Tensor | None) -> torch.Tensor:
        """`condition`: class labels (B,); for an unconditional prior any (B,) tensor (it sets the batch size)."""
        if previous is None:
            batch = condition.shape[0] if condition is not None else 1
            previous = torch.zeros(batch, 0, self.codebook_size, device=self.position.device)
        padded = torch.cat([previous, previous.new_zeros(previous.shape[0], 1, self.codebook_size)], dim=1)
        return self.forward(condition, padded)[:, previous.shape[1]]

    def loss(self, condition: torch.Tensor | None, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy against target codes: indices (B, K) or probabilities / one-hots (B, K, V)."""
        probs = F.one_hot(target, self.codebook_size).float() if target.dim() == 2 else target.float()
        codes = F.one_hot(probs.argmax(-1), self.codebook_size).float()
        logits = self.forward(condition, codes)
        return -(probs * F.log_softmax(logits, dim=-1)).sum(-1).mean()
