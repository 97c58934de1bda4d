"""Steering the reverse diffusion with the interaction energy (`disco dock --physics-guidance W`).

Three pieces, each switchable:

    guidance      each component's score gets W times minus the energy's gradient in that component
                  (the score of a Boltzmann factor exp(-W E) on the noised pose), capped at the size of
                  the noise's own score so that a clash cannot fling a pose across the pocket
    resampling    at a few diffusion times the S samples of a ligand are resampled in proportion to
                  exp(-lambda E_min), E_min the energy each would reach by local minimisation: samples in
                  poor basins are replaced by copies of better ones, which the remaining noisy steps
                  then explore apart (sequential Monte Carlo / Feynman-Kac steering of a diffusion model)
    minimisation  the final poses are locally minimised in the energy (docking.physics.local_minimization)
    refinement    optionally (refine_rounds > 0) each minimised pose starts a basin-hopping chain
                  (docking.physics.basin_hopping) that can cross the barriers a local minimisation cannot;
                  with random_starts > 0, chains from random poses run beside them and the lowest distinct
                  poses of all chains are kept (docking.physics.global_search)

The number of samples, and so of score-model evaluations, stays S per ligand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from docking.physics.basin_hopping import TEMPERATURE
from docking.physics.interaction_energy import InteractionEnergy, clipped_guidance, generalized_forces
from docking.physics.local_minimization import minimize_poses


@dataclass(frozen=True)
class PhysicsGuidance:
    weight: float = 3.0                                 # W, in mol/kcal
    minimize_steps: int = 100                           # final local minimisation (0: none)
    resample_at: tuple[float, ...] = (0.5, 0.3)         # diffusion times t at which samples are resampled
    resample_strength: float = 0.3                      # lambda, in mol/kcal
    preview_steps: int = 30                             # minimisation steps behind the resampling energies
    refine_rounds: int = 0                              # basin-hopping rounds after the minimisation (0: none)
    refine_steps: int = 30                              # minimisation steps per basin-hopping round
    refine_temperature: float = TEMPERATURE             # Metropolis temperature of the chains, kcal/mol-like
    refine_chains: int = 1                              # basin-hopping chains started from each pose
    random_starts: int = 0                              # further chains from random poses (docking.physics.global_search)
    polish_steps: int = 100                             # minimisation in the ranking energy, when the search's differs

    def resample_steps(self, num_steps: int) -> set[int]:
        """Indices of the reverse steps after which to resample (step i goes from t_i to t_{i+1})."""
        times = torch.linspace(1.0, 0.0, num_steps + 1).tolist()
        steps = set()
        for t in self.resample_at:
            i = min(range(1, num_steps), key=lambda k: abs(times[k] - t), default=None)
            if i is not None:
                steps.add(i - 1)
        return steps


class EnergyGuidance:
    """The energy's part of the score the sampler integrates (docking.model.sampler.ComposedScore): for each
    ligand with an energy, W times minus the energy's gradient in translation, rotation and torsions, each
    capped at the size of that component's noise score. `noise_levels(t)` gives the sigmas {tr, rot, tor}."""

    def __init__(self, energies: list[InteractionEnergy | None], bonds: list[tuple[torch.Tensor, torch.Tensor]],
                 weight: float, noise_levels: Callable[[float], dict[str, float]]):
        self.energies, self.bonds, self.weight, self.noise_levels = energies, bonds, weight, noise_levels

    def __call__(self, positions: list[torch.Tensor], t: float) -> list[tuple | None]:
        sigma = self.noise_levels(t)
        return [None if energy is None else self.guidance(energy, pos, rot_bonds, rot_masks, sigma)
                for energy, pos, (rot_bonds, rot_masks) in zip(self.energies, positions, self.bonds)]

    def guidance(self, energy: InteractionEnergy, pos: torch.Tensor, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
                 sigma: dict[str, float]) -> tuple:
        f_tr, torque, f_tor, _ = generalized_forces(energy, pos, rot_bonds, rot_masks)
        tor = clipped_guidance(f_tor, self.weight, sigma["tor"], rot_bonds.shape[0]) if rot_bonds.shape[0] else None
        return (clipped_guidance(f_tr, self.weight, sigma["tr"], 3),
                clipped_guidance(torque, self.weight, sigma["rot"], 3), tor)


class EnergyResampling:
    """The sampler's resampling hook: after the steps nearest the `physics.resample_at` times, each ligand's
    samples are resampled by exp(-lambda E_min) (E_min: a short local minimisation's energy), drawing from
    that ligand's generator."""

    def __init__(self, energies: list[InteractionEnergy | None], bonds: list[tuple[torch.Tensor, torch.Tensor]],
                 generators: list[torch.Generator | None], physics: PhysicsGuidance, num_steps: int):
        self.energies, self.bonds, self.generators, self.physics = energies, bonds, generators, physics
        self.steps = physics.resample_steps(num_steps)

    def __call__(self, step: int, positions: list[torch.Tensor]) -> list[torch.Tensor | None] | None:
        if step not in self.steps:
            return None
        return [None if energy is None else
                resample_indices(preview_energies(energy, pos, rot_bonds, rot_masks, self.physics.preview_steps),
                                 self.physics.resample_strength, generator)
                for energy, pos, (rot_bonds, rot_masks), generator
                in zip(self.energies, positions, self.bonds, self.generators)]


def resample_indices(energies: torch.Tensor, strength: float, generator: torch.Generator | None) -> torch.Tensor:
    """Systematic resampling of S samples with weights exp(-strength (E - min E)): (S,) source indices,
    sorted, one uniform draw from the ligand's own generator (so seeds still reproduce)."""
    weights = torch.exp(-strength * (energies - energies.min())).double().cpu()
    weights = torch.nan_to_num(weights, nan=0.0)
    if float(weights.sum()) <= 0:
        return torch.arange(len(energies), device=energies.device)
    cumulative = torch.cumsum(weights / weights.sum(), 0)
    cumulative[-1] = 1.0
    device = generator.device if generator is not None else "cpu"
    offset = float(torch.rand((), generator=generator, dtype=torch.float64, device=device))
    points = (offset + torch.arange(len(energies), dtype=torch.float64)) / len(energies)
    return torch.searchsorted(cumulative, points).clamp(max=len(energies) - 1).to(energies.device)


def preview_energies(energy: InteractionEnergy, pos: torch.Tensor, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
                     steps: int) -> torch.Tensor:
    """The energy each sample would reach by a short local minimisation (the sample itself is kept)."""
    if steps <= 0:
        return energy(pos)
    return minimize_poses(energy, pos, rot_bonds, rot_masks, steps)[1]
