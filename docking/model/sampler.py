"""Diffusion over ligand poses in the product space R^3 x SO(3) x T^R (DiffDock-style).

A pose of a ligand with fixed bond lengths, angles and rings is its centroid position, its orientation
and its R torsion angles. Each component diffuses independently with a geometric schedule
(docking.noise_schedule): translation as a Gaussian, orientation as IGSO(3) (docking.so3), torsions as
a wrapped normal (docking.torus). Updates act on coordinates (docking.pose).

Forward (training): `noise_pose` perturbs a clean pose at time t and returns the noised pose, the
target scores and the normalisers of a DiffDock-style denoising score-matching loss.

Reverse (sampling): `sample_poses` integrates, for each component with g^2 = dv/dt,

    delta = (1 + psi)/2 * kappa * g^2 * dt * score + sqrt(psi * g^2 * dt) * z,

with psi = 1 the reverse SDE (Euler-Maruyama), psi = 0 the probability-flow ODE and psi > 1 extra
Langevin churn with the same marginals. kappa = (s_d^2 + sigma^2) / (T s_d^2 + sigma^2) is the
low-temperature factor: for data ~ N(mu, s_d^2) it turns the score of the noised data into the
exact score of the noised tempered data N(mu, T s_d^2), so T < 1 sharpens the samples (T = 1: kappa = 1).
The rotation increment is a world-frame rotation vector applied through the exponential map (a
geodesic random-walk step), the torsion increment is added on the circle.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import torch

from docking.model.noise_schedule import GeometricSchedule, PoseNoiseSchedule
from docking.model.pose import apply_pose_update, apply_torsion_changes, centroid, rotate_about_centroid
from docking.model.pose_noise import standard_normal
from docking.model.so3 import uniform_rotation_matrices

ScoreFn = Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]


# ----------------------------------------------------------------------------------------------------
# Reverse sampling


@dataclass(frozen=True)
class SamplerSettings:
    num_steps: int = 20
    stochasticity: float = 1.0          # psi: 1 reverse SDE, 0 probability-flow ODE, > 1 extra Langevin churn
    temperature_tr: float = 1.0         # T per component (< 1: sharper)
    temperature_rot: float = 1.0
    temperature_tor: float = 1.0
    sigma_data_tr: float | None = None  # data scale s_d in kappa; None: the schedule's nominal one
    sigma_data_rot: float | None = None
    sigma_data_tor: float | None = None
    final_step_noise: bool = False      # DiffDock leaves the noise out of the last step


def sample_initial_poses(conformer_pos: torch.Tensor, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
                         num_poses: int, center: torch.Tensor, schedule: PoseNoiseSchedule = PoseNoiseSchedule(),
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Poses from the prior: uniform torsions, uniform orientation, centroid ~ N(center, sigma_tr_max^2 I)."""
    pos = (conformer_pos - centroid(conformer_pos)[None, :]).expand(num_poses, -1, -1)
    torsions = math.pi * (2 * torch.rand((num_poses, rot_bonds.shape[0]), generator=generator, dtype=torch.float64,
                                         device=generator.device if generator is not None else "cpu") - 1)
    pos = apply_torsion_changes(pos, rot_bonds, rot_masks, torsions.to(pos))
    pos = rotate_about_centroid(pos, uniform_rotation_matrices(num_poses, generator, torch.float64).to(pos))
    offset = schedule.translation.sigma_max * standard_normal((num_poses, 3), generator, pos)
    return pos + (center.to(pos) + offset)[:, None, :]


def _increment(score: torch.Tensor, component: GeometricSchedule, temperature: float, sigma_data: float | None,
               noise: torch.Tensor | None, t: float, dt: float, psi: float) -> torch.Tensor:
    """One reverse step of one component (see the module docstring for the equation)."""
    data_sq = (component.sigma_data if sigma_data is None else sigma_data) ** 2
    sigma_sq = float(component.sigma(t)) ** 2
    kappa = (data_sq + sigma_sq) / (temperature * data_sq + sigma_sq)
    g_sq_dt = float(component.g_squared(t)) * dt
    drift = 0.5 * (1 + psi) * kappa * g_sq_dt * score
    return drift if noise is None else drift + math.sqrt(psi * g_sq_dt) * noise


def reverse_step(pos: torch.Tensor, scores: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None], t: float,
                 dt: float, rot_bonds: torch.Tensor, rot_masks: torch.Tensor, schedule: PoseNoiseSchedule,
                 settings: SamplerSettings, generator: torch.Generator | None, add_noise: bool) -> torch.Tensor:
    """Move poses (B, N, 3) from time t to t - dt given the scores at t."""
    tr_score, rot_score, tor_score = scores
    num_poses, num_bonds = pos.shape[0], rot_bonds.shape[0]
    noisy = add_noise and settings.stochasticity > 0

    def noise(*shape: int) -> torch.Tensor | None:
        return standard_normal(shape, generator, pos) if noisy else None

    step = functools.partial(_increment, t=t, dt=dt, psi=settings.stochasticity)
    tr = step(tr_score.to(pos), schedule.translation, settings.temperature_tr, settings.sigma_data_tr,
              noise(num_poses, 3))
    rot = step(rot_score.to(pos), schedule.rotation, settings.temperature_rot, settings.sigma_data_rot,
               noise(num_poses, 3))
    tor = None
    if num_bonds > 0:
        tor = step(tor_score.reshape(num_poses, num_bonds).to(pos), schedule.torsion, settings.temperature_tor,
                   settings.sigma_data_tor, noise(num_poses, num_bonds))
    return apply_pose_update(pos, tr, rot, tor, rot_bonds, rot_masks)


@torch.no_grad()
def sample_poses(score_fn: ScoreFn, initial_pos: torch.Tensor, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
                 schedule: PoseNoiseSchedule = PoseNoiseSchedule(), settings: SamplerSettings = SamplerSettings(),
                 generator: torch.Generator | None = None,
                 return_trajectory: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Integrate the reverse diffusion from t = 1 to t = 0 for a batch of poses of one ligand.

    score_fn(pos (B, N, 3), t) -> (tr_score (B, 3), rot_score (B, 3), tor_score (B*R,) or (B, R) or None).
    Returns the final poses (B, N, 3), and with return_trajectory also all (num_steps + 1, B, N, 3)."""
    times = torch.linspace(1.0, 0.0, settings.num_steps + 1, dtype=torch.float64).tolist()
    pos, trajectory = initial_pos, [initial_pos]
    for i, (t_cur, t_next) in enumerate(zip(times[:-1], times[1:])):
        last = i == settings.num_steps - 1
        scores = score_fn(pos, t_cur)
        pos = reverse_step(pos, scores, t_cur, t_cur - t_next, rot_bonds, rot_masks, schedule, settings,
                           generator, add_noise=settings.final_step_noise or not last)
        if return_trajectory:
            trajectory.append(pos)
    return (pos, torch.stack(trajectory)) if return_trajectory else pos
