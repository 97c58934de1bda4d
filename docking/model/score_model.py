"""The score model: translation, rotation and torsion scores of a noised ligand pose, conditioned on the
noise levels and on the DisCo pointer latents, and classifier-free guidance over those latents."""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from disco_core.graph_ops import radius, segment_mean
from disco_core.latents import classifier_free_guidance
from docking.model.graph_network import (
    ComplexFeatures,
    ComplexGraphNetwork,
    NormSq,
    ScoreModelConfig,
    TensorProductConvLayer,
    distance_embedding,
    edge_harmonics,
    mlp,
    num_graphs_of,
    resolve_norm_sq,
    sigma_embedding,
)

# sigma -> expected squared score norm E|s|^2 (e.g. docking.model.so3's table, docking.model.torus), or its values.

class ScoreModel(nn.Module):
    """Scores of the ligand pose's translation, rotation and torsions, conditioned on the noise levels
    and (optionally) on K pointer latents.

    Translation / rotation: a tensor-product convolution from every ligand atom to the ligand centroid
    yields two 1o and two 1e vectors per graph; tr = 1o_a + 1e_a, rot = 1o_b + 1e_b (summing both
    parities leaves the model SO(3)- not O(3)-equivariant, which chiral ligands need). An invariant MLP of
    (|v|, sigma) sets each magnitude, then the scores are put on the scale of the true ones:
        tr_score  = v_tr / sigma_tr,   rot_score = v_rot * sqrt(E|s_rot|^2(sigma_rot)).
    Torsions: a convolution from the atoms near each rotatable bond to the bond's midpoint, with the edge
    harmonics coupled to the degree-2 harmonics of the bond axis (even: the axis' sign does not matter),
    to scalar and pseudoscalar channels -> MLP -> one score per bond, times sqrt(E|s_tor|^2(sigma_tor)).
    E|s|^2 defaults to the small-sigma limits 3/sigma^2 (IGSO(3)) and 1/sigma^2 (wrapped normal); pass
    the exact tables (docking.model.so3 / docking.model.torus `expected_score_norm_sq`) as `rot_norm_sq`/`tor_norm_sq`.
    """

    def __init__(self, config: ScoreModelConfig | None = None, rot_norm_sq: NormSq = None,
                 tor_norm_sq: NormSq = None):
        super().__init__()
        c = self.config = config or ScoreModelConfig()
        ns = c.ns
        self.rot_norm_sq, self.tor_norm_sq = rot_norm_sq, tor_norm_sq
        sigma_dim = 3 * c.sigma_embed_dim
        self.backbone = ComplexGraphNetwork(c, graph_condition_dim=sigma_dim, num_latent_slots=c.num_latents,
                                            update_receptor_in_last_layer=False)
        lig_irreps, sh_irreps = self.backbone.lig_irreps, self.backbone.sh_irreps

        self.center_edge_embedding = mlp(c.distance_embed_dim + sigma_dim, ns, ns, c.dropout)
        self.center_conv = TensorProductConvLayer(lig_irreps, sh_irreps, "2x1o + 2x1e", 2 * ns, False, c.dropout)
        self.tr_magnitude = mlp(1 + sigma_dim, ns, 1, c.dropout)
        self.rot_magnitude = mlp(1 + sigma_dim, ns, 1, c.dropout)

        self.bond_axis_tp = o3.FullTensorProduct(sh_irreps, "2e")
        self.tor_edge_embedding = mlp(c.distance_embed_dim, ns, ns, c.dropout)
        self.tor_conv = TensorProductConvLayer(lig_irreps, self.bond_axis_tp.irreps_out, f"{ns}x0o + {ns}x0e",
                                               3 * ns, False, c.dropout)
        self.tor_head = nn.Sequential(nn.Linear(2 * ns, ns, bias=False), nn.Tanh(), nn.Dropout(c.dropout),
                                      nn.Linear(ns, 1, bias=False))

    def dropped_latents(self, num_graphs: int, latents: torch.Tensor | None, drop_latents: torch.Tensor | None,
                        device: torch.device, generator: torch.Generator | None) -> torch.Tensor | None:
        """Which graphs use the null latent: all without latents, else as forced, else Bernoulli(p) in training."""
        if self.config.num_latents == 0:
            return None
        if latents is None:
            return torch.ones(num_graphs, dtype=torch.bool, device=device)
        if drop_latents is not None:
            return drop_latents.to(device=device, dtype=torch.bool)
        if self.training and self.config.latent_dropout > 0:
            draw_on = generator.device if generator is not None else device      # the generator's device, moved
            return (torch.rand(num_graphs, generator=generator, device=draw_on) < self.config.latent_dropout).to(device)
        return torch.zeros(num_graphs, dtype=torch.bool, device=device)

    def forward(self, batch, sigmas: dict[str, torch.Tensor], latents: torch.Tensor | None = None,
                drop_latents: torch.Tensor | None = None, rot_norm_sq: NormSq = None, tor_norm_sq: NormSq = None,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """sigmas: 'tr', 'rot', 'tor' (B,); latents: picks (N_lig + N_rec, K) or None (= the null latent);
        drop_latents (B,) bool forces the null per graph. Returns tr_score (B,3), rot_score (B,3),
        tor_score (R,) in the order of batch['ligand','rot','ligand'].edge_index."""
        c, ns = self.config, self.config.ns
        if latents is not None and c.num_latents == 0:
            raise ValueError("this score model has num_latents=0 (no latents) but latents were given")
        if latents is not None and latents.shape[1] != c.num_latents:
            raise ValueError(f"latents have {latents.shape[1]} columns, the model expects {c.num_latents}")
        dtype, device = self.backbone.dtype, batch["ligand"].pos.device
        sigma_tr, sigma_rot, sigma_tor = (torch.as_tensor(sigmas[k], dtype=dtype, device=device).reshape(-1)
                                          for k in ("tr", "rot", "tor"))
        num_graphs = num_graphs_of(batch)
        sigma_features = torch.cat([sigma_embedding(sigma, c.sigma_embed_dim)
                                    for sigma in (sigma_tr, sigma_rot, sigma_tor)], -1)
        dropped = self.dropped_latents(num_graphs, latents, drop_latents, device, generator)
        picks = None
        if c.num_latents > 0:
            n_nodes = batch["ligand"].pos.shape[0] + batch["receptor"].pos.shape[0]
            picks = latents if latents is not None else torch.zeros(n_nodes, c.num_latents, device=device, dtype=dtype)
        h = self.backbone(batch, c.cross_cutoff(sigma_tr), sigma_features, picks, dropped)

        # Translation and rotation: ligand atoms -> centroid.
        centroid = segment_mean(h.lig_pos, h.lig_batch, num_graphs)
        to_center = centroid[h.lig_batch] - h.lig_pos
        center_e = self.center_edge_embedding(torch.cat([
            distance_embedding(to_center.norm(dim=-1), c.center_max_distance, c.distance_embed_dim),
            sigma_features[h.lig_batch]], -1))
        atoms = torch.arange(h.lig_pos.shape[0], device=device)
        center_sh = edge_harmonics(self.backbone.sh_irreps, to_center)
        out = self.center_conv(h.lig_h, torch.stack([atoms, h.lig_batch]), torch.cat([center_e, h.lig_h[:, :ns]], -1),
                               center_sh, num_graphs)
        tr, rot = out[:, 0:3] + out[:, 6:9], out[:, 3:6] + out[:, 9:12]
        tr = self._rescale(tr, self.tr_magnitude, sigma_features) / sigma_tr[:, None]
        rot_scale = resolve_norm_sq(rot_norm_sq if rot_norm_sq is not None else self.rot_norm_sq, sigma_rot,
                                     3.0 / sigma_rot ** 2).sqrt()
        rot = self._rescale(rot, self.rot_magnitude, sigma_features) * rot_scale[:, None]
        return {"tr_score": tr, "rot_score": rot, "tor_score": self._torsion_scores(batch, h, sigma_tor, tor_norm_sq)}

    @staticmethod
    def _rescale(vector: torch.Tensor, magnitude: nn.Module, sigma_features: torch.Tensor) -> torch.Tensor:
        """v -> v/|v| * MLP(|v|, sigma): an invariant magnitude on an equivariant direction."""
        norm = vector.norm(dim=-1, keepdim=True)
        return vector / (norm + 1e-8) * magnitude(torch.cat([norm, sigma_features], -1))

    def _torsion_scores(self, batch, h: ComplexFeatures, sigma_tor: torch.Tensor, tor_norm_sq: NormSq) -> torch.Tensor:
        c, ns = self.config, self.config.ns
        bonds = batch["ligand", "rot", "ligand"].edge_index
        if bonds.numel() == 0:
            return h.lig_pos.new_zeros(0)
        u, v = bonds
        bond_center = (h.lig_pos[u] + h.lig_pos[v]) / 2
        bond_batch = h.lig_batch[u]
        bond_to_atom = radius(bond_center, h.lig_pos, c.lig_max_radius, bond_batch, h.lig_batch)  # (bond, atom)
        bond_idx, atom_idx = bond_to_atom
        to_atom = h.lig_pos[atom_idx] - bond_center[bond_idx]
        axis_sh = edge_harmonics("2e", h.lig_pos[v] - h.lig_pos[u])
        edge_sh = self.bond_axis_tp(edge_harmonics(self.backbone.sh_irreps, to_atom), axis_sh[bond_idx])
        edge_e = self.tor_edge_embedding(distance_embedding(to_atom.norm(dim=-1), c.lig_max_radius,
                                                            c.distance_embed_dim))
        bond_h = h.lig_h[u, :ns] + h.lig_h[v, :ns]
        features = torch.cat([edge_e, h.lig_h[atom_idx, :ns], bond_h[bond_idx]], -1)
        out = self.tor_conv(h.lig_h, torch.stack([atom_idx, bond_idx]), features, edge_sh, bonds.shape[1])
        score = self.tor_head(out).squeeze(-1)
        sigma = sigma_tor[bond_batch]
        norm_sq = tor_norm_sq if tor_norm_sq is not None else self.tor_norm_sq
        if norm_sq is not None and not callable(norm_sq):
            norm_sq = torch.as_tensor(norm_sq, dtype=sigma.dtype, device=sigma.device).reshape(-1)[bond_batch]
        return score * resolve_norm_sq(norm_sq, sigma, 1.0 / sigma ** 2).sqrt()


def guided_scores(model: ScoreModel, batch, sigmas: dict[str, torch.Tensor], picks: torch.Tensor,
                  weight: float, **kwargs) -> dict[str, torch.Tensor]:
    """Classifier-free guidance over the pointer latents: s = s(z) + w (s(z) - s(null))."""
    num_graphs = num_graphs_of(batch)
    device = picks.device
    conditional = model(batch, sigmas, picks, drop_latents=torch.zeros(num_graphs, dtype=torch.bool, device=device),
                        **kwargs)
    if weight == 0:
        return conditional
    unconditional = model(batch, sigmas, picks, drop_latents=torch.ones(num_graphs, dtype=torch.bool, device=device),
                          **kwargs)
    return {key: classifier_free_guidance(conditional[key], unconditional[key], weight) for key in conditional}
