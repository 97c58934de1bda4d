import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from data_prep.conformer_matching import aligned_rmsd
from data_prep.ligand import EmbeddingError, generate_conformer, read_ligand, read_ligand_file, read_smiles
from data_prep.ligand_features import (LIGAND_ATOM_FEATURE_DIMS, LIGAND_BOND_FEATURE_DIMS, atom_features,
                                       bond_graph, check_feature_ranges)
from disco_core.errors import InputError
from tests.data_paths import SHARED_INDEX, VENDORED_INDEX, index_rows

from .conftest import BAD_INPUTS


def test_reads_the_example_heavy_atoms_with_pose(example_ligand):
    ligand = read_ligand(str(example_ligand))
    assert ligand.has_pose and ligand.how == "sdf"
    assert ligand.mol.GetNumAtoms() == 27
    assert all(atom.GetAtomicNum() > 1 for atom in ligand.mol.GetAtoms())


def test_hydrogens_are_removed_keeping_heavy_atom_order(example_ligand, tmp_path):
    mol = Chem.MolFromMolFile(str(example_ligand))
    with_h = Chem.AddHs(mol, addCoords=True)
    path = tmp_path / "with_h.sdf"
    Chem.MolToMolFile(with_h, str(path))
    ligand = read_ligand_file(path)
    assert ligand.mol.GetNumAtoms() == mol.GetNumAtoms()
    np.testing.assert_allclose(ligand.mol.GetConformer().GetPositions(), mol.GetConformer().GetPositions(), atol=1e-3)


def test_mol2_fallback_when_the_sdf_does_not_sanitise(example_ligand, tmp_path):
    mol = Chem.MolFromMolFile(str(example_ligand))
    mol2 = tmp_path / "lig.mol2"
    # RDKit cannot write MOL2; build one from the SDF's atoms and bonds (Tripos types kept simple).
    conf = mol.GetConformer()
    kinds = {Chem.BondType.SINGLE: "1", Chem.BondType.DOUBLE: "2", Chem.BondType.AROMATIC: "ar"}
    atoms = [f"{a.GetIdx() + 1} {a.GetSymbol()}{a.GetIdx() + 1} {conf.GetAtomPosition(a.GetIdx()).x:.4f} "
             f"{conf.GetAtomPosition(a.GetIdx()).y:.4f} {conf.GetAtomPosition(a.GetIdx()).z:.4f} "
             f"{a.GetSymbol()}{'.ar' if a.GetIsAromatic() else ('.2' if a.GetHybridization() == Chem.HybridizationType.SP2 else '.3')} 1 LIG 0.0"
             for a in mol.GetAtoms()]
    Chem.Kekulize(mol, clearAromaticFlags=False)
    bonds = [f"{b.GetIdx() + 1} {b.GetBeginAtomIdx() + 1} {b.GetEndAtomIdx() + 1} "
             f"{kinds.get(b.GetBondType(), '1') if not b.GetIsAromatic() else 'ar'}" for b in mol.GetBonds()]
    mol2.write_text("@<TRIPOS>MOLECULE\nLIG\n%d %d 0 0 0\nSMALL\nNO_CHARGES\n\n@<TRIPOS>ATOM\n%s\n@<TRIPOS>BOND\n%s\n"
                    % (len(atoms), len(bonds), "\n".join(atoms), "\n".join(bonds)))
    broken_sdf = tmp_path / "lig.sdf"
    broken_sdf.write_text((BAD_INPUTS / "valence_error.sdf").read_text())
    ligand = read_ligand_file(broken_sdf, fallbacks=(mol2,))
    assert ligand.how.startswith("mol2")
    assert ligand.mol.GetNumAtoms() == 27


