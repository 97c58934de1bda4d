"""The one reverse-diffusion sampler over ligand poses in R^3 x SO(3) x T^R (DiffDock-style).

A pose of a ligand with fixed bond lengths, angles and rings is its centroid position, its orientation
and its R torsion angles; each component has its geometric noise schedule (docking.model.noise_schedule),
its forward noising is docking.model.pose_noise. `sample_poses` integrates, for each component with
g^2 = dv/dt,

    delta = (1 + psi)/2 * kappa * g^2 * dt * score + sqrt(psi * g^2 * dt) * z,

with psi = 1 the reverse SDE (Euler-Maruyama), psi = 0 the probability-flow ODE and psi > 1 extra
Langevin churn with the same marginals. kappa = (s_d^2 + sigma^2) / (T s_d^2 + sigma^2) is the
low-temperature factor: for data ~ N(mu, s_d^2) it turns the score of the noised data into the
exact score of the noised tempered data N(mu, T s_d^2), so T < 1 sharpens the samples (T = 1: kappa = 1).
The rotation increment is a world-frame rotation vector applied through the exponential map (a
geodesic random-walk step), the torsion increment is added on the circle.

The sampler moves the samples of several ligands in lockstep (one score evaluation per step for all of
them); each ligand draws its noise from its own generator, so its poses do not depend on what else is
sampled with it. The score it integrates is composed of parts (`ComposedScore`: the learned score with
classifier-free guidance, docking.model.complex_sampling.LearnedScore; energy guidance,
docking.physics.guidance.EnergyGuidance), and an optional resampling hook may reorder each ligand's
samples after a step (sequential Monte Carlo, docking.physics.guidance.EnergyResampling).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import torch

from docking.geometry.pose import apply_pose_update, apply_torsion_changes, centroid, rotate_about_centroid
from docking.geometry.rotations import uniform_rotation_matrices
from docking.model.noise_schedule import GeometricSchedule, PoseNoiseSchedule
from docking.model.pose_noise import standard_normal

# (S, 3) translation, (S, 3) rotation, (S*R,) or (S, R) torsion scores (or None without torsions) of one
# ligand's S samples
Scores = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]


class PoseScore(Protocol):
    """s(x_t, t) of every ligand's samples; a score that follows resampled samples has `follow(orders)`."""

    def __call__(self, positions: list[torch.Tensor], t: float) -> list[Scores]: ...


class Resampling(Protocol):
    """After reverse step `step`: per ligand the source index of each new sample (None: keep them), or None."""

    def __call__(self, step: int, positions: list[torch.Tensor]) -> list[torch.Tensor | None] | None: ...


class Ligand(NamedTuple):
    """What the sampler needs of one ligand: its rotatable bonds and its own random stream."""
    rot_bonds: torch.Tensor             # (R, 2)
    rot_masks: torch.Tensor             # (R, N) atoms moved by each torsion
    generator: torch.Generator | None


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


class ComposedScore:
    """s = s_1 + s_2 + ...: the first part gives every ligand's scores, later parts add to them (None: nothing)."""

    def __init__(self, *parts):
        self.parts = parts

    def __call__(self, positions: list[torch.Tensor], t: float) -> list[Scores]:
        total = self.parts[0](positions, t)
        for part in self.parts[1:]:
            total = [scores if extra is None else _add_scores(scores, extra)
                     for scores, extra in zip(total, part(positions, t))]
        return total

    def follow(self, orders: list[torch.Tensor | None]) -> None:
        for part in self.parts:
            if hasattr(part, "follow"):
                part.follow(orders)


def _add_scores(scores: Scores, extra: Scores) -> Scores:
    tr, rot, tor = scores
    tor = tor if extra[2] is None else tor + extra[2].to(tor).reshape(tor.shape)
    return tr + extra[0].to(tr), rot + extra[1].to(rot), tor


@torch.no_grad()
def sample_poses(score: PoseScore, initial: list[torch.Tensor], ligands: list[Ligand],
                 schedule: PoseNoiseSchedule = PoseNoiseSchedule(), settings: SamplerSettings = SamplerSettings(),
                 resample: Resampling | None = None,
                 return_trajectory: bool = False) -> list[torch.Tensor] | tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Integrate the reverse diffusion from t = 1 to t = 0 for the samples initial[i] (S_i, N_i, 3) of each
    ligand i. Returns the final poses, and with return_trajectory also each ligand's (num_steps + 1, S_i, N_i, 3)."""
    times = torch.linspace(1.0, 0.0, settings.num_steps + 1, dtype=torch.float64).tolist()
    positions, trajectory = list(initial), [list(initial)]
    for i, (t_cur, t_next) in enumerate(zip(times[:-1], times[1:])):
        add_noise = settings.final_step_noise or i < settings.num_steps - 1       # DiffDock: no noise at the end
        scores = score(positions, t_cur)                                            # s(x_t, t)
        positions = [reverse_step(pos, s, t_cur, t_cur - t_next, ligand.rot_bonds, ligand.rot_masks, schedule,
                                  settings, ligand.generator, add_noise)            # x_{t - dt}
                     for pos, s, ligand in zip(positions, scores, ligands)]
        orders = resample(i, positions) if resample is not None else None         # x_{t - dt}[a], a ~ weights
        if orders is not None:
            positions = [pos if order is None else pos[order] for pos, order in zip(positions, orders)]
            score.follow(orders)
        if return_trajectory:
            trajectory.append(positions)
    if return_trajectory:
        return positions, [torch.stack(steps) for steps in zip(*trajectory)]
    return positions
