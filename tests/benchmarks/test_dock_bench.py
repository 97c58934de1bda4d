"""`disco bench dock` end to end on the shipped complex plus a corrupt one: records, resume, failures."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.dock_bench import DockBenchOptions, method_labels, run_dock_bench
from disco_core.errors import InputError

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "1s3v"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    shutil.copytree(EXAMPLE, root / "1s3v")
    bad = root / "bad1"
    bad.mkdir()
    (bad / "bad1_protein.pdb").write_text("HEADER    CORRUPT\nATOM      1  CA  ALA A   1      nonsense\n")
    shutil.copy(EXAMPLE / "1s3v_ligand.sdf", bad / "bad1_ligand.sdf")
    (root / "split.txt").write_text("1s3v\nbad1\n")
    return root


@pytest.fixture(scope="module")
def methods():
    return ("disco", "vina")      # the bundled model is shipped: a failure to load it fails these tests


@pytest.fixture(scope="module")
def first_run(dataset, methods, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    options = DockBenchOptions(dataset=str(dataset), split=str(dataset / "split.txt"), out=str(out),
                               methods=methods, samples=2, steps=5, refine_rounds=1, exhaustiveness=1,
                               device="cpu")
    calls = []
    summary = run_dock_bench(options, progress=False, on_item=lambda *item: calls.append(item))
    return options, summary, calls, (out / "summary.json").read_bytes()


def test_every_complex_and_method_is_recorded(first_run, methods):
    options, summary, calls, _ = first_run
    assert len(calls) == 2 * len(methods)
    assert set(summary) == set(methods)
    results = pd.read_csv(f"{options.out}/results.csv")
    assert len(results) == 2 * len(methods)
    good = results[results.id == "1s3v"]
    assert (good.status == "ok").all() and good.top1_rmsd.notna().all()
    vina = json.loads((Path(options.out) / "vina" / "1s3v.json").read_text())
    assert vina["n_poses"] == len(vina["rmsd"]) == 2 and vina["score_kind"] == "vina_kcal_per_mol"
    assert "pb_valid" in vina and vina["pb_checks"]
    assert vina["rmsd"][0] < 2.0                       # Vina finds 1s3v even at exhaustiveness 1
    assert (Path(options.out) / "vina" / "1s3v.sdf").is_file()
    for name in ("summary.json", "report.md", "failures.csv", "plots/cumulative_rmsd.png",
                 "plots/success_vs_samples.png"):
        assert (Path(options.out) / name).is_file(), name
    # the top-1 recovery of the crystal ligand's contacts (1s3v's crystal pose makes hydrogen bonds with ILE7 and
    # GLU30, benchmarks.interaction_recovery): a value per method and complex, and in the summary
    for label in methods:
        record = json.loads((Path(options.out) / label / "1s3v.json").read_text())
        assert 0.0 <= record["interaction_recovery"] <= 1.0 and record["crystal_hbonds"] >= 2
        assert isinstance(record["hbonds_recovered"], bool)
        assert summary[label]["n_interaction_complexes"] == 1
    assert good.top1_interaction_recovery.notna().all()


def test_a_corrupt_complex_is_recorded_and_the_run_completes(first_run, methods):
    options, summary, _, _ = first_run
    failures = pd.read_csv(f"{options.out}/failures.csv")
    assert set(failures.id) == {"bad1"} and set(failures.method) == set(methods)
    assert failures.error.str.contains("bad1").all()
    for label in methods:
        assert summary[label]["n"] == 2 and summary[label]["n_failed"] == 1
    assert summary["vina"]["top1_lt2"] == 0.5          # the failure counts as a miss
    # the time ratio is that of the finished complexes' recorded seconds (1s3v alone here: bad1 failed)
    seconds = {label: json.loads((Path(options.out) / label / "1s3v.json").read_text())["seconds"]
               for label in methods}
    assert summary["disco"]["seconds_ratio_to_vina"] == pytest.approx(seconds["disco"] / seconds["vina"], abs=1e-4)


def test_time_ratio_to_vina_from_hand_set_times():
    """Mean seconds per finished complex over Vina's: disco (6 + 10) / 2 = 8 s, Vina (3 + 1) / 2 = 2 s
    (its failed complex has no time), so 4.0; Vina's own ratio is 1.0; without Vina there is no ratio."""
    from benchmarks.dock_report import summarize

    def record(seconds, status="ok"):
        return {"id": "x", "status": status, "rmsd": [1.0] if status == "ok" else [], "centroid_distance": [0.5],
                "seconds": seconds, "pb_valid": True, "extras": {}}

    summary = summarize({"disco": [record(6.0), record(10.0)],
                         "vina": [record(3.0), record(1.0), record(50.0, status="failed")]})
    assert summary["disco"]["seconds_ratio_to_vina"] == 4.0 and summary["vina"]["seconds_ratio_to_vina"] == 1.0
    assert summary["disco"]["seconds_per_complex"] == 8.0
    assert summarize({"disco": [record(6.0)]})["disco"]["seconds_ratio_to_vina"] is None


