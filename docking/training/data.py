"""The training data of the docking stages: which cached complexes, and the batches made from them.

Receptors: with probability `pocket_probability` a training example keeps only the residues within
`pocket_radius` of a jittered ligand centroid (pocket-conditioned docking), otherwise the whole receptor
(blind docking), so one model serves both. Batches are pure functions of the step (exact resume): each
batch maker returns `make_batch(step)` for the shared Trainer (disco_core.trainer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import torch
from torch_geometric.data import Batch, HeteroData

from data_prep.cache import load_item
from data_prep.dataset import ComplexDataset, item_to_heterodata
from disco_core.errors import InputError
from disco_core.trainer import epoch_indices
from docking.model.complex_sampling import crop_receptor, unposed_ligand
from docking.model.noise_schedule import PoseNoiseSchedule
from docking.model.pose_noise import NoisedPose, noise_pose

# ----------------------------------------------------------------------------------------------------
# Which complexes


@dataclass
class DataOptions:
    target_pose: str = "matched"          # the pose the score model learns ("matched" or "crystal")
    pocket_probability: float = 0.5       # share of examples cropped to the pocket (the rest: whole receptor)
    pocket_radius: float = 20.0           # A around the pocket centre
    pocket_center_jitter: float = 2.0     # A, std of the noise on the ligand centroid used as pocket centre
    max_residues: int = 1000              # larger receptors keep the residues nearest the ligand
    batch_size: int = 4


def load_split_items(cache_dir: str | Path, split: str | Path | list[str] | None, pose: str = "matched") -> list[dict]:
    """The cached items (plain dicts) of a split that have the pose, in index order."""
    dataset = ComplexDataset(cache_dir, split, pose=pose)
    if len(dataset) == 0:
        raise InputError(str(split or cache_dir), f"no cached complex with a {pose} pose in {cache_dir}")
    return [load_item(dataset.cache_dir / row["file"]) for row in dataset.rows]


def pocket_trainable(items: list[dict], options: DataOptions) -> tuple[list[dict], list[str]]:
    """The items a pocket crop can be cut from, and a reason for each one left out: a ligand with no
    C-alpha within `pocket_radius` (e.g. one bound at a crystal contact) would make an empty receptor."""
    if options.pocket_probability <= 0:
        return items, []
    kept, skipped = [], []
    for item in items:
        centroid = item[f"lig_pos_{options.target_pose}"].float().mean(0)
        nearest = float((item["rec_pos"].float() - centroid).norm(dim=-1).min())
        if nearest <= options.pocket_radius:
            kept.append(item)
        else:
            skipped.append(f"{item.get('name', '?')}: no receptor residue within {options.pocket_radius:g} A of "
                           f"its ligand (nearest C-alpha {nearest:.1f} A); left out of training")
    return kept, skipped


# ----------------------------------------------------------------------------------------------------
# Examples and batches


class TrainingComplex(NamedTuple):
    graph: HeteroData         # ligand at the target pose, receptor cropped or whole
    center: torch.Tensor      # (3,) where docking would start: the pocket centre, or the receptor centroid
    pocket: bool


def training_complex(item: dict, options: DataOptions, generator: torch.Generator,
                     pocket: bool | None = None) -> TrainingComplex:
    """One example: a pocket crop (probability `pocket_probability`, or as forced) or the whole receptor.
    The receptor cap `max_residues` keeps the residues nearest the (jittered) ligand centroid."""
    pose = item[f"lig_pos_{options.target_pose}"].float()
    if pocket is None:
        pocket = bool(torch.rand((), generator=generator) < options.pocket_probability)
    jitter = options.pocket_center_jitter * torch.randn(3, generator=generator)
    center = pose.mean(0) + (jitter if pocket else 0.0)
    radius = options.pocket_radius if pocket else None
    if pocket and not bool(((item["rec_pos"].float() - center).norm(dim=-1) <= radius).any()):
        center = pose.mean(0)   # the jitter left every residue outside the crop: use the ligand's centroid
    cropped = crop_receptor(item, center, radius, options.max_residues)
    graph = item_to_heterodata(cropped, options.target_pose, receptor_radius=None)
    if not pocket:
        center = graph["receptor"].pos.mean(0)
    return TrainingComplex(graph, center, pocket)


def _step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 64 + rank)


class ScoreBatch(NamedTuple):
    clean: Batch                   # ligands at the target pose (for the encoder)
    noised: Batch                  # ligands at the noised pose (for the score model)
    targets: list[NoisedPose]      # per complex


class PriorBatch(NamedTuple):
    clean: Batch                   # for the frozen encoder
    unposed: Batch                 # the same complexes with the ligand unposed (for the prior)


def _batch_items(items: list[dict], options: DataOptions, seed: int, step: int, rank: int,
                 world_size: int) -> tuple[list[TrainingComplex], torch.Generator]:
    generator = _step_generator(seed, step, rank)
    indices = epoch_indices(len(items), options.batch_size, step, seed, rank, world_size)
    return [training_complex(items[i], options, generator) for i in indices.tolist()], generator


def score_batch_maker(items: list[dict], options: DataOptions, schedule: PoseNoiseSchedule, seed: int,
                      rank: int = 0, world_size: int = 1) -> Callable[[int], ScoreBatch]:
    def make_batch(step: int) -> ScoreBatch:
        examples, generator = _batch_items(items, options, seed, step, rank, world_size)
        targets = []
        for example in examples:
            lig = example.graph["ligand"]
            rot_bonds = example.graph["ligand", "rot", "ligand"].edge_index.T
            rot_masks = lig.rot_mask_flat.reshape(rot_bonds.shape[0], lig.num_nodes)
            t = torch.rand((), generator=generator)
            targets.append(noise_pose(lig.pos, t, rot_bonds, rot_masks, schedule, generator))
        clean = Batch.from_data_list([e.graph for e in examples])
        noised = clean.clone()
        noised["ligand"].pos = torch.cat([target.pos for target in targets]).float()
        return ScoreBatch(clean, noised, targets)

    return make_batch


def prior_batch_maker(items: list[dict], options: DataOptions, seed: int, rank: int = 0,
                      world_size: int = 1) -> Callable[[int], PriorBatch]:
    def make_batch(step: int) -> PriorBatch:
        examples, generator = _batch_items(items, options, seed, step, rank, world_size)
        clean = Batch.from_data_list([e.graph for e in examples])
        unposed = clean.clone()
        unposed["ligand"].pos = torch.cat([unposed_ligand(e.graph["ligand"].pos_conformer.float(), 1, e.center,
                                                          generator)[0] for e in examples])
        return PriorBatch(clean, unposed)

    return make_batch


def complex_generator(seed: int, index: int) -> torch.Generator:
    """The generator of complex `index`'s receptor crop in the confidence stage (reproducible per complex)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + 500_009 * (index + 1))


def confidence_batch_maker(items: list[dict], poses: dict, options: DataOptions, seed: int, threshold: float,
                           rank: int = 0, world_size: int = 1) -> Callable[[int], tuple[Batch, torch.Tensor]]:
    """Batches of sampled poses (`poses`: complex index, pose, RMSD per pose) labelled RMSD < threshold."""

    def make_batch(step: int) -> tuple[Batch, torch.Tensor]:
        chosen = epoch_indices(len(poses["complex"]), options.batch_size, step, seed + 2, rank, world_size)
        graphs = []
        for j in chosen.tolist():
            i = int(poses["complex"][j])
            graph = training_complex(items[i], options, complex_generator(seed, i)).graph
            graph["ligand"].pos = poses["poses"][j].float()
            graphs.append(graph)
        return Batch.from_data_list(graphs), (poses["rmsd"][chosen] < threshold).float()

    return make_batch
