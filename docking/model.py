"""SE(3)-equivariant networks for docking: the score model, the DisCo pointer-latent encoder and prior,
and the confidence model.

All four read a protein-ligand complex as one graph with two node types -- ligand heavy atoms and
receptor residues (C-alpha) -- and share one backbone, `ComplexGraphNetwork`: categorical embeddings,
radius graphs (ligand bonds + radius edges, receptor radius edges, ligand<->receptor cross edges whose
cutoff the caller chooses) and a stack of e3nn tensor-product convolutions (`TensorProductConvLayer`).
Only the heads differ:

    ScoreModel       x_t, sigma, z  -> translation score (B,3), rotation score (B,3), torsion scores (R,)
    PointerEncoder   crystal pose   -> pointer logits (N, K); straight-through Gumbel-softmax picks
    PointerPrior     unposed ligand, picks z_<k -> logits (N,) for pick k
    ConfidenceModel  final pose     -> logit of P(RMSD < 2 A) per graph

Pointer latents (DisCo-Diff's docking latents). Latent k picks one node of each complex. Picks live in
one float tensor `picks` of shape (N_lig + N_rec, K) over the *concatenated* node list of a batch:

    rows 0 .. N_lig-1                 every ligand atom of the batch (batch['ligand'] order)
    rows N_lig .. N_lig+N_rec-1       every receptor residue of the batch (batch['receptor'] order)

`complex_node_graph_index(batch)` gives the graph of every row; within each graph, column k is one-hot
(a straight-through estimate during encoder training).

Units: Angstrom; sigmas are the noise levels of the three pose components (translation in A, rotation
and torsion in radians). Every output is rotation-equivariant (vectors) or invariant (scalars) for
proper rotations; no output is claimed to behave under reflections (chirality features break them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Union

import torch
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import BatchNorm
from torch import nn
from torch.nn import functional as F

from data_prep.ligand_features import LIGAND_ATOM_FEATURE_DIMS, LIGAND_BOND_FEATURE_DIMS
from data_prep.protein import NUM_RESIDUE_TYPES
from disco_core.graph_ops import radius, radius_graph, segment_argmax, segment_log_softmax, segment_mean
from disco_core.latents import classifier_free_guidance, sample_gumbel, segment_gumbel_softmax_st

# sigma -> expected squared score norm E|s|^2 (e.g. docking.so3's table, docking.torus), or its values.
NormSq = Union[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, None]


@dataclass
class ScoreModelConfig:
    """Hyperparameters of the docking networks. The score model, encoder, prior and confidence model
    each take one (they may differ, e.g. a smaller prior); fields a network does not use are ignored."""

    # Sizes: scalar / vector channels per node, convolution layers, spherical-harmonic degree.
    # The paper's DiffDock-S is ns=24, nv=6, 5 layers, sh_lmax=1.
    ns: int = 24
    nv: int = 6
    num_conv_layers: int = 5
    sh_lmax: int = 1
    batch_norm: bool = True
    dropout: float = 0.0
    # Distance embeddings (Gaussian soft one-hot of |r|).
    distance_embed_dim: int = 32
    cross_distance_embed_dim: int = 32
    # Graphs (Angstrom). Cross edges: cutoff(sigma_tr) = min(base + per_sigma * sigma_tr, max_distance),
    # so that at high noise the ligand still sees the pocket it was drawn away from.
    lig_max_radius: float = 5.0
    lig_max_neighbors: int = 24
    rec_max_radius: float = 15.0
    rec_max_neighbors: int = 24
    cross_cutoff_base: float = 20.0
    cross_cutoff_per_sigma: float = 3.0
    cross_max_distance: float = 80.0
    cross_max_neighbors: int = 10_000
    center_max_distance: float = 30.0
    # Noise-level embedding: sinusoidal features of log sigma, per pose component.
    sigma_embed_dim: int = 32
    # DisCo pointer latents: K picks per complex (0 = no latents, the ablation), latent dropout p for
    # classifier-free guidance, and the encoder's logit bound (keeps the straight-through gradient alive).
    num_latents: int = 2
    latent_dropout: float = 0.1
    pointer_logit_bound: float = 5.0
    # Input vocabularies: one categorical column per atom / bond feature, residue types, ESM2 width.
    atom_feature_dims: tuple[int, ...] = field(default_factory=lambda: tuple(LIGAND_ATOM_FEATURE_DIMS))
    bond_feature_dims: tuple[int, ...] = field(default_factory=lambda: tuple(LIGAND_BOND_FEATURE_DIMS))
    num_residue_types: int = NUM_RESIDUE_TYPES
    esm_dim: int = 0

    def cross_cutoff(self, sigma_tr: torch.Tensor) -> torch.Tensor:
        """Per-graph ligand<->receptor cutoff for translation noise sigma_tr (B,)."""
        return (self.cross_cutoff_base + self.cross_cutoff_per_sigma * sigma_tr).clamp(max=self.cross_max_distance)


# ----------------------------------------------------------------------------------------------------
# Small pieces


def hidden_irreps(ns: int, nv: int, lmax: int, depth: int) -> o3.Irreps:
    """Node features after `depth` layers. Each step appends channels, so earlier layouts are prefixes of
    later ones (a residual is a zero-padded sum) and the first ns channels are always the 0e scalars:
    depth 0: scalars; 1: + vectors of natural parity (1o, 2e, ...); 2: + opposite parity; 3: + ns x 0o."""
    natural = [f"{nv}x{l}{'o' if l % 2 else 'e'}" for l in range(1, lmax + 1)]
    opposite = [f"{nv}x{l}{'e' if l % 2 else 'o'}" for l in range(1, lmax + 1)]
    steps = [[f"{ns}x0e"], natural, opposite, [f"{ns}x0o"]]
    return o3.Irreps(" + ".join(sum(steps[:min(depth, 3) + 1], [])))


def scalar_channels(irreps: o3.Irreps) -> list[int]:
    """Indices of the l = 0 channels (0e and 0o): the rotation-invariant part of a feature vector."""
    index, start = [], 0
    for mul, ir in irreps:
        if ir.l == 0:
            index += list(range(start, start + mul))
        start += mul * ir.dim
    return index


def sigma_embedding(sigma: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of log sigma (B,) -> (B, dim), frequencies from 1/16 to 4 cycles per unit of
    log sigma: slow ones encode the level monotonically, fast ones resolve nearby levels."""
    half = dim // 2
    frequencies = 2 * math.pi * torch.logspace(math.log10(1 / 16), math.log10(4.0), half,
                                               device=sigma.device, dtype=sigma.dtype)
    angle = sigma.clamp(min=1e-6).log()[:, None] * frequencies
    return torch.cat([angle.cos(), angle.sin()], dim=-1)


