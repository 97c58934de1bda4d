"""The backbone the docking networks share (docking.model.score_model, .pointer_latents, .confidence_model):
SE(3)-equivariant tensor-product convolutions over one protein-ligand complex graph.

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
from disco_core.graph_ops import radius, radius_graph, segment_mean

# sigma -> expected squared score norm E|s|^2 (e.g. docking.model.so3's table, docking.model.torus), or its values.
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


def resolve_norm_sq(norm_sq: NormSq, sigma: torch.Tensor, small_sigma_limit: torch.Tensor) -> torch.Tensor:
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
