"""Monte Carlo basin hopping from the sampled poses (`disco dock --physics-guidance W --refine-rounds K`).

Why: a local minimisation only reaches the bottom of the basin a sample ended in. Sampled poses that
are 2-4 A off often sit one torsion flip or a half-turn away from the crystal pose, a barrier the
gradient cannot cross. Basin hopping, the search AutoDock Vina runs from random starts, crosses it:
each round every pose is mutated in one degree of freedom (its position, its orientation or one
torsion), locally minimised, and kept by the Metropolis rule at temperature T. Here the chains start
from the diffusion samples instead of random poses, and each returns the lowest-energy pose it
visited: the model proposes where to look, the energy search finishes. The number of poses stays S.
"""

from __future__ import annotations

import torch

from docking.physics.interaction_energy import InteractionEnergy
from docking.physics.local_minimization import local_energy, minimize_poses, posed

POSITION_AMPLITUDE_A = 2.0    # a position mutation moves the ligand up to this far (Vina's amplitude)
TEMPERATURE = 1.2             # Metropolis temperature, in the energy's kcal/mol-like units (Vina's value)


def _inside_unit_ball(shape: tuple[int, ...], generator: torch.Generator | None, device) -> torch.Tensor:
    """Uniform points in the unit ball, (*shape, 3), by rejection (vectorised, a fixed number of draws
    per call so that a seed gives the same points)."""
    draws = torch.rand(*shape, 16, 3, generator=generator, device=device) * 2 - 1
    inside = draws.norm(dim=-1) <= 1
    first = inside.float().argmax(-1, keepdim=True)   # 16 draws all outside: p ~ 0.48^16
    return torch.gather(draws, -2, first[..., None].expand(*first.shape, 3)).squeeze(-2)


def mutations(pos: torch.Tensor, num_torsions: int, generator: torch.Generator | None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One random move per pose of pos (S, N, 3), as (translation (S, 3), rotation vector (S, 3),
    torsion changes (S, R)): one of the 2 + R degrees of freedom, chosen uniformly as Vina does: a
    displacement of up to 2 A, a rotation moving the radius of gyration by up to 2 A, or one torsion
    set to a uniform angle. Drawn on the generator's device, so seeds reproduce on any device."""
    samples, device = pos.shape[0], pos.device
    draw_on = generator.device if generator is not None else "cpu"
    kind = torch.randint(0, 2 + num_torsions, (samples,), generator=generator, device=draw_on).to(device)
    ball = _inside_unit_ball((samples,), generator, draw_on).to(device)
    angle = ((torch.rand(samples, generator=generator, device=draw_on) * 2 - 1) * torch.pi).to(device)
    centred = pos - pos.mean(dim=1, keepdim=True)
    gyration = centred.pow(2).sum(-1).mean(-1).sqrt().clamp(min=1.0)
    translation = torch.where((kind == 0)[:, None], POSITION_AMPLITUDE_A * ball, torch.zeros_like(ball))
    rotvec = torch.where((kind == 1)[:, None], ball * POSITION_AMPLITUDE_A / gyration[:, None], torch.zeros_like(ball))
    torsion = torch.zeros(samples, num_torsions, device=device)
    if num_torsions > 0:
        chosen = (kind - 2).clamp(min=0)
        torsion[torch.arange(samples, device=device), chosen] = torch.where(kind >= 2, angle, torch.zeros_like(angle))
    return translation, rotvec, torsion


def basin_hopping(energy: InteractionEnergy, pos: torch.Tensor, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
                  rounds: int, minimize_steps: int = 30, generator: torch.Generator | None = None,
                  temperature: float = TEMPERATURE) -> tuple[torch.Tensor, torch.Tensor]:
    """(the lowest-energy pose each chain visited (S, N, 3), its energy (S,)); chain s starts at pos[s]
    (ideally already minimised) and runs `rounds` mutate-minimise-accept steps. Never worse than pos."""
    current = pos.detach().float()
    current_energy = energy(current).detach()
    best, best_energy = current.clone(), current_energy.clone()
    for _ in range(rounds):
        translation, rotvec, torsion = mutations(current, rot_bonds.shape[0], generator)
        proposal = posed(current, translation, rotvec, torsion, rot_bonds, rot_masks)
        proposal, proposal_energy = minimize_poses(energy, proposal, rot_bonds, rot_masks, minimize_steps)
        draw_on = generator.device if generator is not None else "cpu"
        uniform = torch.rand(current_energy.shape, generator=generator, device=draw_on).to(current.device)
        accept = (proposal_energy <= current_energy) | (
            uniform < torch.exp((current_energy - proposal_energy) / temperature))
        current = torch.where(accept[:, None, None], proposal, current)
        current_energy = torch.where(accept, proposal_energy, current_energy)
        improved = current_energy < best_energy
        best = torch.where(improved[:, None, None], current, best)
        best_energy = torch.where(improved, current_energy, best_energy)
    return best.to(pos.dtype), best_energy


def refine_poses(energy: InteractionEnergy, pos: torch.Tensor, energies: torch.Tensor, rot_bonds: torch.Tensor,
                 rot_masks: torch.Tensor, center: torch.Tensor, rounds: int, minimize_steps: int,
                 generator: torch.Generator | None, temperature: float = TEMPERATURE,
                 chains: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Basin hopping (`rounds` rounds of `minimize_steps` each) from one ligand's minimised poses pos (S, N, 3)
    with energies (S,), `chains` independent chains from each pose (Vina's exhaustiveness: more chains
    from the same start explore more of its neighbourhood in one batched tensor program); each pose
    keeps the lowest-energy result of its chains.

    The chains see only the receptor atoms near the poses (docking.physics.local_minimization.local_energy),
    which makes each round cheaper than with the guidance's wide sphere; a chain's best pose replaces its start only if the
    full energy agrees that it is lower, so every returned energy is exact."""
    samples = pos.shape[0]
    starts = pos.repeat(chains, 1, 1)                               # chain c of pose s at c * S + s
    visited, visited_energies = basin_hopping(local_energy(energy, pos, center), starts, rot_bonds, rot_masks,
                                              rounds, minimize_steps, generator, temperature)
    best_chain = visited_energies.reshape(chains, samples).argmin(0)
    refined = visited.reshape(chains, samples, *pos.shape[1:])[best_chain, torch.arange(samples)]
    refined_energies = energy(refined.float()).to(energies)
    better = refined_energies < energies
    return (torch.where(better[:, None, None], refined.to(pos.dtype), pos),
            torch.where(better, refined_energies, energies))
