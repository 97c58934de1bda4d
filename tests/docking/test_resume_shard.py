"""`disco dock --resume`, `--shard I/N`, `disco dock merge` and the Python API `docking.dock`, each against
one uninterrupted reference run of a six-ligand library (one unparsable SMILES, two ligands of one name,
one without a name), docked --fast with 2 samples in batches of 2: batches [0, 1], [2, 3], [4, 5].

"The same run" is checked to the last written digit: the same summary rows (every column but seconds),
the same failures, the same ligand folders, and in every poses.sdf the same coordinates and SD properties.
That holds because a ligand keeps its batch whatever the shard or the resumption
(docking.runs.shards): the score model's rounding depends on the batch, a few 1e-4 A, which
test_dock_cli.test_poses_do_not_depend_on_the_batch measures."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from disco_core.cli import main
from tests.docking.test_dock_cli import LIGAND, PROTEIN, REPO, rank_errors

LIBRARY = ("CCOc1ccccc1 phenetole\n"
           "CC(=O)Nc1ccc(O)cc1 dup\n"
           "OC(=O)c1ccccc1 benzoic\n"
           "C1CC( broken\n"
           "c1ccccc1O dup\n"
           "CC(C)Cc1ccc(cc1)C(C)C(=O)O\n")
NAMES = ["phenetole", "dup", "benzoic", "broken", "dup_2", "library_6"]
DOCKED = [name for name in NAMES if name != "broken"]
SETTINGS = ["--autobox-ligand", LIGAND, "--fast", "--samples", "2", "--batch-size", "2", "--seed", "0",
            "--device", "cpu", "--no-progress"]


def dock_args(library: Path, out: Path, *extra: str) -> list[str]:
    return ["dock", "--protein", PROTEIN, "--ligand", str(library), "--out", str(out), *SETTINGS, *extra]


def rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def poses_of(path: Path) -> list[tuple[np.ndarray, dict]]:
    return [(m.GetConformer().GetPositions(), m.GetPropsAsDict()) for m in Chem.SDMolSupplier(str(path))]


def assert_same_run(expected: Path, got: Path, names: list[str] = NAMES) -> None:
    """The same tables (but seconds), the same ligand folders, the same poses to the last written digit, for the
    ligands `names` (all by default; a part of the run checks its own against the whole run)."""
    def without_seconds(table: list[dict]) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in table if row["name"] in names]

    summary = rows(got / "summary.csv")
    assert [r["name"] for r in summary] == names
    assert [r["index"] for r in summary] == [str(NAMES.index(name)) for name in names]
    assert without_seconds(summary) == without_seconds(rows(expected / "summary.csv"))
    assert rows(got / "failures.csv") == [r for r in rows(expected / "failures.csv") if r["name"] in names]
    docked = [name for name in DOCKED if name in names]
    assert sorted(p.name for p in got.iterdir() if p.is_dir()) == sorted([*docked, "report_assets"])
    for name in docked:
        want, have = poses_of(expected / name / "poses.sdf"), poses_of(got / name / "poses.sdf")
        assert len(have) == len(want) == 2, name
        for (want_xyz, want_props), (have_xyz, have_props) in zip(want, have):
            assert np.array_equal(have_xyz, want_xyz), name
            assert have_props == want_props, name
        for rank in (1, 2):
            assert poses_of(got / name / f"rank{rank}.sdf")[0][1] == want[rank - 1][1]


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "library.smi"
    path.write_text(LIBRARY)
    return path


@pytest.fixture(scope="module")
def reference(library, tmp_path_factory) -> Path:
    """One uninterrupted run of the library (shared by the tests of this module)."""
    out = tmp_path_factory.mktemp("reference") / "out"
    assert main(dock_args(library, out)) == 0
    summary = rows(out / "summary.csv")
    assert [r["status"] for r in summary] == ["ok", "ok", "ok", "failed", "ok", "ok"]
    return out


@pytest.fixture(scope="module")
def shards(library, tmp_path_factory) -> tuple[Path, Path]:
    """The library docked as two shards; the second with --resume into a missing folder (which just runs)."""
    root = tmp_path_factory.mktemp("shards")
    first, second = root / "part1", root / "part2"
    assert main(dock_args(library, first, "--shard", "1/2")) == 0
    assert main(dock_args(library, second, "--shard", "2/2", "--resume")) == 0
    return first, second


def test_killed_run_resumes_to_the_uninterrupted_run(library, reference, tmp_path):
    """SIGKILL once the second row is in summary.csv (the first batch done, the second being docked),
    then --resume: the same run as the uninterrupted one."""
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "disco_core.cli", *dock_args(library, out)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    summary = out / "summary.csv"
    deadline = time.monotonic() + 120
    while not (summary.is_file() and summary.read_text().count("\n") >= 3):     # header + 2 rows
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no second row within 120 s"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    finished = len(rows(summary))
    assert 2 <= finished < len(NAMES), finished           # killed mid-screen
    assert json.loads((out / "run.json").read_text())["finished"] is False
    assert main(dock_args(library, out, "--resume")) == 0
    assert_same_run(reference, out)
    assert json.loads((out / "run.json").read_text())["finished"] is True


def test_resume_redoes_a_torn_row_of_a_half_finished_batch(library, reference, tmp_path):
    """A kill while the last batch was being recorded: ligand 4's row complete, ligand 5's torn and its folder
    half written. --resume docks the batch again whole (ligand 5 gets the poses it gets beside ligand 4),
    records ligand 5 only, and replaces its files."""
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    lines = (reference / "summary.csv").read_text().splitlines(keepends=True)
    (out / "summary.csv").write_text("".join(lines[:6]) + lines[6][: len(lines[6]) // 2])   # rows 0-4, half of 5
    (out / "library_6" / "poses.sdf").unlink()
    (out / "library_6" / "rank1.sdf").write_text("half a record\n")
    (out / "library_6" / ".rank2.sdf.abc123.tmp").write_text("an interrupted atomic write\n")
    assert main(dock_args(library, out, "--resume")) == 0
    assert_same_run(reference, out)


def test_resume_drops_what_a_kill_left_half_recorded(tmp_path):
    """Without docking, a torchrun run killed mid-screen: its per-rank tables are joined into summary.csv and
    failures.csv in input order, a torn last row is cut, and a failures row whose summary row is missing (the
    kill came between the two writes) is dropped, so that those ligands are docked again, recorded once."""
    from docking.runs.folder import finished_rows, prepare_run_folder, run_tables_present
    from docking.runs.tables import FAILURE_COLUMNS, SUMMARY_COLUMNS

    summary_header, failures_header = ",".join(SUMMARY_COLUMNS) + "\n", ",".join(FAILURE_COLUMNS) + "\n"
    (tmp_path / "summary.rank0.csv").write_text(summary_header + "0,a,ok,2,0.1,1.0,p.pdb,lib.smi:1,blind\n"
                                                                 "2,c,ok,2,0.")
    (tmp_path / "summary.rank1.csv").write_text(summary_header + "1,b,failed,0,,0.0,p.pdb,lib.smi:2,\n")
    (tmp_path / "failures.rank0.csv").write_text(failures_header)
    (tmp_path / "failures.rank1.csv").write_text(failures_header + "1,b,p.pdb,lib.smi:2,b: unparsable SMILES\n"
                                                                   "3,d,p.pdb,lib.smi:4,d: unparsable SMILES\n")
    assert run_tables_present(tmp_path)
    prepare_run_folder(tmp_path, {}, resume=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failures.csv", "summary.csv"]
    assert list(finished_rows(tmp_path)) == [0, 1]
    assert [r["index"] for r in rows(tmp_path / "failures.csv")] == ["1"]
    assert (tmp_path / "summary.csv").read_text().endswith("lib.smi:2,\n")


def test_two_shards_merged_equal_one_run(reference, shards, tmp_path):
    first, second = shards
    assert [r["index"] for r in rows(first / "summary.csv")] == ["0", "1", "4", "5"]     # batches 0 and 2
    assert [r["index"] for r in rows(second / "summary.csv")] == ["2", "3"]              # batch 1
    merged = tmp_path / "merged"
    assert main(["dock", "merge", str(first), str(second), "--out", str(merged)]) == 0
    assert_same_run(reference, merged)
    # the files are hard-linked, the parts left as they were
    assert (merged / "phenetole" / "poses.sdf").stat().st_ino == (first / "phenetole" / "poses.sdf").stat().st_ino
    assert [r["index"] for r in rows(first / "summary.csv")] == ["0", "1", "4", "5"]


def test_merging_some_of_the_shards_names_the_missing_ones(shards, tmp_path, capsys):
    first, _ = shards
    assert main(["dock", "merge", str(first), "--out", str(tmp_path / "half"), "--copy"]) == 0
    assert "shard(s) 2/2 of the run are not among the merged folders" in capsys.readouterr().err
    assert [r["index"] for r in rows(tmp_path / "half" / "summary.csv")] == ["0", "1", "4", "5"]
    assert (tmp_path / "half" / "dup" / "poses.sdf").stat().st_ino != (first / "dup" / "poses.sdf").stat().st_ino


@pytest.mark.slow
def test_torchrun_inside_a_shard_docks_its_batches_as_the_whole_run(library, reference, tmp_path):
    """--shard 1/2 under torchrun with two ranks: rank 0 docks the shard's batch 0, rank 1 its batch 2; the
    joined tables and poses are those of the uninterrupted run for the shard's ligands."""
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29518",
               "-m", "disco_core.cli", *dock_args(library, out, "--shard", "1/2")]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, rank_errors(done.stderr)
    assert_same_run(reference, out, [NAMES[i] for i in (0, 1, 4, 5)])
    assert not list(out.glob("*.rank*.csv"))


