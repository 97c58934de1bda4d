"""PoseBusters checks per pose: the columns, and a pose pushed into the protein fails."""

import numpy as np
from rdkit import Chem
from rdkit.Geometry import Point3D

from data_prep.ligand import read_ligand_file
from docking.physics.posebusters_checks import check_poses

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "1s3v"


def _protein_atom(path, index: int) -> np.ndarray:
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("ATOM") and ln[12:16].strip() == "CA"]
    line = lines[index]
    return np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])


def test_crystal_pose_passes_and_a_clashing_pose_fails():
    protein = EXAMPLE / "1s3v_protein.pdb"
    crystal = read_ligand_file(EXAMPLE / "1s3v_ligand.sdf").mol
    clashing = Chem.Mol(crystal)
    positions = clashing.GetConformer().GetPositions()
    positions = positions - positions.mean(0) + _protein_atom(protein, 50)   # centred on a buried C-alpha
    for i, p in enumerate(positions):
        clashing.GetConformer().SetAtomPosition(i, Point3D(*map(float, p)))
    table = check_poses([crystal, clashing], protein)
    assert len(table) == 2
    for column in ("minimum_distance_to_protein", "volume_overlap_with_protein", "bond_lengths",
                   "internal_steric_clash", "pb_valid", "pb_failed"):
        assert column in table.columns
    assert table.loc[0, "pb_valid"] and table.loc[0, "pb_failed"] == ""
    assert not table.loc[1, "pb_valid"]
    assert not table.loc[1, "minimum_distance_to_protein"]
    assert "minimum_distance_to_protein" in table.loc[1, "pb_failed"].split(",")


def test_no_poses_gives_an_empty_table():
    table = check_poses([], EXAMPLE / "1s3v_protein.pdb")
    assert len(table) == 0 and "pb_valid" in table.columns


def _result_with(poses):
    from docking.inference.pipeline import DockResult

    n = len(poses)
    return DockResult(name="1s3v", poses=poses, confidences=[0.9 - 0.1 * i for i in range(n)], picks=[(0,)] * n,
                      samples=list(range(n)), sites=["site"] * n, seconds=0.0)


def test_check_ranks_valid_poses_first_unless_told_not_to():
    from docking.inference.postprocess import PosePostprocessor, PostprocessOptions

    protein = EXAMPLE / "1s3v_protein.pdb"
    crystal = read_ligand_file(EXAMPLE / "1s3v_ligand.sdf").mol
    clashing = Chem.Mol(crystal)
    positions = clashing.GetConformer().GetPositions()
    positions = positions - positions.mean(0) + _protein_atom(protein, 50)
    for i, p in enumerate(positions):
        clashing.GetConformer().SetAtomPosition(i, Point3D(*map(float, p)))
    result = _result_with([clashing, crystal, Chem.Mol(clashing)])   # by confidence: invalid, valid, invalid

    ranked = PosePostprocessor(PostprocessOptions(check=True)).apply(result, str(protein))
    assert ranked.extras["pb_valid"] == [True, False, False]
    assert ranked.samples == [1, 0, 2]                # the valid pose first, the score order kept among the rest
    assert ranked.confidences == [0.8, 0.9, 0.7]

    kept = PosePostprocessor(PostprocessOptions(check=True, valid_first=False)).apply(result, str(protein))
    assert kept.samples == [0, 1, 2] and kept.extras["pb_valid"] == [False, True, False]
