"""Symmetry-corrected RMSD, closest crystal copy, centroid distance."""

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Geometry import Point3D

from benchmarks.pose_metrics import plain_rmsd, pose_errors, read_references, symmetry_rmsd
from disco_core.errors import InputError
from tests.data_paths import complex_folder


def _with_positions(mol: Chem.Mol, positions: np.ndarray) -> Chem.Mol:
    moved = Chem.Mol(mol)
    conformer = moved.GetConformer()
    for i, (x, y, z) in enumerate(positions):
        conformer.SetAtomPosition(i, Point3D(float(x), float(y), float(z)))
    return moved


def _benzene() -> Chem.Mol:
    """Benzene heavy atoms on a perfect hexagon (1.39 A) in the xy-plane, centred at (1, 2, 3)."""
    mol = Chem.MolFromSmiles("c1ccccc1")
    angles = np.arange(6) * np.pi / 3
    positions = np.stack([1.39 * np.cos(angles), 1.39 * np.sin(angles), np.zeros(6)], 1) + [1.0, 2.0, 3.0]
    conformer = Chem.Conformer(6)
    mol.AddConformer(conformer, assignId=True)
    return _with_positions(mol, positions)


def _rotated_about_z(mol: Chem.Mol, angle: float) -> Chem.Mol:
    pos = mol.GetConformer().GetPositions()
    center = pos.mean(0)
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return _with_positions(mol, (pos - center) @ rotation.T + center)


def test_benzene_rotated_by_60_degrees_is_the_same_pose():
    benzene = _benzene()
    turned = _rotated_about_z(benzene, np.pi / 3)
    assert symmetry_rmsd([turned], benzene)[0] == pytest.approx(0.0, abs=1e-6)
    assert plain_rmsd([turned], benzene)[0] == pytest.approx(1.39, abs=1e-3)   # each atom moved by one bond


def test_symmetry_rmsd_of_a_shifted_pose_and_atom_order_independence():
    benzene = _benzene()
    shifted = _with_positions(benzene, benzene.GetConformer().GetPositions() + [0.0, 0.0, 1.5])
    assert symmetry_rmsd([shifted], benzene)[0] == pytest.approx(1.5, abs=1e-6)
    toluene = Chem.AddHs(Chem.MolFromSmiles("Cc1ccccc1O"))
    from rdkit.Chem import AllChem

    AllChem.EmbedMolecule(toluene, randomSeed=1)
    toluene = Chem.RemoveHs(toluene)
    renumbered = Chem.RenumberAtoms(toluene, list(reversed(range(toluene.GetNumAtoms()))))
    assert symmetry_rmsd([renumbered], toluene)[0] == pytest.approx(0.0, abs=1e-6)


def test_different_molecules_are_an_input_error():
    with pytest.raises(InputError):
        symmetry_rmsd([_benzene()], _pyridine())


def _pyridine() -> Chem.Mol:
    mol = Chem.MolFromSmiles("c1ccncc1")
    mol.AddConformer(Chem.Conformer(6), assignId=True)
    return _with_positions(mol, _benzene().GetConformer().GetPositions())


def test_closest_copy_is_chosen_per_pose():
    benzene = _benzene()
    far_copy = _with_positions(benzene, benzene.GetConformer().GetPositions() + [20.0, 0.0, 0.0])
    pose_near_far_copy = _with_positions(benzene, benzene.GetConformer().GetPositions() + [20.0, 0.5, 0.0])
    pose_near_first = _with_positions(benzene, benzene.GetConformer().GetPositions() + [0.0, 0.3, 0.0])
    errors = pose_errors([pose_near_far_copy, pose_near_first], [benzene, far_copy])
    assert errors.reference_index.tolist() == [1, 0]
    assert errors.rmsd == pytest.approx([0.5, 0.3], abs=1e-6)
    assert errors.centroid_distance == pytest.approx([0.5, 0.3], abs=1e-6)


def test_read_references_adds_the_copies_of_ligands_sdf(tmp_path):
    source = complex_folder("6moa")
    crystal = read_references(source, "6moa")[0]
    folder = tmp_path / "6moa"
    folder.mkdir()
    (folder / "6moa_ligand.sdf").write_text((source / "6moa_ligand.sdf").read_text())
    copy = _with_positions(crystal, crystal.GetConformer().GetPositions() + [10.0, 0.0, 0.0])
    with Chem.SDWriter(str(folder / "6moa_ligands.sdf")) as writer:
        writer.write(crystal)
        writer.write(copy)
    references = read_references(folder, "6moa")
    assert len(references) == 3
    pose = _with_positions(crystal, crystal.GetConformer().GetPositions() + [10.0, 1.0, 0.0])
    errors = pose_errors([pose], references)
    assert errors.reference_index[0] == 2 and errors.rmsd[0] == pytest.approx(1.0, abs=1e-4)
