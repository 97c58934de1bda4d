"""`disco bench toy --sweep` bookkeeping on a tiny grid: every row once, evaluation counts that match the
solver (counted here, independently of the sweep's own count), one floor per seed, a summary that is the
per-seed arithmetic of the CSV, and a resume that trains nothing."""

import itertools
import json

import pandas as pd
import pytest

import benchmarks.toy_sweep as toy_sweep
import disco_core.toy.experiment as experiment
from benchmarks.toy_sweep import ToySweepConfig, run_toy_sweep, solver_settings
from disco_core.cli import main
from disco_core.errors import DiscoError

TINY = ToySweepConfig(widths=(16, 32), seeds=(0, 1), evaluations=(2, 4), train_steps=60, prior_steps=20, samples=200)


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    """Runs the tiny sweep once with the EDM sampler wrapped by a call counter: (out, sampler calls)."""
    out = tmp_path_factory.mktemp("toy_sweep")
    calls = []
    real_sampler = experiment.edm_sampler

    def counting_sampler(denoiser, latents, num_steps, *args, heun=True, **kwargs):
        count = 0

        def counted(x, sigma):
            nonlocal count
            count += 1
            return denoiser(x, sigma)

        result = real_sampler(counted, latents, num_steps, *args, heun=heun, **kwargs)
        calls.append(("heun" if heun else "euler", num_steps, count))
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(experiment, "edm_sampler", counting_sampler)
        run_toy_sweep(out, TINY, progress=False)
    return out, calls


def test_every_row_once(sweep_run):
    out, _ = sweep_run
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns) == toy_sweep.RESULT_COLUMNS
    solvers = {("euler", 2), ("euler", 4), ("heun", 2), ("heun", 3)}    # Heun: fewest steps with 2N-1 >= budget
    expected = {(w, s, m, solver, steps) for w, s, m, (solver, steps)
                in itertools.product((16, 32), (0, 1), ("baseline", "disco"), solvers)}
    keys = list(zip(results.width, results.seed, results.model, results.solver, results.steps))
    assert len(keys) == len(expected) and set(keys) == expected
    assert not results[["w2", "w2_floor", "curvature", "jacobian", "train_seconds"]].isna().any().any()


def test_evaluation_counts_match_the_solver(sweep_run):
    out, calls = sweep_run
    results = pd.read_csv(out / "results.csv")
    counted = {(solver, steps): count for solver, steps, count in calls}
    assert len(calls) == len(results)                           # one ODE solve per row, none repeated
    assert counted == {("euler", 2): 2, ("euler", 4): 4, ("heun", 2): 3, ("heun", 3): 5}
    for row in results.itertuples():
        assert row.evaluations == counted[(row.solver, row.steps)]


def test_floor_is_one_per_seed(sweep_run):
    out, _ = sweep_run
    results = pd.read_csv(out / "results.csv")
    assert (results.groupby("seed").w2_floor.nunique() == 1).all()
    assert results.groupby("seed").w2_floor.first().nunique() == 2     # the seeds' test sets differ


def test_summary_is_the_per_seed_difference(sweep_run):
    out, _ = sweep_run
    results = pd.read_csv(out / "results.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2 * 4
    for row in summary.itertuples():
        part = results[(results.width == row.width) & (results.solver == row.solver) & (results.steps == row.steps)]
        disco = part[part.model == "disco"].set_index("seed").w2
        baseline = part[part.model == "baseline"].set_index("seed").w2
        diff = [disco[s] - baseline[s] for s in (0, 1)]
        assert row.seeds == 2
        assert row.w2_diff_mean == pytest.approx(sum(diff) / 2, abs=1e-12)
        assert row.w2_diff_std == pytest.approx(abs(diff[0] - diff[1]) / 2 ** 0.5, abs=1e-12)
        assert row.w2_disco_lower == sum(d < 0 for d in diff)
        assert row.w2_baseline_mean == pytest.approx(baseline.mean(), abs=1e-12)
    written = json.loads((out / "summary.json").read_text())
    assert len(written["summary"]) == len(summary)
    assert written["settings"]["train_steps"] == 60
    assert "DisCo lower W2" in (out / "summary.md").read_text()
    for plot in ("w2.png", "curvature.png"):
        assert (out / plot).stat().st_size > 10_000


def test_resume_trains_and_evaluates_nothing_again(sweep_run, monkeypatch):
    out, _ = sweep_run
    before = (out / "results.csv").read_text()
    checkpoints = {path: path.stat().st_mtime_ns for path in out.rglob("checkpoint.pt")}
    assert len(checkpoints) == 2 * 2 * 3                        # baseline, disco, prior per (width, seed)

    def refuse(*args, **kwargs):
        raise AssertionError("a finished sweep was asked to train or sample again")

    monkeypatch.setattr(toy_sweep, "train_toy_model", refuse)
    monkeypatch.setattr(toy_sweep, "sample_toy", refuse)
    run_toy_sweep(out, TINY, progress=False)
    assert (out / "results.csv").read_text() == before
    assert {path: path.stat().st_mtime_ns for path in checkpoints} == checkpoints


def test_a_lost_evaluation_is_redone_without_training(sweep_run):
    out, _ = sweep_run
    record = out / "evals" / "w16_s1_disco_heun3.json"
    lost = json.loads(record.read_text())
    checkpoints = {path: path.stat().st_mtime_ns for path in out.rglob("checkpoint.pt")}
    trained = (out / "models" / "w16_s1" / "disco.json").read_text()
    record.unlink()
    run_toy_sweep(out, TINY, progress=False)
    redone = json.loads(record.read_text())
    assert redone.pop("seconds") >= 0 and lost.pop("seconds") >= 0
    assert redone == lost                                       # same model, same noise, same latents
    assert {path: path.stat().st_mtime_ns for path in checkpoints} == checkpoints
    assert (out / "models" / "w16_s1" / "disco.json").read_text() == trained


def test_other_settings_in_the_same_folder_are_refused(sweep_run):
    out, _ = sweep_run
    with pytest.raises(DiscoError, match="train_steps 60 \\(asked 61\\)"):
        run_toy_sweep(out, ToySweepConfig(**{**TINY.__dict__, "train_steps": 61}), progress=False)


def test_budgets_to_solver_settings():
    names = {s.name for s in solver_settings((2, 3, 4, 8, 16, 50))}
    assert names == {"euler2", "euler3", "euler4", "euler8", "euler16", "euler50",
                     "heun2", "heun3", "heun5", "heun9", "heun26"}      # budgets 2 and 3 share Heun's 2 steps


def test_cli_refuses_sweep_options_without_sweep(tmp_path, capsys):
    assert main(["bench", "toy", "--out", str(tmp_path), "--widths", "16", "--samples", "80"]) == 1
    assert capsys.readouterr().err.strip() == "disco: error: --widths, --samples: only with --sweep"
    assert main(["bench", "toy", "--sweep", "--out", str(tmp_path), "--samples", "100"]) == 1
    assert "samples 100: must be a positive multiple of 8" in capsys.readouterr().err
