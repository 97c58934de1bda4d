"""data_prep.pose_rmsd: the one symmetry-corrected, in-place, heavy-atom RMSD, against values known
without it (swapped symmetric atoms, a rigid shift, a small case computed by hand)."""

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem
from rdkit.Geometry import Point3D

from data_prep.pose_rmsd import symmetry_rmsd, symmetry_rmsd_of_mols
from disco_core.errors import InputError


def _embedded(smiles: str, seed: int = 7) -> Chem.Mol:
    """Heavy atoms of `smiles` with an RDKit 3D conformer."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    assert AllChem.EmbedMolecule(mol, randomSeed=seed) == 0
    return Chem.RemoveHs(mol)


def _with_positions(mol: Chem.Mol, positions: np.ndarray) -> Chem.Mol:
    moved = Chem.Mol(mol)
    if moved.GetNumConformers() == 0:
        moved.AddConformer(Chem.Conformer(moved.GetNumAtoms()), assignId=True)
    conformer = moved.GetConformer()
    for i, (x, y, z) in enumerate(positions):
        conformer.SetAtomPosition(i, Point3D(float(x), float(y), float(z)))
    return moved


def _plain(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(-1).mean()))


def test_swapped_carboxyl_oxygens_and_a_flipped_ring_are_the_same_pose():
    acid = _embedded("OC(=O)c1ccccc1")   # benzoic acid: atoms 0 and 2 are the two oxygens
    assert [acid.GetAtomWithIdx(i).GetSymbol() for i in (0, 2)] == ["O", "O"]
    reference = acid.GetConformer().GetPositions()
    swapped = reference.copy()
    swapped[[0, 2]] = reference[[2, 0]]
    # by index the two oxygens are each off by the O...O distance d: plain RMSD = d * sqrt(2 / N)
    distance = float(np.linalg.norm(reference[0] - reference[2]))
    assert _plain(swapped, reference) == pytest.approx(distance * np.sqrt(2 / acid.GetNumAtoms()), rel=1e-9)
    assert _plain(swapped, reference) > 0.5
    assert symmetry_rmsd(acid, swapped)[0] == pytest.approx(0.0, abs=1e-6)
    # the ring turned over about its C1-C4 axis: ortho carbons 4 <-> 8, meta carbons 5 <-> 7
    flipped = swapped.copy()
    flipped[[4, 5, 7, 8]] = swapped[[8, 7, 5, 4]]
    assert _plain(flipped, reference) > 0.5
    assert symmetry_rmsd(acid, flipped)[0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("distance", [0.0, 0.7, 2.5])
def test_a_rigid_shift_by_d_gives_exactly_d(distance):
    # For any atom pairing p, sum_i |x_p(i) + t - x_i|^2 = sum_i |x_p(i) - x_i|^2 + N |t|^2 (the cross term
    # sums x_p(i) - x_i over all atoms, i.e. 0), so the minimum over automorphisms is |t| exactly.
    mol = _embedded("OC(=O)c1ccc(C(=O)O)cc1")   # terephthalic acid: many automorphisms
    reference = mol.GetConformer().GetPositions()
    direction = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
    poses = np.stack([reference + distance * direction, reference + distance * direction[[2, 0, 1]]])
    assert symmetry_rmsd(mol, poses) == pytest.approx([distance, distance], abs=1e-9)


def test_a_small_case_computed_by_hand():
    # isopropanol CC(C)O, heavy atoms C0, C1 (centre), C2, O3; its one non-trivial automorphism swaps C0, C2
    mol = _with_positions(Chem.MolFromSmiles("CC(C)O"),
                          np.array([[-1.3, 0.8, 0.0], [0.0, 0.0, 0.0], [1.3, 0.8, 0.0], [0.0, -1.4, 0.0]]))
    reference = mol.GetConformer().GetPositions()
    pose = reference.copy()
    pose[0] = [1.3, 0.8, 0.6]     # where C2 was, lifted by 0.6 A
    pose[2] = [-1.3, 0.8, 0.0]    # where C0 was
    # by index: (2.6^2 + 0.6^2 + 2.6^2) / 4 = 3.47; with C0 <-> C2 swapped: 0.6^2 / 4 = 0.09 -> 0.3
    assert _plain(pose, reference) == pytest.approx(np.sqrt(3.47), rel=1e-12)
    assert symmetry_rmsd(mol, pose)[0] == pytest.approx(0.3, abs=1e-9)
    # the same through the training callers' inputs: a molblock, torch tensors, several poses
    values = symmetry_rmsd(Chem.MolToMolBlock(mol), torch.tensor(np.stack([pose, reference]), dtype=torch.float64),
                           torch.tensor(reference))
    assert isinstance(values, np.ndarray) and values.shape == (2,)
    assert values == pytest.approx([0.3, 0.0], abs=1e-9)


def test_hydrogens_are_left_out_and_the_reference_pose_can_be_given():
    with_h = Chem.AddHs(Chem.MolFromSmiles("OC(=O)c1ccccc1"))
    assert AllChem.EmbedMolecule(with_h, randomSeed=3) == 0
    everything = with_h.GetConformer().GetPositions()
    heavy = np.array([a.GetIdx() for a in with_h.GetAtoms() if a.GetAtomicNum() > 1])
    moved = everything.copy()
    moved[[a.GetIdx() for a in with_h.GetAtoms() if a.GetAtomicNum() == 1]] += 5.0   # hydrogens only
    assert symmetry_rmsd(with_h, moved)[0] == pytest.approx(0.0, abs=1e-9)
    shifted = everything[heavy] + [0.0, 0.0, 1.25]
    assert symmetry_rmsd(with_h, shifted, reference_coords=everything)[0] == pytest.approx(1.25, abs=1e-9)
    assert symmetry_rmsd(with_h, shifted[None], reference_coords=everything[heavy])[0] == pytest.approx(1.25)


def test_empty_and_mismatched_inputs():
    mol = _embedded("CCO")
    assert symmetry_rmsd(mol, np.zeros((0, 3, 3))).shape == (0,)
    assert symmetry_rmsd(mol, []).shape == (0,)
    with pytest.raises(InputError):
        symmetry_rmsd(mol, np.zeros((2, 4, 3)))
    with pytest.raises(InputError):
        symmetry_rmsd(Chem.MolFromSmiles("CCO"), np.zeros((1, 3, 3)))   # no reference pose anywhere


def test_posed_molecules_in_another_atom_order_are_matched_by_graph():
    mol = _embedded("Cc1ccccc1O")
    order = list(reversed(range(mol.GetNumAtoms())))
    renumbered = Chem.RenumberAtoms(mol, order)
    shifted = _with_positions(renumbered, renumbered.GetConformer().GetPositions() + [0.4, 0.0, 0.0])
    assert symmetry_rmsd_of_mols(mol, [renumbered, shifted, mol]) == pytest.approx([0.0, 0.4, 0.0], abs=1e-9)
    pyridine = _embedded("c1ccncc1")
    with pytest.raises(InputError):
        symmetry_rmsd_of_mols(_embedded("c1ccccc1"), [pyridine])
