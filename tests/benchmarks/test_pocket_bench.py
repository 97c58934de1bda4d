"""`disco bench pockets`: the site search scored by DCC on a PDBBind-style folder, a broken complex
skipped and recorded."""

import csv
import json
import shutil

from benchmarks.pocket_bench import run_pocket_bench
from disco_core.cli import main
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "1s3v"


def test_pocket_bench_scores_sites_and_records_failures(tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(EXAMPLE, root / "1s3v")
    (root / "bad1").mkdir()
    (root / "bad1" / "bad1_protein.pdb").write_text("")
    shutil.copy(EXAMPLE / "1s3v_ligand.sdf", root / "bad1" / "bad1_ligand.sdf")
    (root / "split.txt").write_text("1s3v\nbad1\n")
    out = tmp_path / "run"
    assert main(["bench", "pockets", "--dataset", str(root), "--split", str(root / "split.txt"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 2 and summary["n_failed"] == 1
    assert summary["top1"] == 1.0 and summary["top4"] == 1.0      # 1s3v's site 1 is its binding site
    rows = {r["id"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert rows["1s3v"]["status"] == "ok" and float(rows["1s3v"]["dcc_site1"]) < 4.0
    assert rows["bad1"]["status"] == "failed" and "empty" in rows["bad1"]["error"]
    assert "bad1" in capsys.readouterr().out
    again = run_pocket_bench(str(root), str(root / "split.txt"), out, max_sites=1)
    assert again["max_sites"] == 1 and again["top1"] == 1.0
