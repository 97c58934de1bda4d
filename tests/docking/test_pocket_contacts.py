"""Contacts from the pocket (docking.contacts.receptor.PocketRegion): the profiler protonates only the residues
within 12 A of the poses, and that must not change a contact.

The reference is the whole-protein protonation (`InteractionProfiler(crop_margin=None)`, the route
tests/docking/test_interactions.py checked by hand before the crop): on the shipped complexes the crystal
pose gets exactly the same contact list, distances and atoms included, from the pocket as from the whole
protein. The crop itself is checked against a numpy selection of the file's residues (whole residues, the
file's chain ids and numbers), and the cache against poses inside and 30 A outside a cached pocket."""

import logging

import gemmi
import numpy as np
import pytest
from rdkit import Chem

from disco_core.errors import InputError
from docking.contacts.profiler import InteractionProfiler
from docking.contacts.receptor import CROP_MARGIN_A, PocketRegion, crop_pdb_text, protonated_protein
from docking.inference.ligand_docker import annotate_interactions
from docking.inference.pipeline import DockResult
from tests.data_paths import REPO, VENDORED

COMPLEXES = ["1s3v", "1bju", "1pxo", "5eq1", "6g27", "6moa"]


def files(complex_id: str) -> tuple[str, Chem.Mol]:
    folder = REPO / "examples" / "1s3v" if complex_id == "1s3v" else VENDORED / complex_id
    return str(folder / f"{complex_id}_protein.pdb"), Chem.MolFromMolFile(str(folder / f"{complex_id}_ligand.sdf"))


def moved(mol: Chem.Mol, shift: np.ndarray) -> Chem.Mol:
    copy = Chem.Mol(mol)
    conformer = copy.GetConformer()
    for i, xyz in enumerate(conformer.GetPositions() + shift):
        conformer.SetAtomPosition(i, xyz.tolist())
    return copy


def heavy_residues(path: str) -> dict[tuple[str, str], tuple[set[str], np.ndarray]]:
    """(chain, number with insertion code) -> heavy-atom names and positions of the file's polymer residues."""
    residues = {}
    for chain in gemmi.read_structure(path)[0]:
        for residue in chain:
            if residue.het_flag != "A":
                continue
            atoms = [atom for atom in residue if atom.element.name not in ("H", "D")]
            key = (chain.name, f"{residue.seqid.num}{residue.seqid.icode.strip()}")
            residues[key] = ({a.name for a in atoms}, np.array([a.pos.tolist() for a in atoms]).reshape(-1, 3))
    return residues


@pytest.fixture(scope="module")
def cropped():
    return InteractionProfiler(cache_size=16)


@pytest.fixture(scope="module")
def whole():
    return InteractionProfiler(cache_size=16, crop_margin=None)


@pytest.mark.slow
@pytest.mark.parametrize("complex_id", COMPLEXES)
def test_the_pocket_gives_the_whole_proteins_contacts(cropped, whole, complex_id):
    protein, ligand = files(complex_id)
    pocket = cropped.pose_interactions(protein, [ligand], complex_id)[0]
    reference = whole.pose_interactions(protein, [ligand], complex_id)[0]
    assert pocket, complex_id
    assert pocket == reference
    assert cropped.regions(protein) != [None] and whole.regions(protein) == [None]


def test_the_crop_keeps_whole_residues_with_the_files_labels(tmp_path):
    """1pxo: hydrogens in the file, residues 37-40 unresolved. The pocket is exactly the polymer residues with a
    heavy atom within 12 A of a ligand heavy atom (measured here with numpy), each with all its heavy atoms and
    the file's chain id and number; what PDBFixer adds (OXT at the cut ends, missing side chains) comes on top."""
    protein, ligand = files("1pxo")
    ligand_xyz = ligand.GetConformer().GetPositions()[[a.GetIdx() for a in ligand.GetAtoms() if a.GetAtomicNum() > 1]]
    residues = heavy_residues(protein)
    expected = {key for key, (_, xyz) in residues.items()
                if np.min(np.linalg.norm(xyz[:, None] - ligand_xyz[None], axis=2)) <= CROP_MARGIN_A}
    text, _ = protonated_protein(protein, crop=PocketRegion.around_poses([ligand]))
    (tmp_path / "pocket.pdb").write_text(text)
    kept = heavy_residues(str(tmp_path / "pocket.pdb"))
    assert 20 < len(expected) < len(residues) / 2
    assert set(kept) == expected
    for key in expected:
        assert residues[key][0] <= kept[key][0], key


def test_a_pose_outside_the_pocket_makes_a_new_crop(cropped, whole):
    """6g27: the crystal pose and the same pose 1 A off reuse one crop; moved 30 A, onto another part of the
    protein, it gets a crop of its own, with the whole protein's contacts there too."""
    protein, ligand = files("6g27")
    cropped.pose_interactions(protein, [ligand])
    regions = cropped.regions(protein)
    cropped.pose_interactions(protein, [ligand, moved(ligand, np.array([1.0, 0.0, 0.0]))])
    assert cropped.regions(protein) == regions and len(regions) == 1
    centre = ligand.GetConformer().GetPositions().mean(0)
    atoms = np.concatenate([xyz for _, xyz in heavy_residues(protein).values()])
    target = atoms[np.argmin(np.abs(np.linalg.norm(atoms - centre, axis=1) - 30.0))]
    far = moved(ligand, target - centre)
    contacts = cropped.pose_interactions(protein, [far])[0]
    assert len(cropped.regions(protein)) == 2 and not regions[0].covers(cropped.regions(protein)[1])
    assert contacts and contacts == whole.pose_interactions(protein, [far])[0]
    assert cropped.pose_interactions(protein, [ligand])[0] == whole.pose_interactions(protein, [ligand])[0]
    assert len(cropped.regions(protein)) == 2


