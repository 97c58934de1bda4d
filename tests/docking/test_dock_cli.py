"""`disco dock` end to end with the bundled model: outputs, SD properties, seeds, pockets, batches with
bad items, exit codes, unique names, a corrupted model, torchrun sharding."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from disco_core.cli import main
from docking.inference.model_folder import BUNDLED_MODEL

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "1s3v"
PROTEIN = str(EXAMPLE / "1s3v_protein.pdb")
LIGAND = str(EXAMPLE / "1s3v_ligand.sdf")
SMALL = ["--samples", "3", "--steps", "4", "--no-progress", "--device", "cpu"]
FAST = ["--fast", *SMALL]       # the CLI's plumbing, at the cost of the fast preset
SIGMA_TR_MAX = 6.0              # the bundled model's translation sigma_max: the spread of the starting centroids, A


def rank_errors(stderr: str) -> str:
    """What a failed torchrun printed that names the failing rank's own error (torchrun's summary at the end
    shows only exit codes), then the end."""
    lines = [line for line in stderr.splitlines() if "error" in line.lower() and "elastic" not in line]
    return "\n".join(lines[-20:]) + "\n...\n" + stderr[-800:]


def crystal_center() -> np.ndarray:
    return Chem.MolFromMolFile(LIGAND).GetConformer().GetPositions().mean(0)


def rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def poses(path: Path) -> list[Chem.Mol]:
    return [m for m in Chem.SDMolSupplier(str(path))]


def pose_energy(mol: Chem.Mol) -> float:
    """The interaction energy of a written pose, against every receptor heavy atom within 40 A of it."""
    import torch

    from data_prep.protein import read_heavy_atoms
    from docking.physics.interaction_energy import InteractionEnergy, receptor_atoms

    pos = torch.tensor(mol.GetConformer().GetPositions())
    energy = InteractionEnergy.for_ligand(mol, receptor_atoms(read_heavy_atoms(PROTEIN), pos.mean(0), 40.0))
    return float(energy(pos[None].float())[0])


def test_bundled_model_is_shipped():
    for stage in ("score", "prior", "confidence"):
        assert (BUNDLED_MODEL / stage / "checkpoint.pt").is_file()
    assert (BUNDLED_MODEL / "calibration.json").is_file()


def test_dock_sdf_into_autobox_pocket_writes_ranked_poses(tmp_path):
    out = tmp_path / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", LIGAND, "--autobox-ligand", LIGAND, "--out", str(out),
                 "--write-complex", *FAST]) == 0
    folder = out / "1s3v_ligand"
    ranked = poses(folder / "poses.sdf")
    assert len(ranked) == 3 and all((folder / f"rank{i}.sdf").is_file() for i in (1, 2, 3))
    reference = Chem.MolFromMolFile(LIGAND)
    # --fast ranks by minimised interaction energy: each written energy is the energy of the pose written
    # with it (recomputed here on every receptor atom within 40 A), and they rise strictly with the rank
    energies = [float(m.GetProp("interaction_energy")) for m in ranked]
    assert [pose_energy(m) for m in ranked] == pytest.approx(energies, rel=1e-3, abs=1e-2)
    assert len(set(energies)) == 3 and energies == sorted(energies)
    assert all(0 <= float(m.GetProp("confidence")) < 1 for m in ranked)    # 4 steps: poor poses, P ~ 0
    for rank, mol in enumerate(ranked, start=1):
        assert int(mol.GetProp("rank")) == rank
        assert len(mol.GetProp("latent_picks").split()) == 2
        assert mol.GetNumAtoms() == reference.GetNumAtoms()
        assert [a.GetSymbol() for a in mol.GetAtoms()] == [a.GetSymbol() for a in reference.GetAtoms()]
    # The poses stay in the pocket they were docked into. A pose starts with its centroid at the pocket centre
    # plus N(0, s^2) per axis, s = the bundled model's translation sigma_max = 6 A
    # (docking.model.sampler.sample_initial_poses), so a start is beyond 2 s = 12 A with probability 0.26 and
    # within s with only 0.20; the reverse diffusion pulls poses into the pocket (4 steps here: coarse, so a
    # per-pose bound tighter than 2 s is no guarantee: seed 0 writes one pose 10.6 A out, seeds 0-11 up to
    # 11.3 A). Checked: every pose within 2 s, and at least 2 of the 3 within s (seeds 0-11: always; a sampler
    # that left poses where they start would pass with probability 0.10).
    distances = [float(np.linalg.norm(m.GetConformer().GetPositions().mean(0) - crystal_center())) for m in ranked]
    assert max(distances) < 2 * SIGMA_TR_MAX, distances
    assert sum(d < SIGMA_TR_MAX for d in distances) >= 2, distances
    summary = rows(out / "summary.csv")
    assert summary[0]["status"] == "ok" and int(summary[0]["n_poses"]) == 3 and float(summary[0]["seconds"]) > 0
    assert summary[0]["pocket"].startswith("autobox:")
    assert rows(out / "failures.csv") == []
    assert "LIG" in (folder / "complex_rank1.pdb").read_text()


def test_same_seed_same_poses_other_seed_other_poses(tmp_path):
    def dock(seed: int, out: Path) -> np.ndarray:
        center = [f"{v:.3f}" for v in crystal_center()]
        assert main(["dock", "--protein", PROTEIN, "--ligand", "CC(=O)Nc1ccc(O)cc1", "--pocket-center", *center,
                     "--out", str(out), "--seed", str(seed), *FAST]) == 0
        return np.stack([m.GetConformer().GetPositions() for m in poses(out / "ligand" / "poses.sdf")])

    first, again, other = dock(0, tmp_path / "a"), dock(0, tmp_path / "b"), dock(1, tmp_path / "c")
    np.testing.assert_allclose(first, again)
    assert not np.allclose(first, other)


def test_batch_with_a_bad_record_completes_and_records_it(tmp_path):
    good = Path(LIGAND).read_text()
    bad = ("broken\n  x\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n"
           "    0.0000    0.0000    0.0000 Xx  0  0  0  0  0  0  0  0  0  0  0  0\nM  END\n$$$$\n")
    library = tmp_path / "library.sdf"
    library.write_text(good + bad + good)
    out = tmp_path / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", str(library), "--pocket-residues", "A:45,A:99",
                 "--out", str(out), *FAST]) == 0
    summary = rows(out / "summary.csv")
    assert [r["status"] for r in summary] == ["ok", "failed", "ok"]
    # two records with the same title never share a folder
    assert {r["name"] for r in summary if r["status"] == "ok"} == {"1s3v_ligand", "1s3v_ligand_2"}
    failures = rows(out / "failures.csv")
    assert len(failures) == 1 and "library.sdf#2" in failures[0]["reason"]


def test_csv_batch_unique_names_and_failures(tmp_path):
    table = tmp_path / "pairs.csv"
    table.write_text("complex_name,protein_path,ligand_description\n"
                     f"a,{PROTEIN},CCOc1ccccc1\n"
                     f"a,{PROTEIN},CCN(CC)CC\n"
                     f"report_assets,{PROTEIN},CCO\n"
                     f"b,{tmp_path / 'missing.pdb'},CCO\n"
                     f"c,{PROTEIN},C1CC(\n")
    out = tmp_path / "out"
    assert main(["dock", "--csv", str(table), "--out", str(out), *FAST]) == 0
    summary = rows(out / "summary.csv")
    assert [(r["name"], r["status"]) for r in summary] == [("a", "ok"), ("a_2", "ok"), ("report_assets_2", "ok"),
                                                          ("b", "failed"), ("c", "failed")]
    reasons = {r["name"]: r["reason"] for r in rows(out / "failures.csv")}
    assert "protein file not found" in reasons["b"] and "unparsable SMILES" in reasons["c"]
    assert (out / "a" / "poses.sdf").is_file() and (out / "a_2" / "poses.sdf").is_file()
    # a ligand named as the report's folder keeps its poses apart from the viewer's files
    assert (out / "report_assets_2" / "poses.sdf").is_file() and (out / "report_assets" / "3Dmol-min.js").is_file()
    assert not (out / "report_assets" / "poses.sdf").exists()


def test_exit_codes(tmp_path, capsys):
    assert main(["dock", "--protein", PROTEIN, "--ligand", "not_a_smiles((", "--out", str(tmp_path / "x"),
                 *FAST]) == 1
    assert "unparsable SMILES" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["dock", "--protein", PROTEIN, "--out", str(tmp_path / "y")])
    assert usage.value.code == 2
    assert main(["dock", "--protein", str(tmp_path / "nope.pdb"), "--ligand", "CCO", "--out",
                 str(tmp_path / "z"), *FAST]) == 1
    assert "protein file not found" in capsys.readouterr().err


def test_corrupted_model_folder_is_one_clear_error(tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(BUNDLED_MODEL, model)
    (model / "score" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert main(["dock", "--protein", PROTEIN, "--ligand", "CCO", "--model", str(model), "--out",
                 str(tmp_path / "out"), *FAST]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint.pt" in err[0] and "Traceback" not in err[0]


def test_blind_docking_searches_candidate_sites(tmp_path):
    """Blind docking samples `samples` poses at every candidate site and ranks the poses of all sites together,
    keeping the best `samples`: with --fast (ranked by minimised energy) the written poses are the N
    lowest-energy of the 2N candidates of the two sites, in rising energy. The candidates come from the Python
    API with the options the CLI builds (the same seed and N draw the same poses: each site's stream is seeded
    by the seed and the site's index, DockingPipeline._generator), read where the pipeline hands every
    site's poses to its ranking."""
    from docking.inference.pipeline import DockingPipeline, DockOptions
    from docking.request.presets import FAST as FAST_PRESET, physics_for

    n = 4
    out = tmp_path / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", "c1ccccc1O", "--name", "phenol", "--blind-sites", "2",
                 "--out", str(out), "--fast", "--samples", str(n), "--steps", "4", "--no-progress",
                 "--device", "cpu"]) == 0
    assert rows(out / "summary.csv")[0]["pocket"] == "blind"
    written = [(m.GetProp("site"), int(m.GetProp("sample_index")), float(m.GetProp("interaction_energy")))
               for m in poses(out / "phenol" / "poses.sdf")]

    class RecordingPipeline(DockingPipeline):
        def _rank(self, name, mol, per_site, sites, seconds, receptor):
            self.candidates = [(site.source, int(sample), float(energy))
                               for site, docked in zip(sites, per_site)
                               for sample, energy in zip(docked.sample_index, docked.energies)]
            return super()._rank(name, mol, per_site, sites, seconds, receptor)

    physics = physics_for(FAST_PRESET.physics_guidance, FAST_PRESET.refine_rounds, FAST_PRESET.rank_by)
    pipeline = RecordingPipeline(DockOptions(samples=n, steps=4, seed=0, device="cpu", blind_sites=2,
                                             physics=physics, rank_by="energy", energy=FAST_PRESET.energy))
    pipeline.dock(PROTEIN, "c1ccccc1O", "phenol")
    candidates = pipeline.candidates
    assert len(candidates) == 2 * n
    assert sorted({site for site, _, _ in candidates}) == ["blind-site-1", "blind-site-2"]   # both sites docked
    lowest = sorted(candidates, key=lambda c: c[2])[:n]
    assert [(site, sample) for site, sample, _ in written] == [(site, sample) for site, sample, _ in lowest]
    assert [e for _, _, e in written] == pytest.approx([e for _, _, e in lowest], abs=1e-3)


