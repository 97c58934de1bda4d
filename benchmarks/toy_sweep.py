"""`disco bench toy --sweep`: the 2-D toy where the paper says latents help, few solver steps and narrow
denoisers. W2 (with its floor), curvature and the denoiser Jacobian norm of the baseline and DisCo-EDM over
solver (Euler, Heun) x network evaluations x denoiser width x seed.

Training is the cost and sampling is cheap (the exact W2 is the other cost: see `--samples`), so each
(width, seed, model) is trained once and then sampled with every solver setting, all from the same initial
noise (paired comparisons). Every trained model and every evaluation is one record file, written atomically
and skipped when present, so a stopped sweep resumes and a larger grid reuses a smaller one. Layout of OUT:

    settings.json                          what the records were made with (a rerun must match it)
    models/w<W>_s<S>/<model>/              trainer folders (checkpoint.pt, metrics.csv): baseline, disco, prior
    models/w<W>_s<S>/<model>.json          one record per trained model (training seconds; the prior's codes used)
    floors/s<S>.json                       W2 floor of seed S (test points vs i.i.d. draws of the true mixture)
    evals/w<W>_s<S>_<model>_<solver><N>.json   one evaluation
    results.csv, summary.csv, summary.md, summary.json, w2.png, curvature.png
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from benchmarks.toy import markdown_table
from disco_core.errors import DiscoError
from disco_core.io import atomic_open, atomic_write_text
from disco_core.toy.experiment import (MODELS, ToyExperimentConfig, draw_latents, frozen_codes, initial_noise,
                                       sample_toy, test_points, toy_metrics, train_points, train_toy_model,
                                       train_toy_prior, w2_data_floor)
from disco_core.toy.models import ToyDisco

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["width", "seed", "model", "solver", "steps", "evaluations", "w2", "w2_floor", "curvature",
                  "jacobian", "train_seconds"]
SETTING_KEYS = ["width", "solver", "steps", "evaluations"]
METRICS = ("w2", "curvature", "jacobian")


@dataclass
class ToySweepConfig:
    widths: tuple[int, ...] = (32, 64, 128, 256)
    seeds: tuple[int, ...] = (0, 1, 2)
    evaluations: tuple[int, ...] = (2, 4, 8, 16, 50)   # network-evaluation budgets, see `solver_settings`
    train_steps: int | None = None      # None: the toy's own (10,000)
    prior_steps: int | None = None      # None: the toy's own (3,000)
    samples: int = 4000                 # exact W2 is O(n^3): 4,000 points take 8-30 s on one thread, 8,000 45 s+


@dataclass(frozen=True, order=True)
class SolverSetting:
    solver: str         # "euler" | "heun"
    steps: int

    @property
    def heun(self) -> bool:
        return self.solver == "heun"

    @property
    def name(self) -> str:
        return f"{self.solver}{self.steps}"


def solver_settings(budgets: tuple[int, ...]) -> list[SolverSetting]:
    """Euler with N steps calls the denoiser N times, Heun 2N - 1 (its last step is an Euler step). Per budget B:
    Euler B steps; Heun the fewest steps that reach B, at least 2 (one Heun step is an Euler step), i.e.
    B evaluations for odd B and B + 1 for even B. Duplicates collapse to one setting."""
    settings = {SolverSetting("euler", b) for b in budgets}
    settings |= {SolverSetting("heun", max(2, math.ceil((b + 1) / 2))) for b in budgets}
    return sorted(settings)


def validate(sweep: ToySweepConfig) -> None:
    """One clear error for a grid the sweep cannot measure."""
    if not sweep.widths or min(sweep.widths) < 1:
        raise DiscoError(f"widths {list(sweep.widths)}: give one or more positive widths")
    if not sweep.seeds:
        raise DiscoError("seeds: give one or more")
    if not sweep.evaluations or min(sweep.evaluations) < 2:
        raise DiscoError(f"evaluations {list(sweep.evaluations)}: each budget must be >= 2 (one step has no curvature)")
    if sweep.samples < 8 or sweep.samples % 8:
        raise DiscoError(f"samples {sweep.samples}: must be a positive multiple of 8 (the test set has equal modes)")
    for name in ("train_steps", "prior_steps"):
        value = getattr(sweep, name)
        if value is not None and value < 1:
            raise DiscoError(f"{name.replace('_', '-')} {value}: must be >= 1")


def toy_config(width: int, seed: int, sweep: ToySweepConfig) -> ToyExperimentConfig:
    """The toy's own settings with the denoiser `width` and the sweep's budget cuts."""
    cfg = ToyExperimentConfig(seed=seed, num_samples=sweep.samples)
    cfg.model = dataclasses.replace(cfg.model, hidden=width)
    cfg.train = dataclasses.replace(cfg.train, device="cpu", max_steps=sweep.train_steps or cfg.train.max_steps)
    cfg.prior_steps = sweep.prior_steps or cfg.prior_steps
    return cfg


def record_settings(sweep: ToySweepConfig) -> dict:
    """What every record depends on; widths, seeds and budgets are not in it, so a grid can grow in place."""
    cfg = toy_config(0, 0, sweep)
    return {"train_steps": cfg.train.max_steps, "prior_steps": cfg.prior_steps, "samples": cfg.num_samples,
            "points_per_mode": cfg.points_per_mode, "batch_size": cfg.batch_size, "lr": cfg.train.lr,
            "ema_decay": cfg.train.ema_decay, "sigma_min": cfg.sigma_min, "sigma_max": cfg.sigma_max,
            "encoder_hidden": cfg.model.encoder_hidden, "codebook_size": cfg.model.codebook_size}


def check_settings(out_dir: Path, settings: dict) -> None:
    """Refuses to mix records made with other settings into this folder; writes the settings on first use."""
    path = out_dir / "settings.json"
    if not path.exists():
        atomic_write_text(path, json.dumps(settings, indent=2))
        return
    saved = json.loads(path.read_text())
    changed = [f"{key} {saved.get(key)} (asked {value})" for key, value in settings.items() if saved.get(key) != value]
    if changed:
        raise DiscoError(f"{path}: this folder's records were made with {', '.join(changed)}; use another --out")


def _read_record(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _write_record(path: Path, record: dict) -> dict:
    atomic_write_text(path, json.dumps(record, indent=2))
    return record


def unit_dir(out_dir: Path, width: int, seed: int) -> Path:
    return out_dir / "models" / f"w{width}_s{seed}"


def eval_path(out_dir: Path, width: int, seed: int, model_name: str, setting: SolverSetting) -> Path:
    return out_dir / "evals" / f"w{width}_s{seed}_{model_name}_{setting.name}.json"


def seed_floor(out_dir: Path, cfg: ToyExperimentConfig, test: torch.Tensor) -> float:
    """The W2 floor of a seed, computed once: it depends on neither width nor model."""
    path = out_dir / "floors" / f"s{cfg.seed}.json"
    record = _read_record(path)
    if record is None:
        record = _write_record(path, {"seed": cfg.seed, "samples": cfg.num_samples,
                                      "w2_floor": w2_data_floor(test, cfg)})
    return record["w2_floor"]


def trained(record_path: Path, train: Callable[[], torch.nn.Module], about: dict) -> tuple[torch.nn.Module, dict]:
    """Runs `train` and writes its record, or, with a record present, lets `train` load the finished checkpoint
    (the trainer resumes at the last step and trains no more). A training stopped midway resumes; its record's
    seconds then count this process's part only."""
    record = _read_record(record_path)
    start = time.time()
    module = train()
    if record is None:
        record = _write_record(record_path, {**about, "train_seconds": round(time.time() - start, 1)})
        log.info("trained %s in %.0f s", record_path, record["train_seconds"])
    return module, record


