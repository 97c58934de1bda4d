"""Contacts with cofactors (docking.contacts.cofactors): a heterogen near the poses is built with RDKit from a
template of its residue name and reported by ProLIF under the file's residue name and number.

The complex is tests/data/cofactor/1ld7: farnesyltransferase with its co-substrate farnesyl diphosphate (FPP
B1002) and catalytic zinc, and a macrocycle inhibitor whose chlorophenyl lies on the farnesyl chain (the
Schrödinger FEP benchmark's model of PDB 1LD7; the protein cropped to the residues within 12 A of the ligand).
Every reported cofactor contact is checked against the files themselves: the distance between the named atoms,
recomputed with numpy from the PDB and SDF coordinates, is the reported one and within ProLIF's cutoff."""

import numpy as np
import pytest
from rdkit import Chem

from docking.contacts.cofactors import HETEROGEN_TEMPLATES, Heterogen, heavy_formula, heterogen_molecule
from docking.contacts.profiler import InteractionProfiler
from tests.data_paths import REPO

FOLDER = REPO / "tests" / "data" / "cofactor" / "1ld7"
POCKET = FOLDER / "1ld7_pocket.pdb"
CUTOFF_A = {"Hydrophobic": 4.5, "MetalAcceptor": 2.8}   # ProLIF's defaults (heavy atom to heavy atom)


def ligand() -> Chem.Mol:
    return Chem.MolFromMolFile(str(FOLDER / "1ld7_ligand.sdf"))


def residue_atoms(text: str, name: str, chain: str, number: int) -> dict[str, np.ndarray]:
    """Atom name -> coordinates of one residue of PDB text, read column by column."""
    return {line[12:16].strip(): np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])
            for line in text.splitlines() if line.startswith(("ATOM  ", "HETATM"))
            and line[17:20].strip() == name and line[21] == chain and int(line[22:26]) == number}


def heterogen(text: str, name: str, chain: str, number: int) -> Heterogen:
    lines = [line for line in text.splitlines() if line.startswith("HETATM") and line[17:20].strip() == name
             and line[21] == chain and int(line[22:26]) == number and line[76:78].strip() != "H"]
    return Heterogen(name, chain, str(number), "", tuple(line[12:16].strip() for line in lines),
                     tuple(line[76:78].strip() for line in lines),
                     np.array([[float(line[30:38]), float(line[38:46]), float(line[46:54])] for line in lines]))


@pytest.fixture(scope="module")
def profiler():
    return InteractionProfiler(cache_size=8)


@pytest.fixture(scope="module")
def contacts(profiler):
    return profiler.pose_interactions(POCKET, [ligand()], "1ld7")[0]


def test_a_cofactor_contact_is_reported_and_holds_in_the_files(contacts):
    text = POCKET.read_text()
    fpp = residue_atoms(text, "FPP", "B", 1002)
    pose = ligand().GetConformer().GetPositions()
    cofactor = [c for c in contacts if c.residue == "FPP1002.B"]
    assert len(cofactor) >= 3 and {c.kind for c in cofactor} == {"Hydrophobic"}
    assert all(c.chain == "B" and c.residue_number == "1002" for c in cofactor)
    for c in cofactor:
        (lig_atom,), (fpp_atom,) = c.ligand_atoms, c.protein_atoms
        distance = float(np.linalg.norm(pose[lig_atom] - fpp[fpp_atom]))
        assert distance == pytest.approx(c.distance, abs=1e-3) and distance <= CUTOFF_A[c.kind]
        assert fpp_atom.startswith("C") and ligand().GetAtomWithIdx(lig_atom).GetSymbol() in ("C", "Cl")
    # the zinc as before: a metal ion kept with the protein, chelated by the imidazole
    (zinc,) = [c for c in contacts if c.residue == "ZN1001.B"]
    distance = float(np.linalg.norm(pose[zinc.ligand_atoms[0]] - residue_atoms(text, "ZN", "B", 1001)["ZN"]))
    assert zinc.kind == "MetalAcceptor" and distance == pytest.approx(zinc.distance, abs=1e-3)
    assert distance <= CUTOFF_A["MetalAcceptor"]


