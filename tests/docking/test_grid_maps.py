"""Receptor grid maps against the pairwise interaction energy they replace (the reference), on the shipped
complex: energies and gradients of crystal-like and displaced poses, map values at grid points, the
penalty outside the box, maps added per ligand class, and the refusal of a box too large for memory.

Stated tolerance (Catmull-Rom interpolation of 0.375 A maps): energies within 0.2 kcal/mol of the
pairwise sum; atomic gradients with cosine similarity >= 0.95 to the pairwise ones and relative error
<= 0.3 (measured on 1s3v: <= 0.09 kcal/mol, cosine >= 0.97, relative error <= 0.25, the largest at the
crystal pose where the gradient itself is smallest)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from disco_core.errors import InputError
from docking.physics.grid_maps import (OUTSIDE_SLOPE, GridBox, GridInteractionEnergy, ReceptorGrids,
                                       atom_classes)
from docking.physics.interaction_energy import InteractionEnergy, TypedAtoms, ligand_atoms
from tests.docking.test_dock_cli import LIGAND as LIGAND_PATH, PROTEIN as PROTEIN_PATH
from tests.docking.test_interaction_energy import crystal_energy, crystal_ligand


@pytest.fixture(scope="module")
def energies():
    torch.set_num_threads(1)
    energy, pos = crystal_energy()
    center = pos.mean(0)
    box = GridBox.around(center, float((pos - center).norm(dim=1).max()) + 6.0)
    return energy, GridInteractionEnergy.for_ligand(crystal_ligand(), ReceptorGrids(energy.receptor, box)), pos.float()


def displaced_poses(pos: torch.Tensor) -> torch.Tensor:
    shift = torch.randn(16, 1, 3, generator=torch.Generator().manual_seed(0))
    return torch.cat([pos[None], pos[None] + shift])


def gradient(energy, poses: torch.Tensor) -> torch.Tensor:
    x = poses.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(energy(x).sum(), x)
    return g.reshape(len(poses), -1)


def test_grid_energies_and_gradients_agree_with_the_pairwise_reference(energies):
    pairwise, grid, pos = energies
    poses = displaced_poses(pos)
    assert torch.allclose(grid(poses), pairwise(poses), atol=0.2)
    reference, interpolated = gradient(pairwise, poses), gradient(grid, poses)
    assert (torch.nn.functional.cosine_similarity(reference, interpolated) >= 0.95).all()
    assert ((reference - interpolated).norm(dim=1) / reference.norm(dim=1)).max() <= 0.3


def test_map_values_at_grid_points_are_the_pairwise_sums(energies):
    """A one-atom probe of each class placed on grid points reads back the pairwise energy of that atom."""
    pairwise, grid, pos = energies
    grids, box = grid.grids, grid.grids.box
    points = box.points().reshape(-1, 3)
    chosen = points[torch.randint(len(points), (20,), generator=torch.Generator().manual_seed(1))].float()
    for atom in range(len(pos)):
        probe = TypedAtoms(torch.zeros(0, 3), *(getattr(pairwise.ligand, name)[atom:atom + 1]
                                                for name in ("radius", "hydrophobic", "donor", "acceptor")))
        index = grids.class_index(probe)
        single = InteractionEnergy(probe, pairwise.receptor, torch.zeros(0, 2, dtype=torch.long))
        expected = single.intermolecular(chosen[:, None])
        assert torch.allclose(grids.energy(chosen[:, None], index), expected, atol=2e-3, rtol=1e-4)


def test_atoms_outside_the_box_pay_the_stated_penalty(energies):
    _, grid, pos = energies
    box = grid.grids.box
    upper_x = box.origin[0] + box.spacing * (box.shape[0] - 1)
    beyond = pos.clone()
    beyond[:, 0] = upper_x + 1.0                 # every atom 1 A beyond the box's +x face
    further = beyond.clone()
    further[:, 0] += 2.5
    difference = grid.intermolecular(further[None]) - grid.intermolecular(beyond[None])
    assert float(difference) == pytest.approx(len(pos) * OUTSIDE_SLOPE * 2.5, rel=1e-4)


def test_maps_are_added_per_class_without_changing_the_others(energies):
    pairwise, grid, pos = energies
    grids = grid.grids
    before = {c: grids.maps[i].clone() for i, c in enumerate(grids.classes)}
    from rdkit import Chem
    bromo = ligand_atoms(Chem.MolFromSmiles("BrCCBr"))
    new = set(atom_classes(bromo)) - set(grids.classes)
    assert new                                   # bromine brings a class the crystal ligand lacks
    grids.class_index(bromo)
    for i, c in enumerate(grids.classes):
        if c in before:
            assert torch.equal(grids.maps[i], before[c])
    assert set(grids.classes) >= new


def test_a_box_too_large_for_memory_is_refused_with_its_size():
    with pytest.raises(InputError, match=r"120 x 120 x 120 A .*--pocket-radius"):
        GridBox.around(torch.zeros(3), 60.0)


def test_grid_energy_keeps_the_crystal_pose_preferred(energies):
    """Like the pairwise energy, the grid energy ranks the crystal pose below displaced copies."""
    _, grid, pos = energies
    values = grid(displaced_poses(pos))
    assert float(values[0]) < float(values[1:].min())
    assert crystal_ligand().GetNumAtoms() == len(pos)


def test_guided_docking_on_grids_reports_the_energy_of_its_poses():
    """`disco dock --energy grid`: every written pose's interaction_energy is, within
    the stated tolerance, the pairwise energy of that pose, and the poses come ranked by it."""
    from docking.inference.pipeline import DockingPipeline, DockOptions
    from docking.physics.guidance import PhysicsGuidance

    torch.set_num_threads(1)
    energy, pos = crystal_energy()
    physics = PhysicsGuidance(weight=3.0, minimize_steps=30, resample_at=(0.5,), preview_steps=5, refine_rounds=2)
    pipeline = DockingPipeline(DockOptions(samples=4, steps=8, device="cpu", physics=physics, rank_by="energy",
                                           energy="grid"))
    result = pipeline.dock(PROTEIN_PATH, LIGAND_PATH, name="1s3v", pocket_center=tuple(pos.mean(0).tolist()))
    poses = torch.from_numpy(np.stack([mol.GetConformer().GetPositions() for mol in result.poses]))
    reported = torch.tensor(result.extras["interaction_energy"])
    assert torch.allclose(reported, energy(poses).float(), atol=0.2)
    assert reported.tolist() == sorted(reported.tolist())


def test_grid_search_with_pairwise_ranking_reports_exact_pairwise_energies():
    """`disco dock --energy grid+pairwise`: the search runs on the grid maps, then every pose is minimised
    once more in the pairwise sum, so the reported energy is exactly (1e-3) the pairwise energy of the
    written pose, and the poses are ranked by it."""
    from docking.inference.pipeline import DockingPipeline, DockOptions
    from docking.physics.guidance import PhysicsGuidance

    torch.set_num_threads(1)
    energy, pos = crystal_energy()
    physics = PhysicsGuidance(weight=3.0, minimize_steps=30, resample_at=(0.5,), preview_steps=5, refine_rounds=2,
                              refine_chains=2, polish_steps=20)
    pipeline = DockingPipeline(DockOptions(samples=4, steps=8, device="cpu", physics=physics, rank_by="energy",
                                           energy="grid+pairwise"))
    result = pipeline.dock(PROTEIN_PATH, LIGAND_PATH, name="1s3v", pocket_center=tuple(pos.mean(0).tolist()))
    poses = torch.from_numpy(np.stack([mol.GetConformer().GetPositions() for mol in result.poses]))
    reported = torch.tensor(result.extras["interaction_energy"])
    assert torch.allclose(reported, energy(poses.float()), atol=1e-3)
    assert reported.tolist() == sorted(reported.tolist())


def _central_differences(function, poses: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """d sum(function) / d poses by central differences in float64 (independent of any autograd rule)."""
    flat = poses.double().reshape(-1)
    out = torch.zeros_like(flat)
    for k in range(len(flat)):
        step = torch.zeros_like(flat)
        step[k] = eps
        out[k] = (function((flat + step).reshape(poses.shape)).double().sum()
                  - function((flat - step).reshape(poses.shape)).double().sum()) / (2 * eps)
    return out.reshape(poses.shape)


def test_the_analytic_gradient_of_the_map_read_matches_finite_differences(energies):
    """The cubic read's gradient (computed with its values, not by autograd) against central differences of
    the read itself, at poses inside the box and with atoms beyond two faces (penalty slope, clamped axes)."""
    _, grid, pos = energies
    box = grid.grids.box
    inside = pos[None] + torch.randn(2, 1, 3, generator=torch.Generator().manual_seed(3))
    beyond = pos[None].clone()
    beyond[0, :5, 0] = box.origin[0] - 1.3                          # five atoms past the -x face
    beyond[0, 5:9, 2] = box.origin[2] + box.spacing * (box.shape[2] - 1) + 0.7   # four past the +z face
    poses = torch.cat([inside, beyond]).float()
    x = poses.clone().requires_grad_(True)
    (analytic,) = torch.autograd.grad(grid.intermolecular(x).sum(), x)
    read = lambda p: grid.grids.energy(p.double(), grid.class_index)       # noqa: E731  (float32 inside)
    numeric = _central_differences(read, poses.double(), eps=2e-3)
    assert torch.allclose(analytic.double(), numeric, atol=0.03, rtol=0.02)
    assert torch.allclose(analytic[2, :5, 0], torch.full((5,), -OUTSIDE_SLOPE), atol=1e-6)   # pulled back in +x
    assert torch.allclose(analytic[2, 5:9, 2], torch.full((4,), OUTSIDE_SLOPE), atol=1e-6)


def test_the_internal_energy_gradient_matches_finite_differences(energies):
    """The ligand's internal pair terms (analytic slope per pair) against central differences, at poses whose
    pairs clash (repulsion), touch (gauss1, h-bond) and sit in the cutoff's fade."""
    _, grid, pos = energies
    generator = torch.Generator().manual_seed(4)
    poses = torch.cat([pos[None], pos[None] * 0.8, pos[None] * 1.6]) + 0.2 * torch.randn(3, *pos.shape,
                                                                                       generator=generator)
    x = poses.float().clone().requires_grad_(True)
    (analytic,) = torch.autograd.grad(grid.internal(x).sum(), x)
    numeric = _central_differences(lambda p: grid.internal_energy.internal(p.float()), poses.double(), eps=2e-3)
    assert torch.allclose(analytic.double(), numeric, atol=0.02, rtol=0.02)