def test_tetravalent_neutral_nitrogen_is_repaired(tmp_path):
    mol = Chem.AddHs(Chem.MolFromSmiles("C[N+](C)(C)CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    mol = Chem.RemoveHs(mol)
    uncharged = Chem.RWMol(mol)
    uncharged.GetAtomWithIdx(1).SetFormalCharge(0)  # what PDBbind SDFs often hold
    uncharged.UpdatePropertyCache(strict=False)
    block = Chem.MolToMolBlock(uncharged) + "$$$$\n"
    path = tmp_path / "choline_uncharged.sdf"
    path.write_text(block)
    assert Chem.MolFromMolFile(str(path)) is None  # RDKit alone rejects it
    ligand = read_ligand_file(path)
    assert ligand.how == "sdf+charged_N"
    assert Chem.MolToSmiles(ligand.mol) == Chem.MolToSmiles(mol)


def test_smiles_and_bad_smiles():
    assert read_smiles("c1ccccc1O").mol.GetNumAtoms() == 7
    with pytest.raises(InputError, match="unparsable SMILES"):
        read_ligand("C1CC(")


def test_conformer_is_seeded_and_keeps_chirality(example_ligand):
    mol = read_ligand(str(example_ligand)).mol
    a, b = generate_conformer(mol, seed=3), generate_conformer(mol, seed=3)
    np.testing.assert_allclose(a, b)
    assert a.shape == (27, 3)
    placed = Chem.Mol(mol)
    conf = placed.GetConformer()
    for i, xyz in enumerate(a.astype(float)):
        conf.SetAtomPosition(i, xyz.tolist())
    Chem.AssignStereochemistryFrom3D(placed)
    assert Chem.MolToSmiles(placed) == Chem.MolToSmiles(mol)
    assert aligned_rmsd(a, mol.GetConformer().GetPositions()) > 0.1  # a real new conformer, not a copy


def test_unembeddable_molecule_fails_clearly():
    with pytest.raises(EmbeddingError, match="cannot embed"):
        generate_conformer(read_smiles("C1#CC1").mol, timeout_s=5, name="cyclopropyne")


@pytest.mark.parametrize("index_csv", [pytest.param(VENDORED_INDEX, id="vendored"),
                                       pytest.param(SHARED_INDEX, id="shared", marks=pytest.mark.shared_data)])
def test_features_have_declared_vocab_sizes(index_csv):
    rows = index_rows(index_csv)
    assert len(rows) >= 20
    for row in rows:
        mol = read_ligand_file(row["ligand_path"]).mol
        x = atom_features(mol)
        edge_index, edge_attr = bond_graph(mol)
        assert x.dtype == torch.long and x.shape == (mol.GetNumAtoms(), len(LIGAND_ATOM_FEATURE_DIMS))
        assert edge_index.shape == (2, 2 * mol.GetNumBonds())
        assert edge_attr.shape == (2 * mol.GetNumBonds(), len(LIGAND_BOND_FEATURE_DIMS))
        assert check_feature_ranges(x, LIGAND_ATOM_FEATURE_DIMS)
        assert check_feature_ranges(edge_attr, LIGAND_BOND_FEATURE_DIMS)
        assert (edge_index[0, ::2] == edge_index[1, 1::2]).all()


def test_feature_values_on_a_known_molecule():
    mol = read_smiles("C[C@H](N)C(=O)[O-]").mol  # L-alanine, carboxylate
    x = atom_features(mol)
    from data_prep.ligand_features import ELEMENTS, FORMAL_CHARGES, HYBRIDISATIONS
    assert x[1, 0] == ELEMENTS.index("C") and x[1, 1] in (1, 2)      # chiral centre tagged
    assert x[5, 3] == FORMAL_CHARGES.index(-1)                       # O-
    assert x[3, 6] == HYBRIDISATIONS.index(Chem.HybridizationType.SP2)
    assert x[:, 8].sum() == 0                                        # no rings
    benzene = atom_features(read_smiles("c1ccccc1").mol)
    assert (benzene[:, 7] == 1).all() and (benzene[:, 9] == 4).all()  # aromatic, ring size 6 (index 4)