@pytest.mark.slow
def test_torchrun_shards_ligands_and_merges_tables(tmp_path):
    library = tmp_path / "library.smi"
    library.write_text("CCO ethanol\nc1ccccc1O phenol\nCC(=O)O acetic\nC1CC( broken\n")
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
               "-m", "disco_core.cli", "dock", "--protein", PROTEIN, "--ligand", str(library),
               "--autobox-ligand", LIGAND, "--out", str(out), *FAST]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, rank_errors(done.stderr)
    summary = rows(out / "summary.csv")
    assert [r["name"] for r in summary] == ["ethanol", "phenol", "acetic", "broken"]
    assert [r["status"] for r in summary] == ["ok", "ok", "ok", "failed"]
    assert len(rows(out / "failures.csv")) == 1
    assert not list(out.glob("summary.rank*.csv"))
    # rank 0 writes the report after the merge, from both ranks' ligands; each rank wrote its ligands' contacts
    assert (out / "report.html").is_file()
    for name in ("ethanol", "phenol", "acetic"):
        assert (out / name / "report_data.js").is_file() and (out / name / "interactions.csv").is_file()


def test_poses_do_not_depend_on_the_batch(tmp_path):
    """A ligand's poses are the same whether it is sampled alone or with others: to float32 rounding for the
    sampler (1e-4 A); after --fast's minimisation, which carries the score model's batch-size-dependent
    rounding (~2e-5 A) along 100 gradient steps, the same energies, and the same poses (up to the molecule's
    symmetry) where the ligand touches the protein: Adam's steps do not shrink with a vanishing gradient, so a
    pose with no contact (energy ~ 0) drifts on the flat energy by a different amount."""
    from data_prep.pose_rmsd import symmetry_rmsd_of_mols

    library = tmp_path / "library.smi"
    library.write_text("CCOc1ccccc1 a\nCC(=O)Nc1ccc(O)cc1 b\nOC(=O)c1ccccc1 c\n")

    def dock(batch_size: int, label: str, *settings: str) -> dict[str, list[Chem.Mol]]:
        out = tmp_path / f"{label}{batch_size}"
        assert main(["dock", "--protein", PROTEIN, "--ligand", str(library), "--autobox-ligand", LIGAND,
                     "--batch-size", str(batch_size), "--out", str(out), *settings]) == 0
        return {name: sorted(poses(out / name / "poses.sdf"), key=lambda m: int(m.GetProp("sample_index")))
                for name in "abc"}

    sampler = [*SMALL, "--physics-guidance", "0", "--rank-by", "confidence"]
    alone, together = dock(1, "sampler", *sampler), dock(3, "sampler", *sampler)
    for name in "abc":
        np.testing.assert_allclose(np.stack([m.GetConformer().GetPositions() for m in alone[name]]),
                                   np.stack([m.GetConformer().GetPositions() for m in together[name]]), atol=1e-4)
    alone, together = dock(1, "fast", *FAST), dock(3, "fast", *FAST)
    for name in "abc":
        energies = [[float(m.GetProp("interaction_energy")) for m in side[name]] for side in (alone, together)]
        np.testing.assert_allclose(*energies, atol=1e-3)
        for single, batched, energy in zip(alone[name], together[name], energies[0]):
            if energy < -1.0:      # in contact; a pose out of contact floats on a flat energy (4 steps here)
                assert symmetry_rmsd_of_mols(single, [batched])[0] < 0.05