def edge_harmonics(irreps: o3.Irreps | str, vec: torch.Tensor) -> torch.Tensor:
    """Spherical harmonics Y(r / |r|) of edge vectors (component normalisation; Y(0) has only l = 0)."""
    return o3.spherical_harmonics(irreps, vec, normalize=True, normalization="component")


def distance_embedding(length: torch.Tensor, max_distance: float, dim: int) -> torch.Tensor:
    """Gaussian radial basis on [0, max_distance] (invariant edge feature)."""
    return soft_one_hot_linspace(length, 0.0, max_distance, dim, basis="gaussian", cutoff=False)


def mlp(in_features: int, hidden: int, out_features: int, dropout: float = 0.0, bias: bool = True) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, hidden, bias=bias), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, out_features, bias=bias))


def graph_index(store, num_nodes: int, device: torch.device) -> torch.Tensor:
    """A node store's graph ids (a single, unbatched HeteroData has no `.batch`)."""
    batch = getattr(store, "batch", None)
    return batch if batch is not None else torch.zeros(num_nodes, dtype=torch.long, device=device)


def num_graphs_of(batch) -> int:
    return int(getattr(batch, "num_graphs", 1) or 1)


def complex_node_graph_index(batch) -> torch.Tensor:
    """Graph id of every row of a `picks` tensor: [ligand atoms of the batch; receptor residues]."""
    lig, rec = batch["ligand"], batch["receptor"]
    device = lig.pos.device
    return torch.cat([graph_index(lig, lig.pos.shape[0], device), graph_index(rec, rec.pos.shape[0], device)])


