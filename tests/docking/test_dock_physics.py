"""`disco dock --rescore vina --relax --check --rank-by vina` on the shipped example: the columns and SD
properties exist, the ranking puts valid poses first and follows the Vina score within each group,
relaxation lowers the energy and keeps the ligand."""

import csv

import pytest
from rdkit import Chem

from disco_core.cli import main

from tests.docking.test_dock_cli import FAST, LIGAND, PROTEIN


def test_rescore_relax_check_columns_and_vina_ranking(tmp_path):
    out = tmp_path / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", LIGAND, "--autobox-ligand", LIGAND, "--out", str(out),
                 "--rescore", "vina", "--relax", "--check", "--rank-by", "vina", *FAST]) == 0
    row = next(csv.DictReader((out / "summary.csv").open()))
    for column in ("vina_score_kcal_mol", "relaxed", "energy_before_kj_mol", "energy_after_kj_mol", "pb_valid",
                   "pb_failed"):
        assert column in row
    poses = list(Chem.SDMolSupplier(str(out / "1s3v_ligand" / "poses.sdf")))
    valid = [m.GetProp("pb_valid") == "True" for m in poses]
    assert valid == sorted(valid, reverse=True)          # poses passing the checks come first
    for group in (True, False):                           # each group in Vina score order
        scores = [float(m.GetProp("vina_score_kcal_mol")) for m, v in zip(poses, valid) if v == group]
        assert scores == sorted(scores)
    for mol in poses:
        assert mol.GetProp("pb_valid") in ("True", "False")
        if mol.GetProp("relaxed") == "True":
            assert float(mol.GetProp("energy_after_kj_mol")) < float(mol.GetProp("energy_before_kj_mol"))
            # a sample buried in the protein has to leave it (test_relax bounds a mild clash to 1 A)
            assert float(mol.GetProp("relax_rmsd_A")) < 5.0


def test_rank_by_vina_needs_rescore(tmp_path):
    with pytest.raises(SystemExit) as usage:
        main(["dock", "--protein", PROTEIN, "--ligand", "CCO", "--rank-by", "vina", "--out", str(tmp_path)])
    assert usage.value.code == 2
