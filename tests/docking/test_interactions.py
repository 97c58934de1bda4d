"""Protein-ligand contacts (docking.contacts.profiler): the known hydrogen bonds and salt bridge of
shipped crystal poses, the receptor preparation they need, the written formats, and a ligand whose contacts
cannot be computed keeping its docked poses.

The hydrogen bonds expected below were checked by hand, independently of ProLIF, on the vendored files
(tests/data/complexes): every ligand N/O within 3.6 A of a protein N/O/S was listed with numpy on the heavy
atoms, and a pair counts as a hydrogen bond when the donor-acceptor distance is at most 3.5 A and the
D-H...A angle is at least 130 degrees (ProLIF's default geometry), the hydrogen taken from the PDB file for
protein donors (1pxo and 5eq1 ship with hydrogens) and from RDKit's `AddHs(addCoords=True)` for ligand donors:

    1bju  amidine N1-H ... ASP189 OD1   2.89 A, 152 deg   ligand donates (HBDonor)
          amidine N0-H ... GLY219 O     2.89 A, 155 deg   ligand donates (HBDonor)
          (N1 ... SER190 OG 2.73 A is not one: its hydrogens point 123 and 72 deg away; N0 ... ASP189 OD2
          2.86 A has its only hydrogen at 46 deg)
    6g27  piperidinium N15-H ... GLU318 OE1   2.93 A, 172 deg   HBDonor, and the cation-anion pair is a salt
          bridge (Cationic, N+ ... O- 2.93 A)
    1pxo  LEU83 N-H ... pyrimidine N11   3.15 A, 171 deg   the ligand accepts (HBAcceptor): the CDK2 hinge
    5eq1  ASN708 ND2-1HD2 ... triazole N11   3.00 A, 166 deg   HBAcceptor

1pxo also checks the receptor preparation on a chain with unresolved residues (37-40 missing, the file's
own N-terminal hydrogens on THR41): protonation must see a chain break there, not a peptide bond. Edited copies
of 6g27 check what ProLIF cannot key (an insertion code, a negative residue number) and hydrogens in the file
that contradict its bonds (both met on ../shared/data proteins: 1a0q, 4ipj, 3mg6)."""

import csv
import hashlib
import random
import subprocess
import sys

import numpy as np
import pytest
from rdkit import Chem

from disco_core.errors import InputError
from docking.contacts import receptor as interaction_receptor
from docking.inference.ligand_docker import annotate_interactions
from docking.contacts.profiler import (INTERACTION_COLUMNS, InteractionProfiler,
                                            interaction_summary, interactions_csv_text, parse_interaction_summary,
                                            read_interactions_csv)
from tests.data_paths import VENDORED
from tests.docking.test_dock_cli import PROTEIN, REPO

# (complex, interaction, residue, ligand atom, protein atom, donor-acceptor distance measured by hand, A)
KNOWN = [("1bju", "HBDonor", "ASP189.A", 1, "OD1", 2.89), ("1bju", "HBDonor", "GLY219.A", 0, "O", 2.89),
         ("6g27", "HBDonor", "GLU318.A", 15, "OE1", 2.93), ("6g27", "Cationic", "GLU318.A", 15, "OE1", 2.93),
         ("1pxo", "HBAcceptor", "LEU83.A", 11, "N", 3.15), ("5eq1", "HBAcceptor", "ASN708.A", 11, "ND2", 3.00)]


def files(complex_id: str) -> tuple[str, Chem.Mol]:
    folder = VENDORED / complex_id
    return str(folder / f"{complex_id}_protein.pdb"), Chem.MolFromMolFile(str(folder / f"{complex_id}_ligand.sdf"))


@pytest.fixture(scope="module")
def profiler():
    return InteractionProfiler()


@pytest.fixture(scope="module")
def crystal_contacts(profiler):
    contacts = {}
    for complex_id in sorted({row[0] for row in KNOWN}):
        protein, ligand = files(complex_id)
        contacts[complex_id] = profiler.pose_interactions(protein, [ligand], complex_id)[0]
    return contacts