def test_api_gives_the_cli_poses(library, reference):
    """docking.dock with the CLI's options: the same ligands, names and poses (the API returns full precision,
    the SDF four decimals), one table row per pose, the failure in its own table."""
    from docking import dock

    results = dock(PROTEIN, str(library), autobox_ligand=LIGAND, fast=True, samples=2, batch_size=2, seed=0,
                   device="cpu")
    assert list(results.failures["name"]) == ["broken"] and "unparsable SMILES" in results.failures["reason"][0]
    assert list(results.table["name"]) == [name for name in DOCKED for _ in range(2)]
    assert list(results.table["rank"]) == [1, 2] * len(DOCKED)
    assert len(results.poses) == len(results.table) == 2 * len(DOCKED)
    for name in DOCKED:
        want = poses_of(reference / name / "poses.sdf")
        have = [mol for mol in results.poses if mol.GetProp("name") == name]
        for (want_xyz, want_props), mol in zip(want, have):
            written = np.array([[float(f"{v:.4f}") for v in xyz] for xyz in mol.GetConformer().GetPositions()])
            assert np.array_equal(written, want_xyz), name
            props = mol.GetPropsAsDict()
            assert {k: props[k] for k in want_props} == want_props, name
    best = results.table[results.table["rank"] == 1]
    summary = {r["name"]: r for r in rows(reference / "summary.csv")}
    for _, row in best.iterrows():
        assert f"{row['interaction_energy']:.4f}" == summary[row["name"]]["interaction_energy"]


