"""Vina's atom typing (docking.physics.vina_typing) against independent references: meeko's AutoDock types of the
same ligands and of the receptor PDBQTs meeko's residue templates write for Vina, read with Vina's published rules
(acceptor: AutoDock type NA or OA; donor: N or O bonded to a polar hydrogen HD, or a metal; hydrophobic: a carbon
bonded only to carbons and hydrogens, or a halogen); hand-built histidines; and cofactors typed from their bonds."""

from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from benchmarks.shipped import shipped_complexes
from data_prep.protein import HeavyAtoms, read_heavy_atoms
from docking.physics.interaction_energy import ligand_atoms, receptor_atoms
from docking.physics.vina_receptor import prepare_receptor
from docking.physics.vina_typing import ligand_types

REPO = Path(__file__).resolve().parents[2]
HYDROGENS = ("H", "HD")
HALOGEN_TYPES = ("F", "Cl", "Br", "I")
METAL_TYPES = ("Zn", "Mg", "Ca", "Mn", "Fe")


def vina_flags(types: list[str], neighbours: list[list[int]], i: int) -> tuple[bool, bool, bool]:
    """(hydrophobic, donor, acceptor) of heavy atom i by Vina's rules from AutoDock types and bonds."""
    t = types[i]
    hydrophobic = (t in ("C", "A") and all(types[j] in ("C", "A", *HYDROGENS) for j in neighbours[i])) \
        or t in HALOGEN_TYPES
    donor = (t in ("N", "NA", "OA") and any(types[j] == "HD" for j in neighbours[i])) or t in METAL_TYPES
    return hydrophobic, donor, t in ("NA", "OA")


def shipped_ligands() -> list[tuple[str, Chem.Mol]]:
    files = sorted((REPO / "tests" / "data" / "complexes").glob("*/*_ligand.sdf"))
    files += [REPO / "examples" / "1s3v" / "1s3v_ligand.sdf"]
    mols = [(f.stem, Chem.MolFromMolFile(str(f))) for f in files]
    return [(name, Chem.RemoveHs(mol)) for name, mol in mols if mol is not None]


def test_ligand_types_are_what_vina_reads_from_meekos_preparation():
    from meeko import MoleculePreparation

    ligands = shipped_ligands()
    assert len(ligands) >= 20
    differences, compared = [], 0
    for name, mol in ligands:
        setup = MoleculePreparation().prepare(Chem.AddHs(mol, addCoords=True))[0]
        types = [a.atom_type for a in setup.atoms]
        neighbours = [list(a.graph) for a in setup.atoms]
        ours = ligand_atoms(mol)
        for i in range(mol.GetNumAtoms()):           # AddHs keeps the heavy atoms first, in order
            expected = vina_flags(types, neighbours, i)
            got = (bool(ours.hydrophobic[i]), bool(ours.donor[i]), bool(ours.acceptor[i]))
            compared += 1
            if got != expected:
                differences.append((name, i, types[i], got, expected))
    assert compared > 400 and differences == []


