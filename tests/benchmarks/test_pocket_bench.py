"""`disco bench pockets`: the site search scored by DCC on a PDBBind-style folder, a broken complex
skipped and recorded."""

import csv
import json
import shutil

from rdkit import Chem

from benchmarks.pocket_bench import run_pocket_bench
from disco_core.cli import main
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "1s3v"


def test_pocket_bench_scores_sites_and_records_failures(tmp_path, capsys):
    """Three complexes counted by hand: 1s3v (site 1 on its ligand: a hit), far (1s3v with its ligand moved
    100 A out of the protein: no site near it, a miss) and bad1 (an empty protein file: failed, a miss as in
    `disco bench dock`), so top-1 = top-4 = 1/3."""
    root = tmp_path / "data"
    shutil.copytree(EXAMPLE, root / "1s3v")
    (root / "far").mkdir()
    shutil.copy(EXAMPLE / "1s3v_protein.pdb", root / "far" / "far_protein.pdb")
    ligand = Chem.MolFromMolFile(str(EXAMPLE / "1s3v_ligand.sdf"))
    conformer = ligand.GetConformer()
    for i, xyz in enumerate(conformer.GetPositions()):
        conformer.SetAtomPosition(i, (xyz + [100.0, 0.0, 0.0]).tolist())
    Chem.MolToMolFile(ligand, str(root / "far" / "far_ligand.sdf"))
    (root / "bad1").mkdir()
    (root / "bad1" / "bad1_protein.pdb").write_text("")
    shutil.copy(EXAMPLE / "1s3v_ligand.sdf", root / "bad1" / "bad1_ligand.sdf")
    (root / "split.txt").write_text("1s3v\nfar\nbad1\n")
    out = tmp_path / "run"
    assert main(["bench", "pockets", "--dataset", str(root), "--split", str(root / "split.txt"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 3 and summary["n_failed"] == 1
    assert summary["top1"] == round(1 / 3, 3) and summary["top4"] == round(1 / 3, 3)
    rows = {r["id"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert rows["1s3v"]["status"] == "ok" and float(rows["1s3v"]["dcc_site1"]) < 4.0
    assert rows["far"]["status"] == "ok" and float(rows["far"]["dcc_best"]) > 50.0
    assert rows["bad1"]["status"] == "failed" and "empty" in rows["bad1"]["error"]
    assert "bad1" in capsys.readouterr().err      # the skip is logged (a warning on stderr under `disco`)
    again = run_pocket_bench(str(root), str(root / "split.txt"), out, max_sites=1)
    assert again["max_sites"] == 1 and again["top1"] == round(1 / 3, 3)
