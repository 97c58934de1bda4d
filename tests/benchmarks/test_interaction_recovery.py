"""The benchmark's interaction bookkeeping (benchmarks.interaction_recovery, dock_report): a crystal pose
recovers all of its own contacts, the same pose 10 A out of the pocket none, and the summary averages what it
should over what it should."""

import numpy as np
import pytest
from rdkit import Chem

from benchmarks.dock_report import SUMMARY_COLUMNS, markdown_table, results_table, summarize_method
from benchmarks.interaction_recovery import TopPoseRecovery, hbonds_recovered, interaction_recovery
from tests.data_paths import VENDORED

PROTEIN = str(VENDORED / "6g27" / "6g27_protein.pdb")
CRYSTAL = Chem.MolFromMolFile(str(VENDORED / "6g27" / "6g27_ligand.sdf"))


def shifted(mol: Chem.Mol, distance: float) -> Chem.Mol:
    """The pose moved `distance` A straight away from the protein's centre."""
    positions = mol.GetConformer().GetPositions()
    protein_center = np.array([[float(line[30:38]), float(line[38:46]), float(line[46:54])]
                               for line in open(PROTEIN) if line.startswith("ATOM")]).mean(0)
    direction = positions.mean(0) - protein_center
    moved = Chem.Mol(mol)
    for i, xyz in enumerate(positions + distance * direction / np.linalg.norm(direction)):
        moved.GetConformer().SetAtomPosition(i, xyz.tolist())
    return moved


def test_fractions_of_pairs():
    crystal = [("HBDonor", "GLU318.A"), ("Cationic", "GLU318.A"), ("Hydrophobic", "PHE312.A"), ("HBAcceptor", "SER1.A")]
    assert interaction_recovery(crystal, crystal) == 1.0
    assert interaction_recovery(crystal, [("HBDonor", "GLU318.A"), ("Hydrophobic", "TRP1.A")]) == 0.25
    assert interaction_recovery(crystal, [("HBAcceptor", "GLU318.A")]) == 0.0      # the type counts
    assert interaction_recovery([], crystal) is None
    assert hbonds_recovered(crystal, crystal[:2] + crystal[3:]) is True
    assert hbonds_recovered(crystal, crystal[1:]) is False
    assert hbonds_recovered([("Hydrophobic", "PHE312.A")], []) is None


@pytest.fixture(scope="module")
def recovery():
    return TopPoseRecovery()


def test_crystal_pose_against_itself_recovers_everything(recovery):
    record = recovery.record("6g27", PROTEIN, CRYSTAL, Chem.Mol(CRYSTAL))
    assert record["interaction_recovery"] == 1.0 and record["hbonds_recovered"] is True
    assert record["crystal_hbonds"] >= 1 and record["crystal_interactions"] >= 4
    assert "HBDonor:GLU318.A" in record["top1_interactions"].split(";")


def test_a_pose_moved_10_A_away_recovers_nothing(recovery):
    record = recovery.record("6g27", PROTEIN, CRYSTAL, shifted(CRYSTAL, 10.0))
    assert record["interaction_recovery"] == 0.0 and record["hbonds_recovered"] is False


def test_an_unreadable_complex_records_why(recovery, tmp_path):
    protein = tmp_path / "empty.pdb"
    protein.write_text("END\n")
    record = recovery.record("empty", protein, CRYSTAL, CRYSTAL)
    assert record["interaction_recovery"] is None and "empty.pdb" in record["interactions_error"]


def test_summary_averages_over_complexes_with_crystal_contacts():
    def ok(complex_id, recovered, hbonds):
        return {"id": complex_id, "status": "ok", "rmsd": [1.0], "centroid_distance": [0.5], "scores": [0.0],
                "seconds": 1.0, "interaction_recovery": recovered, "hbonds_recovered": hbonds}

    records = [ok("a", 1.0, True), ok("b", 0.5, False), ok("c", None, None),      # c: no crystal contact
               ok("d", 0.0, None),                                                 # d: no crystal H-bond
               {"id": "e", "status": "failed", "error": "x", "seconds": 0.0}]
    summary = summarize_method(records)
    assert summary["top1_interaction_recovery"] == pytest.approx(0.5) and summary["n_interaction_complexes"] == 3
    assert summary["top1_hbonds_recovered"] == pytest.approx(0.5) and summary["n_hbond_complexes"] == 2
    table = results_table({"disco": records})
    assert table["top1_interaction_recovery"][:4].tolist() == pytest.approx([1.0, 0.5, np.nan, 0.0], nan_ok=True)
    assert "top1_interaction_recovery" in SUMMARY_COLUMNS and "0.500" in markdown_table({"disco": summary})
    assert "top1_interaction_recovery" not in summarize_method([ok("a", None, None)])   # --no-interactions