def test_api_takes_molecules_and_smiles_in_one_list_and_writes_out(tmp_path):
    """A list mixing an RDKit Mol and a SMILES string, named by `names`; a Mol gives the poses of its SMILES;
    out= writes the CLI's files, whose poses are those returned."""
    from docking import dock

    options = dict(autobox_ligand=LIGAND, fast=True, samples=2, steps=4, batch_size=2, device="cpu")
    results = dock(PROTEIN, [Chem.MolFromSmiles("c1ccccc1O"), "c1ccccc1O"], names=["as_mol", "as_smiles"],
                   out=tmp_path / "out", **options)
    assert list(results.table["name"]) == ["as_mol", "as_mol", "as_smiles", "as_smiles"]
    first, second = (np.stack([m.GetConformer().GetPositions() for m in results.poses if m.GetProp("name") == n])
                     for n in ("as_mol", "as_smiles"))
    np.testing.assert_array_equal(first, second)
    assert [r["name"] for r in rows(tmp_path / "out" / "summary.csv")] == ["as_mol", "as_smiles"]
    assert json.loads((tmp_path / "out" / "run.json").read_text())["finished"] is True
    written = np.stack([xyz for xyz, _ in poses_of(tmp_path / "out" / "as_mol" / "poses.sdf")])
    np.testing.assert_allclose(written, first, atol=5e-5)            # the SDF's four decimals


