"""Train EDM and DisCo-EDM on 8 Gaussians, sample with Heun, and measure W2, curvature and Jacobian norms."""

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


def run_toy(out_dir: str | Path, cfg: ToyExperimentConfig | None = None, progress: bool = True) -> dict:
    cfg = cfg or ToyExperimentConfig()
    out_dir = Path(out_dir)
    start = time.time()
    torch.manual_seed(cfg.seed)
    data, _ = eight_gaussians(cfg.points_per_mode, generator=torch.Generator().manual_seed(cfg.seed))
    test, test_modes = eight_gaussians(cfg.num_samples // 8, generator=torch.Generator().manual_seed(10_000 + cfg.seed))

    models, seconds = {}, {}
    for name, use_latents in (("baseline", False), ("disco", True)):
        t0 = time.time()
        torch.manual_seed(cfg.seed)
        model = ToyDisco(dataclasses.replace(cfg.model, use_latents=use_latents))
        models[name] = _train(model, lambda m, x, step: m.loss(x), data, cfg, out_dir / name, cfg.train.max_steps,
                              progress, dataclasses.asdict(model.cfg))
        seconds[name] = time.time() - t0

    # Prior over the frozen encoder's latents (hard codes, i.e. the zero-temperature limit).
    disco = models["disco"]
    with torch.no_grad():
        codes = torch.nn.functional.one_hot(disco.encoder_logits(data).argmax(-1), cfg.model.codebook_size).float()
    prior = TransformerPrior(1, cfg.model.codebook_size, dim=64, depth=2, heads=2)
    prior = _train(prior, lambda p, z, step: p.loss(None, z), codes, cfg, out_dir / "prior", cfg.prior_steps, progress,
                   {"num_latents": 1, "codebook_size": cfg.model.codebook_size, "dim": 64, "depth": 2, "heads": 2})

    generator = torch.Generator().manual_seed(cfg.seed + 1)
    noise = torch.randn(cfg.num_samples, 2, generator=generator)
    results: dict = {"seed": cfg.seed}
    trajectories = {}
    for name, model in models.items():
        z = None
        if name == "disco":
            z = sample_autoregressive(prior, torch.zeros(cfg.num_samples, dtype=torch.long), 1, generator=generator)

        def denoise(x, sigma, model=model, z=z):
            return model.denoise(x, sigma, z)

        samples, trajectory, sigmas = edm_sampler(denoise, noise, cfg.sample_steps, cfg.sigma_min, cfg.sigma_max,
                                                  return_trajectory=True)
        trajectories[name] = (trajectory, z)
        results[f"w2_{name}"] = exact_w2(samples.numpy(), test.numpy())
        results[f"w2sq_{name}"] = results[f"w2_{name}"] ** 2
        results[f"curvature_{name}"] = mean_curvature(trajectory, sigmas)
        n_jac = min(1000, cfg.num_samples)

        def denoise_subset(x, sigma, model=model, z=None if z is None else z[:n_jac]):
            return model.denoise(x, sigma, z)

        jac = [float(jacobian_frobenius(denoise_subset, trajectory[i][:n_jac], float(sigmas[i])).mean())
               for i in range(1, len(sigmas) - 1)]
        results[f"jacobian_{name}"] = float(np.mean(jac))
        results[f"jacobian_{name}_per_sigma"] = dict(zip([round(float(s), 4) for s in sigmas[1:-1]], jac))
        results[f"train_seconds_{name}"] = round(seconds[name], 1)
    results["codes_used"] = int(codes.sum(0).gt(0).sum())
    # The metric's own floor: W2 from the test set to i.i.d. draws of the true mixture (random mode counts).
    exact_draws = sample_eight_gaussians(cfg.num_samples, generator=torch.Generator().manual_seed(20_000 + cfg.seed))
    results["w2_data_floor"] = exact_w2(exact_draws.numpy(), test.numpy())
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
