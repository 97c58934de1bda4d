"""`disco bench failures`: a wrong top-1 pose is a search failure when the energy prefers the crystal pose,
a scoring failure when it prefers the wrong pose; the command reads a real `bench dock` run."""

import csv
import json
import shutil

import pytest
import torch
from rdkit import Chem
from rdkit.Chem import rdMolTransforms

from benchmarks.failure_analysis import analyse_complex, run_failure_analysis, verdict
from disco_core.cli import main
from disco_core.errors import InputError

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "1s3v"
PROTEIN = EXAMPLE / "1s3v_protein.pdb"


def crystal() -> Chem.Mol:
    return Chem.RemoveHs(next(Chem.SDMolSupplier(str(EXAMPLE / "1s3v_ligand.sdf"))))


def displaced(mol: Chem.Mol, shift: float) -> Chem.Mol:
    """The pose moved `shift` A further out, along the line from the protein's centre to the ligand's."""
    from data_prep.protein import read_heavy_atoms

    moved = Chem.Mol(mol)
    ligand_center = torch.tensor(mol.GetConformer().GetPositions()).mean(0)
    outward = ligand_center - torch.as_tensor(read_heavy_atoms(PROTEIN).pos, dtype=torch.float64).mean(0)
    transform = torch.eye(4, dtype=torch.float64)
    transform[:3, 3] = shift * outward / outward.norm()
    rdMolTransforms.TransformConformer(moved.GetConformer(), transform.numpy())
    return moved


def test_verdict_rules():
    assert verdict(1.2, -5.0, -9.0) == "success"
    assert verdict(4.0, -9.0, -5.0) == "search"
    assert verdict(4.0, -5.0, -9.0) == "scoring"


def test_a_pose_pushed_out_of_the_pocket_is_a_search_failure_and_the_reverse_a_scoring_one():
    native, outside = crystal(), displaced(crystal(), 10.0)
    search = analyse_complex("1s3v", PROTEIN, native, outside, 10.0, steps=30)
    assert search.verdict == "search" and search.crystal_energy < search.top1_energy - 3.0
    # the same two poses with their roles swapped: the energy now prefers the "wrong" pose
    scoring = analyse_complex("1s3v", PROTEIN, outside, native, 10.0, steps=30)
    assert scoring.verdict == "scoring"
    assert scoring.top1_energy == pytest.approx(search.crystal_energy, abs=0.05)
    assert analyse_complex("1s3v", PROTEIN, native, native, 0.0, steps=10).verdict == "success"


def write_sdf(path, mol: Chem.Mol) -> None:
    writer = Chem.SDWriter(str(path))
    writer.write(mol)
    writer.close()


def test_failures_command_reads_a_bench_run(tmp_path):
    """A real `bench dock` run of 1s3v, plus two complexes whose verdicts are known by hand, added to its
    records: "in" (top-1 = the crystal pose pushed 10 A out of the pocket: RMSD 10 A, a rigid shift, and its
    contacts lost, so the energy prefers the crystal pose: a search failure) and "out" (the same two poses
    with their roles swapped: the dataset's "crystal" is the pushed pose and the top-1 the real crystal one,
    which the energy prefers: a scoring failure)."""
    from benchmarks.dock_bench import DockBenchOptions, method_dir, run_dock_bench

    dataset = tmp_path / "dataset"
    shutil.copytree(EXAMPLE, dataset / "1s3v")
    (dataset / "split.txt").write_text("1s3v\n")
    run = tmp_path / "run"
    run_dock_bench(DockBenchOptions(dataset=str(dataset), split=str(dataset / "split.txt"), out=str(run),
                                    methods=("disco",), samples=2, steps=3, refine_rounds=1,
                                    device="cpu"), progress=False)
    records = method_dir(run, "disco")
    for name, reference, top1 in (("in", crystal(), displaced(crystal(), 10.0)),
                                  ("out", displaced(crystal(), 10.0), crystal())):
        (dataset / name).mkdir()
        shutil.copy(PROTEIN, dataset / name / f"{name}_protein.pdb")
        write_sdf(dataset / name / f"{name}_ligand.sdf", reference)
        write_sdf(records / f"{name}.sdf", top1)
        (records / f"{name}.json").write_text(json.dumps({"id": name, "status": "ok", "rmsd": [10.0]}))
    assert main(["bench", "failures", "--run", str(run), "--method", "disco", "--dataset", str(dataset)]) == 0
    summary = json.loads((run / "search_or_scoring-disco.json").read_text())
    rows = {r["id"]: r for r in csv.DictReader((run / "search_or_scoring-disco.csv").open())}
    assert summary["n"] == 3 and set(rows) == {"1s3v", "in", "out"}
    assert rows["in"]["verdict"] == "search" and rows["out"]["verdict"] == "scoring"
    assert float(rows["in"]["top1_rmsd"]) == float(rows["out"]["top1_rmsd"]) == 10.0    # the records' top-1
    # the real run's row: its top-1 RMSD is the one `bench dock` recorded; the crystal pose's contacts are
    # favourable; the hand-built rows' crystal energies are the two poses' (the real one well below the other)
    real = json.loads((records / "1s3v.json").read_text())
    assert float(rows["1s3v"]["top1_rmsd"]) == pytest.approx(real["rmsd"][0], abs=1e-4)
    assert float(rows["1s3v"]["crystal_energy"]) < 0.0
    assert float(rows["in"]["crystal_energy"]) == pytest.approx(float(rows["1s3v"]["crystal_energy"]), abs=0.05)
    assert float(rows["in"]["crystal_energy"]) < float(rows["out"]["crystal_energy"]) - 3.0
    assert float(rows["1s3v"]["top1_rmsd"]) >= 2.0 or rows["1s3v"]["verdict"] == "success"
    assert summary["success"] + summary["search"] + summary["scoring"] == 3
    assert summary["search"] >= 1 and summary["scoring"] >= 1
    with pytest.raises(InputError, match="no docking records"):
        run_failure_analysis(run, "vina", dataset)


def test_a_failed_docking_is_a_row_and_counts_as_a_miss(tmp_path):
    """Counted by hand: a run whose method docked 1s3v with the crystal pose as its top-1 (RMSD 0: a success)
    and failed on bad1. Both are rows, n = 2: success / n = 1/2, the top-1 rate `disco bench dock` reports."""
    from benchmarks.dock_bench import method_dir

    dataset = tmp_path / "dataset"
    shutil.copytree(EXAMPLE, dataset / "1s3v")
    run = tmp_path / "run"
    folder = method_dir(run, "disco")
    folder.mkdir(parents=True)
    (folder / "1s3v.json").write_text(json.dumps({"id": "1s3v", "status": "ok", "rmsd": [0.0]}))
    shutil.copy(EXAMPLE / "1s3v_ligand.sdf", folder / "1s3v.sdf")
    (folder / "bad1.json").write_text(json.dumps({"id": "bad1", "status": "failed",
                                                  "error": "bad1: protein file not found"}))
    summary = run_failure_analysis(run, "disco", dataset, steps=5)
    assert {k: summary[k] for k in ("n", "success", "search", "scoring", "failed", "error")} == {
        "n": 2, "success": 1, "search": 0, "scoring": 0, "failed": 1, "error": 0}
    rows = {r["id"]: r for r in csv.DictReader((run / "search_or_scoring-disco.csv").open())}
    assert rows["1s3v"]["verdict"] == "success"
    assert rows["bad1"]["verdict"] == "failed" and "protein file not found" in rows["bad1"]["error"]
