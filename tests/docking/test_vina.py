"""AutoDock Vina through vina + meeko: receptor preparation, docking from a fresh conformer, rescoring."""

import numpy as np
import pytest
from rdkit import Chem

from data_prep.ligand import read_ligand_file
from disco_core.errors import InputError
from docking.physics.vina import box_around_ligand, box_around_protein, vina_dock, vina_score
from docking.physics.vina_receptor import prepare_receptor

from tests.conftest import REPO
from tests.data_paths import complex_folder

EXAMPLE = REPO / "examples" / "1s3v"


@pytest.fixture(scope="module")
def crystal() -> Chem.Mol:
    return read_ligand_file(EXAMPLE / "1s3v_ligand.sdf").mol


@pytest.fixture(scope="module")
def receptor(tmp_path_factory):
    return prepare_receptor(EXAMPLE / "1s3v_protein.pdb", tmp_path_factory.mktemp("receptors"))


@pytest.fixture(scope="module")
def docked(receptor, crystal):
    start_topology = Chem.Mol(crystal)
    start_topology.RemoveAllConformers()   # Vina must start from an RDKit conformer, not the crystal pose
    return vina_dock(receptor, start_topology, box_around_ligand(crystal), exhaustiveness=1, n_poses=3, seed=0)


def test_boxes():
    mol = Chem.MolFromSmiles("CC")
    mol.AddConformer(Chem.Conformer(2), assignId=True)
    mol.GetConformer().SetAtomPosition(1, (30.0, 0.0, 0.0))
    box = box_around_ligand(mol)
    assert box.center == pytest.approx((15.0, 0.0, 0.0))
    assert box.size == pytest.approx((38.0, 20.0, 20.0))   # extent + 2 x 4 A, at least 20 A per side
    whole = box_around_protein(EXAMPLE / "1s3v_protein.pdb")
    assert min(whole.size) > 30


def test_receptor_is_prepared_once(receptor, monkeypatch):
    """A second preparation of the same file reuses the first: from the in-process cache, and from the
    PDBQT on disk in a fresh process (cache emptied); neither reads the protein or runs meeko again."""
    import docking.physics.vina_receptor as vina_receptor

    assert receptor.pdbqt_path.is_file()
    text = receptor.pdbqt_path.read_text()
    assert "ATOM" in text and " OA" in text     # AutoDock atom types
    stamp = receptor.pdbqt_path.stat().st_mtime_ns

    def prepared_again(*_args, **_kwargs):
        raise AssertionError("the receptor was prepared a second time")

    monkeypatch.setattr(vina_receptor, "_polymer_pdbqt", prepared_again)
    monkeypatch.setattr(vina_receptor, "_protein_pdb_text", prepared_again)
    again = prepare_receptor(EXAMPLE / "1s3v_protein.pdb", receptor.pdbqt_path.parent)
    monkeypatch.setattr(vina_receptor, "_RECEPTOR_CACHE", {})
    from_disk = prepare_receptor(EXAMPLE / "1s3v_protein.pdb", receptor.pdbqt_path.parent)
    for prepared in (again, from_disk):
        assert prepared.pdbqt_path == receptor.pdbqt_path and prepared.pdbqt_path.stat().st_mtime_ns == stamp
        assert prepared.pdbqt_path.read_text() == text
        assert prepared.dropped_residues == receptor.dropped_residues and prepared.hydrogens_replaced == receptor.hydrogens_replaced


def test_receptor_whose_hydrogens_confuse_meeko_is_reprotonated(tmp_path):
    # 6g27's file hydrogens leave meeko undecided between HIE and HID: they are replaced by meeko's own
    prepared = prepare_receptor(complex_folder("6g27") / "6g27_protein.pdb", tmp_path)
    assert prepared.hydrogens_replaced and prepared.pdbqt_path.stat().st_size > 0


def test_bad_receptor_is_an_input_error(tmp_path):
    bad = tmp_path / "bad_protein.pdb"
    bad.write_text("this is not a PDB file\n")
    with pytest.raises(InputError, match="bad_protein.pdb"):
        prepare_receptor(bad, tmp_path)
    with pytest.raises(InputError, match="not found"):
        prepare_receptor(tmp_path / "missing.pdb", tmp_path)


def test_docked_poses_keep_the_input_atom_order(docked, crystal):
    assert 1 <= len(docked) <= 3
    scores = [score for _, score in docked]
    assert scores == sorted(scores) and scores[0] < -5.0        # kcal/mol, best first
    for pose, _ in docked:
        assert pose.GetNumAtoms() == crystal.GetNumAtoms()
        assert [a.GetAtomicNum() for a in pose.GetAtoms()] == [a.GetAtomicNum() for a in crystal.GetAtoms()]
        assert [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in pose.GetBonds()] == \
            [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in crystal.GetBonds()]
        # bonded atoms stay at bond length: a wrong atom mapping would scramble these distances
        positions = pose.GetConformer().GetPositions()
        lengths = [np.linalg.norm(positions[b.GetBeginAtomIdx()] - positions[b.GetEndAtomIdx()]) for b in pose.GetBonds()]
        assert 1.0 < min(lengths) and max(lengths) < 2.0
    # 1s3v is easy for Vina: some pose lies near the crystal pose (index-paired RMSD)
    best = min(np.sqrt(((p.GetConformer().GetPositions() - crystal.GetConformer().GetPositions()) ** 2).sum(1).mean())
               for p, _ in docked)
    assert best < 3.0


def test_rescoring_the_crystal_pose(receptor, crystal):
    score, same = vina_score(receptor, crystal, local_optimize=False)
    assert score < -5.0 and same.GetNumAtoms() == crystal.GetNumAtoms()
    optimized_score, optimized = vina_score(receptor, crystal, local_optimize=True)
    assert optimized_score <= score + 1e-6
    shift = np.sqrt(((optimized.GetConformer().GetPositions() - crystal.GetConformer().GetPositions()) ** 2).sum(1).mean())
    assert shift < 1.5     # a local optimisation, in the crystal's atom order


def test_pose_far_outside_the_protein_scores_zero(receptor, crystal):
    far = Chem.Mol(crystal)
    conformer = far.GetConformer()
    for i in range(far.GetNumAtoms()):
        p = conformer.GetAtomPosition(i)
        conformer.SetAtomPosition(i, (p.x + 200.0, p.y, p.z))
    score, _ = vina_score(receptor, far)
    assert abs(score) < 1.0


def test_bad_ligands_are_input_errors(receptor, crystal):
    bare = Chem.Mol(crystal)
    bare.RemoveAllConformers()
    with pytest.raises(InputError, match="1s3v-ligand: pose has no coordinates"):
        vina_score(receptor, bare, name="1s3v-ligand")
    with pytest.raises(InputError, match="empty: ligand has no heavy atoms"):
        vina_dock(receptor, Chem.Mol(), box_around_ligand(crystal), name="empty")
