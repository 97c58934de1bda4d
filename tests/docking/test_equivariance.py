"""Rigid motions of a whole complex (ligand and receptor together) rotate the translation and rotation
scores with it and leave every invariant output unchanged: torsion scores, pointer logits of the
encoder and the prior, and the confidence logit. Float64, real complexes, a proper random rotation."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_geometric.data import Batch

from docking.model.confidence_model import ConfidenceModel
from docking.model.pointer_latents import PointerEncoder, PointerPrior
from docking.model.score_model import ScoreModel
from docking.model.graph_network import ScoreModelConfig

from tests.docking.test_model import one_pick_per_graph, real_complex

# Three layers reach every irreps stage (0e -> +1o -> +1e -> +0o); l = 2 features exercise sh_lmax = 2.
CONFIGS = {
    "lmax1": ScoreModelConfig(ns=8, nv=3, num_conv_layers=3, distance_embed_dim=8, cross_distance_embed_dim=8,
                              sigma_embed_dim=8, num_latents=2),
    "lmax2": ScoreModelConfig(ns=6, nv=2, num_conv_layers=3, sh_lmax=2, distance_embed_dim=8,
                              cross_distance_embed_dim=8, sigma_embed_dim=8, num_latents=2),
}
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


def random_rotation(generator: torch.Generator) -> torch.Tensor:
    """A uniformly random proper rotation (QR of a Gaussian matrix, signs fixed, det +1)."""
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def moved(batch: Batch, rotations: torch.Tensor, shifts: torch.Tensor) -> Batch:
    """Each graph g of the batch rigidly moved: x -> R_g x + t_g (ligand and receptor alike)."""
    out = batch.clone()
    for node_type in ("ligand", "receptor"):
        store = out[node_type]
        R, t = rotations[store.batch], shifts[store.batch]
        store.pos = torch.einsum("nij,nj->ni", R, store.pos) + t
    return out


@pytest.fixture(scope="module")
def complexes() -> Batch:
    """Two real complexes (5 and 4 rotatable bonds) with the 60 residues nearest each ligand, float64."""
    batch = Batch.from_data_list([real_complex("1bju", 60), real_complex("1pxo", 60)])
    for node_type in ("ligand", "receptor"):
        batch[node_type].pos = batch[node_type].pos.double()
    assert batch["ligand", "rot", "ligand"].edge_index.shape[1] >= 2 * 2
    return batch


@pytest.fixture(scope="module")
def motion() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(11)
    rotations = torch.stack([random_rotation(generator) for _ in range(2)])
    for R in rotations:
        torch.testing.assert_close(R @ R.T, torch.eye(3, dtype=torch.float64))
        assert torch.det(R) == pytest.approx(1.0, abs=1e-12)
        assert not torch.allclose(R, torch.eye(3, dtype=torch.float64), atol=0.1)
    shifts = 10.0 * torch.randn(2, 3, generator=generator, dtype=torch.float64)
    return rotations, shifts


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_score_model_is_se3_equivariant(complexes, motion, config_name):
    torch.manual_seed(0)
    rotations, shifts = motion
    model = ScoreModel(CONFIGS[config_name]).double().eval()
    sigmas = {"tr": torch.tensor([3.0, 8.0]), "rot": torch.tensor([0.4, 1.2]), "tor": torch.tensor([0.5, 2.0])}
    picks = one_pick_per_graph(complexes, torch.Generator().manual_seed(1)).double()
    with torch.no_grad():
        before = model(complexes, sigmas, picks)
        after = model(moved(complexes, rotations, shifts), sigmas, picks)
    for key in ("tr_score", "rot_score"):
        assert before[key].norm(dim=-1).min() > 1e-3   # a vector that could visibly fail to rotate
        torch.testing.assert_close(after[key], torch.einsum("bij,bj->bi", rotations, before[key]), **TOLERANCE)
    assert before["tor_score"].abs().max() > 1e-3
    torch.testing.assert_close(after["tor_score"], before["tor_score"], **TOLERANCE)


def test_pointer_encoder_prior_and_confidence_are_invariant(complexes, motion):
    torch.manual_seed(0)
    rotations, shifts = motion
    config = CONFIGS["lmax1"]
    encoder = PointerEncoder(config).double().eval()
    prior = PointerPrior(config).double().eval()
    confidence = ConfidenceModel(dataclasses.replace(config, num_latents=0)).double().eval()
    previous = one_pick_per_graph(complexes, torch.Generator().manual_seed(2), num_latents=1).double()
    other = moved(complexes, rotations, shifts)
    with torch.no_grad():
        for network, call in ((encoder, lambda b: encoder(b)), (prior, lambda b: prior(b, previous, 1)),
                              (confidence, lambda b: confidence(b))):
            before, after = call(complexes), call(other)
            assert before.std() > 1e-4, f"{type(network).__name__} output is constant"
            torch.testing.assert_close(after, before, **TOLERANCE)