def test_importing_docking_stays_cheap():
    code = ("import sys; from docking import dock; "
            "heavy = [m for m in ('torch', 'rdkit', 'pandas', 'e3nn') if m in sys.modules]; "
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert done.returncode == 0, done.stderr


def test_bad_shard_changed_seed_and_overlapping_merge_are_one_line_each(library, reference, shards, tmp_path,
                                                                        capsys):
    def one_line() -> str:
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0], err
        return err[0]

    for shard in ("3/2", "0/2", "1/0", "two"):                        # usage errors: exit 2
        with pytest.raises(SystemExit) as usage:
            main(dock_args(library, tmp_path / "x", "--shard", shard))
        assert usage.value.code == 2
        assert "--shard" in one_line()
    assert main(dock_args(library, reference, "--resume", "--seed", "1")) == 1       # user errors: exit 1
    line = one_line()
    assert line.startswith("disco: error: --seed:") and "--resume" in line
    assert main(dock_args(library, reference)) == 1
    assert "already holds a run" in one_line()
    first, _ = shards
    assert main(["dock", "merge", str(reference), str(first), "--out", str(tmp_path / "m1")]) == 1
    assert "ligand index 0 (phenetole) is also in" in one_line()
    twin = tmp_path / "twin"
    shutil.copytree(first, twin)
    assert main(["dock", "merge", str(first), str(twin), "--out", str(tmp_path / "m2")]) == 1
    assert "is shard 1/2, as" in one_line()
    stopped = tmp_path / "stopped"                   # a part killed between two ligands: no torn row, not finished
    shutil.copytree(shards[1], stopped)
    record = json.loads((stopped / "run.json").read_text())
    (stopped / "run.json").write_text(json.dumps({**record, "finished": False}))
    assert main(["dock", "merge", str(first), str(stopped), "--out", str(tmp_path / "m3")]) == 1
    line = one_line()
    assert "did not finish" in line and "--resume" in line
    assert not any((tmp_path / m).exists() for m in ("m1", "m2", "m3"))          # nothing written


def test_batches_are_dealt_to_shards_then_ranks_exactly_once():
    from docking.request.shard import Shard, parse_shard
    from docking.runs.shards import Worker

    assert parse_shard("2/3") == Shard(2, 3)
    for count in (1, 2, 3):
        for world_size in (1, 2, 3):
            for batch in range(40):
                takers = [(number, rank) for number in range(1, count + 1) for rank in range(world_size)
                          if Worker(Shard(number, count), rank, world_size).takes(batch)]
                assert len(takers) == 1 and takers[0][0] == batch % count + 1


def test_a_ligand_reads_the_grid_maps_of_its_size_whatever_came_before():
    """--energy grid: the maps are cached per site and box size, so a small ligand docked after a large one gets
    the poses it gets alone (with one cache per site, it read the large one's box, whose points lie elsewhere:
    0.56 A and 0.05 kcal/mol apart on this pair, measured before the change) -- what a shard or a resumed run,
    which lacks the ligands before it, relies on."""
    from docking.inference.pipeline import DockingPipeline, DockOptions
    from docking.inference.given_sites import pocket_from_ligand_file
    from docking.request.presets import FAST as FAST_PRESET, physics_for

    def pipeline() -> DockingPipeline:
        physics = physics_for(FAST_PRESET.physics_guidance, 0, "energy")
        return DockingPipeline(DockOptions(samples=2, steps=4, seed=0, device="cpu", physics=physics,
                                           rank_by="energy", energy="grid"))

    pocket = pocket_from_ligand_file(LIGAND)
    after = pipeline()
    after.dock(PROTEIN, "CCCCCCCCCCCCCCCC(=O)O", "palmitic", pocket=pocket)       # a larger box first
    small_after, small_alone = (p.dock(PROTEIN, "CCOc1ccccc1", "phenetole", pocket=pocket) for p in (after, pipeline()))
    assert len(after.energies._grids) == 2
    assert small_after.extras["interaction_energy"] == small_alone.extras["interaction_energy"]
    for a, b in zip(small_after.poses, small_alone.poses):
        assert np.array_equal(a.GetConformer().GetPositions(), b.GetConformer().GetPositions())