def test_a_heterogen_without_template_is_left_out_and_changes_nothing_else(tmp_path, profiler, contacts):
    """FPP renamed to a name no template has: its contacts go, every other contact stays exactly (cofactors
    play no part in the polymer's protonation)."""
    renamed = tmp_path / "1ld7_unknown.pdb"
    renamed.write_text("\n".join(line[:17] + "XYZ" + line[20:] if line[17:26] == "FPP B1002" else line
                                 for line in POCKET.read_text().splitlines()) + "\n")
    without = profiler.pose_interactions(renamed, [ligand()], "1ld7")[0]
    assert without == [c for c in contacts if c.residue != "FPP1002.B"]


def test_the_docked_ligands_own_copy_gets_no_contacts(profiler):
    """Docking FPP itself into the file that holds it: the file's FPP is the ligand's own copy (same heavy-atom
    formula), not a partner, so the pose has contacts with the protein but none with FPP1002.B; the inhibitor,
    another formula, keeps its FPP contacts from the same cached pocket."""
    fpp = Chem.RemoveHs(heterogen_molecule(heterogen(POCKET.read_text(), "FPP", "B", 1002)))
    pose = Chem.Mol(fpp)
    for atom in pose.GetAtoms():
        atom.SetMonomerInfo(None)
    contacts = profiler.pose_interactions(POCKET, [pose], "FPP")[0]
    assert contacts and not [c for c in contacts if c.residue.startswith("FPP")]
    assert {c.residue for c in contacts if c.kind in ("Anionic", "HBAcceptor")}     # its diphosphate is held
    assert [c for c in profiler.pose_interactions(POCKET, [ligand()], "1ld7")[0] if c.residue == "FPP1002.B"]


def test_the_cofactor_gets_its_templates_bonds_charges_and_hydrogens():
    """FPP from its heavy atoms: the trianion of farnesyl diphosphate, C15H25O7P2(3-), hydrogens placed, residue
    info on every atom; a group missing an atom does not match its template and is left out (None)."""
    group = heterogen(POCKET.read_text(), "FPP", "B", 1002)
    mol = heterogen_molecule(group)
    assert Chem.GetFormalCharge(mol) == -3
    assert Chem.rdMolDescriptors.CalcMolFormula(mol) == "C15H25O7P2-3"
    assert Chem.MolToSmiles(Chem.RemoveHs(mol)) == Chem.MolToSmiles(Chem.MolFromSmiles(HETEROGEN_TEMPLATES["FPP"]))
    infos = [a.GetPDBResidueInfo() for a in mol.GetAtoms()]
    assert {(i.GetResidueName(), i.GetResidueNumber(), i.GetChainId()) for i in infos} == {("FPP", 1002, "B")}
    xyz = mol.GetConformer().GetPositions()
    for bond in mol.GetBonds():
        if 1 in (bond.GetBeginAtom().GetAtomicNum(), bond.GetEndAtom().GetAtomicNum()):
            assert 0.9 < np.linalg.norm(xyz[bond.GetBeginAtomIdx()] - xyz[bond.GetEndAtomIdx()]) < 1.2
    missing = Heterogen(group.name, group.chain, group.number, "", group.atom_names[1:], group.elements[1:],
                        group.xyz[1:])
    assert heterogen_molecule(missing) is None
    assert heavy_formula(group.elements) == (("C", 15), ("O", 7), ("P", 2))


def test_every_template_is_a_valid_molecule():
    for name, smiles in HETEROGEN_TEMPLATES.items():
        mol = Chem.MolFromSmiles(smiles)
        assert mol is not None and mol.GetNumAtoms() >= 4, name
