"""The confidence network: the logit of P(RMSD < 2 A) of a posed complex (calibrated in docking.confidence)."""

from __future__ import annotations

import torch
from torch import nn

from disco_core.graph_ops import segment_mean
from docking.model.graph_network import ComplexGraphNetwork, ScoreModelConfig, mlp, num_graphs_of, scalar_channels

# sigma -> expected squared score norm E|s|^2 (e.g. docking.model.so3's table, docking.model.torus), or its values.

class ConfidenceModel(nn.Module):
    """Logit of P(RMSD < 2 A) for each posed complex: ligand invariant channels, mean over atoms, MLP."""

    def __init__(self, config: ScoreModelConfig | None = None):
        super().__init__()
        config = self.config = config or ScoreModelConfig()
        self.backbone = ComplexGraphNetwork(config, update_receptor_in_last_layer=False)
        self.register_buffer("scalars", torch.tensor(scalar_channels(self.backbone.lig_irreps)), persistent=False)
        self.head = mlp(len(self.scalars), config.ns, 1, config.dropout)

    def forward(self, batch) -> torch.Tensor:
        """(B,) logits."""
        num_graphs = num_graphs_of(batch)
        cutoff = torch.full((num_graphs,), self.config.cross_cutoff_base, device=batch["ligand"].pos.device)
        h = self.backbone(batch, cutoff)
        pooled = segment_mean(h.lig_h[:, self.scalars], h.lig_batch, num_graphs)
        return self.head(pooled).squeeze(-1)