def _resolve_norm_sq(norm_sq: NormSq, sigma: torch.Tensor, small_sigma_limit: torch.Tensor) -> torch.Tensor:
    if norm_sq is None:
        return small_sigma_limit
    values = norm_sq(sigma) if callable(norm_sq) else norm_sq
    return torch.as_tensor(values, dtype=sigma.dtype, device=sigma.device).reshape(sigma.shape)


# ----------------------------------------------------------------------------------------------------
# The convolution


class TensorProductConvLayer(nn.Module):
    """Equivariant message passing between two node sets (or within one):

        m_e = TP_{w_e}(h_source(e), Y(r_e)),   w_e = MLP(edge features_e),   h'_t = mean_{e -> t} m_e

    h are e3nn features (`in_irreps`), Y the spherical harmonics of the edge vector and TP a fully
    connected tensor product whose path weights are a function of invariant edge features only, so
    h' transforms as `out_irreps` when the complex is rotated."""

    def __init__(self, in_irreps: o3.Irreps | str, sh_irreps: o3.Irreps | str, out_irreps: o3.Irreps | str,
                 edge_features: int, batch_norm: bool = True, dropout: float = 0.0):
        super().__init__()
        self.in_irreps, self.out_irreps = o3.Irreps(in_irreps), o3.Irreps(out_irreps)
        self.tp = o3.FullyConnectedTensorProduct(self.in_irreps, sh_irreps, self.out_irreps, shared_weights=False)
        self.path_weights = mlp(edge_features, edge_features, self.tp.weight_numel, dropout)
        self.norm = BatchNorm(self.out_irreps) if batch_norm else None

    def forward(self, h_source: torch.Tensor, edge_index: torch.Tensor, edge_features: torch.Tensor,
                edge_sh: torch.Tensor, num_targets: int) -> torch.Tensor:
        source, target = edge_index
        messages = self.tp(h_source[source], edge_sh, self.path_weights(edge_features))
        out = segment_mean(messages, target, num_targets)
        return self.norm(out) if self.norm is not None else out


# ----------------------------------------------------------------------------------------------------
# Pointer latents as features