def obtain_model(out_dir: Path, cfg: ToyExperimentConfig, model_name: str, data: torch.Tensor,
                 progress: bool) -> tuple[ToyDisco, torch.Tensor | None, dict]:
    """The trained model, the latents it samples with (None for the baseline) and the model's record. DisCo's
    prior is a trained model of its own (record prior.json), trained right after DisCo as in `disco toy`."""
    folder = unit_dir(out_dir, cfg.model.hidden, cfg.seed)
    about = {"width": cfg.model.hidden, "seed": cfg.seed, "model": model_name, "train_steps": cfg.train.max_steps}
    model, record = trained(folder / f"{model_name}.json",
                            lambda: train_toy_model(data, cfg, model_name, folder / model_name, progress), about)
    if model_name == "baseline":
        return model, None, record
    codes = frozen_codes(model, data)
    prior, _ = trained(folder / "prior.json", lambda: train_toy_prior(codes, cfg, folder / "prior", progress),
                       {**about, "model": "prior", "train_steps": cfg.prior_steps,
                        "codes_used": int(codes.sum(0).gt(0).sum())})
    _, generator = initial_noise(cfg)
    return model, draw_latents(prior, cfg.num_samples, generator), record


def evaluate(model: ToyDisco, z: torch.Tensor | None, cfg: ToyExperimentConfig, test: torch.Tensor,
             setting: SolverSetting) -> dict:
    """One solver setting of one trained model, from the seed's shared initial noise."""
    start = time.time()
    noise, _ = initial_noise(cfg)
    run = sample_toy(model, noise, z, cfg, setting.steps, heun=setting.heun)
    metrics = toy_metrics(model, z, run, test)
    return {"solver": setting.solver, "steps": setting.steps, "evaluations": run.evaluations, "w2": metrics["w2"],
            "curvature": metrics["curvature"], "jacobian": metrics["jacobian"],
            "seconds": round(time.time() - start, 2)}     # mostly the exact W2, the sweep's other cost


