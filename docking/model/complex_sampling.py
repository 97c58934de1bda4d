"""Docking complexes with the learned model: DisCo pointer picks from the prior, then the reverse diffusion.

    picks   z ~ prior(complex with the ligand unposed)          (one draw per sample; none when K = 0)
    poses   x_1 ~ random pose around the centre; reverse diffusion x_1 -> x_0 with the score model(z)
    rank    confidence model: P(RMSD < 2 A) per final pose, best first

All samples of a complex run as one batch of copies of its graph, built once; each reverse step only
swaps the ligand coordinates.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
from torch_geometric.data import Batch, HeteroData

from data_prep.dataset import item_to_heterodata
from disco_core.errors import DiscoError, InputError
from docking.geometry.pose import centroid, rotate_about_centroid
from docking.geometry.rotations import uniform_rotation_matrices
from docking.model.graph_network import complex_node_graph_index
from docking.model.loading import DockingModels
from docking.model.noise_schedule import PoseNoiseSchedule
from docking.model.pointer_latents import PointerPrior, sample_pointer_latents
from docking.model.sampler import Ligand, SamplerSettings, sample_initial_poses, sample_poses
from docking.model.score_model import ScoreModel, guided_scores

RESIDUE_KEYS = ("rec_pos", "rec_n_pos", "rec_c_pos", "rec_residue_type", "rec_esm")


def crop_receptor(item: dict, center: torch.Tensor, radius: float | None = None,
                  max_residues: int | None = None) -> dict:
    """A copy of a cached item keeping the residues whose C-alpha lies within `radius` of `center`, and
    of those at most the `max_residues` nearest (chain order is kept). A pocket-conditioned model sees
    only this part of the receptor."""
    distance = (item["rec_pos"].float() - torch.as_tensor(center, dtype=torch.float32)).norm(dim=-1)
    keep = torch.ones_like(distance, dtype=torch.bool) if radius is None else distance <= radius
    if max_residues is not None and int(keep.sum()) > max_residues:
        keep = torch.zeros_like(keep)
        keep[distance.argsort()[:max_residues]] = True
    if not keep.any():
        raise InputError(item.get("name", "?"), f"no receptor residue within {radius} A of the pocket centre "
                                                f"{[round(float(x), 2) for x in center]}")
    index = torch.nonzero(keep).flatten()
    cropped = dict(item)
    for key in RESIDUE_KEYS:
        if key in item:
            cropped[key] = item[key][index]
    if "rec_residue_ids" in item:
        cropped["rec_residue_ids"] = [item["rec_residue_ids"][i] for i in index.tolist()]
    return cropped


def unposed_ligand(conformer: torch.Tensor, num_copies: int, center: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """(num_copies, N, 3): the RDKit conformer at a uniformly random orientation, centroid at `center`.
    This is how the pointer prior sees a ligand whose pose is unknown."""
    pos = (conformer - centroid(conformer)[None]).expand(num_copies, -1, -1)
    rotations = uniform_rotation_matrices(num_copies, generator, torch.float64).to(pos)
    return rotate_about_centroid(pos, rotations) + center.to(pos)


def docking_graph(complex_: dict | HeteroData, pocket_center: torch.Tensor | None = None,
                  pocket_radius: float | None = None, max_residues: int | None = None) -> HeteroData:
    """The graph to dock: a cached item (cropped to the pocket when a centre and radius are given)
    or an already built HeteroData, used as is."""
    if isinstance(complex_, HeteroData):
        return complex_
    if pocket_center is not None and pocket_radius is not None:
        complex_ = crop_receptor(complex_, pocket_center, pocket_radius, max_residues)
    return item_to_heterodata(complex_, "conformer", receptor_radius=None)


def picks_as_node_indices(picks: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Picks (N_total, K) of a batch of copies -> (num_graphs, K) node indices into one complex's
    [ligand atoms; receptor residues] list."""
    num_graphs, num_latents = batch.num_graphs, picks.shape[1]
    n_lig_total = batch["ligand"].num_nodes
    n_lig, n_rec = n_lig_total // num_graphs, batch["receptor"].num_nodes // num_graphs
    graph = complex_node_graph_index(batch)
    rows = torch.arange(picks.shape[0], device=picks.device)
    local = torch.where(rows < n_lig_total, rows - graph * n_lig, n_lig + rows - n_lig_total - graph * n_rec)
    out = torch.empty(num_graphs, num_latents, dtype=torch.long, device=picks.device)
    for k in range(num_latents):
        chosen = torch.nonzero(picks[:, k] > 0.5).flatten()
        out[graph[chosen], k] = local[chosen]
    return out