def pdbqt_atoms(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    xyz, types, residues = [], [], []
    for line in path.read_text().splitlines():
        if line.startswith(("ATOM", "HETATM")):
            xyz.append([float(line[30:38]), float(line[38:46]), float(line[46:54])])
            types.append(line[77:79].strip())
            residues.append(f"{line[17:20]} {line[12:16].strip()}")
    return np.array(xyz), types, residues


@pytest.mark.parametrize("complex_", shipped_complexes(5), ids=lambda c: c.name)
def test_receptor_types_are_what_vina_reads_from_meekos_templates(complex_, tmp_path):
    """Every receptor heavy atom within 12 A of the ligand typed as Vina types meeko's receptor PDBQT. The only
    atoms allowed to differ are histidine ring N where the file has no hydrogens (we take both tautomers, meeko
    picks one) or where meeko replaced the file's hydrogens with its own (we follow the file)."""
    ligand = Chem.MolFromMolFile(str(complex_.ligand))
    center = ligand.GetConformer().GetPositions().mean(0)
    heavy = read_heavy_atoms(complex_.protein)
    prepared = prepare_receptor(complex_.protein, tmp_path)
    xyz, types, residues = pdbqt_atoms(Path(prepared.pdbqt_path))
    close = np.linalg.norm(xyz - center, axis=1) < 16.0
    index = np.nonzero(close)[0]
    distance = np.linalg.norm(xyz[index, None] - xyz[None, index], axis=2)
    heavy_type = np.array([t not in HYDROGENS for t in types])[index]
    bonded = np.where(heavy_type[:, None] & heavy_type[None, :], distance < 1.9, distance < 1.3) \
        & (distance > 0)
    local_types = [types[i] for i in index]
    neighbours = [list(np.nonzero(row)[0]) for row in bonded]
    ours = receptor_atoms(heavy, torch.tensor(center), 12.0)
    histidine_exempt = heavy.hydrogens is None or prepared.hydrogens_replaced
    differences = []
    for k, pos in enumerate(ours.pos.double().numpy()):
        gap = np.linalg.norm(xyz[index] - pos, axis=1)
        j = int(gap.argmin())
        assert gap[j] < 0.01 and heavy_type[j], (complex_.name, pos)
        expected = vina_flags(local_types, neighbours, j)
        got = (bool(ours.hydrophobic[k]), bool(ours.donor[k]), bool(ours.acceptor[k]))
        residue = residues[index[j]]
        if got != expected and not (histidine_exempt and residue in ("HIS ND1", "HIS NE2")):
            differences.append((residue, got, expected))
    assert len(ours.pos) > 150 and differences == []


def histidine(hydrogen_on: str | None, name: str = "HIS") -> HeavyAtoms:
    """One histidine side chain (ideal ring geometry), with the file's hydrogens on one ring N or none at all."""
    atoms = {"CB": (0.0, 0.0, 0.0), "CG": (1.50, 0.0, 0.0), "ND1": (2.27, 1.13, 0.0), "CD2": (2.38, -1.05, 0.0),
             "CE1": (3.53, 0.73, 0.0), "NE2": (3.61, -0.58, 0.0)}
    names = list(atoms)
    hydrogens = None if hydrogen_on is None else np.array([int(n == hydrogen_on) for n in names])
    return HeavyAtoms([n[0] for n in names], [name] * len(names), names, np.array(list(atoms.values())), hydrogens)


@pytest.mark.parametrize("hydrogen_on, name, nd1, ne2", [
    ("ND1", "HIS", (True, False), (False, True)),      # HID from the file: ND1 donates, NE2 accepts
    ("NE2", "HIS", (False, True), (True, False)),      # HIE from the file
    (None, "HIE", (False, True), (True, False)),       # no hydrogens: the residue name decides
    (None, "HIP", (True, False), (True, False)),
    (None, "HIS", (True, True), (True, True)),         # nothing decides: both ring N give and take
])
def test_histidine_tautomer_from_the_file_or_its_name(hydrogen_on, name, nd1, ne2):
    typed = receptor_atoms(histidine(hydrogen_on, name), torch.tensor([2.0, 0.0, 0.0]), 10.0)
    names = list(histidine(None).atom_names)
    for atom, (donor, acceptor) in (("ND1", nd1), ("NE2", ne2)):
        k = names.index(atom)
        assert (bool(typed.donor[k]), bool(typed.acceptor[k])) == (donor, acceptor), atom
    assert typed.hydrophobic[names.index("CB")] and not typed.hydrophobic[names.index("CE1")]


COFACTORS = {   # pH 7 forms: phosphate and carboxylate deprotonated
    "AMP": "Nc1ncnc2c1ncn2[C@@H]1O[C@H](COP(=O)([O-])[O-])[C@@H](O)[C@H]1O",
    "ACF": "CC(=O)N[C@@H](Cc1ccccc1)C(=O)[O-]",
}


@pytest.mark.parametrize("code", sorted(COFACTORS))
@pytest.mark.parametrize("with_hydrogens", [True, False], ids=["file hydrogens", "heavy atoms only"])
def test_cofactor_typed_from_its_bonds_as_the_same_molecule_as_a_ligand(code, with_hydrogens):
    """A cofactor in the receptor file (a HETATM group, MMFF geometry) gets the types the same molecule gets as a
    ligand (checked against meeko above), from the file's hydrogens or, without them, from bond lengths and rings."""
    mol = Chem.AddHs(Chem.MolFromSmiles(COFACTORS[code]))
    AllChem.EmbedMolecule(mol, randomSeed=7)
    AllChem.MMFFOptimizeMolecule(mol)
    heavy = Chem.RemoveHs(mol)
    pos = heavy.GetConformer().GetPositions()
    hydrogens = np.array([a.GetTotalNumHs() for a in heavy.GetAtoms()]) if with_hydrogens else None
    group = HeavyAtoms([a.GetSymbol().upper() for a in heavy.GetAtoms()], [code] * heavy.GetNumAtoms(),
                       [f"X{k}" for k in range(heavy.GetNumAtoms())], pos, hydrogens)
    typed = receptor_atoms(group, torch.tensor(pos.mean(0)), 30.0)
    expected = ligand_types(heavy)
    assert typed.hydrophobic.tolist() == expected.hydrophobic
    assert typed.donor.tolist() == expected.donor
    assert typed.acceptor.tolist() == expected.acceptor
    assert any(expected.donor) and any(expected.acceptor)