def sweep_unit(out_dir: Path, width: int, seed: int, sweep: ToySweepConfig, settings: list[SolverSetting],
               progress: bool) -> list[dict]:
    """All rows of one (width, seed): trains what has no record, evaluates what has no record."""
    cfg = toy_config(width, seed, sweep)
    data, test = train_points(cfg), test_points(cfg)
    floor = seed_floor(out_dir, cfg, test)
    rows = []
    for model_name in MODELS:
        paths = {setting: eval_path(out_dir, width, seed, model_name, setting) for setting in settings}
        record = _read_record(unit_dir(out_dir, width, seed) / f"{model_name}.json")
        missing = [setting for setting, path in paths.items() if not path.exists()]
        if record is None or missing:
            model, z, record = obtain_model(out_dir, cfg, model_name, data, progress)
            for setting in missing:
                _write_record(paths[setting], {"width": width, "seed": seed, "model": model_name,
                                               **evaluate(model, z, cfg, test, setting)})
        for path in paths.values():
            rows.append({**_read_record(path), "w2_floor": floor, "train_seconds": record["train_seconds"]})
    return rows


def run_toy_sweep(out_dir: str | Path, sweep: ToySweepConfig, progress: bool = True) -> pd.DataFrame:
    """Runs (or resumes) the sweep; writes results.csv, summary.csv/.md/.json and the plots; returns the summary."""
    validate(sweep)
    out_dir = Path(out_dir)
    settings = record_settings(sweep)
    check_settings(out_dir, settings)
    solvers = solver_settings(tuple(sweep.evaluations))
    units = [(width, seed) for seed in dict.fromkeys(sweep.seeds) for width in sorted(set(sweep.widths))]
    rows = []
    for width, seed in tqdm(units, desc="toy sweep", disable=not progress, dynamic_ncols=True):
        rows += sweep_unit(out_dir, width, seed, sweep, solvers, progress)
    results = pd.DataFrame(rows)[RESULT_COLUMNS].sort_values(["width", "seed", "model", "solver", "steps"],
                                                             ignore_index=True)
    summary = summarize(results)
    write_outputs(out_dir, results, summary, {**settings, "widths": sorted(set(sweep.widths)),
                                              "seeds": list(dict.fromkeys(sweep.seeds)),
                                              "budgets": sorted(sweep.evaluations),
                                              "solver_settings": [s.name for s in solvers]})
    return summary


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Per (width, solver, steps, evaluations): mean and std over seeds of each metric for both models, and the
    paired DisCo - baseline difference (same seed, same initial noise) with the seeds where DisCo is lower."""
    index = SETTING_KEYS + ["seed"]
    baseline = results[results.model == "baseline"].set_index(index)
    disco = results[results.model == "disco"].set_index(index)
    paired = pd.DataFrame({"w2_floor": baseline["w2_floor"]})
    for metric in METRICS:
        paired[f"{metric}_baseline"] = baseline[metric]
        paired[f"{metric}_disco"] = disco[metric]
        paired[f"{metric}_diff"] = disco[metric] - baseline[metric]
    groups = paired.groupby(level=SETTING_KEYS)
    columns = {"seeds": groups["w2_floor"].count()}
    for column in paired.columns:
        columns[f"{column}_mean"] = groups[column].mean()
        columns[f"{column}_std"] = groups[column].std()
    for metric in METRICS:
        columns[f"{metric}_disco_lower"] = groups[f"{metric}_diff"].apply(lambda diff: int((diff < 0).sum()))
    return pd.DataFrame(columns).reset_index()


def _pm(mean: float, std: float) -> str:
    return f"{mean:.3f}" if np.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def _pm_column(summary: pd.DataFrame, column: str) -> list[str]:
    return [_pm(m, s) for m, s in zip(summary[f"{column}_mean"], summary[f"{column}_std"])]


def summary_markdown(summary: pd.DataFrame) -> str:
    """The summary as a readable table: mean ± std over seeds, the paired difference and DisCo's W2 wins."""
    shown = pd.DataFrame({
        "width": summary.width, "solver": summary.solver, "steps": summary.steps, "evals": summary.evaluations,
        "W2 floor": _pm_column(summary, "w2_floor"),
        **{f"{label} {name}": _pm_column(summary, f"{metric}_{name}")
           for metric, label in (("w2", "W2"), ("curvature", "curvature"), ("jacobian", "Jacobian"))
           for name in ("baseline", "disco", "diff")},
        "DisCo lower W2": [f"{w}/{n}" for w, n in zip(summary.w2_disco_lower, summary.seeds)],
    })
    return markdown_table(shown)


