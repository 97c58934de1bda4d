"""Pose updates on real ligands: torsion changes keep the covalent geometry, add no rigid motion and set
the measured dihedrals; Kabsch, RMSD and rigid moves."""

import math

import numpy as np
import pytest
import torch

from data_prep import torsions as np_torsions
from docking.geometry import pose as P
from docking.geometry.rotations import axis_angle_to_matrix, uniform_rotation_matrices
from tests.docking.ligands import (bond_and_angle_triples, bond_lengths_and_angles, crystal_ligand,
                                   ligand_from_smiles, torsion_topology)

SMILES = "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)NCCOc1ccccc1N"  # 7+ rotatable bonds, two rings


def _ligands():
    yield ("etkdg", *ligand_from_smiles(SMILES))
    yield ("1a0q", *crystal_ligand("1a0q"))


LIGANDS = list(_ligands())


@pytest.fixture(params=LIGANDS, ids=[name for name, *_ in LIGANDS])
def ligand(request):
    name, mol, pos = request.param
    bonds, masks, quads = torsion_topology(mol)
    assert len(bonds) >= 5, name
    return mol, pos, bonds, masks, quads


def _random_angles(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * math.pi


def test_torsion_change_keeps_bond_lengths_and_angles(ligand):
    mol, pos, bonds, masks, _ = ligand
    pairs, triples = bond_and_angle_triples(mol)
    angles = _random_angles((4, len(bonds)), 0)
    new = P.apply_torsion_changes(pos.expand(4, -1, -1), bonds, masks, angles)
    lengths0, angles0 = bond_lengths_and_angles(pos, pairs, triples)
    lengths1, angles1 = bond_lengths_and_angles(new, pairs, triples)
    assert torch.allclose(lengths1, lengths0.expand_as(lengths1), atol=1e-10)
    assert torch.allclose(angles1, angles0.expand_as(angles1), atol=1e-9)
    assert P.rmsd(new, pos).min() > 0.3  # the shape did change
    # float32 works the same way, to float32 precision
    new32 = P.apply_torsion_changes(pos.float(), bonds, masks, angles[0].float())
    assert new32.dtype == torch.float32
    assert torch.allclose(bond_lengths_and_angles(new32, pairs, triples)[0], lengths0.float(), atol=1e-4)


def test_torsion_change_adds_no_rigid_motion(ligand):
    _, pos, bonds, masks, _ = ligand
    new = P.apply_torsion_changes(pos.expand(3, -1, -1), bonds, masks, _random_angles((3, len(bonds)), 1))
    displacement = new - pos
    arm = pos - P.centroid(pos)
    assert displacement.sum(-2).abs().max() < 1e-9  # zero linear momentum
    assert torch.cross(arm.expand_as(displacement), displacement, dim=-1).sum(-2).abs().max() < 1e-8  # zero angular
    rotation, translation = P.kabsch(new, pos.expand_as(new))
    assert torch.allclose(rotation, torch.eye(3, dtype=torch.float64).expand_as(rotation), atol=1e-9)
    assert translation.abs().max() < 1e-9
    # without realignment the same change does move the ligand rigidly
    raw = P.apply_torsion_changes(pos.expand(3, -1, -1), bonds, masks, _random_angles((3, len(bonds)), 1),
                                  realign=False)
    assert torch.cross(arm.expand_as(raw), raw - pos, dim=-1).sum(-2).abs().max() > 1e-2


def test_torsion_change_sets_the_measured_dihedrals(ligand):
    _, pos, bonds, masks, quads = ligand
    target = _random_angles((5, len(bonds)), 2)
    current = P.dihedral_angles(pos, quads)
    new = P.apply_torsion_changes(pos.expand(5, -1, -1), bonds, masks, target - current)
    difference = torch.remainder(P.dihedral_angles(new, quads) - target + math.pi, 2 * math.pi) - math.pi
    assert difference.abs().max() < 1e-8


def test_torsion_change_agrees_with_data_prep(ligand):
    """Same sign convention as data_prep.torsions (right-handed about u -> v, v side moving)."""
    _, pos, bonds, masks, quads = ligand
    angles = _random_angles((len(bonds),), 3)
    ours = P.apply_torsion_changes(pos, bonds, masks, angles, realign=False)
    theirs = np_torsions.apply_torsion_changes(pos.numpy(), bonds.numpy(), masks.numpy(), angles.numpy())
    assert np.allclose(ours.numpy(), theirs, atol=1e-10)
    measured = np_torsions.torsion_angles(pos.numpy(), quads.numpy())
    assert np.allclose(P.dihedral_angles(pos, quads).numpy(), measured, atol=1e-12)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_kabsch_recovers_a_known_rigid_motion(dtype, tol):
    _, pos = ligand_from_smiles(SMILES)
    pos = pos.to(dtype)
    g = torch.Generator().manual_seed(6)
    rotation = uniform_rotation_matrices(8, g, dtype)
    translation = torch.randn(8, 3, generator=g, dtype=torch.float64).to(dtype) * 10
    moved = pos @ rotation.transpose(-1, -2) + translation[:, None, :]
    found_rotation, found_translation = P.kabsch(pos.expand_as(moved), moved)
    assert torch.allclose(found_rotation, rotation, atol=tol)
    assert torch.allclose(found_translation, translation, atol=100 * tol)
    assert P.rmsd(P.kabsch_align(pos.expand_as(moved), moved), moved).max() < 10 * tol


def test_kabsch_never_returns_a_reflection():
    _, pos = ligand_from_smiles(SMILES)
    mirrored = pos * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    rotation, _ = P.kabsch(pos, mirrored)
    assert torch.isclose(torch.linalg.det(rotation), torch.tensor(1.0, dtype=torch.float64))


def test_rigid_moves_and_rmsd():
    _, pos = ligand_from_smiles(SMILES)
    shift = torch.tensor([1.0, -2.0, 2.0], dtype=torch.float64)
    assert torch.isclose(P.rmsd(P.translate(pos, shift), pos), shift.norm())
    rotvec = torch.tensor([0.3, -1.2, 0.5], dtype=torch.float64)
    rotated = P.rotate_by_rotvec(pos, rotvec)
    assert torch.allclose(P.centroid(rotated), P.centroid(pos))
    rotation, _ = P.kabsch(pos, rotated)
    assert torch.allclose(rotation, axis_angle_to_matrix(rotvec), atol=1e-10)


def test_pose_update_composes_the_three_components(ligand):
    _, pos, bonds, masks, quads = ligand
    tr = torch.tensor([[3.0, 0.0, -1.0]], dtype=torch.float64)
    rotvec = torch.tensor([[0.0, 0.0, 2.0]], dtype=torch.float64)
    tor = _random_angles((1, len(bonds)), 4)
    new = P.apply_pose_update(pos[None], tr, rotvec, tor, bonds, masks)
    assert torch.allclose(P.centroid(new), P.centroid(pos) + tr)
    delta = torch.remainder(P.dihedral_angles(new, quads) - P.dihedral_angles(pos, quads) - tor + math.pi,
                            2 * math.pi) - math.pi
    assert delta.abs().max() < 1e-8
    in_place = P.apply_torsion_changes(pos, bonds, masks, tor[0])
    rotation, _ = P.kabsch(in_place, new[0])
    assert torch.allclose(rotation, axis_angle_to_matrix(rotvec[0]), atol=1e-9)