# ----------------------------------------------------------------------------------------------------
# Docking


class DockedPoses(NamedTuple):
    poses: torch.Tensor         # (S, N, 3) Angstrom, in the receptor's frame, best confidence first
    confidences: torch.Tensor   # (S,) P(RMSD < 2 A); NaN without a confidence model (then in sampling order)
    picks: torch.Tensor         # (S, K) long: node picked by each latent, index into [ligand atoms; residues]
    sample_index: torch.Tensor  # (S,) long: which sample each ranked pose is
    energies: torch.Tensor | None = None   # (S,) interaction energy of each ranked pose (physics guidance only)
    features: torch.Tensor | None = None   # (S, F) docking.confidence.pose_confidence features of each ranked pose (ditto)
    intermolecular: torch.Tensor | None = None   # (S,) the energy's receptor-ligand part (no internal term) (ditto)


def draw_picks(prior: PointerPrior, copies: Batch, conformer: torch.Tensor, center: torch.Tensor,
               temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """One prior draw per copy, the prior seeing each copy's ligand unposed at the centre."""
    unposed = copies.clone()
    unposed["ligand"].pos = unposed_ligand(conformer, copies.num_graphs, center, generator).reshape(-1, 3)
    return sample_pointer_latents(prior, unposed, prior.config.num_latents, temperature, generator)


def node_indices_as_picks(indices: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Node indices (num_graphs, K) into each graph's own [ligand atoms; receptor residues] list ->
    one-hot picks (N_total, K) in the batch's pointer node order (graphs of any sizes)."""
    lig_ptr, rec_ptr = batch["ligand"].ptr.to(indices.device), batch["receptor"].ptr.to(indices.device)
    n_lig = (lig_ptr[1:] - lig_ptr[:-1])[:, None]
    n_lig_total = int(lig_ptr[-1])
    rows = torch.where(indices < n_lig, lig_ptr[:-1, None] + indices, n_lig_total + rec_ptr[:-1, None] + indices - n_lig)
    picks = torch.zeros(n_lig_total + int(rec_ptr[-1]), indices.shape[1], device=indices.device)
    picks[rows, torch.arange(indices.shape[1], device=indices.device).expand_as(rows)] = 1.0
    return picks


class Docking(NamedTuple):
    """One complex of a docking batch: its graph, where poses start, and its own random stream."""
    graph: HeteroData
    center: torch.Tensor
    generator: torch.Generator | None
    picks: torch.Tensor | None = None     # (S, K) fixed node picks, else drawn from the prior


class PreparedComplexes(NamedTuple):
    """A docking batch ready for the sampler: every complex's copies in one graph batch, their starting
    poses, their bonds and random streams, and the latent picks of every copy."""
    batch: Batch
    initial: list[torch.Tensor]        # per complex (S, N, 3)
    ligands: list[Ligand]
    node_picks: torch.Tensor | None    # (num_graphs, K)


class LearnedScore:
    """The score model's scores of every complex's samples, one network call per step for all of them, with
    classifier-free guidance over the pointer picks s = s(z) + w (s(z) - s(null)) when there are picks.
    `follow` keeps each sample's picks with it when a resampling reorders the samples. `scale` 0 is the
    physics-only ablation: the learned score set to 0 (the network is not called), everything else the same."""

    def __init__(self, model: ScoreModel, prepared: PreparedComplexes, schedule: PoseNoiseSchedule,
                 guidance_weight: float = 0.0, scale: float = 1.0):
        self.model, self.batch, self.schedule, self.guidance_weight = model, prepared.batch, schedule, guidance_weight
        self.scale = scale
        self.copies = [pos.shape[0] for pos in prepared.initial]
        self.first = [sum(self.copies[:i]) for i in range(len(self.copies))]
        self.tor_sizes = [n * ligand.rot_bonds.shape[0] for n, ligand in zip(self.copies, prepared.ligands)]
        self.node_picks = prepared.node_picks
        self.one_hot = node_indices_as_picks(self.node_picks, self.batch) if self.node_picks is not None else None

    def __call__(self, positions: list[torch.Tensor], t: float) -> list:
        if self.scale == 0:
            return [(pos.new_zeros(len(pos), 3), pos.new_zeros(len(pos), 3), pos.new_zeros(size))
                    for pos, size in zip(positions, self.tor_sizes)]
        self.batch["ligand"].pos = torch.cat([pos.reshape(-1, 3) for pos in positions])
        num_graphs, device = sum(self.copies), positions[0].device
        sigmas = {name: torch.full((num_graphs,), float(component.sigma(t)), device=device)
                  for name, component in (("tr", self.schedule.translation), ("rot", self.schedule.rotation),
                                          ("tor", self.schedule.torsion))}
        out = (self.model(self.batch, sigmas) if self.one_hot is None
               else guided_scores(self.model, self.batch, sigmas, self.one_hot, self.guidance_weight))
        if self.scale != 1:
            out = {key: self.scale * value for key, value in out.items()}
        return list(zip(out["tr_score"].split(self.copies), out["rot_score"].split(self.copies),
                        out["tor_score"].split(self.tor_sizes)))

    def follow(self, orders: list[torch.Tensor | None]) -> None:
        if self.node_picks is None:
            return
        self.node_picks = self.node_picks.clone()
        for first, copies, order in zip(self.first, self.copies, orders):
            if order is not None:
                self.node_picks[first:first + copies] = self.node_picks[first:first + copies][order]
        self.one_hot = node_indices_as_picks(self.node_picks, self.batch)


def prepare_complexes(models: DockingModels, dockings: list[Docking], num_samples: int,
                      prior_temperature: float = 1.0, null_latents: bool = False) -> PreparedComplexes:
    """Per complex (in order, from its own generator): the prior's picks for every sample, then the
    samples' starting poses around the centre. Graphs are built once; the sampler only moves ligands.
    `null_latents` (the ablation) drops the picks after drawing them, so the starting poses stay those
    of the full model and the score model sees its learned null latent."""
    device = models.device
    batch = Batch.from_data_list([d.graph for d in dockings for _ in range(num_samples)]).to(device)
    ligands, initial, picks = [], [], []
    for d in dockings:
        rot_bonds = d.graph["ligand", "rot", "ligand"].edge_index.T.to(device)
        rot_masks = d.graph["ligand"].rot_mask_flat.reshape(rot_bonds.shape[0], d.graph["ligand"].num_nodes).to(device)
        conformer = d.graph["ligand"].pos_conformer.float().to(device)
        center = d.center.to(device)
        if d.picks is not None:
            picks.append(d.picks.to(device))
        elif models.num_latents > 0:
            if models.prior is None:
                raise DiscoError("these models use pointer latents but the run has no prior checkpoint "
                                 "(train the prior stage first)")
            copies = Batch.from_data_list([d.graph] * num_samples).to(device)
            drawn = draw_picks(models.prior, copies, conformer, center, prior_temperature, d.generator)
            picks.append(picks_as_node_indices(drawn, copies))
        ligands.append(Ligand(rot_bonds, rot_masks, d.generator))
        initial.append(sample_initial_poses(conformer, rot_bonds, rot_masks, num_samples, center, models.schedule,
                                            d.generator))
    return PreparedComplexes(batch, initial, ligands, torch.cat(picks) if picks and not null_latents else None)


def rank_by_confidence(models: DockingModels, poses: list[torch.Tensor], logits: torch.Tensor,
                       node_picks: torch.Tensor | None, energies: list[torch.Tensor | None] | None = None,
                       features: list[torch.Tensor | None] | None = None,
                       intermolecular: list[torch.Tensor | None] | None = None) -> list[DockedPoses]:
    """Each complex's final poses ordered by their confidence logits (complexes, samples) (sampling order
    without a confidence model), with their picks, energies (total and intermolecular) and pose-confidence
    features."""
    num_complexes, num_samples = len(poses), poses[0].shape[0]
    device = poses[0].device
    energies = energies or [None] * num_complexes
    features = features or [None] * num_complexes
    intermolecular = intermolecular or [None] * num_complexes
    confidences = torch.sigmoid(logits)
    if node_picks is None:
        node_picks = torch.zeros(num_complexes * num_samples, 0, dtype=torch.long, device=device)
    results = []
    for i, (pos, energy, feature, inter) in enumerate(zip(poses, energies, features, intermolecular)):
        order = (confidences[i].argsort(descending=True, stable=True) if models.confidence is not None
                 else torch.arange(num_samples, device=device))
        results.append(DockedPoses(pos[order], confidences[i][order],
                                   node_picks[i * num_samples:(i + 1) * num_samples][order], order,
                                   None if energy is None else energy[order],
                                   None if feature is None else feature[order],
                                   None if inter is None else inter[order]))
    return results


def confidence_logits(models: DockingModels, batch: Batch, poses: list[torch.Tensor]) -> torch.Tensor:
    """(complexes, samples) confidence logits of the poses (NaN without a confidence model); leaves the
    poses in `batch`."""
    batch["ligand"].pos = torch.cat([pos.reshape(-1, 3) for pos in poses])
    if models.confidence is None:
        return torch.full((len(poses), poses[0].shape[0]), float("nan"), device=poses[0].device)
    return models.confidence(batch).reshape(len(poses), -1)


@torch.no_grad()
def dock_complexes(models: DockingModels, dockings: list[Docking], num_samples: int = 10,
                   settings: SamplerSettings | None = None, guidance_weight: float = 0.0,
                   prior_temperature: float = 1.0, null_latents: bool = False) -> list[DockedPoses]:
    """Sample `num_samples` poses for each complex with the learned score alone, all complexes through
    the score model together, and rank each complex's poses by confidence. (The physics-guided path,
    docking.inference.guided_docking, adds energy guidance, resampling and minimisation to the same sampler.)"""
    prepared = prepare_complexes(models, dockings, num_samples, prior_temperature, null_latents)
    score = LearnedScore(models.score, prepared, models.schedule, guidance_weight)
    poses = sample_poses(score, prepared.initial, prepared.ligands, models.schedule, settings or SamplerSettings())
    return rank_by_confidence(models, poses, confidence_logits(models, prepared.batch, poses), score.node_picks)


def dock_complex(models: DockingModels, complex_: dict | HeteroData, num_samples: int = 10, steps: int | None = None,
                 settings: SamplerSettings | None = None, generator: torch.Generator | None = None,
                 pocket_center: torch.Tensor | None = None, pocket_radius: float | None = None,
                 guidance_weight: float = 0.0, prior_temperature: float = 1.0,
                 picks: torch.Tensor | None = None) -> DockedPoses:
    """Sample `num_samples` poses of one ligand and rank them.

    `complex_` is a cached item (dict) or its HeteroData. With `pocket_center` the poses start around
    it (and a dict item is cropped to `pocket_radius`, default the radius the models were trained
    with); blind docking starts around the receptor's C-alpha centroid with the whole receptor.
    `picks` (num_samples, K) node indices fix the latents instead of drawing them from the prior."""
    return dock_complexes(models, [docking_input(models, complex_, generator, pocket_center, pocket_radius, picks)],
                          num_samples, sampler_settings(settings, steps), guidance_weight, prior_temperature)[0]


def sampler_settings(settings: SamplerSettings | None, steps: int | None) -> SamplerSettings:
    settings = settings or SamplerSettings()
    return dataclasses.replace(settings, num_steps=steps) if steps is not None else settings


def docking_input(models: DockingModels, complex_: dict | HeteroData, generator: torch.Generator | None = None,
                  pocket_center: torch.Tensor | None = None, pocket_radius: float | None = None,
                  picks: torch.Tensor | None = None) -> Docking:
    """A complex ready for `dock_complexes`: cropped to the pocket (pocket-trained models) and centred."""
    if pocket_center is not None:
        pocket_center = torch.as_tensor(pocket_center, dtype=torch.float32).reshape(3)
        pocket_radius = pocket_radius if pocket_radius is not None else models.pocket_radius
    graph = docking_graph(complex_, pocket_center, pocket_radius, models.max_residues)
    center = pocket_center if pocket_center is not None else graph["receptor"].pos.float().mean(0)
    return Docking(graph, center, generator, picks)