SEARCH_OPTIONS = {
    # option: (the guided_docking function that receives it, its positional index there, CLI flags beside it,
    #          usage errors)
    "refine_chains": ("refine_poses", -1, ["--random-starts", "0"], [["--refine-chains", "0"]]),
    "random_starts": ("search_poses", 9, [], [["--random-starts", "-1"],
                                              ["--random-starts", "2", "--refine-rounds", "0"]]),
}


@pytest.mark.parametrize("option", sorted(SEARCH_OPTIONS))
def test_search_options_reach_the_search_from_the_cli_the_api_and_the_bench(option, tmp_path, monkeypatch, capsys):
    """`--refine-chains C` (chains per pose) and `--random-starts R` (chains from random poses), by their API and
    bench names too, reach the function that runs the search (the real search runs), run.json and the bench's
    pipeline; --fast keeps its own preset; values that cannot work are usage errors naming the flag."""
    import json

    from benchmarks.dock_bench import DiscoMethod, DockBenchOptions
    from docking import dock
    from docking.inference import guided_docking
    from docking.request.presets import FAST as FAST_PRESET

    function, index, beside, errors = SEARCH_OPTIONS[option]
    flag = "--" + option.replace("_", "-")
    received = []
    real = getattr(guided_docking, function)

    def recording(*args, **kwargs):
        received.append(args[index])
        return real(*args, **kwargs)

    monkeypatch.setattr(guided_docking, function, recording)
    small = ["--samples", "2", "--steps", "3", "--refine-rounds", "2", "--seed", "0", "--device", "cpu",
             "--no-progress", "--no-report", "--no-interactions"]
    out = tmp_path / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", "c1ccccc1O", "--autobox-ligand", LIGAND,
                 "--out", str(out), flag, "2", *beside, *small]) == 0
    assert received == [2]
    assert json.loads((out / "run.json").read_text())["options"][option] == 2
    api_beside = {"random_starts": 0} if option == "refine_chains" else {}
    dock(PROTEIN, "c1ccccc1O", autobox_ligand=LIGAND, samples=2, steps=3, refine_rounds=2, device="cpu",
         interactions=False, **{option: 3, **api_beside})
    assert received == [2, 3]

    options = DockBenchOptions(dataset=str(tmp_path), out=str(tmp_path / "bench"), **{option: 4})
    assert getattr(DiscoMethod("disco", None, options).pipeline().options.physics, option) == 4
    fast = DiscoMethod("disco/fast", None, options, "disco/fast")
    assert getattr(fast.preset, option) == getattr(FAST_PRESET, option)

    for flags in errors:
        with pytest.raises(SystemExit) as usage_error:
            main(["dock", "--protein", PROTEIN, "--ligand", "CCO", "--out", str(tmp_path / "bad"), *small, *flags])
        assert usage_error.value.code == 2
        assert flag in capsys.readouterr().err


def test_pose_confidence_is_the_logistic_of_the_bundled_coefficients():
    """The confidence of guided poses (--fast, the default) is P = sigmoid(a z + b), z = w . (x - mean) / scale
    + bias, with the coefficients of the bundled pose_confidence.json: checked against that formula written out
    by hand, at the features' means (z = bias) and one scale up the first feature (z = bias + w0)."""
    import json
    import math

    from docking.confidence.pose_confidence import PoseConfidence

    raw = json.loads((BUNDLED_MODEL / "pose_confidence.json").read_text())
    model = PoseConfidence.load(BUNDLED_MODEL / "pose_confidence.json")
    at_mean = list(raw["mean"])
    up_first = [raw["mean"][0] + raw["scale"][0], *raw["mean"][1:]]
    a, b = raw["platt_a"], raw["platt_b"]
    hand = [1.0 / (1.0 + math.exp(-(a * z + b))) for z in (raw["bias"], raw["bias"] + raw["weights"][0])]
    assert model.probabilities(np.array([at_mean, up_first])).tolist() == pytest.approx(hand, rel=1e-9)
    assert hand[0] != pytest.approx(hand[1])