class PointerLatentEmbedding(nn.Module):
    """Picks as invariant features: node i gets sum_k z_ik e_k, an intra-ligand / intra-receptor edge
    (i, j) gets sum_k (z_ik OR z_jk) f_k with OR(a, b) = a + b - ab (exact on one-hots, differentiable
    for the straight-through estimate). A graph whose latents are dropped gets learned null vectors on
    all its nodes and edges instead, independent of its picks (classifier-free guidance)."""

    def __init__(self, num_latents: int, dim: int):
        super().__init__()
        self.node = nn.Parameter(torch.randn(num_latents, dim))
        self.edge = nn.Parameter(torch.randn(num_latents, dim))
        self.null_node = nn.Parameter(torch.zeros(dim))
        self.null_edge = nn.Parameter(torch.zeros(dim))

    def forward(self, picks: torch.Tensor, node_graph: torch.Tensor, dropped: torch.Tensor | None,
                intra_edges: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """picks (N, k) with k <= K (missing columns count as unpicked); intra_edges (2, E) index rows
        of `picks`. Returns (node features (N, dim), edge features (E, dim))."""
        k = picks.shape[1]
        source, target = picks[intra_edges[0]], picks[intra_edges[1]]
        node = picks @ self.node[:k]
        edge = (source + target - source * target) @ self.edge[:k]
        if dropped is not None:
            node = torch.where(dropped[node_graph][:, None], self.null_node.expand_as(node), node)
            edge = torch.where(dropped[node_graph[intra_edges[0]]][:, None], self.null_edge.expand_as(edge), edge)
        return node, edge


# ----------------------------------------------------------------------------------------------------
# The shared backbone


class ComplexGraph(NamedTuple):
    """Edges (source, target) and edge vectors r = pos[target] - pos[source] of one batch."""
    lig_edges: torch.Tensor        # (2, E_l) ligand -> ligand (bonds, then non-bonded radius edges)
    lig_bond_attr: torch.Tensor    # (E_l, F_b) bond features; non-bonded rows hold -1
    rec_edges: torch.Tensor        # (2, E_r) receptor -> receptor
    cross_edges: torch.Tensor      # (2, E_x) row 0 ligand atom, row 1 receptor residue


class ComplexFeatures(NamedTuple):
    lig_h: torch.Tensor            # (N_lig, dim lig_irreps)
    rec_h: torch.Tensor            # (N_rec, dim rec_irreps)
    lig_pos: torch.Tensor
    lig_batch: torch.Tensor
    rec_batch: torch.Tensor
    num_graphs: int


class ComplexGraphNetwork(nn.Module):
    """Embeddings, graphs and interaction layers shared by the four docking networks.

    Each layer updates ligand atoms from ligand neighbours and from receptor residues, and receptor
    residues from receptor neighbours and from ligand atoms; the updates are summed onto the
    zero-padded previous features (residual). `graph_condition_dim` > 0 adds a per-graph invariant
    vector (the noise-level embedding, or the prior's "which latent") to every node; `num_latent_slots`
    > 0 reads pointer picks as node / intra-edge features."""

    def __init__(self, config: ScoreModelConfig, graph_condition_dim: int = 0, num_latent_slots: int = 0,
                 update_receptor_in_last_layer: bool = True):
        super().__init__()
        c = self.config = config
        ns = c.ns
        self.atom_embedding = nn.ModuleList([nn.Embedding(n, ns) for n in c.atom_feature_dims])
        self.bond_embedding = nn.ModuleList([nn.Embedding(n, ns) for n in c.bond_feature_dims])
        for tables in (self.atom_embedding, self.bond_embedding):
            for table in tables:  # the sum over feature columns has unit variance
                nn.init.normal_(table.weight, std=len(tables) ** -0.5)
        self.nonbonded_embedding = nn.Parameter(torch.randn(ns))
        self.residue_embedding = nn.Embedding(c.num_residue_types, ns)
        self.esm_projection = nn.Linear(c.esm_dim, ns) if c.esm_dim > 0 else None
        self.lig_condition = nn.Linear(graph_condition_dim, ns) if graph_condition_dim > 0 else None
        self.rec_condition = nn.Linear(graph_condition_dim, ns) if graph_condition_dim > 0 else None
        self.latent_embedding = PointerLatentEmbedding(num_latent_slots, ns) if num_latent_slots > 0 else None

        self.lig_edge_embedding = mlp(c.distance_embed_dim + ns, ns, ns, c.dropout)
        self.rec_edge_embedding = mlp(c.distance_embed_dim, ns, ns, c.dropout)
        self.cross_edge_embedding = mlp(c.cross_distance_embed_dim, ns, ns, c.dropout)

        self.sh_irreps = o3.Irreps.spherical_harmonics(c.sh_lmax)
        self.lig_layers, self.rec_layers = nn.ModuleList(), nn.ModuleList()
        self.rec_to_lig_layers, self.lig_to_rec_layers = nn.ModuleList(), nn.ModuleList()
        for layer in range(c.num_conv_layers):
            in_irreps = hidden_irreps(ns, c.nv, c.sh_lmax, layer)
            out_irreps = hidden_irreps(ns, c.nv, c.sh_lmax, layer + 1)

            def conv():
                return TensorProductConvLayer(in_irreps, self.sh_irreps, out_irreps, 3 * ns, c.batch_norm, c.dropout)

            self.lig_layers.append(conv())
            self.rec_to_lig_layers.append(conv())
            if layer < c.num_conv_layers - 1 or update_receptor_in_last_layer:
                self.rec_layers.append(conv())
                self.lig_to_rec_layers.append(conv())
        self.lig_irreps = hidden_irreps(ns, c.nv, c.sh_lmax, c.num_conv_layers)
        self.rec_irreps = hidden_irreps(ns, c.nv, c.sh_lmax, len(self.rec_layers))

    @property
    def dtype(self) -> torch.dtype:
        return self.residue_embedding.weight.dtype

    def build_graph(self, batch, lig_pos: torch.Tensor, rec_pos: torch.Tensor, lig_batch: torch.Tensor,
                    rec_batch: torch.Tensor, cross_cutoff: torch.Tensor) -> ComplexGraph:
        """Bond edges plus non-bonded ligand pairs within lig_max_radius; receptor pairs within
        rec_max_radius; ligand-receptor pairs within each graph's cross cutoff."""
        c = self.config
        bonds = batch["ligand", "bond", "ligand"]
        bond_edges, bond_attr = bonds.edge_index, bonds.edge_attr
        near = radius_graph(lig_pos, c.lig_max_radius, lig_batch, max_num_neighbors=c.lig_max_neighbors)
        n_lig = lig_pos.shape[0]
        is_bond = torch.isin(near[0] * n_lig + near[1], bond_edges[0] * n_lig + bond_edges[1])
        near = near[:, ~is_bond]
        lig_edges = torch.cat([bond_edges, near], dim=1)
        lig_bond_attr = torch.cat([bond_attr, bond_attr.new_full((near.shape[1], bond_attr.shape[1]), -1)])
        rec_edges = radius_graph(rec_pos, c.rec_max_radius, rec_batch, max_num_neighbors=c.rec_max_neighbors)
        cross_edges = radius(lig_pos, rec_pos, cross_cutoff.to(lig_pos.dtype), lig_batch, rec_batch,
                             max_num_neighbors=c.cross_max_neighbors)
        return ComplexGraph(lig_edges, lig_bond_attr, rec_edges, cross_edges)

    def embed_bonds(self, bond_attr: torch.Tensor) -> torch.Tensor:
        bonded = bond_attr[:, 0] >= 0
        embedded = sum(table(bond_attr[:, i].clamp(min=0)) for i, table in enumerate(self.bond_embedding))
        return torch.where(bonded[:, None], embedded, self.nonbonded_embedding.expand_as(embedded))

    def forward(self, batch, cross_cutoff: torch.Tensor, graph_condition: torch.Tensor | None = None,
                picks: torch.Tensor | None = None, dropped: torch.Tensor | None = None) -> ComplexFeatures:
        """cross_cutoff (B,) A; graph_condition (B, C); picks (N_lig + N_rec, k) in the module's node
        order; dropped (B,) bool: graphs whose picks are replaced by the learned null."""
        c, ns = self.config, self.config.ns
        lig, rec = batch["ligand"], batch["receptor"]
        lig_pos, rec_pos = lig.pos.to(self.dtype), rec.pos.to(self.dtype)
        n_lig, n_rec = lig_pos.shape[0], rec_pos.shape[0]
        lig_batch = graph_index(lig, n_lig, lig_pos.device)
        rec_batch = graph_index(rec, n_rec, rec_pos.device)
        num_graphs = num_graphs_of(batch)
        graph = self.build_graph(batch, lig_pos, rec_pos, lig_batch, rec_batch, cross_cutoff)

        # Invariant node features: categorical embeddings + per-graph condition + pointer picks.
        lig_h = sum(table(lig.x[:, i]) for i, table in enumerate(self.atom_embedding))
        rec_h = self.residue_embedding(rec.x[:, 0])
        if self.esm_projection is not None:
            esm = getattr(rec, "esm", None)
            if esm is None:
                raise ValueError(f"the model expects ESM embeddings (esm_dim={c.esm_dim}) but the batch has none")
            rec_h = rec_h + self.esm_projection(esm.to(self.dtype))
        if graph_condition is not None:
            lig_h = lig_h + self.lig_condition(graph_condition)[lig_batch]
            rec_h = rec_h + self.rec_condition(graph_condition)[rec_batch]

        # Invariant edge features and spherical harmonics of the edge vectors.
        lig_vec = lig_pos[graph.lig_edges[1]] - lig_pos[graph.lig_edges[0]]
        rec_vec = rec_pos[graph.rec_edges[1]] - rec_pos[graph.rec_edges[0]]
        cross_vec = lig_pos[graph.cross_edges[0]] - rec_pos[graph.cross_edges[1]]   # receptor -> ligand
        lig_e = self.lig_edge_embedding(torch.cat([
            distance_embedding(lig_vec.norm(dim=-1), c.lig_max_radius, c.distance_embed_dim),
            self.embed_bonds(graph.lig_bond_attr)], dim=-1))
        rec_e = self.rec_edge_embedding(distance_embedding(rec_vec.norm(dim=-1), c.rec_max_radius,
                                                           c.distance_embed_dim))
        cross_e = self.cross_edge_embedding(distance_embedding(cross_vec.norm(dim=-1), c.cross_max_distance,
                                                               c.cross_distance_embed_dim))
        if self.latent_embedding is not None and picks is not None:
            node_graph = torch.cat([lig_batch, rec_batch])
            intra = torch.cat([graph.lig_edges, graph.rec_edges + n_lig], dim=1)
            node_z, edge_z = self.latent_embedding(picks.to(self.dtype), node_graph, dropped, intra)
            lig_h, rec_h = lig_h + node_z[:n_lig], rec_h + node_z[n_lig:]
            lig_e, rec_e = lig_e + edge_z[:lig_e.shape[0]], rec_e + edge_z[lig_e.shape[0]:]
        lig_sh, rec_sh = edge_harmonics(self.sh_irreps, lig_vec), edge_harmonics(self.sh_irreps, rec_vec)
        cross_sh, lig_to_rec_sh = edge_harmonics(self.sh_irreps, cross_vec), edge_harmonics(self.sh_irreps, -cross_vec)
        to_lig = graph.cross_edges.flip(0)   # (receptor source, ligand target)

        for layer in range(c.num_conv_layers):
            ls, lt = graph.lig_edges
            lig_update = self.lig_layers[layer](
                lig_h, graph.lig_edges, torch.cat([lig_e, lig_h[ls, :ns], lig_h[lt, :ns]], -1), lig_sh, n_lig)
            cl, cr = graph.cross_edges
            cross_features = torch.cat([cross_e, lig_h[cl, :ns], rec_h[cr, :ns]], -1)
            lig_update = lig_update + self.rec_to_lig_layers[layer](rec_h, to_lig, cross_features, cross_sh, n_lig)
            if layer < len(self.rec_layers):
                rs, rt = graph.rec_edges
                rec_update = self.rec_layers[layer](
                    rec_h, graph.rec_edges, torch.cat([rec_e, rec_h[rs, :ns], rec_h[rt, :ns]], -1), rec_sh, n_rec)
                rec_update = rec_update + self.lig_to_rec_layers[layer](lig_h, graph.cross_edges, cross_features,
                                                                        lig_to_rec_sh, n_rec)
                rec_h = F.pad(rec_h, (0, rec_update.shape[-1] - rec_h.shape[-1])) + rec_update
            lig_h = F.pad(lig_h, (0, lig_update.shape[-1] - lig_h.shape[-1])) + lig_update
        return ComplexFeatures(lig_h, rec_h, lig_pos, lig_batch, rec_batch, num_graphs)


# ----------------------------------------------------------------------------------------------------
# Score model


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
    the exact tables (docking.so3 / docking.torus `expected_score_norm_sq`) as `rot_norm_sq`/`tor_norm_sq`.
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
            return torch.rand(num_graphs, generator=generator, device=device) < self.config.latent_dropout
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
        rot_scale = _resolve_norm_sq(rot_norm_sq if rot_norm_sq is not None else self.rot_norm_sq, sigma_rot,
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
        return score * _resolve_norm_sq(norm_sq, sigma, 1.0 / sigma ** 2).sqrt()


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


# ----------------------------------------------------------------------------------------------------
# Pointer latents: encoder and autoregressive prior


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


def pointer_distribution(logits: torch.Tensor, batch) -> torch.Tensor:
    """Per-graph softmax of pointer logits (N, K): the encoder's pick distributions q, the prior's targets."""
    index, num_graphs = complex_node_graph_index(batch), num_graphs_of(batch)
    return torch.stack([segment_log_softmax(logits[:, k], index, num_graphs).exp() for k in range(logits.shape[1])], 1)


@torch.no_grad()
def sample_pointer_latents(prior: PointerPrior, batch, num_latents: int, temperature: float = 1.0,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw picks (N, K) one latent after another: z_k ~ softmax(logits_k / T) over each graph's nodes."""
    index, num_graphs = complex_node_graph_index(batch), num_graphs_of(batch)
    picks = torch.zeros(index.shape[0], 0, dtype=prior.backbone.dtype, device=index.device)
    for k in range(num_latents):
        logits = prior(batch, picks, k)
        # argmax(logits / T + Gumbel noise) is a sample of softmax(logits / T) over each graph's nodes
        perturbed = logits / temperature + sample_gumbel(logits.shape, logits, generator)
        z_k = torch.zeros_like(logits)
        z_k[segment_argmax(perturbed, index, num_graphs)] = 1.0
        picks = torch.cat([picks, z_k[:, None]], dim=1)
    return picks


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


# ----------------------------------------------------------------------------------------------------
# Confidence model


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