def test_rerun_resumes_without_recomputing(first_run):
    options, _, _, summary_bytes = first_run
    calls = []
    run_dock_bench(options, progress=False, on_item=lambda *item: calls.append(item))
    assert calls == []
    assert (Path(options.out) / "summary.json").read_bytes() == summary_bytes


def test_changed_settings_are_refused(first_run):
    options, _, _, _ = first_run
    changed = DockBenchOptions(**{**options.__dict__, "samples": 3})
    with pytest.raises(InputError, match="other settings"):
        run_dock_bench(changed, progress=False)


def test_disco_runs_side_by_side(first_run, methods):
    options, summary, _, _ = first_run
    record = json.loads((Path(options.out) / "disco" / "1s3v.json").read_text())
    assert record["status"] == "ok" and record["n_poses"] == 2 and record["score_kind"] == "interaction_energy"
    assert summary["disco"]["seconds_ratio_to_vina"] is not None


def test_method_labels():
    assert [label for label, _, _ in method_labels(("disco", "vina"), (None,))] == ["disco", "vina"]
    labels = [label for label, _, _ in method_labels(("disco",), ("runs/a", "other/a"))]
    assert labels == ["disco:a", "disco:a-2"]
    with pytest.raises(InputError):
        method_labels(("gnina",), (None,))


def test_combined_variant_is_dock_with_rescore_relax_and_check():
    """disco+vina+relax is `disco dock --rescore vina --rank-by vina --relax --check` (valid poses first)."""
    from benchmarks.dock_bench import DISCO_VARIANTS
    from docking.inference.postprocess import PostprocessOptions

    preset, ablation, post = DISCO_VARIANTS["disco+vina+relax"]
    assert (preset, ablation) == ("default", {})
    options = PostprocessOptions(**post)
    assert (options.rescore, options.rank_by, options.relax, options.check, options.valid_first) == \
        ("vina", "vina", True, True, True)


def test_relax_time_per_pose_is_summarised():
    from benchmarks.dock_report import summarize_method

    def record(seconds_per_pose=None):
        extras = {} if seconds_per_pose is None else {"relax_seconds_per_pose": seconds_per_pose}
        return {"id": "x", "status": "ok", "rmsd": [1.0], "centroid_distance": [0.5], "seconds": 3.0,
                "pb_valid": True, "extras": extras}

    summary = summarize_method([record(1.0), record(3.0), record(8.0)])
    assert summary["relax_seconds_per_pose"] == 4.0 and summary["relax_seconds_per_pose_median"] == 3.0
    assert summary["median_seconds_per_complex"] == 3.0
    assert "relax_seconds_per_pose" not in summarize_method([record()])


def test_confidences_are_scored_against_the_poses_within_2_A():
    """AUC 1 when every pose within 2 A has a higher confidence than every other; ECE the calibration gap;
    no columns for a method without confidences (Vina) or with NaN ones (no confidence model)."""
    from benchmarks.dock_report import summarize_method

    def record(rmsd, confidences):
        return {"id": "x", "status": "ok", "rmsd": rmsd, "centroid_distance": [0.5] * len(rmsd), "seconds": 1.0,
                "pb_valid": True, "extras": {"confidences": confidences}}

    summary = summarize_method([record([1.0, 5.0], [0.9, 0.2]), record([4.0, 1.5], [0.3, 0.8])])
    assert summary["confidence_auc"] == 1.0
    assert summary["confidence_ece"] == pytest.approx((0.1 + 0.2 + 0.3 + 0.2) / 4)
    assert summarize_method([record([3.0, 1.0], [0.9, 0.2])])["confidence_auc"] == 0.0
    assert "confidence_auc" not in summarize_method([record([1.0], [None])])
    assert "confidence_auc" not in summarize_method([{**record([1.0], []), "extras": {}}])


