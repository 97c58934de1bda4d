"""`dock_complex` on a real complex with tiny (untrained) networks: reproducibility from the seed,
output shapes and ranking, pocket-conditioned and blind runs, fixed picks, guidance."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch

from data_prep.featurize import FeaturizeOptions, featurize_pair
from docking.model.confidence_model import ConfidenceModel
from docking.model.pointer_latents import PointerPrior
from docking.model.graph_network import ScoreModelConfig
from docking.model.loading import DockingModels, build_score_model
from docking.model.complex_sampling import crop_receptor, dock_complex, docking_graph, node_indices_as_picks, picks_as_node_indices

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "1s3v"
TINY = ScoreModelConfig(ns=8, nv=2, num_conv_layers=2, distance_embed_dim=8, cross_distance_embed_dim=8,
                        sigma_embed_dim=8, num_latents=2)


@functools.lru_cache(maxsize=None)
def example_item() -> dict:
    item = featurize_pair(EXAMPLE / "1s3v_protein.pdb", EXAMPLE / "1s3v_ligand.sdf", name="1s3v",
                          options=FeaturizeOptions(match_restarts=1))
    return crop_receptor(item, item["pocket_center"], max_residues=60)   # small enough for fast blind runs


@functools.lru_cache(maxsize=None)
def tiny_models() -> DockingModels:
    torch.manual_seed(0)
    return DockingModels(score=build_score_model(TINY).eval(), prior=PointerPrior(TINY).eval(),
                         confidence=ConfidenceModel(TINY).eval(), pocket_radius=12.0)


def dock(seed: int, **kwargs):
    item = example_item()
    kwargs.setdefault("pocket_center", item["pocket_center"])
    return dock_complex(tiny_models(), item, num_samples=4, steps=3, generator=torch.Generator().manual_seed(seed),
                        **kwargs)


@torch.no_grad()
def confidence_of_each(models: DockingModels, graph, poses: torch.Tensor) -> torch.Tensor:
    """sigmoid(confidence model) of every pose (S, N, 3) on its own, one graph per call."""
    values = []
    for pose in poses:
        batch = Batch.from_data_list([graph])
        batch["ligand"].pos = pose.float()
        values.append(torch.sigmoid(models.confidence(batch))[0])
    return torch.stack(values)


def test_same_seed_same_poses_other_seed_other_poses():
    first, again, other = dock(0), dock(0), dock(1)
    for a, b in zip(first, again):
        assert (a is None and b is None) or torch.equal(a, b)
    assert not torch.allclose(first.poses, other.poses)


def test_shapes_ranking_and_rigid_ligand_geometry():
    item = example_item()
    docked = dock(0)
    n_atoms = item["lig_atom_features"].shape[0]
    n_nodes = n_atoms + crop_receptor(item, item["pocket_center"], 12.0)["rec_pos"].shape[0]
    assert docked.poses.shape == (4, n_atoms, 3) and docked.confidences.shape == (4,) and docked.picks.shape == (4, 2)
    assert torch.isfinite(docked.poses).all()
    # ranked: each pose carries the confidence the model gives that pose alone (recomputed here on the pocket
    # graph), and the poses come best first; the four values differ, so the order is a real ranking
    alone = confidence_of_each(tiny_models(), docking_graph(item, item["pocket_center"], 12.0), docked.poses)
    torch.testing.assert_close(docked.confidences, alone, rtol=0, atol=1e-6)
    assert len(set(alone.tolist())) == 4
    assert alone.argsort(descending=True).tolist() == [0, 1, 2, 3]
    assert sorted(docked.sample_index.tolist()) == [0, 1, 2, 3]
    assert bool(((docked.picks >= 0) & (docked.picks < n_nodes)).all())
    # Only torsions change the ligand's internal geometry: every bond length is the conformer's.
    bonds = item["lig_bond_index"]
    conformer_lengths = (item["lig_pos_conformer"][bonds[0]] - item["lig_pos_conformer"][bonds[1]]).norm(dim=-1)
    lengths = (docked.poses[:, bonds[0]] - docked.poses[:, bonds[1]]).norm(dim=-1)
    torch.testing.assert_close(lengths, conformer_lengths.expand_as(lengths), atol=1e-3, rtol=1e-3)


def test_blind_docking_uses_the_whole_receptor_and_starts_at_its_centre():
    item = example_item()
    docked = dock(0, pocket_center=None)
    assert docked.poses.shape[0] == 4 and torch.isfinite(docked.poses).all()
    assert bool((docked.picks < item["lig_atom_features"].shape[0] + item["rec_pos"].shape[0]).all())
    assert not torch.allclose(docked.poses, dock(0).poses)


def test_fixed_picks_are_used_and_round_trip_through_the_batch_layout():
    graph = docking_graph(example_item(), example_item()["pocket_center"], 12.0)
    copies = Batch.from_data_list([graph] * 3)
    indices = torch.tensor([[0, 30], [5, 26], [40, 1]])
    assert torch.equal(picks_as_node_indices(node_indices_as_picks(indices, copies), copies), indices)
    fixed = torch.tensor([[0, 30]] * 4)
    docked = dock(0, picks=fixed)
    assert torch.equal(docked.picks, fixed)


def test_guidance_changes_the_poses_and_models_without_a_prior_refuse_latents():
    assert not torch.allclose(dock(0).poses, dock(0, guidance_weight=2.0).poses)
    models = tiny_models()
    no_prior = DockingModels(score=models.score)
    with pytest.raises(Exception, match="prior"):
        dock_complex(no_prior, example_item(), num_samples=2, steps=2, generator=torch.Generator().manual_seed(0))