def test_a_pose_far_from_every_residue_has_no_contacts(cropped):
    protein, ligand = files("6moa")
    assert cropped.pose_interactions(protein, [moved(ligand, np.array([500.0, 0.0, 0.0]))]) == [[]]


def bad_residue(tmp_path, residue: str) -> str:
    """6g27 with the OE1 of one glutamate renamed XE1: a residue ProLIF cannot build (PDBFixer adds an OE1 beside
    the stray atom, which stays unbonded, so the residue is fragmented)."""
    protein, _ = files("6g27")
    lines = [line[:12] + " XE1" + line[16:] if line.startswith("ATOM") and line[17:26] == residue
             and line[12:16] == " OE1" else line for line in open(protein).read().splitlines()]
    path = tmp_path / "6g27_bad.pdb"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_pocket_that_cannot_be_prepared_keeps_the_poses(tmp_path, caplog):
    """GLU318 broken, in the pocket: the poses carry `interactions_error` naming the protein and the reason, one
    warning line says so, and the profiler does not try that protein again."""
    protein = bad_residue(tmp_path, "GLU A 318")
    _, ligand = files("6g27")
    result = DockResult("lig", [ligand, ligand], [0.5, 0.4], [(0, 1), (0, 1)], [0, 1], ["site", "site"], 1.0)
    profiler = InteractionProfiler()
    with caplog.at_level(logging.WARNING):
        annotated, contacts = annotate_interactions(profiler, result, protein)
    assert contacts is None and "interactions" not in annotated.extras
    errors = annotated.extras["interactions_error"]
    assert len(errors) == 2 and "6g27_bad.pdb" in errors[0] and "GLU318.A" in errors[0]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("docking")]
    assert len(warnings) == 1 and "6g27_bad.pdb" in warnings[0].getMessage()
    with pytest.raises(InputError, match="6g27_bad.pdb"):
        profiler.pose_interactions(protein, [moved(ligand, np.array([30.0, 0.0, 0.0]))])
    assert profiler.regions(protein) == []


def test_a_broken_residue_outside_the_pocket_is_not_read(tmp_path, cropped):
    """The same defect on a glutamate > 20 A from the ligand: the pocket never contains it."""
    protein, ligand = files("6g27")
    ligand_xyz = ligand.GetConformer().GetPositions()
    far = next(f"GLU {chain.name}{residue.seqid.num:>4}" for chain in gemmi.read_structure(protein)[0]
               for residue in chain if residue.name == "GLU"
               and min(np.linalg.norm(ligand_xyz - atom.pos.tolist(), axis=1).min() for atom in residue) > 20.0)
    edited = bad_residue(tmp_path, far)
    assert cropped.pose_interactions(edited, [ligand])[0] == cropped.pose_interactions(protein, [ligand])[0]


def test_an_mmcif_protein_is_cropped_after_reading(tmp_path, cropped):
    """mmCIF is parsed whole and cropped on the topology: 1s3v written as mmCIF by gemmi gets the PDB's contacts."""
    protein, ligand = files("1s3v")
    structure = gemmi.read_structure(protein)
    structure.setup_entities()
    structure.make_mmcif_document().write_file(str(tmp_path / "1s3v_protein.cif"))
    contacts = cropped.pose_interactions(tmp_path / "1s3v_protein.cif", [ligand])[0]
    assert contacts and contacts == cropped.pose_interactions(protein, [ligand])[0]
    assert cropped.regions(tmp_path / "1s3v_protein.cif")[0] is not None


def test_a_chain_dropped_whole_leaves_no_empty_chain(tmp_path, cropped):
    """1s3v behind a first chain that lies 300 A away (a copy of its first residues, chain Z, ended by TER): the
    crop drops chain Z whole and its TER with it (a TER of nothing is a file OpenMM refuses: multi-chain
    receptors whose pocket lies in a later chain, 1atl, 1ia1, 2bm2, failed so), and the contacts are 1s3v's."""
    protein, ligand = files("1s3v")
    lines = open(protein).read().splitlines()
    far = [f"{line[:21]}Z{line[22:30]}{float(line[30:38]) + 300:8.3f}{line[38:]}" for line in lines
           if line.startswith("ATOM") and int(line[22:26]) <= 3]
    path = tmp_path / "1s3v_two_chains.pdb"
    path.write_text("\n".join(far + ["TER"] + [line for line in lines if not line.startswith("CRYST1")]) + "\n")
    text, _ = crop_pdb_text(path.read_text(), PocketRegion.around_poses([ligand]))
    records = [line[:3] for line in text.splitlines() if line.startswith(("ATOM", "HETATM", "TER"))]
    assert records[0] == "ATO" and records.count("TER") == 1
    contacts = cropped.pose_interactions(path, [ligand], "1s3v")[0]
    assert contacts and contacts == cropped.pose_interactions(protein, [ligand], "1s3v")[0]
