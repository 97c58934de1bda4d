"""Steering the reverse diffusion with the interaction energy (`disco dock --physics-guidance W`).

Three pieces, each switchable:

    guidance      each component's score gets W times minus the energy's gradient in that component
                  (the score of a Boltzmann factor exp(-W E) on the noised pose), capped at the size of
                  the noise's own score so that a clash cannot fling a pose across the pocket
    resampling    at a few diffusion times the S samples of a ligand are resampled in proportion to
                  exp(-lambda E_min), E_min the energy each would reach by local minimisation: samples in
                  poor basins are replaced by copies of better ones, which the remaining noisy steps
                  then explore apart (sequential Monte Carlo / Feynman-Kac steering of a diffusion model)
    minimisation  the final poses are locally minimised in the energy (docking.local_minimization)
    refinement    optionally (refine_rounds > 0) each minimised pose starts a basin-hopping chain
                  (docking.basin_hopping) that can cross the barriers a local minimisation cannot

The number of samples, and so of score-model evaluations, stays S per ligand.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def resample_steps(self, num_steps: int) -> set[int]:
        """Indices of the reverse steps after which to resample (step i goes from t_i to t_{i+1})."""
        times = torch.linspace(1.0, 0.0, num_steps + 1).tolist()
        steps = set()
        for t in self.resample_at:
            i = min(range(1, num_steps), key=lambda k: abs(times[k] - t), default=None)
            if i is not None:
                steps.add(i - 1)
        return steps


def add_energy_guidance(score: tuple, energy: InteractionEnergy, pos: torch.Tensor, rot_bonds: torch.Tensor,
                        rot_masks: torch.Tensor, weight: float, sigma: dict[str, float]) -> tuple:
    """The model's (tr, rot, tor) scores of one ligand's samples plus the capped energy guidance."""
    tr_score, rot_score, tor_score = score
    f_tr, torque, f_tor, _ = generalized_forces(energy, pos, rot_bonds, rot_masks)
    tr_score = tr_score + clipped_guidance(f_tr, weight, sigma["tr"], 3).to(tr_score)
    rot_score = rot_score + clipped_guidance(torque, weight, sigma["rot"], 3).to(rot_score)
    if rot_bonds.shape[0] > 0:
        guidance = clipped_guidance(f_tor, weight, sigma["tor"], rot_bonds.shape[0]).to(tor_score)
        tor_score = tor_score + guidance.reshape(tor_score.shape)
    return tr_score, rot_score, tor_score


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