def _json_safe(value):
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def write_outputs(out_dir: Path, results: pd.DataFrame, summary: pd.DataFrame, settings: dict) -> None:
    atomic_write_text(out_dir / "results.csv", results.to_csv(index=False))
    atomic_write_text(out_dir / "summary.csv", summary.to_csv(index=False))
    header = (f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
              f"{torch.get_num_threads()} thread(s); written {time.strftime('%Y-%m-%d %H:%M')}\n\n"
              f"Settings: {json.dumps(settings)}\n\n"
              "diff = DisCo - baseline on the same seed and initial noise (negative: DisCo lower); "
              "mean ± std over seeds.\n\n")
    atomic_write_text(out_dir / "summary.md", header + summary_markdown(summary) + "\n")
    records = [{key: _json_safe(value) for key, value in row.items()} for row in summary.to_dict("records")]
    atomic_write_text(out_dir / "summary.json", json.dumps({"settings": settings, "summary": records}, indent=2))
    plot_sweep(results, "w2", out_dir / "w2.png", floor=True)
    plot_sweep(results, "curvature", out_dir / "curvature.png", floor=False)


def plot_sweep(results: pd.DataFrame, metric: str, path: Path, floor: bool) -> None:
    """`metric` against network evaluations (log-log), one panel per width: both models, both solvers (mean ± std
    over seeds), and the W2 floor as a band (mean ± std over seeds)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    widths = sorted(results.width.unique())
    fig, axes = plt.subplots(1, len(widths), figsize=(4.2 * len(widths), 3.8), sharey=True, squeeze=False)
    colours, styles = {"baseline": "tab:blue", "disco": "tab:orange"}, {"euler": ("--", "s"), "heun": ("-", "o")}
    floors = results.drop_duplicates("seed").w2_floor
    for ax, width in zip(axes[0], widths):
        for (model_name, solver), part in results[results.width == width].groupby(["model", "solver"]):
            stats = part.groupby("evaluations")[metric].agg(["mean", "std"]).reset_index()
            line, marker = styles[solver]
            ax.errorbar(stats.evaluations, stats["mean"], yerr=stats["std"].fillna(0), color=colours[model_name],
                        linestyle=line, marker=marker, markersize=4, capsize=2, label=f"{model_name} {solver}")
        if floor:
            spread = floors.std() if len(floors) > 1 else 0.0
            ax.axhspan(floors.mean() - spread, floors.mean() + spread, color="grey", alpha=0.3, label="W2 floor")
            ax.axhline(floors.mean(), color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")    # few-step Heun lands far off (EDM's grid jumps from sigma_max to sigma_min)
        ax.set_xticks(sorted(results[results.solver == "euler"].evaluations.unique()))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("network evaluations")
        ax.set_title(f"width {width}")
    axes[0][0].set_ylabel({"w2": "W2 (exact OT)", "curvature": "curvature (rad / step)"}.get(metric, metric))
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