def test_a_run_killed_half_way_and_restarted_gives_the_same_summary(first_run, tmp_path):
    options, summary, _, _ = first_run
    interrupted = DockBenchOptions(**{**options.__dict__, "out": str(tmp_path / "run")})

    def stop_after_first(*_):
        raise KeyboardInterrupt   # as Ctrl-C (or a kill) right after the first record is written

    with pytest.raises(KeyboardInterrupt):
        run_dock_bench(interrupted, progress=False, on_item=stop_after_first)
    done = list((tmp_path / "run").glob("*/*.json"))
    assert len(done) == 1
    resumed = run_dock_bench(interrupted, progress=False)

    def without_time(values: dict) -> dict:
        return {label: {k: v for k, v in row.items() if "seconds" not in k} for label, row in values.items()}

    assert without_time(resumed) == without_time(summary)


def test_every_disco_method_runs_its_preset_and_ablation(dataset, tmp_path):
    """disco is `disco dock`'s default (the bench's explicit settings override it), disco/fast is `--fast`
    whatever the bench's settings, and the ablations keep the default's search: physics-only sets the learned
    score to 0, null-latent gives the score model its null latent. Each is a row of the summary."""
    from benchmarks.dock_bench import DiscoMethod, method_dir
    from docking.request.presets import DEFAULT, FAST

    methods = ("disco", "disco/fast", "disco/physics-only", "disco/null-latent")
    options = DockBenchOptions(dataset=str(dataset), split=str(dataset / "split.txt"), out=str(tmp_path),
                               methods=methods, samples=3, steps=5, physics_guidance=2.0, refine_rounds=2,
                               limit=1, device="cpu")
    built = {label: DiscoMethod(label, None, options, label) for label in methods}
    assert (built["disco"].preset.steps, built["disco"].preset.physics_guidance) == (5, 2.0)
    assert built["disco"].preset.energy == DEFAULT.energy
    assert built["disco/fast"].preset == FAST
    pipelines = {label: method.pipeline().options for label, method in built.items()}
    assert pipelines["disco"].physics.refine_rounds == 2 and pipelines["disco"].physics.weight == 2.0
    assert pipelines["disco/fast"].physics.weight == 0.0 and pipelines["disco/fast"].steps == FAST.steps
    assert not pipelines["disco/physics-only"].learned_score and pipelines["disco"].learned_score
    assert pipelines["disco/null-latent"].latents == "null" and pipelines["disco"].latents == "prior"
    assert pipelines["disco/physics-only"].physics == pipelines["disco"].physics

    summary = run_dock_bench(options, progress=False)
    assert set(summary) == set(methods)
    for label in methods:
        record = json.loads((method_dir(tmp_path, label) / "1s3v.json").read_text())
        assert record["status"] == "ok" and record["score_kind"] == "interaction_energy", label
        assert record["scores"] == sorted(record["scores"]), label
    report = (tmp_path / "report.md").read_text()
    assert "refine_rounds 2" in report and all(label in report for label in methods)


def test_vina_timeout_stops_vina_and_records_the_miss(dataset, tmp_path):
    """With --vina-timeout Vina runs in a child process: within the limit it gives the in-process poses and
    scores; past it the complex is Vina's failure, naming the limit, and the run goes on."""
    from benchmarks.dock_bench import BenchComplex, VinaMethod, load_complex
    from data_prep.inputs import pdbbind_jobs

    (job,) = [j for j in pdbbind_jobs(str(dataset), str(dataset / "split.txt")) if j.name == "1s3v"]
    item: BenchComplex = load_complex(job, "reference")
    plain = DockBenchOptions(dataset=str(dataset), out=str(tmp_path), samples=3, exhaustiveness=1)
    limited = DockBenchOptions(**{**plain.__dict__, "vina_timeout": 300.0})
    inside = VinaMethod("vina", plain, tmp_path / "receptors").dock(item)
    child = VinaMethod("vina", limited, tmp_path / "receptors").dock(item)
    assert child.scores == inside.scores
    for a, b in zip(child.poses, inside.poses):
        assert abs(a.GetConformer().GetPositions() - b.GetConformer().GetPositions()).max() < 1e-3

    options = DockBenchOptions(dataset=str(dataset), split=str(dataset / "split.txt"), out=str(tmp_path / "run"),
                               methods=("vina",), samples=3, exhaustiveness=8, vina_timeout=0.5)
    run_dock_bench(options, progress=False)
    record = json.loads((tmp_path / "run" / "vina" / "1s3v.json").read_text())
    assert record["status"] != "ok" and "Vina did not finish within 0.5 s" in record["error"]
