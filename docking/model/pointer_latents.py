"""DisCo pointer latents for docking: the encoder q(z | crystal complex) and the autoregressive prior
p(z_k | complex, z_<k). The prior implements disco_core.prior's `next_logits` protocol, so the one core
sampling loop (disco_core.prior.sample_autoregressive) draws its picks."""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn
from torch.nn import functional as F

from disco_core.graph_ops import segment_argmax, segment_log_softmax
from disco_core.latents import segment_gumbel_softmax_st
from disco_core.prior import sample_autoregressive
from docking.model.graph_network import (
    ComplexFeatures,
    ComplexGraphNetwork,
    ScoreModelConfig,
    complex_node_graph_index,
    mlp,
    num_graphs_of,
    scalar_channels,
)

# sigma -> expected squared score norm E|s|^2 (e.g. docking.model.so3's table, docking.model.torus), or its values.

class NodeLogitHead(nn.Module):
    """Per-node logits from the invariant (l = 0) channels, one MLP per node type."""

    def __init__(self, lig_irreps: o3.Irreps, rec_irreps: o3.Irreps, hidden: int, outputs: int, dropout: float):
        super().__init__()
        self.register_buffer("lig_scalars", torch.tensor(scalar_channels(lig_irreps)), persistent=False)
        self.register_buffer("rec_scalars", torch.tensor(scalar_channels(rec_irreps)), persistent=False)
        self.lig_mlp = mlp(len(self.lig_scalars), hidden, outputs, dropout)
        self.rec_mlp = mlp(len(self.rec_scalars), hidden, outputs, dropout)

    def forward(self, h: ComplexFeatures) -> torch.Tensor:
        """(N_lig + N_rec, outputs) in the pointer node order."""
        return torch.cat([self.lig_mlp(h.lig_h[:, self.lig_scalars]), self.rec_mlp(h.rec_h[:, self.rec_scalars])])


class PointerEncoder(nn.Module):
    """q(z | crystal complex): for each of the K latents one logit per node (ligand atoms and receptor
    residues), bounded to [-b, b] by b tanh(./b) so the softmax cannot saturate early. The encoder sees
    the clean pose, so its cross edges use the sigma = 0 cutoff."""

    def __init__(self, config: ScoreModelConfig | None = None):
        super().__init__()
        config = config or ScoreModelConfig()
        if config.num_latents < 1:
            raise ValueError("a pointer encoder needs num_latents >= 1")
        self.config = config
        self.backbone = ComplexGraphNetwork(config)
        self.head = NodeLogitHead(self.backbone.lig_irreps, self.backbone.rec_irreps, config.ns,
                                  config.num_latents, config.dropout)

    def forward(self, batch) -> torch.Tensor:
        """Pointer logits (N_lig + N_rec, K)."""
        num_graphs = num_graphs_of(batch)
        cutoff = torch.full((num_graphs,), self.config.cross_cutoff_base, device=batch["ligand"].pos.device)
        raw = self.head(self.backbone(batch, cutoff))
        bound = self.config.pointer_logit_bound
        return bound * torch.tanh(raw / bound)

    def encode(self, batch, tau: float = 1.0, hard: bool = True,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(picks (N, K) straight-through one-hot per graph and latent, pointer logits (N, K))."""
        logits = self(batch)
        picks = segment_gumbel_softmax_st(logits, complex_node_graph_index(batch), num_graphs_of(batch), tau=tau,
                                          hard=hard, generator=generator)
        return picks, logits


class PointerPrior(nn.Module):
    """p(z_k | complex, z_<k): logits over the nodes of each graph for pick k, given the complex with the
    ligand not posed (whatever pose the batch holds, e.g. a random rotation of the conformer at the
    pocket centre) and the earlier picks as node / edge features. Cross edges use the widest cutoff."""

    def __init__(self, config: ScoreModelConfig | None = None):
        super().__init__()
        config = config or ScoreModelConfig()
        if config.num_latents < 1:
            raise ValueError("a pointer prior needs num_latents >= 1")
        self.config = config
        self.backbone = ComplexGraphNetwork(config, graph_condition_dim=config.num_latents,
                                            num_latent_slots=config.num_latents)
        self.head = NodeLogitHead(self.backbone.lig_irreps, self.backbone.rec_irreps, config.ns, 1, config.dropout)

    def forward(self, batch, previous_picks: torch.Tensor, k: int) -> torch.Tensor:
        """previous_picks (N, k) for latents 0..k-1 -> logits (N,) for latent k."""
        K = self.config.num_latents
        if not 0 <= k < K or previous_picks.shape[1] != k:
            raise ValueError(f"pick {k} of {K} needs previous_picks with {k} columns, got {previous_picks.shape[1]}")
        num_graphs = num_graphs_of(batch)
        device = batch["ligand"].pos.device
        which = F.one_hot(torch.full((num_graphs,), k, device=device), K).to(self.backbone.dtype)
        cutoff = torch.full((num_graphs,), self.config.cross_max_distance, device=device)
        return self.head(self.backbone(batch, cutoff, which, previous_picks)).squeeze(-1)

    def next_logits(self, condition, previous: torch.Tensor | None) -> torch.Tensor:
        """disco_core.prior's protocol: `condition` is the batch of complexes (ligand not posed), `previous`
        None or the picks (N, k) of latents 0..k-1 -> logits (N,) over the nodes for latent k."""
        if previous is None:
            index = complex_node_graph_index(condition)
            previous = torch.zeros(index.shape[0], 0, dtype=self.backbone.dtype, device=index.device)
        return self(condition, previous, previous.shape[1])


def pointer_distribution(logits: torch.Tensor, batch) -> torch.Tensor:
    """Per-graph softmax of pointer logits (N, K): the encoder's pick distributions q, the prior's targets."""
    index, num_graphs = complex_node_graph_index(batch), num_graphs_of(batch)
    return torch.stack([segment_log_softmax(logits[:, k], index, num_graphs).exp() for k in range(logits.shape[1])], 1)


@torch.no_grad()
def sample_pointer_latents(prior: PointerPrior, batch, num_latents: int, temperature: float = 1.0,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw picks (N, K) one latent after another: z_k ~ softmax(logits_k / T) over each graph's nodes, by the
    core autoregressive loop."""
    return sample_autoregressive(prior, batch, num_latents, temperature, generator=generator,
                                 segments=(complex_node_graph_index(batch), num_graphs_of(batch)))


def pointer_prior_loss(prior: PointerPrior, batch, target_probs: torch.Tensor,
                       previous_picks: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy H(q, p) of the prior against the encoder's pick distributions q (N, K), summed over
    the nodes of a graph, averaged over graphs and latents. The conditioning picks (teacher forcing)
    default to each graph's most probable node under q."""
    index, num_graphs = complex_node_graph_index(batch), num_graphs_of(batch)
    target_probs = target_probs.detach()   # the encoder is frozen while its prior learns
    num_latents = target_probs.shape[1]
    if previous_picks is None:
        previous_picks = torch.zeros_like(target_probs)
        for k in range(num_latents):
            previous_picks[segment_argmax(target_probs[:, k].detach(), index, num_graphs), k] = 1.0
    total = target_probs.new_zeros(())
    for k in range(num_latents):
        log_p = segment_log_softmax(prior(batch, previous_picks[:, :k], k), index, num_graphs)
        total = total - (target_probs[:, k] * log_p).sum() / num_graphs
    return total / num_latents