@pytest.mark.parametrize("complex_id, kind, residue, ligand_atom, protein_atom, distance", KNOWN)
def test_crystal_pose_has_its_known_contact(crystal_contacts, complex_id, kind, residue, ligand_atom, protein_atom,
                                            distance):
    found = [c for c in crystal_contacts[complex_id] if (c.kind, c.residue, c.protein_atoms) ==
             (kind, residue, (protein_atom,)) and ligand_atom in c.ligand_atoms]
    assert found, [c for c in crystal_contacts[complex_id] if c.kind != "Hydrophobic"]
    assert found[0].distance == pytest.approx(distance, abs=0.01)


def test_contacts_name_heavy_atoms_of_the_users_files(crystal_contacts):
    """A contact through a hydrogen is reported on its heavy atom, in the numbering of the files as given."""
    import gemmi

    for complex_id, contacts in crystal_contacts.items():
        protein, ligand = files(complex_id)
        heavy = {(chain.name, f"{residue.seqid.num}{residue.seqid.icode.strip()}", atom.name)
                 for chain in gemmi.read_structure(protein)[0] for residue in chain for atom in residue
                 if atom.element.name != "H"}
        for c in contacts:
            assert all(ligand.GetAtomWithIdx(i).GetAtomicNum() > 1 for i in c.ligand_atoms), c
            assert all((c.chain, c.residue_number, name) in heavy for name in c.protein_atoms), c
            if c.kind in ("HBDonor", "HBAcceptor"):
                assert c.distance <= 3.5, c


def test_a_shifted_pose_loses_the_hydrogen_bonds(profiler):
    """The same ligand 10 A out of its pocket (away from the protein's centre) makes none of them."""
    protein, ligand = files("6g27")
    moved = Chem.Mol(ligand)
    positions = moved.GetConformer().GetPositions()
    protein_center = np.array([[float(line[30:38]), float(line[38:46]), float(line[46:54])]
                               for line in open(protein) if line.startswith("ATOM")]).mean(0)
    direction = positions.mean(0) - protein_center
    shifted = positions + 10.0 * direction / np.linalg.norm(direction)
    for i, xyz in enumerate(shifted):
        moved.GetConformer().SetAtomPosition(i, xyz.tolist())
    contacts = profiler.pose_interactions(protein, [moved])[0]
    assert not any(c.residue == "GLU318.A" for c in contacts)


def test_summary_and_csv_round_trip(crystal_contacts, tmp_path):
    contacts = crystal_contacts["6g27"]
    summary = interaction_summary(contacts)
    assert "HBDonor:GLU318.A" in summary.split(";") and "Cationic:GLU318.A" in summary.split(";")
    pairs = parse_interaction_summary(summary)
    assert len(pairs) == len(set(pairs)) == len({(c.kind, c.residue) for c in contacts})
    path = tmp_path / "interactions.csv"
    path.write_text(interactions_csv_text([contacts, []]))
    with path.open(newline="") as handle:
        assert next(csv.reader(handle)) == INTERACTION_COLUMNS
    rows = read_interactions_csv(path)
    assert len(rows) == len(contacts) and {row["rank"] for row in rows} == {1}
    assert [(r["interaction"], r["residue"], tuple(r["ligand_atoms"])) for r in rows] == \
        [(c.kind, c.residue, c.ligand_atoms) for c in contacts]


def test_unreadable_protein_is_an_input_error_once(tmp_path, monkeypatch):
    """A protein without a polymer residue cannot be protonated: InputError naming it, and the profiler
    remembers the failure instead of retrying for every ligand."""
    protein = tmp_path / "ions_only.pdb"
    protein.write_text("HETATM    1 CL    CL A   1       0.000   0.000   0.000  1.00  0.00          CL\nEND\n")
    calls = []
    original = interaction_receptor.prolif_receptor
    monkeypatch.setattr(interaction_receptor, "prolif_receptor",
                        lambda path, **crop: calls.append(path) or original(path, **crop))
    profiler = InteractionProfiler()
    _, ligand = files("6g27")
    for _ in range(2):
        with pytest.raises(InputError, match="ions_only.pdb"):
            profiler.pose_interactions(protein, [ligand])
    assert len(calls) == 1


