"""Train EDM and DisCo-EDM on 8 Gaussians, sample with Heun (or Euler), and measure W2, curvature and Jacobian norms.

Each step (data, one model's training, the prior, one ODE solve, its metrics) is its own function, so that
`run_toy` and the width/solver sweep (`benchmarks/toy_sweep.py`) measure with the same code."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ..curvature import jacobian_frobenius, mean_curvature
from ..edm import edm_sampler
from ..io import atomic_write_text
from ..prior import TransformerPrior, sample_autoregressive
from ..trainer import Trainer, TrainerConfig, epoch_indices
from .data import eight_gaussians, sample_eight_gaussians
from .models import ToyConfig, ToyDisco

MODELS = {"baseline": False, "disco": True}     # name -> conditioned on the discrete latent


@dataclass
class ToyExperimentConfig:
    seed: int = 0
    points_per_mode: int = 1000
    model: ToyConfig = field(default_factory=ToyConfig)
    train: TrainerConfig = field(default_factory=lambda: TrainerConfig(
        max_steps=10000, lr=2e-3, ema_decay=0.995, log_every=200, checkpoint_every=1000, grad_clip=1.0))
    batch_size: int = 512
    prior_steps: int = 3000
    sample_steps: int = 50          # Heun
    sigma_min: float = 0.002
    sigma_max: float = 40.0
    num_samples: int = 8000
    jacobian_sigmas: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0)


def exact_w2(a: np.ndarray, b: np.ndarray) -> float:
    """W2 between two equal-size point clouds via the exact optimal assignment (Hungarian algorithm)."""
    cost = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))


def _train(model: torch.nn.Module, loss_fn, data: torch.Tensor, cfg: ToyExperimentConfig, out_dir: Path,
           max_steps: int, progress: bool, model_config: dict) -> torch.nn.Module:
    train_cfg = dataclasses.replace(cfg.train, max_steps=max_steps, seed=cfg.seed, progress=progress)

    def make_batch(step: int) -> torch.Tensor:
        return data[epoch_indices(len(data), cfg.batch_size, step, cfg.seed)]

    trainer = Trainer(model, loss_fn, make_batch, train_cfg, out_dir, model_config=model_config)
    return trainer.fit()


def train_points(cfg: ToyExperimentConfig) -> torch.Tensor:
    """The training set: `points_per_mode` per Gaussian, drawn from the seed."""
    return eight_gaussians(cfg.points_per_mode, generator=torch.Generator().manual_seed(cfg.seed))[0]


def test_points(cfg: ToyExperimentConfig) -> torch.Tensor:
    """Fresh data for W2, `num_samples // 8` per mode (exact mode counts), from a stream apart from training's."""
    return eight_gaussians(cfg.num_samples // 8, generator=torch.Generator().manual_seed(10_000 + cfg.seed))[0]


def w2_data_floor(test: torch.Tensor, cfg: ToyExperimentConfig) -> float:
    """The metric's own floor: W2 from the test set to i.i.d. draws of the true mixture. A perfect sampler scores
    about this, because its mode counts are multinomial while the test set's are exact."""
    exact_draws = sample_eight_gaussians(cfg.num_samples, generator=torch.Generator().manual_seed(20_000 + cfg.seed))
    return exact_w2(exact_draws.numpy(), test.numpy())


def train_toy_model(data: torch.Tensor, cfg: ToyExperimentConfig, model_name: str, out_dir: Path,
                    progress: bool) -> ToyDisco:
    """Trains the baseline ("baseline") or DisCo-EDM ("disco") with `cfg.model`'s width; returns the EMA model.
    A finished checkpoint in `out_dir` is resumed at its last step, so this then loads without training."""
    torch.manual_seed(cfg.seed)
    model = ToyDisco(dataclasses.replace(cfg.model, use_latents=MODELS[model_name]))
    return _train(model, lambda m, x, step: m.loss(x), data, cfg, out_dir, cfg.train.max_steps, progress,
                  dataclasses.asdict(model.cfg))


def frozen_codes(disco: ToyDisco, data: torch.Tensor) -> torch.Tensor:
    """The frozen encoder's hard codes of the training set (the zero-temperature limit), the prior's targets."""
    with torch.no_grad():
        return torch.nn.functional.one_hot(disco.encoder_logits(data).argmax(-1), disco.cfg.codebook_size).float()


def train_toy_prior(codes: torch.Tensor, cfg: ToyExperimentConfig, out_dir: Path, progress: bool) -> TransformerPrior:
    """Autoregressive prior over DisCo's one latent. Built from the global RNG as left by the DisCo model's
    training (as the toy always did), so train it right after that model."""
    prior = TransformerPrior(1, cfg.model.codebook_size, dim=64, depth=2, heads=2)
    return _train(prior, lambda p, z, step: p.loss(None, z), codes, cfg, out_dir, cfg.prior_steps, progress,
                  {"num_latents": 1, "codebook_size": cfg.model.codebook_size, "dim": 64, "depth": 2, "heads": 2})


def initial_noise(cfg: ToyExperimentConfig) -> tuple[torch.Tensor, torch.Generator]:
    """Unit noise the ODE starts from, and the generator after it (which then draws DisCo's latents). Seeded by
    the seed alone, so every model and solver setting of a seed starts from the same points: paired comparisons."""
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    return torch.randn(cfg.num_samples, 2, generator=generator), generator


def draw_latents(prior: TransformerPrior, num: int, generator: torch.Generator) -> torch.Tensor:
    """num one-hot codes (num, 1, V) from the prior at temperature 1."""
    return sample_autoregressive(prior, torch.zeros(num, dtype=torch.long), 1, generator=generator)


@dataclass
class SolverRun:
    """One ODE solve: final samples, the trajectory on the sigma grid, and how often the denoiser was called."""
    samples: torch.Tensor
    trajectory: torch.Tensor
    sigmas: torch.Tensor
    evaluations: int


def sample_toy(model: ToyDisco, noise: torch.Tensor, z: torch.Tensor | None, cfg: ToyExperimentConfig,
               num_steps: int, heun: bool = True) -> SolverRun:
    """Solves the probability-flow ODE with Heun or Euler from `noise`; counts the denoiser calls (each call
    denoises the whole batch), the cost that solvers are compared at."""
    evaluations = 0

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        nonlocal evaluations
        evaluations += 1
        return model.denoise(x, sigma, z)

    samples, trajectory, sigmas = edm_sampler(denoise, noise, num_steps, cfg.sigma_min, cfg.sigma_max, heun=heun,
                                              return_trajectory=True)
    return SolverRun(samples, trajectory, sigmas, evaluations)


def jacobian_along(model: ToyDisco, z: torch.Tensor | None, run: SolverRun,
                   num_points: int = 1000) -> dict[float, float]:
    """Mean ||dD/dx||_F^2 of the first `num_points` trajectories at each interior sigma of the solver's grid."""
    n = min(num_points, run.samples.shape[0])
    z_subset = None if z is None else z[:n]

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return model.denoise(x, sigma, z_subset)

    return {round(float(run.sigmas[i]), 4): float(jacobian_frobenius(denoise, run.trajectory[i][:n],
                                                                     float(run.sigmas[i])).mean())
            for i in range(1, len(run.sigmas) - 1)}


def toy_metrics(model: ToyDisco, z: torch.Tensor | None, run: SolverRun, test: torch.Tensor) -> dict:
    """W2 to the test set (exact OT), mean trajectory curvature and the Jacobian norm averaged over the grid."""
    jacobian = jacobian_along(model, z, run)
    return {"w2": exact_w2(run.samples.numpy(), test.numpy()), "curvature": mean_curvature(run.trajectory, run.sigmas),
            "jacobian": float(np.mean(list(jacobian.values()))), "jacobian_per_sigma": jacobian}


def run_toy(out_dir: str | Path, cfg: ToyExperimentConfig | None = None, progress: bool = True) -> dict:
    cfg = cfg or ToyExperimentConfig()
    out_dir = Path(out_dir)
    start = time.time()
    data, test = train_points(cfg), test_points(cfg)

    models, seconds = {}, {}
    for name in MODELS:
        t0 = time.time()
        models[name] = train_toy_model(data, cfg, name, out_dir / name, progress)
        seconds[name] = time.time() - t0
    codes = frozen_codes(models["disco"], data)
    prior = train_toy_prior(codes, cfg, out_dir / "prior", progress)

    noise, generator = initial_noise(cfg)
    latents = {"baseline": None, "disco": draw_latents(prior, cfg.num_samples, generator)}
    results: dict = {"seed": cfg.seed}
    trajectories = {}
    for name, model in models.items():
        run = sample_toy(model, noise, latents[name], cfg, cfg.sample_steps, heun=True)
        trajectories[name] = (run.trajectory, latents[name])
        metrics = toy_metrics(model, latents[name], run, test)
        results[f"w2_{name}"] = metrics["w2"]
        results[f"w2sq_{name}"] = metrics["w2"] ** 2
        results[f"curvature_{name}"] = metrics["curvature"]
        results[f"jacobian_{name}"] = metrics["jacobian"]
        results[f"jacobian_{name}_per_sigma"] = metrics["jacobian_per_sigma"]
        results[f"train_seconds_{name}"] = round(seconds[name], 1)
    results["codes_used"] = int(codes.sum(0).gt(0).sum())
    results["w2_data_floor"] = w2_data_floor(test, cfg)
    results["seconds"] = round(time.time() - start, 1)
    results["settings"] = {"sample_steps": cfg.sample_steps, "sampler": "heun", "train_steps": cfg.train.max_steps,
                           "batch_size": cfg.batch_size, "num_samples": cfg.num_samples,
                           "sigma_max": cfg.sigma_max, "torch_threads": torch.get_num_threads()}
    atomic_write_text(out_dir / "metrics.json", json.dumps(results, indent=2))
    plot_trajectories(trajectories, out_dir / "trajectories.png")
    return results


def plot_trajectories(trajectories: dict, path: Path, num_paths: int = 400) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(trajectories), figsize=(6 * len(trajectories), 6))
    cmap = plt.get_cmap("tab10")
    for ax, (name, (trajectory, z)) in zip(np.atleast_1d(axes), trajectories.items()):
        paths = trajectory[:, :num_paths].numpy()
        final = paths[-1]
        if z is not None:
            colour_index = z[:num_paths, 0].argmax(-1).numpy()
        else:  # colour the baseline by the mode it lands in
            colour_index = np.round(np.arctan2(final[:, 1], final[:, 0]) / (np.pi / 4)).astype(int) % 8
        for i in range(paths.shape[1]):
            ax.plot(paths[:, i, 0], paths[:, i, 1], color=cmap(colour_index[i] % 10), lw=0.4, alpha=0.5)
        ax.scatter(final[:, 0], final[:, 1], s=2, c="k")
        ax.set_xlim(-6, 6)
        ax.set_ylim(-6, 6)
        ax.set_aspect("equal")
        ax.set_title(f"{name}: ODE trajectories" + (" (colour = latent)" if z is not None else " (colour = mode)"))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
