import numpy as np

from data_prep.ligand import generate_conformer, read_ligand, read_smiles
from data_prep.torsions import (apply_torsion_changes, rotatable_bonds, set_torsion_angles, torsion_angles,
                                torsion_atoms)


def _bond_lengths(mol, pos):
    return np.array([np.linalg.norm(pos[b.GetBeginAtomIdx()] - pos[b.GetEndAtomIdx()]) for b in mol.GetBonds()])


def test_rotatable_bonds_and_masks_on_a_small_molecule():
    # 4-phenylbutan-1-ol: the chain C-C bonds and the chain-ring bond turn; O-C moves only the O (not rotatable)
    mol = read_smiles("OCCCCc1ccccc1").mol
    bonds, masks = rotatable_bonds(mol)
    assert {tuple(sorted(b)) for b in bonds.tolist()} == {(1, 2), (2, 3), (3, 4), (4, 5)}
    assert masks.shape == (4, mol.GetNumAtoms())
    for (u, v), mask in zip(bonds, masks):
        assert mask[v] and not mask[u]
        assert mask.sum() <= mol.GetNumAtoms() - mask.sum()  # the smaller side moves
    ring_attachment = [mask for (u, v), mask in zip(bonds, masks) if {int(u), int(v)} == {4, 5}][0]
    assert ring_attachment.sum() == 5  # O + 4 chain carbons (5 atoms) move, not the 6 ring atoms


def test_ring_and_double_bonds_are_not_rotatable():
    bonds, _ = rotatable_bonds(read_smiles("C/C=C/CC1CCCCC1").mol)
    mol = read_smiles("C/C=C/CC1CCCCC1").mol
    for u, v in bonds:
        bond = mol.GetBondBetweenAtoms(int(u), int(v))
        assert not bond.IsInRing() and bond.GetBondType().name == "SINGLE"


def test_turning_moves_only_masked_atoms_and_keeps_geometry(example_ligand):
    mol = read_ligand(str(example_ligand)).mol
    pos = mol.GetConformer().GetPositions()
    bonds, masks = rotatable_bonds(mol)
    assert len(bonds) >= 4
    turned = apply_torsion_changes(pos, bonds[:1], masks[:1], np.array([1.0]))
    assert np.allclose(turned[~masks[0]], pos[~masks[0]])
    assert not np.allclose(turned[masks[0]], pos[masks[0]])
    all_turned = apply_torsion_changes(pos, bonds, masks, np.random.default_rng(0).uniform(-3, 3, len(bonds)))
    np.testing.assert_allclose(_bond_lengths(mol, all_turned), _bond_lengths(mol, pos), atol=1e-6)


def test_set_and_get_dihedrals_round_trip(example_ligand):
    mol = read_ligand(str(example_ligand)).mol
    pos = generate_conformer(mol, seed=1).astype(np.float64)
    bonds, masks = rotatable_bonds(mol)
    quads = torsion_atoms(mol, bonds)
    wanted = np.random.default_rng(1).uniform(-np.pi, np.pi, len(bonds))
    placed = set_torsion_angles(pos, bonds, masks, quads, wanted)
    diff = np.angle(np.exp(1j * (torsion_angles(placed, quads) - wanted)))
    assert np.abs(diff).max() < 1e-6
    # a torsion change of +delta raises the dihedral by delta (one sign convention everywhere)
    before = torsion_angles(pos, quads)[0]
    after = torsion_angles(apply_torsion_changes(pos, bonds[:1], masks[:1], np.array([0.5])), quads)[0]
    assert abs(np.angle(np.exp(1j * (after - before - 0.5)))) < 1e-6