def test_a_failure_is_recorded_on_the_poses_and_never_raised(tmp_path):
    from docking.inference.pipeline import DockResult

    protein = tmp_path / "empty.pdb"
    protein.write_text("END\n")
    _, ligand = files("6g27")
    result = DockResult("lig", [ligand, ligand], [0.5, 0.4], [(0, 1), (0, 1)], [0, 1], ["site", "site"], 1.0)
    annotated, contacts = annotate_interactions(InteractionProfiler(), result, protein)
    assert contacts is None and "interactions" not in annotated.extras
    assert len(annotated.extras["interactions_error"]) == 2 and "empty.pdb" in annotated.extras["interactions_error"][0]


def edited_6g27(tmp_path, edit) -> str:
    protein, _ = files("6g27")
    lines = [edit(line) for line in open(protein).read().splitlines()]
    path = tmp_path / "6g27_edited.pdb"
    path.write_text("\n".join(line for line in lines if line is not None) + "\n")
    return str(path)


def test_residues_prolif_cannot_key_keep_the_files_numbering(tmp_path):
    """GLU318 given insertion code A and TYR281 the number -281: the contacts name them as the file does."""
    def renumber(line: str) -> str:
        if line.startswith(("ATOM", "HETATM")) and line[17:26] == "GLU A 318":
            return line[:26] + "A" + line[27:]
        if line.startswith(("ATOM", "HETATM")) and line[17:26] == "TYR A 281":
            return line[:22] + "-281" + line[26:]
        return line

    _, ligand = files("6g27")
    contacts = InteractionProfiler().pose_interactions(edited_6g27(tmp_path, renumber), [ligand])[0]
    pairs = {(c.kind, c.residue, c.residue_number) for c in contacts}
    assert ("HBDonor", "GLU318A.A", "318A") in pairs and ("Cationic", "GLU318A.A", "318A") in pairs
    assert ("PiStacking", "TYR-281.A", "-281") in pairs


def test_hydrogens_that_contradict_the_bonds_are_added_anew(tmp_path, caplog):
    """N-terminal hydrogens H2/H3 on ALA320's nitrogen, which is bonded to ARG319 (in the pocket, 5.3 A from the
    ligand: the profiler protonates only the residues near the poses): the file's hydrogens are dropped and the
    protein protonated without them (the contacts are the crystal's)."""
    def extra_hydrogens(line: str):
        if line.startswith("ATOM") and line[12:16] == " N  " and line[17:26] == "ALA A 320":
            x, y, z = float(line[30:38]), float(line[38:46]), float(line[46:54])
            extra = [line[:12] + f" {name:<3}" + line[16:30] + f"{x + dx:8.3f}{y:8.3f}{z + dz:8.3f}" + line[54:76] + " H"
                     for name, dx, dz in (("H2", 0.6, 0.8), ("H3", -0.6, 0.8))]
            return "\n".join([line] + extra)
        return line

    _, ligand = files("6g27")
    with caplog.at_level("INFO", logger="docking.contacts.receptor"):
        contacts = InteractionProfiler().pose_interactions(edited_6g27(tmp_path, extra_hydrogens), [ligand])[0]
    assert "adding them anew" in caplog.text
    assert ("HBDonor", "GLU318.A") in {(c.kind, c.residue) for c in contacts}


def test_the_same_protein_gets_the_same_hydrogens_in_every_process():
    """Two processes protonate 1s3v to the same text: OpenMM draws new hydrogens' start positions from
    Python's `random` and minimises them with threads that sum in varying order; unseeded, 1s3v's crystal
    ligand gained or lost its ASN64 hydrogen bond from one run to the next, which made a resumed `disco bench
    dock` differ from the uninterrupted run."""
    script = ("import hashlib, sys; from docking.contacts.receptor import protonated_protein; "
              "print(hashlib.sha256(protonated_protein(sys.argv[1])[0].encode()).hexdigest())")
    digests = [subprocess.run([sys.executable, "-c", script, PROTEIN], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.split()[-1] for _ in range(2)]
    assert digests[0] == digests[1]
    text, _ = interaction_receptor.protonated_protein(PROTEIN)
    assert hashlib.sha256(text.encode()).hexdigest() == digests[0]     # and the same as in this process
    state = random.getstate()
    interaction_receptor.protonated_protein(PROTEIN)
    assert random.getstate() == state                                    # the caller's random stream untouched
